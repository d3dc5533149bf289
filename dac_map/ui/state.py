"""The view state of the app and its URL form, in pure Python (no Streamlit).

A :class:`ViewState` is everything a link must reproduce: the search
(:class:`~dac_map.query.spec.SearchSpec`: territory, filters, sort) plus the page and the
establishment shown in the detail panel. :func:`to_query_params` / :func:`from_query_params`
convert it to and from ``st.query_params`` (the spec's French keys, only non-default values,
plus ``page`` and ``etab``); :func:`build_filters` turns it into the query-layer filters,
reporting unusable values as French warnings instead of failing.

URL keys: those of :data:`dac_map.query.params.PARAMS` (``dac``, ``famille``, ``categorie``,
``discipline``, ``clientele``, ``activite``, ``capacite``, ``q``, ``autour`` — commune INSEE
code, FINESS number, commune name or a point ``lat, lon`` —, ``rayon``, ``contour``,
``fermes``, ``tri``, ``n``, ``minutes``, the social criteria ``famille_sociale``,
``public_social``, ``frais``, ``qualite``, ``ressources``...), ``page``, ``etab`` (FINESS number of the
establishment shown), ``ressource`` (id of the social resource shown, issue 16). Around a place the app shows the N nearest by default (issue 12); a
``rayon`` makes it the radius search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from dac_map import settings
from dac_map.codes import is_finess
from dac_map.query import SORTS, DistanceFilter, NearestFilter, QueryFilter, TextFilter
from dac_map.query.near import Near, resolve_near
from dac_map.query.params import (
    MAX_CAPACITY,
    MAX_MINUTES,
    MAX_NEAREST,
    MAX_RADIUS_KM,
    MAX_TEXT,
    MIN_RADIUS_KM,
    NATIONAL,
)
from dac_map.query.spec import SearchSpec


#: Modes of the "around" widgets (issue 12): the N nearest (default, ``radius_km`` None) or an
#: explicit radius.
NEAREST = "proches"
RADIUS = "rayon"


def mode_of(state: SearchSpec) -> str:
    """:data:`RADIUS` when the search has a radius, else :data:`NEAREST`."""
    return NEAREST if state.radius_km is None else RADIUS


#: Sort keys offered, in the query layer's vocabulary; "" = the query layer's default order
#: (distance with a distance filter, else text score with a search, else name).
SORT_LABELS: dict[str, str] = {
    "": "Pertinence (distance, score ou nom)",
    "name": "Nom",
    "distance": "Distance",
    "time": "Durée en voiture",
    "capacity": "Capacité installée",
    "score": "Score de recherche",
    "finess": "N° FINESS",
}


@dataclass(frozen=True)
class ViewState(SearchSpec):
    """What the user asked for (:class:`~dac_map.query.spec.SearchSpec`) plus the page shown
    and the establishment in the detail panel (``focus``, a FINESS number). ``dac`` None = not
    chosen yet: the app uses its default."""

    page: int = 1
    focus: str | None = None
    social_focus: str | None = None  # issue 16: resource_id of the social resource shown

    def filter_key(self) -> SearchSpec:
        """The part of the state that changes the result set (not the page nor the focus)."""
        return self.spec()


# --------------------------------------------------------------------------- URL

def from_query_params(params: Mapping[str, object]) -> tuple[ViewState, list[str]]:
    """Parse URL query parameters (as ``st.query_params.to_dict()``: one string per key, or
    lists). Unusable values are dropped and reported in French; unknown keys are ignored."""
    spec, warnings = SearchSpec.from_params(params)
    kw: dict[str, object] = {}
    page = params.get("page")
    page = page[-1] if isinstance(page, (list, tuple)) and page else page
    try:
        number = float(str(page).strip().replace(",", ".")) if page is not None else None
    except ValueError:
        number = None
    if number is not None and number >= 1 and number == number and number != float("inf"):
        kw["page"] = int(number)
    focus = params.get("etab")
    focus = focus[-1] if isinstance(focus, (list, tuple)) and focus else focus
    if focus:
        f = focus.strip().upper()
        if is_finess(f):
            kw["focus"] = f
        else:
            warnings.append("N° FINESS du lien illisible : ignoré.")
    social = params.get("ressource")
    social = social[-1] if isinstance(social, (list, tuple)) and social else social
    if social:
        s = str(social).strip()
        if _SOCIAL_ID.fullmatch(s):
            kw["social_focus"] = s
        else:
            warnings.append("Ressource sociale du lien illisible : ignorée.")
    return ViewState(**spec.__dict__, **kw), warnings


#: A social resource id as the store writes it (``di:`` or ``local:`` + the source's id).
_SOCIAL_ID = re.compile(r"(?:di|local):[^\s]{1,200}")


def to_query_params(state: ViewState) -> dict[str, str]:
    """The URL query parameters of ``state``: ``dac`` always (a link must name its territory
    even where another default is configured), other keys only when not at their default."""
    out = state.spec().to_params()
    if state.page > 1:
        out["page"] = str(int(state.page))
    if state.focus:
        out["etab"] = state.focus
    if state.social_focus:
        out["ressource"] = state.social_focus
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


def search_centre(state: ViewState, catalogue, departments: Sequence[str] = ()) -> Near | None:
    """The search centre typed in « Autour de », resolved; None when none is typed or nothing
    matches (the search itself reports that)."""
    from dac_map.query.errors import QueryError

    try:
        return resolve_near(state.near, catalogue, departments)
    except QueryError:
        return None


# --------------------------------------------------------------------------- filters

def build_filters(state: SearchSpec, catalogue, departments: Sequence[str] = (),
                  has_network: bool = False) -> tuple[list[QueryFilter], list[str]]:
    """The query-layer filters of ``state`` (territory first), and French warnings for the
    parts that cannot be applied (they are left out rather than failing the whole page).
    ``has_network``: a road network is loaded (a maximum travel time can be applied)."""
    warnings: list[str] = []
    filters = state.to_filters(catalogue, departments, warnings=warnings, has_network=has_network)
    return filters, warnings


def effective_sort(state: ViewState, filters: Iterable[QueryFilter],
                   has_network: bool = False) -> str | None:
    """The sort handed to :func:`dac_map.query.search`: the state's, when the filters allow it
    (``distance`` needs a centre, ``time`` a centre and a road network, ``score`` a text
    search), else the default."""
    flist = list(filters)
    sort = state.sort or None
    centred = any(isinstance(f, (DistanceFilter, NearestFilter)) for f in flist)
    if sort == "distance" and not centred:
        return None
    if sort == "time" and not (centred and has_network):
        return None
    if sort == "score" and not any(isinstance(f, TextFilter) for f in flist):
        return None
    if sort is not None and sort not in SORTS:
        return None
    return sort


__all__ = [
    "MAX_CAPACITY",
    "MAX_MINUTES",
    "MAX_NEAREST",
    "NEAREST",
    "RADIUS",
    "MAX_RADIUS_KM",
    "MAX_TEXT",
    "MIN_RADIUS_KM",
    "NATIONAL",
    "SORT_LABELS",
    "Near",
    "ViewState",
    "build_filters",
    "default_territory",
    "effective_sort",
    "mode_of",
    "from_query_params",
    "resolve_near",
    "sanitize",
    "search_centre",
    "to_query_params",
]
