"""Map building (dac_map.ui.map), without Streamlit: payloads compared as whole structures,
offline assets, tiles setting, escaping of untrusted text."""

from __future__ import annotations

import json
import re

import folium
import pandas as pd

from dac_map import settings
from dac_map.ui import leaflet
from dac_map.ui import map as umap
from dac_map.ui.search_area import SearchArea, results_bounds


def _links(m: folium.Map) -> tuple[list[str], list[str]]:
    """The JS and CSS links streamlit-folium hands to its iframe (same walk as st_folium)."""
    js: list[str] = []
    css: list[str] = []

    def walk(el):
        if isinstance(el, folium.elements.JSCSSMixin) or hasattr(el, "default_js"):
            js.extend(src for _, src in getattr(el, "default_js", []))
            css.extend(href for _, href in getattr(el, "default_css", []))
        for child in getattr(el, "_children", {}).values():
            walk(child)

    walk(m)
    return list(dict.fromkeys(js)), list(dict.fromkeys(css))


def test_family_colors_validated(tiny_cat):
    assert umap.family_colors(tiny_cat.families) == {
        "hopitaux": "#1f77b4", "pa_hebergement": "#d62728", "domicile": "#ffbb78",
        "pharmacie_biologie": settings.MAP_FALLBACK_COLOR, "autres": "#c7c7c7"}


def test_points_payload_whole_structure(tiny_cat, tiny_records):
    colors = umap.family_colors(tiny_cat.families)
    payload = umap.points_payload(tiny_records, colors, tiny_cat.family_order())
    assert payload == {
        "data": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.35, 49.87]},
             "properties": {"f": "800000052", "n": "=1+2 PHARMACIE", "k": 3, "c": 0, "m": 0}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.27, 49.88]},
             "properties": {"f": "800000045", "n": "CH D'AMIENS", "k": 0, "c": 1, "m": 0}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.2955, 49.894]},
             "properties": {"f": "800000011", "n": "EHPAD LES TILLEULS", "k": 1, "c": 2, "m": 0}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.3, 49.9]},
             "properties": {"f": "800000029", "n": "<script>alert(1)</script> EHPAD", "k": 1,
                            "c": 2, "m": 0}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.833, 50.105]},
             "properties": {"f": "800000037", "n": "SSIAD DU VAL", "k": 2, "c": 3, "m": 1}},
        ]},
        "families": ["hopitaux", "pa_hebergement", "domicile", "pharmacie_biologie"],
        "palette": ["#1f77b4", "#d62728", "#ffbb78", settings.MAP_FALLBACK_COLOR],
        "categories": ["Pharmacie", "Centre Hospitalier (C.H.)", "EHPAD", "SSIAD"],
        "communes": ["Amiens", "Abbeville"],
    }


def test_points_payload_skips_records_without_position(tiny_cat, tiny_records):
    rec = tiny_records.copy()
    rec.loc[rec["finess"] == "800000011", ["lon", "lat"]] = float("nan")
    payload = umap.points_payload(rec, {}, ())
    assert [f["properties"]["f"] for f in payload["data"]["features"]] == [
        "800000052", "800000045", "800000029", "800000037"]
    assert payload["palette"] == [settings.MAP_FALLBACK_COLOR] * 4


def test_aggregate_payload_whole_structure(tiny_cat, tiny_records):
    colors = umap.family_colors(tiny_cat.families)
    labels = {"pa_hebergement": "PA héb.", "hopitaux": "Hôpitaux"}
    payload = umap.aggregate_payload(tiny_records, colors, labels, cell_deg=1.0)
    # cells: (1, 50) holds the SSIAD of Abbeville, (2, 49) the four resources of Amiens
    assert payload == {
        "data": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.833, 50.105]},
             "properties": {"n": 1, "k": 0, "t": "1 ressource\ndomicile : 1"}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.3039, 49.886]},
             "properties": {"n": 4, "k": 2,
                            "t": "4 ressources\nPA héb. : 2\nHôpitaux : 1\npharmacie_biologie : 1"}},
        ]},
        "families": ["domicile", "hopitaux", "pa_hebergement", "pharmacie_biologie"],
        "palette": ["#ffbb78", "#1f77b4", "#d62728", settings.MAP_FALLBACK_COLOR],
        "cell_deg": 1.0,
    }


