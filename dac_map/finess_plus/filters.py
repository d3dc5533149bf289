"""Query filters on the FINESS+ activities (same contract as :mod:`dac_map.query.filters`:
``mask(catalogue)``, a French ``label`` and ``describe(catalogue)``).

* « Intervient à <commune> » is :class:`dac_map.query.serving.ServesCommuneFilter`, the one
  filter of FINESS establishments and social resources alike (re-exported here): the index built
  at catalogue load (:meth:`FinessPlusIndex.rows_serving`) answers with one look-up;
* :class:`ActivityTypeFilter` — establishments with an active activity of a type (TRE_R392 code,
  activity code such as ``358``, or words of its label) and/or for a public (TRE_R403);
* :class:`ActivityCapacityFilter` — at least N places, **installed** (status 08 « installé
  constaté ») or **authorised** (09), on the matching activities. Never free places.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from dac_map.query.catalogue import Catalogue
from dac_map.query.errors import QueryError
from dac_map.query.filters import QueryFilter, _plural, _tuple, clean_for_display
from dac_map.query.serving import ServesCommuneFilter
from dac_map.query.specialty import MinPlacesFilter


def _index(catalogue: Catalogue):
    fp = getattr(catalogue, "finess_plus", None)
    if fp is None:
        raise QueryError("activités FINESS+ non chargées dans ce GeoPackage (charger le flux Activités : "
                         "dac-map etl --finess-plus-activites) / FINESS+ activities are not loaded")
    return fp


@dataclass(frozen=True)
class ActivityTypeFilter(QueryFilter):
    """Establishments with an active FINESS+ activity matching one of ``types`` (TRE_R392 type
    code, R392-style key ``AMSR/358/16/700``, activity code such as ``358``, or words of the
    labels, accent-insensitive) and, if given, one of ``publics`` (TRE_R403 code or words)."""

    types: tuple[str, ...] = ()
    publics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", _tuple(self.types, "types d'activité"))
        object.__setattr__(self, "publics", _tuple(self.publics, "publics"))
        if not self.types and not self.publics:
            raise QueryError("aucun type d'activité ni public donné / no activity type or public given")

    def _text(self, types: list[str], publics: list[str]) -> str:
        parts = []
        if types:
            parts.append(f"{_plural('Activité', len(types))} : {', '.join(types)}")
        if publics:
            parts.append(f"{_plural('Public', len(publics))} : {', '.join(publics)}")
        return " ; ".join(parts)

    @property
    def label(self) -> str:
        return self._text([clean_for_display(t) for t in self.types], [clean_for_display(p) for p in self.publics])

    def describe(self, catalogue: Catalogue) -> str:
        fp = getattr(catalogue, "finess_plus", None)
        if fp is None:
            return self.label
        a = fp.activities
        by_code = dict(zip(a["type_code"].astype(str), a["type_label"].astype(str)))
        by_public = dict(zip(a["public_code"].astype(str), a["public_label"].astype(str)))
        types = [f"{by_code[t]} ({t})" if t in by_code else clean_for_display(t) for t in self.types]
        pubs = [f"{by_public[p]} ({p})" if p in by_public else clean_for_display(p) for p in self.publics]
        return self._text(types, pubs)

    def activity_rows(self, catalogue: Catalogue) -> np.ndarray:
        fp = _index(catalogue)
        return catalogue.cached(("fp_activities", self.types, self.publics),
                                lambda: np.flatnonzero(fp.activity_mask(self.types, self.publics)))

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        return _index(catalogue).rows_with(self.activity_rows(catalogue), len(catalogue))


@dataclass(frozen=True)
class ActivityCapacityFilter(MinPlacesFilter):
    """Establishments with at least ``min_places`` places on their active FINESS+ activities
    (those matching ``activity`` when given): installed (« installé constaté », the default) or
    authorised (``authorised=True``). Installed places are not free places."""

    activity: ActivityTypeFilter | None = None

    title: ClassVar[str] = "Capacité FINESS+"
    narrowed_by: ClassVar[tuple[str, type]] = ("activity", ActivityTypeFilter)

    def values(self, catalogue: Catalogue) -> np.ndarray:
        """Places per row (NaN without a capacity line of that status)."""
        fp = _index(catalogue)

        def compute() -> np.ndarray:
            rows = (self.activity.activity_rows(catalogue) if self.activity is not None
                    else np.flatnonzero(fp.act_active & (fp.act_row >= 0)))
            v = fp.capacity(rows, len(catalogue), authorised=self.authorised)
            v.flags.writeable = False
            return v

        return catalogue.cached(("fp_capacity", self.activity, self.authorised), compute)


__all__ = ["ServesCommuneFilter", "ActivityTypeFilter", "ActivityCapacityFilter"]
