"""Folium map building for the app, importable and testable without Streamlit.

Two parts, so that a filter change never reloads the map:

* the **base map** (:func:`build_base_map`), built from :class:`BaseLayers` that depend on the
  territory only: tiles (``settings.TILES``, ``none`` = plain background), department and
  commune outlines, the territory outline. Its Leaflet script is identical from one rerun to
  the next, so streamlit-folium keeps the same iframe;
* the **results layer** (:func:`build_results_layer`): one ``folium.FeatureGroup`` handed to
  ``st_folium(feature_group_to_add=...)``, which the iframe swaps in place. It holds ONE
  ``L.geoJSON`` layer of canvas circle markers (the map uses ``preferCanvas``), or, above
  ``settings.MAP_MAX_POINTS`` results, one circle per grid cell with its count (national view),
  plus rings around the selected resources and the legend (families, colours, counts).

Every asset URL points to the vendored files served by Streamlit (``settings.UI_ASSETS_URL``):
no CDN. Untrusted text (establishment names...) only reaches the page through
``textContent`` in the browser, or :func:`html.escape` here; data embedded in scripts goes
through :func:`js_json`, which also escapes ``<``, ``>`` and ``&``.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from dac_map import settings

#: Folder of the vendored Leaflet under ``static/vendor`` (see static/vendor/README.md).
LEAFLET_DIR = "leaflet-1.9.4"

#: Radius (pixels) of a resource marker, and of the ring around a selected one.
MARKER_RADIUS = 6
SELECTED_RADIUS = 12

#: A legend with more lines than this starts closed (one click opens it; the choice is kept).
LEGEND_OPEN_MAX = 8

#: Colour of the territory outline, of the other boundaries, of the selection rings.
TERRITORY_COLOR = "#08306b"
BOUNDARY_COLOR = "#8c96a0"
SELECTED_COLOR = "#000000"

#: Prefix of the FINESS line of a marker tooltip; :func:`finess_from_tooltip` reads it back
#: from the text streamlit-folium returns for a click.
TOOLTIP_FINESS_PREFIX = "N° FINESS "

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_FINESS_IN_TEXT = re.compile(r"FINESS\D{0,3}([0-9][0-9A-Z][0-9]{7})")


# --------------------------------------------------------------------------- helpers

def js_json(value: object) -> str:
    """JSON for embedding in a script: compact, UTF-8, and with ``<``, ``>``, ``&``, U+2028
    and U+2029 escaped so that no data can close a ``<script>`` element or break a string."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                      ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, esc)
    return text


def asset_url(name: str) -> str:
    """URL of a vendored Leaflet file as seen from the map iframe."""
    return f"{settings.UI_ASSETS_URL.rstrip('/')}/{LEAFLET_DIR}/{name}"


def finess_from_tooltip(text: object) -> str | None:
    """The FINESS number in the text of a marker tooltip (as returned for a click), or None."""
    if not isinstance(text, str):
        return None
    m = _FINESS_IN_TEXT.search(text)
    return m.group(1) if m else None


def family_colors(families: pd.DataFrame) -> dict[str, str]:
    """Family id -> ``#rrggbb`` colour from the ``familles`` layer; an invalid or missing
    colour becomes ``settings.MAP_FALLBACK_COLOR``."""
    out: dict[str, str] = {}
    if families is None or "family" not in families:
        return out
    colors = families["color"] if "color" in families else pd.Series([None] * len(families))
    for fam, color in zip(families["family"], colors):
        ok = isinstance(color, str) and _HEX_COLOR.fullmatch(color)
        out[str(fam)] = color.lower() if ok else settings.MAP_FALLBACK_COLOR
    return out


def _geometry_json(geoms: Iterable[object], tolerance: float) -> dict[str, object]:
    """A GeoJSON FeatureCollection (no properties) of simplified polygons, 4-decimal coords."""
    arr = np.array([g for g in geoms if g is not None], dtype=object)
    features = []
    if len(arr):
        arr = arr[~shapely.is_empty(arr)]
        if tolerance > 0:
            arr = shapely.simplify(arr, tolerance, preserve_topology=True)
        arr = shapely.set_precision(arr, 1e-4, mode="pointwise")
        for g in arr:
            if g is None or shapely.is_empty(g):
                continue
            features.append({"type": "Feature", "properties": {},
                             "geometry": json.loads(shapely.to_geojson(g))})
    return {"type": "FeatureCollection", "features": features}


