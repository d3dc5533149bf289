"""Write a large synthetic pair of FINESS extracts for benchmarks.

Usage: python benchmarks/make_synthetic.py OUTDIR [--establishments 100000] [--equipment 200000]
       [--seed 0]

Writes OUTDIR/synthetic-cs1100507.csv (establishments + geolocation) and
OUTDIR/synthetic-cs1100505.csv (equipment, capacities marked as fictitious) in the real etalab
layouts, with :mod:`dac_map.testing.synthetic`, and prints the time taken.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dac_map.testing.synthetic import read_establishment_categories, write_establishments_extract
from dac_map.testing.synthetic_equipment import write_equipment_extract


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder to write the two extracts into")
    parser.add_argument("--establishments", type=int, default=100_000,
                        help="number of establishments (default 100000)")
    parser.add_argument("--equipment", type=int, default=200_000,
                        help="number of equipment lines (default 200000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)

    args.outdir.mkdir(parents=True, exist_ok=True)
    est_path = args.outdir / "synthetic-cs1100507.csv"
    eq_path = args.outdir / "synthetic-cs1100505.csv"

    t0 = time.perf_counter()
    write_establishments_extract(est_path, args.establishments, seed=args.seed)
    t1 = time.perf_counter()
    establishments = read_establishment_categories(est_path)
    n = write_equipment_extract(eq_path, establishments, n_lines=args.equipment, seed=args.seed)
    t2 = time.perf_counter()

    print(f"{est_path}: {args.establishments} establishments in {t1 - t0:.2f} s")
    print(f"{eq_path}: {n} equipment lines in {t2 - t1:.2f} s")
    print(f"total {t2 - t0:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
