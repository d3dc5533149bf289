"""ETL benchmark on a synthetic national-size extract, against a naive baseline.

Usage::

    python benchmarks/bench_etl.py [--establishments 95000] [--without-position 2000]
                                   [--runs 5] [--equipment 200000]

Generates (once, cached in ``benchmarks/output/``) a synthetic extract in the real etalab
layouts with :mod:`dac_map.testing.synthetic` — by default 95,000 establishments of which
2,000 have no coordinates (93,000 geolocated, like the national file) — then measures, in
pairs (ours, naive, ours, naive, ... after one warm-up pair, so that machine drift hits both):

* **whole process**, as a user runs it: ``dac-map etl -e ... -d ... -o ...`` against
  ``python benchmarks/naive_etl.py ...`` (start-up and imports included). Wall time around the
  child process; peak resident memory and CPU seconds (user + system) of that child from
  ``os.wait4`` (what ``/usr/bin/time`` reports); CPU seconds stay meaningful on a busy machine;
* **in-process**: the same work timed inside a fresh process around the call (imports
  excluded): :func:`dac_map.etl.run_etl` against :func:`naive_etl.run`.

``ours`` is the full ETL (validation, per-row projections, plausibility checks, families,
territories, atomic GeoPackage). ``naive`` does less: ``csv`` reader + pandas, one Lambert-93
projection, ``points_from_xy`` + ``sjoin`` with the departments, ``GeoDataFrame.to_file``.
With ``--equipment N`` the in-process runs are repeated with an N-line equipment extract.

The whole-process rounds also run the naive pipeline a third time with pyarrow's memory pool
set to the one dac-map uses (``ARROW_DEFAULT_MEMORY_POOL=jemalloc``; pyarrow's default mimalloc
pool is far slower on some virtual machines, see ``DAC_MAP_ARROW_MEMORY_POOL``), so that the
part of the ratio owed to that setting alone is shown.

Medians, min/max, the naive/ours ratio per pair (median) and the peak memory are printed,
with the targets of issue 9 (whole process <= 3 s and >= 2.5x naive, peak <= 600 MiB).

Output check (a speed-up must not change the store): ``--reference STORE`` compares the store of
the last whole-process run with ``STORE`` (written earlier, e.g. by another commit, from the same
extract): same layers, same columns and types, same geometry type and CRS, same rows (every
value; the ``etl_time`` metadata row excepted). ``--compare A B`` compares two stores and exits
(1 when they differ); use it on the demo store too (``make demo`` before and after a change).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
ROOT = HERE.parent
DEPARTMENTS = ROOT / "data" / "geo" / "departements.geojson"
NAIVE = HERE / "naive_etl.py"
DAC_MAP = Path(sys.executable).with_name("dac-map")

TARGET_WHOLE_S = 3.0
TARGET_RATIO = 2.5
TARGET_PEAK_MIB = 600


def generate(n_est: int, without_position: int, n_eq: int) -> tuple[Path, Path | None]:
    """Write the synthetic extracts if they are not cached yet."""
    import numpy as np
    import pandas as pd

    from dac_map.testing.synthetic import write_establishments_extract
    from dac_map.testing.synthetic_equipment import write_equipment_extract

    OUT.mkdir(parents=True, exist_ok=True)
    est = OUT / f"synthetic-cs1100507-{n_est}-{without_position}.csv"
    if not est.exists():
        tmp = est.with_suffix(".tmp")
        write_establishments_extract(tmp, n_est, seed=0)
        lines = tmp.read_bytes().split(b"\n")
        geo = [i for i, ln in enumerate(lines) if ln.startswith(b"geolocalisation;")]
        for i in np.random.default_rng(1).choice(geo, min(without_position, len(geo)), replace=False):
            parts = lines[i].split(b";")
            parts[2] = parts[3] = b""
            lines[i] = b";".join(parts)
        tmp.write_bytes(b"\n".join(lines))
        tmp.replace(est)
    if not n_eq:
        return est, None
    eq = OUT / f"synthetic-cs1100505-{n_est}-{n_eq}.csv"
    if not eq.exists():
        rows = []
        with open(est, encoding="latin-1", newline="") as f:
            for r in csv.reader(f, delimiter=";"):
                if r and r[0] == "structureet":
                    rows.append((r[1], r[18]))
        df = pd.DataFrame(rows, columns=["nofinesset", "categetab"])
        write_equipment_extract(eq, df, n_lines=n_eq, seed=0)
    return est, eq


# --------------------------------------------------------------------------- output check

#: Metadata keys expected to differ between two runs on the same inputs.
_VOLATILE_METADATA = {"etl_time"}


def compare_stores(a: Path, b: Path) -> list[str]:
    """Differences between two GeoPackage stores (empty when equivalent): layer names, then
    per layer the fields and their types, geometry type, CRS, row count and every value (rows
    compared in file order; geometries as WKB). Read with pyogrio directly, not with dac_map."""
    import pyogrio

    diffs: list[str] = []
    la = {str(n): str(g) for n, g in pyogrio.list_layers(a)}
    lb = {str(n): str(g) for n, g in pyogrio.list_layers(b)}
    if la != lb:
        diffs.append(f"layers differ: {sorted(la.items())} != {sorted(lb.items())}")
    for layer in sorted(set(la) & set(lb)):
        ia, ib = pyogrio.read_info(a, layer=layer), pyogrio.read_info(b, layer=layer)
        fa = list(zip(ia["fields"].tolist(), ia["dtypes"].tolist()))
        fb = list(zip(ib["fields"].tolist(), ib["dtypes"].tolist()))
        for key, va, vb in (("fields", fa, fb), ("geometry_type", ia["geometry_type"], ib["geometry_type"]),
                            ("crs", ia["crs"], ib["crs"]), ("features", ia["features"], ib["features"])):
            if va != vb:
                diffs.append(f"{layer}: {key} differ: {va} != {vb}")
        if fa != fb or ia["features"] != ib["features"]:
            continue
        ta = pyogrio.read_arrow(a, layer=layer, datetime_as_string=True)[1]
        tb = pyogrio.read_arrow(b, layer=layer, datetime_as_string=True)[1]
        da, db = ta.to_pandas(), tb.to_pandas()
        if layer == "metadata":
            da = da[~da["key"].isin(_VOLATILE_METADATA)].reset_index(drop=True)
            db = db[~db["key"].isin(_VOLATILE_METADATA)].reset_index(drop=True)
        for col in da.columns:
            if col not in db.columns:
                diffs.append(f"{layer}: column {col} missing")
                continue
            sa, sb = da[col], db[col]
            same = (sa.isna() & sb.isna()) | (sa == sb).fillna(False).astype(bool)
            if not bool(same.all()):
                first = int((~same).to_numpy().nonzero()[0][0])
                diffs.append(f"{layer}.{col}: {int((~same).sum())} rows differ "
                             f"(first: row {first}: {sa.iloc[first]!r} != {sb.iloc[first]!r})")
    return diffs


# --------------------------------------------------------------------------- one run

def _child(kind: str, est: str, eq: str, out: str) -> None:
    """In-process measurement, in this (fresh) process: imports first, then the timed work."""
    eq_path = Path(eq) if eq else None
    if kind == "naive":
        sys.path.insert(0, str(HERE))
        import naive_etl

        t, c = time.perf_counter(), time.process_time()
        rows = naive_etl.run(Path(est), DEPARTMENTS, Path(out), eq_path)
        result = {"seconds": time.perf_counter() - t, "work_cpu": time.process_time() - c,
                  "rows": rows}
    else:
        from dac_map.etl import EtlInputs, run_etl

        t, c = time.perf_counter(), time.process_time()
        report = run_etl(EtlInputs(establishments=Path(est), departments=DEPARTMENTS,
                                   equipment=eq_path), Path(out))
        result = {"seconds": time.perf_counter() - t, "work_cpu": time.process_time() - c,
                  "rows": report.counts["establishments"], "stages": report.timings}
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result, default=str))


def _run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """Run ``cmd`` (with ``env`` added to the environment); wall seconds, the child's own peak
    RSS (MiB) and CPU seconds (user + system) from ``os.wait4``, and its stdout."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    out = proc.stdout.read()
    errs = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(map(str, cmd[:3]))} failed ({proc.returncode}):\n"
                         f"{errs.decode(errors='replace')[-3000:]}")
    return (seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime,
            out.decode(errors="replace"))


