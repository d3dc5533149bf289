"""The shape of a search around a place on the map (issue 12): its centre, its circle or
reachable area, and the view bounds fitted to it and to the located results. Pure data, no
folium: :mod:`dac_map.ui.map` draws it, :mod:`dac_map.ui.data` builds it.

Coordinates: WGS84 (EPSG:4326) degrees; radii in metres.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import shapely


@dataclass(frozen=True)
class SearchArea:
    """What the map shows of a search around a place: the centre (WGS84 ``lat``/``lon``
    degrees, ``label``), a circle of ``radius_m`` metres or a reachable ``area`` (GeoJSON
    geometry, WGS84), the ``caption`` of that shape, and ``bounds`` ([[south, west],
    [north, east]], degrees) the view is fitted to."""

    lat: float
    lon: float
    label: str
    caption: str
    radius_m: float | None = None
    area: Mapping[str, object] | None = None
    bounds: tuple[tuple[float, float], tuple[float, float]] | None = None


def results_bounds(records: pd.DataFrame, area: SearchArea | None
                   ) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """[[south, west], [north, east]] (degrees) around the located results and the search
    centre and shape; None when there is nothing to fit."""
    lat = list(pd.to_numeric(records.get("lat", pd.Series(dtype=float)), errors="coerce").dropna())
    lon = list(pd.to_numeric(records.get("lon", pd.Series(dtype=float)), errors="coerce").dropna())
    if area is not None:
        lat.append(area.lat)
        lon.append(area.lon)
        if area.radius_m:
            dlat = area.radius_m / 111_320.0
            dlon = dlat / max(math.cos(math.radians(area.lat)), 0.01)
            lat += [area.lat - dlat, area.lat + dlat]
            lon += [area.lon - dlon, area.lon + dlon]
        if area.area is not None:
            w, s_, e, n = shapely.bounds(shapely.from_geojson(json.dumps(area.area)))
            lat += [s_, n]
            lon += [w, e]
    if not lat:
        return None
    return ((round(min(lat), 6), round(min(lon), 6)), (round(max(lat), 6), round(max(lon), 6)))


__all__ = ["SearchArea", "results_bounds"]
