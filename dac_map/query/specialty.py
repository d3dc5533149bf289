"""Filters on the equipment lines (cs1100505) and capacities: :class:`SpecialtyFilter`
(discipline, activity type, clientèle on the same line; care activity authorisations),
:class:`MinPlacesFilter` (base of the « at least N places » filters), :class:`CapacityFilter`
and :func:`specialty_capacity`. Same contract as :mod:`dac_map.query.filters`.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from dac_map.query.catalogue import Catalogue
from dac_map.query.errors import QueryError
from dac_map.query.filters import QueryFilter, _number, _plural, _tuple
from dac_map.query.text import fold_text

# --------------------------------------------------------------------------- specialty

#: Words of activity types that do not appear in their FINESS labels.
ACTIVITY_TYPE_ALIASES: dict[str, tuple[str, ...]] = {
    "domicile": ("domicile", "milieu ordinaire"),
    "a domicile": ("domicile", "milieu ordinaire"),
    "internat": ("internat",),
    "externat": ("externat", "semi internat"),
    "hebergement temporaire": ("temporaire",),
    "accueil temporaire": ("temporaire",),
}

_KINDS = {
    "disciplines": ("discipline", "Discipline", "Disciplines"),
    "activity_types": ("activity_type", "Type d'activité", "Types d'activité"),
    "clienteles": ("clientele", "Clientèle", "Clientèles"),
}


def _matches(needle: str, label: str) -> bool:
    """Whether the folded ``needle`` starts at a word boundary of the folded ``label``."""
    return bool(needle) and f" {needle}" in f" {label} "


@dataclass(frozen=True)
class SpecialtyFilter(QueryFilter):
    """Establishments with an equipment line (cs1100505) matching every kind given: discipline,
    activity type (hébergement complet, accueil de jour, accueil temporaire, domicile...) and
    clientèle (Alzheimer, handicap psychique...) must match on the same line; several values
    of one kind are alternatives. Values are codes (``924``, ``21``, ``436``) or words of the
    labels (accent- and case-insensitive, word prefixes allowed: ``alzheim``). Only lines
    offered now count (:func:`~dac_map.query.equipment.offered_lines`: installation not
    flagged removed, installed capacity not zero).

    ``care_activities`` filters on care activity authorisations when the store has them
    (layer :data:`~dac_map.query.catalogue.CARE_ACTIVITY_LAYER`); otherwise it raises
    QueryError.
    """

    disciplines: tuple[str, ...] = ()
    activity_types: tuple[str, ...] = ()
    clienteles: tuple[str, ...] = ()
    care_activities: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("disciplines", "activity_types", "clienteles", "care_activities"):
            object.__setattr__(self, name, _tuple(getattr(self, name), name))
        if not (self.disciplines or self.activity_types or self.clienteles or self.care_activities):
            raise QueryError("spécialité vide : donner une discipline, un type d'activité, une "
                             "clientèle ou une activité de soins / empty specialty")

    @property
    def equipment_kinds(self) -> dict[str, tuple[str, ...]]:
        return {k: getattr(self, k) for k in _KINDS if getattr(self, k)}

    def resolve(self, catalogue: Catalogue) -> dict[str, dict[str, str]]:
        """For each equipment kind given: the matching codes and their labels. Raises QueryError
        when the store has no equipment data or a label matches nothing."""
        kinds = self.equipment_kinds
        if not kinds:
            return {}
        if not catalogue.has_equipment:
            raise QueryError("aucune donnée d'équipement (extrait cs1100505) dans ce GeoPackage : "
                             "filtre de spécialité impossible / no equipment data in this store")
        eq = catalogue.equipment_arrays
        out: dict[str, dict[str, str]] = {}
        for attr, values in kinds.items():
            kind, singular, _ = _KINDS[attr]
            known = eq.labels[kind]
            folded = eq.folded_labels[kind]
            found: dict[str, str] = {}
            for v in values:
                if v in known or v.isdigit():
                    found[v] = known.get(v, v)
                    continue
                fv = fold_text(v)
                needles = ACTIVITY_TYPE_ALIASES.get(fv, (fv,)) if kind == "activity_type" else (fv,)
                hits = {c: known[c] for c, fl in folded.items() if any(_matches(nd, fl) for nd in needles)}
                if not hits:
                    examples = ", ".join(sorted({lab for lab in known.values() if lab})[:6])
                    raise QueryError(f"{singular.lower()} inconnue / unknown {kind.replace('_', ' ')}: "
                                     f"{v!r}" + (f" (exemples : {examples})" if examples else ""))
                found.update(hits)
            out[attr] = found
        return out

    @property
    def label(self) -> str:
        parts = []
        for attr, values in self.equipment_kinds.items():
            _, singular, plural = _KINDS[attr]
            parts.append(f"{plural if len(values) > 1 else singular} : {', '.join(values)}")
        if self.care_activities:
            parts.append(f"{_plural('Activité', len(self.care_activities))} de soins : "
                         f"{', '.join(self.care_activities)}")
        return " ; ".join(parts)

    def describe(self, catalogue: Catalogue) -> str:
        try:
            resolved = self.resolve(catalogue)
        except QueryError:
            return self.label
        parts = []
        for attr, found in resolved.items():
            _, singular, plural = _KINDS[attr]
            labels = list(dict.fromkeys(lab or code for code, lab in found.items()))
            parts.append(f"{plural if len(labels) > 1 else singular} : {' ou '.join(labels)}")
        if self.care_activities:
            parts.append(f"{_plural('Activité', len(self.care_activities))} de soins : "
                         f"{', '.join(self.care_activities)}")
        return " ; ".join(parts)

    def line_mask(self, catalogue: Catalogue) -> np.ndarray:
        """Boolean array over the equipment lines (``catalogue.equipment``) matching
        (read-only; memoised in the catalogue)."""
        return catalogue.cached(("line_mask", self), lambda: self._line_mask(catalogue))

    def _line_mask(self, catalogue: Catalogue) -> np.ndarray:
        eq = catalogue.equipment_arrays
        m = eq.offered.copy()
        for attr, found in self.resolve(catalogue).items():
            kind = _KINDS[attr][0]
            col = getattr(eq, kind)
            m &= col.mask(found)
        m.flags.writeable = False
        return m

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        n = len(catalogue)
        result = np.ones(n, dtype=bool)
        if self.equipment_kinds:
            eq = catalogue.equipment_arrays
            result = np.zeros(n, dtype=bool)
            result[eq.row[self.line_mask(catalogue)]] = True
        if self.care_activities:
            result &= self._care_mask(catalogue)
        return result

    def _care_mask(self, catalogue: Catalogue) -> np.ndarray:
        table = catalogue.care_activities
        if table is None or not len(table):
            raise QueryError("activités de soins non chargées dans ce GeoPackage (autorisations "
                             "sanitaires absentes) / care activities are not loaded in this store")
        codes = table["activity"].astype(str)
        labels = table.get("activity_label", codes).astype(str).map(fold_text)
        hit = np.zeros(len(table), dtype=bool)
        for v in self.care_activities:
            fv = fold_text(v)
            hit |= (codes == v).to_numpy() | labels.map(lambda s, fv=fv: _matches(fv, s)).to_numpy(dtype=bool)
        result = np.zeros(len(catalogue), dtype=bool)
        rows = table.loc[hit, "finess"].map(catalogue.finess_row).dropna().to_numpy(dtype="int64")
        result[rows] = True
        return result


# --------------------------------------------------------------------------- capacity

@dataclass(frozen=True)
class MinPlacesFilter(QueryFilter):
    """Base of the « at least ``min_places`` places » filters (installed places by default,
    ``authorised=True`` for authorised ones), narrowed by an optional sub-filter (:meth:`narrowing`)
    whose name ends the label. Subclasses give :meth:`values` (places per row, NaN when unknown)
    and :attr:`title`."""

    min_places: float
    authorised: bool = False

    #: First words of the label.
    title: ClassVar[str] = "Capacité"
    #: Name of the optional sub-filter field the places are counted on, and the class it must be.
    narrowed_by: ClassVar[tuple[str, type] | None] = None

    def __post_init__(self) -> None:
        v = self.min_places
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(v)) or float(v) < 0:
            raise QueryError(f"capacité minimale invalide (nombre ≥ 0) / invalid minimum capacity: {v!r}")
        object.__setattr__(self, "min_places", int(v) if float(v).is_integer() else float(v))
        sub = self.narrowing()
        if sub is not None and not isinstance(sub, self.narrowed_by[1]):
            name, kind = self.narrowed_by[0], self.narrowed_by[1].__name__
            raise QueryError(f"{name} doit être un {kind} / {name} must be a {kind}")

    def narrowing(self) -> QueryFilter | None:
        """The sub-filter the places are counted on, if any."""
        return None if self.narrowed_by is None else getattr(self, self.narrowed_by[0])

    def _text(self, what: str | None) -> str:
        kind = "autorisée" if self.authorised else "installée"
        n = self.min_places
        s = f"{self.title} {kind} ≥ {_number(n)} {'place' if n < 2 else 'places'}"
        return f"{s} ({what})" if what else s

    @property
    def label(self) -> str:
        sub = self.narrowing()
        return self._text(sub.label if sub else None)

    def describe(self, catalogue: Catalogue) -> str:
        sub = self.narrowing()
        return self._text(sub.describe(catalogue) if sub else None)

    @abstractmethod
    def values(self, catalogue: Catalogue) -> np.ndarray:
        """Places per row (NaN when unknown)."""

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        return np.greater_equal(self.values(catalogue), self.min_places)


@dataclass(frozen=True)
class CapacityFilter(MinPlacesFilter):
    """Establishments with at least ``min_places`` places, installed (default) or authorised
    (``authorised=True``): the establishment's total, or, with ``specialty``, the sum over its
    equipment lines matching that specialty. Installed places are not free places.
    Establishments without capacity data never match."""

    specialty: SpecialtyFilter | None = None

    narrowed_by: ClassVar[tuple[str, type]] = ("specialty", SpecialtyFilter)

    def values(self, catalogue: Catalogue) -> np.ndarray:
        """Capacity compared with ``min_places`` per row (NaN when unknown), in places."""
        if self.specialty is None:
            return catalogue.capacity_authorised if self.authorised else catalogue.capacity_installed
        def compute() -> np.ndarray:
            values = specialty_capacity(catalogue, self.specialty, self.authorised)
            values.flags.writeable = False
            return values

        return catalogue.cached(("capacity", self.specialty, self.authorised), compute)


def specialty_capacity(catalogue: Catalogue, specialty: SpecialtyFilter,
                       authorised: bool = False, rows: np.ndarray | None = None) -> np.ndarray:
    """Places (installed, or authorised) on the equipment lines matching ``specialty``, per
    establishment row (or only for ``rows``, in that order); NaN for rows without such a line."""
    eq = catalogue.equipment_arrays
    lm = specialty.line_mask(catalogue) if specialty.equipment_kinds else eq.offered
    n = len(catalogue)
    if rows is not None:
        wanted = np.zeros(n, dtype=bool)
        wanted[rows] = True
        lm = lm & wanted[eq.row]
    weights = (eq.authorised if authorised else eq.installed)[lm]
    sums = np.bincount(eq.row[lm], weights=weights, minlength=n).astype(float)
    has = np.bincount(eq.row[lm], minlength=n) > 0
    sums[~has] = np.nan
    return sums if rows is None else sums[rows]


__all__ = ["ACTIVITY_TYPE_ALIASES", "SpecialtyFilter", "MinPlacesFilter", "CapacityFilter", "specialty_capacity"]
