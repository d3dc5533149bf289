"""Exports of search results: a table with French column headers (CSV, spreadsheets) and a
GeoJSON FeatureCollection in WGS84 (EPSG:4326, lon/lat degrees), and a rich table for the
terminal; for the FINESS establishments and for the social resources (:mod:`dac_map.query.social`)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dac_map.query.search import plain_value
from dac_map.query.social import KIND_SOCIAL

if TYPE_CHECKING:
    from rich.table import Table

    from dac_map.query.search import SearchResult

#: Result column -> French header, in export order (columns absent from a result are skipped).
FRENCH_HEADERS: dict[str, str] = {
    "finess": "N° FINESS",
    "name": "Nom",
    "long_name": "Raison sociale longue",
    "category": "Code catégorie",
    "category_label": "Catégorie",
    "family_label": "Famille",
    "address": "Adresse",
    "address_complement": "Complément d'adresse",
    "postcode": "Code postal",
    "city": "Localité",
    "commune": "Code commune INSEE",
    "commune_name": "Commune",
    "department": "Département",
    "dac_id": "Territoire DAC",
    "phone": "Téléphone",
    "capacity_installed": "Places installées",
    "capacity_authorised": "Places autorisées",
    "capacity_summary": "Capacité",
    "specialty_installed": "Places installées (spécialité demandée)",
    "specialty_authorised": "Places autorisées (spécialité demandée)",
    "distance_km": "Distance (km)",
    "travel_min": "Durée en voiture (min)",
    "score": "Score de recherche",
    "status": "Statut",
    "updated": "Mise à jour FINESS",
    "geo_precision": "Précision de la localisation",
    "lon": "Longitude (WGS84)",
    "lat": "Latitude (WGS84)",
    "finess_ej": "N° FINESS juridique",
    "data_date": "Date des données",
}


def to_french_table(records: pd.DataFrame) -> pd.DataFrame:
    """The records with French headers, without geometry; distances rounded to 0.1 km."""
    cols = [c for c in FRENCH_HEADERS if c in records.columns]
    frame = pd.DataFrame(records[cols]).copy()
    if "distance_km" in frame:
        frame["distance_km"] = frame["distance_km"].round(2)
    if "travel_min" in frame:
        frame["travel_min"] = frame["travel_min"].round(1)
    for c in ("capacity_installed", "capacity_authorised", "specialty_installed", "specialty_authorised"):
        if c in frame:
            frame[c] = frame[c].astype("Int64")
    if "updated" in frame:
        frame["updated"] = pd.to_datetime(frame["updated"]).dt.strftime("%Y-%m-%d")
    return frame.rename(columns=FRENCH_HEADERS)


def _json_value(value: object) -> object:
    value = plain_value(value)
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def to_geojson(records: gpd.GeoDataFrame) -> dict[str, object]:
    """GeoJSON FeatureCollection (RFC 7946, WGS84 lon/lat): one Point per record (``null``
    geometry when the establishment has no coordinates), every other column in properties."""
    if records.crs is not None and not records.crs.equals("EPSG:4326"):
        records = records.to_crs("EPSG:4326")
    props = pd.DataFrame(records.drop(columns=records.geometry.name))
    features = []
    geoms = records.geometry.to_numpy()
    for geom, rec in zip(geoms, props.to_dict(orient="records")):
        g = None
        if geom is not None and not shapely.is_empty(geom):
            g = json.loads(shapely.to_geojson(geom))
        features.append({"type": "Feature", "geometry": g,
                         "properties": {k: _json_value(v) for k, v in rec.items()}})
    return {"type": "FeatureCollection", "features": features}


def to_rich_table(result: SearchResult) -> Table:
    """A :class:`rich.table.Table` of a :class:`~dac_map.query.search.SearchResult` page for the
    terminal. Every value is escaped: names such as ``[bold]`` or ``<script>`` print verbatim."""
    from rich.markup import escape
    from rich.table import Table

    rec = result.records
    title = escape(result.message)
    table = Table(title=title, show_lines=True, expand=False)
    cols: list[tuple[str, str, str]] = [
        ("finess", "FINESS", "left"), ("name", "Nom · catégorie", "left"),
        ("commune_name", "Commune", "left"), ("phone", "Tél.", "left"),
        ("capacity_installed", "Places", "right"),
    ]
    if "specialty_installed" in rec:
        cols.append(("specialty_installed", "Spéc.", "right"))
    if "distance_km" in rec:
        cols.append(("distance_km", "km", "right"))
    if "travel_min" in rec:
        cols.append(("travel_min", "min", "right"))
    if "score" in rec:
        cols.append(("score", "Score", "right"))
    for key, header, justify in cols:
        if key == "name":
            table.add_column(header, justify=justify, overflow="fold", min_width=14, ratio=1)
        elif key == "commune_name":
            table.add_column(header, justify=justify, overflow="fold", min_width=8, max_width=16)
        else:
            table.add_column(header, justify=justify, no_wrap=True)
    for row in rec.itertuples(index=False):
        cells = []
        for key, _, _ in cols:
            value = getattr(row, key)
            if key == "name":
                label = row.category_label if isinstance(row.category_label, str) else ""
                cells.append(escape(str(value)) + (f"\n[dim]{escape(label)}[/dim]" if label else ""))
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("")
            elif key in ("distance_km", "travel_min"):
                cells.append(f"{value:.1f}".replace(".", ","))
            elif key in ("capacity_installed", "specialty_installed"):
                cells.append(str(int(value)))
            elif key == "score":
                cells.append(f"{value:.0f}")
            else:
                cells.append(escape(str(value)))
        table.add_row(*cells)
    return table


# --------------------------------------------------------------------------- social resources (issue 16)

#: Social result column -> French header, in export order.
SOCIAL_HEADERS: dict[str, str] = {
    "kind": "Type de ressource", "resource_id": "Identifiant", "name": "Nom",
    "structure_name": "Structure", "families": "Besoin social", "publics": "Publics", "fee": "Frais",
    "address": "Adresse", "postcode": "Code postal", "city": "Localité", "commune": "Code commune INSEE",
    "phone": "Téléphone", "hours_fr": "Horaires", "zone_label": "Intervient sur",
    "quality": "Score de qualité data·inclusion", "distance_km": "Distance (km)",
    "sources_label": "Source", "updated": "Mis à jour le", "finess": "N° FINESS",
    "fictitious": "Exemple fictif", "lon": "Longitude (WGS84)", "lat": "Latitude (WGS84)",
}


def social_french_table(records: pd.DataFrame) -> pd.DataFrame:
    """Social result rows with French headers (:data:`SOCIAL_HEADERS`): families and publics
    in plain French, hours on one line, « oui » for a fictitious row, distances to 0.01 km."""
    from dac_map.inclusion import vocab

    def listed(values: object, labels) -> str:
        return ", ".join(labels(str(v)) for v in values) if isinstance(values, (list, tuple, np.ndarray)) else ""

    frame = pd.DataFrame({c: records[c] if c in records else None for c in SOCIAL_HEADERS}, index=records.index)
    frame["kind"] = KIND_SOCIAL
    frame["families"] = records["families"].map(lambda v: listed(v, vocab.family_label))
    frame["publics"] = records["publics"].map(lambda v: listed(v, lambda p: vocab.PUBLICS.get(p, p)))
    frame["fee"] = records["fee"].map(lambda v: vocab.FEES.get(v, "") if isinstance(v, str) else "")
    frame["hours_fr"] = records["hours_fr"].fillna("").astype(str).str.replace("\n", " ; ", regex=False)
    frame["fictitious"] = records["fictitious"].fillna(False).astype(bool).map({True: "oui", False: ""})
    frame["distance_km"] = pd.to_numeric(records["distance_km"], errors="coerce").round(2)
    return frame.rename(columns=SOCIAL_HEADERS).reset_index(drop=True)


def social_geojson(records: pd.DataFrame) -> list[dict[str, object]]:
    """GeoJSON Features (WGS84 lon/lat) of social result rows, French-header properties
    (``null`` geometry without coordinates)."""
    table = social_french_table(records)
    out = []
    for (_, rec), props in zip(records.iterrows(), table.to_dict(orient="records")):
        lon, lat = pd.to_numeric(rec.get("lon"), errors="coerce"), pd.to_numeric(rec.get("lat"), errors="coerce")
        geom = (None if pd.isna(lon) or pd.isna(lat)
                else {"type": "Point", "coordinates": [round(float(lon), 6), round(float(lat), 6)]})
        clean = {k: (None if (isinstance(v, float) and not np.isfinite(v)) else v) for k, v in props.items()}
        out.append({"type": "Feature", "geometry": geom, "properties": clean})
    return out


def to_rich_social_table(records: pd.DataFrame):
    """A :class:`rich.table.Table` of social result rows for the terminal; every value escaped
    (names such as ``[bold]`` or ``<script>`` print verbatim)."""
    from rich.markup import escape
    from rich.table import Table

    from dac_map.inclusion import vocab

    table = Table(show_lines=True, expand=False)
    for header, kw in (("Nom · besoin social", {"overflow": "fold", "min_width": 14, "ratio": 1}),
                       ("Localité", {"overflow": "fold", "max_width": 16}), ("Tél.", {"no_wrap": True}),
                       ("Qualité", {"justify": "right"}), ("km", {"justify": "right"}),
                       ("Source", {"overflow": "fold", "max_width": 28})):
        table.add_column(header, **kw)
    for _, r in records.iterrows():
        fams = ", ".join(vocab.family_label(str(f)) for f in (r["families"] or []))
        fict = "\n[bold]EXEMPLE FICTIF[/bold]" if bool(r.get("fictitious")) else ""
        q, d = pd.to_numeric(r.get("quality"), errors="coerce"), pd.to_numeric(r.get("distance_km"), errors="coerce")
        table.add_row(escape(str(r["name"])) + (f"\n[dim]{escape(fams)}[/dim]" if fams else "") + fict,
                      escape(str(r.get("city") or "")), escape(str(r.get("phone") or "")),
                      "" if pd.isna(q) else f"{q:.2f}".replace(".", ","),
                      "" if pd.isna(d) else f"{d:.1f}".replace(".", ","),
                      escape(str(r.get("sources_label") or "")))
    return table
