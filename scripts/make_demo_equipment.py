"""Write the demo equipment extract (cs1100505) for the Somme (80) and Lot (46) demo establishments.

THE CAPACITIES IN THE OUTPUT ARE FICTITIOUS. No public cs1100505 file ships with the project, so
this script invents plausible ``equipementsocial`` lines (discipline, activity type, clientèle,
installed and authorised places) for the real social and medico-social establishments of
``data/finess/RECONSTRUCTED_etalab-cs1100507-stock-20210108_dep80_dep46.csv``, with
:func:`dac_map.testing.synthetic_equipment.write_equipment_extract` (seed 80046). Every line says so itself:
``sourceinfo`` = ``X``, ``libsourceinfo`` = "Capacité fictive (démonstration dac-map)".
Use it for the demo only, never as a source of real capacities.

Usage: python scripts/make_demo_equipment.py
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from dac_map.testing.synthetic import read_establishment_categories
from dac_map.testing.synthetic_equipment import write_equipment_extract

SOURCE = PROJECT_DIR / "data" / "finess" / "RECONSTRUCTED_etalab-cs1100507-stock-20210108_dep80_dep46.csv"
TARGET = PROJECT_DIR / "data" / "finess" / "DEMO-FICTIF_etalab-cs1100505-equipements_80_46.csv"
SEED = 80046


def main() -> int:
    establishments = read_establishment_categories(SOURCE, encoding="latin-1")
    n = write_equipment_extract(TARGET, establishments, seed=SEED, illustrative=True,
                                encoding="latin-1")
    print(f"{TARGET.relative_to(PROJECT_DIR)}: {n} fictitious equipment lines for "
          f"{establishments['nofinesset'].isin(_with_lines(TARGET)).sum()} of "
          f"{len(establishments)} establishments")
    return 0


def _with_lines(path: Path) -> set[str]:
    with open(path, encoding="latin-1") as f:
        return {line.split(";", 2)[1] for line in f if line.startswith("equipementsocial;")}


if __name__ == "__main__":
    raise SystemExit(main())
