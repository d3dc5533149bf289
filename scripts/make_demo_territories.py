"""Write the FICTITIOUS alternative territory set of the demo: the Somme split into two DACs.

    .venv/bin/python scripts/make_demo_territories.py [-o data/reference/DEMO-FICTIF_territoires_somme_2_dac.csv]

Nothing here is real: no ARS drew these territories. The Somme's communes (IGN Admin Express COG
2018 outlines shipped in data/geo/) are split by the longitude of a point inside each commune
(west of 2.35° E: "Somme Ouest", with Amiens; east: "Somme Est"). To let a steward try the
editor's warnings, the three communes nearest that line on each side are claimed by both DACs
(overlaps) and the four next ones by neither (gaps). The phone numbers are in the ARCEP range
reserved for fiction (03 53 01 xx xx, 05 36 49 xx xx).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dac_map.etl.reference import read_boundaries  # noqa: E402
from dac_map.territories import Territory, table_text, validate  # noqa: E402

SPLIT_LON = 2.35
HEADER = ("# DONNEES FICTIVES / FICTITIOUS DATA - decoupage de la Somme en deux DAC invente pour la "
          "demonstration de dac-map (scripts/make_demo_territories.py) ; seuls les codes de communes "
          "sont reels. Numeros dans la plage ARCEP reservee a la fiction.\r\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path,
                    default=ROOT / "data" / "reference" / "DEMO-FICTIF_territoires_somme_2_dac.csv")
    args = ap.parse_args()
    communes = read_boundaries(ROOT / "data" / "geo" / "communes-80-somme.geojson")
    lon = communes.geometry.representative_point().x.to_numpy()
    codes = communes["code"].to_numpy()
    order = np.argsort(np.abs(lon - SPLIT_LON))
    both = set(codes[order[:6]])
    none = set(codes[order[6:10]])
    west = [c for c, x in zip(codes, lon) if (x < SPLIT_LON and c not in none) or c in both]
    east = [c for c, x in zip(codes, lon) if (x >= SPLIT_LON and c not in none) or c in both]
    note = "Découpage fictif inventé pour la démonstration, numéro fictif (plage réservée à la fiction)"
    items = [
        Territory("DEMO-80-OUEST", "DAC Somme Ouest (FICTIF, démonstration)", communes=tuple(west),
                  phone="0353010081", note=note),
        Territory("DEMO-80-EST", "DAC Somme Est (FICTIF, démonstration)", communes=tuple(east),
                  phone="0353010082", note=note),
        Territory("DAC-46", "DAC Lot (démonstration)", departments=("46",), phone="0536490046",
                  note="Numéro fictif de démonstration (plage réservée à la fiction par l'Arcep)"),
    ]
    args.output.write_text(HEADER + table_text([validate(t) for t in items]), encoding="utf-8", newline="")
    print(f"{args.output}: ouest {len(west)}, est {len(east)}, chevauchements {len(both)}, "
          f"trous {len(none)}")


if __name__ == "__main__":
    main()
