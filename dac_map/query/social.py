"""The social side of a search (issue 16): what a :class:`~dac_map.query.spec.SearchSpec` asks
of the social resources (data·inclusion services and the DAC's local resources), and that
search.

Social resources are a kind of their own (:class:`~dac_map.inclusion.catalogue.SocialCatalogue`,
tables ``ressources_sociales`` / ``zones_ressources_sociales`` of the store), searched with the
filters of :mod:`dac_map.inclusion.filters`. One spec drives both kinds:

* **social criteria** (spec fields, URL / JSON keys): ``social_families``
  (``famille_sociale``, family keys of :data:`dac_map.inclusion.vocab.FAMILIES`),
  ``social_publics`` (``public_social``, data·inclusion v1 public codes), ``social_fee``
  (``frais``: ``gratuit`` / ``payant``), ``social_min_quality`` (``qualite``, 0-1);
* **scope** ``resources`` (``ressources``): ``finess``, ``sociales``, ``toutes`` or ``""``
  (automatic: the social resources when a social criterion is given, the FINESS establishments
  unless only social criteria are given) — :func:`scope`;
* **shared criteria** apply to both kinds: the territory (a social resource is in a territory
  when its commune or department is one of the territory's), departments / communes, the text
  ``q`` (name, structure, description), « Intervient à » (``intervient``: the resource's
  intervention area, :class:`~dac_map.query.serving.ServesCommuneFilter`, the filter FINESS+ zones use too) and « Autour
  de » (radius or the N nearest, straight-line distances in the metric CRS of the centre).
  FINESS-only criteria (families, categories, specialties, capacities, FINESS+ activities,
  closed establishments) never filter social resources.

Coordinates: WGS84 degrees (EPSG:4326) in the tables; distances in km computed in metres in a
metric CRS (Lambert-93 in metropolitan France, :mod:`dac_map.query.geometry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dac_map.errors import DacMapError
from dac_map.query.errors import QueryError

if TYPE_CHECKING:  # pragma: no cover
    from dac_map.inclusion.catalogue import SocialCatalogue
    from dac_map.query.catalogue import Catalogue
    from dac_map.query.spec import SearchSpec

#: Values of the ``ressources`` key (scope of a search); "" = automatic.
SCOPES: dict[str, str] = {
    "": "Selon les filtres",
    "finess": "Établissements sanitaires et médico-sociaux (FINESS)",
    "sociales": "Ressources sociales (data·inclusion, ressources locales)",
    "toutes": "Les deux",
}

#: Spec fields of the social criteria (their URL / JSON keys are in :mod:`dac_map.query.spec`).
SOCIAL_FIELDS = ("social_families", "social_publics", "social_fee", "social_min_quality")

#: Spec fields that select FINESS establishments by type (with one, the automatic scope keeps
#: the FINESS establishments beside the social resources).
FINESS_TYPE_FIELDS = ("families", "categories", "aggregates", "disciplines", "clienteles",
                      "activity_types", "min_capacity", "fp_types", "fp_publics", "fp_min_places")

#: Value of the ``kind`` column: how the result list and the CLI name each kind.
KIND_FINESS = "Établissement (FINESS)"
KIND_SOCIAL = "Ressource sociale"


def has_social_criteria(spec: SearchSpec) -> bool:
    """Whether ``spec`` gives a social criterion (family, public, fee, quality)."""
    return any(bool(getattr(spec, f, None)) for f in SOCIAL_FIELDS)


def has_finess_type_criteria(spec: SearchSpec) -> bool:
    """Whether ``spec`` selects FINESS establishments by type, specialty or capacity."""
    return any(bool(getattr(spec, f, None)) for f in FINESS_TYPE_FIELDS)


@dataclass(frozen=True)
class Scope:
    """Which kinds a search returns."""

    finess: bool
    social: bool


def scope(spec: SearchSpec) -> Scope:
    """The kinds ``spec`` asks for: explicit ``resources``, else the social resources when a
    social criterion is given, and the FINESS establishments unless only social criteria are
    given (« Aide alimentaire » alone shows food aid, not every establishment)."""
    kind = getattr(spec, "resources", "") or ""
    if kind == "finess":
        return Scope(True, False)
    if kind == "sociales":
        return Scope(False, True)
    if kind == "toutes":
        return Scope(True, True)
    social = has_social_criteria(spec)
    return Scope(finess=not social or has_finess_type_criteria(spec), social=social)


def check_spec(spec: SearchSpec) -> None:
    """Refuse (:class:`QueryError`, French and English, naming the value) social criteria that
    cannot be applied: an unknown scope, family, public or fee, a quality score outside 0-1,
    social criteria with the scope ``finess``. The command line calls it; the app reports the
    same problems as warnings (:func:`social_filters`)."""
    from dac_map.inclusion import filters as sf

    kind = getattr(spec, "resources", "") or ""
    if kind not in SCOPES:
        raise QueryError(f"ressources inconnues / unknown resources: {kind!r} (finess, sociales, toutes)")
    if kind == "finess" and has_social_criteria(spec):
        raise QueryError("critères sociaux avec des ressources FINESS seulement / social criteria with "
                         "FINESS resources only: choisir « sociales » ou « toutes »")
    if spec.social_families:
        sf.SocialFamilyFilter(tuple(spec.social_families))
    if spec.social_publics:
        sf.PublicFilter(tuple(spec.social_publics))
    if spec.social_fee:
        sf.FeeFilter(spec.social_fee)
    if spec.social_min_quality:
        sf.QualityFilter(spec.social_min_quality)


# --------------------------------------------------------------------------- the catalogue

def social_catalogue(catalogue: Catalogue, whole_table: bool = True) -> SocialCatalogue | None:
    """The social resources of the catalogue's store, loaded once per catalogue (kept in its
    cache, read-only); None when the store has none or cannot be read. ``whole_table``: the
    whole table read at once (a process that keeps the catalogue: the app); False for a one-off
    command, which reads only the columns and rows its search needs
    (:class:`~dac_map.inclusion.catalogue.SocialCatalogue`, same results)."""
    def load() -> SocialCatalogue | None:
        from dac_map.inclusion.catalogue import load_social

        source = catalogue.source if catalogue.source is not None else catalogue.path
        if source is None:
            return None
        try:
            return load_social(source, whole=whole_table)
        except (DacMapError, OSError, ValueError):
            return None

    social = catalogue.cached("_social_catalogue", load)
    if whole_table and social is not None:
        social.load_table()
    return social


# --------------------------------------------------------------------------- shared criteria as social filters

@dataclass(frozen=True)
class SocialTerritoryFilter:
    """Social resources located in a DAC territory (its departments and communes, by INSEE
    code of the resource's commune). ``name`` is the territory's name for the description."""

    dac_id: str
    departments: tuple[str, ...]
    communes: tuple[str, ...]
    name: str = ""

    @property
    def label(self) -> str:
        return f"Territoire DAC : {self.name or self.dac_id}"

    def describe(self, catalogue: object) -> str:
        return self.label

    def mask(self, social: SocialCatalogue) -> np.ndarray:
        return (np.isin(social.department, list(self.departments))
                | np.isin(social.commune, list(self.communes)))


def territory_filter(catalogue: Catalogue, dac_id: str) -> SocialTerritoryFilter:
    """The :class:`SocialTerritoryFilter` of a DAC territory of the catalogue (its departments
    and communes). Raises :class:`QueryError` for an unknown territory."""
    i = catalogue.territory_row.get(dac_id)
    if i is None:
        raise QueryError(f"territoire DAC inconnu / unknown DAC id: {dac_id!r}")
    t = catalogue.territories
    return SocialTerritoryFilter(
        dac_id, tuple(str(t["departments"].iat[i] or "").split()),
        tuple(str(t["communes"].iat[i] or "").split()) if "communes" in t else (),
        catalogue.territory_name(dac_id) or dac_id)


@dataclass(frozen=True)
class SocialNearFilter:
    """Around a place: the social resources within ``radius_km`` of the centre, or the ``n``
    nearest (within ``max_km`` when given). ``centre`` is the metric
    :class:`~dac_map.query.geometry.Centre` resolved with the FINESS catalogue (a commune, a
    FINESS establishment or a point); distances are straight lines, in km."""

    centre: object
    label_text: str
    radius_km: float | None = None
    n: int | None = None
    max_km: float | None = None

    @property
    def label(self) -> str:
        return self.label_text

    def describe(self, catalogue: object) -> str:
        return self.label_text

    def distances_km(self, social: SocialCatalogue) -> np.ndarray:
        """Straight-line distance (km) of each resource to the centre; NaN without coordinates."""
        return social_distances_km(social, self.centre)

    def mask(self, social: SocialCatalogue) -> np.ndarray:
        return self.mask_from(self.distances_km(social))

    def mask_from(self, d: np.ndarray) -> np.ndarray:
        """The mask of the distances ``d`` (km) :meth:`distances_km` returned."""
        with np.errstate(invalid="ignore"):
            if self.radius_km is not None:
                return d <= self.radius_km
            if self.max_km is not None:
                return d <= self.max_km
            return np.isfinite(d)


def social_distances_km(social: SocialCatalogue, centre) -> np.ndarray:
    """Distances (km) of the social resources to a metric ``centre`` (its CRS, metres; from
    its area when it has one, e.g. a commune outline)."""
    import shapely

    from dac_map.query.geometry import to_metric

    lon, lat = social.lonlat
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = np.full(len(lon), np.nan)
    if not ok.any():
        return out
    x, y = to_metric(centre.epsg).transform(lon[ok], lat[ok])
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if centre.area is not None:
        d = shapely.distance(centre.area, shapely.points(x, y))
    else:
        d = np.hypot(x - centre.x, y - centre.y)
    out[ok] = d / 1000.0
    return out


# --------------------------------------------------------------------------- spec -> filters

def _territory(spec: SearchSpec, catalogue: Catalogue) -> list:
    from dac_map.inclusion.filters import LocatedInFilter
    from dac_map.query.params import NATIONAL

    out: list = []
    if spec.dac and spec.dac != NATIONAL:
        out.append(territory_filter(catalogue, spec.dac))
    if spec.departments or spec.communes:
        out.append(LocatedInFilter(departments=tuple(spec.departments), communes=tuple(spec.communes)))
    return out


def _near(spec: SearchSpec, catalogue: Catalogue, departments: Sequence[str],
          warnings: list[str] | None) -> SocialNearFilter | None:
    from dac_map.query.distance import DistanceFilter
    from dac_map.query.near import resolve_near
    from dac_map.query.nearest import NearestFilter

    near = resolve_near(spec.near, catalogue, departments)
    if near is None:
        return None
    if near.note and warnings is not None:
        warnings.append(near.note)  # e.g. several communes of that name: which one was taken
    if spec.radius_km is not None:
        f = DistanceFilter(spec.radius_km, point=near.lonlat, commune=near.commune,
                           finess=near.finess, outline=spec.outline and near.kind == "commune")
        return SocialNearFilter(f.centre(catalogue), f.describe(catalogue), radius_km=spec.radius_km)
    nf = NearestFilter(point=near.lonlat, commune=near.commune, finess=near.finess,
                       n=spec.nearest_n, max_km=spec.max_km or None)
    _, centre = nf.centre_lonlat(catalogue)
    where = near.commune and (catalogue.commune_name(near.commune) or near.commune)
    if near.finess:
        where = f"l'établissement {near.finess}"
    if near.point:
        where = f"{near.point[0]:g}, {near.point[1]:g}"
    text = f"Les {spec.nearest_n} plus proches, autour de {where} (à vol d'oiseau)"
    if spec.max_km:
        text += f", à {spec.max_km:g} km au plus".replace(".", ",")
    return SocialNearFilter(centre, text, n=spec.nearest_n, max_km=spec.max_km or None)


def social_filters(spec: SearchSpec, catalogue: Catalogue, departments: Sequence[str] = (),
                   warnings: list[str] | None = None) -> list:
    """The social filters of ``spec``: territory, social criteria, « Intervient à », text,
    « Autour de » (last). With a ``warnings`` list a criterion that cannot be applied is left
    out and its French message appended (the app); without, :class:`QueryError` is raised."""
    from dac_map.inclusion import filters as sf
    from dac_map.query.serving import ServesCommuneFilter  # « Intervient à »: one filter for both kinds

    steps = (
        lambda: _territory(spec, catalogue),
        lambda: [sf.SocialFamilyFilter(tuple(spec.social_families))] if spec.social_families else [],
        lambda: [sf.PublicFilter(tuple(spec.social_publics))] if spec.social_publics else [],
        lambda: [sf.FeeFilter(spec.social_fee)] if spec.social_fee else [],
        lambda: [sf.QualityFilter(spec.social_min_quality)] if spec.social_min_quality else [],
        lambda: [ServesCommuneFilter(spec.serves)] if spec.serves.strip() else [],
        lambda: [sf.SocialTextFilter(spec.text)] if spec.text.strip() else [],
        lambda: [f for f in [_near(spec, catalogue, departments, warnings)] if f is not None],
    )
    out: list = []
    for step in steps:
        try:
            out.extend(step())
        except QueryError as exc:
            if warnings is None:
                raise
            warnings.append(f"Ressources sociales : {exc}")
    return out


# --------------------------------------------------------------------------- search

@dataclass(frozen=True)
class SocialResult:
    """The social resources a search found: ``records`` (rows of the social table, plus
    ``kind`` = :data:`KIND_SOCIAL`, ``distance_km`` (NaN without a centre) and ``merged``
    (False; the app sets it for resources linked to a FINESS establishment of the result),
    nearest first around a place, else best quality first then by name), the French
    ``labels`` of the filters applied and ``emptied_by`` (label of the first filter that
    brought the count to zero, or None)."""

    records: pd.DataFrame
    labels: list[str] = field(default_factory=list)
    emptied_by: str | None = None

    @property
    def total(self) -> int:
        return len(self.records)

    def counts_by_family(self) -> dict[str, int]:
        """Resources per social family key (a resource counts in each of its families), in
        :data:`~dac_map.inclusion.vocab.FAMILIES` order."""
        from dac_map.inclusion import vocab

        counts: dict[str, int] = {}
        for fams in self.records.get("families", pd.Series(dtype=object)):
            for f in fams or ():
                k = str(f).removeprefix(vocab.FAMILY_PREFIX)
                counts[k] = counts.get(k, 0) + 1
        return {k: counts[k] for k in vocab.FAMILIES if k in counts}


def _order(social: SocialCatalogue, rows: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Positions of ``rows`` ordered by ``key`` (ascending) then by name, sorted by pandas on
    the table's own string column (no Python comparison of every name)."""
    names = social.column("name").iloc[rows].reset_index(drop=True)
    keys = pd.DataFrame({"k": key, "n": names})
    return keys.sort_values(["k", "n"], kind="stable", na_position="last").index.to_numpy()


def run_social(social: SocialCatalogue, filters: Sequence) -> SocialResult:
    """The resources matching every filter (see :class:`SocialResult` for the order). Rows are
    ordered (and, for the N nearest, cut) on arrays before the table is copied: only the rows
    returned are copied."""
    mask = np.ones(len(social), dtype=bool)
    emptied = None
    near = None
    dist = None
    labels = []
    for f in filters:
        labels.append(f.describe(social))
        if isinstance(f, SocialNearFilter):
            near, dist = f, f.distances_km(social)  # computed once, for the mask and the order
            mask &= f.mask_from(dist)
        elif hasattr(f, "mask_within"):  # the text: folded on the rows still in the result only
            mask &= f.mask_within(social, mask)
        else:
            mask &= f.mask(social)
        if emptied is None and not mask.any():
            emptied = f.label
    rows = np.flatnonzero(mask)
    if near is not None:
        d = np.where(np.isnan(dist[rows]), np.inf, dist[rows])
        if near.radius_km is None and near.n is not None and len(rows) > near.n:
            keep = np.argpartition(d, near.n - 1)[:near.n]  # the n nearest, unordered
            rows, d = rows[keep], d[keep]
        order = _order(social, rows, d)  # nearest first, then by name
    else:
        q = social.quality[rows]
        order = _order(social, rows, -np.where(np.isnan(q), -1.0, q))  # best quality first, then by name
    rows = rows[order]
    out = social.records(rows)  # the rows returned only (read from the store by a one-off command)
    out["kind"] = KIND_SOCIAL
    out["distance_km"] = dist[rows] if dist is not None else np.nan
    out["merged"] = False
    return SocialResult(out.reset_index(drop=True), labels, emptied)


def search_social_spec(spec: SearchSpec, catalogue: Catalogue, departments: Sequence[str] = (),
                       warnings: list[str] | None = None, whole_table: bool = True) -> SocialResult | None:
    """The social search of ``spec`` (None when its scope has no social resources or the store
    has none). ``warnings`` as in :func:`social_filters`; ``whole_table`` as in
    :func:`social_catalogue` (False: a one-off command)."""
    if not scope(spec).social:
        return None
    social = social_catalogue(catalogue, whole_table)
    if social is None or not len(social):
        if warnings is not None:
            warnings.append("Aucune ressource sociale dans ce catalogue : importez les services "
                            "data·inclusion ou la table locale du DAC (dac-map inclusion import).")
            return None
        raise QueryError("aucune ressource sociale dans ce catalogue / no social resources in this "
                         "catalogue (dac-map inclusion import)")
    return run_social(social, social_filters(spec, catalogue, departments, warnings))


def describe_social(spec: SearchSpec) -> list[str]:
    """French description of the social criteria of ``spec`` (for the summary, the unmet-need
    log and the report), without needing the social catalogue."""
    from dac_map.inclusion import vocab

    out = []
    if spec.social_families:
        names = [vocab.family_label(f) for f in spec.social_families]
        out.append(("Ressource sociale : " if len(names) == 1 else "Ressources sociales : ")
                   + ", ".join(names))
    if spec.social_publics:
        out.append("Public : " + ", ".join(vocab.PUBLICS.get(p, p) for p in spec.social_publics))
    if spec.social_fee:
        out.append(f"Frais : {vocab.FEES.get(spec.social_fee, spec.social_fee).lower()}")
    if spec.social_min_quality:
        out.append(f"Score de qualité data·inclusion ≥ {spec.social_min_quality:.2f}".replace(".", ","))
    kinds = scope(spec)
    if kinds.social:
        out.append("Établissements FINESS et ressources sociales" if kinds.finess
                   else "Ressources sociales uniquement")
    return out


def social_family_key(value: str) -> str:
    """A social family key from what a person types: the key (``aide_alimentaire``, with or
    without the ``social_`` prefix) or the start of its French label (« Aide alimentaire »,
    accents and case ignored). Raises :class:`QueryError` listing the families otherwise."""
    from dac_map.inclusion import vocab
    from dac_map.query.text import fold_text

    v = str(value).strip().removeprefix(vocab.FAMILY_PREFIX)
    if v in vocab.FAMILIES:
        return v
    folded = fold_text(v)
    hits = [k for k, lab in vocab.FAMILIES.items() if folded and fold_text(lab).startswith(folded)]
    if len(hits) == 1:
        return hits[0]
    raise QueryError(f"besoin social inconnu / unknown social family: {value!r} (familles : "
                     + ", ".join(f"{k} = {lab}" for k, lab in vocab.FAMILIES.items()) + ")")


__all__ = ["check_spec", "social_family_key", "FINESS_TYPE_FIELDS", "KIND_FINESS", "KIND_SOCIAL", "SCOPES", "SOCIAL_FIELDS", "Scope",
           "SocialNearFilter", "SocialResult", "SocialTerritoryFilter", "describe_social",
           "has_finess_type_criteria", "has_social_criteria", "run_social", "scope",
           "search_social_spec", "social_catalogue", "territory_filter", "social_distances_km", "social_filters"]