# --------------------------------------------------------------------------- base layers

@dataclass(frozen=True)
class LegendEntry:
    """One line of the legend: a family, its colour and label, and how many resources of the
    current result belong to it (None: not shown)."""

    family: str
    label: str
    color: str
    count: int | None = None


@dataclass(frozen=True)
class BaseLayers:
    """What the base map of a territory draws, prepared once per territory (cacheable).

    ``bounds`` is ``(min_lon, min_lat, max_lon, max_lat)`` in WGS84 degrees. The GeoJSON
    dicts have no properties (the outlines are not interactive).
    """

    key: str
    title: str
    bounds: tuple[float, float, float, float]
    territory: dict[str, object]
    departments: dict[str, object]
    communes: dict[str, object]
    legend: tuple[LegendEntry, ...]


#: Bounds of metropolitan France (national view).
FRANCE_BOUNDS = (-5.2, 41.3, 9.6, 51.1)


def base_layers(catalogue, dac_id: str | None) -> BaseLayers:
    """Outlines and legend of a territory (``dac_id``) or of the whole country (None).

    Around a territory: its outline, the departments whose box touches the territory's
    box widened by half, and the communes of those departments (at most
    ``settings.MAP_MAX_COMMUNES``; communes are optional in the store). National view:
    department outlines only. The legend lists the families present in the area.
    """
    colors = family_colors(catalogue.families)
    order = catalogue.family_order()
    labels = {str(f): str(lab) for f, lab in zip(catalogue.families["family"],
                                                  catalogue.families["family_label"])}
    deps = catalogue.departments
    tol = settings.MAP_SIMPLIFY_DEG
    if dac_id is None:
        present = set(catalogue.family.values[np.unique(catalogue.family.codes[catalogue.family.codes >= 0])])
        legend = tuple(LegendEntry(f, labels.get(f, f), colors.get(f, settings.MAP_FALLBACK_COLOR))
                       for f in order if f in present)
        return BaseLayers(key="national", title="France entière", bounds=FRANCE_BOUNDS,
                          territory={"type": "FeatureCollection", "features": []},
                          departments=_geometry_json(deps.geometry, tol * 12),
                          communes={"type": "FeatureCollection", "features": []},
                          legend=legend)

    i = catalogue.territory_row[dac_id]
    terr_geom = catalogue.territories.geometry.iat[i]
    b = catalogue.territory_bounds[i]
    in_territory = np.asarray(catalogue.establishments["dac_id"].astype("object") == dac_id, dtype=bool) \
        if "dac_id" in catalogue.establishments else np.zeros(len(catalogue), dtype=bool)
    if not np.all(np.isfinite(b)):
        lon = catalogue.lon[in_territory & catalogue.has_point]
        lat = catalogue.lat[in_territory & catalogue.has_point]
        b = (np.array([lon.min(), lat.min(), lon.max(), lat.max()]) if len(lon)
             else np.array(FRANCE_BOUNDS, dtype=float))
    minx, miny, maxx, maxy = (float(v) for v in b)
    dx, dy = max(maxx - minx, 0.05) / 2, max(maxy - miny, 0.05) / 2
    box = shapely.box(minx - dx, miny - dy, maxx + dx, maxy + dy)
    near = deps[deps.geometry.intersects(box)] if len(deps) else deps
    near_codes = set(near["code"].astype(str)) if len(near) else set()
    communes = catalogue.communes
    com_geoms: list[object] = []
    if len(communes):
        # the communes of the territory (not of its neighbours: their departments are drawn)
        own = {str(d) for d in str(catalogue.territories["departments"].iat[i] or "").split()}
        dep_of = communes["code"].astype(str).map(lambda c: c[:3] if c.startswith("97") else c[:2])
        sel = communes[dep_of.isin(own | near_codes).to_numpy()]
        if terr_geom is not None and not shapely.is_empty(terr_geom):
            shapely.prepare(terr_geom)
            inside = shapely.intersects(terr_geom, sel.geometry.representative_point().to_numpy())
            sel = sel[inside]
        else:
            sel = sel[dep_of.loc[sel.index].isin(own).to_numpy()]
        if len(sel) <= settings.MAP_MAX_COMMUNES:
            com_geoms = list(sel.geometry)
    fam_codes = catalogue.family.codes[in_territory]
    present = set(catalogue.family.values[np.unique(fam_codes[fam_codes >= 0])])
    legend = tuple(LegendEntry(f, labels.get(f, f), colors.get(f, settings.MAP_FALLBACK_COLOR))
                   for f in order if f in present)
    name = catalogue.territory_name(dac_id) or dac_id
    return BaseLayers(
        key=dac_id, title=name, bounds=(minx, miny, maxx, maxy),
        territory=_geometry_json([terr_geom], tol / 2),
        departments=_geometry_json(near.geometry, tol * 6),
        communes=_geometry_json(com_geoms, tol),
        legend=legend)


