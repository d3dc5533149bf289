"""The page: header with data date and sources, map, result summary, detail panel, result
list and exports (Streamlit). ``app.py`` calls :func:`main`.

What triggers a rerun (the whole script, top to bottom):

* any sidebar widget (see :mod:`dac_map.ui.sidebar`), the sort and page widgets of the list;
* a click on a resource marker: ``st_folium`` returns only click data
  (``last_object_clicked*``), so panning and zooming never rerun; its ``on_change`` callback
  sets the detail panel before the rerun;
* a row (de)selected in the list (``on_select`` callback: detail panel, A4 selection, map
  centre), the buttons of the detail panel and of the A4 selection (callbacks);
* not the download buttons: their files are generated on click, in a separate thread.

The catalogue is loaded once per process (``st.cache_resource``, keyed by path and file
modification time) and never modified; searches are cached too (``st.cache_resource``, a few
entries shared by the sessions), so that selections and clicks do not search again.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dac_map import settings
from dac_map.errors import DacMapError
from dac_map.notes import open_notes
from dac_map.query import (
    Catalogue,
    DistanceFilter,
    SearchResult,
    StatusFilter,
    TerritoryFilter,
    TextFilter,
    load_catalogue,
    search,
)
from dac_map.coverage.labels import dac_number, readable_criteria
from dac_map.server import config as server_config
from dac_map.ui import access, coverage_view, exports, notes_view, sidebar
from dac_map.ui import finess_plus_view as fpv
from dac_map.ui import map as umap
from dac_map.ui import state as ustate
from dac_map.ui import territories_view as tview
from dac_map.ui.news import render_news
from dac_map.ui.sidebar import BASKET, FOCUS, KEYS, MAP_CENTER, Options
from dac_map.ui.text import (
    demo_flags,
    format_date,
    format_km,
    format_minutes,
    format_phone,
    md,
    plain,
    precision_label,
    sources_line,
    tel_href,
)

_INIT = "_dacmap_initialised"
_PAGE_FINESS = "_dacmap_page_finess"
_TABLE_ROWS = "_dacmap_table_rows"
_LAST_FILTER_KEY = "_dacmap_filter_key"


# --------------------------------------------------------------------------- cached resources

def store_path() -> Path:
    """The GeoPackage the app reads (``settings.STORE_PATH``, env ``DAC_MAP_STORE``)."""
    return Path(settings.STORE_PATH)


@st.cache_resource(max_entries=2, show_spinner="Chargement des données FINESS…")
def _load_catalogue(path: str, mtime: float) -> Catalogue:
    return load_catalogue(path)


@st.cache_resource(max_entries=2, show_spinner="Chargement des données FINESS…")
def _load_served_catalogue(url: str, stamp: tuple[int, int]) -> Catalogue:
    from dac_map.server.pgstore import load_served_catalogue

    return load_served_catalogue(url)


def catalogue_at(path: str | Path) -> Catalogue:
    """The catalogue of the GeoPackage at ``path``, loaded once per process and file version
    (shared by the search, coverage and unmet-need pages). Server mode: the served PostGIS
    version instead, reloaded when its switch serial or the territory table changes."""
    url = server_config.database_url()
    if url:
        from dac_map.server.versions import catalogue_stamp_cached

        return _load_served_catalogue(url, catalogue_stamp_cached(url))
    path = Path(path)
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _load_catalogue(str(path), mtime)


def get_catalogue() -> Catalogue:
    """The catalogue of the app's store (:func:`store_path`)."""
    return catalogue_at(store_path())


def _token(catalogue: Catalogue) -> str:
    return f"{catalogue.path}:{id(catalogue)}"


@st.cache_resource(max_entries=4, show_spinner=False)
def _options(_catalogue: Catalogue, token: str) -> Options:
    return sidebar.build_options(_catalogue)


@st.cache_resource(max_entries=32, show_spinner=False)
def _base_layers(_catalogue: Catalogue, token: str, dac: str | None) -> umap.BaseLayers:
    return umap.base_layers(_catalogue, dac)


@st.cache_resource(max_entries=4, show_spinner=False)
def _colors(_catalogue: Catalogue, token: str) -> dict[str, str]:
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
    token = _token(catalogue)
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


