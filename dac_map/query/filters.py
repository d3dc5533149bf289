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
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import shapely

from dac_map.codes import is_commune, is_department, is_finess
from dac_map.query.catalogue import OPEN_STATUS, Catalogue
from dac_map.query.errors import QueryError
from dac_map.query.geometry import Centre, area_centre, distances_km, point_centre
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
    offered now count (:func:`~dac_map.query.catalogue.offered_lines`: installation not
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

    def __post_init__(self) -> None:
        v = self.min_places
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(v)) or float(v) < 0:
            raise QueryError(f"capacité minimale invalide (nombre ≥ 0) / invalid minimum capacity: {v!r}")
        object.__setattr__(self, "min_places", int(v) if float(v).is_integer() else float(v))

    def narrowing(self) -> QueryFilter | None:
        """The sub-filter the places are counted on, if any."""
        return None

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

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.specialty is not None and not isinstance(self.specialty, SpecialtyFilter):
            raise QueryError("specialty doit être un SpecialtyFilter / specialty must be a SpecialtyFilter")

    def narrowing(self) -> SpecialtyFilter | None:
        return self.specialty

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


# --------------------------------------------------------------------------- distance

@dataclass(frozen=True)
class DistanceFilter(QueryFilter):
    """Establishments within ``radius_km`` kilometres of a centre, which is exactly one of:

    * ``point``: (longitude, latitude) in WGS84 degrees (EPSG:4326);
    * ``commune``: an INSEE commune code, measured from the centroid of its outline, or with
      ``outline=True`` from any part of the commune (0 km inside it);
    * ``finess``: the FINESS number of a located establishment.

    Distances are straight-line, computed in metres in the metric CRS of the centre
    (EPSG:2154 Lambert-93 in metropolitan France, the local UTM CRS overseas) from the rows'
    ``x_m``/``y_m``; rows in another metric CRS or without coordinates are excluded.
    :meth:`distances_km` returns them in kilometres.
    """

    radius_km: float
    point: tuple[float, float] | None = None
    commune: str | None = None
    finess: str | None = None
    outline: bool = False

    def __post_init__(self) -> None:
        r = self.radius_km
        if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(r)) or not 0 < float(r) <= 1000:
            raise QueryError(f"rayon invalide (0 < km ≤ 1000) / invalid radius: {r!r}")
        object.__setattr__(self, "radius_km", float(r))
        given = [x is not None for x in (self.point, self.commune, self.finess)]
        if sum(given) != 1:
            raise QueryError("donner exactement un centre : point, commune ou FINESS / "
                             "give exactly one centre: point, commune or FINESS number")
        if self.point is not None:
            try:
                lon, lat = (float(v) for v in self.point)
            except (TypeError, ValueError):
                raise QueryError(f"point invalide / bad point: {self.point!r}") from None
            if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
                raise QueryError(f"point invalide / bad point: « {lat:g}, {lon:g} » (lat, lon en "
                                 "degrés WGS84 : latitude entre -90 et 90, longitude entre -180 et 180)")
            object.__setattr__(self, "point", (lon, lat))
        if self.commune is not None:
            c = str(self.commune).strip().upper()
            if not is_commune(c):
                raise QueryError(f"code INSEE de commune invalide / invalid commune INSEE code: {c!r}")
            object.__setattr__(self, "commune", c)
        if self.finess is not None:
            f = str(self.finess).strip().upper()
            if not is_finess(f):
                raise QueryError(f"numéro FINESS invalide / invalid FINESS number: {f!r}")
            object.__setattr__(self, "finess", f)
        if self.outline and self.commune is None:
            raise QueryError("le mode contour ne vaut que pour une commune / outline mode needs a commune")

    @property
    def label(self) -> str:
        return self._text(None)

    def describe(self, catalogue: Catalogue) -> str:
        name = None
        if self.commune is not None:
            name = catalogue.commune_name(self.commune)
        elif self.finess is not None:
            i = catalogue.finess_row.get(self.finess)
            if i is not None:
                name = clean_for_display(str(catalogue.establishments["name"].iat[i]))
        return self._text(name)

    def _text(self, name: str | None) -> str:
        head = f"À moins de {_number(self.radius_km)} km"
        if self.point is not None:
            return f"{head} du point (lat {self.point[1]:.5f}, lon {self.point[0]:.5f})"
        if self.commune is not None:
            what = f"{name} ({self.commune})" if name else self.commune
            if self.outline:
                return f"{head} de tout point de la commune {what}"
            return f"{head} du centre de la commune {what}"
        what = f"{name} ({self.finess})" if name else self.finess
        return f"{head} de l'établissement {what}"

    def centre(self, catalogue: Catalogue) -> Centre:
        """The centre in metres in its metric CRS. Raises QueryError for an unknown commune or
        FINESS number, or an establishment without coordinates."""
        if self.point is not None:
            return point_centre(*self.point, self.label)
        if self.commune is not None:
            i = catalogue.commune_row.get(self.commune)
            if i is None:
                return commune_point_centre(catalogue, self.commune)
            return area_centre(self.commune, catalogue.communes.geometry.iat[i],
                               str(catalogue.communes["name"].iat[i]), keep_area=self.outline)
        i = catalogue.finess_row.get(self.finess)
        if i is None:
            raise QueryError(f"numéro FINESS inconnu / unknown FINESS number: {self.finess!r}")
        x, y = catalogue.x_m[i], catalogue.y_m[i]
        if not (np.isfinite(x) and np.isfinite(y)):
            raise QueryError(f"l'établissement {self.finess} n'a pas de coordonnées / "
                             "this establishment has no coordinates")
        return Centre(int(catalogue.epsg_m[i]), float(x), float(y), None,
                      str(catalogue.establishments["name"].iat[i]))

    def distances_km(self, catalogue: Catalogue) -> np.ndarray:
        """Distance of each row to the centre in km; NaN when not computed (no coordinates,
        another metric CRS, or, in outline mode, certainly beyond the radius)."""
        return distances_km(self.centre(catalogue), catalogue.x_m, catalogue.y_m,
                            catalogue.epsg_m, self.radius_km)

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        return np.less_equal(self.distances_km(catalogue), self.radius_km)