# --------------------------------------------------------------------------- folium elements

class _RawElement(Element):
    """An element whose text is output as is (branca would compile it as a Jinja template,
    which takes about 0.3 s per megabyte of embedded data)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: object) -> str:
        return self._text


class FastMacroElement(MacroElement):
    """A MacroElement with only a ``script`` macro, rendered without recompiling its output
    (see :class:`_RawElement`); streamlit-folium calls the macro itself."""

    def render(self, **kwargs: object) -> None:
        figure = self.get_root()
        script = self._template.module.__dict__.get("script")
        if script is not None:
            figure.script.add_child(_RawElement(script(self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class OfflineMap(folium.Map):
    """``folium.Map`` loading only the vendored Leaflet (no jQuery, Bootstrap, Font Awesome or
    CDN URL): streamlit-folium hands ``default_js``/``default_css`` to its iframe as is."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.default_js = [("leaflet", asset_url("leaflet.js"))]
        self.default_css = [("leaflet_css", asset_url("leaflet.css"))]


class StaticGeoJson(FastMacroElement):
    """A non-interactive ``L.geoJSON`` outline layer (no events: clicks go through it)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data_js }}, {
            interactive: false, style: {{ this.style_js }}
        }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, data: Mapping[str, object], style: Mapping[str, object], name: str) -> None:
        super().__init__()
        self._name = name
        self.data_js = js_json(data)
        self.style_js = js_json(dict(style))


class Legend(FastMacroElement):
    """The legend control (bottom right), replaced at each results layer: it lives in the
    results feature group and removes the previous one (its open / closed state is kept).
    ``html_body`` must already be escaped (:func:`legend_html`)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            if (window.dacMapLegend) { window.dacMapLegend.remove(); }
            var ctl = L.control({position: "bottomright"});
            ctl.onAdd = function () {
                var div = L.DomUtil.create("div", "dacmap-legend");
                div.innerHTML = {{ this.html_js }};
                var d = div.querySelector("details");
                if (d && typeof window.dacMapLegendOpen === "boolean") { d.open = window.dacMapLegendOpen; }
                var s = d && d.querySelector("summary");
                if (s) {  // a user's click (not the initial open attribute) sets the choice
                    s.addEventListener("click", function () {
                        setTimeout(function () { window.dacMapLegendOpen = d.open; }, 0);
                    });
                }
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            ctl.addTo({{ this.map_name }});
            window.dacMapLegend = ctl;
            return ctl;
        })();
        {% endmacro %}
    """)

    def __init__(self, html_body: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.html_js = js_json(html_body)

    @property
    def map_name(self) -> str:
        """The map variable: the parent's when it is the map, else the grandparent's."""
        parent = self._parent
        if isinstance(parent, folium.Map) or parent is None or parent._parent is None:
            return parent.get_name()
        return parent._parent.get_name()


def legend_html(entries: Sequence[LegendEntry], title: str = "Familles",
                opened: bool = True) -> str:
    """HTML of the legend: a ``<details>`` element (open unless ``opened`` is False) listing
    the families with their colour and count; every label escaped, colours validated
    ``#rrggbb``."""
    rows = []
    for e in entries:
        color = e.color if _HEX_COLOR.fullmatch(e.color or "") else settings.MAP_FALLBACK_COLOR
        count = f' <span class="n">{int(e.count)}</span>' if e.count is not None else ""
        rows.append(f'<li><span class="dot" style="background:{color}"></span>'
                    f"{html.escape(e.label)}{count}</li>")
    return (f'<details{" open" if opened else ""}><summary>{html.escape(title)}</summary>'
            f'<ul>{"".join(rows)}</ul></details>')


