"""The published FINESS+ JSON schemas (shipped in ``data/finess_plus/``), for the strict mode
and for telling extra fields from known ones in the tolerant mode."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator

from dac_map import settings
from dac_map.finess_plus.source import ACTIVITES, STRUCTURES

SCHEMA_DIR = settings.DATA_DIR / "finess_plus"
SCHEMA_FILES = {STRUCTURES: "schema-structures-v1.json", ACTIVITES: "schema-activites-v1-0-1.json"}


@functools.lru_cache(maxsize=2)
def load_schema(flow: str) -> dict:
    """The whole published schema of ``flow`` (draft-07)."""
    with open(SCHEMA_DIR / SCHEMA_FILES[flow], encoding="utf-8") as f:
        return json.load(f)


@functools.lru_cache(maxsize=2)
def item_validator(flow: str):
    """A jsonschema validator of one ``pmej`` item of ``flow`` (``#/definitions`` kept)."""
    import jsonschema

    root = corrected_schema(flow)
    item = dict(root["properties"]["pmej"]["items"])
    item["definitions"] = root.get("definitions", {})
    item["$schema"] = root.get("$schema", "http://json-schema.org/draft-07/schema#")
    cls = jsonschema.validators.validator_for(item)
    return cls(item)


def corrected_schema(flow: str) -> dict:
    """The published schema with its one self-contradiction lifted (Activités v1.0.1):
    ``activiteAutorisee`` / ``activiteExercee`` extend ``activiteBase`` and
    ``caracteristiquesGeneriques`` through ``allOf`` with properties (``evenement``,
    ``capacite``, ``zoneIntervention``, ``pmSmsseExploitanteId``, ``egeId``...) that the base
    definitions forbid (``additionalProperties: false``), so that no activity with events could
    ever conform. The extension properties are declared in the base definitions; every other
    rule is kept as published."""
    import copy

    root = copy.deepcopy(load_schema(flow))
    defs = root.get("definitions", {})
    if flow != ACTIVITES or "activiteBase" not in defs:
        return root
    base, gen = defs["activiteBase"], defs["caracteristiquesGeneriques"]
    for name in ("activiteAutorisee", "activiteExercee"):
        for part in defs.get(name, {}).get("allOf", []):
            for key, sub in part.get("properties", {}).items():
                if key == "caracteristiquesGeneriques":
                    for k, v in sub.get("properties", {}).items():
                        gen["properties"].setdefault(k, v)
                else:
                    base["properties"].setdefault(key, sub)
    return root


def top_level_errors(flow: str, top_keys: list[str]) -> list[str]:
    """Required top-level keys of ``flow`` missing from ``top_keys``."""
    return [k for k in load_schema(flow).get("required", []) if k not in top_keys]


def item_errors(flow: str, item: object, index: int, limit: int = 20) -> Iterator[tuple[str, str]]:
    """``(json_path, message)`` for each schema violation of the ``index``-th ``pmej`` item."""
    for n, err in enumerate(item_validator(flow).iter_errors(item)):
        if n >= limit:
            break
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        yield f"$.pmej[{index}]{where}", err.message[:300]


@functools.lru_cache(maxsize=1)
def known_keys() -> dict[str, frozenset[str]]:
    """Property names the schemas declare for the objects the tolerant reader flattens
    (a key outside these is an *extra field*)."""
    act = load_schema(ACTIVITES)["definitions"]
    st = load_schema(STRUCTURES)
    pm = st["properties"]["pmej"]["items"]["properties"]
    ege = pm["ege"]["items"]["properties"]
    out = {
        "generiques": frozenset(act["caracteristiquesGeneriques"]["properties"]),
        "capacite": frozenset(act["capacite"]["items"]["properties"]),
        "zone": frozenset(act["zoneIntervention"]["properties"]),
        "pmej_activites": frozenset(load_schema(ACTIVITES)["properties"]["pmej"]["items"]["properties"]),
        "pmej_structures": frozenset(pm),
        "infos_pmej": frozenset(pm["informationsGeneralesPMEJ"]["properties"]),
        "ege_structures": frozenset(ege),
        "infos_ege": frozenset(ege["informationsGeneralesEGE"]["properties"]),
    }
    # activiteAutorisee / activiteExercee add these to caracteristiquesGeneriques
    extra_gen = set()
    for d in ("activiteAutorisee", "activiteExercee"):
        for part in act[d].get("allOf", []):
            extra_gen |= set(part.get("properties", {}).get("caracteristiquesGeneriques", {})
                             .get("properties", {}))
    out["generiques_all"] = out["generiques"] | frozenset(extra_gen)
    return out