def search_area(current: Current) -> umap.SearchArea | None:
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
            return umap.SearchArea(lat=lat, lon=lon, label=label, caption="",
                                   bounds=umap.results_bounds(records, None))
        area = _reachable_area(current.network, _network_key(current.network), lon, lat, minutes)
        caption = (f"Zone atteignable en {minutes:g} min en voiture (approximative : enveloppe du "
                   "réseau routier atteint)")
    else:
        dist = pd.to_numeric(records.get("distance_km", pd.Series(dtype=float)), errors="coerce")
        if not dist.notna().any():
            return umap.SearchArea(lat=lat, lon=lon, label=label, caption="")
        radius_m = float(dist.max()) * 1000.0
        caption = (f"Les {len(records)} plus proches : jusqu'à {format_km(float(dist.max()))} "
                   "(à vol d'oiseau)")
    shape = umap.SearchArea(lat=lat, lon=lon, label=label, caption=caption, radius_m=radius_m,
                            area=area)
    return umap.SearchArea(**{**shape.__dict__, "bounds": umap.results_bounds(records, shape)})


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


# --------------------------------------------------------------------------- callbacks

def _on_map_change(map_key: str) -> None:
    """``st_folium`` on_change: a marker was clicked; show its detail panel."""
    value = st.session_state.get(map_key) or {}
    fin = umap.finess_from_tooltip(value.get("last_object_clicked_tooltip"))
    if fin:
        st.session_state[FOCUS] = fin


def _on_table_select(table_key: str) -> None:
    """List ``on_select``: newly selected rows join the A4 selection and the last one is shown
    and centred; unselected rows leave the A4 selection."""
    event = st.session_state.get(table_key)
    try:
        rows = [int(r) for r in event["selection"]["rows"]]
    except (TypeError, KeyError):
        rows = []
    page = st.session_state.get(_PAGE_FINESS) or []
    before = st.session_state.get(_TABLE_ROWS) or []
    now = [page[r] for r in rows if 0 <= r < len(page)]
    was = [page[r] for r in before if 0 <= r < len(page)]
    basket = [f for f in (st.session_state.get(BASKET) or []) if f not in set(was) - set(now)]
    added = [f for f in now if f not in set(was)]
    for f in added:
        if f not in basket:
            basket.append(f)
    st.session_state[BASKET] = basket
    st.session_state[_TABLE_ROWS] = rows
    if added:
        st.session_state[FOCUS] = added[-1]
        _request_center(added[-1])


def _toggle_basket(finess: str) -> None:
    basket = list(st.session_state.get(BASKET) or [])
    if finess in basket:
        basket.remove(finess)
    else:
        basket.append(finess)
    st.session_state[BASKET] = basket


def _clear_basket() -> None:
    st.session_state[BASKET] = []


def _close_detail() -> None:
    st.session_state[FOCUS] = None


def _request_center(finess: str) -> None:
    """Ask the map to centre on an establishment; the request number makes a repeated request
    differ from the last one (streamlit-folium only moves the map when ``center`` changes)."""
    nonce = int(st.session_state.get("_dacmap_center_requests") or 0) + 1
    st.session_state["_dacmap_center_requests"] = nonce
    st.session_state[MAP_CENTER] = ("focus", finess, nonce)


def _center_on(finess: str) -> None:
    _request_center(finess)


def _search_around(finess: str) -> None:
    st.session_state[KEYS["near"]] = finess
    st.session_state[KEYS["page"]] = 1
    st.session_state[MAP_CENTER] = None


# --------------------------------------------------------------------------- page parts

def _header(catalogue: Catalogue, state: ustate.ViewState, options: Options) -> None:
    name = ("France entière" if state.national else
            catalogue.territory_name(state.dac or "") or state.dac or "")
    st.markdown(f"#### dac-map — ressources du territoire : {md(name)}")
    st.caption(md(sources_line(catalogue.metadata)))
    flags = demo_flags(catalogue.metadata)
    if flags:
        st.warning("  \n".join(md(f) for f in flags), icon=":material/science:")


#: Less empty space above the page, so that the map and the list fit on a laptop screen.
_COMPACT_CSS = ("<style>.block-container{padding-top:2.2rem!important;padding-bottom:1rem!important}"
                "h4{padding-top:0!important;padding-bottom:0.2rem!important}</style>")


