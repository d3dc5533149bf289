"""Tunables of dac-map, in one place.

Every value can be overridden by an environment variable of the same name prefixed
with ``DAC_MAP_`` (for example ``DAC_MAP_TILES=none``). Values are read once, at import.

Coordinate reference systems:

* ``CRS_DISPLAY`` (EPSG:4326, WGS84 lon/lat in degrees) is what the store keeps and
  what the map shows.
* ``CRS_METRIC`` (EPSG:2154, Lambert-93, metres) is used for every distance in
  metropolitan France. Overseas rows keep their own local metric CRS (see
  :data:`LOCAL_METRIC_CRS`), so a distance is always computed in metres.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(f"DAC_MAP_{name}", default)


#: Folder of the shipped reference and demo data.
DATA_DIR = Path(_env("DATA_DIR", str(PROJECT_DIR / "data")))

#: The GeoPackage the app reads and the ETL writes by default.
STORE_PATH = Path(_env("STORE", str(DATA_DIR / "build" / "dac_map.gpkg")))

#: Display CRS (WGS84, degrees).
CRS_DISPLAY = "EPSG:4326"

#: Metric CRS for metropolitan France (Lambert-93, metres).
CRS_METRIC = "EPSG:2154"

#: Local metric CRS per INSEE department code, for the rows where Lambert-93 is
#: meaningless. Metropolitan departments use :data:`CRS_METRIC`.
LOCAL_METRIC_CRS: dict[str, int] = {
    "971": 5490,  # Guadeloupe, RGAF09 / UTM 20N
    "972": 5490,  # Martinique, RGAF09 / UTM 20N
    "973": 2972,  # Guyane, RGFG95 / UTM 22N
    "974": 2975,  # La Réunion, RGR92 / UTM 40S
    "975": 32621,  # Saint-Pierre-et-Miquelon, WGS84 / UTM 21N
    "976": 4471,  # Mayotte, RGM04 / UTM 38S
    "977": 5490,  # Saint-Barthélemy
    "978": 5490,  # Saint-Martin
}

#: Tile layer URL template for the map. ``none`` (or empty) draws no tiles: the map then
#: shows a plain background with the boundaries, which works with no internet.
TILES = _env("TILES", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")

#: Attribution shown with the tiles.
TILES_ATTRIBUTION = _env(
    "TILES_ATTRIBUTION", "© les contributeurs d'OpenStreetMap"
)

#: DAC territory selected when the app opens (a ``territoires`` id); empty = first one.
DEFAULT_DAC = _env("DEFAULT_DAC", "DAC-80")

#: A coordinate further than this from its department's bounding box (metres) is
#: considered implausible and replaced by the commune centroid.
PLAUSIBLE_MARGIN_M = float(_env("PLAUSIBLE_MARGIN_M", "5000"))

#: Share of rejected establishment lines above which the ETL aborts instead of skipping
#: them (a broken file, not a few bad rows)...
MAX_REJECT_SHARE = float(_env("MAX_REJECT_SHARE", "0.05"))
#: ... provided more than this many lines are rejected (small files keep their good rows).
MIN_REJECTS_TO_ABORT = int(_env("MIN_REJECTS_TO_ABORT", "10"))

#: Version written into the GeoPackage metadata.
ETL_VERSION = "1"
