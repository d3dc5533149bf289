"""The coverage choropleth, pure folium (no Streamlit): communes filled by class of distance
to the nearest resource (km) or of places per 1,000 people aged 75+, white zones outlined.

Map assets come from the vendored Leaflet (:class:`dac_map.ui.map.OfflineMap`): no CDN.
Untrusted text (commune and establishment names) reaches the map only through ``textContent``
in the browser (tooltips) or :func:`html.escape` (legend); data is embedded with
:func:`dac_map.ui.map.js_json`. Geometries are WGS84 (EPSG:4326, degrees).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from dac_map import settings
from dac_map.coverage.indicators import CommuneCoverage
from dac_map.coverage.report_render import fmt_number
from dac_map.ui.leaflet import Legend, OfflineMap, js_json, tooltip_js

MODE_DISTANCE = "distance"
MODE_RATIO = "ratio"
MODE_TIME = "duree"  # issue 12: car travel time, with a road network
MODE_LABELS = {MODE_DISTANCE: "Distance à la ressource la plus proche (km)",
               MODE_RATIO: "Places pour 1 000 habitants de 75 ans ou plus",
               MODE_TIME: "Durée en voiture à la ressource la plus proche (min)"}

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
    side = "left" if mode in (MODE_DISTANCE, MODE_TIME) else "right"
    out = np.searchsorted(b, np.where(np.isnan(v), 0, v), side=side).astype(int)
    out[np.isnan(v)] = -1
    return out


def legend_classes(bins: Sequence[float], mode: str) -> list[str]:
    """French labels of the classes of :func:`classify`."""
    b = sorted(float(x) for x in bins)
    f = lambda x: fmt_number(x, 0 if float(x).is_integer() else 1)  # noqa: E731
    if mode in (MODE_DISTANCE, MODE_TIME):
        u = "min" if mode == MODE_TIME else "km"
        labels = [f"≤ {f(b[0])} {u}"] + [f"{f(a)} – {f(c)} {u}" for a, c in zip(b, b[1:])]
        return labels + [f"> {f(b[-1])} {u}"]
    labels = [f"< {f(b[0])}"] + [f"{f(a)} – {f(c)}" for a, c in zip(b, b[1:])]
    return labels + [f"≥ {f(b[-1])}"]


def legend_body(title: str, labels: Sequence[str], colors: Sequence[str], no_data: str,
                threshold_km: float | None, unit: str = "km") -> str:
    """Escaped HTML of the choropleth legend (classes, no data, white-zone outline)."""
    rows = [f'<li><span class="sq" style="background:{c}"></span>{html.escape(lab)}</li>'
            for lab, c in zip(labels, colors)]
    rows.append(f'<li><span class="sq" style="background:{no_data}"></span>Sans donnée</li>')
    if threshold_km is not None:
        rows.append('<li><span class="sq wz"></span>Zone blanche (&gt; '
                    f'{html.escape(fmt_number(threshold_km, 1))} {html.escape(unit)})</li>')
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
            layer.bindTooltip({{ this.tooltip_js }}, {sticky: true});
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
        self.tooltip_js = tooltip_js("p.t")


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
    if mode == MODE_TIME:  # issue 12
        t = row.travel_min
        lines.insert(1, "Ressource la plus proche par la route : " + (
            f"{fmt_number(t, 0)} min en voiture ({row.travel_nearest_name or '?'})"
            if t == t else f"non atteinte ({row.road})"))
    if (row.white_zone_time if mode == MODE_TIME else row.white_zone):
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
    if mode == MODE_TIME and not coverage.by_road:
        raise ValueError("time mode needs a road network")
    t = coverage.table
    if mode == MODE_TIME:  # issue 12
        bins = list(bins or settings.COVERAGE_TIME_BINS_MIN)
        palette = _palette(colors or settings.COVERAGE_DISTANCE_COLORS, len(bins) + 1, _FALLBACK_DISTANCE)
        values = t["travel_min"]
        title = f"Durée en voiture (réseau routier) — {coverage.resource_label}"
    elif mode == MODE_DISTANCE:
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
                         "properties": {"n": str(row.name), "k": int(k),
                                        "w": bool(row.white_zone_time if mode == MODE_TIME
                                                  else row.white_zone),
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
                                   coverage.threshold_min if mode == MODE_TIME else coverage.threshold_km,
                                   "min" if mode == MODE_TIME else "km")))
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m
