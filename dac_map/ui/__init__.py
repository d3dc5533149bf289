"""Streamlit front end of dac-map: the searchable map of the resources of a DAC territory.

Modules: :mod:`~dac_map.ui.state` (URL query parameters <-> filter state, pure Python),
:mod:`~dac_map.ui.map` (folium map building, no Streamlit), :mod:`~dac_map.ui.exports`
(CSV, Excel, GeoJSON, printable A4 sheet), :mod:`~dac_map.ui.text` (escaping helpers),
:mod:`~dac_map.ui.sidebar` and :mod:`~dac_map.ui.views` (Streamlit widgets and page).
``app.py`` only sets the page up and calls :func:`dac_map.ui.views.main`.
"""
