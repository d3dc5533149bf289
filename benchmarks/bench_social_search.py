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

Whole process (start-up and imports included), each command in a fresh process, wall and CPU
seconds and peak memory (medians over ``--runs``, ours and the baseline alternated): ``dac-map
search --format csv`` with « Aide alimentaire » in DAC-80, « Aide alimentaire » around a point
(the 10 nearest), « Intervient à » Amiens with free services (≈ 25,000 rows at 200,000
services) — ours against the same command of the code at ``--baseline REV`` (default 963dce0,
which read the whole social table at each command), extracted with ``git archive`` and run with
the same interpreter; the outputs must be byte-identical — and the FINESS-only search on the
same store for reference.
"""

from __future__ import annotations

import argparse
import json
import math
import os
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


def baseline_tree(rev: str) -> Path:
    """The ``dac_map`` package at git revision ``rev`` (``git archive``), extracted once into
    ``benchmarks/output/baseline-REV/``."""
    target = OUT / f"baseline-{rev}"
    if not (target / "dac_map" / "cli.py").exists():
        tmp = OUT / f"baseline-{rev}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "dac_map"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        shutil.rmtree(target, ignore_errors=True)
        tmp.replace(target)
    return target


#: Runs a command, prints its wall time, its CPU time and its peak memory (it is the wrapper's
#: only child, so RUSAGE_CHILDREN is the command's), and its output's digest.
_WRAPPER = ("import hashlib, json, resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
            "s = time.perf_counter() - t\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(json.dumps({'rc': p.returncode, 'seconds': s, 'cpu_s': u.ru_utime + u.ru_stime,"
            " 'peak_mib': u.ru_maxrss / 1024, 'sha': hashlib.sha256(p.stdout).hexdigest(),"
            " 'bytes': len(p.stdout), 'err': p.stderr[-2000:].decode(errors='replace')}))\n")


def _whole(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """One whole-process run of ``cmd`` (start-up and imports included)."""
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {})})
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out.pop("rc"):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out['err']}")
    return out


def whole_process(store: Path, runs: int, rev: str) -> None:
    """``dac-map search`` with social criteria, ours against the code at ``rev``."""
    base = baseline_tree(rev)
    ours_cmd = [str(Path(sys.executable).parent / "dac-map"), "search"]
    base_cmd = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(base)!r}); "
                "sys.argv[0] = 'dac-map'; from dac_map.cli import main; main()", "search"]
    base_env = {"DAC_MAP_DATA_DIR": str(ROOT / "data")}  # the extracted tree has no data/ beside it
    cases = {
        "« Aide alimentaire », DAC-80": ["--dac", "DAC-80", "--social-family", "Aide alimentaire"],
        "« Aide alimentaire », 10 nearest": ["--social-family", "Aide alimentaire", "--near-point", "49.89, 2.30"],
        "« Intervient à » Amiens, free": ["--serves-commune", "80021", "--resources", "sociales", "--fee", "gratuit"],
    }
    common = ["--store", str(store), "--format", "csv"]
    print(f"\nwhole process, `dac-map search --format csv`, medians of {runs} runs (ours / code at {rev}, "
          "alternated; wall s, CPU s, peak MiB):")
    print(f"{'search':34} {'rows':>7} {'ours wall':>10} {'CPU':>6} {'MiB':>6} {'base wall':>10} {'CPU':>6} "
          f"{'MiB':>6} {'wall ratio':>10}")
    for name, args in cases.items():
        ours, theirs = [], []
        for _ in range(runs):
            ours.append(_whole([*ours_cmd, *common, *args]))
            theirs.append(_whole([*base_cmd, *common, *args], base_env))
        if {r["sha"] for r in ours} != {r["sha"] for r in theirs} or len({r["sha"] for r in ours}) != 1:
            raise SystemExit(f"{name}: outputs differ from the baseline's")

        def med(rs: list[dict], key: str) -> float:
            return statistics.median(r[key] for r in rs)

        rows = int(subprocess.run([*ours_cmd, *common, *args], capture_output=True, check=True).stdout.count(b"\n")) - 1
        ratio = statistics.median(t["seconds"] / o["seconds"] for o, t in zip(ours, theirs))
        print(f"{name:34} {rows:7d} {med(ours, 'seconds'):10.2f} {med(ours, 'cpu_s'):6.2f} {med(ours, 'peak_mib'):6.0f} "
              f"{med(theirs, 'seconds'):10.2f} {med(theirs, 'cpu_s'):6.2f} {med(theirs, 'peak_mib'):6.0f} "
              f"{ratio:9.2f}x")
    finess = [_whole([*ours_cmd, *common, "--dac", "DAC-80"]) for _ in range(runs)]
    print(f"{'FINESS only, DAC-80 (reference)':34} {'':7} {statistics.median(r['seconds'] for r in finess):10.2f} "
          f"{statistics.median(r['cpu_s'] for r in finess):6.2f} {statistics.median(r['peak_mib'] for r in finess):6.0f}")
    print("(identical CSV bytes, ours and baseline; wall ratio = baseline / ours, median of pairs; load average "
          f"at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--naive-runs", type=int, default=1, help="runs of the (slow) naive baseline")
    ap.add_argument("--baseline", default="963dce0", metavar="REV",
                    help="git revision whose `dac-map search` is the whole-process baseline")
    ap.add_argument("--whole-process-only", action="store_true", help="skip the in-process figures")
    a = ap.parse_args()

    from dac_map.inclusion.catalogue import load_social
    from dac_map.query import load_catalogue
    from dac_map.query.social import search_social_spec, social_catalogue
    from dac_map.query.spec import SearchSpec
    from dac_map.ui.social_layer import social_payload

    store = build_store(a.services)
    if a.whole_process_only:
        whole_process(store, a.runs, a.baseline)
        return
    catalogue = load_catalogue(store)
    t0 = time.perf_counter()
    social = social_catalogue(catalogue)
    load_s = time.perf_counter() - t0
    load_again = _median(lambda: load_social(store), max(1, a.runs // 2))
    load_lazy = _median(lambda: load_social(store, whole=False), max(1, a.runs // 2))
    print(f"services in the store: {len(social)}; social catalogue load {load_s:.2f} s "
          f"(median of fresh loads {load_again:.2f} s, whole table as the app keeps it; "
          f"{load_lazy:.2f} s the filter columns only, as a one-off `dac-map search`)")
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
    whole_process(store, a.runs, a.baseline)

if __name__ == "__main__":
    main()
