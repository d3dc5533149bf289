"""Social resources in the one search (issue 16): per-search cost on the main map, against a
naive baseline, with a national number of data·inclusion services.

Usage::

    python benchmarks/bench_social_search.py [--services 200000] [--runs 5]

Builds once (cached in ``benchmarks/output/``) the demo GeoPackage (Somme + Lot FINESS) with
``--services`` synthetic services in the real shape imported (:mod:`dac_map.testing.inclusion`,
national, zones commune / department / EPCI / France). Then measures, medians over ``--runs``:

In-process (the catalogue already loaded, as in the app):

* ``load``: the social catalogue from the store (:func:`dac_map.query.social.social_catalogue`,
  once per catalogue in the app);
* ``family+territory``: « Aide alimentaire » in territory DAC-80 (list + map payload);
* ``serves``: « Intervient à » Amiens (80021), every family (list + map payload);
* ``nearest``: the 10 nearest social resources around Amiens, any territory (list + payload);
* ``national``: every social resource (grid aggregation of the map);
* the same searches ``naive``: one Python test per row (families, zone codes, haversine
  distance) over the table's records, the straightforward implementation.

Whole process (start-up and imports included): ``dac-map search --social-family
"Aide alimentaire" --dac DAC-80 --format csv`` against ``dac-map search --dac DAC-80 --format
csv`` (FINESS only) on the same store.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
ROOT = HERE.parent


def build_store(n_services: int) -> Path:
    """The demo store with ``n_services`` synthetic services imported (built once)."""
    from dac_map import cli
    from dac_map.etl import EtlInputs, run_etl
    from dac_map.inclusion.importer import run_import
    from dac_map.testing.inclusion import synthetic_records, write_json

    target = OUT / f"social-search-{n_services}.gpkg"
    if target.exists():
        return target
    OUT.mkdir(parents=True, exist_ok=True)
    base = OUT / "social-search-base.gpkg"
    if not base.exists():
        run_etl(EtlInputs(establishments=cli.DEMO_ESTABLISHMENTS, departments=cli.DEMO_DEPARTMENTS,
                          equipment=cli.DEMO_EQUIPMENT, communes=list(cli.DEMO_COMMUNES)), base)
    services, structures = synthetic_records(n_services, seed=16)
    s_path = write_json(OUT / f"social-search-services-{n_services}.json", services)
    t_path = write_json(OUT / f"social-search-structures-{n_services}.json", structures)
    del services, structures  # the import streams the files
    tmp = OUT / f"social-search-{n_services}.building.gpkg"
    shutil.copyfile(base, tmp)
    t0 = time.perf_counter()
    run_import([s_path], [t_path], store=tmp)
    print(f"(store built: {n_services} services imported in {time.perf_counter() - t0:.1f} s)")
    tmp.replace(target)
    return target


def _naive(table, families=(), department=None, serves=None, centre=None, n=None):
    """The straightforward search: a Python test per row."""
    rows = table.to_dict("records")
    out = []
    for r in rows:
        if families and not set(r["families"] or ()) & {"social_" + f for f in families}:
            continue
        if department and str(r["commune"] or "")[:2] != department:
            continue
        if serves:
            zone = list(r["zone_codes"] or ()) or [r["commune"]]
            if not ({serves, serves[:2], "france"} & set(zone)):
                continue
        d = math.nan
        if centre is not None and r["lat"] == r["lat"]:
            lat1, lon1, lat2, lon2 = map(math.radians, (centre[0], centre[1], r["lat"], r["lon"]))
            a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
            d = 6371.0 * 2 * math.asin(math.sqrt(a))
        out.append((d, r))
    if centre is not None:
        out.sort(key=lambda x: x[0])
        out = out[:n]
    return out


def _median(fn, runs: int) -> float:
    """Median wall time (s) of ``runs`` calls of ``fn``."""
    return statistics.median(timeit.repeat(fn, number=1, repeat=runs))


def _whole(args: list[str], runs: int) -> float:
    cmd = [str(Path(sys.executable).parent / "dac-map"), "search", *args, "--format", "csv"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--naive-runs", type=int, default=1, help="runs of the (slow) naive baseline")
    a = ap.parse_args()

    from dac_map.inclusion.filters import load_social
    from dac_map.query import load_catalogue
    from dac_map.query.social import search_social_spec, social_catalogue
    from dac_map.query.spec import SearchSpec
    from dac_map.ui.social_layer import social_payload

    store = build_store(a.services)
    catalogue = load_catalogue(store)
    t0 = time.perf_counter()
    social = social_catalogue(catalogue)
    load_s = time.perf_counter() - t0
    load_again = _median(lambda: load_social(store), max(1, a.runs // 2))
    print(f"services in the store: {len(social)}; social catalogue load {load_s:.2f} s "
          f"(median of fresh loads {load_again:.2f} s)")
    amiens = catalogue.communes[catalogue.communes["code"] == "80021"].to_crs(2154).centroid.to_crs(4326).iloc[0]
    cases = {
        "family+territory": (SearchSpec(dac="DAC-80", social_families=("aide_alimentaire",)),
                             dict(families=("aide_alimentaire",), department="80")),
        "serves": (SearchSpec(serves="80021", resources="sociales"), dict(serves="80021")),
        "nearest": (SearchSpec(near="80021", nearest_n=10, resources="sociales"),
                    dict(centre=(amiens.y, amiens.x), n=10)),
        "national": (SearchSpec(resources="sociales"), {}),
    }
    print(f"{'search':18} {'found':>8} {'ours (s)':>9} {'naive (s)':>10} {'ratio':>7}")
    for name, (spec, naive) in cases.items():
        def ours():
            res = search_social_spec(spec, catalogue)
            social_payload(res.records)
            return res
        found = ours().total
        t_ours = _median(ours, a.runs)
        t_naive = _median(lambda: _naive(social.table, **naive), a.naive_runs)
        print(f"{name:18} {found:8d} {t_ours:9.3f} {t_naive:10.3f} {t_naive / t_ours:6.1f}x")
    w_social = _whole(["--store", str(store), "--dac", "DAC-80", "--social-family", "Aide alimentaire"], a.runs)
    w_finess = _whole(["--store", str(store), "--dac", "DAC-80"], a.runs)
    print(f"whole process, dac-map search « Aide alimentaire » DAC-80: {w_social:.2f} s; FINESS only "
          f"(same store): {w_finess:.2f} s; ratio {w_social / w_finess:.2f}")


if __name__ == "__main__":
    main()
