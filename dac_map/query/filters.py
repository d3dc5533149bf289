"""Filters of the query layer, datasette style: one small frozen dataclass per criterion.

Every filter has:

* ``mask(catalogue) -> np.ndarray[bool]``: one value per establishment row of the catalogue;
* ``label``: a French description of what was asked, from the filter alone
  (``CapacityFilter(min_places=50).label == "Capacité installée ≥ 50 places"``);
* ``describe(catalogue)``: the same with names looked up in the catalogue (commune, family,
  category labels...). :func:`~dac_map.query.search.search` reports these.

Filters validate their arguments when built and raise
:class:`~dac_map.query.errors.QueryError` (bilingual message, exit code 2) for malformed
values; codes that are well formed but unknown to the catalogue (DAC id, commune, FINESS
number, family, specialty label) raise it when evaluated.

This module holds the base class, the shared helpers and the status, territory, type and text
filters; the equipment-line filters (specialty, capacity) are in :mod:`dac_map.query.specialty`,
the distance filter in :mod:`dac_map.query.distance`, the N nearest in
:mod:`dac_map.query.nearest`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely

from dac_map.codes import is_commune, is_department
from dac_map.query.catalogue import OPEN_STATUS, Catalogue
from dac_map.query.errors import QueryError
from dac_map.query.text import TextMatch, fold_text


def _tuple(value: object, what: str) -> tuple[str, ...]:
    """``"80"`` or ``["80", "46"]`` -> ``("80", "46")`` (stripped, blanks dropped, order kept)."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: Iterable[object] = [value]
    elif isinstance(value, Iterable):
        items = value
    else:
        raise QueryError(f"{what} : liste de codes attendue / expected a list of codes, got {value!r}")
    out: list[str] = []
    for v in items:
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            raise QueryError(f"{what} : code invalide / invalid code {v!r}")
        s = str(v).strip()
        if s and s not in out:
            out.append(s)
    return tuple(out)


def _plural(word: str, n: int) -> str:
    return word if n < 2 else word + "s"


def _number(x: float) -> str:
    """French number: ``10`` -> ``"10"``, ``2.5`` -> ``"2,5"``."""
    s = f"{x:.3f}".rstrip("0").rstrip(".")
    return s.replace(".", ",")


def clean_for_display(text: str, limit: int = 60) -> str:
    """Non-printable characters (control, format, unassigned, private use, separators other
    than the space) replaced by spaces, whitespace collapsed, cut at ``limit`` characters (with
    an ellipsis)."""
    s = " ".join("".join(c if c.isprintable() else " " for c in text[: limit * 4]).split())
    if len(s) > limit:
        return s[: limit - 1].rstrip() + "…"
    return s + "…" if len(text) > limit * 4 else s


class QueryFilter(ABC):
    """Base class of the filters."""

    @property
    @abstractmethod
    def label(self) -> str:
        """French description of the filter, from its own arguments."""

    def describe(self, catalogue: Catalogue) -> str:
        """French description with names looked up in ``catalogue``."""
        return self.label

    @abstractmethod
    def mask(self, catalogue: Catalogue) -> np.ndarray:
        """Boolean array, one value per establishment row of ``catalogue``."""


# --------------------------------------------------------------------------- status

@dataclass(frozen=True)
class StatusFilter(QueryFilter):
    """Open establishments only (the default of :func:`~dac_map.query.search.search`), or all."""

    open_only: bool = True

    @property
    def label(self) -> str:
        return "Établissements ouverts uniquement" if self.open_only else "Établissements ouverts et fermés"

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        if not self.open_only:
            return np.ones(len(catalogue), dtype=bool)
        return catalogue.status.mask([OPEN_STATUS])


# --------------------------------------------------------------------------- territory

