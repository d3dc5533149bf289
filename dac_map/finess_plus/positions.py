"""Positions of FINESS+ establishments (:func:`resolve_positions`): the Lambert-93 pair
(``coord_x``/``coord_y``, metres, axes possibly swapped) checked against latitude/longitude
(WGS84 degrees) within :data:`COORDINATE_TOLERANCE_M`, the commune centroid failing both,
the metric pair in the row's metric CRS (EPSG:2154 metropolitan, local CRS overseas);
disagreements reported as deviations.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from dac_map.codes import departments_of, metric_epsgs
from dac_map.errors import KEPT
from dac_map.finess_plus.deviations import DeviationReport

#: Agreement (metres) required between the Lambert-93 pair and the WGS84 pair of an address.
COORDINATE_TOLERANCE_M = 10.0


# --------------------------------------------------------------------------- positions

@dataclass
class Positions:
    """Resolved positions: WGS84 degrees, metric metres, EPSG of the metric pair, precision."""

    lon: np.ndarray
    lat: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    epsg_m: np.ndarray
    precision: np.ndarray
    source: np.ndarray


def _metres_between(lon1, lat1, lon2, lat2) -> np.ndarray:
    k = 111_320.0
    return np.hypot((lon1 - lon2) * k * np.cos(np.radians(lat2)), (lat1 - lat2) * 110_574.0)


def resolve_positions(est: pd.DataFrame, communes: gpd.GeoDataFrame | None, report: DeviationReport,
                      file: str) -> Positions:
    """Positions of Structures establishments from ``coord_x``/``coord_y`` (Lambert-93 metres,
    axes possibly swapped), ``lat``/``lon`` (WGS84 degrees) and, failing both, the centroid of
    the commune (``communes``: EPSG:4326 outlines with a ``code`` column).

    In metropolitan France the Lambert-93 pair is used when it agrees with the WGS84 pair within
    :data:`COORDINATE_TOLERANCE_M` in either axis order (the order found is reported); when they
    disagree the WGS84 pair wins; when only the Lambert-93 pair is given its order is told by the
    ranges (eastings < 1.3e6 m < 6e6 m < northings). Overseas, the WGS84 pair is used.
    """
    n = len(est)
    cx = est["coord_x"].to_numpy(dtype="float64")
    cy = est["coord_y"].to_numpy(dtype="float64")
    lat = est["lat"].to_numpy(dtype="float64").copy()
    lon = est["lon"].to_numpy(dtype="float64").copy()
    dep = departments_of(est["commune"].fillna("").astype("string")).astype("string")
    metro = ~dep.str[:2].isin(["97", "98"]).fillna(False).to_numpy() & est["commune"].notna().to_numpy()
    paths = est["json_path"].to_numpy(dtype=object)
    has_ll = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    has_xy = np.isfinite(cx) & np.isfinite(cy) & metro
    to_wgs = pyproj.Transformer.from_crs(2154, 4326, always_xy=True)
    # swapped: X holds the northing, Y the easting
    lon_s, lat_s = to_wgs.transform(np.where(has_xy, cy, np.nan), np.where(has_xy, cx, np.nan), errcheck=False)
    lon_n, lat_n = to_wgs.transform(np.where(has_xy, cx, np.nan), np.where(has_xy, cy, np.nan), errcheck=False)
    d_s = _metres_between(np.asarray(lon_s), np.asarray(lat_s), lon, lat)
    d_n = _metres_between(np.asarray(lon_n), np.asarray(lat_n), lon, lat)
    ok_s = has_xy & has_ll & (d_s <= COORDINATE_TOLERANCE_M)
    ok_n = has_xy & has_ll & ~ok_s & (d_n <= COORDINATE_TOLERANCE_M)
    disagree = has_xy & has_ll & ~ok_s & ~ok_n
    by_range_s = has_xy & ~has_ll & (cx > 5e6) & (cy < 2e6)
    by_range_n = has_xy & ~has_ll & (cy > 5e6) & (cx < 2e6)
    x_m = np.full(n, np.nan)
    y_m = np.full(n, np.nan)
    swapped = ok_s | by_range_s
    named = ok_n | by_range_n
    x_m[swapped], y_m[swapped] = cy[swapped], cx[swapped]
    x_m[named], y_m[named] = cx[named], cy[named]
    epsg = np.where(metro, 2154, 0).astype("int64")
    use_xy = swapped | named
    lon_out = np.where(use_xy, np.where(swapped, lon_s, lon_n), np.where(has_ll, lon, np.nan))
    lat_out = np.where(use_xy, np.where(swapped, lat_s, lat_n), np.where(has_ll, lat, np.nan))
    source = np.where(use_xy, "FINESS+ Lambert-93 (BAN)", np.where(has_ll, "FINESS+ WGS84 (BAN)", None)).astype(object)
    for mask, kind, msg in (
            (ok_s, "coordinates_swapped", "coordonneeX = ordonnée, coordonneeY = abscisse (inversées) ; "
                                          "vérifié par latitude/longitude"),
            (disagree, "coordinates_disagree", "Lambert-93 et latitude/longitude à plus de "
                                               f"{COORDINATE_TOLERANCE_M:g} m : latitude/longitude retenues"),
            (has_xy & ~has_ll, "coordinates_unverified", "Lambert-93 sans latitude/longitude : ordre des axes "
                                                         "déduit des plages de valeurs")):
        idx = np.flatnonzero(mask)
        if len(idx):
            report.add(kind, file, f"{paths[idx[0]]}.adresse.coordonneesGeographique", msg, KEPT, count=len(idx))
            for i in idx[1:report.max_examples]:
                report.examples[kind].append(report.examples[kind][0].__class__(
                    kind, file, f"{paths[i]}.adresse.coordonneesGeographique", msg, KEPT))
    # metric coordinates from WGS84 where the Lambert-93 pair was not used
    need = ~use_xy & np.isfinite(lon_out)
    metric = metric_epsgs(dep).to_numpy(dtype="int64")  # 0: overseas without a metric CRS
    need &= metric > 0
    for code in np.unique(metric[need]):
        m = need & (metric == code)
        tr = pyproj.Transformer.from_crs(4326, int(code), always_xy=True)
        x_m[m], y_m[m] = tr.transform(lon_out[m], lat_out[m], errcheck=False)
        epsg[m] = code
    precision = np.where(np.isfinite(lon_out), "adresse", "aucune").astype(object)
    missing = ~np.isfinite(lon_out)
    if missing.any():
        idx = np.flatnonzero(missing)
        report.add("coordinates_missing", file, f"{paths[idx[0]]}.adresse",
                   "adresse sans coordonnées : position au centre de la commune si ses limites sont chargées",
                   KEPT, count=len(idx))
        if communes is not None and len(communes):
            centroids = communes.set_index("code").geometry.representative_point()
            pts = centroids.reindex(est["commune"].fillna("").to_numpy()[idx])
            found = pts.notna().to_numpy()
            j = idx[found]
            lon_out[j] = shapely.get_x(pts[found].to_numpy())
            lat_out[j] = shapely.get_y(pts[found].to_numpy())
            precision[j] = "commune"
            source[j] = "centre de la commune"
            for code in np.unique(metric[j][metric[j] > 0]):
                m = np.zeros(n, dtype=bool)
                m[j] = True
                m &= metric == code
                tr = pyproj.Transformer.from_crs(4326, int(code), always_xy=True)
                x_m[m], y_m[m] = tr.transform(lon_out[m], lat_out[m], errcheck=False)
                epsg[m] = code
    epsg = np.where(np.isfinite(x_m), epsg, metric)
    return Positions(lon_out, lat_out, np.round(x_m, 2), np.round(y_m, 2), epsg, precision, source)