def legend_entries(counts: Mapping[str, int], labels: Mapping[str, str],
                   colors: Mapping[str, str], order: Sequence[str] = ()) -> list[LegendEntry]:
    """Legend lines of a result: its families (``counts``), in ``order`` then the others."""
    fams = [f for f in order if f in counts] + [f for f in counts if f not in set(order)]
    return [LegendEntry(f, labels.get(f, f), colors.get(f, settings.MAP_FALLBACK_COLOR),
                        int(counts[f])) for f in fams]


_MAP_CSS = """<style>
.leaflet-container {{ background: {background}; }}
.dacmap-legend {{ background: rgba(255,255,255,.92); padding: 4px 8px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 11px/1.3 sans-serif; max-width: 250px;
  max-height: 300px; overflow-y: auto; }}
.dacmap-legend .n {{ color: #555; font-weight: 600; }}
.dacmap-legend summary {{ cursor: pointer; font-weight: 600; }}
.dacmap-legend ul {{ list-style: none; margin: 4px 0 0 0; padding: 0; }}
.dacmap-legend .dot {{ display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  margin-right: 6px; border: 1px solid #fff; box-shadow: 0 0 0 1px #999; vertical-align: -1px; }}
.dacmap-tip {{ white-space: pre-line; font: 12px/1.35 sans-serif; max-width: 280px; }}
.dacmap-tip b {{ font-weight: 600; }}
</style>"""


def build_base_map(base: BaseLayers, tiles: str | None = None, height: int | None = None
                   ) -> OfflineMap:
    """The base map of a territory: fitted to its bounds, canvas rendering, tiles from
    ``tiles`` (default ``settings.TILES``; ``""``/``none`` = no tile layer, plain background),
    department / commune / territory outlines, legend. Build a new one on every rerun (folium
    objects are mutated when rendered); :class:`BaseLayers` is what to cache."""
    tiles = settings.TILES if tiles is None else tiles
    use_tiles = bool(tiles) and tiles.strip().lower() not in ("none", "aucun", "no", "off")
    minx, miny, maxx, maxy = base.bounds
    m = OfflineMap(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=9,
                   tiles=None, prefer_canvas=True, control_scale=True,
                   height=height or "100%", min_zoom=3, max_zoom=18, zoom_snap=0.25,
                   zoom_delta=0.5)
    if use_tiles:
        folium.TileLayer(tiles=tiles.strip(), attr=settings.TILES_ATTRIBUTION, name="fond",
                         max_zoom=18).add_to(m)
    m.get_root().header.add_child(
        _RawElement(_MAP_CSS.format(background=settings.MAP_BACKGROUND)), name="dacmap_css")
    m.add_child(StaticGeoJson(base.departments, {
        "color": BOUNDARY_COLOR, "weight": 1.2, "opacity": 0.9,
        "fillColor": "#ffffff", "fillOpacity": 0.0 if use_tiles else 0.55}, "departments"))
    if base.communes["features"]:
        m.add_child(StaticGeoJson(base.communes, {
            "color": BOUNDARY_COLOR, "weight": 0.5, "opacity": 0.6, "fill": False}, "communes"))
    if base.territory["features"]:
        m.add_child(StaticGeoJson(base.territory, {
            "color": TERRITORY_COLOR, "weight": 3, "opacity": 0.9, "fill": False}, "territory"))
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


# --------------------------------------------------------------------------- results

#: Record columns the map needs.
MAP_COLUMNS = ("finess", "name", "category_label", "commune_name", "family", "lon", "lat")


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _index(values: Iterable[str]) -> tuple[list[str], dict[str, int]]:
    table: list[str] = []
    pos: dict[str, int] = {}
    for v in values:
        if v not in pos:
            pos[v] = len(table)
            table.append(v)
    return table, pos


