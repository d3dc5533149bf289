"""Leaflet elements for folium, loading only the vendored assets (no CDN): the offline map,
fast script elements, outlines, the legend, the result layers (canvas markers, grid counts,
selection rings) and their tooltips.

Untrusted text only reaches the page through ``textContent`` in the browser, or
:func:`html.escape` in Python; data embedded in scripts goes through :func:`js_json`, which also
escapes ``<``, ``>`` and ``&``. Coordinates are WGS84 (EPSG:4326, degrees).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import folium
from branca.element import Element, MacroElement
from jinja2 import Template

from dac_map import settings

#: Radius (pixels) of a resource marker, and of the ring around a selected one.
MARKER_RADIUS = 6
SELECTED_RADIUS = 12

#: Colour of the selection rings.
SELECTED_COLOR = "#000000"

#: Prefix of the FINESS line of a marker tooltip; :func:`dac_map.ui.map.finess_from_tooltip`
#: reads it back from the text streamlit-folium returns for a click.
TOOLTIP_FINESS_PREFIX = "N° FINESS "

#: Folder of the vendored Leaflet under ``static/vendor`` (see static/vendor/README.md).
LEAFLET_DIR = "leaflet-1.9.4"


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


class RawElement(Element):
    """An element whose text is output as is (branca would compile it as a Jinja template,
    which takes about 0.3 s per megabyte of embedded data)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: object) -> str:
        return self._text


class FastMacroElement(MacroElement):
    """A MacroElement with only a ``script`` macro, rendered without recompiling its output
    (see :class:`RawElement`); streamlit-folium calls the macro itself."""

    def render(self, **kwargs: object) -> None:
        figure = self.get_root()
        script = self._template.module.__dict__.get("script")
        if script is not None:
            figure.script.add_child(RawElement(script(self, kwargs)), name=self.get_name())
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


def tooltip_js(text_js: str) -> str:
    """A Leaflet ``bindTooltip`` function: the feature's name ``p.n`` in bold, a line break,
    then ``text_js`` (a JavaScript expression over ``p``, the feature's properties, and ``P``,
    the layer's payload). Text is set with ``textContent`` only, never parsed as HTML."""
    return ('function (l) {\n'
            '    var p = l.feature.properties, div = document.createElement("div");\n'
            '    div.className = "dacmap-tip";\n'
            '    var b = document.createElement("b");\n'
            '    b.textContent = p.n;\n'
            '    div.appendChild(b);\n'
            f'    div.appendChild(document.createTextNode("\\n" + {text_js}));\n'
            '    return div;\n'
            '}')


#: End of the script of a payload layer (``layer`` built from ``P``): add it to the map and publish
#: its mode, the number of markers drawn and the payload version as ``window.dacMap`` and as
#: ``data-*`` attributes of the map container (the browser tests read them).
_PUBLISH_JS = """\
            {{ this._parent.get_name() }}.addLayer(layer);
            var n = P.data.features.length;
            window.dacMap = {mode: {{ this.mode_js }}, markers: n, version: {{ this.version }}};
            var c = document.getElementById("map_div");
            if (c) { c.dataset.markers = n; c.dataset.mode = {{ this.mode_js }}; c.dataset.version = {{ this.version }}; }
            return layer;
        })();
        {% endmacro %}
    """


class _PayloadLayer(FastMacroElement):
    """A layer drawn from a result payload (``P`` in its script), published as mode ``mode``."""

    mode = ""

    def __init__(self, payload: Mapping[str, object], version: int = 0) -> None:
        super().__init__()
        self._name = type(self).__name__
        self.payload_js = js_json(payload)
        self.fallback_js = js_json(settings.MAP_FALLBACK_COLOR)
        self.mode_js = js_json(self.mode)
        self.version = int(version)


class PointsLayer(_PayloadLayer):
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
            layer.bindTooltip({{ this.tooltip_js }}, {direction: "top", offset: [0, -4]});
""" + _PUBLISH_JS)

    mode = "points"

    def __init__(self, payload: Mapping[str, object], version: int = 0) -> None:
        super().__init__(payload, version)
        self.radius = MARKER_RADIUS
        self.tooltip_js = tooltip_js(
            '(P.categories[p.c] || "") + (P.communes[p.m] ? " · " + P.communes[p.m] : "")'
            f' + "\\n" + {js_json(TOOLTIP_FINESS_PREFIX)} + p.f')


class AggregateLayer(_PayloadLayer):
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
""" + _PUBLISH_JS)

    mode = "aggregate"


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



# --------------------------------------------------------------------------- search area (issue 12)

#: Colour of the search centre, the radius circle and the reachable area.
SEARCH_COLOR = "#c2185b"
#: Most zoom the view takes when fitted to the results (never street level).
FIT_MAX_ZOOM = 13


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

    def __init__(self, area, version: int = 0) -> None:
        """``area``: a :class:`dac_map.ui.map.SearchArea`."""
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


__all__ = ["FIT_MAX_ZOOM", "FitResultsLayer", "SEARCH_COLOR", "SearchAreaLayer", "LEAFLET_DIR", "TOOLTIP_FINESS_PREFIX", "AggregateLayer", "FastMacroElement", "Legend",
           "OfflineMap", "PointsLayer", "RawElement", "SelectionLayer", "StaticGeoJson", "asset_url",
           "js_json", "tooltip_js"]
