"""Benchmark of the per-commune nearest-resource computation, against naive baselines.

Usage::

    .venv/bin/python benchmarks/bench_coverage.py [--communes 35000] [--establishments 100000]
                                                  [--runs 5] [--brute-runs 1] [--no-brute]

Inputs (cached in ``benchmarks/output/``):

* **establishments**: a synthetic national extract in the real etalab layout written by
  :func:`dac_map.testing.synthetic.write_establishments_extract` (seed 0, the same file as
  ``bench_etl.py``), loaded by :func:`dac_map.etl.run_etl` into a GeoPackage, from which the
  metric coordinates (``x_m``/``y_m``, Lambert-93 or the local UTM CRS overseas, ``epsg_m``)
  are read — exactly what the app uses;
* **communes**: real commune outlines of all France are NOT shipped with dac-map (only the Somme
  and the Lot), so 35,000 synthetic commune centroids are drawn uniformly at random inside the
  department outlines of ``data/geo/departements.geojson`` (count per department proportional
  to its area, seed 1), projected to the department's metric CRS. The centroid computation of
  real outlines is therefore not part of the timing (it is a one-off ``to_crs().centroid``).

Methods timed (wall time of the computation only, data already in memory):

* ``ours``: :func:`dac_map.coverage.distances.nearest_resources` (one shapely 2 STRtree per
  metric CRS, vectorised ``query_nearest``);
* ``sjoin_nearest``: geopandas ``sjoin_nearest`` per CRS group (one GeoDataFrame of points per
  side, ``distance_col``), the obvious geopandas way;
* ``brute``: a chunked numpy brute-force distance matrix per CRS group (every commune against
  every establishment) — the naive baseline; slow, so by default run once.

All methods must agree (max difference printed, asserted below 1 mm). Prints medians and the
ratio to ``ours``; the target is ``ours`` under 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "output"
sys.path.insert(0, str(ROOT))

DEPARTMENTS = ROOT / "data" / "geo" / "departements.geojson"
TARGET_SECONDS = 5.0


def establishments(n: int) -> pd.DataFrame:
    """``x_m``, ``y_m``, ``epsg_m`` of ``n`` synthetic establishments (cached)."""
    from dac_map import store
    from dac_map.etl import EtlInputs, run_etl
    from dac_map.testing.synthetic import write_establishments_extract

    OUT.mkdir(parents=True, exist_ok=True)
    extract = OUT / f"synthetic-cs1100507-{n}.csv"
    gpkg = OUT / f"coverage-establishments-{n}.gpkg"
    if not extract.exists():
        print(f"writing {extract} ...", flush=True)
        write_establishments_extract(extract, n, seed=0)
    if not gpkg.exists() or gpkg.stat().st_mtime < extract.stat().st_mtime:
        print(f"loading it into {gpkg} ...", flush=True)
        run_etl(EtlInputs(establishments=extract, departments=DEPARTMENTS), gpkg)
    est = store.open_store(gpkg).read_layer(store.ESTABLISHMENTS, columns=["finess", "x_m", "y_m", "epsg_m"],
                           read_geometry=False)
    return pd.DataFrame(est)


def communes(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` synthetic commune centroids: random points inside the department outlines,
    count per department proportional to its area, in the department's metric CRS."""
    import geopandas as gpd
    import shapely

    from dac_map.codes import metric_epsgs
    from dac_map.etl.reference import read_boundaries

    deps = read_boundaries(DEPARTMENTS)
    deps["epsg_m"] = metric_epsgs(deps["code"]).to_numpy()
    rng = np.random.default_rng(seed)
    parts = []
    areas = np.array([gpd.GeoSeries([g], crs=4326).to_crs(int(e)).area.iat[0]
                      for g, e in zip(deps.geometry, deps["epsg_m"])])
    counts = rng.multinomial(n, areas / areas.sum())
    for (code, geom, epsg), k in zip(deps[["code", "geometry", "epsg_m"]].itertuples(index=False), counts):
        if k == 0:
            continue
        poly = gpd.GeoSeries([geom], crs=4326).to_crs(int(epsg)).iat[0]
        minx, miny, maxx, maxy = poly.bounds
        xs, ys = [], []
        while len(xs) < k:
            x = rng.uniform(minx, maxx, 4 * k)
            y = rng.uniform(miny, maxy, 4 * k)
            inside = shapely.contains_xy(poly, x, y)
            xs.extend(x[inside])
            ys.extend(y[inside])
        parts.append(pd.DataFrame({"code": [f"{code}{i:05d}" for i in range(k)],
                                   "x_m": xs[:k], "y_m": ys[:k], "epsg_m": int(epsg)}))
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- methods

