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

The Leaflet elements themselves (offline map, layers, legend, tooltips) are in
:mod:`dac_map.ui.leaflet`: every asset URL points to the vendored files served by Streamlit
(``settings.UI_ASSETS_URL``), no CDN. Untrusted text (establishment names...) only reaches the
page through ``textContent`` in the browser, or :func:`html.escape` here; data embedded in
scripts goes through :func:`~dac_map.ui.leaflet.js_json`. The search shape around a place
and the fitted view are data of :mod:`dac_map.ui.search_area`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import folium
import numpy as np
import pandas as pd
import shapely

from dac_map import settings
from dac_map.codes import FINESS_PATTERN, departments_of
from dac_map.ui.leaflet import (
    AggregateLayer,
    FitResultsLayer,
    SearchAreaLayer,
    Legend,
    OfflineMap,
    PointsLayer,
    RawElement,
    SelectionLayer,
    StaticGeoJson,
)
from dac_map.ui.search_area import SearchArea, results_bounds
from dac_map.ui.text import text_or_empty



#: A legend with more lines than this starts closed (one click opens it; the choice is kept).
LEGEND_OPEN_MAX = 8

#: Colour of the territory outline and of the other boundaries.
TERRITORY_COLOR = "#08306b"
BOUNDARY_COLOR = "#8c96a0"


_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_FINESS_IN_TEXT = re.compile(rf"FINESS\D{{0,3}}({FINESS_PATTERN})")


# --------------------------------------------------------------------------- helpers


def tooltip_match(pattern: re.Pattern[str], text: object) -> str | None:
    """The first group of ``pattern`` in the text of a clicked marker's tooltip, or None."""
    m = pattern.search(text) if isinstance(text, str) else None
    return m.group(1) if m else None


def finess_from_tooltip(text: object) -> str | None:
    """The FINESS number in the text of a marker tooltip (as returned for a click), or None."""
    return tooltip_match(_FINESS_IN_TEXT, text)


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
        dep_of = departments_of(communes["code"])
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


def legend_html(entries: Sequence[LegendEntry], title: str = "Familles",
                opened: bool = True, css_class: str = "",
                empty: str = "Aucune ressource ne correspond") -> str:
    """HTML of the legend: a ``<details>`` element (open unless ``opened`` is False; class
    ``css_class``, e.g. ``social``) listing the families with their colour and count, ``empty``
    when there is none; every label escaped, colours validated ``#rrggbb``."""
    rows = []
    for e in entries:
        color = e.color if _HEX_COLOR.fullmatch(e.color or "") else settings.MAP_FALLBACK_COLOR
        count = f' <span class="n">{int(e.count)}</span>' if e.count is not None else ""
        rows.append(f'<li><span class="dot" style="background:{color}"></span>'
                    f"{html.escape(e.label)}{count}</li>")
    if not rows:
        rows.append(f'<li class="none">{html.escape(empty)}</li>')
    klass = f' class="{html.escape(css_class)}"' if css_class else ""
    return (f'<details{klass}{" open" if opened else ""}><summary>{html.escape(title)}</summary>'
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
.dacmap-legend .social .dot {{ border: 2px solid #3f007d; box-shadow: none; }}
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
        RawElement(_MAP_CSS.format(background=settings.MAP_BACKGROUND)), name="dacmap_css")
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
    fam_ids = [text_or_empty(v) for v in rec["family"]] if len(rec) else []
    families, fpos = _index([f for f in family_order if f in set(fam_ids)] + fam_ids)
    categories, cpos = _index(text_or_empty(v) for v in rec["category_label"]) if len(rec) else ([], {})
    communes, mpos = _index(text_or_empty(v) for v in rec["commune_name"]) if len(rec) else ([], {})
    features = []
    if len(rec):
        for f, n, c, m_, k, x, y in zip(rec["finess"], rec["name"], rec["category_label"],
                                         rec["commune_name"], fam_ids, rec["lon"], rec["lat"]):
            features.append({"type": "Feature",
                             "geometry": {"type": "Point",
                                          "coordinates": [round(float(x), 5), round(float(y), 5)]},
                             "properties": {"f": text_or_empty(f), "n": text_or_empty(n), "k": fpos[k],
                                            "c": cpos[text_or_empty(c)], "m": mpos[text_or_empty(m_)]}})
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


@dataclass(frozen=True)
class SocialLayerInput:
    """The social resources of a search for :func:`build_results_layer` (issue 16): the
    payload of :func:`dac_map.ui.social_layer.social_payload`, the counts per social family
    (legend), their located ``points`` (``lat``/``lon`` columns, WGS84 degrees, to fit the view)
    and whether FINESS results are shown beside them."""

    payload: Mapping[str, object]
    counts: Mapping[str, int]
    points: pd.DataFrame
    finess_shown: bool = True
    total: int | None = None  # resources found (a resource of two families counts once); None: sum of counts


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
                        legend: Sequence[LegendEntry] | None = None,
                        search_area: SearchArea | None = None,
                        social: SocialLayerInput | None = None) -> ResultsLayer:
    """The results as a feature group: points (at most ``max_points``, default
    ``settings.MAP_MAX_POINTS``) or counts per grid cell above, plus selection rings and the
    legend (``legend``, with the counts of the result, « Aucune ressource » when empty; None:
    no legend). ``version`` is published with the marker count (browser tests wait on it).
    ``search_area``: the centre and radius / reachable area of a search around a place; the
    view is fitted to the results once per ``version`` (without a centre too, unless the
    result set is aggregated). ``social`` (issue 16): the social resources of the search, drawn
    by their own layer (:mod:`dac_map.ui.social_layer`) with their own legend section; without
    FINESS results (``social.finess_shown`` False) the legend has only that section."""
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
    body = ""
    if legend is not None and (social is None or social.finess_shown):
        # Even for an empty result: it replaces the previous legend, whose counts would
        # otherwise stay on screen (issue 10). Open when short; a long one starts closed.
        title = f"Familles ({len(legend)})"
        body = legend_html(legend, title, opened=len(legend) <= LEGEND_OPEN_MAX)
    social_points = pd.DataFrame({"lat": [], "lon": []})
    if social is not None:
        from dac_map.ui.social_layer import SocialLayer, legend_section

        group.add_child(SocialLayer(social.payload, version))
        body += legend_section(social.counts, social.total)
        social_points = social.points
    if body:
        group.add_child(Legend(body))
    # ---- issue 12: the map follows the search
    if search_area is not None:
        group.add_child(SearchAreaLayer(search_area, version))
    elif (mode == "points" and located) or len(social_points):
        shown = records[["lat", "lon"]] if mode == "points" and len(records) else None
        both = pd.concat([p for p in (shown, social_points[["lat", "lon"]]) if p is not None and len(p)],
                         ignore_index=True)
        group.add_child(FitResultsLayer(results_bounds(both, None), version))
    return ResultsLayer(group, mode, drawn, located)


__all__ = [
    "SocialLayerInput",
    "MAP_COLUMNS",
    "BaseLayers",
    "LegendEntry",
    "ResultsLayer",
    "aggregate_payload",
    "base_layers",
    "build_base_map",
    "build_results_layer",
    "family_colors",
    "finess_from_tooltip",
    "legend_entries",
    "legend_html",
    "points_payload",
    "selection_rings",
]