def _summary(current: Current, criteria: Sequence[str] | None = None) -> None:
    """Count and active criteria; ``criteria`` in plain words (issue 15) when given."""
    res = current.result
    n = res.total
    labels = (list(criteria) if criteria is not None
              else [lab for lab in res.labels if lab != "Établissements ouverts uniquement"])
    how = ""
    if res.centre is not None:  # issue 12: say how distances are measured
        how = (" · durées en voiture par la route" if res.by_road
               else " · distances à vol d'oiseau")
    st.markdown(f"**{n} ressource{'s' if n > 1 else ''}** correspond{'ent' if n > 1 else ''} "
                f"aux critères{how}.  \n"
                + (" · ".join(md(lab) for lab in labels) if labels
                   else "Aucun filtre : toutes les ressources ouvertes du territoire."))
    if res.emptied_by:
        st.info(md(f"Aucun résultat : le critère « {res.emptied_by} » a vidé la sélection."),
                icon=":material/filter_alt_off:")
    if res.unreachable:
        st.caption(f"{len(res.unreachable)} ressource(s) loin de toute route du réseau chargé : "
                   "sans durée.")
    if not res.by_road and res.centre_snap_m is not None:
        st.caption(f"Le lieu est à {res.centre_snap_m / 1000:.1f} km de la route la plus proche du "
                   "réseau chargé : distances à vol d'oiseau.".replace(".", ",", 1))


def _detail(catalogue: Catalogue, current: Current, finess: str) -> None:
    """The detail panel of one establishment (any establishment of the catalogue)."""
    i = catalogue.finess_row.get(finess)
    found = records_for(catalogue, [finess], current.result.records)
    if i is None or not len(found):
        return
    rec = found.iloc[0]
    dist = rec.get("distance_km")
    with st.container(border=True, key="detail"):
        st.subheader(md(rec["name"]), anchor=False)
        if plain(rec.get("long_name")) and plain(rec.get("long_name")) != plain(rec["name"]):
            st.caption(md(rec["long_name"]))
        st.markdown(f"*{md(rec['category_label'])}* — {md(rec['family_label'])}")
        addr = [plain(rec.get("address")), plain(rec.get("address_complement")),
                " ".join(x for x in (plain(rec.get("postcode")), plain(rec.get("city"))) if x)]
        lines = []
        if any(addr):
            lines.append(":material/location_on: " + md(", ".join(a for a in addr if a)))
        href = tel_href(rec.get("phone"))
        if href:
            lines.append(f":material/call: [{md(format_phone(rec.get('phone')))}]({href})")
        dac = tview.dac_line(catalogue, plain(rec.get("commune")), "DAC de la commune")
        if dac:
            lines.append(dac)
        if pd.notna(dist):
            lines.append(f":material/straighten: à {md(format_km(dist))} (à vol d'oiseau)")
        if pd.notna(rec.get("travel_min", np.nan)):
            lines.append(f":material/directions_car: {md(format_minutes(rec.get('travel_min')))} "
                         "en voiture (par la route)")
        lines.append(f"N° FINESS {md(finess)}"
                     + (f" · entité juridique {md(rec.get('finess_ej'))}" if plain(rec.get("finess_ej")) else ""))
        summary = plain(rec.get("capacity_summary"))
        if summary:
            known = pd.notna(rec.get("capacity_installed")) or pd.notna(rec.get("capacity_authorised"))
            lines.append(f"Capacité : {md(summary)}"
                         + (" — **fictive**" if catalogue.equipment_illustrative and known else ""))
        lines.append("Position : " + md(precision_label(rec.get("geo_precision"))))
        lines.append(f"Données FINESS du {md(format_date(catalogue.data_date))}"
                     + (f" · fiche mise à jour le {md(format_date(rec.get('updated')))}"
                        if format_date(rec.get("updated")) else ""))
        st.markdown("  \n".join(lines))
        eq = exports.equipment_by_finess(catalogue.equipment, [finess])[finess]
        if eq:
            st.caption("Capacités par discipline" + (" (FICTIVES, démonstration)"
                                                     if catalogue.equipment_illustrative else ""))
            st.dataframe(pd.DataFrame({
                "Discipline": [x["discipline"] for x in eq],
                "Activité": [x["activity"] for x in eq],
                "Clientèle": [x["clientele"] for x in eq],
                "Installées": [x["installed"] for x in eq],
                "Autorisées": [x["authorised"] for x in eq],
            }), hide_index=True, width="stretch")
        fpv.render_activities(catalogue, finess)  # FINESS+ activities, publics, capacities (issue 11)
        notes_view.render_resource_notes(finess, plain(rec["name"]), plain(rec.get("dac_id")),
                                         access.current_principal())
        in_basket = finess in (st.session_state.get(BASKET) or [])
        b1, b2 = st.columns(2)
        b3, b4 = st.columns(2)
        b1.button("Retirer de la fiche" if in_basket else "Ajouter à la fiche A4",
                  on_click=_toggle_basket, args=(finess,), key="btn_basket", width="stretch")
        b2.button("Centrer la carte", on_click=_center_on, args=(finess,), key="btn_center",
                  width="stretch", disabled=not bool(catalogue.has_point[i]))
        b3.button("Chercher autour", on_click=_search_around, args=(finess,), key="btn_around",
                  width="stretch", disabled=not bool(catalogue.has_point[i]),
                  help="Ressources autour de cet établissement (rayon choisi à gauche).")
        b4.button("Fermer", on_click=_close_detail, key="btn_close", width="stretch")


