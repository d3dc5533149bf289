"""Search criteria as the unmet-need log stores them: the versioned JSON form of a
:class:`~dac_map.query.spec.SearchSpec`, and the conversion of older rows.

Stored form (column ``filters_json``): :meth:`SearchSpec.to_json`, e.g.
``{"v": 1, "dac": "DAC-80", "famille": ["pa_hebergement"], "autour": "80021", "rayon": 10}``
— French keys of :data:`dac_map.query.params.PARAMS`, a format version ``v``, never Python class
or field names (documented in :mod:`dac_map.query.spec`).

Logs written before that form (schema 1) held the query filters as
``[{"filter": "FamilyFilter", "families": [...]}, ...]`` or a free dict; :func:`from_legacy`
converts them (the original text is kept in the ``legacy_filters_json`` column, see
:mod:`dac_map.coverage.unmet`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dac_map.codes import COMMUNE_RE
from dac_map.query.errors import QueryError
from dac_map.query.near import format_point
from dac_map.query.params import PARAMS
from dac_map.query.spec import (
    JSON_VERSION,
    JSON_VERSION_FINESS_PLUS,
    JSON_VERSION_SOCIAL,
    JSON_VERSIONS,
    SearchSpec,
)

#: Field names of the former JSON (query filter dataclasses, or free dicts) -> key.
_LEGACY_KEYS: dict[str, str] = {
    "dac_id": "dac", "dac": "dac", "departments": "departement", "communes": "commune",
    "families": "famille", "family": "famille", "categories": "categorie",
    "aggregates": "agregat", "disciplines": "discipline", "activity_types": "activite",
    "clienteles": "clientele", "min_places": "capacite", "min_capacity": "capacite",
    "authorised": "autorisee", "query": "q", "text": "q", "near": "autour",
    "radius_km": "rayon", "outline": "contour", "include_closed": "fermes",
}
_KIND = {p.key: p.kind for p in PARAMS}


def _items(obj: Any) -> list[Mapping[str, Any]]:
    if isinstance(obj, Mapping):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [x for x in obj if isinstance(x, Mapping)]
    return []


def _codes(value: Any) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int)) for v in value):
        return [str(v) for v in value if str(v).strip()]
    return None


def from_legacy(obj: Any) -> tuple[dict[str, Any], bool]:
    """The versioned form of criteria stored before it existed, and whether everything was
    carried over (False: some value had no equivalent and was left out)."""
    out: dict[str, Any] = {"v": JSON_VERSION}
    complete = True

    def put(key: str, value: Any) -> None:
        nonlocal complete
        if value is None or value is False or value in ("", [], ()):
            return
        kind = _KIND[key]
        if kind == "codes":
            codes = _codes(value)
            if codes is None:
                complete = False
            elif codes:
                out[key] = list(dict.fromkeys([*out.get(key, []), *codes]))
        elif kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                complete = False
            else:
                out[key] = int(value) if kind == "int" else value
        elif kind == "bool":
            out[key] = bool(value)
        else:
            out[key] = str(value)

    def walk(item: Mapping[str, Any]) -> None:
        nonlocal complete
        cls = item.get("filter")
        for name, value in item.items():
            if name in ("filter", "min_score") or (name == "care_activities" and not value):
                continue  # class name; text-score threshold (always the default)
            if name == "open_only":
                put("fermes", value is False)
            elif name == "specialty" and isinstance(value, Mapping):
                walk(value)
            elif name == "point" and isinstance(value, (list, tuple)) and len(value) == 2:
                lon, lat = value  # the former filters held (lon, lat)
                put("autour", format_point(float(lat), float(lon)))
            elif name == "finess" or (name == "commune" and cls == "DistanceFilter"):
                put("autour", value)
            elif name == "commune":
                put("commune", value)
            elif name in _LEGACY_KEYS:
                put(_LEGACY_KEYS[name], value)
            elif value not in (None, "", [], (), {}):
                complete = False

    for item in _items(obj):
        walk(item)
    if obj is not None and not isinstance(obj, (Mapping, list, tuple)):
        complete = False
    try:
        return SearchSpec.from_json(out).to_json(), complete
    except QueryError:
        return {"v": JSON_VERSION}, False


def normalise(value: SearchSpec | Mapping[str, Any] | list | str | None) -> dict[str, Any]:
    """Criteria as given by a caller -> the versioned JSON form. A :class:`SearchSpec`, a dict
    with ``v`` (checked), JSON text of either, nothing (``{"v": 1}``), or the former forms
    (:func:`from_legacy`). Raises :class:`QueryError` for a versioned dict that is invalid and
    ValueError for text that is not JSON."""
    if isinstance(value, SearchSpec):
        return value.spec().to_json()
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else None
    if value is None:
        return {"v": JSON_VERSION}
    if isinstance(value, Mapping) and "v" in value:
        return SearchSpec.from_json(value).to_json()
    return from_legacy(value)[0]


def migrate_text(text: str | None) -> str | None:
    """A stored ``filters_json`` text in the current form (None when already current)."""
    try:
        obj = json.loads(text) if text and text.strip() else None
    except ValueError:
        obj = text
    if isinstance(obj, Mapping) and obj.get("v") in (JSON_VERSION, JSON_VERSION_FINESS_PLUS,
                                                    JSON_VERSION_SOCIAL):  # current
        return None
    if isinstance(obj, Mapping) and obj.get("v") in JSON_VERSIONS:  # an older version: same keys
        try:
            return dumps(SearchSpec.from_json(obj).to_json())
        except QueryError:
            pass
    return dumps(from_legacy(obj)[0])


def dumps(criteria: Mapping[str, Any]) -> str:
    """The stored text: compact, keys sorted, UTF-8 kept."""
    return json.dumps(criteria, ensure_ascii=False, sort_keys=True, allow_nan=False)


def resource_type_of(criteria: Mapping[str, Any]) -> str | None:
    """The kind of resource looked for: family ids, else category codes, else disciplines
    (comma-separated), then the social families (issue 16, ``social_`` + key, e.g.
    ``social_aide_alimentaire``), else None."""
    from dac_map.inclusion.vocab import FAMILY_PREFIX

    parts = []
    for key in ("famille", "categorie", "agregat", "discipline"):
        codes = criteria.get(key)
        if isinstance(codes, list) and codes:
            parts.append(", ".join(codes))
            break
    social = criteria.get("famille_sociale")
    if isinstance(social, list) and social:
        parts.append(", ".join(FAMILY_PREFIX + str(c) for c in social))
    return ", ".join(parts) or None


def commune_of(criteria: Mapping[str, Any]) -> str | None:
    """The commune a search was about: its first ``commune`` code, else an ``autour`` that is
    an INSEE commune code (``"80021"`` or ``"Amiens (80021)"``), else the « Intervient à »
    commune (``intervient``), else None."""
    codes = criteria.get("commune")
    if isinstance(codes, list):
        for c in codes:
            if isinstance(c, str) and COMMUNE_RE.fullmatch(c.strip().upper()):
                return c.strip().upper()
    near = criteria.get("autour")
    if isinstance(near, str):
        t = near.strip().upper()
        if t.endswith(")") and "(" in t:
            t = t[t.rindex("(") + 1:-1].strip()
        if COMMUNE_RE.fullmatch(t):
            return t
    serves = criteria.get("intervient")
    if isinstance(serves, str) and COMMUNE_RE.fullmatch(serves.strip().upper()):
        return serves.strip().upper()
    return None


__all__ = ["commune_of", "dumps", "from_legacy", "migrate_text", "normalise", "resource_type_of"]
