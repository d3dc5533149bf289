"""Streamlit pieces of the coverage features: choropleth mode, unmet-need button and page, ARS
report download. Called from ``app.py``; the computations live in :mod:`dac_map.coverage`.

Map assets come from the vendored Leaflet (:class:`dac_map.ui.map.OfflineMap`): no CDN.
Untrusted text (commune and establishment names, comments) reaches the map only through
``textContent`` in the browser (tooltips) or :func:`html.escape` (legend), and scripts embed
data with :func:`dac_map.ui.map.js_json`.

:func:`coverage_map`, :func:`classify` and :func:`legend_classes` do not call Streamlit and are
tested directly.
"""

from __future__ import annotations

import html
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely
import streamlit as st
from branca.element import Element, MacroElement
from jinja2 import Template

from dac_map import settings
from dac_map.coverage.data import CoverageData, load_coverage_data
from dac_map.coverage.indicators import CommuneCoverage, ResourceType, commune_coverage
from dac_map.coverage.population import PopulationTable, is_demo_store, read_population
from dac_map.coverage.report import build_report, fmt_number, render_csv, render_html, write_report
from dac_map.coverage.unmet import (
    PersonalDataError,
    UnmetNeedError,
    allowed_name_pairs,
    commune_from_filters,
    unmet_needs_csv,
)
from dac_map.errors import DacMapError, ForbiddenError
from dac_map.server.unmet import UnmetLog
from dac_map.ui import access
from dac_map.ui.map import Legend, OfflineMap, js_json

MODE_DISTANCE = "distance"
MODE_RATIO = "ratio"
MODE_LABELS = {MODE_DISTANCE: "Distance à la ressource la plus proche (km)",
               MODE_RATIO: "Places pour 1 000 habitants de 75 ans ou plus"}

#: Roles offered in the unmet-need form (optional; never a name).
ROLES = ("", "Coordinateur·rice de parcours", "Infirmier·ère", "Médecin", "Travailleur·se social·e",
         "Assistant·e / secrétariat", "Direction", "Autre")

_HEX = re.compile(r"#[0-9a-fA-F]{6}")
_FALLBACK_DISTANCE = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")
_FALLBACK_RATIO = ("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")


# --------------------------------------------------------------------------- pure helpers

def _palette(colors: Sequence[str], n: int, fallback: Sequence[str]) -> list[str]:
    """``n`` valid ``#rrggbb`` colours: ``colors`` when they fit, else a fallback ramp."""
    ok = [c.strip() for c in colors if isinstance(c, str) and _HEX.fullmatch(c.strip())]
    if len(ok) == n:
        return ok
    ramp = list(fallback)
    return [ramp[min(len(ramp) - 1, round(i * (len(ramp) - 1) / max(1, n - 1)))] for i in range(n)]


def classify(values: np.ndarray | pd.Series, bins: Sequence[float], mode: str) -> np.ndarray:
    """Class index of each value (-1 = no data).

    ``distance`` mode: ``bins`` are increasing upper bounds in km; class ``i`` holds
    ``bins[i-1] < d <= bins[i]``, the last class ``d > bins[-1]`` (and ``inf``).
    ``ratio`` mode: ``bins`` are increasing lower bounds; class 0 holds ``r < bins[0]``, class
    ``i`` holds ``bins[i-1] <= r < bins[i]``, the last ``r >= bins[-1]``.
    """
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    b = np.asarray(sorted(float(x) for x in bins), dtype=float)
    side = "left" if mode == MODE_DISTANCE else "right"
    out = np.searchsorted(b, np.where(np.isnan(v), 0, v), side=side).astype(int)
    out[np.isnan(v)] = -1
    return out


def legend_classes(bins: Sequence[float], mode: str) -> list[str]:
    """French labels of the classes of :func:`classify`."""
    b = sorted(float(x) for x in bins)
    f = lambda x: fmt_number(x, 0 if float(x).is_integer() else 1)  # noqa: E731
    if mode == MODE_DISTANCE:
        labels = [f"≤ {f(b[0])} km"] + [f"{f(a)} – {f(c)} km" for a, c in zip(b, b[1:])]
        return labels + [f"> {f(b[-1])} km"]
    labels = [f"< {f(b[0])}"] + [f"{f(a)} – {f(c)}" for a, c in zip(b, b[1:])]
    return labels + [f"≥ {f(b[-1])}"]


