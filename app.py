"""dac-map: the searchable map of the health, social and medico-social resources of a DAC
territory (FINESS). Run with ``streamlit run app.py`` (or ``make run``); everything is in
:mod:`dac_map.ui`.

Pages: the resource map (default), territory coverage and white zones, the unmet-need log,
the periodic ARS report, the stewards' DAC territory editor, the social resources (data·inclusion,
local) and their stewards' page.
"""

import streamlit as st

st.set_page_config(page_title="dac-map — ressources du territoire", layout="wide",
                   initial_sidebar_state="expanded")

from dac_map import settings  # noqa: E402
from dac_map.errors import DacMapError  # noqa: E402
from dac_map.ui import coverage_view, social_view  # noqa: E402
from dac_map.ui.views import main, store_path  # noqa: E402


def coverage_page() -> None:
    """Choropleth of the territory's communes and white zones."""
    coverage_view.render_coverage_mode(store_path())


def unmet_needs_page() -> None:
    """The unmet-need log: list, filter, export."""
    coverage_view.render_unmet_needs_page(settings.UNMET_NEEDS_DB, store_path())


def territories_page() -> None:
    """The stewards' DAC territory editor."""
    from dac_map.ui.territories_view import render_steward_page
    from dac_map.ui.views import get_catalogue

    try:
        catalogue = get_catalogue()
    except DacMapError as exc:
        st.error(f"Impossible d'ouvrir les données : {exc}")
        return
    render_steward_page(catalogue)


def social_page() -> None:
    """Social services (data·inclusion) and local resources (issue 16)."""
    social_view.render_social_page(store_path())


def steward_page() -> None:
    """The stewards' editing page of the local resources (issue 16)."""
    social_view.render_steward_page(social_view.steward_table_path())


def ars_report_page() -> None:
    """The periodic report for the ARS (printable HTML and CSV)."""
    coverage_view.render_ars_report_download(store_path())


st.navigation([
    st.Page(main, title="Carte des ressources", default=True),
    st.Page(coverage_page, title="Couverture et zones blanches",
            url_path="couverture"),
    st.Page(unmet_needs_page, title="Besoins non couverts",
            url_path="besoins"),
    st.Page(ars_report_page, title="Rapport ARS",
            url_path="rapport-ars"),
    st.Page(territories_page, title="Territoires DAC (référents)",
            url_path="territoires"),
    st.Page(social_page, title="Ressources sociales", url_path="ressources-sociales"),
    st.Page(steward_page, title="Ressources locales (référents)", url_path="ressources-locales"),
]).run()
