"""Query-layer benchmark on synthetic national data, next to naive baselines measured in the
same run.

Usage::

    python benchmarks/bench_query.py [--establishments 100000] [--repeat 30] [--rebuild]

Generates (once, cached in ``benchmarks/output/``, same files as ``bench_etl.py``) a synthetic
cs1100507 extract of ``--establishments`` establishments and a cs1100505 extract of twice as
many equipment lines with :mod:`dac_map.testing.synthetic`, runs the ETL once into
``benchmarks/output/query-<n>.gpkg``, then measures the median and 90th percentile (ms) of:

* ``load``: :func:`dac_map.query.load_catalogue` (read with Arrow + every array and the text
  index prepared) vs. naive ``geopandas.read_file`` of the establishments and equipment
  without Arrow (no preparation at all);
* ``combined``: territory (a DAC) + family + specialty (clientèle Alzheimer) + capacity
  (>= 20 installed places on the Alzheimer lines), first page of 50, vs. naive pandas with
  per-row ``apply`` for the family/status and equipment tests, ``GeoSeries.within`` for the
  territory, ``groupby`` for the capacity, ``sort_values`` for the order;
* ``fuzzy``: :class:`~dac_map.query.TextFilter` over every establishment (typos, first page),
  vs. naive ``rapidfuzz.process.extract`` (WRatio) over the raw, unfolded names without any
  prefilter;
* ``fuzzy_40k``: the synthetic names only use about a thousand distinct words, the real
  FINESS tens of thousands: the text index rebuilt with 40,000 extra pseudo-words (one per
  name), scoring alone (no result page), vs. the same naive ``process.extract``;
* ``radius``: :class:`~dac_map.query.DistanceFilter` of 10 km around a point, sorted by
  distance, vs. naive haversine over all rows plus ``to_crs(2154)`` of every row then
  ``GeoSeries.distance`` each time.

Each query is checked to return the same establishments as its baseline where the semantics
are the same (combined, radius). The machine's load is what it is: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "output"
sys.path.insert(0, str(ROOT))

from dac_map import settings  # noqa: E402

DEPARTMENTS = settings.DATA_DIR / "geo" / "departements.geojson"
COMMUNES = [settings.DATA_DIR / "geo" / "communes-80-somme.geojson",
            settings.DATA_DIR / "geo" / "communes-46-lot.geojson"]
TARGETS_MS = {"load": 2000.0, "combined": 30.0, "fuzzy": 50.0, "fuzzy_40k": 50.0, "radius": 10.0}
FUZZY_QUERIES = ["residense les tileuls", "ehpad ste anne", "pharmacie des tilleuls",
                 "foyer de vie st martin", "ssiad la roseraie", "centre hospitalier saint"]


# --------------------------------------------------------------------------- data

def generate(n_est: int) -> tuple[Path, Path]:
    """The synthetic extracts (cached; the file names are shared with bench_etl.py)."""
    from dac_map.testing.synthetic import (
        read_establishment_categories,
        write_establishments_extract,
    )
    from dac_map.testing.synthetic_equipment import write_equipment_extract

    OUT.mkdir(parents=True, exist_ok=True)
    est = OUT / f"synthetic-cs1100507-{n_est}.csv"
    eq = OUT / f"synthetic-cs1100505-{2 * n_est}.csv"
    if not est.exists():
        tmp = est.with_suffix(f".{os.getpid()}.tmp")
        write_establishments_extract(tmp, n_est, seed=0)
        os.replace(tmp, est)
    if not eq.exists():
        tmp = eq.with_suffix(f".{os.getpid()}.tmp")
        write_equipment_extract(tmp, read_establishment_categories(est), n_lines=2 * n_est, seed=0)
        os.replace(tmp, eq)
    return est, eq


def build_store(n_est: int, rebuild: bool) -> Path:
    from dac_map.etl import EtlInputs, run_etl

    target = OUT / f"query-{n_est}.gpkg"
    if target.exists() and not rebuild:
        return target
    est, eq = generate(n_est)
    t = time.perf_counter()
    report = run_etl(EtlInputs(establishments=est, departments=DEPARTMENTS, equipment=eq,
                               communes=COMMUNES), target)
    print(f"ETL: {report.counts['establishments']} establishments, "
          f"{report.counts['equipment_lines']} equipment lines in {time.perf_counter() - t:.1f} s")
    return target


# --------------------------------------------------------------------------- timing

def measure(fn: Callable[[int], object], repeat: int, warmup: int = 1,
            before: Callable[[], object] | None = None) -> dict[str, float]:
    """Median and p90 (ms) of ``repeat`` calls ``fn(i)`` after ``warmup`` calls; ``before`` is
    called (untimed) before each call, e.g. to empty a cache."""
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(repeat):
        if before is not None:
            before()
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000.0)
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    return {"median": statistics.median(times), "p90": p90, "runs": repeat}


# --------------------------------------------------------------------------- the benchmark

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--establishments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="runs per query (ours)")
    parser.add_argument("--naive-repeat", type=int, default=5, help="runs per naive baseline")
    parser.add_argument("--load-repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="rerun the ETL")
    args = parser.parse_args()

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely
    from rapidfuzz import fuzz, process

    from dac_map.query import (
        CapacityFilter,
        DistanceFilter,
        FamilyFilter,
        SpecialtyFilter,
        TerritoryFilter,
        TextFilter,
        load_catalogue,
        search,
    )

    path = build_store(args.establishments, args.rebuild)
    results: dict[str, dict[str, dict[str, float]]] = {}

    # ---- load
    cat = load_catalogue(path)

    def naive_load(_: int) -> tuple:
        est = gpd.read_file(path, layer="etablissements", engine="pyogrio", use_arrow=False)
        eq = gpd.read_file(path, layer="equipements", engine="pyogrio", use_arrow=False)
        return est, eq

    results["load"] = {"ours": measure(lambda i: load_catalogue(path), args.load_repeat, warmup=0),
                       "naive": measure(naive_load, args.load_repeat, warmup=0)}
    n_est = len(cat)
    naive_est, naive_eq = naive_load(0)

    # ---- combined: the DAC with the most establishments
    dac = cat.establishments["dac_id"].value_counts().index[0]
    spec = SpecialtyFilter(clienteles=["alzheimer"])
    filters = [TerritoryFilter(dac_id=dac), FamilyFilter(["pa_hebergement"]), spec,
               CapacityFilter(20, specialty=spec)]
    ours = search(cat, filters)
    poly = cat.territories.set_index("dac_id").geometry[dac]

    def naive_combined(_: int) -> pd.DataFrame:
        est, eq = naive_est, naive_eq
        keep = est.apply(lambda r: r["status"] == "ouvert" and r["family"] in ("pa_hebergement",), axis=1)
        inside = est.geometry.within(poly)
        lines = eq[eq.apply(lambda r: "alzheimer" in str(r["clientele_label"]).lower(), axis=1)]
        inst = lines["capacity_installed"].where(~lines["removed_installed"].astype(bool), 0).fillna(0)
        cap = inst.groupby(lines["finess"]).sum()
        sel = est[keep & inside & est["finess"].map(cap).ge(20).fillna(False).astype(bool)]
        return sel.sort_values(["name", "finess"])

    expected = naive_combined(0)
    assert set(expected["finess"]) == set(search(cat, filters, page_size=None).records["finess"]), \
        "combined query and naive baseline disagree"
    # The catalogue memoises equipment line masks per specialty: emptied before every run, so
    # that each run pays the whole query.
    results["combined"] = {"ours": measure(lambda i: search(cat, filters), args.repeat,
                                           before=cat.cache.clear),
                           "naive": measure(naive_combined, args.naive_repeat)}
    combined_total = ours.total

    # ---- fuzzy text search
    names = naive_est["name"].astype(str).tolist()
    rng_words = np.random.default_rng(1)
    results["fuzzy"] = {
        "ours": measure(lambda i: search(cat, [TextFilter(FUZZY_QUERIES[i % len(FUZZY_QUERIES)])]),
                        args.repeat),
        "naive": measure(lambda i: process.extract(FUZZY_QUERIES[i % len(FUZZY_QUERIES)], names,
                                                   scorer=fuzz.WRatio, limit=50), args.naive_repeat),
    }
    fuzzy_totals = {q: search(cat, [TextFilter(q)]).total for q in FUZZY_QUERIES}

    # ---- the synthetic names use a small vocabulary (about a thousand words) while the real
    # national FINESS has tens of thousands (surnames, places): rebuild the text index with
    # 40,000 extra pseudo-words spread over the names and time the scoring alone again.
    from dac_map.query.text import TextIndex, fold_column
    syll = ["ba", "ro", "mi", "lu", "ter", "van", "gos", "del", "quin", "chal", "mor", "bes",
            "fa", "zu", "pel", "rin", "tou", "cla", "vid", "nes", "gar", "lo", "sen", "dre"]
    words: set[str] = set()
    while len(words) < 40_000:
        words.add("".join(rng_words.choice(syll, rng_words.integers(2, 5))).upper())
    extra = np.array(sorted(words), dtype=object)[rng_words.integers(0, len(words), n_est)]
    big_names = np.array([f"{a} {b}" for a, b in zip(names, extra)], dtype=object)
    big = TextIndex.build([big_names], folded_names=fold_column(big_names),
                          finess=cat.establishments["finess"].tolist(),
                          finess_ej=cat.establishments["finess_ej"].tolist())
    big_queries = [f"{q} {w.lower()[:-1]}" for q, w in zip(FUZZY_QUERIES, extra[:len(FUZZY_QUERIES)])]
    results["fuzzy_40k"] = {
        "ours": measure(lambda i: big.score(big_queries[i % len(big_queries)], 70.0), args.repeat),
        "naive": measure(lambda i: process.extract(big_queries[i % len(big_queries)], big_names.tolist(),
                                                   scorer=fuzz.WRatio, limit=50), args.naive_repeat),
    }
    big_vocab = len(big.vocab)

    # ---- radius query around metropolitan establishments (Lambert-93)
    rng = np.random.default_rng(0)
    metro = np.flatnonzero((cat.epsg_m == 2154) & np.isfinite(cat.lon))
    centres = [(float(cat.lon[i]), float(cat.lat[i])) for i in rng.choice(metro, 50, replace=False)]
    from pyproj import Transformer
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)

    def naive_radius(i: int) -> pd.DataFrame:
        lon, lat = centres[i % len(centres)]
        est = naive_est
        # haversine over all rows, then the metric distance after to_crs, every time
        lo, la = np.radians(est.geometry.x.to_numpy()), np.radians(est.geometry.y.to_numpy())
        h = (np.sin((la - np.radians(lat)) / 2) ** 2
             + np.cos(la) * np.cos(np.radians(lat)) * np.sin((lo - np.radians(lon)) / 2) ** 2)
        _ = 2 * 6371.0 * np.arcsin(np.sqrt(h))
        metric = est[est["epsg_m"] == 2154].to_crs(2154)
        d = metric.distance(shapely.Point(*to_l93.transform(lon, lat))) / 1000.0
        return metric.assign(distance_km=d)[d <= 10].sort_values(["distance_km", "name"])

    for i in range(3):
        got = search(cat, [DistanceFilter(10, point=centres[i])], page_size=None).records
        assert set(got["finess"]) == set(naive_radius(i)["finess"]), "radius query and baseline disagree"
    results["radius"] = {
        "ours": measure(lambda i: search(cat, [DistanceFilter(10, point=centres[i % len(centres)])]),
                        args.repeat),
        "naive": measure(naive_radius, args.naive_repeat),
    }

    # ---- report
    print()
    print(f"dac-map query benchmark: {n_est} establishments, {len(cat.equipment)} equipment lines, "
          f"vocabulary {len(cat.text_index.vocab)} words; {platform.python_version()}, "
          f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}")
    print(f"combined = {dac} + pa_hebergement + Alzheimer + >= 20 places ({combined_total} results); "
          f"fuzzy totals: {fuzzy_totals}")
    print(f"fuzzy_40k = text index scoring only, names + pseudo-words (vocabulary {big_vocab} words), "
          f"queries such as {big_queries[0]!r}")
    header = f"{'measure':<10} {'ours median':>12} {'ours p90':>10} {'naive median':>13} " \
             f"{'naive p90':>10} {'ratio':>8} {'target':>8}  ok"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        o, n = r["ours"], r["naive"]
        ratio = n["median"] / o["median"] if o["median"] else float("inf")
        ok = "yes" if o["median"] < TARGETS_MS[name] else "NO"
        print(f"{name:<10} {o['median']:>10.1f}ms {o['p90']:>8.1f}ms {n['median']:>11.1f}ms "
              f"{n['p90']:>8.1f}ms {ratio:>7.1f}x {TARGETS_MS[name]:>6.0f}ms  {ok}")
    (OUT / f"bench_query-{n_est}.json").write_text(json.dumps(
        {"establishments": n_est, "results": results, "targets_ms": TARGETS_MS,
         "loadavg": os.getloadavg()}, indent=2))
    return 0 if all(r["ours"]["median"] < TARGETS_MS[k] for k, r in results.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
