"""Straight-line distance from each commune to the nearest resource of a kind, and white zones.

Distances are computed in **metres** in a metric CRS (Lambert-93, EPSG:2154, in metropolitan
France; the local CRS of :data:`dac_map.settings.LOCAL_METRIC_CRS` overseas) between points of
the same CRS only (one shapely 2 STRtree per CRS), and reported in **kilometres**. A commune
whose department has no metric CRS gets a NaN distance (:attr:`NearestResult.excluded`); one
whose CRS group holds no resource of the kind gets an infinite distance (a white zone whatever
the threshold). See :mod:`dac_map.coverage.indicators` for the commune and CRS conventions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dac_map.coverage.resources import (
    commune_centroids_m,
)

# --------------------------------------------------------------------------- nearest


@dataclass
class NearestResult:
    """Per-commune nearest resource.

    ``table`` is indexed by commune code with ``distance_km`` (float km; NaN = commune without
    a metric CRS, ``inf`` = no resource of the kind in its CRS zone) and ``nearest_index`` (the
    positional index of the nearest establishment, -1 when none). ``excluded`` lists the codes
    left out, with ``notes`` saying why.
    """

    table: pd.DataFrame
    excluded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def xy_epsg(frame: pd.DataFrame, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Metric coordinates of a frame: its ``x_m``/``y_m``/``epsg_m`` columns, or — for communes
    given as outlines only — the centroids computed by :func:`commune_centroids_m`."""
    if {"x_m", "y_m", "epsg_m"} <= set(frame.columns):
        x = pd.to_numeric(frame["x_m"], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(frame["y_m"], errors="coerce").to_numpy(dtype=float)
        e = pd.to_numeric(frame["epsg_m"], errors="coerce").fillna(0).to_numpy(dtype="int64")
        return x, y, e
    if kind == "communes" and isinstance(frame, gpd.GeoDataFrame):
        c = commune_centroids_m(frame)
        return (c["x_m"].to_numpy(dtype=float), c["y_m"].to_numpy(dtype=float),
                c["epsg_m"].to_numpy(dtype="int64"))
    raise ValueError(f"{kind}: need x_m, y_m, epsg_m columns (metres)")


def nearest_xy(qx: np.ndarray, qy: np.ndarray, tx: np.ndarray, ty: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest target of each query point, all in the same metric CRS (metres).

    Vectorised with a shapely 2 :class:`shapely.STRtree` (``query_nearest``). Returns the
    distances (metres; ``inf`` when there is no target) and the target positions (-1 when
    none). Non-finite query points get NaN and -1; non-finite targets are ignored.
    """
    qx = np.asarray(qx, dtype=float)
    qy = np.asarray(qy, dtype=float)
    dist = np.full(len(qx), np.nan)
    idx = np.full(len(qx), -1, dtype="int64")
    qok = np.isfinite(qx) & np.isfinite(qy)
    tok = np.flatnonzero(np.isfinite(tx) & np.isfinite(ty))
    if not qok.any():
        return dist, idx
    if not len(tok):
        dist[qok] = np.inf
        return dist, idx
    tree = shapely.STRtree(shapely.points(np.asarray(tx, dtype=float)[tok],
                                          np.asarray(ty, dtype=float)[tok]))
    qpos = np.flatnonzero(qok)
    (iq, it), d = tree.query_nearest(shapely.points(qx[qpos], qy[qpos]), return_distance=True,
                                     all_matches=False)
    dist[qpos[iq]] = d
    idx[qpos[iq]] = tok[it]
    return dist, idx


def nearest_resources(communes: pd.DataFrame, establishments: pd.DataFrame,
                      mask: Sequence[bool] | np.ndarray | None = None) -> NearestResult:
    """Straight-line distance from each commune centroid to the nearest selected establishment.

    Args:
        communes: ``code`` and either ``x_m``/``y_m``/``epsg_m`` (centroid, metres) or a polygon
            ``geometry`` (GeoDataFrame, any CRS; centroids then computed in the metric CRS).
        establishments: ``x_m``/``y_m``/``epsg_m`` (metres), as in the store.
        mask: which establishments count (boolean, aligned with ``establishments``); all when
            None.

    Distances are computed per metric CRS: a commune is only compared with establishments in
    the same CRS (Lambert-93 for all of metropolitan France, so neighbouring departments count).
    """
    cx, cy, ce = xy_epsg(communes, "communes")
    ex, ey, ee = xy_epsg(establishments, "establishments")
    sel = np.ones(len(establishments), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if len(sel) != len(establishments):
        raise ValueError("mask and establishments differ in length")
    dist = np.full(len(cx), np.nan)
    idx = np.full(len(cx), -1, dtype="int64")
    for epsg in np.unique(ce[ce > 0]):
        q = np.flatnonzero(ce == epsg)
        t = np.flatnonzero(sel & (ee == epsg))
        d, i = nearest_xy(cx[q], cy[q], ex[t], ey[t])
        dist[q] = d
        if len(t):
            idx[q] = np.where(i >= 0, t[np.maximum(i, 0)], -1)
    codes = communes["code"].astype("str").to_numpy()
    excluded_mask = (ce <= 0) | ~np.isfinite(cx) | ~np.isfinite(cy)
    excluded = [str(c) for c in codes[excluded_mask]]
    notes = []
    if excluded:
        notes.append(f"{len(excluded)} commune(s) sans projection métrique connue (hors "
                     "métropole et DROM) : distance non calculée")
    table = pd.DataFrame({"distance_km": dist / 1000.0, "nearest_index": idx},
                         index=pd.Index(codes, name="code"))
    return NearestResult(table=table, excluded=excluded, notes=notes)


def nearest_distances(communes: pd.DataFrame, establishments: pd.DataFrame,
                      mask: Sequence[bool] | np.ndarray | None = None) -> pd.Series:
    """Kilometres from each commune centroid to the nearest selected establishment.

    See :func:`nearest_resources` (same arguments); returns a float Series indexed by commune
    code, named ``distance_km`` (NaN: commune without metric CRS; ``inf``: no resource in its
    CRS zone).
    """
    return nearest_resources(communes, establishments, mask).table["distance_km"]


def white_zones(distances: pd.Series, threshold_km: float) -> pd.Series:
    """Communes farther than ``threshold_km`` (km) from the nearest resource ("zones blanches").

    Communes with no resource at all in their zone (``inf``) are included; communes whose
    distance could not be computed (NaN) are not. Sorted by decreasing distance.
    """
    if not math.isfinite(threshold_km) or threshold_km < 0:
        raise ValueError("threshold_km must be a finite, non-negative number of kilometres")
    d = pd.to_numeric(distances, errors="coerce")
    return d[d > threshold_km].sort_values(ascending=False, kind="stable")