def legend_body(title: str, labels: Sequence[str], colors: Sequence[str], no_data: str,
                threshold_km: float | None) -> str:
    """Escaped HTML of the choropleth legend (classes, no data, white-zone outline)."""
    rows = [f'<li><span class="sq" style="background:{c}"></span>{html.escape(lab)}</li>'
            for lab, c in zip(labels, colors)]
    rows.append(f'<li><span class="sq" style="background:{no_data}"></span>Sans donnée</li>')
    if threshold_km is not None:
        rows.append('<li><span class="sq wz"></span>Zone blanche (&gt; '
                    f'{html.escape(fmt_number(threshold_km, 1))} km)</li>')
    return (f"<details open><summary>{html.escape(title)}</summary>"
            f"<ul>{''.join(rows)}</ul></details>")


class ChoroplethLayer(MacroElement):
    """One ``L.geoJSON`` layer of commune polygons filled by class, white zones outlined,
    tooltips built with ``textContent``. Publishes ``window.dacMap`` (mode ``coverage``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var P = {{ this.payload_js }};
            var layer = L.geoJSON(P.data, {
                style: function (f) {
                    var p = f.properties;
                    return {fillColor: p.k >= 0 ? P.palette[p.k] : P.nodata, fillOpacity: 0.72,
                            color: p.w ? P.wz : "#ffffff", weight: p.w ? 1.8 : 0.6, opacity: 1};
                }
            });
            layer.bindTooltip(function (l) {
                var p = l.feature.properties, div = document.createElement("div");
                div.className = "dacmap-tip";
                var b = document.createElement("b");
                b.textContent = p.n;
                div.appendChild(b);
                div.appendChild(document.createTextNode("\\n" + p.t));
                return div;
            }, {sticky: true});
            {{ this._parent.get_name() }}.addLayer(layer);
            window.dacMap = {mode: "coverage", markers: P.data.features.length};
            try { {{ this._parent.get_name() }}.fitBounds(layer.getBounds()); } catch (e) {}
            return layer;
        })();
        {% endmacro %}
    """)

    def __init__(self, payload: Mapping[str, object]) -> None:
        super().__init__()
        self._name = "ChoroplethLayer"
        self.payload_js = js_json(payload)


_CSS = """<style>
.leaflet-container { background: %s; }
.dacmap-legend { background: rgba(255,255,255,.93); padding: 4px 8px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 12px/1.35 sans-serif; max-width: 280px; }
.dacmap-legend summary { cursor: pointer; font-weight: 600; }
.dacmap-legend ul { list-style: none; margin: 4px 0 0; padding: 0; }
.dacmap-legend .sq { display: inline-block; width: 12px; height: 12px; margin-right: 6px;
  vertical-align: -2px; border: 1px solid #fff; box-shadow: 0 0 0 1px #999; }
.dacmap-legend .sq.wz { background: transparent; border: 2px solid #000; box-shadow: none; }
.dacmap-tip { white-space: pre-line; font: 12px/1.35 sans-serif; max-width: 300px; }
</style>"""


def _tooltip(row: Any, mode: str, has_pop: bool) -> str:
    d = row.distance_km
    if d is None or (isinstance(d, float) and math.isnan(d)):
        dist = "distance non calculée"
    elif math.isinf(d):
        dist = "aucune ressource de ce type dans les données"
    else:
        dist = f"{fmt_number(d, 1)} km de {row.nearest_name or '?'} ({row.nearest_commune or '?'})"
    lines = [f"Code INSEE {row.code}", f"Ressource la plus proche : {dist}"]
    if row.resources:
        lines.append(f"{row.resources} ressource(s) dans la commune")
    if has_pop:
        lines.append(f"Habitants de 75 ans ou plus : {fmt_number(row.pop_75plus)}")
        lines.append(f"Places pour 1 000 hab. de 75 ans ou + : {fmt_number(row.places_per_1000, 1)}")
    if row.white_zone:
        lines.append("ZONE BLANCHE")
    return "\n".join(lines)