def _map(catalogue: Catalogue, current: Current, options: Options, colors: dict[str, str]) -> None:
    state = current.state
    dac = None if state.national else state.dac
    base = _base_layers(catalogue, _token(catalogue), dac)
    fmap = umap.build_base_map(base, height=settings.MAP_HEIGHT_PX)
    basket = list(st.session_state.get(BASKET) or [])
    focus = st.session_state.get(FOCUS)
    records = current.result.records
    labels = {str(f): str(lab) for f, lab in zip(catalogue.families["family"],
                                                  catalogue.families["family_label"])}
    legend = umap.legend_entries(current.result.counts_by_family, labels, colors,
                                 catalogue.family_order())
    layer = umap.build_results_layer(records, colors, catalogue.family_order(), labels,
                                     selected=basket, focus=focus,
                                     version=current.filter_version, legend=legend,
                                     search_area=search_area(current))
    zone_caption = fpv.add_zone(layer.group, catalogue, focus)  # FINESS+ intervention zone (issue 11)
    center = None
    zoom = None
    req = st.session_state.get(MAP_CENTER)
    if req and req[0] == "focus":
        j = catalogue.finess_row.get(req[1])
        if j is not None and catalogue.has_point[j]:
            # + nonce * 1e-9 degree (0.1 mm): a new request always differs from the last one
            center = (round(float(catalogue.lat[j]), 6) + req[2] * 1e-9,
                      round(float(catalogue.lon[j]), 6))
            # issue 12: pan only, at the current zoom (no street level, the others stay visible)
    # DAC territories (issue 13): coloured territories in the national view, DAC directory layer
    if state.national:
        fill = tview.national_territories_layer(catalogue)
        if fill is not None:
            fmap.add_child(fill)
    dac_layer = tview.directory_layer(catalogue)
    if dac_layer is not None:
        fmap.add_child(dac_layer)
    map_key = f"carte-{base.key}"
    st_folium(fmap, key=map_key, height=settings.MAP_HEIGHT_PX, use_container_width=True,
              feature_group_to_add=layer.group, center=center, zoom=zoom,
              returned_objects=["last_object_clicked", "last_object_clicked_tooltip"],
              on_change=lambda: _on_map_change(map_key))
    if layer.mode == "aggregate":
        st.info(f"Vue agrégée : {current.result.total} ressources regroupées en {layer.drawn} "
                "zones (cliquer une zone pour zoomer). Choisir un territoire ou des filtres "
                f"pour voir chaque ressource (au plus {settings.MAP_MAX_POINTS}).",
                icon=":material/grid_view:")
    if zone_caption:
        st.caption(md(zone_caption))
    missing = current.result.total - layer.located
    if missing > 0:
        st.caption(f"{missing} ressource{'s' if missing > 1 else ''} sans coordonnées : "
                   "dans la liste, pas sur la carte.")


