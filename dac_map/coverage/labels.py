"""Plain French labels of resource types for the readers of the unmet-need log and of the ARS
report: « Addictologie (CSAPA) », never ``197``.

The log stores, for each need, the search criteria (versioned JSON of a
:class:`~dac_map.query.spec.SearchSpec`) and a ``resource_type`` text (family ids or codes, see
:func:`dac_map.coverage.criteria.resource_type_of`). :func:`need_type_label` prefers the
synonyms table's label of the exact resource type searched (:func:`dac_map.query.synonyms.label_of`),
then the labels of the catalogue (families, FINESS categories, disciplines, activity types,
clientèles), and shows a code only when nothing names it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from dac_map.query import Catalogue
from dac_map.query.errors import QueryError
from dac_map.query.spec import SearchSpec
from dac_map.query.synonyms import label_of, load_synonyms


def _catalogue_labels(catalogue: Catalogue | None) -> dict[str, dict[str, str]]:
    if catalogue is None:
        return {}
    cats = catalogue.categories
    eq = catalogue.equipment_arrays.labels if catalogue.has_equipment else {}
    return {
        "families": {str(k): str(v) for k, v in dict(catalogue.family_labels).items()},
        "categories": dict(zip(cats["category"].astype(str), cats["category_label"].astype(str))),
        "disciplines": {str(k): str(v) for k, v in eq.get("discipline", {}).items() if v},
        "activity_types": {str(k): str(v) for k, v in eq.get("activity_type", {}).items() if v},
        "clienteles": {str(k): str(v) for k, v in eq.get("clientele", {}).items() if v},
    }


def _single_entry_labels() -> dict[tuple[str, str], str]:
    """(criterion, code) -> label of the synonyms entry selecting exactly that one code."""
    try:
        table = load_synonyms()
    except QueryError:
        return {}
    out: dict[tuple[str, str], str] = {}
    for s in table:
        used = [(a, getattr(s, a)) for a in ("categories", "disciplines", "activity_types", "clienteles")
                if getattr(s, a)]
        if len(used) == 1 and len(used[0][1]) == 1:
            out.setdefault((used[0][0], used[0][1][0]), s.label)
    return out


def spec_label(spec: SearchSpec, catalogue: Catalogue | None = None) -> str:
    """Label of the resource type a search asked for ("" when it asked for none)."""
    exact = label_of(spec)
    if exact:
        return exact
    labels = _catalogue_labels(catalogue)
    single = _single_entry_labels()
    parts: list[str] = []
    for attr in ("families", "categories", "disciplines", "activity_types", "clienteles"):
        codes = getattr(spec, attr)
        if codes:
            names = [single.get((attr, c)) or labels.get(attr, {}).get(c) or c for c in codes]
            parts.append(" ou ".join(names))
    social = social_label(spec)
    if social:
        parts.append(social)
    return " — ".join(parts)


def social_label(spec: SearchSpec) -> str:
    """Label of the social needs a search asked for (issue 16): « Aide alimentaire et
    matérielle (ressource sociale) », "" without a social family."""
    families = getattr(spec, "social_families", ())
    if not families:
        return ""
    from dac_map.inclusion.vocab import family_label

    return " ou ".join(family_label(f) for f in families) + " (ressource sociale)"


def need_type_label(resource_type: object, filters_json: object = None,
                    catalogue: Catalogue | None = None) -> str:
    """Label of the resource type of one logged need: from its criteria when they parse, else
    from its ``resource_type`` text (family ids, else category codes, else disciplines)."""
    if isinstance(filters_json, str) and filters_json.strip():
        try:
            obj = json.loads(filters_json)
            spec = SearchSpec.from_json(obj) if isinstance(obj, Mapping) else None
        except (ValueError, QueryError):
            spec = None
        if spec is not None:
            text = spec_label(spec, catalogue)
            if text:
                return text
    if not isinstance(resource_type, str) or not resource_type.strip():
        return ""
    codes = tuple(c.strip() for c in resource_type.split(",") if c.strip())
    labels = _catalogue_labels(catalogue)
    for attr in ("families", "categories", "disciplines"):
        known = labels.get(attr, {})
        if codes and all(c in known for c in codes):
            return spec_label(SearchSpec(**{attr: codes}), catalogue)
    return resource_type  # free text, or codes nothing names


#: Columns of the territories layer that may hold a DAC's number (edited territories; the
#: shipped table has none).
DAC_NUMBER_COLUMNS = ("number", "numero", "finess", "dac_number")


def dac_number(catalogue: Catalogue, dac_id: str | None) -> str:
    """The number of a DAC territory (e.g. its FINESS or ARS number), "" when unknown."""
    if not dac_id:
        return ""
    t = catalogue.territories
    i = catalogue.territory_row.get(dac_id)
    if i is None:
        return ""
    for c in DAC_NUMBER_COLUMNS:
        if c in t:
            v = t[c].iat[i]
            if v is not None and v == v and str(v).strip():
                return str(v).strip()
    return ""


def readable_criteria(spec: SearchSpec, catalogue: Catalogue, departments=(),
                      labels: list[str] | None = None) -> list[str]:
    """French description of a search for readers: when the synonyms table names its resource
    type, one line « Type de ressource : Addictologie (CSAPA) » replaces the family, category
    and specialty lines (which show codes). ``labels``: the lines as the search described them
    (:attr:`~dac_map.query.SearchResult.labels`; default: each filter's description). The
    open-only status line is left out."""
    from dac_map.query.filters import CategoryFilter, FamilyFilter, StatusFilter
    from dac_map.query.specialty import SpecialtyFilter

    filters = spec.to_filters(catalogue, departments, warnings=[])
    if labels is None:
        labels = [f.describe(catalogue) for f in filters
                  if not (isinstance(f, StatusFilter) and f.open_only)]
    status = {StatusFilter(open_only=True).describe(catalogue)}
    label = label_of(spec)
    kinds = ({f.describe(catalogue) for f in filters
              if isinstance(f, (CategoryFilter, FamilyFilter, SpecialtyFilter))} if label else set())
    out: list[str] = []
    for line in labels:
        if line in status:
            continue
        if line in kinds:
            line = f"Type de ressource : {label}"
            if line in out:
                continue
        out.append(line)
    from dac_map.query.social import describe_social  # issue 16: the social criteria

    out.extend(line for line in describe_social(spec) if line not in out)
    return out


__all__ = ["DAC_NUMBER_COLUMNS", "dac_number", "need_type_label", "readable_criteria", "social_label",
           "spec_label"]
