"""The keys of a search, datasette style: :data:`PARAMS` names each URL / JSON key of a
:class:`~dac_map.query.spec.SearchSpec` (French, stable), its field, how a URL value is read
(with a French warning for an unusable one: :func:`read_params`), written, and checked in JSON.
:mod:`dac_map.query.spec` turns a spec into URL parameters and its versioned JSON form with it.

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
places of those activities), ``places_fp_autorisees`` (authorised instead of installed);
social resources (issue 16, version 4): ``famille_sociale`` (social families: keys of
:data:`dac_map.inclusion.vocab.FAMILIES` such as ``aide_alimentaire``), ``public_social``
(data·inclusion publics), ``frais`` (``gratuit`` / ``payant``), ``qualite`` (minimal
data·inclusion quality score, 0-1), ``ressources`` (``finess``, ``sociales``, ``toutes``;
default: :func:`dac_map.query.social.scope`). ``intervient``, ``q``, the territory and
« autour » apply to the social resources too (:mod:`dac_map.query.social`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dac_map import settings
from dac_map.query.errors import QueryError

if TYPE_CHECKING:  # pragma: no cover
    from dac_map.query.spec import SearchSpec

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
_TRUE = ("1", "true", "oui")


def default_nearest() -> int:
    """The default number of nearest resources (setting ``NEAREST_N``, read now)."""
    return int(settings.NEAREST_N)


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


def _parse_choice(raw: str, allowed: Sequence[str], what: str) -> tuple[object | None, str | None]:
    value = raw.strip().lower()
    if not value:
        return None, None
    if value in allowed:
        return value, None
    return None, f"{what} : valeur inconnue « {raw[:30]} » ignorée."


def _parse_known(raw: str, key: str) -> tuple[object | None, str | None]:
    """Social families / publics of a URL: known codes kept, the others reported."""
    from dac_map.inclusion import vocab

    known = vocab.FAMILIES if key == "famille_sociale" else vocab.PUBLICS
    codes = [p.strip().lower() for p in raw.split(",") if p.strip()]
    ok = tuple(dict.fromkeys(c.removeprefix(vocab.FAMILY_PREFIX) if key == "famille_sociale" else c
                             for c in codes))
    bad = [c[:40] for c in ok if c not in known]
    if bad:
        what = "Besoin(s) social(aux)" if key == "famille_sociale" else "Public(s)"
        return tuple(c for c in ok if c in known) or None, f"{what} inconnu(s) ignoré(s) : {', '.join(bad)}"
    return ok, None


def _parse_quality(raw: str) -> tuple[object | None, str | None]:
    v = _number(raw)
    if v is None or not 0 <= v <= 1:
        return None, ("Score de qualité illisible (0 à 1) : ignoré." if raw.strip() else None)
    return (float(v) or None), None


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
    Param("n", "nearest_n", "int", _parse_nearest, lambda s, v: v != default_nearest()),
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
    # social resources (issue 16; JSON version 4)
    Param("ressources", "resources", "choice", lambda raw: _parse_choice(raw, ("finess", "sociales", "toutes"),
                                                                         "Ressources affichées"), _nonempty),
    Param("famille_sociale", "social_families", "codes", lambda raw: _parse_known(raw, "famille_sociale"), _nonempty),
    Param("public_social", "social_publics", "codes", lambda raw: _parse_known(raw, "public_social"), _nonempty),
    Param("frais", "social_fee", "choice", lambda raw: _parse_choice(raw, ("gratuit", "payant"), "Frais"), _nonempty),
    Param("qualite", "social_min_quality", "float", lambda raw: _parse_quality(raw), _nonempty),
)


def read_params(params: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    """The :class:`~dac_map.query.spec.SearchSpec` fields given by URL query parameters
    ``params`` (one string per key, or lists: the last value counts), and the French warnings of
    the unusable values (dropped); unknown keys are ignored."""
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


__all__ = ["MAX_MINUTES", "MAX_NEAREST", "NATIONAL", "PARAMS", "Param", "default_nearest", "read_params"]
