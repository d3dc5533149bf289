"""ETL benchmark on a synthetic national-scale extract, against a naive baseline.

Usage::

    python benchmarks/bench_etl.py [--establishments 100000] [--equipment 200000] [--runs 5]

Generates (once, cached in ``benchmarks/output/``) a synthetic extract in the real etalab
layouts with :mod:`dac_map.testing.synthetic`, then times, each run in a fresh Python process:

* ``ours``: :func:`dac_map.etl.run_etl`, establishments only (validation, per-row projections,
  families, territories, plausibility checks, atomic GeoPackage);
* ``ours+eq``: the same with the equipment extract;
* ``naive``: a straightforward baseline doing less (``csv`` reader + pandas, a single
  Lambert-93 projection, ``points_from_xy`` + ``sjoin`` with the departments for the
  territory, ``GeoDataFrame.to_file`` without Arrow).

Figures are the wall time measured inside each process around the work (imports excluded)
and the process's peak resident memory. The two are run in turn (A B A B ...) and the
naive/ours ratio is computed pair by pair; medians are printed.
"""

from __future__ import annotations

import argparse
import csv
import json
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


def _paths(n_est: int, n_eq: int) -> tuple[Path, Path]:
    return (OUT / f"synthetic-cs1100507-{n_est}.csv", OUT / f"synthetic-cs1100505-{n_eq}.csv")


def generate(n_est: int, n_eq: int) -> tuple[Path, Path]:
    """Write the synthetic extracts if they are not cached yet."""
    import pandas as pd

    from dac_map.testing.synthetic import write_equipment_extract, write_establishments_extract

    est, eq = _paths(n_est, n_eq)
    OUT.mkdir(parents=True, exist_ok=True)
    if not est.exists():
        write_establishments_extract(est, n_est, seed=0)
    if not eq.exists():
        rows = []
        with open(est, encoding="latin-1", newline="") as f:
            for r in csv.reader(f, delimiter=";"):
                if r and r[0] == "structureet":
                    rows.append((r[1], r[18]))
        df = pd.DataFrame(rows, columns=["nofinesset", "categetab"])
        write_equipment_extract(eq, df, n_lines=n_eq, seed=0)
    return est, eq


# --------------------------------------------------------------------------- one run

def run_ours(est: Path, eq: Path | None, out: Path) -> dict:
    from dac_map.etl import EtlInputs, run_etl

    t = time.perf_counter()
    report = run_etl(EtlInputs(establishments=est, departments=DEPARTMENTS, equipment=eq), out)
    return {"seconds": time.perf_counter() - t, "rows": report.counts["establishments"],
            "stages": report.timings}


def run_naive(est: Path, eq: Path | None, out: Path) -> dict:
    """The obvious implementation: csv + pandas + geopandas, one projection, no checks."""
    import geopandas as gpd
    import pandas as pd

    from dac_map.etl.layouts import GEOLOCALISATION, STRUCTUREET

    t = time.perf_counter()
    st_rows, geo_rows = [], []
    with open(est, encoding="latin-1", newline="") as f:
        for r in csv.reader(f, delimiter=";"):
            if r and r[0] == "structureet":
                st_rows.append(r[1:])
            elif r and r[0] == "geolocalisation":
                geo_rows.append(r[1:])
    st = pd.DataFrame(st_rows, columns=list(STRUCTUREET.fields))
    geo = pd.DataFrame(geo_rows, columns=list(GEOLOCALISATION.fields))
    df = st.merge(geo, on="nofinesset", how="left")
    df["x"] = pd.to_numeric(df["coordxet"], errors="coerce")
    df["y"] = pd.to_numeric(df["coordyet"], errors="coerce")
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=2154)
    gdf = gdf.to_crs(4326)
    deps = gpd.read_file(DEPARTMENTS)
    gdf = gpd.sjoin(gdf, deps[["code", "geometry"]], how="left", predicate="within")
    gdf = gdf.drop(columns=["index_right"])
    if out.exists():
        out.unlink()
    gdf.to_file(out, layer="etablissements", driver="GPKG")
    if eq is not None:
        from dac_map.etl.layouts import EQUIPEMENTSOCIAL
        rows = []
        with open(eq, encoding="latin-1", newline="") as f:
            for r in csv.reader(f, delimiter=";"):
                if r and r[0] == "equipementsocial":
                    rows.append(r[1:len(EQUIPEMENTSOCIAL.fields) + 1])
        e = pd.DataFrame(rows, columns=list(EQUIPEMENTSOCIAL.fields))
        e["capinstot"] = pd.to_numeric(e["capinstot"], errors="coerce")
        totals = e.groupby("nofinesset")["capinstot"].sum()
        gdf["capacity"] = gdf["nofinesset"].map(totals)
        gdf.to_file(out, layer="etablissements", driver="GPKG")
        gpd.GeoDataFrame(e).to_file(out, layer="equipements", driver="GPKG")
    return {"seconds": time.perf_counter() - t, "rows": len(gdf)}


def _child(kind: str, est: str, eq: str, out: str) -> None:
    eq_path = Path(eq) if eq else None
    fn = run_naive if kind == "naive" else run_ours
    result = fn(Path(est), eq_path, Path(out))
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result, default=str))


def _once(kind: str, est: Path, eq: Path | None) -> dict:
    out = OUT / f"bench-{kind}.gpkg"
    cmd = [sys.executable, __file__, "--child", kind, str(est), str(eq or ""), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _paired(est: Path, eq: Path | None, runs: int) -> tuple[list[dict], list[dict]]:
    """Run ours and naive in turn (A B A B ...) after one warm-up pair, so that machine drift
    affects both alike; returns the counted runs of each."""
    ours, naive = [], []
    for i in range(runs + 1):
        a, b = _once("ours", est, eq), _once("naive", est, eq)
        if i:
            ours.append(a)
            naive.append(b)
    return ours, naive


def _row(name: str, res: list[dict]) -> str:
    secs = [r["seconds"] for r in res]
    return (f"{name:<10}{statistics.median(secs):>10.2f}{min(secs):>9.2f}{max(secs):>9.2f}"
            f"{max(r['peak_mib'] for r in res):>10.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--establishments", type=int, default=100_000)
    ap.add_argument("--equipment", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    est, eq = generate(args.establishments, args.equipment)
    print(f"synthetic extract: {args.establishments} establishments ({est.stat().st_size / 1e6:.1f} MB), "
          f"{args.equipment} equipment lines; {args.runs} paired runs after one warm-up pair")
    print(f"\n{'run':<10}{'median s':>10}{'min s':>9}{'max s':>9}{'peak MiB':>10}")
    stages = {}
    for label, eq_path in (("", None), ("+eq", eq)):
        ours, naive = _paired(est, eq_path, args.runs)
        print(_row("ours" + label, ours))
        print(_row("naive" + label, naive))
        ratios = [n["seconds"] / o["seconds"] for o, n in zip(ours, naive)]
        print(f"{'':<10}naive/ours per pair: median {statistics.median(ratios):.2f}x "
              f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")
        stages["ours" + label] = ours[len(ours) // 2]["stages"]
    for name, st in stages.items():
        print(f"stages of one '{name}' run (s): {st}")


if __name__ == "__main__":
    main()
