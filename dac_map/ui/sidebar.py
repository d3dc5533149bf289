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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import streamlit as st

from dac_map.codes import department_of
from dac_map import settings
from dac_map.ui.state import (MAX_MINUTES, MAX_NEAREST, MAX_RADIUS_KM, MIN_RADIUS_KM, NATIONAL,
                              NEAREST, RADIUS, ViewState, mode_of)
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


@dataclass(frozen=True)
class Options:
    """Choices offered by the widgets, prepared once per catalogue (see views)."""

    territories: tuple[str, ...]
    territory_labels: Mapping[str, str]
    territory_departments: Mapping[str, tuple[str, ...]]
    families: tuple[str, ...]
    family_labels: Mapping[str, str]
    categories: tuple[str, ...]
    category_labels: Mapping[str, str]
    category_family: Mapping[str, str]
    disciplines: tuple[str, ...]
    discipline_labels: Mapping[str, str]
    clienteles: tuple[str, ...]
    clientele_labels: Mapping[str, str]
    activity_types: tuple[str, ...]
    activity_labels: Mapping[str, str]
    communes_by_department: Mapping[str, tuple[str, ...]]
    commune_labels: Mapping[str, str]
    has_equipment: bool
    illustrative: bool
    #: FINESS category code -> plain names looked up by the « Je cherche » box (long label).
    category_names: Mapping[str, str] = None  # type: ignore[assignment]
    #: FINESS+ activity types and publics offered (issue 11): code -> French label
    fp_type_labels: Mapping[str, str] = None  # type: ignore[assignment]
    fp_public_labels: Mapping[str, str] = None  # type: ignore[assignment]


def build_options(catalogue) -> Options:
    """The widget choices of a catalogue (pure computation, no Streamlit call)."""
    terr = catalogue.territories
    counts = (terr["establishments"].fillna(0).astype("int64") if "establishments" in terr
              else None)
    ids = [str(x) for x in terr["dac_id"]]
    names = {str(i): plain(n) or str(i) for i, n in zip(terr["dac_id"], terr["name"])}
    labels: dict[str, str] = {}
    keep: list[str] = []
    for k, i in enumerate(ids):
        n = int(counts.iat[k]) if counts is not None else None
        if n is None or n > 0:
            keep.append(i)
        labels[i] = f"{names[i]} — {n} ressources" if n is not None else names[i]
    keep.sort(key=lambda i: names[i].lower())
    if settings.UI_NATIONAL_VIEW:
        keep.insert(0, NATIONAL)
    labels[NATIONAL] = f"France entière — {len(catalogue)} ressources"
    deps = {str(i): tuple(str(d or "").split()) for i, d in zip(terr["dac_id"], terr["departments"])}

    fam = catalogue.families.sort_values("order")
    families = tuple(str(f) for f in fam["family"])
    family_labels = {str(f): plain(lab) for f, lab in zip(fam["family"], fam["family_label"])}

    cats = catalogue.categories
    cat_label = {str(c): plain(lab) for c, lab in zip(cats["category"], cats["category_label"])}
    cat_family = ({str(c): str(f) for c, f in zip(cats["category"], cats["family"])}
                  if "family" in cats else {})
    present = [str(c) for c in catalogue.category.values]
    est = catalogue.establishments
    if "category_label" in est:
        first = est.drop_duplicates("category")
        for c, lab in zip(first["category"], first["category_label"]):
            cat_label.setdefault(str(c), plain(lab))
    if "family" in est:
        first = est.drop_duplicates("category")
        for c, f in zip(first["category"], first["family"]):
            cat_family.setdefault(str(c), str(f))
    categories = tuple(sorted(present, key=lambda c: (cat_label.get(c, c).lower(), c)))
    acronyms = category_acronyms()
    # The acronym people say first (« EHPAD — ... (500) »): the box's own filter ranks a label
    # starting with the typed word above loose matches, so Enter picks the right category.
    cat_labels = {c: (f"{acronyms[c]} — " if c in acronyms else "") + f"{cat_label.get(c, c)} ({c})"
                  for c in categories}

    eq_labels = catalogue.equipment_arrays.labels

    def sorted_codes(kind: str) -> tuple[tuple[str, ...], dict[str, str]]:
        lab = {str(c): plain(v) or str(c) for c, v in eq_labels.get(kind, {}).items()}
        return tuple(sorted(lab, key=lambda c: (lab[c].lower(), c))), lab

    disciplines, disc_labels = sorted_codes("discipline")
    clienteles, clt_labels = sorted_codes("clientele")
    activities, act_labels = sorted_codes("activity_type")

    com = catalogue.communes
    by_dep: dict[str, list[str]] = {}
    com_labels: dict[str, str] = {}
    if len(com):
        order = com.assign(_n=com["name"].astype(str).str.lower()).sort_values(["_n", "code"])
        for code, name in zip(order["code"].astype(str), order["name"]):
            dep = department_of(code)
            by_dep.setdefault(dep, []).append(code)
            com_labels[code] = f"{plain(name)} ({code})"
    return Options(
        territories=tuple(keep), territory_labels=labels, territory_departments=deps,
        families=families, family_labels=family_labels, categories=categories,
        category_labels=cat_labels, category_family=cat_family, disciplines=disciplines,
        discipline_labels=disc_labels, clienteles=clienteles, clientele_labels=clt_labels,
        activity_types=activities, activity_labels=act_labels,
        communes_by_department={k: tuple(v) for k, v in by_dep.items()},
        commune_labels=com_labels, has_equipment=bool(catalogue.has_equipment),
        illustrative=bool(catalogue.equipment_illustrative),
        category_names={c: cat_label.get(c, c) for c in categories},
        **_finess_plus_options(catalogue))


