"""One search specification: what a coordinator asked for, as a frozen value.

A :class:`SearchSpec` is the single description of a search, used by

* the app's URL (:mod:`dac_map.ui.state`: ``?dac=DAC-80&famille=pa_hebergement``),
* the command line (``dac-map search``),
* the unmet-need log (:mod:`dac_map.coverage.unmet`), which stores its JSON form.

One registry drives all of it, datasette style: :data:`PARAMS` names each URL / JSON key
(French, stable), its :class:`SearchSpec` field, how a URL value is read (with a French
warning for an unusable one), written, and checked in JSON; :data:`CRITERIA` groups the keys
into criteria, each turned into one query-layer filter (:meth:`SearchSpec.to_filters`) whose
``describe(catalogue)`` is the human (French) description.

Keys (URL and JSON): ``dac`` (territory id, ``france`` = national view), ``departement``,
``commune`` (INSEE codes), ``famille``, ``categorie``, ``agregat``, ``discipline``,
``clientele``, ``activite`` (codes; equipment kinds also accept label words on the command
line), ``capacite`` (minimum places), ``autorisee`` (authorised instead of installed places),
``q`` (text search), ``autour`` (centre: INSEE commune code, FINESS number, commune name or a
point ``lat, lon``), ``rayon`` (km), ``contour`` (distance from the commune outline),
``fermes`` (closed establishments too), ``tri`` (sort), and around a place (issue 12):
``n`` (how many nearest resources, default setting ``NEAREST_N``), ``minutes`` (maximum car
travel time, with a road network), ``km_max`` (maximum straight-line distance); FINESS+ (issue 11, version 3): ``intervient``
(« Intervient à » : commune INSEE code), ``activite_fp`` (activity types: TRE_R392 codes,
activity codes or label words), ``public`` (TRE_R403 codes or words), ``places_fp`` (minimum
places of those activities), ``places_fp_autorisees`` (authorised instead of installed).

Around a place, the search returns the ``n`` nearest resources (no radius to guess) unless a
``rayon`` is given: a radius is an explicit filter (``radius_km`` not None). Links and logged
searches made before (which always carried ``rayon`` with ``autour``) keep their meaning.

JSON form (:meth:`SearchSpec.to_json`), stored by the unmet-need log, version 2 (version 1,
without ``n``/``minutes``/``km_max``, is still read)::

    {"v": 2, "dac": "DAC-80", "famille": ["pa_hebergement"], "capacite": 30,
     "autour": "80021", "rayon": 12.5, "contour": true}

``v`` is the format version (an integer, always present); the other keys are the keys above,
present only when not at their default; code lists are JSON arrays of strings, ``capacite``
and ``rayon`` numbers, ``autorisee`` / ``contour`` / ``fermes`` booleans, the others strings.
The format never depends on Python class or field names; a new key means a new version.

Coordinates: a point is written and read **"lat, lon"** (WGS84 degrees, latitude first, as
copied from most map sites), everywhere: URL, command line, messages. Internally
:class:`~dac_map.query.filters.DistanceFilter` keeps ``point=(lon, lat)`` (x, y order).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from dac_map import settings
from dac_map.codes import COMMUNE_RE, FINESS_RE, department_of
from dac_map.query.errors import QueryError

if TYPE_CHECKING:  # pragma: no cover
    from dac_map.query.catalogue import Catalogue
    from dac_map.query.filters import QueryFilter

#: Version of the JSON form written by :meth:`SearchSpec.to_json` (2: issue 12's ``n``,
#: ``minutes``, ``km_max``); with a FINESS+ key (:data:`FINESS_PLUS_KEYS`, issue 11) version
#: :data:`JSON_VERSION_FINESS_PLUS` is written; :data:`JSON_VERSIONS` are read.
JSON_VERSION = 2
JSON_VERSION_FINESS_PLUS = 3
JSON_VERSIONS = (1, 2, 3)
#: Keys added by version 3 (FINESS+ activities and intervention zones, issue 11).
FINESS_PLUS_KEYS = ("intervient", "activite_fp", "public", "places_fp", "places_fp_autorisees")

#: Value of ``dac`` for the national view (no territory filter).
NATIONAL = "france"

#: Largest accepted values from a URL (anything above is clamped).
MAX_CAPACITY = 5000
MIN_RADIUS_KM = 0.5
MAX_RADIUS_KM = 200.0
MAX_TEXT = 200
MAX_NEAREST = 200
MAX_MINUTES = 240.0

#: Sort keys (the query layer's, :data:`dac_map.query.search.SORTS`); "" = default order.
SORT_KEYS = ("", "name", "distance", "time", "capacity", "score", "finess")

_CODE = re.compile(r"[0-9A-Za-z_\-]{1,40}")
_POINT = re.compile(r"\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*[;, ]\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*")
_TRUE = ("1", "true", "oui")

#: How a point is written, for messages.
POINT_FORMAT = "« lat, lon » (degrés WGS84, latitude d'abord, ex. 49.894, 2.296)"


def _default_nearest() -> int:
    return int(settings.NEAREST_N)


@dataclass(frozen=True)
class SearchSpec:
    """What was asked, without paging or focus. Tuples hold codes (territories, INSEE codes,
    family ids, FINESS category / aggregate codes, equipment discipline / clientèle / activity
    type codes or label words). ``dac`` is a territory id, :data:`NATIONAL` or None (no
    territory criterion; the app then uses its default territory). ``near`` is the centre of a
    distance criterion as typed (see :func:`resolve_near`); ``min_capacity`` in places (0 = no
    minimum). Around a place (issue 12): with ``radius_km`` (kilometres) every resource within
    that radius; without (None, the default), the ``nearest_n`` nearest, optionally within
    ``max_minutes`` minutes by car and ``max_km`` km (0 = no bound)."""

    dac: str | None = None
    departments: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    aggregates: tuple[str, ...] = ()
    disciplines: tuple[str, ...] = ()
    clienteles: tuple[str, ...] = ()
    activity_types: tuple[str, ...] = ()
    min_capacity: int = 0
    authorised: bool = False
    text: str = ""
    near: str = ""
    radius_km: float | None = None
    outline: bool = False
    include_closed: bool = False
    sort: str = ""
    # ---- issue 12: around a place, without a radius
    nearest_n: int = field(default_factory=_default_nearest)
    max_minutes: float = 0.0
    max_km: float = 0.0
    # ---- FINESS+ (issue 11): « Intervient à » (commune INSEE code), activity types (TRE_R392
    # codes, activity codes or label words), publics (TRE_R403), minimum places of those
    # activities, installed (default) or authorised
    serves: str = ""
    fp_types: tuple[str, ...] = ()
    fp_publics: tuple[str, ...] = ()
    fp_min_places: int = 0
    fp_authorised: bool = False

    @property
    def national(self) -> bool:
        return self.dac == NATIONAL

    def spec(self) -> SearchSpec:
        """The search specification itself (for subclasses adding view state: the part that
        changes the result set)."""
        return SearchSpec(**{f.name: getattr(self, f.name) for f in fields(SearchSpec)})

    # ------------------------------------------------------------------ URL

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> tuple[SearchSpec, list[str]]:
        """Read URL query parameters (one string per key, or lists: the last value counts).
        Unusable values are dropped and reported in French; unknown keys are ignored."""
        kw, warnings = _read(params)
        return cls(**kw), warnings

    def to_params(self) -> dict[str, str]:
        """URL query parameters: ``dac`` when set (a link names its territory), the others
        only when not at their default; ``rayon`` with a centre or when not the default."""
        out: dict[str, str] = {}
        for p in PARAMS:
            value = getattr(self, p.attr)
            if p.include(self, value):
                out[p.key] = p.url_text(value)
        return out

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON form (see the module docstring): ``{"v": 1, ...}``."""
        out: dict[str, Any] = {"v": JSON_VERSION}
        for p in PARAMS:
            value = getattr(self, p.attr)
            if p.include(self, value):
                out[p.key] = p.json_value(value)
        if any(k in out for k in FINESS_PLUS_KEYS):
            out["v"] = JSON_VERSION_FINESS_PLUS
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> SearchSpec:
        """Read the JSON form. Raises :class:`QueryError` (naming the key) for a missing or
        unknown version, an unknown key or a value of the wrong type."""
        if not isinstance(obj, Mapping):
            raise QueryError("critères : objet JSON attendu / criteria: JSON object expected")
        v = obj.get("v")
        if v not in JSON_VERSIONS or isinstance(v, bool):
            raise QueryError(f"critères : version {v!r} inconnue (attendu {JSON_VERSION}) / "
                             f"criteria: unknown version {v!r}")
        by_key = {p.key: p for p in PARAMS}
        kw: dict[str, object] = {}
        for key, value in obj.items():
            if key == "v":
                continue
            p = by_key.get(key)
            if p is None or (v == 1 and key in _V2_KEYS) or (v != JSON_VERSION_FINESS_PLUS
                                                              and key in FINESS_PLUS_KEYS):
                raise QueryError(f"critères : clé inconnue « {key} » / criteria: unknown key {key!r}")
            kw[p.attr] = p.from_json(value)
        return cls(**kw)

    # ------------------------------------------------------------------ query

    def to_filters(self, catalogue: Catalogue, departments: Sequence[str] = (),
                   warnings: list[str] | None = None, has_network: bool | None = None
                   ) -> list[QueryFilter]:
        """The query-layer filters, one per criterion of :data:`CRITERIA` that applies, in
        that order (territory first). ``departments`` orders commune-name look-ups of
        ``near``. With a ``warnings`` list, a criterion that cannot be applied is left out and
        its French message appended (the app); without, :class:`QueryError` is raised (the
        command line). ``has_network`` False: a maximum travel time cannot be applied (no road
        network for the search); None: not known here (the search will say)."""
        ctx = _Context(catalogue, tuple(departments), warnings, has_network)
        out: list[QueryFilter] = []
        for criterion in CRITERIA:
            try:
                f = criterion.build(self, ctx)
            except QueryError as exc:
                if warnings is None:
                    raise
                warnings.append(str(exc))
                continue
            if f is not None:
                out.append(f)
                ctx.built[criterion.name] = f
        return out

    def describe(self, catalogue: Catalogue) -> list[str]:
        """French description of each criterion that applies (names looked up)."""
        return [f.describe(catalogue) for f in self.to_filters(catalogue, warnings=[])]


