"""Per-commune car travel time to the nearest resource of a kind (coverage by road).

One multi-source Dijkstra from every resource at once (:meth:`RoadNetwork.nearest_source_times`)
gives, for every commune, the time of the drive between its centroid and the nearest resource:
from the commune to the resource (``to_resource``), or from the resource to the commune for
home services (``from_resource``, families of the setting ``NETWORK_HOME_FAMILIES``).
Communes and resources farther than ``NETWORK_MAX_SNAP_M`` from any road get no time (NaN)
and are listed, never given 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from dac_map import settings
from dac_map.network.router import FROM_RESOURCE, TO_RESOURCE, RoadNetwork


def direction_for(families: tuple[str, ...] | list[str]) -> str:
    """``from_resource`` when every family given goes to the patient's home, else
    ``to_resource`` (the patient drives to the resource)."""
    home = set(settings.NETWORK_HOME_FAMILIES)
    return FROM_RESOURCE if families and set(families) <= home else TO_RESOURCE


@dataclass
class TravelCoverage:
    """Per commune (same order as given): ``travel_min`` (minutes, NaN when off the network or
    unreachable), ``nearest_index`` (position of the nearest resource among the establishments,
    -1 when none), ``snap_m`` (metres from the centroid to its road). ``off_network``: codes of
    the communes too far from any road; ``resources_off_network``: positions of the resources
    too far from any road (left out of the computation)."""

    travel_min: np.ndarray
    nearest_index: np.ndarray
    snap_m: np.ndarray
    direction: str
    off_network: list[str] = field(default_factory=list)
    resources_off_network: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


def commune_points(communes) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat (degrees) of the communes' centroids (outlines in EPSG:4326)."""
    geoms = communes.geometry
    if geoms.crs is not None and not geoms.crs.equals("EPSG:4326"):
        geoms = geoms.to_crs("EPSG:4326")
    c = shapely.centroid(geoms.to_numpy())
    return shapely.get_x(c), shapely.get_y(c)


def travel_coverage(network: RoadNetwork, codes: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                    res_lon: np.ndarray, res_lat: np.ndarray, mask: np.ndarray, *,
                    direction: str = TO_RESOURCE) -> TravelCoverage:
    """Time from each commune (``lon``/``lat``, WGS84 degrees) to the nearest resource among
    the establishments ``res_lon``/``res_lat`` selected by ``mask``."""
    com = network.snap(lon, lat)
    sel = np.flatnonzero(np.asarray(mask, dtype=bool) & np.isfinite(res_lon) & np.isfinite(res_lat))
    res = network.snap(res_lon[sel], res_lat[sel])
    on = ~res.off_network
    seconds = np.full(len(codes), np.nan)
    nearest = np.full(len(codes), -1, dtype=np.int64)
    ok = np.flatnonzero(~com.off_network)
    if len(ok) and on.any():
        t, which = network.nearest_source_times(res.node[on], com.node[ok], direction=direction)
        reach = np.isfinite(t)
        seconds[ok[reach]] = t[reach]
        nearest[ok[reach]] = sel[np.flatnonzero(on)[which[reach]]]
    return TravelCoverage(travel_min=seconds / 60.0, nearest_index=nearest, snap_m=com.distance_m,
                          direction=direction,
                          off_network=[str(c) for c in np.asarray(codes)[com.off_network]],
                          resources_off_network=sel[res.off_network])


def add_travel_columns(table: pd.DataFrame, travel: TravelCoverage, threshold_min: float,
                       finess: np.ndarray, names: np.ndarray) -> pd.DataFrame:
    """Add ``travel_min``, ``travel_nearest_finess``, ``travel_nearest_name``, ``snap_m`` and
    ``white_zone_time`` (time > ``threshold_min`` minutes, or no resource reachable at all;
    communes off the network are not white zones but listed: ``road`` = ``hors réseau``)."""
    has = travel.nearest_index >= 0
    pick = np.maximum(travel.nearest_index, 0)
    table["travel_min"] = travel.travel_min
    table["travel_nearest_finess"] = np.where(has, finess[pick], None)
    table["travel_nearest_name"] = np.where(has, names[pick], None)
    table["snap_m"] = travel.snap_m
    off = np.isin(table["code"].astype(str).to_numpy(), travel.off_network)
    table["road"] = np.where(off, "hors réseau", np.where(has, "ok", "aucune ressource atteinte"))
    table["white_zone_time"] = ~off & (~has | (np.nan_to_num(travel.travel_min, nan=np.inf) > threshold_min))
    return table