def _finess_plus_options(catalogue) -> dict[str, Mapping[str, str]]:
    from dac_map.ui.finess_plus_view import sidebar_options  # FINESS+ (issue 11)

    return sidebar_options(catalogue)


def category_acronyms() -> dict[str, str]:
    """Category code -> the acronym callers use, from the synonyms table: entries whose term is
    an acronym (capitals) and which select exactly one category and nothing else."""
    from dac_map.query.errors import QueryError
    from dac_map.query.synonyms import load_synonyms

    try:
        table = load_synonyms()
    except QueryError:
        return {}
    out: dict[str, str] = {}
    for syn in table:
        if (syn.term.isupper() and len(syn.categories) == 1 and not syn.disciplines
                and not syn.activity_types and not syn.clienteles):
            out.setdefault(syn.categories[0], syn.term)
    return out


def territory_departments(options: Options, dac: str | None) -> tuple[str, ...]:
    """Department codes of a territory (empty for the national view)."""
    if not dac or dac == NATIONAL:
        return ()
    return options.territory_departments.get(dac, ())


def seed(state: ViewState) -> None:
    """Write ``state`` into the widget keys (before the widgets are drawn)."""
    for attr, key in KEYS.items():
        value = getattr(state, attr)
        if isinstance(value, tuple):
            value = list(value)
        if attr == "near":
            value = value or None
        if attr == "radius_km" and value is None:  # issue 12: no radius = the nearest ones
            value = float(settings.UI_DEFAULT_RADIUS_KM)
        st.session_state[key] = value
    st.session_state[MODE_KEY] = mode_of(state)
    st.session_state[FOCUS] = state.focus
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
            None if attr == "near" else value)
    st.session_state[MODE_KEY] = NEAREST
    st.session_state[FOCUS] = None
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
        fp_authorised=bool(fp_authorised))


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
    if found:
        st.session_state[NEED_SUGGESTIONS] = found
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


__all__ = [
    "NEED",
    "apply_need",
    "category_acronyms",
    "BASKET",
    "FOCUS",
    "KEYS",
    "MAP_CENTER",
    "MODE_KEY",
    "Options",
    "build_options",
    "render",
    "reset_filters",
    "seed",
    "territory_departments",
]
