"""The choices the sidebar offers, prepared once per catalogue (:func:`build_options`, pure
computation, no Streamlit call): territories, families, categories (with the acronyms
callers use), equipment disciplines / clientèles / activity types, communes, FINESS+ types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dac_map import settings
from dac_map.codes import department_of
from dac_map.ui.state import NATIONAL
from dac_map.ui.text import plain


@dataclass(frozen=True)
class Options:
    """Choices offered by the widgets, prepared once per catalogue
    (:func:`dac_map.ui.data.cached_options`)."""

    territories: tuple[str, ...]
    territory_labels: Mapping[str, str]
    territory_departments: Mapping[str, tuple[str, ...]]
    families: tuple[str, ...]
    family_labels: Mapping[str, str]
    categories: tuple[str, ...]
    category_labels: Mapping[str, str]
    category_family: Mapping[str, str]
    disciplines: tuple[str, ...]
    discipline_labels: Mapping[str, str]
    clienteles: tuple[str, ...]
    clientele_labels: Mapping[str, str]
    activity_types: tuple[str, ...]
    activity_labels: Mapping[str, str]
    communes_by_department: Mapping[str, tuple[str, ...]]
    commune_labels: Mapping[str, str]
    has_equipment: bool
    illustrative: bool
    #: FINESS category code -> plain names looked up by the « Je cherche » box (long label).
    category_names: Mapping[str, str] = None  # type: ignore[assignment]
    #: FINESS+ activity types and publics offered (issue 11): code -> French label
    fp_type_labels: Mapping[str, str] = None  # type: ignore[assignment]
    fp_public_labels: Mapping[str, str] = None  # type: ignore[assignment]


def build_options(catalogue) -> Options:
    """The widget choices of a catalogue (pure computation, no Streamlit call)."""
    terr = catalogue.territories
    counts = (terr["establishments"].fillna(0).astype("int64") if "establishments" in terr
              else None)
    ids = [str(x) for x in terr["dac_id"]]
    names = {str(i): plain(n) or str(i) for i, n in zip(terr["dac_id"], terr["name"])}
    labels: dict[str, str] = {}
    keep: list[str] = []
    for k, i in enumerate(ids):
        n = int(counts.iat[k]) if counts is not None else None
        if n is None or n > 0:
            keep.append(i)
        labels[i] = f"{names[i]} — {n} ressources" if n is not None else names[i]
    keep.sort(key=lambda i: names[i].lower())
    if settings.UI_NATIONAL_VIEW:
        keep.insert(0, NATIONAL)
    labels[NATIONAL] = f"France entière — {len(catalogue)} ressources"
    deps = {str(i): tuple(str(d or "").split()) for i, d in zip(terr["dac_id"], terr["departments"])}

    fam = catalogue.families.sort_values("order")
    families = tuple(str(f) for f in fam["family"])
    family_labels = {str(f): plain(lab) for f, lab in zip(fam["family"], fam["family_label"])}

    cats = catalogue.categories
    cat_label = {str(c): plain(lab) for c, lab in zip(cats["category"], cats["category_label"])}
    cat_family = ({str(c): str(f) for c, f in zip(cats["category"], cats["family"])}
                  if "family" in cats else {})
    present = [str(c) for c in catalogue.category.values]
    est = catalogue.establishments
    if "category_label" in est:
        first = est.drop_duplicates("category")
        for c, lab in zip(first["category"], first["category_label"]):
            cat_label.setdefault(str(c), plain(lab))
    if "family" in est:
        first = est.drop_duplicates("category")
        for c, f in zip(first["category"], first["family"]):
            cat_family.setdefault(str(c), str(f))
    categories = tuple(sorted(present, key=lambda c: (cat_label.get(c, c).lower(), c)))
    acronyms = category_acronyms()
    # The acronym people say first (« EHPAD — ... (500) »): the box's own filter ranks a label
    # starting with the typed word above loose matches, so Enter picks the right category.
    cat_labels = {c: (f"{acronyms[c]} — " if c in acronyms else "") + f"{cat_label.get(c, c)} ({c})"
                  for c in categories}

    eq_labels = catalogue.equipment_arrays.labels

    def sorted_codes(kind: str) -> tuple[tuple[str, ...], dict[str, str]]:
        lab = {str(c): plain(v) or str(c) for c, v in eq_labels.get(kind, {}).items()}
        return tuple(sorted(lab, key=lambda c: (lab[c].lower(), c))), lab

    disciplines, disc_labels = sorted_codes("discipline")
    clienteles, clt_labels = sorted_codes("clientele")
    activities, act_labels = sorted_codes("activity_type")

    com = catalogue.communes
    by_dep: dict[str, list[str]] = {}
    com_labels: dict[str, str] = {}
    if len(com):
        order = com.assign(_n=com["name"].astype(str).str.lower()).sort_values(["_n", "code"])
        for code, name in zip(order["code"].astype(str), order["name"]):
            dep = department_of(code)
            by_dep.setdefault(dep, []).append(code)
            com_labels[code] = f"{plain(name)} ({code})"
    return Options(
        territories=tuple(keep), territory_labels=labels, territory_departments=deps,
        families=families, family_labels=family_labels, categories=categories,
        category_labels=cat_labels, category_family=cat_family, disciplines=disciplines,
        discipline_labels=disc_labels, clienteles=clienteles, clientele_labels=clt_labels,
        activity_types=activities, activity_labels=act_labels,
        communes_by_department={k: tuple(v) for k, v in by_dep.items()},
        commune_labels=com_labels, has_equipment=bool(catalogue.has_equipment),
        illustrative=bool(catalogue.equipment_illustrative),
        category_names={c: cat_label.get(c, c) for c in categories},
        **_finess_plus_options(catalogue))


def _finess_plus_options(catalogue) -> dict[str, Mapping[str, str]]:
    from dac_map.ui.finess_plus_view import sidebar_options  # FINESS+ (issue 11)

    return sidebar_options(catalogue)


def category_acronyms() -> dict[str, str]:
    """Category code -> the acronym callers use, from the synonyms table: entries whose term is
    an acronym (capitals) and which select exactly one category and nothing else."""
    from dac_map.query.errors import QueryError
    from dac_map.query.synonyms import load_synonyms

    try:
        table = load_synonyms()
    except QueryError:
        return {}
    out: dict[str, str] = {}
    for syn in table:
        if (syn.term.isupper() and len(syn.categories) == 1 and not syn.disciplines
                and not syn.activity_types and not syn.clienteles):
            out.setdefault(syn.categories[0], syn.term)
    return out


def territory_departments(options: Options, dac: str | None) -> tuple[str, ...]:
    """Department codes of a territory (empty for the national view)."""
    if not dac or dac == NATIONAL:
        return ()
    return options.territory_departments.get(dac, ())


__all__ = ["Options", "build_options", "category_acronyms", "territory_departments"]