def points_payload(records: pd.DataFrame, colors: Mapping[str, str],
                   family_order: Sequence[str] = ()) -> dict[str, object]:
    """What the points layer draws: a GeoJSON FeatureCollection of the located records with
    compact properties (``f`` FINESS, ``n`` name, ``k`` family index, ``c`` category index,
    ``m`` commune index) and the look-up tables ``families``/``palette``/``categories``/
    ``communes`` they index. Coordinates are rounded to 5 decimals (about 1 m)."""
    ok = records["lon"].notna() & records["lat"].notna() if len(records) else pd.Series(dtype=bool)
    rec = records.loc[ok] if len(records) else records
    fam_ids = [_text(v) for v in rec["family"]] if len(rec) else []
    families, fpos = _index([f for f in family_order if f in set(fam_ids)] + fam_ids)
    categories, cpos = _index(_text(v) for v in rec["category_label"]) if len(rec) else ([], {})
    communes, mpos = _index(_text(v) for v in rec["commune_name"]) if len(rec) else ([], {})
    features = []
    if len(rec):
        for f, n, c, m_, k, x, y in zip(rec["finess"], rec["name"], rec["category_label"],
                                         rec["commune_name"], fam_ids, rec["lon"], rec["lat"]):
            features.append({"type": "Feature",
                             "geometry": {"type": "Point",
                                          "coordinates": [round(float(x), 5), round(float(y), 5)]},
                             "properties": {"f": _text(f), "n": _text(n), "k": fpos[k],
                                            "c": cpos[_text(c)], "m": mpos[_text(m_)]}})
    return {"data": {"type": "FeatureCollection", "features": features},
            "families": families,
            "palette": [colors.get(f, settings.MAP_FALLBACK_COLOR) for f in families],
            "categories": categories, "communes": communes}


def aggregate_payload(records: pd.DataFrame, colors: Mapping[str, str],
                      family_labels: Mapping[str, str], cell_deg: float | None = None
                      ) -> dict[str, object]:
    """Counts per grid cell of ``cell_deg`` degrees (default ``settings.MAP_AGGREGATE_CELL_DEG``):
    a GeoJSON FeatureCollection of cell centroids (mean position of their resources) with ``n``
    (count), ``k`` (index of the most frequent family) and ``t`` (tooltip text, plain)."""
    cell = cell_deg or settings.MAP_AGGREGATE_CELL_DEG
    ok = records["lon"].notna() & records["lat"].notna()
    rec = records.loc[ok, ["lon", "lat", "family"]]
    features: list[dict[str, object]] = []
    families: list[str] = []
    if len(rec):
        gx = np.floor(rec["lon"].to_numpy(dtype=float) / cell).astype(np.int64)
        gy = np.floor(rec["lat"].to_numpy(dtype=float) / cell).astype(np.int64)
        frame = pd.DataFrame({"gx": gx, "gy": gy, "lon": rec["lon"].to_numpy(dtype=float),
                              "lat": rec["lat"].to_numpy(dtype=float),
                              "family": rec["family"].astype("object").fillna("").to_numpy()})
        grouped = frame.groupby(["gx", "gy"], sort=True)
        pos = grouped[["lon", "lat"]].mean()
        count = grouped.size()
        fam_counts = frame.groupby(["gx", "gy", "family"], sort=True).size()
        families, fpos = _index(sorted(frame["family"].unique()))
        top = fam_counts.reset_index(name="n").sort_values(["gx", "gy", "n", "family"],
                                                           ascending=[True, True, False, True])
        top_by_cell: dict[tuple[int, int], list[tuple[str, int]]] = {}
        for gxv, gyv, fam, n in top.itertuples(index=False, name=None):
            top_by_cell.setdefault((gxv, gyv), []).append((fam, int(n)))
        for (gxv, gyv), n in count.items():
            fams = top_by_cell[(gxv, gyv)]
            lines = [f"{n} ressource{'s' if n > 1 else ''}"]
            lines += [f"{family_labels.get(f, f)} : {c}" for f, c in fams[:3]]
            if len(fams) > 3:
                lines.append("…")
            lon, lat = pos.loc[(gxv, gyv)]
            features.append({"type": "Feature",
                             "geometry": {"type": "Point",
                                          "coordinates": [round(float(lon), 4), round(float(lat), 4)]},
                             "properties": {"n": int(n), "k": fpos[fams[0][0]],
                                            "t": "\n".join(lines)}})
    return {"data": {"type": "FeatureCollection", "features": features},
            "families": families,
            "palette": [colors.get(f, settings.MAP_FALLBACK_COLOR) for f in families],
            "cell_deg": cell}