@dataclass(frozen=True)
class TerritoryFilter(QueryFilter):
    """Establishments of a DAC territory, of departments or of communes (the union of what is
    given), by position: a point located at its address counts when it lies in the outline
    (WGS84 point-in-polygon, boundary included); a point placed at its commune centroid, or an
    establishment without coordinates, counts by its commune / department INSEE code. An area
    without an outline in the store is matched by code only."""

    dac_id: str | None = None
    departments: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        dac = self.dac_id.strip() if isinstance(self.dac_id, str) else self.dac_id
        if dac is not None and not isinstance(dac, str):
            raise QueryError(f"identifiant DAC invalide / invalid DAC id: {self.dac_id!r}")
        object.__setattr__(self, "dac_id", dac or None)
        deps = tuple(d.upper() for d in _tuple(self.departments, "départements"))
        coms = tuple(c.upper() for c in _tuple(self.communes, "communes"))
        for d in deps:
            if not is_department(d):
                raise QueryError(f"code de département invalide / invalid department code: {d!r}")
        for c in coms:
            if not is_commune(c):
                raise QueryError(f"code INSEE de commune invalide / invalid commune INSEE code: {c!r}")
        object.__setattr__(self, "departments", deps)
        object.__setattr__(self, "communes", coms)
        if not (self.dac_id or deps or coms):
            raise QueryError("territoire vide : donner un DAC, des départements ou des communes / "
                             "empty territory: give a DAC id, departments or communes")

    @property
    def label(self) -> str:
        parts = []
        if self.dac_id:
            parts.append(f"Territoire DAC : {self.dac_id}")
        if self.departments:
            parts.append(f"{_plural('Département', len(self.departments))} : {', '.join(self.departments)}")
        if self.communes:
            parts.append(f"{_plural('Commune', len(self.communes))} : {', '.join(self.communes)}")
        return " ; ".join(parts)

    def describe(self, catalogue: Catalogue) -> str:
        parts = []
        if self.dac_id:
            name = catalogue.territory_name(self.dac_id)
            parts.append(f"Territoire DAC : {name} ({self.dac_id})" if name and name != self.dac_id
                         else f"Territoire DAC : {self.dac_id}")
        if self.departments:
            names = [f"{catalogue.department_name(d)} ({d})" if catalogue.department_name(d) else d
                     for d in self.departments]
            parts.append(f"{_plural('Département', len(names))} : {', '.join(names)}")
        if self.communes:
            names = [f"{catalogue.commune_name(c)} ({c})" if catalogue.commune_name(c) else c
                     for c in self.communes]
            parts.append(f"{_plural('Commune', len(names))} : {', '.join(names)}")
        return " ; ".join(parts)

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        result = np.zeros(len(catalogue), dtype=bool)
        if self.dac_id:
            i = catalogue.territory_row.get(self.dac_id)
            if i is None:
                known = ", ".join(sorted(catalogue.territory_row)[:8])
                raise QueryError(f"territoire DAC inconnu / unknown DAC id: {self.dac_id!r}"
                                 + (f" (exemples : {known}…)" if known else ""))
            t = catalogue.territories
            deps = str(t["departments"].iat[i] or "").split()
            coms = str(t["communes"].iat[i] or "").split()
            by_code = catalogue.department.mask(deps) | catalogue.commune.mask(coms)
            result |= _in_area(catalogue, t.geometry.iat[i], catalogue.territory_bounds[i], by_code)
        areas = ((self.departments, "département inconnu / unknown department", catalogue.department,
                  catalogue.department_row, catalogue.departments, catalogue.department_bounds),
                 (self.communes, "commune inconnue / unknown commune", catalogue.commune,
                  catalogue.commune_row, catalogue.communes, catalogue.commune_bounds))
        for codes, unknown, column, rows, outlines, all_bounds in areas:
            for code in codes:
                i = rows.get(code)
                if i is None and code not in column:
                    raise QueryError(f"{unknown}: {code!r}")
                geom = None if i is None else outlines.geometry.iat[i]
                bounds = None if i is None else all_bounds[i]
                result |= _in_area(catalogue, geom, bounds, column.mask([code]))
        return result