# --------------------------------------------------------------------------- criteria -> filters

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
    from dac_map.query.filters import SpecialtyFilter

    if not (spec.disciplines or spec.clienteles or spec.activity_types):
        return None
    if ctx.warnings is not None and not ctx.catalogue.has_equipment:
        raise QueryError("Pas de données d'équipement dans ce GeoPackage : filtre de spécialité ignoré.")
    return SpecialtyFilter(disciplines=spec.disciplines, activity_types=spec.activity_types,
                           clienteles=spec.clienteles)


def _capacity(spec: SearchSpec, ctx: _Context) -> QueryFilter | None:
    from dac_map.query.filters import CapacityFilter

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
    """« Intervient à <commune> »: the FINESS+ intervention zones (issue 11)."""
    from dac_map.finess_plus.filters import ServesCommuneFilter

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
    from dac_map.query.filters import DistanceFilter

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
)


# --------------------------------------------------------------------------- registry

def _one(params: Mapping[str, object], key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def _number(raw: str | None) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        v = float(raw.strip().replace(",", "."))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _fmt_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@dataclass(frozen=True)
class Param:
    """One URL / JSON key of a :class:`SearchSpec` field.

    ``parse(raw) -> (value, warning)``: value None = keep the default; ``warning`` a French
    message or None. ``url_text(value)`` writes it back; ``json_value`` / ``from_json``
    convert to and from the JSON form; ``include(spec, value)`` says whether it is written.
    """

    key: str
    attr: str
    kind: str  # "codes", "text", "bool", "int", "float", "choice", "territory"
    parse: Callable[[str], tuple[object | None, str | None]]
    include: Callable[[SearchSpec, object], bool]

    def url_text(self, value: object) -> str:
        if self.kind == "codes":
            return ",".join(value)  # type: ignore[arg-type]
        if self.kind == "bool":
            return "1"
        if self.kind in ("int", "float"):
            return _fmt_number(float(value))  # type: ignore[arg-type]
        return str(value)

    def json_value(self, value: object) -> object:
        if self.kind == "codes":
            return list(value)  # type: ignore[call-overload]
        if self.kind == "int":
            return int(value)  # type: ignore[call-overload]
        if self.kind == "float":
            v = float(value)  # type: ignore[arg-type]
            return int(v) if v.is_integer() else v
        return value

    def from_json(self, value: object) -> object:
        bad = QueryError(f"critères : valeur invalide pour « {self.key} » / criteria: bad value "
                         f"for {self.key!r}: {value!r}")
        if self.kind == "codes":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad
            return tuple(value)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if self.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad
            return int(value) if self.kind == "int" else float(value)
        if not isinstance(value, str):
            raise bad
        return value


def _codes_parser(key: str) -> Callable[[str], tuple[object | None, str | None]]:
    def parse(raw: str) -> tuple[object | None, str | None]:
        out: list[str] = []
        for part in raw.split(","):
            p = part.strip()
            if p and _CODE.fullmatch(p) and p not in out:
                out.append(p)
        if raw and not out:
            return None, f"Paramètre « {key} » illisible : ignoré."
        return tuple(out), None
    return parse


def _parse_dac(raw: str) -> tuple[object | None, str | None]:
    dac = raw.strip()
    if dac.lower() == NATIONAL:
        return NATIONAL, None
    if _CODE.fullmatch(dac):
        return dac, None
    return None, ("Territoire du lien illisible : territoire par défaut." if dac else None)


def _parse_capacity(raw: str) -> tuple[object | None, str | None]:
    cap = _number(raw)
    if cap is None:
        return None, ("Capacité minimale illisible : ignorée." if raw else None)
    if cap < 0:
        return None, "Capacité minimale négative : ignorée."
    return int(min(cap, MAX_CAPACITY)), None


def _parse_radius(raw: str) -> tuple[object | None, str | None]:
    radius = _number(raw)
    if radius is None:
        return None, ("Rayon illisible : rayon par défaut." if raw else None)
    if radius <= 0:
        return None, "Rayon invalide : rayon par défaut."
    return float(min(max(radius, MIN_RADIUS_KM), MAX_RADIUS_KM)), None


def _parse_sort(raw: str) -> tuple[object | None, str | None]:
    if not raw:
        return None, None
    if raw in SORT_KEYS:
        return raw, None
    return None, f"Tri inconnu « {raw[:30]} » : tri par défaut."


def _parse_text(raw: str) -> tuple[object | None, str | None]:
    return (raw[:MAX_TEXT] if raw else None), None


def _parse_near(raw: str) -> tuple[object | None, str | None]:
    return (raw.strip()[:MAX_TEXT] or None), None


def _parse_bool(raw: str) -> tuple[object | None, str | None]:
    return raw in _TRUE, None


def _nonempty(spec: SearchSpec, value: object) -> bool:
    return bool(value)


def _has_near(spec: SearchSpec, value: object) -> bool:
    return bool(spec.near.strip())


def _radius_included(spec: SearchSpec, value: object) -> bool:
    return value is not None  # issue 12: a radius is written only when it is the filter


def _parse_nearest(raw: str) -> tuple[object | None, str | None]:
    n = _number(raw)
    if n is None or n < 1:
        return None, ("Nombre de résultats illisible : nombre par défaut." if raw else None)
    return int(min(n, MAX_NEAREST)), None


def _parse_minutes(raw: str) -> tuple[object | None, str | None]:
    v = _number(raw)
    if v is None or v <= 0:
        return None, ("Durée maximale illisible : ignorée." if raw else None)
    return float(min(v, MAX_MINUTES)), None


def _parse_max_km(raw: str) -> tuple[object | None, str | None]:
    v = _number(raw)
    if v is None or v <= 0:
        return None, ("Distance maximale illisible : ignorée." if raw else None)
    return float(min(v, MAX_RADIUS_KM)), None


def _codes_param(key: str, attr: str) -> Param:
    return Param(key, attr, "codes", _codes_parser(key), _nonempty)


#: The keys of a search, in URL order. Drives :meth:`SearchSpec.from_params`,
#: :meth:`SearchSpec.to_params`, :meth:`SearchSpec.to_json` and :meth:`SearchSpec.from_json`.
PARAMS: tuple[Param, ...] = (
    Param("dac", "dac", "territory", _parse_dac, _nonempty),
    _codes_param("departement", "departments"),
    _codes_param("commune", "communes"),
    _codes_param("famille", "families"),
    _codes_param("categorie", "categories"),
    _codes_param("agregat", "aggregates"),
    _codes_param("discipline", "disciplines"),
    _codes_param("clientele", "clienteles"),
    _codes_param("activite", "activity_types"),
    Param("capacite", "min_capacity", "int", _parse_capacity, _nonempty),
    Param("autorisee", "authorised", "bool", _parse_bool, _nonempty),
    Param("q", "text", "text", _parse_text, lambda s, v: bool(str(v).strip())),
    Param("autour", "near", "text", _parse_near, _nonempty),
    Param("rayon", "radius_km", "float", _parse_radius, _radius_included),
    Param("contour", "outline", "bool", _parse_bool,
          lambda s, v: bool(v) and _has_near(s, v) and s.radius_km is not None),
    Param("n", "nearest_n", "int", _parse_nearest, lambda s, v: v != _default_nearest()),
    Param("minutes", "max_minutes", "float", _parse_minutes, _nonempty),
    Param("km_max", "max_km", "float", _parse_max_km, _nonempty),
    Param("fermes", "include_closed", "bool", _parse_bool, _nonempty),
    Param("tri", "sort", "choice", _parse_sort, _nonempty),
    # FINESS+ (issue 11; JSON version 2)
    Param("intervient", "serves", "text", _parse_near, _nonempty),
    _codes_param("activite_fp", "fp_types"),
    _codes_param("public", "fp_publics"),
    Param("places_fp", "fp_min_places", "int", _parse_capacity, _nonempty),
    Param("places_fp_autorisees", "fp_authorised", "bool", _parse_bool, lambda s, v: bool(v) and bool(s.fp_min_places)),
)


def _read(params: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    kw: dict[str, object] = {}
    warnings: list[str] = []
    for p in PARAMS:
        raw = _one(params, p.key)
        if raw is None:
            continue
        value, warning = p.parse(raw)
        if warning:
            warnings.append(warning)
        if value is not None:
            kw[p.attr] = value
    return kw, warnings


#: Keys added by version 2 of the JSON form.
_V2_KEYS = frozenset({"n", "minutes", "km_max"})


# --------------------------------------------------------------------------- centre of a distance criterion

def parse_point(text: str) -> tuple[float, float] | None:
    """``"49.894, 2.296"`` (latitude first) -> ``(49.894, 2.296)`` as (lat, lon) in WGS84
    degrees; None when the text is not two numbers (separated by a comma, a semicolon or
    spaces; a decimal comma is accepted). Raises
    :class:`QueryError` when the two numbers are not a latitude and a longitude."""
    m = _POINT.fullmatch(text or "")
    if not m:
        return None
    a, b = m.groups()
    lat, lon = float(a.replace(",", ".")), float(b.replace(",", "."))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise QueryError(f"point invalide / bad point: {text.strip()!r} ; attendu {POINT_FORMAT}")
    return lat, lon


@dataclass(frozen=True)
class Near:
    """A resolved "around" centre: ``kind`` is ``commune``, ``finess`` or ``point``
    (``point`` = (lat, lon), WGS84 degrees)."""

    kind: str
    commune: str | None = None
    finess: str | None = None
    point: tuple[float, float] | None = None
    note: str | None = None  # French explanation when the text was interpreted

    @property
    def lonlat(self) -> tuple[float, float] | None:
        """The point as (lon, lat), the order of :class:`~dac_map.query.filters.DistanceFilter`."""
        return None if self.point is None else (self.point[1], self.point[0])


def format_point(lat: float, lon: float) -> str:
    """``(49.894, 2.296)`` -> ``"49.894, 2.296"`` (the text :func:`parse_point` reads)."""
    return f"{lat:g}, {lon:g}"


def resolve_near(text: str, catalogue: Catalogue, departments: Sequence[str] = ()) -> Near | None:
    """Interpret the "around" text: INSEE commune code, FINESS number, ``"Name (code)"``, a
    point ``lat, lon`` (WGS84 degrees) or a commune name (accent-insensitive; communes of
    ``departments`` first). Raises :class:`QueryError` (French message) when nothing matches."""
    from dac_map.query.text import fold_text

    t = (text or "").strip()
    if not t:
        return None
    up = t.upper()
    if COMMUNE_RE.fullmatch(up):
        return Near("commune", commune=up)
    if FINESS_RE.fullmatch(up):
        return Near("finess", finess=up)
    m = re.fullmatch(r".*\(([0-9]{5}|2[AB][0-9]{3})\)\s*", up)  # "Abbeville (80001)"
    if m:
        return Near("commune", commune=m.group(1))
    pt = parse_point(t)
    if pt is not None:
        return Near("point", point=pt)
    communes = catalogue.communes
    if len(communes):
        folded = fold_text(t)
        names = communes["name"].astype(str).map(fold_text)
        hits = communes.loc[(names == folded).to_numpy(), "code"].astype(str).tolist()
        if hits:
            preferred = [c for c in hits if department_of(c) in set(departments)]
            code = (preferred or hits)[0]
            note = None
            if len(hits) > 1:
                note = (f"{len(hits)} communes « {t} » : {catalogue.commune_name(code)} ({code}) "
                        "retenue ; précisez le code INSEE au besoin.")
            return Near("commune", commune=code, note=note)
    code = _commune_from_cities(t, catalogue)
    if code is not None:
        return Near("commune", commune=code)
    raise QueryError(f"« {t[:60]} » : ni commune connue, ni code INSEE, ni n° FINESS, ni "
                     f"coordonnées {POINT_FORMAT}.")


def _commune_from_cities(text: str, catalogue: Catalogue) -> str | None:
    """A commune code for a name the store has no outline for (issue 10): the most common
    commune code of the establishments whose city (``CEDEX`` and numbers dropped) is ``text``;
    an arrondissement of Paris, Lyon or Marseille gives the whole commune."""
    from dac_map.query.filters import ARRONDISSEMENTS
    from dac_map.query.text import fold_text

    est = catalogue.establishments
    if not len(est) or "city" not in est or "commune" not in est:
        return None
    folded = fold_text(text)

    def clean(city: object) -> str:
        return " ".join(re.sub(r"\b(cedex|\d+)\b", " ", fold_text(str(city or ""))).split())

    wanted = clean(text)
    cities = catalogue.cached("_spec_city_names", lambda: est["city"].astype(str).map(clean).to_numpy())
    hit = cities == wanted
    if not folded or not wanted or not hit.any():
        return None
    code = str(est.loc[hit, "commune"].astype(str).value_counts().index[0])
    parent = {a: c for c, arr in ARRONDISSEMENTS.items() for a in arr}
    return parent.get(code, code)


__all__ = ["CRITERIA", "JSON_VERSION", "NATIONAL", "MAX_NEAREST", "MAX_MINUTES", "PARAMS", "Criterion", "POINT_FORMAT", "Near", "Param", "SearchSpec",
           "format_point", "parse_point", "resolve_near"]
