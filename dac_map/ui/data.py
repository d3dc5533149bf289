"""What the search page computes, cached across reruns and sessions (``st.cache_resource``):
the catalogue (loaded once per file version, or the served PostGIS version in server mode),
the sidebar options, base layers and colours, the searches (:func:`run_search`), the road
network of a territory and the area it reaches, and result records by FINESS number.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dac_map import settings
from dac_map.errors import DacMapError
from dac_map.query import (
    Catalogue,
    SearchResult,
    StatusFilter,
    TerritoryFilter,
    TextFilter,
    load_catalogue,
    search,
)
from dac_map.server import config as server_config
from dac_map.ui import map as umap
from dac_map.ui import state as ustate
from dac_map.ui.options import Options, build_options
from dac_map.ui.search_area import SearchArea, results_bounds
from dac_map.ui.text import format_km, plain


# --------------------------------------------------------------------------- cached resources

def store_path() -> Path:
    """The GeoPackage the app reads (``settings.STORE_PATH``, env ``DAC_MAP_STORE``)."""
    return Path(settings.STORE_PATH)


@st.cache_resource(max_entries=2, show_spinner="Chargement des données FINESS…")
def cached_catalogue(path: str, mtime: float) -> Catalogue:
    return load_catalogue(path)


@st.cache_resource(max_entries=2, show_spinner="Chargement des données FINESS…")
def _load_served_catalogue(url: str, stamp: tuple[int, int]) -> Catalogue:
    from dac_map.server.pgstore import load_served_catalogue

    return load_served_catalogue(url)


def catalogue_at(path: str | Path) -> Catalogue:
    """The catalogue of the GeoPackage at ``path``, loaded once per process and file version
    (shared by the search, coverage and unmet-need pages). Server mode: the served PostGIS
    version instead, reloaded when its switch serial or the territory table changes (one cheap
    query per rerun)."""
    url = server_config.database_url()
    if url:
        from dac_map.server.versions import catalogue_stamp_cached

        return _load_served_catalogue(url, catalogue_stamp_cached(url))
    path = Path(path)
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return cached_catalogue(str(path), mtime)


def get_catalogue() -> Catalogue:
    """The catalogue of the app's store (:func:`store_path`)."""
    return catalogue_at(store_path())


def catalogue_token(catalogue: Catalogue) -> str:
    return f"{catalogue.path}:{id(catalogue)}"


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_options(_catalogue: Catalogue, token: str) -> Options:
    return build_options(_catalogue)


@st.cache_resource(max_entries=32, show_spinner=False)
def cached_base_layers(_catalogue: Catalogue, token: str, dac: str | None) -> umap.BaseLayers:
    return umap.base_layers(_catalogue, dac)


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_colors(_catalogue: Catalogue, token: str) -> dict[str, str]:
    return umap.family_colors(_catalogue.families)


# --------------------------------------------------------------------------- search

@dataclass(frozen=True)
class Current:
    """The result of this run: filters applied, warnings and the whole result set."""

    state: ustate.ViewState
    result: SearchResult
    warnings: tuple[str, ...]
    filter_version: int
    network: object | None = None  # the territory's RoadNetwork (issue 12), or None
    social: object | None = None  # the social resources found (issue 16), or None
    finess_shown: bool = True  # False: only social resources were asked for


@st.cache_resource(max_entries=16, show_spinner=False)
def _search(_catalogue: Catalogue, _filters: list, token: str, filters_key: str,
            sort: str | None, _network=None, network_key: str = "") -> tuple[SearchResult, str | None]:
    """The search, shared by the sessions (bounded cache); the result is read-only."""
    try:
        return search(_catalogue, _filters, sort=sort, page=1, page_size=None,
                      network=_network), None
    except DacMapError as exc:  # a filter the query layer refuses at evaluation time
        basic = [f for f in _filters if isinstance(f, (TerritoryFilter, StatusFilter))]
        return (search(_catalogue, basic, page=1, page_size=None),
                f"Critères non appliqués : {exc}")


def run_search(catalogue: Catalogue, state: ustate.ViewState, departments: Sequence[str]
               ) -> Current:
    """Build the filters and search (all pages at once: the map needs every point); a search
    already made with the same filters (by any session) is reused. With a road network for the
    territory, distances come with car travel times."""
    network = get_network(state)
    filters, warnings = ustate.build_filters(state, catalogue, departments,
                                             has_network=network is not None)
    sort = ustate.effective_sort(state, filters, has_network=network is not None)
    token = catalogue_token(catalogue)
    nkey = _network_key(network)
    result, problem = _search(catalogue, filters, token, repr(filters), sort, network, nkey)
    if problem:
        warnings.append(problem)
    version = zlib.crc32(repr((token, repr(filters), sort, nkey)).encode("utf-8"))
    return Current(state, result, tuple(warnings), version, network)