# --- commune without outline (issue 10): a point from its establishments ---------------------

#: Communes with municipal arrondissements: FINESS files code establishments by arrondissement.
ARRONDISSEMENTS: dict[str, tuple[str, ...]] = {
    "75056": tuple(f"751{k:02d}" for k in range(1, 21)),   # Paris
    "13055": tuple(f"132{k:02d}" for k in range(1, 17)),   # Marseille
    "69123": tuple(f"6938{k}" for k in range(1, 10)),      # Lyon
}


def commune_point_centre(catalogue: Catalogue, commune: str) -> Centre:
    """Centre of a commune the store has no outline for: the median position of its located
    establishments (by commune code; Paris, Lyon and Marseille through their arrondissements),
    in the metric CRS of the first of them. Raises :class:`QueryError` with a plain French
    explanation when none is located."""
    codes_ = (commune, *ARRONDISSEMENTS.get(commune, ()))
    est = catalogue.establishments
    if "commune" not in est:
        rows = np.zeros(len(catalogue), dtype=bool)
    else:
        rows = est["commune"].astype(str).isin(codes_).to_numpy() & catalogue.has_point
    if not rows.any():
        raise QueryError(
            f"commune inconnue ou sans contour dans ce GeoPackage / unknown commune or commune "
            f"without outline: {commune!r} — aucun établissement localisé n'en donne le centre : "
            "indiquez plutôt un point « lat, lon » ou le n° FINESS d'un établissement proche.")
    lon = float(np.median(catalogue.lon[rows]))
    lat = float(np.median(catalogue.lat[rows]))
    return point_centre(lon, lat, f"commune {commune} (centre approché d'après {int(rows.sum())} "
                                  "établissement(s))")


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


__all__ = ["QueryFilter", "StatusFilter", "TerritoryFilter", "FamilyFilter", "CategoryFilter",
           "SpecialtyFilter", "MinPlacesFilter", "CapacityFilter", "DistanceFilter", "TextFilter",
           "specialty_capacity", "clean_for_display", "ACTIVITY_TYPE_ALIASES"]