def coverage_map(coverage: CommuneCoverage, mode: str = MODE_DISTANCE,
                 bins: Sequence[float] | None = None, colors: Sequence[str] | None = None,
                 tiles: str | None = None, simplify_deg: float | None = None) -> folium.Map:
    """A folium map (vendored Leaflet only) of the territory's communes filled by class of
    distance to the nearest resource (km) or of places per 1,000 people aged 75+, white zones
    (distance > ``coverage.threshold_km``) outlined in black in both modes, with a legend. ``bins``/``colors`` default to the settings
    (``COVERAGE_DISTANCE_*`` / ``COVERAGE_RATIO_*``); geometries are simplified by
    ``simplify_deg`` degrees (default ``settings.MAP_SIMPLIFY_DEG``) for the browser."""
    if mode not in MODE_LABELS:
        raise ValueError(f"mode must be one of {sorted(MODE_LABELS)}")
    if mode == MODE_RATIO and not coverage.has_population:
        raise ValueError("ratio mode needs a population table")
    t = coverage.table
    if mode == MODE_DISTANCE:
        bins = list(bins or settings.COVERAGE_DISTANCE_BINS_KM)
        palette = _palette(colors or settings.COVERAGE_DISTANCE_COLORS, len(bins) + 1, _FALLBACK_DISTANCE)
        values = t["distance_km"]
        title = f"Distance à vol d'oiseau — {coverage.resource_label}"
    else:
        bins = list(bins or settings.COVERAGE_RATIO_BINS)
        palette = _palette(colors or settings.COVERAGE_RATIO_COLORS, len(bins) + 1, _FALLBACK_RATIO)
        values = t["places_per_1000"]
        title = f"Places pour 1 000 hab. de 75 ans ou + ({fmt_number(coverage.radius_km, 0)} km) — {coverage.resource_label}"
    if not bins:
        raise ValueError("at least one class bound is needed")
    klass = classify(values, bins, mode)
    no_data = settings.COVERAGE_NO_DATA_COLOR if _HEX.fullmatch(settings.COVERAGE_NO_DATA_COLOR) else "#bdbdbd"
    tol = settings.MAP_SIMPLIFY_DEG if simplify_deg is None else simplify_deg
    geoms = np.asarray(t.geometry.to_numpy(), dtype=object)
    if tol > 0:
        geoms = shapely.simplify(geoms, tol, preserve_topology=True)
    geoms = shapely.set_precision(geoms, 1e-4, mode="pointwise")
    features = []
    has_pop = coverage.has_population
    for row, g, k in zip(t.drop(columns="geometry").itertuples(index=False), geoms, klass):
        if g is None or shapely.is_empty(g):
            continue
        features.append({"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)),
                         "properties": {"n": str(row.name), "k": int(k), "w": bool(row.white_zone),
                                        "t": _tooltip(row, mode, has_pop)}})
    payload = {"data": {"type": "FeatureCollection", "features": features}, "palette": palette,
               "nodata": no_data, "wz": "#000000"}
    tiles = settings.TILES if tiles is None else tiles
    use_tiles = bool(tiles) and tiles.strip().lower() not in ("none", "aucun", "no", "off")
    minx, miny, maxx, maxy = (t.total_bounds if len(t) else (-5.2, 41.3, 9.6, 51.1))
    m = OfflineMap(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=9, tiles=None,
                   prefer_canvas=True, control_scale=True, min_zoom=4, max_zoom=16)
    if use_tiles:
        folium.TileLayer(tiles=tiles.strip(), attr=settings.TILES_ATTRIBUTION, name="fond",
                         max_zoom=18).add_to(m)
    m.get_root().header.add_child(Element(_CSS % settings.MAP_BACKGROUND), name="dacmap_cov_css")
    m.add_child(ChoroplethLayer(payload))
    m.add_child(Legend(legend_body(title, legend_classes(bins, mode), palette, no_data,
                                   coverage.threshold_km)))
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


# --------------------------------------------------------------------------- cached loading

