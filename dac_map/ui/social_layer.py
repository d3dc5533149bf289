"""The social resources on the main map (issue 16), importable and testable without Streamlit.

One Leaflet layer (:class:`SocialLayer`) in the results feature group: ONE ``L.geoJSON`` of
canvas markers, never one ``folium.Marker`` per point. Social resources have their own look —
a square-ish marker (a circle with a thick dark-violet border, :data:`SOCIAL_BORDER`), filled
with the colour of their social family (:data:`FAMILY_COLORS`) — and their own section of the
legend (:func:`legend_section`). Above ``settings.MAP_MAX_POINTS`` located resources the layer
draws one circle per grid cell with its count.

The tooltip names the resource, its family and commune, « EXEMPLE FICTIF » for fictitious rows,
and its reference line (:data:`TOOLTIP_REF_PREFIX` + resource id), which
:func:`resource_from_tooltip` reads back from the click streamlit-folium returns. Text reaches
the page only through ``textContent`` (browser) or :func:`html.escape` (legend); data through
:func:`~dac_map.ui.leaflet.js_json`. Coordinates are WGS84 degrees (EPSG:4326).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from jinja2 import Template

from dac_map import settings
from dac_map.ui.leaflet import FastMacroElement, js_json
from dac_map.ui.map import LegendEntry, _index, aggregate_payload, legend_html, tooltip_match
from dac_map.ui.text import plain

#: Border colour of every social marker (FINESS markers have a thin white border).
SOCIAL_BORDER = "#3f007d"
SOCIAL_RADIUS = 7

#: Social family key -> fill colour.
FAMILY_COLORS: dict[str, str] = {
    "acces_droits": "#f16913", "aide_alimentaire": "#fdae6b", "mobilite": "#9e9ac8",
    "logement": "#8c6d31", "sante_soins": "#41ab5d", "sante_mentale": "#807dba",
    "addictions": "#e7298a", "handicap": "#1d91c0", "aidants_famille": "#fccde5",
    "budget": "#bcbddc", "numerique": "#74c476", "lien_social": "#fdd0a2",
    "langue": "#c7e9c0", "emploi_formation": "#dadaeb", "autres": "#bdbdbd",
    "associations_patients": "#ffed6f",
}

#: Prefix of the reference line of a social marker's tooltip (read back on a click).
TOOLTIP_REF_PREFIX = "Réf. ressource sociale : "
_REF_IN_TEXT = re.compile(re.escape(TOOLTIP_REF_PREFIX) + r"(\S+)")


def resource_from_tooltip(text: object) -> str | None:
    """The social resource id in the text of a clicked marker's tooltip, or None."""
    return tooltip_match(_REF_IN_TEXT, text)


def family_key(families: object) -> str:
    """The first social family key of a resource (``autres`` when none)."""
    from dac_map.inclusion import vocab

    if isinstance(families, (list, tuple, np.ndarray)) and len(families):
        return str(families[0]).removeprefix(vocab.FAMILY_PREFIX)
    return "autres"


def social_payload(records: pd.DataFrame, max_points: int | None = None) -> dict[str, object]:
    """What :class:`SocialLayer` draws: the located resources of ``records`` (those not
    ``merged`` into a FINESS marker of the result) as a GeoJSON FeatureCollection with compact
    properties — ``r`` resource id, ``n`` name, ``k`` family index, ``m`` commune index,
    ``x`` 1 for a fictitious row — and the tables ``families``/``palette``/``labels``/
    ``communes``; above ``max_points`` (default ``settings.MAP_MAX_POINTS``) the grid cells of
    :func:`dac_map.ui.map.aggregate_payload` instead (``n`` count, ``k`` main family, ``t``
    text) and ``mode`` "aggregate". Coordinates rounded to 5 decimals (about 1 m)."""
    from dac_map.inclusion import vocab

    limit = settings.MAP_MAX_POINTS if max_points is None else max_points
    rec = records
    if len(rec) and "merged" in rec:
        rec = rec[~rec["merged"].fillna(False).astype(bool)]
    if len(rec):
        lon = pd.to_numeric(rec["lon"], errors="coerce")
        lat = pd.to_numeric(rec["lat"], errors="coerce")
        ok = (lon.notna() & lat.notna()).to_numpy()
        rec, lon, lat = rec[ok], lon[ok].to_numpy(float), lat[ok].to_numpy(float)
    else:
        lon = lat = np.zeros(0)
    keys = [family_key(f) for f in rec["families"]] if len(rec) else []
    families, fpos = _index([f for f in vocab.FAMILIES if f in set(keys)] + keys)
    out: dict[str, object] = {
        "families": families,
        "palette": [FAMILY_COLORS.get(f, settings.MAP_FALLBACK_COLOR) for f in families],
        "labels": [vocab.family_label(f) for f in families],
    }
    features: list[dict[str, object]] = []
    if len(rec) > limit:
        cells = aggregate_payload(pd.DataFrame({"lon": lon, "lat": lat, "family": keys}), FAMILY_COLORS,
                                  {k: vocab.family_label(k) for k in families})
        out.update(cells, mode="aggregate", communes=[], labels=[vocab.family_label(k) for k in cells["families"]])
        return out
    communes, mpos = _index([plain(c) for c in rec["city"]] if len(rec) else [])
    fict = rec["fictitious"].fillna(False).astype(bool).to_numpy() if len(rec) else []
    for rid, name, city, k, x, y, fx in zip(rec["resource_id"], rec["name"], rec["city"] if len(rec) else [],
                                            keys, lon, lat, fict):
        props = {"r": plain(rid), "n": plain(name), "k": fpos[k], "m": mpos[plain(city)]}
        if fx:
            props["x"] = 1
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [round(float(x), 5), round(float(y), 5)]},
                         "properties": props})
    out.update(mode="points", communes=communes)
    out["data"] = {"type": "FeatureCollection", "features": features}
    return out


