"""Exports of search results: a table with French column headers (CSV, spreadsheets) and a
GeoJSON FeatureCollection in WGS84 (EPSG:4326, lon/lat degrees)."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pandas as pd
import shapely

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
    for c in ("capacity_installed", "capacity_authorised", "specialty_installed", "specialty_authorised"):
        if c in frame:
            frame[c] = frame[c].astype("Int64")
    if "updated" in frame:
        frame["updated"] = pd.to_datetime(frame["updated"]).dt.strftime("%Y-%m-%d")
    return frame.rename(columns=FRENCH_HEADERS)


def _json_value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (int, float, str, bool)):
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