def _mtime(path: str | Path) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner="Chargement des données de couverture…", max_entries=4)
def _cached_data(path: str, mtime: float) -> CoverageData:
    return load_coverage_data(path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_population(path: str, mtime: float) -> PopulationTable:
    return read_population(path)


def load_data(store_path: str | Path) -> CoverageData:
    """The store's coverage tables, cached until the GeoPackage file changes."""
    return _cached_data(str(store_path), _mtime(store_path))


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_name_pairs(path: str, mtime: float) -> frozenset[str]:
    from dac_map import store

    names: list[str] = []
    for layer in (store.ESTABLISHMENTS, store.COMMUNES):
        try:
            frame = store.read_layer(path, layer, columns=["name"], read_geometry=False)
        except DacMapError:
            continue
        names.extend(str(v) for v in frame["name"].dropna())
    return allowed_name_pairs(names)


def public_name_pairs(store_path: str | Path) -> frozenset[str]:
    """Word pairs of the store's establishment and commune names (cached until the file
    changes): public names that the person-name check of generated filter labels ignores."""
    return _cached_name_pairs(str(store_path), _mtime(store_path))


def load_population(path: str | Path | None = None,
                    data: CoverageData | None = None) -> PopulationTable | None:
    """``path`` (``"none"`` = without), or the table of the ``POPULATION_PATH`` setting —
    whose FICTITIOUS demo table is only used when ``data`` is a demo store; cached. None when
    not configured or missing."""
    p = str(settings.POPULATION_PATH if path is None else path or "")
    if not p or p.lower() == "none" or not Path(p).is_file():
        return None
    table = _cached_population(p, _mtime(p))
    if path is None and table.fictitious and not is_demo_store(data.metadata if data else {}):
        return None
    return table


def _territory_select(data: CoverageData, dac_id: str | None, key: str) -> str:
    if dac_id:
        return dac_id
    ids = list(data.territories["dac_id"])
    names = dict(zip(data.territories["dac_id"], data.territories["name"]))
    with_est = set(data.establishments["dac_id"].dropna())
    ids = [i for i in ids if i in with_est] or ids
    default = ids.index(settings.DEFAULT_DAC) if settings.DEFAULT_DAC in ids else 0
    return st.selectbox("Territoire DAC", ids, index=default, format_func=lambda i: names.get(i, i),
                        key=f"{key}_dac")


def _family_select(data: CoverageData, key: str, label: str = "Type de ressource") -> ResourceType:
    fam = data.families.sort_values("order") if "order" in data.families else data.families
    present = set(data.establishments["family"].dropna())
    ids = [f for f in fam["family"] if f in present]
    labels = dict(zip(fam["family"], fam["family_label"]))
    default = ids.index(settings.COVERAGE_RATIO_FAMILY) if settings.COVERAGE_RATIO_FAMILY in ids else 0
    chosen = st.selectbox(label, ids, index=default, format_func=lambda f: labels.get(f, f),
                          key=f"{key}_family")
    return ResourceType.family(chosen, labels.get(chosen, chosen))


def _data_warnings(data: CoverageData, population: PopulationTable | None) -> None:
    if data.metadata.get("equipment_illustrative"):
        st.warning("Capacités FICTIVES (données de démonstration) : les places affichées sont "
                   "illustratives.")
    if population is not None and population.fictitious:
        st.warning("Table de population FICTIVE (démonstration) : les ratios par habitant de "
                   "75 ans ou plus sont illustratifs.")


# --------------------------------------------------------------------------- coverage mode

def render_coverage_mode(store_path: str | Path = settings.STORE_PATH, dac_id: str | None = None,
                         *, population_path: str | Path | None = None, key: str = "cov") -> None:
    """The coverage map mode: choose the kind of resource, distance or ratio, thresholds; see
    the choropleth of the territory's communes, the key figures and the white zones."""
    from streamlit_folium import st_folium

    try:
        data = load_data(store_path)
    except DacMapError as exc:
        st.error(f"Couverture indisponible : {exc}")
        return
    population = load_population(population_path, data)
    dac = _territory_select(data, dac_id, key)
    c1, c2, c3 = st.columns([3, 2, 2])
    with c1:
        resource = _family_select(data, key)
    modes = [MODE_DISTANCE] + ([MODE_RATIO] if population is not None else [])
    with c2:
        mode = st.radio("Carte", modes, format_func=MODE_LABELS.get, key=f"{key}_mode")
    with c3:
        threshold = st.number_input("Seuil de zone blanche (km)", min_value=1.0, max_value=200.0,
                                    value=float(settings.COVERAGE_WHITE_ZONE_KM), step=1.0,
                                    format="%.0f", key=f"{key}_threshold")
        radius = settings.COVERAGE_CATCHMENT_KM
        if mode == MODE_RATIO:
            radius = st.number_input("Rayon du ratio (km, 0 = la commune)", min_value=0.0,
                                     max_value=100.0, value=float(settings.COVERAGE_CATCHMENT_KM),
                                     step=5.0, format="%.0f", key=f"{key}_radius")
    if population is None:
        st.caption("Aucune table de population : ratios par habitant indisponibles "
                   "(réglage POPULATION_PATH).")
    _data_warnings(data, population)
    try:
        cov = commune_coverage(data, dac, resource, threshold,
                               population.pop_75plus if population is not None else None, radius)
    except (DacMapError, ValueError) as exc:
        st.error(f"Calcul impossible : {exc}")
        return
    s = cov.summary()
    k = st.columns(4)
    k[0].metric("Communes", fmt_number(s["communes"]))
    k[1].metric("Zones blanches", fmt_number(s["white_zones"]))
    k[2].metric("Distance moyenne", f"{fmt_number(s['distance_mean_km'], 1)} km")
    if "places_per_1000_75plus" in s:
        k[3].metric("Places / 1 000 hab. 75 ans +", fmt_number(s["places_per_1000_75plus"], 1))
    else:
        k[3].metric("Distance maximale", f"{fmt_number(s['distance_max_km'], 1)} km")
    for note in cov.notes:
        st.caption(note)
    m = coverage_map(cov, mode)
    st_folium(m, key=f"{key}_map_{dac}_{mode}", height=settings.MAP_HEIGHT_PX,
              use_container_width=True, returned_objects=[])
    st.caption("Distances en ligne droite depuis le centre géométrique de chaque commune "
               "(Lambert-93), pas des temps de trajet.")
    wz = cov.white_zones
    st.subheader(f"Zones blanches : {len(wz)} commune(s) à plus de {fmt_number(threshold, 1)} km")
    if len(wz):
        show = wz.rename(columns={"name": "Commune", "code": "Code INSEE",
                                  "distance_km": "Distance (km)",
                                  "nearest_name": "Ressource la plus proche",
                                  "nearest_commune": "Située à", "pop_75plus": "Hab. 75 ans +"})
        st.dataframe(show.round(1), hide_index=True, width="stretch")
    table = cov.table.drop(columns="geometry")
    st.download_button("Télécharger le tableau par commune (CSV)",
                       table.to_csv(sep=";", index=False).encode("utf-8-sig"),
                       file_name=f"couverture_{dac}_{resource.key().replace('=', '-')}.csv",
                       mime="text/csv", key=f"{key}_csv")


# --------------------------------------------------------------------------- unmet needs

def _submission_key(key: str) -> str:
    """Idempotency key of the form's current submission (a retried submit is stored once)."""
    return st.session_state.setdefault(f"{key}_client_key", uuid.uuid4().hex)


def render_unmet_need_button(filters_label: str,
                             filters_json: Mapping[str, Any] | Sequence[Any] | str | None,
                             dac_id: str, commune: str | None, *,
                             resource_type: str | None = None,
                             db_path: str | Path = settings.UNMET_NEEDS_DB,
                             store_path: str | Path | None = settings.STORE_PATH,
                             allowed_names: frozenset[str] | None = None,
                             key: str = "unmet") -> int | None:
    """"Aucune ressource adaptée" form under a search: a comment, an optional role and ONE
    submit that records the need with the search filters, territory and commune. Shows the
    French refusal when a field looks like patient data. Returns the new record id (or None).

    ``filters_json``: a dict, the list of :func:`dac_map.coverage.unmet.filters_to_json` of
    the query filters, or JSON text. ``commune`` None: read from the filters when they name one.

    ``allowed_names``: :func:`dac_map.coverage.unmet.allowed_name_pairs` of public names, so
    that generated filter labels quoting an establishment or commune name pass; by default
    those of the store at ``store_path`` (:func:`public_name_pairs`). The comment never gets
    this exemption. ``dac_id``: the territory, or e.g. ``"national"`` for the national view."""
    with st.form(key=f"{key}_form", clear_on_submit=False, border=True):
        st.markdown("**Aucune ressource adaptée ?** Signalez le besoin non couvert "
                    "(sans aucune donnée permettant d'identifier le patient).")
        st.caption(f"Critères : {filters_label}")
        comment = st.text_area("Commentaire (facultatif)", key=f"{key}_comment", max_chars=2000,
                               placeholder="Ex. : pas d'EHPAD avec unité Alzheimer à moins de 30 km")
        role = st.selectbox("Votre fonction (facultatif)", ROLES, key=f"{key}_role",
                            format_func=lambda r: r or "—")
        submitted = st.form_submit_button("Enregistrer : aucune ressource adaptée trouvée")
    if not submitted:
        return None
    if commune is None and not isinstance(filters_json, str):
        commune = commune_from_filters(filters_json)
    if allowed_names is None:
        allowed_names = public_name_pairs(store_path) if store_path is not None else frozenset()
    try:
        # the write path checks the role itself (server mode), whatever the page showed
        need = UnmetLog(db_path).record(
            access.current_principal(), dac_id, commune, filters_json, filters_label,
            comment or "", role or None, resource_type, client_key=_submission_key(key),
            allowed_names=allowed_names)
    except ForbiddenError as exc:
        st.error(f"Enregistrement refusé : {exc.message}")
        return None
    except PersonalDataError as exc:
        st.error(exc.message)
        return None
    except UnmetNeedError as exc:
        st.error(f"Enregistrement refusé : {exc.message}")
        return None
    except DacMapError as exc:
        st.error(f"Journal indisponible : {exc}")
        return None
    st.session_state.pop(f"{key}_client_key", None)  # the next submission is a new need
    st.success(f"Besoin non couvert enregistré (n° {need.id}). Merci : il sera compté dans le "
               "rapport à l'ARS.")
    return need.id


def render_unmet_needs_page(db_path: str | Path = settings.UNMET_NEEDS_DB,
                            store_path: str | Path | None = settings.STORE_PATH,
                            dac_id: str | None = None, *, key: str = "needs") -> None:
    """The unmet-need log: filters (period, territory, commune, type), table, CSV export,
    deletion of a record (correction)."""
    names: dict[str, str] = {}
    territories: dict[str, str] = {}
    families: dict[str, str] = {}
    if store_path is not None:
        try:
            data = load_data(store_path)
            names = data.commune_names()
            territories = dict(zip(data.territories["dac_id"], data.territories["name"]))
            families = data.family_labels()
        except DacMapError:
            pass

    def type_label(value: object) -> str:
        if not isinstance(value, str):
            return ""
        return ", ".join(families.get(p, p) for p in value.split(", "))
    try:
        log_ = UnmetLog(db_path)
        principal = access.current_principal()
        everything = log_.list(principal, commune_names=names)  # the principal's DACs only
    except DacMapError as exc:
        st.error(f"Journal indisponible : {exc}")
        return
    st.subheader("Besoins non couverts signalés")
    if not len(everything):
        st.info("Aucun besoin non couvert n'a encore été signalé.")
        return
    today = date.today()
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        period = st.date_input("Période", value=(today - timedelta(days=90), today),
                               key=f"{key}_period", format="DD/MM/YYYY")
    dacs = sorted(everything["dac_id"].dropna().unique())
    with c2:
        default = [""] + dacs
        idx = default.index(dac_id) if dac_id in default else 0
        dac = st.selectbox("Territoire", default, index=idx, key=f"{key}_dac",
                           format_func=lambda d: territories.get(d, d) if d else "Tous")
    coms = sorted(everything["commune"].dropna().unique())
    with c3:
        com = st.selectbox("Commune", [""] + coms, key=f"{key}_commune",
                           format_func=lambda c: f"{names.get(c, c)} ({c})" if c else "Toutes")
    types = sorted(everything["resource_type"].dropna().unique())
    with c4:
        rtype = st.selectbox("Type de ressource", [""] + types, key=f"{key}_type",
                             format_func=lambda t: type_label(t) or "Tous")
    start, end = (period if isinstance(period, (tuple, list)) and len(period) == 2
                  else (period, period) if isinstance(period, date) else (None, None))
    frame = log_.list(principal, start=start, end=end, dac_id=dac or None,
                             commune=com or None, resource_type=rtype or None, commune_names=names)
    st.caption(f"{len(frame)} signalement(s) sur {len(everything)} au total.")
    view = frame.drop(columns=["filters_json"]).assign(
        recorded_at=pd.to_datetime(frame["recorded_at"], utc=True).dt.strftime("%d/%m/%Y %H:%M"),
        resource_type=frame["resource_type"].map(type_label))
    view = view.rename(columns={
        "id": "N°", "recorded_at": "Date (UTC)", "dac_id": "Territoire", "commune": "Code INSEE",
        "commune_name": "Commune", "resource_type": "Type", "filters_label": "Critères",
        "comment": "Commentaire", "recorded_by_role": "Fonction"})
    st.dataframe(view, hide_index=True, width="stretch")
    st.download_button("Exporter en CSV", unmet_needs_csv(frame),
                       file_name=f"besoins_non_couverts_{today.isoformat()}.csv", mime="text/csv",
                       key=f"{key}_export")
    with st.expander("Supprimer un signalement (correction)"):
        ids = list(frame["id"])
        target = st.selectbox("N° du signalement", ids, key=f"{key}_del_id") if ids else None
        sure = st.checkbox("Je confirme la suppression", key=f"{key}_del_ok")
        if st.button("Supprimer", key=f"{key}_del", disabled=target is None or not sure):
            try:
                deleted = log_.delete(principal, int(target))
            except DacMapError as exc:
                st.error(f"Suppression impossible : {exc}")
            else:
                if deleted:
                    st.success(f"Signalement n° {target} supprimé.")
                    st.rerun()
                else:
                    st.warning("Signalement introuvable.")


# --------------------------------------------------------------------------- ARS report

def render_ars_report_download(store_path: str | Path = settings.STORE_PATH,
                               dac_id: str | None = None, *,
                               db_path: str | Path = settings.UNMET_NEEDS_DB,
                               reports_dir: str | Path = settings.REPORTS_DIR,
                               population_path: str | Path | None = None,
                               key: str = "ars") -> None:
    """Build the periodic ARS report on demand and offer it as printable HTML and CSV; saving
    it keeps a snapshot so that the next report lists the changes."""
    try:
        data = load_data(store_path)
    except DacMapError as exc:
        st.error(f"Rapport indisponible : {exc}")
        return
    population = load_population(population_path, data)
    dac = _territory_select(data, dac_id, key)
    c1, c2 = st.columns([3, 2])
    with c1:
        resource = _family_select(data, key, "Type de ressource des zones blanches")
    with c2:
        threshold = st.number_input("Seuil de zone blanche (km)", min_value=1.0, max_value=200.0,
                                    value=float(settings.COVERAGE_WHITE_ZONE_KM), step=1.0,
                                    format="%.0f", key=f"{key}_threshold")
    start = end = None
    if st.checkbox("Choisir la période des besoins non couverts (par défaut : depuis le "
                   "rapport précédent)", key=f"{key}_custom"):
        today = date.today()
        period = st.date_input("Période", value=(today - timedelta(days=90), today),
                               key=f"{key}_period", format="DD/MM/YYYY")
        if isinstance(period, (tuple, list)) and len(period) == 2:
            start, end = period
    save = st.checkbox("Archiver ce rapport (sert de référence pour le prochain)", value=True,
                       key=f"{key}_save")
    if st.button("Préparer le rapport pour l'ARS", key=f"{key}_go", type="primary"):
        try:
            rep = build_report(data, dac, resource, threshold, population,
                               settings.COVERAGE_CATCHMENT_KM, db_path, reports_dir, start, end)
            if save:
                write_report(rep, reports_dir)
        except (DacMapError, OSError) as exc:
            st.error(f"Rapport impossible : {exc}")
            return
        st.session_state[f"{key}_html"] = render_html(rep).encode("utf-8")
        st.session_state[f"{key}_csv"] = render_csv(rep)
        st.session_state[f"{key}_name"] = f"rapport_ars_{dac}_{rep.generated_at[:10]}"
        st.session_state[f"{key}_info"] = (
            f"{rep.summary.get('white_zones')} zone(s) blanche(s), {rep.unmet_total} besoin(s) "
            "non couvert(s) sur la période"
            + (f" ; comparé au rapport du {rep.previous.get('generated_at', '')[:10]}"
               if rep.previous else " ; premier rapport"))
    if f"{key}_html" in st.session_state:
        st.success(st.session_state[f"{key}_info"])
        name = st.session_state[f"{key}_name"]
        d1, d2 = st.columns(2)
        d1.download_button("Rapport imprimable (HTML, A4)", st.session_state[f"{key}_html"],
                           file_name=f"{name}.html", mime="text/html", key=f"{key}_dl_html")
        d2.download_button("Indicateurs (CSV)", st.session_state[f"{key}_csv"],
                           file_name=f"{name}.csv", mime="text/csv", key=f"{key}_dl_csv")
        st.caption("Ouvrez le fichier HTML dans le navigateur puis « Imprimer » (format A4) "
                   "pour obtenir un PDF.")
