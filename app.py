"""dac-map: the searchable map of the health, social and medico-social resources of a DAC
territory (FINESS). Run with ``streamlit run app.py`` (or ``make run``); everything is in
:mod:`dac_map.ui`.

Pages: the resource map (default), territory coverage and white zones, the unmet-need log,
the periodic ARS report, the stewards' DAC territory editor, the coordinators' notes, the social
resources (data·inclusion, local) and their stewards' page; in server
mode (``DAC_MAP_DATABASE_URL``) also the catalogue versions. Each page is shown AND checked
according to the signed-in role (:mod:`dac_map.ui.access`, :mod:`dac_map.server.auth`); in
embedded mode the one local user has every role.
"""

import streamlit as st

st.set_page_config(page_title="dac-map — ressources du territoire", layout="wide",
                   initial_sidebar_state="expanded")

from dac_map import settings  # noqa: E402
from dac_map.errors import DacMapError  # noqa: E402
from dac_map.server import config, logs  # noqa: E402
from dac_map.ui import access, coverage_view, guide, server_pages, social_view, unmet_view  # noqa: E402
from dac_map.ui.data import store_path
from dac_map.ui.views import main

logs.configure()
access.refuse_unless_configured()  # server mode never starts without sign-in


def unmet_log():
    """The unmet-need log of the current mode (SQLite file or PostgreSQL URL)."""
    return config.database_url() or settings.UNMET_NEEDS_DB


def map_page() -> None:
    """The resource map (every role, visitors included)."""
    access.require("map.read")
    main()


def coverage_page() -> None:
    """Choropleth of the territory's communes and white zones."""
    access.require("coverage.read")
    coverage_view.render_coverage_mode(store_path())
    from dac_map.ui import finess_plus_view  # coverage by FINESS+ intervention zones (issue 11)
    from dac_map.ui.data import get_catalogue

    finess_plus_view.render_zone_coverage(get_catalogue())


def unmet_needs_page() -> None:
    """The unmet-need log: list, filter, export (the coordinator's DACs only)."""
    access.require("unmet.read_dac")
    unmet_view.render_unmet_needs_page(unmet_log(), store_path())


def territories_page() -> None:
    """The stewards' DAC territory editor."""
    access.require("territories.write")
    from dac_map.ui.data import get_catalogue
    from dac_map.ui.territories_editor import render_steward_page

    try:
        catalogue = get_catalogue()
    except DacMapError as exc:
        st.error(f"Impossible d'ouvrir les données : {exc}")
        return
    render_steward_page(catalogue)


def social_page() -> None:
    """Social services (data·inclusion) and local resources (issue 16)."""
    access.require("map.read")
    social_view.render_social_page(store_path())


def steward_page() -> None:
    """The stewards' page of the local resources and the FINESS match decisions (issue 16)."""
    access.require("local_resources.write")
    social_view.render_steward_page(store_source=store_path())


def ars_report_page() -> None:
    """The periodic report for the ARS (printable HTML and CSV, aggregates only)."""
    access.require("report.aggregates")
    coverage_view.render_ars_report_download(store_path(), db_path=unmet_log())


def guide_page() -> None:
    """The coordinator's guide (docs/guide-coordinateur.md)."""
    guide.render_guide()


guide.french_page()
access.render_account()
principal = access.current_principal()
pages = [st.Page(map_page, title="Carte des ressources", default=True)]
if principal.may("coverage.read"):
    pages.append(st.Page(coverage_page, title="Couverture et zones blanches",
                         url_path="couverture"))
if principal.may("unmet.read_dac"):
    pages.append(st.Page(unmet_needs_page, title="Besoins non couverts", url_path="besoins"))
if principal.may("notes.read_dac"):
    pages.append(st.Page(server_pages.notes_page, title="Notes des coordinateurs",
                         url_path="notes"))
if principal.may("report.aggregates"):
    pages.append(st.Page(ars_report_page, title="Rapport ARS", url_path="rapport-ars"))
if principal.may("territories.write"):
    pages.append(st.Page(territories_page, title="Territoires DAC (référents)",
                         url_path="territoires"))
if config.server_mode() and principal.may("refresh.status"):
    pages.append(st.Page(server_pages.versions_page, title="Données et versions",
                         url_path="versions"))
pages.append(st.Page(social_page, title="Ressources sociales", url_path="ressources-sociales"))
if principal.may("local_resources.write"):
    pages.append(st.Page(steward_page, title="Ressources locales (référents)",
                         url_path="ressources-locales"))
pages.append(st.Page(guide_page, title="Guide du coordinateur", url_path="guide"))
page = st.navigation(pages)
with logs.timed_run(page.url_path or "carte"):  # debug level: one line per run, its duration
    page.run()
