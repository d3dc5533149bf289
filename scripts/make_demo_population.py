"""Write the demo population table: FICTITIOUS population by sex and five-year age band for
every commune of the Somme (80) and the Lot (46).

    .venv/bin/python scripts/make_demo_population.py [-o data/reference/DEMO-FICTIF_population_75plus_80_46.csv]

The values are made up, deterministically (seeded generator, communes in code order): the
total of a commune is a log-normal draw plus 250 people per FINESS establishment located there
(so that towns with many establishments look like towns), split into the 17 five-year bands
(0-4 ... 80+) by a rural-France-like age pyramid perturbed per commune, then by sex. Only the
commune codes and names are real (IGN Admin Express COG 2018 outlines shipped in data/geo/).

Layout (read by dac_map.coverage.population, layout 1): a first comment line saying the data are
fictitious, then ``CODGEO;LIBGEO;NATURE_DONNEES;SEXE1_AGEQ80000;...;SEXE2_AGEQ80080`` (UTF-8,
``;``), ``NATURE_DONNEES`` repeating "FICTIF" on every line.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dac_map.coverage.population import band_columns  # noqa: E402
from dac_map.etl import commune_codes  # noqa: E402
from dac_map.etl.parser import parse_establishments  # noqa: E402
from dac_map.etl.reference import read_boundaries  # noqa: E402

DEFAULT_OUTPUT = ROOT / "data" / "reference" / "DEMO-FICTIF_population_75plus_80_46.csv"
COMMUNES = [ROOT / "data" / "geo" / "communes-80-somme.geojson",
            ROOT / "data" / "geo" / "communes-46-lot.geojson"]
ESTABLISHMENTS = ROOT / "data" / "finess" / "RECONSTRUCTED_etalab-cs1100507-stock-20210108_dep80_dep46.csv"
SEED = 2024
NATURE = "FICTIF - donnees de demonstration dac-map, ne pas utiliser"
COMMENT = ("# DONNEES FICTIVES / FICTITIOUS DATA - population par sexe et tranche d'age quinquennale "
           "inventee pour la demonstration de dac-map (scripts/make_demo_population.py) ; "
           "seuls les codes et noms de communes sont reels. Ne pas utiliser pour une analyse.")

#: Share of each five-year band 0-4 ... 80+ (a rural-France-like pyramid, made up).
PYRAMID = np.array([5.0, 5.6, 5.9, 5.6, 4.4, 4.7, 5.3, 5.7, 6.0, 6.6, 6.9, 7.0, 6.9, 6.7, 5.9,
                    4.2, 7.6])
#: Share of men per band (women outlive men: fewer men in the oldest bands).
MEN = np.array([0.512, 0.512, 0.511, 0.51, 0.505, 0.5, 0.495, 0.495, 0.495, 0.495, 0.49,
                0.485, 0.48, 0.47, 0.46, 0.44, 0.36])


def build(seed: int = SEED) -> list[list[str]]:
    """The rows of the table (header first)."""
    import pandas as pd

    communes = pd.concat([read_boundaries(p) for p in COMMUNES], ignore_index=True)
    communes = communes.drop_duplicates("code").sort_values("code").reset_index(drop=True)
    extract = parse_establishments(ESTABLISHMENTS)
    _, com = commune_codes(extract.structures["departement"], extract.structures["commune"])
    per_commune = com.value_counts()
    rng = np.random.default_rng(seed)
    n = len(communes)
    base = rng.lognormal(mean=np.log(250.0), sigma=0.9, size=n)
    total = np.maximum(40.0, base + 250.0 * communes["code"].map(per_commune).fillna(0).to_numpy())
    shares = rng.dirichlet(PYRAMID / PYRAMID.sum() * 150.0, size=n)
    header = ["CODGEO", "LIBGEO", "NATURE_DONNEES", *band_columns(80)]
    rows = [header]
    for i, (code, name) in enumerate(zip(communes["code"], communes["name"])):
        bands = total[i] * shares[i]
        men = np.rint(bands * MEN).astype(int)
        women = np.rint(bands * (1 - MEN)).astype(int)
        rows.append([code, name, NATURE, *map(str, men), *map(str, women)])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    rows = build(args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="") as f:
        f.write(COMMENT + "\n")
        csv.writer(f, delimiter=";", lineterminator="\n").writerows(rows)
    print(f"{args.output}: {len(rows) - 1} communes (valeurs FICTIVES)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
