"""Benchmark of the steward territory table (issue 13), on the demo data.

Usage::

    .venv/bin/python benchmarks/bench_territories.py [--runs 7]

Timed, in process (medians of ``--runs``):

* ``load_catalogue`` of the demo GeoPackage built from the steward table (the territories are
  rebuilt from the table at load, with the FICTITIOUS Somme split as the main set: 2 territories
  of ~400 commune outlines each plus the 100 department ones) against the same GeoPackage built
  from an explicit territory file (no rebuild): the baseline of the same run;
* the "which DAC for this commune" lookup for every commune of the Somme and the Lot (per call);
* a save with version check in the SQLite table (per save, 50 saves of 400 communes).

Whole-process figures (start-up and imports included) are measured separately on the command
line (see the README).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dac_map.testing.timing import median_seconds  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()

    from dac_map import cli, settings
    from dac_map.etl import EtlInputs, run_etl
    from dac_map.query import load_catalogue
    from dac_map.territories import (MAIN_SET, SqliteTerritoryStore, demo_table, shipped_table,
                                     read_table, table_text)
    from dac_map.territories.catalogue import dac_lookup

    tmp = Path(tempfile.mkdtemp(prefix="bench_territories_"))
    settings.TERRITORIES_DB = tmp / "territories.sqlite"
    store = SqliteTerritoryStore(settings.TERRITORIES_DB)
    main_set = [t for t in read_table(shipped_table()).territories if t.id != "DAC-80"]
    main_set += [t for t in read_table(demo_table()).territories if t.id.startswith("DEMO")]
    store.import_many(main_set, "bench", set_name=MAIN_SET)
    inputs = dict(establishments=cli.DEMO_ESTABLISHMENTS, departments=cli.DEMO_DEPARTMENTS,
                  equipment=cli.DEMO_EQUIPMENT, communes=list(cli.DEMO_COMMUNES))
    steward = run_etl(EtlInputs(**inputs), tmp / "steward.gpkg").target
    filed = tmp / "file.csv"
    filed.write_text(table_text(main_set), encoding="utf-8")
    explicit = run_etl(EtlInputs(**inputs, territories=filed), tmp / "file.gpkg").target

    load_catalogue(steward), load_catalogue(explicit)  # warm the OS cache
    # paired runs (file, steward, file, steward...): the ratio is taken pair by pair, so that a
    # busy machine slowing one stretch of the run does not bias it
    pairs = [(median_seconds(lambda: load_catalogue(explicit), 1), median_seconds(lambda: load_catalogue(steward), 1))
             for _ in range(args.runs)]
    t_file = statistics.median(a for a, _ in pairs)
    t_steward = statistics.median(b for _, b in pairs)
    ratio = statistics.median(b / a for a, b in pairs)
    print(f"load_catalogue, territories from the file layer : {t_file * 1000:8.1f} ms (median of {args.runs})")
    print(f"load_catalogue, territories from the steward table: {t_steward * 1000:8.1f} ms "
          f"(median of the per-pair ratios {ratio:.2f})")

    cat = load_catalogue(steward)
    codes = list(cat.communes["code"].astype(str))
    look = dac_lookup(cat)
    t_look = median_seconds(lambda: [look.for_commune(c) for c in codes], args.runs)
    print(f"which DAC for a commune: {t_look / len(codes) * 1e6:8.1f} µs per commune ({len(codes)} communes)")

    v = store.get("DEMO-80-OUEST")
    extra = [c for c in codes if c.startswith("80")][:50]
    t0 = time.perf_counter()
    for c in extra:
        v = store.save(v.territory.with_communes(add=[c]), v.version, "bench")
    per = (time.perf_counter() - t0) / len(extra)
    print(f"versioned save (check + write + history): {per * 1000:8.2f} ms per save "
          f"({len(v.territory.communes)} communes)")


if __name__ == "__main__":
    main()
