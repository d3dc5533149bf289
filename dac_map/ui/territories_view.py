"""DAC territories in the app (issue 13): "which DAC for this commune" wherever a commune shows,
the national view's coloured territories and DAC list, the DAC directory layer of the map (the
stewards' territory editor page is :mod:`dac_map.ui.territories_editor`).

Map layers are GeoJSON in WGS84 (EPSG:4326, lon/lat degrees). Every name shown comes from data
and is escaped (Markdown with :func:`~dac_map.ui.text.md`, HTML with :func:`html.escape`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import folium
import numpy as np
import pandas as pd
import shapely
import streamlit as st

from dac_map import settings
from dac_map.territories import DacContact
from dac_map.territories.catalogue import dac_lookup, directory
from dac_map.ui.text import md, plain

#: Palette of the national view (territories coloured so that neighbours differ, mostly).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896")
DAC_LAYER_COLOR = "#08306b"


# --------------------------------------------------------------------------- which DAC

def contact_markdown(contact: DacContact) -> str:
    """``**DAC** : name — [03 53 …](tel:…)`` (name escaped; the ``tel:`` target is digits)."""
    if not contact.phone:
        return f"{md(contact.name)} — numéro non renseigné"
    return (f"{md(contact.name)} — [{md(contact.phone_display)}]({contact.tel_href()})"
            + (" :orange[(numéro fictif, démonstration)]" if contact.fictitious else ""))


def dac_line(catalogue, commune: str | None, label: str = "DAC") -> str | None:
    """One Markdown line saying which DAC covers ``commune`` (with its number), None when the
    commune is unknown. A commune claimed by two DACs names both (with a warning)."""
    if not commune:
        return None
    found = dac_lookup(catalogue).for_commune(commune)
    if not found:
        return f":material/support_agent: {md(label)} : aucun territoire DAC ne couvre cette commune"
    line = f":material/support_agent: {md(label)} : {contact_markdown(found[0])}"
    if len(found) > 1:
        line += " — :orange[commune aussi revendiquée par " + ", ".join(md(c.name) for c in found[1:]) + "]"
    return line


def commune_at(catalogue, lon: float, lat: float) -> str | None:
    """INSEE code of the commune outline containing a WGS84 point (degrees), or None."""
    communes = catalogue.communes
    if not len(communes):
        return None
    b = catalogue.commune_bounds
    cand = np.flatnonzero((b[:, 0] <= lon) & (b[:, 2] >= lon) & (b[:, 1] <= lat) & (b[:, 3] >= lat))
    for i in cand:
        if shapely.intersects_xy(communes.geometry.iat[i], lon, lat):
            return str(communes["code"].iat[i])
    return None


def centre_commune(catalogue, near) -> str | None:
    """The commune of a search centre (:class:`~dac_map.ui.state.Near`): its commune, the
    commune of its establishment, or the commune containing its point."""
    if near is None:
        return None
    if getattr(near, "commune", None):
        return str(near.commune)
    fin = getattr(near, "finess", None)
    if fin and fin in catalogue.finess_row:
        code = catalogue.establishments["commune"].iat[catalogue.finess_row[fin]]
        return None if pd.isna(code) else str(code)
    point = getattr(near, "point", None)
    if point is not None:
        return commune_at(catalogue, float(point[0]), float(point[1]))
    return None


def contacts_by_commune(catalogue, communes: Iterable[object]) -> dict[str, DacContact]:
    """Commune -> the DAC answering for it (communes without one are left out)."""
    look = dac_lookup(catalogue)
    out = {}
    for c in communes:
        code = plain(c)
        if code and code not in out:
            first = look.first(code)
            if first is not None:
                out[code] = first
    return out


# --------------------------------------------------------------------------- map layers

def _label_html(name: str, phone: str) -> str:
    return html.escape(name) + ("<br>Tél. " + html.escape(phone) if phone else "")


def national_territories_layer(catalogue) -> folium.GeoJson | None:
    """The territories filled with distinct colours, tooltip name + phone (national view); the
    simplified GeoJSON is built once per catalogue."""
    data = catalogue.cached(("territories", "national_fill"), lambda: _national_features(catalogue))
    if data is None:
        return None
    return folium.GeoJson(
        data, name="territoires DAC",
        style_function=lambda f: {"fillColor": f["properties"]["color"], "color": "#333333",
                                  "weight": 0.8, "fillOpacity": 0.35},
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False))


def _national_features(catalogue) -> dict | None:
    terr = catalogue.territories
    if not len(terr):
        return None
    look = dac_lookup(catalogue)
    feats = []
    for i, (tid, geom) in enumerate(zip(terr["dac_id"], terr.geometry)):
        if geom is None or shapely.is_empty(geom):
            continue
        c = look.contact(str(tid))
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(
            shapely.simplify(geom, settings.MAP_SIMPLIFY_DEG * 6)),
            "properties": {"color": PALETTE[i % len(PALETTE)],
                           "label": _label_html(c.name if c else str(tid), c.phone_display if c else "")}})
    return {"type": "FeatureCollection", "features": feats} if feats else None


def directory_layer(catalogue) -> folium.GeoJson | None:
    """The DAC directory (FINESS 606/801) as its own map layer: squares-like large circles
    with the DAC's name and phone."""
    d = directory(catalogue)
    d = d[d["lon"].notna() & d["lat"].notna()] if len(d) else d
    if not len(d):
        return None
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
              "properties": {"label": "DAC — " + _label_html(plain(n), plain(p))}}
             for x, y, n, p in zip(d["lon"], d["lat"], d["name"], d["phone"])]
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": feats}, name="Annuaire des DAC",
        marker=folium.CircleMarker(radius=9, color="#ffffff", weight=2, fill=True,
                                   fill_color=DAC_LAYER_COLOR, fill_opacity=0.95),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False))


def render_national_dacs(catalogue) -> None:
    """The DACs of the national view with their numbers (Markdown table, names escaped)."""
    terr = catalogue.territories
    if not len(terr):
        return
    look = dac_lookup(catalogue)
    rows = ["| DAC | Téléphone | Départements | Communes listées |", "|---|---|---|---|"]
    for tid, deps, coms in zip(terr["dac_id"], terr["departments"], terr["communes"]):
        c = look.contact(str(tid))
        if c is None:
            continue
        phone = f"[{md(c.phone_display)}]({c.tel_href()})" if c.phone else "non renseigné"
        rows.append(f"| {md(c.name)} | {phone} | {md(plain(deps))} | {len(plain(coms).split())} |")
    with st.expander(f"Les {len(rows) - 2} territoires DAC et leur numéro unique", expanded=False):
        st.markdown("\n".join(rows))


__all__ = ["centre_commune", "commune_at", "contact_markdown", "contacts_by_commune", "dac_line",
           "directory_layer", "national_territories_layer", "render_national_dacs"]