_TABLE_COLUMNS = {
    "name": "Nom", "category_label": "Catégorie", "commune_name": "Commune",
    "phone": "Téléphone", "capacity_installed": "Capacité (places)",
    "distance_km": "Distance (km)", "finess": "N° FINESS",
}


def _table_tel(phone: object) -> str | None:
    """``tel:`` link shown as ``03.22.25.52.00`` (dots are valid visual separators, RFC 3966)."""
    digits = re.sub(r"\D", "", plain(phone))
    if len(digits) == 10:
        return "tel:" + ".".join(digits[i:i + 2] for i in range(0, 10, 2))
    return tel_href(phone)


#: Shown in the list for a missing value (never "None").
MISSING = "—"


def page_table(records: pd.DataFrame) -> pd.DataFrame:
    """The rows of the list as displayed: French headers, phone as a ``tel:`` link. Next to the
    name: the car travel time and the distance when known, then the places of the chosen
    specialty (issue 12), then the other columns."""
    out = pd.DataFrame({"Nom": records["name"].map(plain)})
    if "travel_min" in records.columns:
        out["Durée (min)"] = pd.to_numeric(records["travel_min"], errors="coerce").round(0).astype("Int64")
    if "distance_km" in records.columns:
        out["Distance (km)"] = pd.to_numeric(records["distance_km"], errors="coerce").round(1)
    if "specialty_installed" in records.columns:
        out["Places (spécialité)"] = pd.to_numeric(records["specialty_installed"],
                                                   errors="coerce").round(0).astype("Int64")
    out["Capacité (places)"] = pd.to_numeric(records["capacity_installed"], errors="coerce").round(0).astype("Int64")
    out["Commune"] = records["commune_name"].map(plain)
    out["Catégorie"] = records["category_label"].map(plain)
    out["Téléphone"] = records["phone"].map(_table_tel)
    out["N° FINESS"] = records["finess"].map(plain)
    return out.reset_index(drop=True)