class PointsLayer(FastMacroElement):
    """ONE ``L.geoJSON`` layer of canvas circle markers, coloured by family, with a tooltip
    built with ``textContent`` (name, category · commune, FINESS number). Publishes the number
    of markers drawn as ``window.dacMap`` and ``data-markers`` on the map container."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var P = {{ this.payload_js }};
            var layer = L.geoJSON(P.data, {
                pointToLayer: function (feature, latlng) {
                    return L.circleMarker(latlng, {
                        radius: {{ this.radius }}, weight: 1, color: "#ffffff", opacity: 0.95,
                        fillColor: P.palette[feature.properties.k] || {{ this.fallback_js }},
                        fillOpacity: 0.88});
                }
            });
            layer.bindTooltip(function (l) {
                var p = l.feature.properties, div = document.createElement("div");
                div.className = "dacmap-tip";
                var b = document.createElement("b");
                b.textContent = p.n;
                div.appendChild(b);
                div.appendChild(document.createTextNode("\\n" + (P.categories[p.c] || "")
                    + (P.communes[p.m] ? " · " + P.communes[p.m] : "")
                    + "\\n" + {{ this.finess_prefix_js }} + p.f));
                return div;
            }, {direction: "top", offset: [0, -4]});
            {{ this._parent.get_name() }}.addLayer(layer);
            var n = P.data.features.length;
            window.dacMap = {mode: "points", markers: n, version: {{ this.version }}};
            var c = document.getElementById("map_div");
            if (c) { c.dataset.markers = n; c.dataset.mode = "points"; c.dataset.version = {{ this.version }}; }
            return layer;
        })();
        {% endmacro %}
    """)

    def __init__(self, payload: Mapping[str, object], version: int = 0) -> None:
        super().__init__()
        self._name = "PointsLayer"
        self.payload_js = js_json(payload)
        self.radius = MARKER_RADIUS
        self.fallback_js = js_json(settings.MAP_FALLBACK_COLOR)
        self.finess_prefix_js = js_json(TOOLTIP_FINESS_PREFIX)
        self.version = int(version)


class AggregateLayer(FastMacroElement):
    """Circles per grid cell sized by their count (national view); a click zooms in."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var P = {{ this.payload_js }};
            var max = 1;
            P.data.features.forEach(function (f) { max = Math.max(max, f.properties.n); });
            var layer = L.geoJSON(P.data, {
                pointToLayer: function (feature, latlng) {
                    var n = feature.properties.n;
                    return L.circleMarker(latlng, {
                        radius: 4 + 22 * Math.sqrt(n / max), weight: 1, color: "#ffffff",
                        fillColor: P.palette[feature.properties.k] || {{ this.fallback_js }},
                        fillOpacity: 0.75});
                }
            });
            layer.bindTooltip(function (l) {
                var div = document.createElement("div");
                div.className = "dacmap-tip";
                div.textContent = l.feature.properties.t;
                return div;
            }, {direction: "top"});
            layer.on("click", function (e) {
                var map = e.target._map;
                if (map) { map.setView(e.latlng, Math.min(map.getZoom() + 2, 12)); }
            });
            {{ this._parent.get_name() }}.addLayer(layer);
            var n = P.data.features.length;
            window.dacMap = {mode: "aggregate", markers: n, version: {{ this.version }}};
            var c = document.getElementById("map_div");
            if (c) { c.dataset.markers = n; c.dataset.mode = "aggregate"; c.dataset.version = {{ this.version }}; }
            return layer;
        })();
        {% endmacro %}
    """)

    def __init__(self, payload: Mapping[str, object], version: int = 0) -> None:
        super().__init__()
        self._name = "AggregateLayer"
        self.payload_js = js_json(payload)
        self.fallback_js = js_json(settings.MAP_FALLBACK_COLOR)
        self.version = int(version)


