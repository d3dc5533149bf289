"""The naive ETL baseline of ``bench_etl.py``: what a first script would do.

Usage: python benchmarks/naive_etl.py EXTRACT DEPARTMENTS OUTPUT [EQUIPMENT]

``csv`` reader + pandas, one Lambert-93 projection for every row, ``points_from_xy`` +
``sjoin`` with the department outlines, ``GeoDataFrame.to_file`` (GeoPackage, no Arrow). No
validation, no per-row projection, no reject report, no atomic write. It does not import
dac_map, so that its whole-process time is its own.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd


def _rows(path: Path, section: str) -> list[list[str]]:
    with open(path, encoding="latin-1", newline="") as f:
        return [r[1:] for r in csv.reader(f, delimiter=";") if r and r[0] == section]


def run(est: Path, departments: Path, out: Path, eq: Path | None = None) -> int:
    """Build ``out`` from the extract; returns the number of establishments written."""
    st = pd.DataFrame(_rows(est, "structureet"))
    st = st.rename(columns={0: "nofinesset"}).rename(columns=str)
    geo = pd.DataFrame(_rows(est, "geolocalisation")).rename(
        columns={0: "nofinesset", 1: "coordxet", 2: "coordyet", 3: "sourcecoordet", 4: "geo_datemaj"})
    df = st.merge(geo, on="nofinesset", how="left")
    df["x"] = pd.to_numeric(df["coordxet"], errors="coerce")
    df["y"] = pd.to_numeric(df["coordyet"], errors="coerce")
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=2154)
    gdf = gdf.to_crs(4326)
    deps = gpd.read_file(departments)
    gdf = gpd.sjoin(gdf, deps[["code", "geometry"]], how="left", predicate="within")
    gdf = gdf.drop(columns=["index_right"])
    if out.exists():
        out.unlink()
    gdf.to_file(out, layer="etablissements", driver="GPKG")
    if eq is not None:
        e = pd.DataFrame(_rows(eq, "equipementsocial")).rename(columns={0: "nofinesset", 9: "capinstot"})
        e = e.rename(columns=str)
        e["capinstot"] = pd.to_numeric(e["capinstot"], errors="coerce")
        gdf["capacity"] = gdf["nofinesset"].map(e.groupby("nofinesset")["capinstot"].sum())
        gdf.to_file(out, layer="etablissements", driver="GPKG")
        gpd.GeoDataFrame(e).to_file(out, layer="equipements", driver="GPKG")
    return len(gdf)


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]]
    print(run(args[0], args[1], args[2], args[3] if len(args) > 3 else None))
