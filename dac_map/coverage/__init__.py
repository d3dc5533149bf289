"""Territory coverage and unmet needs ("ruptures de parcours"), for the DAC and its ARS.

Pure Python (no Streamlit):

* :mod:`~dac_map.coverage.data` — :func:`load_coverage_data` reads the store tables once;
* :mod:`~dac_map.coverage.indicators` — counts and installed places per family/discipline,
  per territory and commune; straight-line distance (km) from each commune centroid to the
  nearest resource of a kind (:func:`nearest_distances`, shapely STRtree, metres in EPSG:2154
  or the local overseas CRS); white zones; places per 1,000 people aged 75+;
* :mod:`~dac_map.coverage.population` — reader of INSEE-style population tables;
* :mod:`~dac_map.coverage.unmet` — the unmet-need log (SQLite, outside the GeoPackage), which
  refuses personal data (checked by :mod:`dac_map.privacy`);
* :mod:`~dac_map.coverage.report` — the periodic ARS report (printable HTML, CSV, snapshots).

The Streamlit pieces are in :mod:`dac_map.ui.coverage_view`, the CLI commands in
:mod:`dac_map.coverage.cli`.
"""

from dac_map.coverage.data import CoverageData, commune_centroids_m, load_coverage_data
from dac_map.coverage.indicators import (
    CommuneCoverage,
    NearestResult,
    ResourceType,
    commune_coverage,
    commune_indicators,
    discipline_indicators,
    family_indicators,
    nearest_distances,
    nearest_resources,
    places_per_1000,
    territory_indicators,
    white_zones,
)
from dac_map.coverage.population import PopulationTable, read_population
from dac_map.coverage.report import ArsReport, build_report, render_csv, render_html, write_report
from dac_map.coverage.unmet import (
    PersonalDataError,
    UnmetNeed,
    UnmetNeedError,
    commune_from_filters,
    delete_unmet_need,
    export_unmet_needs_csv,
    filters_to_json,
    list_unmet_needs,
    purge_unmet_needs,
    record_unmet_need,
    unmet_needs_csv,
)

__all__ = [
    "ArsReport", "build_report", "render_csv", "render_html", "write_report",
    "CommuneCoverage", "CoverageData", "NearestResult", "PersonalDataError", "PopulationTable",
    "ResourceType", "UnmetNeed", "UnmetNeedError", "commune_centroids_m",
    "commune_coverage", "commune_from_filters", "filters_to_json",
    "commune_indicators", "delete_unmet_need", "discipline_indicators",
    "export_unmet_needs_csv", "family_indicators", "list_unmet_needs", "load_coverage_data",
    "nearest_distances", "nearest_resources", "places_per_1000", "purge_unmet_needs",
    "read_population",
    "record_unmet_need", "territory_indicators", "unmet_needs_csv", "white_zones",
]