#: Environment of the naive run given the Arrow memory pool dac-map uses (setting
#: ``DAC_MAP_ARROW_MEMORY_POOL``, default jemalloc): pyarrow's own variable, read at its import.
SAME_POOL_ENV = {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}


def _whole(kind: str, est: Path) -> dict:
    out = OUT / f"whole-{kind}.gpkg"
    env = None
    if kind.startswith("naive"):
        cmd = [sys.executable, str(NAIVE), str(est), str(DEPARTMENTS), str(out)]
        env = SAME_POOL_ENV if kind == "naive-same-pool" else None
    else:
        cmd = [str(DAC_MAP), "etl", "-e", str(est), "-d", str(DEPARTMENTS), "-o", str(out)]
    seconds, peak, cpu, _ = _run_child(cmd, env)
    return {"seconds": seconds, "peak_mib": peak, "cpu": cpu}


def _in_process(kind: str, est: Path, eq: Path | None) -> dict:
    out = OUT / f"bench-{kind}.gpkg"
    cmd = [sys.executable, __file__, "--child", kind, str(est), str(eq or ""), str(out)]
    seconds, _, cpu, stdout = _run_child(cmd)
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_seconds"], result["process_cpu"] = seconds, cpu
    return result


def _paired(measure, runs: int, kinds: tuple[str, ...] = ("ours", "naive")) -> list[list[dict]]:
    """ours, naive, ours, naive... (each of ``kinds`` in turn) after one warm-up round; returns
    the counted runs of each kind."""
    results: list[list[dict]] = [[] for _ in kinds]
    for i in range(runs + 1):
        round_ = [measure(kind) for kind in kinds]
        if i:
            for res, r in zip(results, round_):
                res.append(r)
    return results


