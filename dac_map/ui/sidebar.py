"""The sidebar: territory and filter widgets (Streamlit).

Every widget has a key in ``st.session_state`` (:data:`KEYS`); :func:`seed` writes a
:class:`~dac_map.ui.state.ViewState` into those keys (first run of a session, from the URL),
:func:`render` draws the widgets and returns the state they hold.

Reruns: changing any widget of the sidebar reruns the whole script (Streamlit's default), which
searches again and sends a new results layer to the map (the map itself is not reloaded unless
the territory changes). Callbacks (:func:`reset_filters`, :func:`_on_territory_change`) run
before that rerun.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dac_map import settings
from dac_map.ui.state import (MAX_MINUTES, MAX_NEAREST, MAX_RADIUS_KM, MIN_RADIUS_KM, NEAREST, RADIUS, ViewState, mode_of)
from dac_map.ui.options import Options, territory_departments
from dac_map.ui.social_search import KEYS as SOCIAL_KEYS
from dac_map.ui.social_search import SOCIAL_FOCUS
from dac_map.ui.social_search import apply_need as apply_social_need
from dac_map.ui.text import plain

#: ViewState attribute -> widget key in st.session_state.
KEYS: dict[str, str] = {
    "dac": "f_dac",
    "families": "f_familles",
    "categories": "f_categories",
    "disciplines": "f_disciplines",
    "clienteles": "f_clienteles",
    "activity_types": "f_activites",
    "min_capacity": "f_capacite",
    "text": "f_q",
    "near": "f_autour",
    "radius_km": "f_rayon",
    "outline": "f_contour",
    "nearest_n": "f_n",
    "max_minutes": "f_minutes",
    "include_closed": "f_fermes",
    "sort": "f_tri",
    "page": "f_page",
    # --- kept from the URL (issue 9 keys without a field of their own) / capacity basis
    "departments": "f_departements",
    "communes": "f_communes",
    "aggregates": "f_agregats",
    "authorised": "f_autorisee",
    "fp_types": "f_activites_fp",
    "fp_publics": "f_publics_fp",
    "fp_min_places": "f_places_fp",
    "fp_authorised": "f_statut_places_fp",
    # --- social resources (issue 16): dac_map.ui.social_search
    **SOCIAL_KEYS,
}

# --- « Je cherche » (plain-word resource types, issue 15) -------------------------------
#: Session keys of the « Je cherche » box: the text typed, the entry applied, the suggestions.
NEED = "f_jecherche"
NEED_APPLIED = "_dacmap_need_applied"
NEED_SUGGESTIONS = "_dacmap_need_suggestions"
NEED_MESSAGE = "_dacmap_need_message"

#: Session keys outside the widgets: the establishment in the detail panel, the resources
#: kept for the A4 sheet, the map centre requested by a row selection.
FOCUS = "focus"
BASKET = "basket"
MAP_CENTER = "map_center"

#: Widget key of the "around" mode (issue 12): the N nearest or a radius (``radius_km`` None or not).
MODE_KEY = "f_mode"


def selected_rows(key: str) -> list[int]:
    """Positions of the rows selected in the ``st.dataframe`` of session key ``key`` (in the
    ``on_select`` callback), ``[]`` when there is no selection yet."""
    event = st.session_state.get(key)
    try:
        return [int(r) for r in event["selection"]["rows"]]
    except (TypeError, KeyError):
        return []


def seed(state: ViewState) -> None:
    """Write ``state`` into the widget keys (before the widgets are drawn)."""
    for attr, key in KEYS.items():
        value = getattr(state, attr)
        if isinstance(value, tuple):
            value = list(value)
        if attr in ("near", "serves"):
            value = value or None
        if attr == "radius_km" and value is None:  # issue 12: no radius = the nearest ones
            value = float(settings.UI_DEFAULT_RADIUS_KM)
        st.session_state[key] = value
    st.session_state[MODE_KEY] = mode_of(state)
    st.session_state[FOCUS] = state.focus
    st.session_state[SOCIAL_FOCUS] = state.social_focus
    st.session_state[NEED] = ""


def _defaults() -> ViewState:
    return ViewState()


def reset_filters() -> None:
    """Callback of « Réinitialiser » : every filter back to its default, territory kept,
    detail panel closed (the A4 selection is kept)."""
    default = _defaults()
    for attr, key in KEYS.items():
        if attr == "dac":
            continue
        value = getattr(default, attr)
        if attr == "radius_km":
            value = float(settings.UI_DEFAULT_RADIUS_KM)
        st.session_state[key] = list(value) if isinstance(value, tuple) else (
            None if attr in ("near", "serves") else value)
    st.session_state[MODE_KEY] = NEAREST
    st.session_state[FOCUS] = None
    st.session_state[SOCIAL_FOCUS] = None
    st.session_state[MAP_CENTER] = None
    st.session_state[NEED] = ""
    st.session_state[NEED_APPLIED] = None
    st.session_state[NEED_SUGGESTIONS] = []
    st.session_state[NEED_MESSAGE] = None


def _on_territory_change() -> None:
    """Callback of the territory list: the "around" centre and the page depend on it."""
    st.session_state[KEYS["near"]] = None
    st.session_state[KEYS["page"]] = 1
    st.session_state[FOCUS] = None
    st.session_state[MAP_CENTER] = None
    st.session_state[KEYS["departments"]] = []  # a link's departments / communes belong to
    st.session_state[KEYS["communes"]] = []     # its territory


def _keep_known(key: str, allowed: Sequence[str]) -> None:
    """Drop values no longer offered (Streamlit refuses a default outside the options)."""
    cur = st.session_state.get(key)
    if isinstance(cur, list):
        ok = set(allowed)
        st.session_state[key] = [v for v in cur if v in ok]


def render(options: Options, network_label=None) -> ViewState:
    """Draw the sidebar and return the state of its widgets (sort and page come from the
    list's widgets, drawn later: their session values are used here). ``network_label``:
    a callable giving, for a territory id, the name of its road network (None without one)."""
    sb = st.sidebar
    sb.header("Rechercher une ressource")
    territories = list(options.territories)
    current = st.session_state.get(KEYS["dac"])
    if current not in territories:
        if current in options.territory_labels:  # a known territory without resources
            territories.append(current)
        else:
            st.session_state[KEYS["dac"]] = territories[0] if territories else None
    dac = sb.selectbox("Territoire DAC", territories, key=KEYS["dac"],
                       format_func=lambda i: options.territory_labels.get(i, i),
                       on_change=_on_territory_change,
                       help="La carte s'ouvre sur ce territoire ; « France entière » agrège les "
                            "ressources par zone au-delà de "
                            f"{settings.MAP_MAX_POINTS} résultats.")

    _need_box(options)
    _keep_known(KEYS["families"], options.families)
    families = sb.multiselect("Familles", options.families, key=KEYS["families"],
                              format_func=lambda f: options.family_labels.get(f, f),
                              placeholder="Toutes les familles", select_all=False)
    cat_choices = [c for c in options.categories
                   if not families or options.category_family.get(c) in set(families)]
    chosen = [c for c in st.session_state.get(KEYS["categories"]) or [] if c in options.categories]
    cat_choices = list(dict.fromkeys(cat_choices + chosen))
    st.session_state[KEYS["categories"]] = chosen
    categories = sb.multiselect("Catégories FINESS", cat_choices, key=KEYS["categories"],
                                format_func=lambda c: options.category_labels.get(c, c),
                                placeholder="Toutes les catégories",
                                # substring matching (not fuzzy subsequences: « EHPAD » must not
                                # offer EHPA or CHS), no English « Select all matches » entry
                                filter_mode="contains", select_all=False,
                                help="Ex. EHPAD (500), SSIAD (354), CSAPA (197).")
    text = sb.text_input("Recherche par nom, commune ou n° FINESS", key=KEYS["text"],
                         placeholder="ex. ehpad abeville (fautes tolérées)", max_chars=200)

    sb.subheader("Autour de")
    deps = territory_departments(options, dac)
    communes = [c for d in deps for c in options.communes_by_department.get(d, ())]
    near = sb.selectbox("Commune, n° FINESS ou coordonnées", communes, key=KEYS["near"],
                        index=None, accept_new_options=True,
                        format_func=lambda c: options.commune_labels.get(c, c),
                        placeholder="ex. Abbeville, 80001, « 49.89, 2.30 »",
                        help="Choisir une commune du territoire, ou taper un code INSEE, un "
                             "n° FINESS, un nom de commune ou « latitude, longitude ».")
    # ---- proximity (issue 12): the N nearest by default, the radius as an explicit choice
    road = network_label(dac) if network_label is not None else None
    mode = sb.radio("Résultats", [NEAREST, RADIUS], key=MODE_KEY, horizontal=True,
                    format_func=lambda m: "Les plus proches" if m == NEAREST else "Dans un rayon",
                    help="Les plus proches : les N ressources les plus proches du lieu, sans rayon "
                         "à deviner" + (" (par la route)." if road else " (à vol d'oiseau).")
                         + " Dans un rayon : toutes les ressources à moins de X km.")
    # the widgets of the other mode are not drawn, and Streamlit forgets their values: restore
    for key, default in ((KEYS["radius_km"], float(settings.UI_DEFAULT_RADIUS_KM)),
                         (KEYS["nearest_n"], int(settings.NEAREST_N)), (KEYS["max_minutes"], 0.0)):
        if st.session_state.get(key) is None:
            st.session_state[key] = default
    radius = float(st.session_state[KEYS["radius_km"]])
    outline = False
    nearest_n = int(st.session_state[KEYS["nearest_n"]])
    minutes = float(st.session_state[KEYS["max_minutes"]])
    if mode == RADIUS:
        radius = sb.number_input("Rayon (km)", min_value=MIN_RADIUS_KM, max_value=MAX_RADIUS_KM,
                                 step=1.0, key=KEYS["radius_km"], format="%g")
        outline = sb.checkbox("Mesurer depuis les limites de la commune", key=KEYS["outline"],
                              disabled=not near,
                              help="0 km pour toute ressource située dans la commune ; sinon "
                                   "depuis son centre.")
    else:
        c1, c2 = sb.columns(2)
        nearest_n = c1.number_input("Nombre", min_value=1, max_value=MAX_NEAREST, step=1,
                                    key=KEYS["nearest_n"])
        minutes = c2.number_input("Durée max. (min)", min_value=0.0, max_value=MAX_MINUTES,
                                  step=5.0, key=KEYS["max_minutes"], format="%g",
                                  disabled=not road,
                                  help="0 = sans limite. En voiture, par la route : demande un "
                                       "réseau routier (dac-map network build).")
    sb.caption(f"Durées en voiture : réseau routier {road}" if road
               else "Pas de réseau routier pour ce territoire : distances à vol d'oiseau.")

    spec_disc: list[str] = []
    spec_clt: list[str] = []
    spec_act: list[str] = []
    with sb.expander("Spécialité et capacité", expanded=bool(
            st.session_state.get(KEYS["disciplines"]) or st.session_state.get(KEYS["clienteles"])
            or st.session_state.get(KEYS["activity_types"]) or st.session_state.get(KEYS["min_capacity"]))):
        if options.has_equipment:
            if options.illustrative:
                st.caption("⚠ Capacités et disciplines FICTIVES (données de démonstration).")
            _keep_known(KEYS["disciplines"], options.disciplines)
            _keep_known(KEYS["clienteles"], options.clienteles)
            _keep_known(KEYS["activity_types"], options.activity_types)
            spec_disc = st.multiselect("Discipline d'équipement", options.disciplines,
                                       key=KEYS["disciplines"], placeholder="Toutes", select_all=False,
                                       format_func=lambda c: f"{options.discipline_labels.get(c, c)} ({c})")
            spec_clt = st.multiselect("Clientèle", options.clienteles, key=KEYS["clienteles"],
                                      placeholder="Toutes", select_all=False,
                                      format_func=lambda c: f"{options.clientele_labels.get(c, c)} ({c})",
                                      help="Ex. personnes Alzheimer, handicap psychique.")
            spec_act = st.multiselect("Type d'activité", options.activity_types,
                                      key=KEYS["activity_types"], placeholder="Tous", select_all=False,
                                      format_func=lambda c: f"{options.activity_labels.get(c, c)} ({c})",
                                      help="Hébergement complet, accueil de jour, temporaire…")
        else:
            st.caption("Pas de données d'équipement (cs1100505) dans ce GeoPackage.")
        capacity = st.number_input("Capacité installée minimale (places)", min_value=0,
                                   max_value=5000, step=5, key=KEYS["min_capacity"],
                                   help="Places installées (sur la spécialité choisie le cas "
                                        "échéant), pas des places libres.")
        authorised = st.checkbox("Compter les places autorisées (au lieu d'installées)",
                                 key=KEYS["authorised"], disabled=not capacity)
    from dac_map.ui.finess_plus_view import render_sidebar_activities  # FINESS+ (issue 11)

    fp_types, fp_publics, fp_places, fp_authorised = render_sidebar_activities(options)
    from dac_map.ui.social_search import render_sidebar as render_social  # issue 16

    social = render_social(communes, options.commune_labels)
    with sb.expander("Options"):
        closed = st.checkbox("Inclure les établissements fermés", key=KEYS["include_closed"])
    carried = _carried_caption(options)
    sb.button("Réinitialiser les filtres", on_click=reset_filters, width="stretch",
              icon=":material/restart_alt:")

    return ViewState(
        dac=dac, families=tuple(families), categories=tuple(categories),
        disciplines=tuple(spec_disc), clienteles=tuple(spec_clt), activity_types=tuple(spec_act),
        min_capacity=int(capacity or 0), text=text or "", near=(near or "").strip(),
        radius_km=float(radius) if mode == RADIUS else None, outline=bool(outline and near),
        include_closed=bool(closed), nearest_n=int(nearest_n or settings.NEAREST_N),
        max_minutes=float(minutes or 0.0), authorised=bool(authorised and capacity), **carried,
        sort=st.session_state.get(KEYS["sort"]) or "",
        page=int(st.session_state.get(KEYS["page"]) or 1),
        focus=st.session_state.get(FOCUS),
        fp_types=tuple(fp_types), fp_publics=tuple(fp_publics), fp_min_places=int(fp_places or 0),
        fp_authorised=bool(fp_authorised), social_focus=st.session_state.get(SOCIAL_FOCUS), **social)


# --- « Je cherche » and the link's criteria without a widget ------------------------------

def _need_codes_present(syn, options: Options):
    """``syn`` restricted to the codes of this catalogue, or None when a criterion it uses has
    none of its codes here (no resource of that type in the data)."""
    from dataclasses import replace

    present = {
        "categories": set(options.categories),
        "disciplines": set(options.disciplines) if options.has_equipment else set(),
        "activity_types": set(options.activity_types) if options.has_equipment else set(),
        "clienteles": set(options.clienteles) if options.has_equipment else set(),
    }
    kept: dict[str, tuple[str, ...]] = {}
    for attr, have in present.items():
        codes = getattr(syn, attr)
        if codes:
            ok = tuple(c for c in codes if c in have)
            if not ok:
                return None
            kept[attr] = ok
    return replace(syn, **kept)


def apply_need(syn, options: Options) -> None:
    """Write the resource type of a synonym entry into the filter widgets (family and
    category boxes, specialty lists); place, name search, capacity and territory kept."""
    st.session_state[NEED_SUGGESTIONS] = []
    usable = _need_codes_present(syn, options)
    if usable is None:
        st.session_state[NEED_APPLIED] = None
        st.session_state[NEED_MESSAGE] = (
            f"Aucune ressource « {syn.label} » dans les données chargées : filtres inchangés.")
        return
    st.session_state[KEYS["families"]] = []
    st.session_state[KEYS["aggregates"]] = []
    st.session_state[KEYS["categories"]] = list(usable.categories)
    st.session_state[KEYS["disciplines"]] = list(usable.disciplines)
    st.session_state[KEYS["activity_types"]] = list(usable.activity_types)
    st.session_state[KEYS["clienteles"]] = list(usable.clienteles)
    st.session_state[KEYS["social_families"]] = []  # one resource type at a time (issue 16)
    st.session_state[KEYS["page"]] = 1
    st.session_state[FOCUS] = None
    st.session_state[NEED_APPLIED] = usable
    st.session_state[NEED_MESSAGE] = None


def _on_need_change(options: Options) -> None:
    """Callback of the « Je cherche » box: one clear match is applied at once, several are
    offered as buttons, none is explained."""
    from dac_map.query.errors import QueryError
    from dac_map.query.synonyms import best_match, load_synonyms, match

    text = (st.session_state.get(NEED) or "").strip()
    st.session_state[NEED_MESSAGE] = None
    st.session_state[NEED_SUGGESTIONS] = []
    if not text:
        return
    try:
        table = load_synonyms()
    except QueryError as exc:
        st.session_state[NEED_MESSAGE] = f"Table des synonymes illisible : {exc}"
        return
    names = options.category_names or {}
    best = best_match(text, table, names)
    if best is not None:
        apply_need(best, options)
        return
    found = match(text, table, names)
    social = None if found else apply_social_need(text)  # issue 16: « aide alimentaire », « CCAS »…
    if social:  # one resource type at a time: the FINESS type filters are cleared
        for attr in ("families", "aggregates", "categories", "disciplines", "activity_types", "clienteles"):
            st.session_state[KEYS[attr]] = []
        st.session_state[NEED_APPLIED] = None
    if found:
        st.session_state[NEED_SUGGESTIONS] = found
    elif social:
        st.session_state[NEED_MESSAGE] = social
    else:
        st.session_state[NEED_MESSAGE] = (
            f"Aucun type de ressource ne correspond à « {text[:60]} ». Essayez un sigle (EHPAD, "
            "SSIAD, CSAPA…) ou un mot courant (aide à domicile, accueil de jour), ou cherchez "
            "par nom ci-dessous.")


def _need_box(options: Options) -> None:
    """The « Je cherche » box (plain words: sigles and common words, see
    :mod:`dac_map.query.synonyms`) and what it did."""
    sb = st.sidebar
    sb.text_input("Je cherche", key=NEED, on_change=_on_need_change, args=(options,),
                  placeholder="ex. EHPAD, aide à domicile, CSAPA, accueil de jour",
                  max_chars=100,
                  help="Sigles et mots du téléphone : EHPAD, SSIAD, SAAD, HAD, CMP, IME, "
                       "maison de retraite, soins infirmiers, plateforme de répit, unité "
                       "Alzheimer… (table des synonymes modifiable par l'équipe). Les "
                       "catégories FINESS exactes restent disponibles en dessous.")
    applied = st.session_state.get(NEED_APPLIED)
    if applied is not None:
        current = _current_types()
        if applied.matches_spec(current):
            sb.caption(f":material/check: {plain(applied.label)}")
        else:
            st.session_state[NEED_APPLIED] = None
    message = st.session_state.get(NEED_MESSAGE)
    if message:
        sb.caption(message)
    suggestions = st.session_state.get(NEED_SUGGESTIONS) or []
    if suggestions:
        sb.caption("Plusieurs types possibles : choisir")
        for k, syn in enumerate(suggestions):
            sb.button(plain(syn.label), key=f"need_sugg_{k}", on_click=apply_need,
                      args=(syn, options), width="stretch")


def _current_types():
    from dac_map.query.spec import SearchSpec

    def codes(attr: str) -> tuple[str, ...]:
        return tuple(st.session_state.get(KEYS[attr]) or ())

    return SearchSpec(families=codes("families"), aggregates=codes("aggregates"),
                      categories=codes("categories"), disciplines=codes("disciplines"),
                      activity_types=codes("activity_types"), clienteles=codes("clienteles"))


def _carried_caption(options: Options) -> dict[str, tuple[str, ...]]:
    """Criteria of a link that have no widget (departments, communes, category aggregates):
    kept as they are, shown, and cleared by « Réinitialiser »."""
    out = {attr: tuple(st.session_state.get(KEYS[attr]) or ())
           for attr in ("departments", "communes", "aggregates")}
    parts = []
    if out["departments"]:
        parts.append("département(s) " + ", ".join(out["departments"]))
    if out["communes"]:
        parts.append("commune(s) " + ", ".join(options.commune_labels.get(c, c)
                                               for c in out["communes"]))
    if out["aggregates"]:
        parts.append("agrégat(s) de catégories " + ", ".join(out["aggregates"]))
    if parts:
        st.sidebar.caption("Critères du lien conservés : " + " ; ".join(parts)
                           + " (« Réinitialiser » les retire).")
    return out


__all__ = ["NEED", "apply_need", "BASKET", "FOCUS", "KEYS", "MAP_CENTER", "MODE_KEY", "render", "reset_filters", "seed", "selected_rows"]
