"""The view state of the app and its URL form, in pure Python (no Streamlit).

A :class:`ViewState` is everything a link must reproduce: territory, filters, sort, page and the
establishment shown in the detail panel. :func:`to_query_params` / :func:`from_query_params`
convert it to and from ``st.query_params`` (French, readable keys, only non-default values);
:func:`build_filters` turns it into the query-layer filters (:mod:`dac_map.query`), reporting
unusable values as French warnings instead of failing.

URL keys: ``dac`` (territory id, ``france`` = national view), ``famille``, ``categorie``,
``discipline``, ``clientele``, ``activite`` (comma-separated codes), ``capacite`` (minimum
installed places), ``q`` (text search), ``autour`` (commune INSEE code, FINESS number, commune
name or ``lon,lat``), ``rayon`` (km), ``contour`` (``1``: distance from the commune outline),
``fermes`` (``1``: closed establishments too), ``tri``, ``page``, ``etab`` (FINESS number of
the establishment shown); FINESS+ activities: ``activite_fp`` (TRE_R392 type codes),
``public`` (TRE_R403 codes), ``places_fp`` (minimum places) and ``statut_places=autorise``
(authorised instead of installed places).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

from dac_map import settings
from dac_map.query import (
    SORTS,
    CapacityFilter,
    CategoryFilter,
    DistanceFilter,
    FamilyFilter,
    QueryError,
    QueryFilter,
    SpecialtyFilter,
    StatusFilter,
    TerritoryFilter,
    TextFilter,
    fold_text,
)
from dac_map.query.filters import metric_epsg_for

#: Value of ``dac`` for the national view (no territory filter).
NATIONAL = "france"

#: Largest accepted values (anything above is clamped).
MAX_CAPACITY = 5000
MIN_RADIUS_KM = 0.5
MAX_RADIUS_KM = 200.0
MAX_TEXT = 200

_COMMUNE = re.compile(r"[0-9]{5}|2[AB][0-9]{3}")
_FINESS = re.compile(r"[0-9][0-9A-Z][0-9]{7}")
_CODE = re.compile(r"[0-9A-Za-z_\-]{1,40}")
_POINT = re.compile(r"\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*[;, ]\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*")

#: Sort keys offered, in the query layer's vocabulary; "" = the query layer's default order
#: (distance with a distance filter, else text score with a search, else name).
SORT_LABELS: dict[str, str] = {
    "": "Pertinence (distance, score ou nom)",
    "name": "Nom",
    "distance": "Distance",
    "capacity": "Capacité installée",
    "score": "Score de recherche",
    "finess": "N° FINESS",
}


@dataclass(frozen=True)
class ViewState:
    """What the user asked for. ``dac`` is a territory id, :data:`NATIONAL`, or None (not
    chosen yet: the app uses its default). Tuples hold codes (family ids, FINESS category
    codes, equipment discipline / clientèle / activity type codes)."""

    dac: str | None = None
    families: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    disciplines: tuple[str, ...] = ()
    clienteles: tuple[str, ...] = ()
    activity_types: tuple[str, ...] = ()
    min_capacity: int = 0
    text: str = ""
    near: str = ""
    radius_km: float = field(default_factory=lambda: float(settings.UI_DEFAULT_RADIUS_KM))
    outline: bool = False
    include_closed: bool = False
    sort: str = ""
    page: int = 1
    focus: str | None = None
    # ---- FINESS+ activities (issue 11): type codes, publics, minimum places and their status
    fp_types: tuple[str, ...] = ()
    fp_publics: tuple[str, ...] = ()
    fp_min_places: int = 0
    fp_authorised: bool = False

    @property
    def national(self) -> bool:
        return self.dac == NATIONAL

    def filter_key(self) -> tuple[object, ...]:
        """The part of the state that changes the result set (not the page nor the focus)."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.name not in ("page", "focus"))


# --------------------------------------------------------------------------- URL

_LISTS = {"families": "famille", "categories": "categorie", "disciplines": "discipline",
          "clienteles": "clientele", "activity_types": "activite",
          "fp_types": "activite_fp", "fp_publics": "public"}


def _one(params: Mapping[str, object], key: str) -> str | None:
    value = params.get(key)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    if value is None:
        return None
    return str(value)


