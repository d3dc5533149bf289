"""Distances for the query layer: the centre of a distance query and straight-line distances,
in metres in a metric CRS (Lambert-93 EPSG:2154 in metropolitan France, the local CRS of
:data:`dac_map.settings.LOCAL_METRIC_CRS` overseas; see :mod:`dac_map.codes`).

Establishment rows carry their metric coordinates (``x_m``/``y_m`` in ``epsg_m``, built once by
the ETL); only the centre is projected here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely

from dac_map import codes
from dac_map.query.errors import QueryError


@functools.lru_cache(maxsize=32)
def to_metric(epsg: int) -> pyproj.Transformer:
    """Transformer from WGS84 lon/lat (EPSG:4326, degrees) to the metric CRS ``epsg`` (metres)."""
    return pyproj.Transformer.from_crs(4326, epsg, always_xy=True)


def metric_epsg_for(lon: float, lat: float) -> int:
    """The metric CRS (EPSG) for distances around a point (``lon``, ``lat``: WGS84 degrees):
    Lambert-93 in metropolitan France, the local CRS overseas. Raises QueryError elsewhere."""
    epsg = codes.metric_epsg_at(lon, lat)
    if epsg is None:
        raise QueryError(f"point hors de France / point outside France: lat {lat}, lon {lon} "
                         "(« lat, lon », latitude d'abord / latitude first)")
    return epsg


@dataclass(frozen=True)
class Centre:
    """Centre of a distance query, in metres in the metric CRS ``epsg``: a point (``x``, ``y``)
    or, for the outline of a commune, the polygon ``area`` (then ``x``, ``y`` is its centroid)."""

    epsg: int
    x: float
    y: float
    area: object | None
    name: str


def point_centre(lon: float, lat: float, name: str) -> Centre:
    """The centre at a WGS84 point (degrees), projected to its metric CRS."""
    epsg = metric_epsg_for(lon, lat)
    x, y = to_metric(epsg).transform(lon, lat)
    return Centre(epsg, float(x), float(y), None, name)


def area_centre(commune: str, outline: object, name: str, keep_area: bool) -> Centre:
    """The centre of a commune: its ``outline`` (WGS84 polygon) projected to the metric CRS of
    the commune's department; ``x``, ``y`` is the centroid, ``area`` the projected polygon when
    ``keep_area`` (distances from any point of the commune)."""
    epsg = codes.metric_epsg(codes.department_of(commune)) or codes.LAMBERT_93
    tr = to_metric(epsg)
    area = shapely.transform(outline, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    c = shapely.centroid(area)
    if keep_area:
        shapely.prepare(area)
    return Centre(epsg, float(c.x), float(c.y), area if keep_area else None, name)


def distances_km(centre: Centre, x_m: np.ndarray, y_m: np.ndarray, epsg_m: np.ndarray,
                 radius_km: float) -> np.ndarray:
    """Straight-line distance (km) of each row (``x_m``, ``y_m`` in metres in ``epsg_m``) to
    ``centre``; NaN when not computed: no coordinates, another metric CRS, or, from an area,
    certainly beyond ``radius_km`` (bounding-box prefilter)."""
    ok = (epsg_m == centre.epsg) & np.isfinite(x_m)
    out = np.full(len(x_m), np.nan)
    if centre.area is None:
        d = np.hypot(x_m - centre.x, y_m - centre.y)
        out[ok] = d[ok] / 1000.0
        return out
    r = radius_km * 1000.0
    minx, miny, maxx, maxy = shapely.bounds(centre.area)
    cand = np.flatnonzero(ok & (x_m >= minx - r) & (x_m <= maxx + r) & (y_m >= miny - r) & (y_m <= maxy + r))
    if len(cand):
        out[cand] = shapely.distance(centre.area, shapely.points(x_m[cand], y_m[cand])) / 1000.0
    return out


__all__ = ["Centre", "area_centre", "distances_km", "metric_epsg_for", "point_centre", "to_metric"]
