"""Territory coverage and unmet needs ("ruptures de parcours"), for the DAC and its ARS.

Pure Python (no Streamlit):

* :mod:`~dac_map.coverage.resources` — kinds of resources (:class:`ResourceType`, built from
  the query filters) and the communes of a territory, all from the one
  :class:`~dac_map.query.Catalogue` (no store reading of its own);
* :mod:`~dac_map.coverage.indicators` — counts and installed places per family/discipline,
  per territory and commune; places per 1,000 people aged 75+; the per-commune coverage;
* :mod:`~dac_map.coverage.distances` — straight-line distance (km) from each commune centroid
  to the nearest resource of a kind (:func:`nearest_distances`, shapely STRtree, metres in
  EPSG:2154 or the local overseas CRS); white zones;
* :mod:`~dac_map.coverage.population` — reader of INSEE-style population tables;
* :mod:`~dac_map.coverage.criteria` — search criteria as the log stores them (versioned
  JSON of :class:`~dac_map.query.spec.SearchSpec`, conversion of older rows);
* :mod:`~dac_map.coverage.unmet` — the unmet-need log (SQLite, outside the GeoPackage);
  :mod:`~dac_map.coverage.unmet_model` — its records, which refuse personal data (checked by
  :mod:`dac_map.privacy`);
* :mod:`~dac_map.coverage.report` — the periodic ARS report (figures, snapshots);
  :mod:`~dac_map.coverage.report_render` — as printable HTML, PDF and CSV files.

The Streamlit pieces are in :mod:`dac_map.ui.coverage_view`, the CLI commands in
:mod:`dac_map.coverage.cli`.
"""

from dac_map._lazy import lazy_exports

#: Submodule -> its public names, imported on first use (``import dac_map.coverage`` stays cheap).
_EXPORTS = {
    "resources": ("ResourceType", "commune_centroids_m", "commune_table", "territory_communes"),
    "indicators": ("CommuneCoverage", "commune_coverage", "commune_indicators",
        "discipline_indicators", "family_indicators", "places_per_1000", "territory_indicators"),
    "distances": ("NearestResult", "nearest_distances", "nearest_resources", "white_zones"),
    "population": ("PopulationTable", "read_population"),
    "report": ("ArsReport", "build_report"),
    "report_render": ("render_csv", "render_html", "write_report"),
    "unmet": ("delete_unmet_need", "export_unmet_needs_csv", "list_unmet_needs",
        "purge_unmet_needs", "record_unmet_need", "unmet_needs_csv"),
    "unmet_model": ("PersonalDataError", "UnmetNeed", "UnmetNeedError"),
}
__getattr__, __dir__, __all__ = lazy_exports("dac_map.coverage", _EXPORTS)