class SelectionLayer(FastMacroElement):
    """Rings (non-interactive) around the selected resources; the focused one is thicker."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var rings = {{ this.rings_js }};
            var group = L.featureGroup();
            rings.forEach(function (r) {
                L.circleMarker([r[0], r[1]], {radius: {{ this.radius }}, color: {{ this.color_js }},
                    weight: r[2] ? 4 : 2, fill: false, interactive: false}).addTo(group);
            });
            {{ this._parent.get_name() }}.addLayer(group);
            if (window.dacMap) { window.dacMap.rings = rings.length; }
            return group;
        })();
        {% endmacro %}
    """)

    def __init__(self, rings: Sequence[tuple[float, float, bool]]) -> None:
        super().__init__()
        self._name = "SelectionLayer"
        self.rings_js = js_json([[round(float(a), 6), round(float(b), 6), bool(c)] for a, b, c in rings])
        self.radius = SELECTED_RADIUS
        self.color_js = js_json(SELECTED_COLOR)


@dataclass(frozen=True)
class ResultsLayer:
    """The feature group for ``st_folium(feature_group_to_add=...)`` and what it draws."""

    group: folium.FeatureGroup
    mode: str  # "points" or "aggregate"
    drawn: int  # markers (points mode) or cells (aggregate mode)
    located: int  # records with coordinates


def selection_rings(records: pd.DataFrame, selected: Sequence[str], focus: str | None
                    ) -> list[tuple[float, float, bool]]:
    """(lat, lon, is_focus) of the selected FINESS numbers found (with coordinates) in
    ``records``, in the order given; the focus is added when not in ``selected``."""
    wanted = list(dict.fromkeys([*selected, *([focus] if focus else [])]))
    if not wanted or not len(records):
        return []
    rec = records.loc[records["finess"].isin(wanted) & records["lon"].notna() & records["lat"].notna(),
                      ["finess", "lat", "lon"]].drop_duplicates("finess").set_index("finess")
    return [(float(rec.at[f, "lat"]), float(rec.at[f, "lon"]), f == focus)
            for f in wanted if f in rec.index]


def build_results_layer(records: pd.DataFrame, colors: Mapping[str, str],
                        family_order: Sequence[str] = (),
                        family_labels: Mapping[str, str] | None = None,
                        selected: Sequence[str] = (), focus: str | None = None,
                        max_points: int | None = None, version: int = 0,
                        legend: Sequence[LegendEntry] = (),
                        search_area: SearchArea | None = None) -> ResultsLayer:
    """The results as a feature group: points (at most ``max_points``, default
    ``settings.MAP_MAX_POINTS``) or counts per grid cell above, plus selection rings and the
    legend (``legend``, with the counts of the result; none when empty). ``version`` is
    published with the marker count (browser tests wait on it). ``search_area``: the centre
    and radius / reachable area of a search around a place; the view is fitted to the results
    once per ``version`` (without a centre too, unless the result set is aggregated)."""
    limit = settings.MAP_MAX_POINTS if max_points is None else max_points
    group = folium.FeatureGroup(name="resultats", control=False)
    located = int((records["lon"].notna() & records["lat"].notna()).sum()) if len(records) else 0
    if located > limit:
        payload = aggregate_payload(records, colors, family_labels or {})
        group.add_child(AggregateLayer(payload, version))
        mode, drawn = "aggregate", len(payload["data"]["features"])
    else:
        payload = points_payload(records, colors, family_order)
        group.add_child(PointsLayer(payload, version))
        mode, drawn = "points", len(payload["data"]["features"])
    rings = selection_rings(records, selected, focus)
    if rings:
        group.add_child(SelectionLayer(rings))
    if legend:
        # open when short; a long legend starts closed so as not to hide the map
        title = f"Familles ({len(legend)})"
        group.add_child(Legend(legend_html(legend, title, opened=len(legend) <= LEGEND_OPEN_MAX)))
    # ---- issue 12: the map follows the search
    if search_area is not None:
        group.add_child(SearchAreaLayer(search_area, version))
    elif mode == "points" and located:
        group.add_child(FitResultsLayer(results_bounds(records, None), version))
    return ResultsLayer(group, mode, drawn, located)