def test_results_layer_switches_to_aggregation_above_threshold(tiny_cat, tiny_records):
    colors = umap.family_colors(tiny_cat.families)
    points = umap.build_results_layer(tiny_records, colors, tiny_cat.family_order(), max_points=5)
    assert (points.mode, points.drawn, points.located) == ("points", 5, 5)
    agg = umap.build_results_layer(tiny_records, colors, tiny_cat.family_order(), max_points=4)
    assert (agg.mode, agg.located) == ("aggregate", 5)
    assert agg.drawn >= 1
    kinds = [type(c).__name__ for c in points.group._children.values()]
    assert kinds == ["PointsLayer", "FitResultsLayer"]  # the view follows the results
    assert [type(c).__name__ for c in agg.group._children.values()] == ["AggregateLayer"]


def test_search_area_layer_draws_centre_shape_and_fits_the_results(tiny_cat, tiny_records):
    colors = umap.family_colors(tiny_cat.families)
    area = SearchArea(lat=49.9, lon=2.3, label="Centre : <b>Amiens</b>",
                           caption="Rayon de 5 km (à vol d'oiseau)", radius_m=5000.0)
    bounds = results_bounds(tiny_records, area)
    # every located result, the centre and the whole circle are inside the fitted view
    lat = tiny_records["lat"].dropna()
    lon = tiny_records["lon"].dropna()
    (s_, w), (n, e) = bounds
    assert s_ <= min(lat.min(), 49.9 - 5000 / 111_320) and n >= max(lat.max(), 49.9 + 0.0449)
    assert w <= lon.min() and e >= lon.max()
    layer = umap.build_results_layer(tiny_records, colors, tiny_cat.family_order(), version=7,
                                     search_area=SearchArea(**{**area.__dict__, "bounds": bounds}))
    kinds = [type(c).__name__ for c in layer.group._children.values()]
    assert kinds == ["PointsLayer", "SearchAreaLayer"]
    script = next(c for c in layer.group._children.values()
                  if type(c).__name__ == "SearchAreaLayer").area_js
    assert "<b>" not in script  # escaped for the script; the browser shows it as text
    data = json.loads(script)
    assert (data["label"], data["radius"], data["version"]) == ("Centre : <b>Amiens</b>", 5000.0, 7)


def test_selection_rings(tiny_records):
    rings = umap.selection_rings(tiny_records, ["800000037", "999999999", "800000011"], "800000045")
    assert rings == [(50.105, 1.833, False), (49.894, 2.2955, False), (49.88, 2.27, True)]
    assert umap.selection_rings(tiny_records, [], None) == []


