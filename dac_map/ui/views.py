"""The page: header with data date and sources, map, result summary, detail panel, result
list and exports (Streamlit). ``app.py`` calls :func:`main`. The cached data and searches are
in :mod:`dac_map.ui.data`, the result parts (map, detail, list, exports) in
:mod:`dac_map.ui.results`; this module lays the page out and keeps the URL in step.

What triggers a rerun (the whole script, top to bottom):

* any sidebar widget (see :mod:`dac_map.ui.sidebar`), the sort and page widgets of the list;
* a click on a resource marker: ``st_folium`` returns only click data
  (``last_object_clicked*``), so panning and zooming never rerun; its ``on_change`` callback
  sets the detail panel before the rerun;
* a row (de)selected in the list (``on_select`` callback: detail panel, A4 selection, map
  centre), the buttons of the detail panel and of the A4 selection (callbacks);
* not the download buttons: their files are generated on click, in a separate thread.

The catalogue is loaded once per process (``st.cache_resource``, keyed by path and file
modification time) and never modified; searches are cached too (``st.cache_resource``, a few
entries shared by the sessions), so that selections and clicks do not search again.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dac_map import settings
from dac_map.coverage.labels import readable_criteria
from dac_map.errors import DacMapError
from dac_map.query import Catalogue, DistanceFilter
from dac_map.server import config as server_config
from dac_map.ui import access, sidebar, unmet_view
from dac_map.ui import social_search as soc
from dac_map.ui import finess_plus_view as fpv
from dac_map.ui import state as ustate
from dac_map.ui import territories_view as tview
from dac_map.ui.data import (
    Current,
    cached_colors,
    cached_options,
    catalogue_token,
    get_catalogue,
    network_label,
    run_search,
    store_path,
)
from dac_map.ui.news import render_news
from dac_map.ui.options import Options, territory_departments
from dac_map.ui.results import render_detail, render_exports, render_list, render_map, render_summary
from dac_map.ui.sidebar import BASKET, FOCUS, KEYS, MAP_CENTER
from dac_map.ui.text import demo_flags, md, sources_line

_INIT = "_dacmap_initialised"
_LAST_FILTER_KEY = "_dacmap_filter_key"


def _header(catalogue: Catalogue, state: ustate.ViewState, options: Options) -> None:
    name = ("France entière" if state.national else
            catalogue.territory_name(state.dac or "") or state.dac or "")
    st.markdown(f"#### dac-map — ressources du territoire : {md(name)}")
    st.caption(md(sources_line(catalogue.metadata)))
    flags = demo_flags(catalogue.metadata)
    if flags:
        st.warning("  \n".join(md(f) for f in flags), icon=":material/science:")


#: Less empty space above the page, so that the map and the list fit on a laptop screen.
_COMPACT_CSS = ("<style>.block-container{padding-top:2.2rem!important;padding-bottom:1rem!important}"
                "h4{padding-top:0!important;padding-bottom:0.2rem!important}</style>")


def _init_session(catalogue: Catalogue) -> list[str]:
    """First run of a session: state from the URL, checked against the catalogue, written into
    the widgets. Returns the warnings to show."""
    if st.session_state.get(_INIT):
        return []
    state, warnings = ustate.from_query_params(st.query_params.to_dict())
    state, more = ustate.sanitize(state, catalogue, settings.DEFAULT_DAC)
    sidebar.seed(state)
    st.session_state[BASKET] = []
    st.session_state[MAP_CENTER] = ("focus", state.focus, 1) if state.focus else None
    st.session_state[_INIT] = True
    return warnings + more


def _sync_url(state: ustate.ViewState) -> None:
    params = ustate.to_query_params(state)
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def main() -> None:
    """The page (see the module docstring for what reruns it)."""
    try:
        catalogue = get_catalogue()
    except DacMapError as exc:
        st.error("Impossible d'ouvrir les données : " + md(str(exc)) + "  \n"
                 "Construire la base de démonstration avec `dac-map demo` (ou `make run`), ou "
                 "une base réelle avec `dac-map etl`, puis recharger la page.")
        st.stop()
        return
    token = catalogue_token(catalogue)
    options = cached_options(catalogue, token)
    colors = cached_colors(catalogue, token)
    warnings = _init_session(catalogue)

    state = sidebar.render(options, network_label)
    departments = territory_departments(options, state.dac)
    filter_key = state.filter_key()
    results_changed = st.session_state.get(_LAST_FILTER_KEY) not in (None, filter_key)
    if results_changed:
        st.session_state[KEYS["page"]] = 1  # new result set: back to page 1
        state = ustate.ViewState(**{**state.__dict__, "page": 1})
    st.session_state[_LAST_FILTER_KEY] = filter_key
    current = run_search(catalogue, state, departments)
    focus = st.session_state.get(FOCUS)
    if focus not in catalogue.finess_row:
        focus = None
    if focus and results_changed and not current.result.records["finess"].eq(focus).any():
        focus = None  # no longer in the new results: the detail sheet closes (issue 10)
        st.session_state[FOCUS] = None
    current = Current(ustate.ViewState(**{**current.state.__dict__, "focus": focus}),
                      current.result, current.warnings, current.filter_version, current.network)
    current = _with_social(catalogue, current, departments, token)  # issue 16

    with st.sidebar:
        st.divider()
        st.markdown(":material/menu_book: [Guide du coordinateur](./guide) : les cinq appels "
                    "les plus fréquents")
        st.caption(md(sources_line(catalogue.metadata)))

    _header(catalogue, current.state, options)
    render_news(server_config.database_url() or store_path(),
                dac_id=None if current.state.national else current.state.dac)
    for w in [*warnings, *current.warnings]:
        st.warning(md(w), icon=":material/warning:")
    # issue 12: the map and the first rows of the list side by side (visible together on a
    # 1366x768 screen); the detail panel under the map
    st.html(_COMPACT_CSS)
    left, right = st.columns([0.55, 0.45], gap="small")
    with left:
        render_map(catalogue, current, options, colors)
        social_row = soc.focused_row(catalogue, current.social)
        if social_row is not None:  # issue 16: a social resource's sheet
            soc.render_detail(social_row, has_finess=str(social_row.get("finess")) in catalogue.finess_row)
        elif focus:
            render_detail(catalogue, current, focus)
        else:
            st.caption("Cliquer un point de la carte ou cocher une ligne de la liste pour voir "
                       "sa fiche (adresse, téléphone, capacités).")
    with right:
        _dac_of_search(catalogue, current.state, departments)
        if current.finess_shown:
            render_summary(current, readable_criteria(current.state.spec(), catalogue, departments,
                                                      current.result.labels))
            if current.state.national:
                tview.render_national_dacs(catalogue)
            if fpv.render_serving_section(catalogue, current.state, departments):  # issue 11
                st.markdown("#### À proximité")
            render_list(catalogue, current)
        if current.social is not None:
            soc.render_list(current.social, current.filter_version)
    if current.finess_shown:
        render_exports(catalogue, current, options)
    _unmet_need(catalogue, current, departments)


def _with_social(catalogue: Catalogue, current: Current, departments: Sequence[str], token: str) -> Current:
    """``current`` with the social resources the search asks for (issue 16): their result,
    whether FINESS results are shown, the social sheet in the state (URL ``ressource``) and a
    result version that follows the social criteria too."""
    import zlib

    from dac_map.query.social import scope

    kinds = scope(current.state)
    social, warnings = soc.run_search(catalogue, current.state, departments, token)
    state = ustate.ViewState(**{**current.state.__dict__,
                                "social_focus": st.session_state.get(soc.SOCIAL_FOCUS)})
    version = zlib.crc32(f"{current.filter_version}:{state.spec()!r}".encode("utf-8"))
    # without FINESS results, the FINESS criteria's warnings (« pas d'activités FINESS+ »…) are moot
    shown = (*(current.warnings if kinds.finess else ()), *warnings)
    return Current(state, current.result, tuple(dict.fromkeys(shown)), version, current.network,
                   social, kinds.finess)


def _search_commune(catalogue: Catalogue, state: ustate.ViewState, departments: Sequence[str]
                    ) -> str | None:
    """The commune of the search centre ("autour de"), if any."""
    return tview.centre_commune(catalogue, ustate.search_centre(state, catalogue, departments))


def _dac_of_search(catalogue: Catalogue, state: ustate.ViewState, departments: Sequence[str]) -> None:
    """Which DAC answers for the search centre's commune, else the territory's DAC number."""
    line = tview.dac_line(catalogue, _search_commune(catalogue, state, departments),
                          "DAC de la commune du centre de recherche")
    if line is None and not state.national and state.dac:
        contact = tview.dac_lookup(catalogue).contact(state.dac)
        if contact is not None:
            line = ":material/support_agent: Numéro unique du DAC : " + tview.contact_markdown(contact)
    if line:
        st.markdown(line)


def _unmet_need(catalogue: Catalogue, current: Current, departments: Sequence[str]) -> None:
    """The "no suitable resource found" form under the results (records the current search,
    and the commune it was about when the centre resolved to one)."""
    state = current.state
    filters, _ = ustate.build_filters(state, catalogue, departments)
    commune = next((f.commune for f in filters if isinstance(f, DistanceFilter) and f.commune), None)
    commune = commune or (state.serves or None)  # « Intervient à » (FINESS+ and social resources)
    dac = "national" if state.national else (state.dac or "national")
    # visitors, ARS, data stewards, other DACs: no form (and the write path refuses them anyway)
    if access.current_principal().may("unmet.write_dac", dac):
        with st.expander("Aucune ressource adaptée ? Signaler un besoin non couvert"):
            line = tview.dac_line(catalogue, commune or _search_commune(catalogue, state, departments),
                                  "DAC à prévenir pour cette commune")
            if line:
                st.markdown(line)
            unmet_view.render_unmet_need_button(
                " ; ".join(readable_criteria(state.spec(), catalogue, departments,
                                             current.result.labels)), state.spec(), dac, commune,
                store_path=store_path(),
                db_path=server_config.database_url() or settings.UNMET_NEEDS_DB)
    page = int(st.session_state.get(KEYS["page"]) or 1)
    _sync_url(ustate.ViewState(**{**current.state.__dict__, "page": page,
                                  "sort": st.session_state.get(KEYS["sort"]) or ""}))


__all__ = ["main"]