class SocialLayer(FastMacroElement):
    """The social resources: ONE ``L.geoJSON`` of canvas circle markers with a thick
    dark-violet border (their own look), or grid-cell counts (``mode`` aggregate). The
    tooltip is built with ``textContent`` only. Publishes ``window.dacMapSocial`` and
    ``data-social-markers`` / ``data-social-version`` on the map container (browser tests)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var S = {{ this.payload_js }};
            var max = 1;
            var agg = S.mode === "aggregate";
            S.data.features.forEach(function (f) { if (agg) { max = Math.max(max, f.properties.n); } });
            var layer = L.geoJSON(S.data, {
                pointToLayer: function (feature, latlng) {
                    var p = feature.properties;
                    return L.circleMarker(latlng, {
                        radius: agg ? 5 + 20 * Math.sqrt(p.n / max) : {{ this.radius }},
                        weight: 3, color: {{ this.border_js }}, opacity: 0.95,
                        fillColor: S.palette[p.k] || {{ this.fallback_js }}, fillOpacity: 0.9});
                }
            });
            layer.bindTooltip(function (l) {
                var p = l.feature.properties, div = document.createElement("div");
                div.className = "dacmap-tip";
                if (agg) { div.textContent = p.t; return div; }
                var b = document.createElement("b");
                b.textContent = p.n;
                div.appendChild(b);
                var lines = "\\n" + {{ this.kind_js }} + " · " + (S.labels[p.k] || "")
                    + (S.communes[p.m] ? " · " + S.communes[p.m] : "")
                    + (p.x ? "\\nEXEMPLE FICTIF" : "")
                    + "\\n" + {{ this.ref_js }} + p.r;
                div.appendChild(document.createTextNode(lines));
                return div;
            }, {direction: "top", offset: [0, -4]});
            if (agg) {
                layer.on("click", function (e) {
                    var map = e.target._map;
                    if (map) { map.setView(e.latlng, Math.min(map.getZoom() + 2, 12)); }
                });
            }
            {{ this._parent.get_name() }}.addLayer(layer);
            var n = S.data.features.length;
            window.dacMapSocial = {mode: S.mode, markers: n, version: {{ this.version }}};
            var c = document.getElementById("map_div");
            if (c) { c.dataset.socialMarkers = n; c.dataset.socialMode = S.mode;
                     c.dataset.socialVersion = {{ this.version }}; }
            return layer;
        })();
        {% endmacro %}
    """)

    def __init__(self, payload: Mapping[str, object], version: int = 0) -> None:
        super().__init__()
        self._name = "SocialLayer"
        self.payload_js = js_json(payload)
        self.fallback_js = js_json(settings.MAP_FALLBACK_COLOR)
        self.border_js = js_json(SOCIAL_BORDER)
        self.kind_js = js_json("Ressource sociale")
        self.ref_js = js_json(TOOLTIP_REF_PREFIX)
        self.radius = SOCIAL_RADIUS
        self.version = int(version)


def legend_section(counts: Mapping[str, int], total: int | None = None) -> str:
    """HTML of the legend's « Ressources sociales » part (:func:`dac_map.ui.map.legend_html`,
    class ``social``: violet-bordered dots): one line per social family of the result with its
    colour, label and count, ``total`` resources in the title (default: the sum of the counts);
    labels escaped."""
    from dac_map.inclusion import vocab

    entries = [LegendEntry(k, vocab.family_label(k), FAMILY_COLORS.get(k, settings.MAP_FALLBACK_COLOR), int(n))
               for k, n in counts.items()]
    return legend_html(entries, f"Ressources sociales ({sum(counts.values()) if total is None else int(total)})", css_class="social",
                       empty="Aucune ressource sociale ne correspond")


__all__ = ["FAMILY_COLORS", "SOCIAL_BORDER", "SocialLayer", "TOOLTIP_REF_PREFIX", "family_key",
           "legend_section", "resource_from_tooltip", "social_payload"]
