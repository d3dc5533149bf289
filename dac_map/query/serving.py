"""« Intervient à <commune> »: one filter and one index protocol for every catalogue that knows
where its resources intervene (issues 11 and 16).

The question a coordinator asks is "who may come to this village?", whatever the distance: the
answer is the resources whose **intervention area** lists the commune. Two catalogues know such
areas:

* the FINESS establishments (:class:`dac_map.query.Catalogue`): the intervention zones of
  their FINESS+ activities, lists of communes (:class:`dac_map.finess_plus.index.FinessPlusIndex`);
* the social resources (:class:`dac_map.inclusion.catalogue.SocialCatalogue`): data·inclusion's
  ``zone_eligibilite`` / ``zone_diffusion``, codes of communes, departments, EPCIs or
  ``france``.

Both expose a :class:`ServingIndex` (``rows_serving(commune)`` -> sorted rows) as the
``serving`` attribute of the catalogue (:class:`ServingCatalogue`), both build it with
:class:`AreaIndex`, and one :class:`ServesCommuneFilter` answers for both: the map, ``dac-map
search``, the social search and coverage (:func:`served_counts`) use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from dac_map import codes
from dac_map.query.errors import QueryError
from dac_map.query.filters import QueryFilter

#: Zone codes meaning "everywhere in France" (data·inclusion uses both).
NATIONAL_CODES: tuple[str, ...] = ("france", "99100")

_EMPTY = np.zeros(0, dtype=np.int64)
_EMPTY.flags.writeable = False


@runtime_checkable
class ServingIndex(Protocol):
    """Commune -> rows of the resources whose intervention area includes it."""

    def rows_serving(self, commune: str) -> np.ndarray:
        """Sorted, unique catalogue rows (int array, read-only) serving the commune ``commune``
        (INSEE code); empty when none."""


class ServingCatalogue(Protocol):
    """What :class:`ServesCommuneFilter` needs of a catalogue."""

    serving: ServingIndex | None

    def __len__(self) -> int: ...

    def commune_name(self, code: str) -> str | None: ...


def read_only(a: np.ndarray) -> np.ndarray:
    """``a`` contiguous and read-only (arrays shared by every session of the app)."""
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class AreaIndex:
    """Area code -> sorted rows, and the EPCIs (SIREN) each commune belongs to.

    An area code is a commune (INSEE), a department, an EPCI SIREN or ``france``; a commune is
    served by the rows listing the commune itself, its department, one of its EPCIs or
    ``france``: a handful of dictionary look-ups, no scan.
    """

    by_code: Mapping[str, np.ndarray]
    epci_of_commune: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, area_codes: Iterable[str], rows: Iterable[int],
                   epci_communes: Mapping[str, Iterable[str]] | None = None) -> AreaIndex:
        """Build from (area code, row) pairs (duplicates allowed) and an optional EPCI SIREN ->
        commune codes table."""
        c = np.asarray(list(area_codes) if not isinstance(area_codes, np.ndarray) else area_codes, dtype=object)
        r = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, dtype=np.int64)
        if len(c) != len(r):
            raise ValueError(f"{len(c)} area codes for {len(r)} rows")
        by_code: dict[str, np.ndarray] = {}
        if len(c):
            inverse, uniques = pd.factorize(c.astype(str))
            order = np.lexsort((r, inverse))
            inv_sorted, r_sorted = inverse[order], r[order]
            keep = np.r_[True, (np.diff(inv_sorted) != 0) | (np.diff(r_sorted) != 0)]  # duplicate pairs out
            inv_sorted, r_sorted = inv_sorted[keep], read_only(r_sorted[keep])
            cuts = np.flatnonzero(np.diff(inv_sorted)) + 1
            starts, ends = np.r_[0, cuts], np.r_[cuts, len(r_sorted)]
            for code, a, b in zip(uniques[inv_sorted[starts]].tolist(), starts.tolist(), ends.tolist()):
                by_code[str(code)] = r_sorted[a:b]  # sorted, unique rows; views of one read-only array
        epci_of: dict[str, list[str]] = {}
        for epci, members in (epci_communes or {}).items():
            for commune in members:
                epci_of.setdefault(commune, []).append(epci)
        return cls(by_code, {k: tuple(v) for k, v in epci_of.items()})

    def area_keys(self, commune: str) -> list[str]:
        """The area codes that include ``commune``: itself, its department, its EPCIs, France."""
        return [commune, codes.department_of(commune), *self.epci_of_commune.get(commune, ()), *NATIONAL_CODES]

    def rows_serving(self, commune: str) -> np.ndarray:
        parts = [self.by_code[k] for k in self.area_keys(commune) if k in self.by_code]
        if not parts:
            return _EMPTY
        if len(parts) == 1:
            return parts[0]
        return read_only(np.unique(np.concatenate(parts)))


def serving_index(catalogue: ServingCatalogue) -> ServingIndex:
    """The catalogue's intervention-area index; :class:`QueryError` when it has none."""
    index = getattr(catalogue, "serving", None)
    if index is None:
        raise QueryError("zones d'intervention non chargées (FINESS+ : charger le flux Activités, "
                         "dac-map etl --finess-plus-activites ; ressources sociales : dac-map inclusion "
                         "import) / intervention areas are not loaded")
    return index


@dataclass(frozen=True)
class ServesCommuneFilter(QueryFilter):
    """« Intervient à <commune> »: rows whose intervention area includes ``commune`` (INSEE
    code), through the catalogue's :class:`ServingIndex` — FINESS establishments and social
    resources alike."""

    commune: str

    def __post_init__(self) -> None:
        c = str(self.commune or "").strip().upper()
        if not codes.is_commune(c):
            raise QueryError(f"code INSEE de commune invalide / invalid commune INSEE code: {self.commune!r}")
        object.__setattr__(self, "commune", c)

    @property
    def label(self) -> str:
        return f"Intervient à {self.commune}"

    def describe(self, catalogue: ServingCatalogue) -> str:  # type: ignore[override]
        name = catalogue.commune_name(self.commune)
        return f"Intervient à {name} ({self.commune})" if name else self.label

    def rows(self, catalogue: ServingCatalogue) -> np.ndarray:
        """Sorted rows of the catalogue serving the commune."""
        return serving_index(catalogue).rows_serving(self.commune)

    def mask(self, catalogue: ServingCatalogue) -> np.ndarray:  # type: ignore[override]
        out = np.zeros(len(catalogue), dtype=bool)
        out[self.rows(catalogue)] = True
        return out


def served_counts(catalogue: ServingCatalogue, communes: Iterable[str],
                  mask: np.ndarray | None = None) -> dict[str, int]:
    """Coverage by intervention areas: commune INSEE code -> number of rows (among ``mask``,
    default all) whose area includes it; 0 is a white zone."""
    index = serving_index(catalogue)
    out: dict[str, int] = {}
    for commune in dict.fromkeys(communes):
        rows = index.rows_serving(commune)
        out[commune] = int(mask[rows].sum()) if mask is not None else len(rows)
    return out


__all__ = ["AreaIndex", "NATIONAL_CODES", "ServesCommuneFilter", "ServingCatalogue", "ServingIndex",
           "served_counts", "serving_index"]