def test_js_json_cannot_close_a_script():
    text = leaflet.js_json({"n": "</script><script>alert(1)</script> & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"n": "</script><script>alert(1)</script> & \u2028"}


def test_legend_html_escapes_labels():
    html = umap.legend_html([umap.LegendEntry("x", "Autres <b>gras</b> & \"cités\"", "#123456", 3),
                             umap.LegendEntry("y", "Y", "red;background:url(http://x)")])
    assert html == (
        '<details open><summary>Familles</summary><ul>'
        '<li><span class="dot" style="background:#123456"></span>'
        'Autres &lt;b&gt;gras&lt;/b&gt; &amp; &quot;cités&quot; <span class="n">3</span></li>'
        f'<li><span class="dot" style="background:{settings.MAP_FALLBACK_COLOR}"></span>Y</li>'
        '</ul></details>')


def test_legend_entries_follow_the_family_order(tiny_cat):
    colors = umap.family_colors(tiny_cat.families)
    labels = dict(zip(tiny_cat.families["family"], tiny_cat.families["family_label"]))
    assert umap.legend_entries({"domicile": 1, "inconnue": 2, "hopitaux": 4}, labels, colors,
                               tiny_cat.family_order()) == [
        umap.LegendEntry("hopitaux", "Hôpitaux et cliniques", "#1f77b4", 4),
        umap.LegendEntry("domicile", "Aide et soins à domicile", "#ffbb78", 1),
        umap.LegendEntry("inconnue", "inconnue", settings.MAP_FALLBACK_COLOR, 2)]


def test_finess_from_tooltip():
    assert umap.finess_from_tooltip("CH D'AMIENS\nCentre Hospitalier · Amiens\nN° FINESS 800000045") == "800000045"
    assert umap.finess_from_tooltip("CH D'AMIENSCentre HospitalierN° FINESS 2A0000012") == "2A0000012"
    assert umap.finess_from_tooltip("4 ressources\nHôpitaux : 1") is None
    assert umap.finess_from_tooltip(None) is None


def test_base_layers_of_a_territory(tiny_cat):
    base = umap.base_layers(tiny_cat, "DAC-80")
    assert (base.key, base.title, base.bounds) == ("DAC-80", "DAC Somme", (1.7, 49.8, 2.4, 50.2))
    assert [e.family for e in base.legend] == ["hopitaux", "pa_hebergement", "domicile",
                                               "pharmacie_biologie"]
    assert len(base.territory["features"]) == 1
    assert len(base.departments["features"]) == 2  # the Somme and its neighbour
    assert len(base.communes["features"]) == 2
    national = umap.base_layers(tiny_cat, None)
    assert (national.key, national.bounds) == ("national", umap.FRANCE_BOUNDS)
    assert national.communes["features"] == [] and national.territory["features"] == []


def _render(m: folium.Map) -> str:
    return m.get_root().render()


def test_base_map_is_offline_without_tiles(tiny_cat, tiny_records):
    m = umap.build_base_map(umap.base_layers(tiny_cat, "DAC-80"), tiles="none")
    m.add_child(umap.build_results_layer(tiny_records, umap.family_colors(tiny_cat.families)).group)
    js, css = _links(m)
    assert js == [leaflet.asset_url("leaflet.js")]
    assert css == [leaflet.asset_url("leaflet.css")]
    assert all(not re.match(r"[a-z]+://|//", u) for u in js + css)
    html = _render(m)
    assert re.findall(r"https?://", html) == []
    assert "L.tileLayer" not in html
    assert "preferCanvas" in html
    # untrusted names only inside JSON with < > escaped, never as markup
    assert "<script>alert(1)" not in html
    assert "\\u003cscript\\u003ealert(1)" in html


def test_base_map_with_tiles_uses_the_setting(tiny_cat):
    url = "http://tiles.example.lan/{z}/{x}/{y}.png"
    m = umap.build_base_map(umap.base_layers(tiny_cat, "DAC-80"), tiles=url)
    html = _render(m)
    assert "L.tileLayer" in html and "tiles.example.lan" in html
    assert set(re.findall(r"https?://([^/\"']+)", html)) == {"tiles.example.lan"}


def test_base_map_script_is_stable(tiny_cat):
    """Same territory, same Leaflet script: streamlit-folium keeps its iframe."""
    from streamlit_folium import _get_map_string, generate_js_hash

    def key() -> str:
        m = umap.build_base_map(umap.base_layers(tiny_cat, "DAC-80"), tiles="none")
        m.get_root().render()
        return generate_js_hash(_get_map_string(m), "k")

    assert key() == key()


def test_results_feature_group_script(tiny_cat, tiny_records):
    from streamlit_folium import _get_feature_group_string, _get_map_string

    m = umap.build_base_map(umap.base_layers(tiny_cat, "DAC-80"), tiles="none")
    m.get_root().render()
    _get_map_string(m)
    legend = [umap.LegendEntry("hopitaux", "Hôpitaux <i>", "#1f77b4", 1)]
    layer = umap.build_results_layer(tiny_records, umap.family_colors(tiny_cat.families),
                                     tiny_cat.family_order(), selected=["800000011"], version=7,
                                     legend=legend)
    script = _get_feature_group_string(layer.group, m)
    assert "ctl.addTo(map_div);" in script and "Hôpitaux \\u0026lt;i\\u0026gt;" in script
    assert "L.geoJSON(" in script and "L.circleMarker(" in script
    points = script[script.index("L.geoJSON("):script.index("var selection")] if "var selection" in script else script
    assert "textContent" in points and "innerHTML" not in points
    assert 'window.dacMap = {mode: "points", markers: n, version: 7}' in script
    assert "<script>" not in script
    # streamlit-folium rewrites folium's random element ids into stable names (same script
    # for the same result: no redraw): the layers are there under those names, no random id left
    assert "var selection_layer_feature_group_0_1 = (function () {" in script
    assert "var points_layer_feature_group_0_0 = (function () {" in script
    assert re.findall(r"_[0-9a-f]{32}\b", script) == []
    assert "[[49.894,2.2955,false]]" in script


def test_page_table_and_records_columns(tiny_records):
    assert set(umap.MAP_COLUMNS) <= set(tiny_records.columns)
    assert isinstance(tiny_records, pd.DataFrame)