# --------------------------------------------------------------------------- search area (issue 12)

#: Colour of the search centre, the radius circle and the reachable area.
SEARCH_COLOR = "#c2185b"
#: Most zoom the view takes when fitted to the results (never street level).
FIT_MAX_ZOOM = 13


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


class SearchAreaLayer(FastMacroElement):
    """The search centre (a marker with its name), the radius circle or the reachable area
    (dashed, with its caption), and, once per result set (``version``), the view fitted to the
    results (at most zoom :data:`FIT_MAX_ZOOM`). Text goes through ``textContent``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var A = {{ this.area_js }};
            var group = L.featureGroup();
            var style = {color: A.color, weight: 2, dashArray: "6 4", fillColor: A.color,
                         fillOpacity: 0.06, interactive: true};
            var shape = null;
            if (A.area) { shape = L.geoJSON(A.area, {style: function () { return style; }}); }
            else if (A.radius) { shape = L.circle([A.lat, A.lon], Object.assign({radius: A.radius}, style)); }
            function tip(text) { var d = document.createElement("div"); d.className = "dacmap-tip";
                                 d.textContent = text; return d; }
            if (shape) { shape.bindTooltip(tip(A.caption), {sticky: true}); shape.addTo(group); }
            L.circleMarker([A.lat, A.lon], {radius: 8, color: "#ffffff", weight: 3,
                fillColor: A.color, fillOpacity: 1}).bindTooltip(tip(A.label),
                {direction: "top", permanent: false}).addTo(group);
            {{ this._parent.get_name() }}.addLayer(group);
            var m = window.map;
            if (m && A.bounds && window.__dacmapFitted !== A.version) {
                window.__dacmapFitted = A.version;
                m.fitBounds(A.bounds, {maxZoom: {{ this.max_zoom }}, padding: [24, 24]});
            }
            window.dacMapArea = {shape: A.area ? "area" : (A.radius ? "circle" : "none"),
                                 caption: A.caption, version: A.version};
            var c = document.getElementById("map_div");
            if (c) { c.dataset.area = window.dacMapArea.shape; c.dataset.areaCaption = A.caption; }
            return group;
        })();
        {% endmacro %}
    """)

    def __init__(self, area: SearchArea, version: int = 0) -> None:
        super().__init__()
        self._name = "SearchAreaLayer"
        self.area_js = js_json({
            "lat": round(float(area.lat), 6), "lon": round(float(area.lon), 6),
            "label": area.label, "caption": area.caption,
            "radius": float(area.radius_m) if area.radius_m else None, "area": area.area,
            "bounds": [list(b) for b in area.bounds] if area.bounds else None,
            "color": SEARCH_COLOR, "version": int(version)})
        self.max_zoom = FIT_MAX_ZOOM


class FitResultsLayer(FastMacroElement):
    """Without a search centre: the view fitted once per result set to ``bounds``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var m = window.map, b = {{ this.bounds_js }}, v = {{ this.version }};
            if (m && b && window.__dacmapFitted !== v) {
                window.__dacmapFitted = v;
                m.fitBounds(b, {maxZoom: {{ this.max_zoom }}, padding: [24, 24]});
            }
            return null;
        })();
        {% endmacro %}
    """)

    def __init__(self, bounds, version: int = 0) -> None:
        super().__init__()
        self._name = "FitResultsLayer"
        self.bounds_js = js_json([list(b) for b in bounds] if bounds else None)
        self.version = int(version)
        self.max_zoom = FIT_MAX_ZOOM


__all__ = [
    "FIT_MAX_ZOOM",
    "FitResultsLayer",
    "SearchArea",
    "SearchAreaLayer",
    "results_bounds",
    "LEAFLET_DIR",
    "MAP_COLUMNS",
    "TOOLTIP_FINESS_PREFIX",
    "BaseLayers",
    "LegendEntry",
    "OfflineMap",
    "ResultsLayer",
    "aggregate_payload",
    "asset_url",
    "base_layers",
    "build_base_map",
    "build_results_layer",
    "family_colors",
    "finess_from_tooltip",
    "js_json",
    "legend_entries",
    "legend_html",
    "points_payload",
    "selection_rings",
]