def _in_area(catalogue: Catalogue, geom: object, bounds: np.ndarray | None,
             by_code: np.ndarray) -> np.ndarray:
    """Rows located at their address inside ``geom`` (WGS84) plus the other rows ``by_code``."""
    if geom is None or shapely.is_missing(geom) or shapely.is_empty(geom) or bounds is None:
        return by_code.copy()
    out = by_code & ~catalogue.by_address
    minx, miny, maxx, maxy = bounds
    lon, lat = catalogue.lon, catalogue.lat
    cand = catalogue.by_address & (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
    idx = np.flatnonzero(cand)
    if len(idx):
        out[idx[shapely.intersects_xy(geom, lon[idx], lat[idx])]] = True
    return out


# --------------------------------------------------------------------------- type

@dataclass(frozen=True)
class FamilyFilter(QueryFilter):
    """Establishments of one of the families of the family table (ids such as ``hopitaux``,
    or their labels, accent- and case-insensitive)."""

    families: tuple[str, ...]

    def __post_init__(self) -> None:
        fams = _tuple(self.families, "familles")
        if not fams:
            raise QueryError("aucune famille donnée / no family given")
        object.__setattr__(self, "families", fams)

    def resolve(self, catalogue: Catalogue) -> list[str]:
        """Family ids of the values; raises QueryError for an unknown one."""
        ids = [str(f) for f in catalogue.families["family"]]
        by_label = {fold_text(lab): str(f) for f, lab in zip(catalogue.families["family"],
                                                            catalogue.families["family_label"])}
        out = []
        for v in self.families:
            fid = v if v in ids else by_label.get(fold_text(v))
            if fid is None:
                fid = next((i for i in ids if fold_text(i) == fold_text(v)), None)
            if fid is None:
                raise QueryError(f"famille inconnue / unknown family: {v!r} "
                                 f"(familles : {', '.join(ids)})")
            out.append(fid)
        return out

    @property
    def label(self) -> str:
        return f"{_plural('Famille', len(self.families))} : {', '.join(self.families)}"

    def describe(self, catalogue: Catalogue) -> str:
        try:
            ids = self.resolve(catalogue)
        except QueryError:
            return self.label
        return f"{_plural('Famille', len(ids))} : {', '.join(catalogue.family_label(i) for i in ids)}"

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        return catalogue.family.mask(self.resolve(catalogue))


@dataclass(frozen=True)
class CategoryFilter(QueryFilter):
    """Establishments of FINESS categories (3 digits, e.g. ``500`` EHPAD) or of category
    aggregates (4 digits, e.g. ``4401``): the union of both lists."""

    categories: tuple[str, ...] = ()
    aggregates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        cats = _tuple(self.categories, "catégories")
        aggs = _tuple(self.aggregates, "agrégats")
        for c in cats:
            if not re.fullmatch(r"[0-9]{3}", c):
                raise QueryError(f"code de catégorie FINESS invalide (3 chiffres) / invalid FINESS "
                                 f"category code (3 digits): {c!r}")
        for a in aggs:
            if not re.fullmatch(r"[0-9]{4}", a):
                raise QueryError(f"code d'agrégat invalide (4 chiffres) / invalid aggregate code "
                                 f"(4 digits): {a!r}")
        if not cats and not aggs:
            raise QueryError("aucune catégorie donnée / no category given")
        object.__setattr__(self, "categories", cats)
        object.__setattr__(self, "aggregates", aggs)

    @property
    def label(self) -> str:
        parts = []
        if self.categories:
            parts.append(f"{_plural('Catégorie', len(self.categories))} FINESS : {', '.join(self.categories)}")
        if self.aggregates:
            parts.append(f"{_plural('Agrégat', len(self.aggregates))} de catégories : "
                         f"{', '.join(self.aggregates)}")
        return " ; ".join(parts)

    def _labels(self, catalogue: Catalogue, column: str) -> dict[str, str]:
        c = catalogue.categories
        if column == "category":
            return dict(zip(c["category"].astype(str), c["category_label"].astype(str)))
        return dict(zip(c["aggregate"].astype(str), c["aggregate_label"].astype(str)))

    def describe(self, catalogue: Catalogue) -> str:
        parts = []
        if self.categories:
            lab = self._labels(catalogue, "category")
            items = [f"{c} ({lab[c]})" if c in lab else c for c in self.categories]
            parts.append(f"{_plural('Catégorie', len(items))} FINESS : {', '.join(items)}")
        if self.aggregates:
            lab = self._labels(catalogue, "aggregate")
            items = [f"{a} ({lab[a]})" if a in lab else a for a in self.aggregates]
            parts.append(f"{_plural('Agrégat', len(items))} de catégories : {', '.join(items)}")
        return " ; ".join(parts)

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        known_c = self._labels(catalogue, "category")
        known_a = self._labels(catalogue, "aggregate")
        for c in self.categories:
            if c not in known_c and c not in catalogue.category:
                raise QueryError(f"catégorie FINESS inconnue / unknown FINESS category: {c!r}")
        for a in self.aggregates:
            if a not in known_a and a not in catalogue.aggregate:
                raise QueryError(f"agrégat de catégories inconnu / unknown category aggregate: {a!r}")
        return catalogue.category.mask(self.categories) | catalogue.aggregate.mask(self.aggregates)


# --------------------------------------------------------------------------- text

@dataclass(frozen=True)
class TextFilter(QueryFilter):
    """Fuzzy search on name, long name, name complement, commune and FINESS numbers.

    Accent-, case- and punctuation-insensitive, abbreviation-aware (``st`` = ``saint``,
    ``ch`` = ``centre hospitalier``), robust to typos (rapidfuzz); an exact FINESS number
    comes first. Rows scoring at least ``min_score`` (0-100) match. Any text is accepted;
    a text without a letter or digit filters nothing.
    """

    query: str
    min_score: float = 70.0

    def __post_init__(self) -> None:
        q = self.query
        object.__setattr__(self, "query", q if isinstance(q, str) else ("" if q is None else str(q)))
        s = self.min_score
        if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) \
                or not 0 <= float(s) <= 100:
            raise QueryError(f"score minimal invalide (0-100) / invalid minimum score: {s!r}")
        object.__setattr__(self, "min_score", float(s))

    @property
    def label(self) -> str:
        return f"Recherche : « {clean_for_display(self.query)} »"

    def match(self, catalogue: Catalogue) -> TextMatch:
        """Scores of every row (see :class:`~dac_map.query.text.TextMatch`)."""
        return catalogue.text_index.score(self.query, self.min_score)

    def mask_of(self, match: TextMatch) -> np.ndarray:
        if not match.active:
            return np.ones(len(match.scores), dtype=bool)
        return (match.scores >= self.min_score) | match.exact

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        return self.mask_of(self.match(catalogue))


__all__ = ["QueryFilter", "StatusFilter", "TerritoryFilter", "FamilyFilter", "CategoryFilter", "TextFilter", "clean_for_display"]
