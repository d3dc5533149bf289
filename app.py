"""dac-map: the searchable map of the health, social and medico-social resources of a DAC
territory (FINESS). Run with ``streamlit run app.py`` (or ``make run``); everything is in
:mod:`dac_map.ui`."""

import streamlit as st

st.set_page_config(page_title="dac-map — ressources du territoire", layout="wide",
                   initial_sidebar_state="expanded")

from dac_map.ui.views import main

main()