def run_ours(com: pd.DataFrame, est: pd.DataFrame) -> np.ndarray:
    from dac_map.coverage.distances import nearest_resources

    return nearest_resources(com, est).table["distance_km"].to_numpy()


def run_sjoin(com: pd.DataFrame, est: pd.DataFrame) -> np.ndarray:
    import geopandas as gpd

    out = np.full(len(com), np.nan)
    for epsg in np.unique(com["epsg_m"]):
        c = com[com["epsg_m"] == epsg]
        e = est[est["epsg_m"] == epsg]
        if not len(e):
            out[c.index] = np.inf
            continue
        gc = gpd.GeoDataFrame({"i": c.index}, geometry=gpd.points_from_xy(c["x_m"], c["y_m"]),
                              crs=int(epsg))
        ge = gpd.GeoDataFrame(geometry=gpd.points_from_xy(e["x_m"], e["y_m"]), crs=int(epsg))
        j = gpd.sjoin_nearest(gc, ge, distance_col="d").drop_duplicates("i")
        out[j["i"].to_numpy()] = j["d"].to_numpy() / 1000
    return out


def run_brute(com: pd.DataFrame, est: pd.DataFrame, chunk: int = 128) -> np.ndarray:
    out = np.full(len(com), np.nan)
    for epsg in np.unique(com["epsg_m"]):
        ci = np.flatnonzero(com["epsg_m"].to_numpy() == epsg)
        e = est[est["epsg_m"] == epsg]
        if not len(e):
            out[ci] = np.inf
            continue
        ex, ey = e["x_m"].to_numpy(), e["y_m"].to_numpy()
        cx, cy = com["x_m"].to_numpy()[ci], com["y_m"].to_numpy()[ci]
        for s in range(0, len(ci), chunk):
            dx = cx[s:s + chunk, None] - ex[None, :]
            dy = cy[s:s + chunk, None] - ey[None, :]
            out[ci[s:s + chunk]] = np.sqrt((dx * dx + dy * dy).min(axis=1)) / 1000
    return out


def timed(fn, runs: int, *args) -> tuple[list[float], np.ndarray]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t)
    return times, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--communes", type=int, default=35_000)
    ap.add_argument("--establishments", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--brute-runs", type=int, default=1)
    ap.add_argument("--no-brute", action="store_true")
    args = ap.parse_args(argv)

    est = establishments(args.establishments)
    com = communes(args.communes)
    print(f"{len(com):_} synthetic commune centroids, {len(est):_} synthetic establishments "
          f"({est['epsg_m'].nunique()} metric CRS)".replace("_", " "))

    rows = []
    t_ours, ref = timed(run_ours, args.runs, com, est)
    rows.append(("ours (STRtree.query_nearest)", t_ours, 0.0))
    t_sj, res = timed(run_sjoin, args.runs, com, est)
    rows.append(("geopandas sjoin_nearest", t_sj, float(np.nanmax(np.abs(res - ref)))))
    if not args.no_brute:
        t_bf, res = timed(run_brute, args.brute_runs, com, est)
        rows.append(("numpy brute force (chunked)", t_bf, float(np.nanmax(np.abs(res - ref)))))

    base = statistics.median(t_ours)
    print(f"\n{'method':32} {'runs':>4} {'median s':>9} {'min s':>8} {'x ours':>7} {'max |diff| km':>14}")
    for name, times, diff in rows:
        med = statistics.median(times)
        print(f"{name:32} {len(times):>4} {med:>9.3f} {min(times):>8.3f} {med / base:>7.1f} {diff:>14.2e}")
    for _, _, diff in rows:
        assert diff < 1e-6, "methods disagree"
    ok = base < TARGET_SECONDS
    print(f"\ntarget: ours < {TARGET_SECONDS:.0f} s -> {'OK' if ok else 'MISSED'} ({base:.3f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