def _codes(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    out: list[str] = []
    for part in raw.split(","):
        p = part.strip()
        if p and _CODE.fullmatch(p) and p not in out:
            out.append(p)
    return tuple(out)


def _number(raw: str | None) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        v = float(raw.strip().replace(",", "."))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def from_query_params(params: Mapping[str, object]) -> tuple[ViewState, list[str]]:
    """Parse URL query parameters (as ``st.query_params.to_dict()``: one string per key, or
    lists). Unusable values are dropped and reported in French; unknown keys are ignored."""
    warnings: list[str] = []
    kw: dict[str, object] = {}
    dac = _one(params, "dac")
    if dac is not None:
        dac = dac.strip()
        if dac.lower() == NATIONAL:
            kw["dac"] = NATIONAL
        elif _CODE.fullmatch(dac):
            kw["dac"] = dac
        elif dac:
            warnings.append("Territoire du lien illisible : territoire par défaut.")
    for attr, key in _LISTS.items():
        raw = _one(params, key)
        codes = _codes(raw)
        if raw and not codes:
            warnings.append(f"Paramètre « {key} » illisible : ignoré.")
        kw[attr] = codes
    cap = _number(_one(params, "capacite"))
    if cap is not None:
        if cap < 0:
            warnings.append("Capacité minimale négative : ignorée.")
        else:
            kw["min_capacity"] = int(min(cap, MAX_CAPACITY))
    elif _one(params, "capacite"):
        warnings.append("Capacité minimale illisible : ignorée.")
    places = _number(_one(params, "places_fp"))  # FINESS+ capacity (issue 11)
    if places is not None and places > 0:
        kw["fp_min_places"] = int(min(places, MAX_CAPACITY))
    elif _one(params, "places_fp"):
        warnings.append("Capacité FINESS+ minimale illisible : ignorée.")
    kw["fp_authorised"] = _one(params, "statut_places") in ("autorise", "autorisé", "09")
    q = _one(params, "q")
    if q:
        kw["text"] = q[:MAX_TEXT]
    near = _one(params, "autour")
    if near:
        kw["near"] = near.strip()[:MAX_TEXT]
    radius = _number(_one(params, "rayon"))
    if radius is not None:
        if radius <= 0:
            warnings.append("Rayon invalide : rayon par défaut.")
        else:
            kw["radius_km"] = float(min(max(radius, MIN_RADIUS_KM), MAX_RADIUS_KM))
    elif _one(params, "rayon"):
        warnings.append("Rayon illisible : rayon par défaut.")
    kw["outline"] = _one(params, "contour") in ("1", "true", "oui")
    kw["include_closed"] = _one(params, "fermes") in ("1", "true", "oui")
    sort = _one(params, "tri")
    if sort:
        if sort in SORT_LABELS:
            kw["sort"] = sort
        else:
            warnings.append(f"Tri inconnu « {sort[:30]} » : tri par défaut.")
    page = _number(_one(params, "page"))
    if page is not None and page >= 1:
        kw["page"] = int(page)
    focus = _one(params, "etab")
    if focus:
        f = focus.strip().upper()
        if _FINESS.fullmatch(f):
            kw["focus"] = f
        else:
            warnings.append("N° FINESS du lien illisible : ignoré.")
    return ViewState(**kw), warnings


def _fmt_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def to_query_params(state: ViewState) -> dict[str, str]:
    """The URL query parameters of ``state``: ``dac`` always (a link must name its territory
    even where another default is configured), other keys only when not at their default."""
    default = ViewState()
    out: dict[str, str] = {}
    if state.dac:
        out["dac"] = state.dac
    for attr, key in _LISTS.items():
        values = getattr(state, attr)
        if values:
            out[key] = ",".join(values)
    if state.min_capacity:
        out["capacite"] = str(int(state.min_capacity))
    if state.fp_min_places:
        out["places_fp"] = str(int(state.fp_min_places))
        if state.fp_authorised:
            out["statut_places"] = "autorise"
    if state.text.strip():
        out["q"] = state.text
    if state.near.strip():
        out["autour"] = state.near.strip()
        out["rayon"] = _fmt_number(state.radius_km)
        if state.outline:
            out["contour"] = "1"
    elif state.radius_km != default.radius_km:
        out["rayon"] = _fmt_number(state.radius_km)
    if state.include_closed:
        out["fermes"] = "1"
    if state.sort:
        out["tri"] = state.sort
    if state.page > 1:
        out["page"] = str(int(state.page))
    if state.focus:
        out["etab"] = state.focus
    return out


# --------------------------------------------------------------------------- sanitising

def sanitize(state: ViewState, catalogue, default_dac: str | None = None
             ) -> tuple[ViewState, list[str]]:
    """Check the state against a catalogue: unknown territory -> default (``default_dac`` if
    known, else the first territory with resources), unknown family / category codes dropped,
    focus on an unknown FINESS number dropped. Returns the state and French warnings."""
    warnings: list[str] = []
    known = catalogue.territory_row
    dac = state.dac
    if dac == NATIONAL and not settings.UI_NATIONAL_VIEW:
        dac = None
    if dac is not None and dac != NATIONAL and dac not in known:
        warnings.append(f"Territoire inconnu « {dac} » : territoire par défaut.")
        dac = None
    if dac is None:
        dac = default_territory(catalogue, default_dac)
    fams = {str(f) for f in catalogue.families["family"]}
    families = tuple(f for f in state.families if f in fams)
    if len(families) != len(state.families):
        warnings.append("Famille(s) inconnue(s) ignorée(s) : "
                        + ", ".join(f for f in state.families if f not in fams))
    cats = set(catalogue.categories["category"].astype(str)) | set(catalogue.category.values)
    categories = tuple(c for c in state.categories if c in cats)
    if len(categories) != len(state.categories):
        warnings.append("Catégorie(s) inconnue(s) ignorée(s) : "
                        + ", ".join(c for c in state.categories if c not in cats))
    focus = state.focus if state.focus in catalogue.finess_row else None
    if state.focus and focus is None:
        warnings.append(f"Établissement {state.focus} introuvable : fiche non affichée.")
    return replace(state, dac=dac, families=families, categories=categories, focus=focus), warnings


def default_territory(catalogue, preferred: str | None = None) -> str:
    """``preferred`` when it is a known territory, else the territory with the most resources
    (the first one when counts are unknown), else the national view."""
    known = catalogue.territory_row
    if preferred and preferred in known:
        return preferred
    terr = catalogue.territories
    if len(terr):
        if "establishments" in terr:
            i = int(terr["establishments"].fillna(0).astype("int64").to_numpy().argmax())
            return str(terr["dac_id"].iat[i])
        return str(terr["dac_id"].iat[0])
    return NATIONAL


# --------------------------------------------------------------------------- centre of a distance filter

@dataclass(frozen=True)
class Near:
    """A resolved "around" centre: ``kind`` is ``commune``, ``finess`` or ``point``."""

    kind: str
    commune: str | None = None
    finess: str | None = None
    point: tuple[float, float] | None = None
    note: str | None = None  # French explanation when the text was interpreted


def _point(text: str) -> tuple[float, float] | None:
    m = _POINT.fullmatch(text)
    if not m:
        return None
    a, b = (float(g.replace(",", ".")) for g in m.groups())
    for lon, lat in ((a, b), (b, a)):  # "lon, lat" or, as copied from most map sites, "lat, lon"
        if -180 <= lon <= 180 and -90 <= lat <= 90:
            try:
                metric_epsg_for(lon, lat)
            except QueryError:
                continue
            return (lon, lat)
    return None


def resolve_near(text: str, catalogue, departments: Sequence[str] = ()) -> Near | None:
    """Interpret the "around" text: INSEE commune code, FINESS number, ``lon,lat`` (or
    ``lat,lon``) in France, or a commune name (accent-insensitive; communes of
    ``departments`` first). Raises :class:`QueryError` (French message) when nothing matches."""
    t = (text or "").strip()
    if not t:
        return None
    up = t.upper()
    if _COMMUNE.fullmatch(up):
        return Near("commune", commune=up)
    if _FINESS.fullmatch(up):
        return Near("finess", finess=up)
    # "Abbeville (80001)" as shown in the commune list
    m = re.fullmatch(r".*\(([0-9]{5}|2[AB][0-9]{3})\)\s*", up)
    if m:
        return Near("commune", commune=m.group(1))
    pt = _point(t)
    if pt is not None:
        return Near("point", point=pt)
    communes = catalogue.communes
    if len(communes):
        folded = fold_text(t)
        names = communes["name"].astype(str).map(fold_text)
        hits = communes.loc[(names == folded).to_numpy(), "code"].astype(str).tolist()
        if hits:
            def dep(c: str) -> str:
                return c[:3] if c.startswith("97") else c[:2]
            preferred = [c for c in hits if dep(c) in set(departments)]
            code = (preferred or hits)[0]
            note = None
            if len(hits) > 1:
                note = (f"{len(hits)} communes « {t} » : {catalogue.commune_name(code)} ({code}) "
                        "retenue ; précisez le code INSEE au besoin.")
            return Near("commune", commune=code, note=note)
    raise QueryError(f"« {t[:60]} » : ni commune connue, ni code INSEE, ni n° FINESS, ni "
                     "coordonnées « lon, lat ».")


# --------------------------------------------------------------------------- filters

def build_filters(state: ViewState, catalogue, departments: Sequence[str] = ()
                  ) -> tuple[list[QueryFilter], list[str]]:
    """The query-layer filters of ``state`` (territory first), and French warnings for the
    parts that cannot be applied (they are left out rather than failing the whole page)."""
    filters: list[QueryFilter] = []
    warnings: list[str] = []

    def add(make) -> QueryFilter | None:
        try:
            f = make()
        except QueryError as exc:
            warnings.append(str(exc))
            return None
        filters.append(f)
        return f

    if state.include_closed:
        add(lambda: StatusFilter(open_only=False))
    if state.dac and state.dac != NATIONAL:
        add(lambda: TerritoryFilter(dac_id=state.dac))
    if state.families:
        add(lambda: FamilyFilter(state.families))
    if state.categories:
        add(lambda: CategoryFilter(categories=state.categories))
    specialty = None
    if state.disciplines or state.clienteles or state.activity_types:
        if catalogue.has_equipment:
            specialty = add(lambda: SpecialtyFilter(disciplines=state.disciplines,
                                                    activity_types=state.activity_types,
                                                    clienteles=state.clienteles))
        else:
            warnings.append("Pas de données d'équipement dans ce GeoPackage : filtre de "
                            "spécialité ignoré.")
    if state.min_capacity:
        add(lambda: CapacityFilter(min_places=state.min_capacity, specialty=specialty))
    if state.fp_types or state.fp_publics or state.fp_min_places:  # FINESS+ (issue 11)
        from dac_map.finess_plus.filters import ActivityCapacityFilter, ActivityTypeFilter

        if getattr(catalogue, "finess_plus", None) is None:
            warnings.append("Pas d'activités FINESS+ dans ce GeoPackage : filtres d'activité ignorés.")
        else:
            activity = None
            if state.fp_types or state.fp_publics:
                activity = add(lambda: ActivityTypeFilter(state.fp_types, state.fp_publics))
            if state.fp_min_places:
                add(lambda: ActivityCapacityFilter(state.fp_min_places, authorised=state.fp_authorised,
                                                   activity=activity))
    if state.text.strip():
        add(lambda: TextFilter(state.text))
    if state.near.strip():
        try:
            near = resolve_near(state.near, catalogue, departments)
        except QueryError as exc:
            warnings.append(str(exc))
            near = None
        if near is not None:
            if near.note:
                warnings.append(near.note)
            f = add(lambda: DistanceFilter(state.radius_km, point=near.point, commune=near.commune,
                                           finess=near.finess,
                                           outline=state.outline and near.kind == "commune"))
            if f is not None:
                try:  # unknown commune / FINESS number: say so now, not in the middle of search
                    f.centre(catalogue)
                except QueryError as exc:
                    filters.remove(f)
                    warnings.append(str(exc))
    return filters, warnings


def effective_sort(state: ViewState, filters: Iterable[QueryFilter]) -> str | None:
    """The sort handed to :func:`dac_map.query.search`: the state's, when the filters allow it
    (``distance`` needs a distance filter, ``score`` a text search), else the default."""
    flist = list(filters)
    sort = state.sort or None
    if sort == "distance" and not any(isinstance(f, DistanceFilter) for f in flist):
        return None
    if sort == "score" and not any(isinstance(f, TextFilter) for f in flist):
        return None
    if sort is not None and sort not in SORTS:
        return None
    return sort


__all__ = [
    "NATIONAL",
    "SORT_LABELS",
    "Near",
    "ViewState",
    "build_filters",
    "default_territory",
    "effective_sort",
    "from_query_params",
    "resolve_near",
    "sanitize",
    "to_query_params",
]
