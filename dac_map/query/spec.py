"""One search specification: what a coordinator asked for, as a frozen value.

A :class:`SearchSpec` is the single description of a search, used by

* the app's URL (:mod:`dac_map.ui.state`: ``?dac=DAC-80&famille=pa_hebergement``),
* the command line (``dac-map search``),
* the unmet-need log (:mod:`dac_map.coverage.unmet`), which stores its JSON form.

One registry drives all of it, datasette style: :data:`~dac_map.query.params.PARAMS` names
each URL / JSON key (French, stable; the keys are listed in :mod:`dac_map.query.params`), its
:class:`SearchSpec` field, how a URL value is read (with a French warning for an unusable one),
written, and checked in JSON; :data:`~dac_map.query.criteria.CRITERIA` groups the keys into
criteria, each turned into one query-layer filter (:meth:`SearchSpec.to_filters`) whose
``describe(catalogue)`` is the human (French) description.

Around a place, the search returns the ``n`` nearest resources (no radius to guess) unless a
``rayon`` is given: a radius is an explicit filter (``radius_km`` not None). Links and logged
searches made before (which always carried ``rayon`` with ``autour``) keep their meaning.

JSON form (:meth:`SearchSpec.to_json`), stored by the unmet-need log, version 2 (version 1,
without ``n``/``minutes``/``km_max``, is still read)::

    {"v": 2, "dac": "DAC-80", "famille": ["pa_hebergement"], "capacite": 30,
     "autour": "80021", "rayon": 12.5, "contour": true}

``v`` is the format version (an integer, always present); the other keys are those of
:data:`~dac_map.query.params.PARAMS`,
present only when not at their default; code lists are JSON arrays of strings, ``capacite``
and ``rayon`` numbers, ``autorisee`` / ``contour`` / ``fermes`` booleans, the others strings.
The format never depends on Python class or field names; a new key means a new version.

Coordinates: a point is written and read **"lat, lon"** (WGS84 degrees, latitude first, as
copied from most map sites), everywhere: URL, command line, messages. Internally
:class:`~dac_map.query.distance.DistanceFilter` keeps ``point=(lon, lat)`` (x, y order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from dac_map.query.errors import QueryError
from dac_map.query.params import NATIONAL, PARAMS, default_nearest, read_params

if TYPE_CHECKING:  # pragma: no cover
    from dac_map.query.catalogue import Catalogue
    from dac_map.query.filters import QueryFilter

#: Version of the JSON form written by :meth:`SearchSpec.to_json` (2: issue 12's ``n``,
#: ``minutes``, ``km_max``); with a FINESS+ key (:data:`FINESS_PLUS_KEYS`, issue 11) version
#: :data:`JSON_VERSION_FINESS_PLUS` is written; :data:`JSON_VERSIONS` are read.
JSON_VERSION = 2
JSON_VERSION_FINESS_PLUS = 3
#: Version written when a social key (:data:`SOCIAL_KEYS`, issue 16) is present; it may hold
#: the FINESS+ keys too.
JSON_VERSION_SOCIAL = 4
JSON_VERSIONS = (1, 2, 3, 4)
#: Keys added by version 3 (FINESS+ activities and intervention zones, issue 11).
FINESS_PLUS_KEYS = ("intervient", "activite_fp", "public", "places_fp", "places_fp_autorisees")
#: Keys added by version 4 (social resources, issue 16): social families, publics, fees,
#: minimal data·inclusion quality score, and which resources (``finess``, ``sociales``,
#: ``toutes``; see :mod:`dac_map.query.social`).
SOCIAL_KEYS = ("famille_sociale", "public_social", "frais", "qualite", "ressources")


@dataclass(frozen=True)
class SearchSpec:
    """What was asked, without paging or focus. Tuples hold codes (territories, INSEE codes,
    family ids, FINESS category / aggregate codes, equipment discipline / clientèle / activity
    type codes or label words). ``dac`` is a territory id, :data:`NATIONAL` or None (no
    territory criterion; the app then uses its default territory). ``near`` is the centre of a
    distance criterion as typed (see :func:`~dac_map.query.near.resolve_near`); ``min_capacity``
    in places (0 = no minimum). Around a place (issue 12): with ``radius_km`` (kilometres)
    every resource within that radius; without (None, the default), the ``nearest_n`` nearest, optionally within
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
    nearest_n: int = field(default_factory=default_nearest)
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
    # ---- social resources (issue 16): families (keys of dac_map.inclusion.vocab.FAMILIES),
    # publics (data·inclusion v1 codes), fees (gratuit / payant), minimal quality score (0-1),
    # which resources ("" automatic, finess, sociales, toutes: dac_map.query.social.scope)
    social_families: tuple[str, ...] = ()
    social_publics: tuple[str, ...] = ()
    social_fee: str = ""
    social_min_quality: float = 0.0
    resources: str = ""

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
        kw, warnings = read_params(params)
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
        if any(k in out for k in SOCIAL_KEYS):
            out["v"] = JSON_VERSION_SOCIAL
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
            if p is None or (v == 1 and key in _V2_KEYS) or (v < JSON_VERSION_FINESS_PLUS
                                                              and key in FINESS_PLUS_KEYS) \
                    or (v < JSON_VERSION_SOCIAL and key in SOCIAL_KEYS):
                raise QueryError(f"critères : clé inconnue « {key} » / criteria: unknown key {key!r}")
            kw[p.attr] = p.from_json(value)
            if key in SOCIAL_KEYS:  # known codes only (a hand-edited row fails here, named)
                parsed, warning = p.parse(p.url_text(kw[p.attr]))
                if warning or parsed is None:
                    raise QueryError(f"critères : valeur invalide pour « {key} » / criteria: bad value "
                                     f"for {key!r}: {value!r}")
        return cls(**kw)

    # ------------------------------------------------------------------ query

    def to_filters(self, catalogue: Catalogue, departments: Sequence[str] = (),
                   warnings: list[str] | None = None, has_network: bool | None = None
                   ) -> list[QueryFilter]:
        """The query-layer filters, one per criterion of
        :data:`~dac_map.query.criteria.CRITERIA` that applies, in that order (territory first).
        ``departments`` orders commune-name look-ups of ``near``. With a ``warnings`` list, a criterion that cannot be applied is left out and
        its French message appended (the app); without, :class:`QueryError` is raised (the
        command line). ``has_network`` False: a maximum travel time cannot be applied (no road
        network for the search); None: not known here (the search will say)."""
        from dac_map.query.criteria import CRITERIA, _Context

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


#: Keys added by version 2 of the JSON form.
_V2_KEYS = frozenset({"n", "minutes", "km_max"})


__all__ = ["JSON_VERSION", "SearchSpec"]