def _list(catalogue: Catalogue, current: Current) -> None:
    res = current.result
    records = res.records
    total = res.total
    size = max(1, settings.UI_PAGE_SIZE)
    pages = max(1, -(-total // size))
    c1, c2, c3 = st.columns([2, 1, 3])
    sort_options = list(ustate.SORT_LABELS)
    if st.session_state.get(KEYS["sort"]) not in sort_options:
        st.session_state[KEYS["sort"]] = ""
    c1.selectbox("Trier par", sort_options, key=KEYS["sort"],
                 format_func=lambda s: ustate.SORT_LABELS[s])
    page_value = st.session_state.get(KEYS["page"]) or 1
    if page_value > pages:
        st.session_state[KEYS["page"]] = pages
    c2.number_input(f"Page (sur {pages})", min_value=1, max_value=pages, step=1, key=KEYS["page"])
    page = int(st.session_state.get(KEYS["page"]) or 1)
    start = (page - 1) * size
    chunk = records.iloc[start:start + size]
    c3.caption(f"Ressources {min(start + 1, total)}–{min(start + size, total)} sur {total} "
               "(trier aussi en cliquant un en-tête de colonne, dans la page)")
    table = page_table(chunk)
    st.session_state[_PAGE_FINESS] = list(table["N° FINESS"])
    if not len(table):  # the grid's own empty state is in English ("empty")
        st.caption("Aucune ressource à afficher avec ces critères.")
        return
    table_key = f"liste-{current.filter_version}-{page}"
    if st.session_state.get("_dacmap_table_key") != table_key:
        st.session_state["_dacmap_table_key"] = table_key
        st.session_state[_TABLE_ROWS] = []
    st.dataframe(
        table, key=table_key, on_select=lambda: _on_table_select(table_key),
        selection_mode="multi-row", hide_index=True, width="stretch",
        # two-line rows: long names wrap instead of being cut (issue 15); "—", never "None"
        height=min(38 + 48 * max(len(table), 1), settings.UI_LIST_HEIGHT_PX), row_height=48,
        placeholder=MISSING,
        column_config={
            "Nom": st.column_config.TextColumn(width=180, pinned=True),
            "Durée (min)": st.column_config.NumberColumn(
                format="%d", width="small",
                help="Durée en voiture par la route, en minutes (réseau OpenStreetMap)"),
            "Places (spécialité)": st.column_config.NumberColumn(
                help="Places installées pour la spécialité choisie" + (
                    " — FICTIVES (démonstration)" if catalogue.equipment_illustrative else "")),
            "Catégorie": st.column_config.TextColumn(width="medium"),
            "Téléphone": st.column_config.LinkColumn(display_text=r"tel:(.*)"),
            "Capacité (places)": st.column_config.NumberColumn(
                help="Places installées" + (" — FICTIVES (démonstration)"
                                            if catalogue.equipment_illustrative else "")),
            "Distance (km)": st.column_config.NumberColumn(format="%.1f", width="small",
                                                           help="À vol d'oiseau"),
        })
    st.caption("Cocher des lignes : elles sont entourées sur la carte, la dernière est "
               "détaillée, et toutes vont dans la fiche A4.")


def _exports(catalogue: Catalogue, current: Current, options: Options) -> None:
    res = current.result
    records = res.records
    state = current.state
    prefix = "france" if state.national else (state.dac or "territoire")
    title_terr = ("France entière" if state.national
                  else catalogue.territory_name(state.dac or "") or state.dac or "")
    criteria = readable_criteria(state.spec(), catalogue,
                                 sidebar.territory_departments(options, state.dac), res.labels)
    about = {
        "Territoire": title_terr,
        "Critères": " ; ".join(criteria) or "aucun",
        "Nombre de ressources": str(res.total),
        "Date des données FINESS": format_date(catalogue.data_date),
        "Sources": sources_line(catalogue.metadata),
        "Avertissements": " ".join(demo_flags(catalogue.metadata)) or "aucun",
    }
    st.markdown("**Exporter le résultat**")
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.download_button("Liste CSV", data=lambda: exports.csv_bytes(records),
                       file_name=exports.sheet_filename(prefix, "csv"), mime="text/csv",
                       key="dl_csv", icon=":material/download:", width="stretch",
                       on_click="ignore", disabled=res.total == 0)
    c2.download_button("Liste Excel", data=lambda: exports.excel_bytes(records, about),
                       file_name=exports.sheet_filename(prefix, "xlsx"),
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="dl_xlsx", icon=":material/download:", width="stretch",
                       on_click="ignore", disabled=res.total == 0)
    c3.download_button("Points GeoJSON", data=lambda: exports.geojson_bytes(records),
                       file_name=exports.sheet_filename(prefix, "geojson"),
                       mime="application/geo+json", key="dl_geojson",
                       icon=":material/download:", width="stretch", on_click="ignore",
                       disabled=res.total == 0)
    basket = [f for f in (st.session_state.get(BASKET) or []) if f in catalogue.finess_row]
    basket = basket[: settings.UI_MAX_SHEET_ITEMS]
    principal = access.current_principal()  # resolved here: sheet() runs in another thread

    def sheet_context() -> exports.SheetContext:
        dac_name, dac_number = _dac_identity(catalogue, state)
        return exports.SheetContext(
            title="Ressources sélectionnées", territory=title_terr,
            contact=_dac_contact(catalogue, state), criteria=criteria,
            data_date=catalogue.data_date or "", sources=sources_line(catalogue.metadata),
            warnings=demo_flags(catalogue.metadata), dac_name=dac_name or title_terr,
            dac_number=dac_number)

    def sheet_args():
        rows = records_for(catalogue, basket, records)
        notes = (open_notes().for_resources(basket, principal)
                 if principal.may("notes.read_dac") else None)
        return (rows, sheet_context(), exports.equipment_by_finess(catalogue.equipment, basket),
                tview.contacts_by_commune(catalogue, rows.get("commune", [])), notes)

    def sheet() -> bytes:
        rows, context, eq, dacs, notes = sheet_args()
        return exports.a4_sheet_html(rows, context, eq, illustrative=catalogue.equipment_illustrative,
                                     dacs=dacs, notes=notes).encode("utf-8")

    def sheet_pdf() -> bytes:
        rows, context, eq, dacs, notes = sheet_args()
        return exports.a4_sheet_pdf(rows, context, eq, illustrative=catalogue.equipment_illustrative,
                                    dacs=dacs, notes=notes)

    c4.download_button(f"Fiche A4 PDF ({len(basket)})", data=sheet_pdf,
                       file_name=exports.sheet_filename(f"fiche-{prefix}", "pdf"),
                       mime="application/pdf", key="dl_sheet_pdf", icon=":material/picture_as_pdf:",
                       width="stretch", on_click="ignore", disabled=not basket, type="primary",
                       help="Fiche A4 en PDF (générée sur le serveur) des ressources cochées "
                            "dans la liste ou ajoutées depuis leur fiche.")
    c5.download_button(f"Fiche A4 HTML ({len(basket)})", data=sheet,
                       file_name=exports.sheet_filename(f"fiche-{prefix}", "html"),
                       mime="text/html", key="dl_sheet", icon=":material/print:",
                       width="stretch", on_click="ignore", disabled=not basket,
                       help="La même fiche en HTML (ouvrir puis imprimer).")
    if basket:
        names = [plain(catalogue.establishments["name"].iat[catalogue.finess_row[f]]) for f in basket]
        st.caption("Fiche A4 : " + md(" · ".join(names)))
        st.button("Vider la sélection", on_click=_clear_basket, key="btn_clear_basket")


# --- A4 sheet header and notes (issue 15) -------------------------------------------------

def _dac_identity(catalogue: Catalogue, state: ustate.ViewState) -> tuple[str, str]:
    """(DAC name, DAC number) of the current territory; empty strings when unknown."""
    if state.national or not state.dac:
        return "", ""
    i = catalogue.territory_row.get(state.dac)
    if i is None:
        return "", ""
    return plain(catalogue.territories["name"].iat[i]), dac_number(catalogue, state.dac)


def _dac_contact(catalogue: Catalogue, state: ustate.ViewState) -> str:
    """Phone and website of the current DAC (its name heads the sheet)."""
    if state.national or not state.dac:
        return ""
    t = catalogue.territories
    i = catalogue.territory_row.get(state.dac)
    if i is None:
        return ""
    parts: list[str] = []
    if "phone" in t and plain(t["phone"].iat[i]):
        parts.append("Tél. " + format_phone(t["phone"].iat[i]))
    if "website" in t and plain(t["website"].iat[i]):
        parts.append(plain(t["website"].iat[i]))
    return " · ".join(parts)


def _init_session(catalogue: Catalogue) -> list[str]:
    """First run of a session: state from the URL, checked against the catalogue, written into
    the widgets. Returns the warnings to show."""
    if st.session_state.get(_INIT):
        return []
    state, warnings = ustate.from_query_params(st.query_params.to_dict())
    state, more = ustate.sanitize(state, catalogue, settings.DEFAULT_DAC)
    sidebar.seed(state)
    st.session_state[BASKET] = []
    st.session_state[MAP_CENTER] = ("focus", state.focus, 1) if state.focus else None
    st.session_state[_INIT] = True
    return warnings + more


def _sync_url(state: ustate.ViewState) -> None:
    params = ustate.to_query_params(state)
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def main() -> None:
    """The page (see the module docstring for what reruns it)."""
    try:
        catalogue = get_catalogue()
    except DacMapError as exc:
        st.error("Impossible d'ouvrir les données : " + md(str(exc)) + "  \n"
                 "Construire la base de démonstration avec `dac-map demo` (ou `make run`), ou "
                 "une base réelle avec `dac-map etl`, puis recharger la page.")
        st.stop()
        return
    token = _token(catalogue)
    options = _options(catalogue, token)
    colors = _colors(catalogue, token)
    warnings = _init_session(catalogue)

    state = sidebar.render(options, network_label)
    departments = sidebar.territory_departments(options, state.dac)
    filter_key = state.filter_key()
    results_changed = st.session_state.get(_LAST_FILTER_KEY) not in (None, filter_key)
    if results_changed:
        st.session_state[KEYS["page"]] = 1  # new result set: back to page 1
        state = ustate.ViewState(**{**state.__dict__, "page": 1})
    st.session_state[_LAST_FILTER_KEY] = filter_key
    current = run_search(catalogue, state, departments)
    focus = st.session_state.get(FOCUS)
    if focus not in catalogue.finess_row:
        focus = None
    if focus and results_changed and not current.result.records["finess"].eq(focus).any():
        focus = None  # no longer in the new results: the detail sheet closes (issue 10)
        st.session_state[FOCUS] = None
    current = Current(ustate.ViewState(**{**current.state.__dict__, "focus": focus}),
                      current.result, current.warnings, current.filter_version, current.network)

    with st.sidebar:
        st.divider()
        st.markdown(":material/menu_book: [Guide du coordinateur](./guide) : les cinq appels "
                    "les plus fréquents")
        st.caption(md(sources_line(catalogue.metadata)))

    _header(catalogue, current.state, options)
    render_news(server_config.database_url() or store_path(),
                dac_id=None if current.state.national else current.state.dac)
    for w in [*warnings, *current.warnings]:
        st.warning(md(w), icon=":material/warning:")
    # issue 12: the map and the first rows of the list side by side (visible together on a
    # 1366x768 screen); the detail panel under the map
    st.html(_COMPACT_CSS)
    left, right = st.columns([0.55, 0.45], gap="small")
    with left:
        _map(catalogue, current, options, colors)
        if focus:
            _detail(catalogue, current, focus)
        else:
            st.caption("Cliquer un point de la carte ou cocher une ligne de la liste pour voir "
                       "sa fiche (adresse, téléphone, capacités).")
    with right:
        _dac_of_search(catalogue, current.state, departments)
        _summary(current, readable_criteria(current.state.spec(), catalogue, departments,
                                            current.result.labels))
        if current.state.national:
            tview.render_national_dacs(catalogue)
        if fpv.render_serving_section(catalogue, current.state, departments):  # issue 11
            st.markdown("#### À proximité")
        _list(catalogue, current)
    _exports(catalogue, current, options)
    _unmet_need(catalogue, current, departments)


def _search_commune(catalogue: Catalogue, state: ustate.ViewState, departments: Sequence[str]
                    ) -> str | None:
    """The commune of the search centre ("autour de"), if any."""
    return tview.centre_commune(catalogue, ustate.search_centre(state, catalogue, departments))


def _dac_of_search(catalogue: Catalogue, state: ustate.ViewState, departments: Sequence[str]) -> None:
    """Which DAC answers for the search centre's commune, else the territory's DAC number."""
    line = tview.dac_line(catalogue, _search_commune(catalogue, state, departments),
                          "DAC de la commune du centre de recherche")
    if line is None and not state.national and state.dac:
        contact = tview.dac_lookup(catalogue).contact(state.dac)
        if contact is not None:
            line = ":material/support_agent: Numéro unique du DAC : " + tview.contact_markdown(contact)
    if line:
        st.markdown(line)


def _unmet_need(catalogue: Catalogue, current: Current, departments: Sequence[str]) -> None:
    """The "no suitable resource found" form under the results (records the current search,
    and the commune it was about when the centre resolved to one)."""
    state = current.state
    filters, _ = ustate.build_filters(state, catalogue, departments)
    commune = next((f.commune for f in filters if isinstance(f, DistanceFilter) and f.commune), None)
    dac = "national" if state.national else (state.dac or "national")
    # visitors, ARS, data stewards, other DACs: no form (and the write path refuses them anyway)
    if access.current_principal().may("unmet.write_dac", dac):
        with st.expander("Aucune ressource adaptée ? Signaler un besoin non couvert"):
            line = tview.dac_line(catalogue, commune or _search_commune(catalogue, state, departments),
                                  "DAC à prévenir pour cette commune")
            if line:
                st.markdown(line)
            coverage_view.render_unmet_need_button(
                " ; ".join(readable_criteria(state.spec(), catalogue, departments,
                                             current.result.labels)), state.spec(), dac, commune,
                store_path=store_path(),
                db_path=server_config.database_url() or settings.UNMET_NEEDS_DB)
    page = int(st.session_state.get(KEYS["page"]) or 1)
    _sync_url(ustate.ViewState(**{**current.state.__dict__, "page": page,
                                  "sort": st.session_state.get(KEYS["sort"]) or ""}))


__all__ = ["Current", "get_catalogue", "main", "page_table", "run_search", "store_path"]
