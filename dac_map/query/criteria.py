"""The criteria of a :class:`~dac_map.query.spec.SearchSpec` and how each becomes one
query-layer filter (:data:`CRITERIA`, used by :meth:`~dac_map.query.spec.SearchSpec.to_filters`);
with :data:`~dac_map.query.params.PARAMS` it drives URL, JSON, query and description.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dac_map.query.errors import QueryError
from dac_map.query.near import resolve_near
from dac_map.query.params import NATIONAL
from dac_map.query.spec import SOCIAL_KEYS

if TYPE_CHECKING:  # pragma: no cover
    from dac_map.query.catalogue import Catalogue
    from dac_map.query.filters import QueryFilter
    from dac_map.query.spec import SearchSpec

@dataclass
class _Context:
    catalogue: Catalogue
    departments: tuple[str, ...]
    warnings: list[str] | None  # None: strict (raise)
    has_network: bool | None = None
    built: dict[str, QueryFilter] = field(default_factory=dict)


def _status(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    from dac_map.query.filters import StatusFilter

    return StatusFilter(open_only=False) if spec.include_closed else None  # search adds open-only


def _territory(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    from dac_map.query.filters import TerritoryFilter

    dac = spec.dac if spec.dac and spec.dac != NATIONAL else None
    if not (dac or spec.departments or spec.communes):
        return None
    return TerritoryFilter(dac_id=dac, departments=spec.departments, communes=spec.communes)


def _family(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    from dac_map.query.filters import FamilyFilter

    return FamilyFilter(spec.families) if spec.families else None


def _category(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    from dac_map.query.filters import CategoryFilter

    if not (spec.categories or spec.aggregates):
        return None
    return CategoryFilter(categories=spec.categories, aggregates=spec.aggregates)


def _specialty(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    from dac_map.query.specialty import SpecialtyFilter

    if not (spec.disciplines or spec.clienteles or spec.activity_types):
        return None
    if ctx.warnings is not None and not ctx.catalogue.has_equipment:
        raise QueryError("Pas de données d'équipement dans ce GeoPackage : filtre de spécialité ignoré.")
    return SpecialtyFilter(disciplines=spec.disciplines, activity_types=spec.activity_types,
                           clienteles=spec.clienteles)


def _capacity(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    from dac_map.query.specialty import CapacityFilter

    if spec.min_capacity:
        return CapacityFilter(min_places=spec.min_capacity, authorised=spec.authorised,
                              specialty=ctx.built.get("specialty"))  # type: ignore[arg-type]
    if spec.authorised:
        raise QueryError("la capacité autorisée s'utilise avec une capacité minimale / "
                         "authorised needs a minimum capacity")
    return None


def _fp_activity(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    """FINESS+ activity types and publics (issue 11)."""
    from dac_map.finess_plus.filters import ActivityTypeFilter

    if not (spec.fp_types or spec.fp_publics):
        return None
    _needs_finess_plus(ctx)
    return ActivityTypeFilter(spec.fp_types, spec.fp_publics)


def _fp_capacity(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    """Installed or authorised places of the FINESS+ activities (issue 11)."""
    from dac_map.finess_plus.filters import ActivityCapacityFilter

    if spec.fp_min_places:
        _needs_finess_plus(ctx)
        return ActivityCapacityFilter(spec.fp_min_places, authorised=spec.fp_authorised,
                                      activity=ctx.built.get("finess_plus_activity"))  # type: ignore[arg-type]
    return None


def _serves(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    """« Intervient à <commune> »: the FINESS+ intervention zones (issue 11; the one filter of
    :mod:`dac_map.query.serving`)."""
    from dac_map.query.serving import ServesCommuneFilter

    if not spec.serves.strip():
        return None
    f = ServesCommuneFilter(spec.serves)
    _needs_finess_plus(ctx)
    return f


def _needs_finess_plus(ctx: _Context) -> None:
    if getattr(ctx.catalogue, "finess_plus", None) is None:
        raise QueryError("Pas d'activités FINESS+ dans ce GeoPackage : critère d'activité ou de zone "
                         "d'intervention ignoré (charger le flux Activités).")


def _text(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    from dac_map.query.filters import TextFilter

    return TextFilter(spec.text) if spec.text.strip() else None


def _distance(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    """The distance filter, its centre checked now (an unknown commune or FINESS number, a
    point outside France) rather than in the middle of the search."""
    from dac_map.query.distance import DistanceFilter

    near = resolve_near(spec.near, ctx.catalogue, ctx.departments)
    if near is None:
        return None
    if near.note and ctx.warnings is not None:
        ctx.warnings.append(near.note)
    if spec.radius_km is None:  # issue 12: the N nearest, no radius to guess
        from dac_map.query.nearest import NearestFilter

        minutes = spec.max_minutes or None
        if minutes and ctx.has_network is False:
            msg = ("Durée maximale ignorée : pas de réseau routier pour ce territoire (distances "
                   "à vol d'oiseau).")
            if ctx.warnings is None:
                raise QueryError(msg)
            ctx.warnings.append(msg)
            minutes = None
        nf = NearestFilter(point=near.lonlat, commune=near.commune, finess=near.finess,
                           n=spec.nearest_n, max_minutes=minutes, max_km=spec.max_km or None)
        nf.centre_lonlat(ctx.catalogue)
        return nf
    # The app offers "contour" for communes only and ignores it otherwise; the command line
    # reports the mistake.
    outline = spec.outline and (ctx.warnings is None or near.kind == "commune")
    f = DistanceFilter(spec.radius_km, point=near.lonlat, commune=near.commune,
                       finess=near.finess, outline=outline)
    f.centre(ctx.catalogue)
    return f


def _social(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    """The social criteria (issue 16) select social resources, never FINESS establishments:
    no query filter here; :mod:`dac_map.query.social` applies them to the social catalogue."""
    return None


@dataclass(frozen=True)
class Criterion:
    """One criterion of a search: the :data:`PARAMS` keys it reads and how it becomes a
    query filter (``build`` returns None when the criterion is not used; raises
    :class:`QueryError` when it cannot be applied). The filter's ``describe(catalogue)`` is
    its French description."""

    name: str
    keys: tuple[str, ...]
    build: Callable[[SearchSpec, _Context], QueryFilter | None]


#: The criteria, in filter order. With :data:`PARAMS`, drives URL, JSON, query and description.
CRITERIA: tuple[Criterion, ...] = (
    Criterion("status", ("fermes",), _status),
    Criterion("territory", ("dac", "departement", "commune"), _territory),
    Criterion("family", ("famille",), _family),
    Criterion("category", ("categorie", "agregat"), _category),
    Criterion("specialty", ("discipline", "clientele", "activite"), _specialty),
    Criterion("capacity", ("capacite", "autorisee"), _capacity),
    Criterion("finess_plus_activity", ("activite_fp", "public"), _fp_activity),
    Criterion("finess_plus_capacity", ("places_fp", "places_fp_autorisees"), _fp_capacity),
    Criterion("serves", ("intervient",), _serves),
    Criterion("text", ("q",), _text),
    Criterion("distance", ("autour", "rayon", "contour", "n", "minutes", "km_max"), _distance),
    Criterion("social", SOCIAL_KEYS, _social),
)


__all__ = ["Criterion", "CRITERIA"]