# --------------------------------------------------------------------------- road network (issue 12)

def get_network(state: ustate.ViewState):
    """The road network of the state's territory (:mod:`dac_map.network`, loaded once per
    file version), or None (national view, or no network built for the territory)."""
    from dac_map.network import try_load_network

    if state.national or not state.dac:
        return None
    return try_load_network(state.dac)


def network_label(dac: str | None) -> str | None:
    """Name of the road network of a territory (its source file), or None."""
    if not dac or dac == ustate.NATIONAL:
        return None
    from dac_map.network import try_load_network

    network = try_load_network(dac)
    return (network.source_name or "OpenStreetMap") if network is not None else None


def _network_key(network) -> str:
    if network is None:
        return ""
    return f"{id(network)}:{(network.meta.get('source') or {}).get('sha256', '')}"


@st.cache_resource(max_entries=32, show_spinner=False)
def _reachable_area(_network, network_key: str, lon: float, lat: float, minutes: float):
    """GeoJSON geometry (WGS84) of the area reachable in ``minutes`` from (lon, lat)."""
    import json

    import shapely

    area = _network.reachable_area((lon, lat), minutes * 60.0)
    if area is None:
        return None
    return json.loads(shapely.to_geojson(shapely.simplify(area, 0.0005)))


def search_area(current: Current) -> SearchArea | None:
    """The centre and shape the map draws for a search around a place: the radius circle;
    with the N nearest, the area reachable by road in the chosen time (or the time of the
    farthest result), else the circle up to the farthest result (straight line)."""
    res = current.result
    if res.centre is None:
        return None
    state = current.state
    lon, lat = res.centre
    records = res.records
    label = f"Centre de la recherche : {plain(res.centre_label) or state.near}"
    radius_m = None
    area = None
    if state.radius_km is not None:
        radius_m = state.radius_km * 1000.0
        caption = f"Rayon de {state.radius_km:g} km (à vol d'oiseau)".replace(".", ",")
    elif res.by_road and current.network is not None:
        times = pd.to_numeric(records.get("travel_min", pd.Series(dtype=float)), errors="coerce")
        minutes = state.max_minutes or (float(np.ceil(times.max())) if times.notna().any() else 0.0)
        if minutes <= 0:
            return SearchArea(lat=lat, lon=lon, label=label, caption="",
                                   bounds=results_bounds(records, None))
        area = _reachable_area(current.network, _network_key(current.network), lon, lat, minutes)
        caption = (f"Zone atteignable en {minutes:g} min en voiture (approximative : enveloppe du "
                   "réseau routier atteint)")
    else:
        dist = pd.to_numeric(records.get("distance_km", pd.Series(dtype=float)), errors="coerce")
        if not dist.notna().any():
            return SearchArea(lat=lat, lon=lon, label=label, caption="")
        radius_m = float(dist.max()) * 1000.0
        caption = (f"Les {len(records)} plus proches : jusqu'à {format_km(float(dist.max()))} "
                   "(à vol d'oiseau)")
    shape = SearchArea(lat=lat, lon=lon, label=label, caption=caption, radius_m=radius_m,
                            area=area)
    return SearchArea(**{**shape.__dict__, "bounds": results_bounds(records, shape)})


def records_for(catalogue: Catalogue, finess: Sequence[str],
                current: pd.DataFrame | None = None) -> pd.DataFrame:
    """Result records of the given establishments, in the given order: taken from the
    current result when there, else found with the query layer (exact FINESS number search,
    open or closed)."""
    wanted = [f for f in dict.fromkeys(finess) if f in catalogue.finess_row]
    parts: list[pd.DataFrame] = []
    have: set[str] = set()
    if current is not None and len(current) and wanted:
        hit = current[current["finess"].isin(wanted)]
        parts.append(hit)
        have = set(hit["finess"])
    for f in wanted:
        if f in have:
            continue
        found = search(catalogue, [StatusFilter(open_only=False), TextFilter(f)], sort="score",
                       page=1, page_size=5).records
        parts.append(found[found["finess"] == f].head(1))
    if not parts:
        return current.iloc[0:0] if current is not None else pd.DataFrame()
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    order = {f: k for k, f in enumerate(wanted)}
    return out.sort_values("finess", key=lambda s: s.map(order)).reset_index(drop=True)


__all__ = ["Current", "cached_base_layers", "cached_catalogue", "cached_colors", "cached_options",
           "catalogue_at", "catalogue_token", "get_catalogue", "get_network", "network_label",
           "records_for", "run_search", "search_area", "store_path"]
