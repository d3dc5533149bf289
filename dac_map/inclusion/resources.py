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
from functools import lru_cache
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
    if v.__class__ is float:
        return v  # type: ignore[return-value]
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


_EMPTY: Mapping = {}


@lru_cache(maxsize=8192)
def _families(themes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(vocab.FAMILY_PREFIX + f for f in vocab.families_of(themes))


@lru_cache(maxsize=1024)
def _sources_label(origin: str, source: str) -> str:
    return f"{origin} ({source})" if source else origin


@lru_cache(maxsize=1024)
def _mobilisation(modes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(vocab.MOBILISATION_MODES.get(m, m) for m in modes))


@lru_cache(maxsize=65536)
def _zone_rows(codes: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((c, code_kind(c)) for c in dict.fromkeys(codes))


def build_resource(service: Mapping, structure: Mapping | None, zones: ZoneExpander,
                   *, origin: str = ORIGIN_DI, centroids: Mapping[str, tuple[float, float]] | None = None
                   ) -> Resource:
    """The resource of one validated v1 service (plain dict from
    :class:`~dac_map.inclusion.validate.Validator`) and its structure (or ``None``).

    Args:
        centroids: commune code -> (lon, lat) WGS84 degrees, to place a resource that has no
            coordinates of its own nor its structure's at its commune.
    """
    st = structure or _EMPTY
    sget, tget = service.get, st.get
    public = sget("contact_public") is True
    lon, lat = _num(sget("longitude")), _num(sget("latitude"))
    located = "service"
    if lon != lon or lat != lat:
        lon, lat = _num(tget("longitude")), _num(tget("latitude"))
        located = "structure"
    commune = sget("code_insee") or tget("code_insee")
    if (lon != lon or lat != lat) and centroids and commune in centroids:
        lon, lat = centroids[commune]
        located = "commune"
    if lon != lon or lat != lat:
        located = ""
    themes = tuple(sorted(sget("thematiques") or ()))
    zone_codes = tuple(sget("zone_eligibilite") or ())
    zone = zones.describe(zone_codes)
    zone_rows = _zone_rows(zone_codes) if zone_codes else (((commune, "commune"),) if commune else ())
    fam = sget("families") or _families(themes)
    hours = sget("horaires_accueil") or tget("horaires_accueil")
    source = sget("source") or ""
    sid = service["id"]
    row = {
        "resource_id": ("di:" if origin == ORIGIN_DI else "local:") + sid,
        "origin": origin,
        "source": source,
        "service_id": sid,
        "structure_id": sget("structure_id"),
        "structure_name": tget("nom"),
        "name": service["nom"],
        "description": sget("description"),
        "service_type": vocab.SERVICE_TYPES.get(sget("type") or "", None),
        "thematics": list(themes),
        "families": list(fam),
        "publics": sorted(sget("publics") or ()),
        "fee": sget("frais"),
        "fee_details": sget("frais_precisions"),
        "publics_details": sget("publics_precisions"),
        "access_conditions": sget("conditions_acces"),
        "address": sget("adresse") or tget("adresse"),
        "postcode": sget("code_postal") or tget("code_postal"),
        "city": sget("commune") or tget("commune"),
        "commune": commune,
        "lon": lon,
        "lat": lat,
        "located_by": located,
        "phone": sget("telephone") or tget("telephone"),
        "email": sget("courriel") if public else tget("courriel"),
        "contact_name": sget("contact_nom_prenom") if public else None,
        "link": sget("lien_source") or tget("site_web") or tget("lien_source"),
        "mobilisation_link": sget("lien_mobilisation"),
        "mobilisation": list(_mobilisation(tuple(sget("modes_mobilisation") or ()))),
        "hours_osm": hours,
        "hours_fr": french_hours(hours),
        "zone_codes": list(zone_codes),
        "zone_label": zone.label or (f"commune {commune}" if commune else ""),
        "zone_national": zone.national,
        "zone_unexpanded": list(zone.unexpanded),
        "quality": _num(sget("score_qualite")),
        "updated": sget("date_maj"),
        "siret": tget("siret"),
        "finess": None,
        "fictitious": bool(sget("fictif")),
        "sources_label": _sources_label(origin, source),
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