def _row(name: str, res: list[dict]) -> str:
    secs = [r["seconds"] for r in res]
    key = "cpu" if "cpu" in res[0] else "work_cpu"
    cpu = f"{statistics.median(r[key] for r in res):>9.2f}" if key in res[0] else f"{'':>9}"
    return (f"{name:<22}{statistics.median(secs):>10.2f}{min(secs):>9.2f}{max(secs):>9.2f}"
            f"{max(r['peak_mib'] for r in res):>10.0f}{cpu}")


def _report(label: str, ours: list[dict], naive: list[dict], naive_name: str = "naive",
            show_ours: bool = True) -> tuple[float, float, float]:
    if show_ours:
        print(_row(f"ours {label}", ours))
    print(_row(f"{naive_name} {label}", naive))
    ratios = [n["seconds"] / o["seconds"] for o, n in zip(ours, naive)]
    med = statistics.median(ratios)
    print(f"{'':<22}naive/ours per pair: median {med:.2f}x (min {min(ratios):.2f}x, "
          f"max {max(ratios):.2f}x)")
    if "cpu" in ours[0]:
        cpu = [n["cpu"] / o["cpu"] for o, n in zip(ours, naive)]
        print(f"{'':<22}CPU seconds naive/ours per pair: median {statistics.median(cpu):.2f}x")
    if "process_seconds" in ours[0]:  # in-process children: what their process spent outside
        for name, res in (("ours", ours), ("naive", naive)):
            out = [r["process_seconds"] - r["seconds"] for r in res]
            print(f"{'':<22}{name}: child process {statistics.median(r['process_seconds'] for r in res):.2f} s"
                  f" wall ({statistics.median(r['process_cpu'] for r in res):.2f} s CPU), of which "
                  f"start-up, imports and exit {statistics.median(out):.2f} s")
    return statistics.median(r["seconds"] for r in ours), med, max(r["peak_mib"] for r in ours)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--establishments", type=int, default=95_000)
    ap.add_argument("--without-position", type=int, default=2_000)
    ap.add_argument("--equipment", type=int, default=0,
                    help="also time in-process runs with an equipment extract of N lines")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--reference", type=Path,
                    help="a store written earlier from the same extract: the output must match it")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"),
                    help="compare two stores and exit (1 when they differ)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.compare:
        diffs = compare_stores(*args.compare)
        print("\n".join(diffs) or "stores are equivalent (layers, columns, types, rows)")
        raise SystemExit(1 if diffs else 0)
    est, eq = generate(args.establishments, args.without_position, args.equipment)
    print(f"synthetic extract: {args.establishments} establishments, "
          f"{args.establishments - args.without_position} with coordinates "
          f"({est.stat().st_size / 1e6:.1f} MB); {args.runs} paired runs after one warm-up pair")
    print(f"\n{'run':<22}{'median s':>10}{'min s':>9}{'max s':>9}{'peak MiB':>10}{'cpu s':>9}")
    ours_w, naive_w, same_w = _paired(lambda k: _whole(k, est), args.runs,
                                      ("ours", "naive", "naive-same-pool"))
    whole = _report("(whole process)", ours_w, naive_w)
    print(f"{'':<22}the same naive run with pyarrow's pool set as ours "
          f"({', '.join(f'{k}={v}' for k, v in SAME_POOL_ENV.items())}), in the same rounds:")
    _report("(whole process)", ours_w, same_w, "naive+pool", show_ours=False)
    if args.reference:
        diffs = compare_stores(args.reference, OUT / "whole-ours.gpkg")
        print("output check against", args.reference, ":",
              "; ".join(diffs) if diffs else "identical layers, columns, types and rows")
    ours, naive = _paired(lambda k: _in_process(k, est, None), args.runs)
    _report("(in-process)", ours, naive)
    stages = ours[len(ours) // 2]["stages"]
    if eq is not None:
        ours_eq, naive_eq = _paired(lambda k: _in_process(k, est, eq), args.runs)
        _report("+eq (in-process)", ours_eq, naive_eq)
    print(f"\nstages of one in-process run (s): {stages}")
    seconds, ratio, peak = whole
    print(f"targets, whole process: <= {TARGET_WHOLE_S} s: {seconds:.2f} s "
          f"{'met' if seconds <= TARGET_WHOLE_S else 'NOT met'}; >= {TARGET_RATIO}x naive: "
          f"{ratio:.2f}x {'met' if ratio >= TARGET_RATIO else 'NOT met'}; peak <= "
          f"{TARGET_PEAK_MIB} MiB: {peak:.0f} MiB {'met' if peak <= TARGET_PEAK_MIB else 'NOT met'}")


if __name__ == "__main__":
    main()
