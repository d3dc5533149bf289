"""Validated data·inclusion services (with their structures) as catalogue resources.

One resource per service: the ``ressources_sociales`` table of the store (an attribute table,
``lon``/``lat`` in WGS84 degrees, EPSG:4326) and, for the "Intervient à <commune>" filter, the
``zones_ressources_sociales`` table (``resource_id``, ``code``, ``kind``: one row per zone code
- commune, department, EPCI or ``france`` - kept compact: a department-wide service is one row,
not 500; :mod:`dac_map.inclusion.filters` matches a commune against its own code, its
department, its EPCI and ``france``). :data:`COLUMNS` lists the columns.

Personal data: the name of a contact person and the service's e-mail are kept only when the
source marks the contact as public (``contact_public`` true, as the 2024 API field set and the
steward table do); schema v1 has no such mark, so v1 files bring no contact names or service
e-mails into the store. The structure's e-mail (an organisation's address) is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dac_map.inclusion import vocab
from dac_map.inclusion.hours import french_hours
from dac_map.inclusion.zones import ZoneExpander, code_kind

RESOURCES_LAYER = "ressources_sociales"
ZONES_LAYER = "zones_ressources_sociales"
MATCHES_LAYER = "correspondances_finess"

ORIGIN_DI = "data·inclusion"
ORIGIN_LOCAL = "ressource locale (DAC)"

COLUMNS: tuple[str, ...] = (
    "resource_id", "origin", "source", "service_id", "structure_id", "structure_name", "name",
    "description", "service_type", "thematics", "families", "publics", "fee", "fee_details",
    "publics_details", "access_conditions", "address", "postcode", "city", "commune", "lon",
    "lat", "located_by", "phone", "email", "contact_name", "link", "mobilisation_link",
    "mobilisation", "hours_osm", "hours_fr", "zone_codes", "zone_label", "zone_national",
    "zone_unexpanded", "quality", "updated", "siret", "finess", "fictitious", "sources_label",
)


@dataclass(frozen=True)
class Resource:
    """One row of :data:`RESOURCES_LAYER` (``row``) and its zone codes (``(code, kind)``)."""

    row: dict
    zone: tuple[tuple[str, str], ...]


def _num(v: object) -> float:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _first(*values: object) -> object:
    for v in values:
        if v not in (None, "", []):
            return v
    return None


def build_resource(service: Mapping, structure: Mapping | None, zones: ZoneExpander,
                   *, origin: str = ORIGIN_DI, centroids: Mapping[str, tuple[float, float]] | None = None
                   ) -> Resource:
    """The resource of one validated v1 service (plain dict from
    :class:`~dac_map.inclusion.validate.Validator`) and its structure (or ``None``).

    Args:
        centroids: commune code -> (lon, lat) WGS84 degrees, to place a resource that has no
            coordinates of its own nor its structure's at its commune.
    """
    st = structure or {}
    public = service.get("contact_public") is True
    lon, lat = _num(service.get("longitude")), _num(service.get("latitude"))
    located = "service"
    if math.isnan(lon) or math.isnan(lat):
        lon, lat = _num(st.get("longitude")), _num(st.get("latitude"))
        located = "structure"
    commune = _first(service.get("code_insee"), st.get("code_insee"))
    if (math.isnan(lon) or math.isnan(lat)) and centroids and commune in centroids:
        lon, lat = centroids[commune]
        located = "commune"
    if math.isnan(lon) or math.isnan(lat):
        located = ""
    themes = sorted(service.get("thematiques") or ())
    zone_codes = list(service.get("zone_eligibilite") or ())
    zone = zones.describe(zone_codes)
    zone_rows = tuple((c, code_kind(c)) for c in dict.fromkeys(zone_codes))
    if not zone_codes and commune:
        zone_rows = ((commune, "commune"),)  # no declared area: the service serves its commune
    fam = list(service.get("families") or vocab.families_of(themes))
    hours = _first(service.get("horaires_accueil"), st.get("horaires_accueil"))
    source = service.get("source") or ""
    row = {
        "resource_id": f"{'di' if origin == ORIGIN_DI else 'local'}:{service['id']}",
        "origin": origin,
        "source": source,
        "service_id": service["id"],
        "structure_id": service.get("structure_id"),
        "structure_name": st.get("nom"),
        "name": service["nom"],
        "description": service.get("description"),
        "service_type": vocab.SERVICE_TYPES.get(service.get("type") or "", None),
        "thematics": themes,
        "families": [vocab.FAMILY_PREFIX + f for f in fam],
        "publics": sorted(service.get("publics") or ()),
        "fee": service.get("frais"),
        "fee_details": service.get("frais_precisions"),
        "publics_details": service.get("publics_precisions"),
        "access_conditions": service.get("conditions_acces"),
        "address": _first(service.get("adresse"), st.get("adresse")),
        "postcode": _first(service.get("code_postal"), st.get("code_postal")),
        "city": _first(service.get("commune"), st.get("commune")),
        "commune": commune,
        "lon": lon,
        "lat": lat,
        "located_by": located,
        "phone": _first(service.get("telephone"), st.get("telephone")),
        "email": service.get("courriel") if public else st.get("courriel"),
        "contact_name": service.get("contact_nom_prenom") if public else None,
        "link": _first(service.get("lien_source"), st.get("site_web"), st.get("lien_source")),
        "mobilisation_link": service.get("lien_mobilisation"),
        "mobilisation": sorted(vocab.MOBILISATION_MODES.get(m, m) for m in service.get("modes_mobilisation") or ()),
        "hours_osm": hours,
        "hours_fr": french_hours(hours),
        "zone_codes": zone_codes,
        "zone_label": zone.label or (f"commune {commune}" if commune else ""),
        "zone_national": zone.national,
        "zone_unexpanded": list(zone.unexpanded),
        "quality": _num(service.get("score_qualite")),
        "updated": service.get("date_maj"),
        "siret": st.get("siret"),
        "finess": None,
        "fictitious": bool(service.get("fictif")),
        "sources_label": f"{origin} ({source})" if source else origin,
    }
    return Resource(row, zone_rows)


def frames(resources: Iterable[Resource]):
    """The two store tables (``ressources_sociales``, ``zones_ressources_sociales``) as pandas
    DataFrames."""
    import pandas as pd

    rows, zone_ids, zone_codes, zone_kinds = [], [], [], []
    for r in resources:
        rows.append(r.row)
        rid = r.row["resource_id"]
        for code, kind in r.zone:
            zone_ids.append(rid)
            zone_codes.append(code)
            zone_kinds.append(kind)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    zones = pd.DataFrame({"resource_id": pd.Series(zone_ids, dtype="string"),
                          "code": pd.Series(zone_codes, dtype="string"),
                          "kind": pd.Series(zone_kinds, dtype="string")})
    return table, zones
