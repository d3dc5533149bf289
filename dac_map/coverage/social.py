"""Social resources in the coverage figures and the ARS report (issue 16): unmet needs counted
by social family, and the social resources of a territory counted by family beside the FINESS
establishments. Aggregates only (no name, no comment).

A need counts in each social family its criteria asked for (``famille_sociale`` of the logged
:class:`~dac_map.query.spec.SearchSpec`, JSON version 4); needs without a social family are not
counted here. A social resource belongs to a territory when its commune or department is one of
the territory's (as in :mod:`dac_map.query.social`), and counts in each of its families.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from dac_map.query.errors import QueryError


def _social_families(filters_json: object) -> tuple[str, ...]:
    from dac_map.query.spec import SearchSpec

    if not isinstance(filters_json, str) or not filters_json.strip():
        return ()
    try:
        obj = json.loads(filters_json)
        return SearchSpec.from_json(obj).social_families if isinstance(obj, Mapping) else ()
    except (ValueError, QueryError):
        return ()


def needs_by_social_family(needs: pd.DataFrame) -> pd.DataFrame:
    """Columns ``family`` (French label), ``needs``: logged needs per social family, largest
    first (a need asking for two families counts in both)."""
    from dac_map.inclusion.vocab import family_label

    counts: dict[str, int] = {}
    for fj in needs.get("filters_json", pd.Series(dtype=object)):
        for f in _social_families(fj):
            counts[f] = counts.get(f, 0) + 1
    frame = pd.DataFrame({"family": [family_label(f) for f in counts], "needs": list(counts.values())},
                         columns=["family", "needs"])
    return frame.sort_values(["needs", "family"], ascending=[False, True], kind="stable").reset_index(drop=True)


def social_resources_by_family(catalogue, dac_id: str) -> pd.DataFrame:
    """Columns ``family`` (French label), ``resources``, ``fictitious``: the social resources
    located in territory ``dac_id`` per family (in :data:`~dac_map.inclusion.vocab.FAMILIES`
    order); empty when the store has no social resources."""
    from dac_map.inclusion import vocab

    empty = pd.DataFrame(columns=["family", "resources", "fictitious"])
    social, inside = _inside(catalogue, dac_id)
    if social is None:
        return empty
    fict = social.fictitious
    counts: dict[str, list[int]] = {}
    for fams, f in zip(social.table["families"][inside], fict[inside]):
        for fam in fams or ():
            c = counts.setdefault(str(fam).removeprefix(vocab.FAMILY_PREFIX), [0, 0])
            c[0] += 1
            c[1] += int(bool(f))
    rows = [(vocab.FAMILIES[k], *counts[k]) for k in vocab.FAMILIES if k in counts]
    return pd.DataFrame(rows, columns=["family", "resources", "fictitious"]) if rows else empty


def social_total(catalogue, dac_id: str) -> int:
    """Number of social resources located in territory ``dac_id`` (each counted once)."""
    social, inside = _inside(catalogue, dac_id)
    return 0 if social is None else int(inside.sum())


def _inside(catalogue, dac_id: str):
    """(social catalogue, mask of its resources in territory ``dac_id``), or (None, None)
    without social resources or for an unknown territory."""
    from dac_map.query.social import social_catalogue, territory_filter

    social = social_catalogue(catalogue)
    if social is None or not len(social) or dac_id not in catalogue.territory_row:
        return None, None
    return social, territory_filter(catalogue, dac_id).mask(social)


__all__ = ["needs_by_social_family", "social_resources_by_family", "social_total"]
