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

#: The installed package (read only: dac-map never writes into it).
PACKAGE_DIR = Path(__file__).resolve().parent


def _env(name: str, default: str) -> str:
    return os.environ.get(f"DAC_MAP_{name}", default)


def _project_dir() -> Path:
    """The source checkout dac-map runs from (the folder holding ``pyproject.toml`` and
    ``data/`` beside the package: ``make install`` is an editable install), else the current
    directory (a regular install puts the package in site-packages, where nothing may be
    written)."""
    root = PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "data").is_dir():
        return root
    return Path.cwd().resolve()


#: The project folder: the source checkout, or the current directory for a regular install.
PROJECT_DIR = _project_dir()

#: Folder of the data: the shipped reference and demo data (read) and, by default, the built
#: store, the unmet-need log and the reports (written). Default: ``data/`` of the checkout, or
#: ``./data`` of the current directory for a regular (non-editable) install; never inside the
#: package. Set ``DAC_MAP_DATA_DIR`` to use another folder (it must hold a copy of the
#: checkout's ``data/`` reference files for the ETL and the demo).
DATA_DIR = Path(_env("DATA_DIR", str(PROJECT_DIR / "data"))).expanduser()

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

# --------------------------------------------------------------------------- coverage (dac_map.coverage)

#: Default straight-line distance (km, from the commune centroid) beyond which a commune is a
#: "zone blanche" for the chosen kind of resource.
COVERAGE_WHITE_ZONE_KM = float(_env("COVERAGE_WHITE_ZONE_KM", "20"))

#: Upper bounds (km) of the distance classes of the coverage map, comma-separated, increasing;
#: a last open class ("> last") is added.
COVERAGE_DISTANCE_BINS_KM: tuple[float, ...] = tuple(
    float(v) for v in _env("COVERAGE_DISTANCE_BINS_KM", "5,10,20,30").split(",") if v.strip())

#: Colours of the distance classes (one more than the bins: the last is the open class).
COVERAGE_DISTANCE_COLORS: tuple[str, ...] = tuple(
    _env("COVERAGE_DISTANCE_COLORS", "#1a9850,#91cf60,#fee08b,#fc8d59,#d73027").split(","))

#: Lower bounds of the classes of places per 1,000 inhabitants aged 75 or more, increasing.
COVERAGE_RATIO_BINS: tuple[float, ...] = tuple(
    float(v) for v in _env("COVERAGE_RATIO_BINS", "25,50,100,150").split(",") if v.strip())

#: Colours of the ratio classes (one more than the bins: the first is "< first bin").
COVERAGE_RATIO_COLORS: tuple[str, ...] = tuple(
    _env("COVERAGE_RATIO_COLORS", "#d73027,#fc8d59,#fee08b,#91cf60,#1a9850").split(","))

#: Colour of communes with no value (no population figure, no resource of the type at all).
COVERAGE_NO_DATA_COLOR = _env("COVERAGE_NO_DATA_COLOR", "#bdbdbd")

#: Radius (km) of the catchment area used for the places-per-1,000-aged-75+ ratio around each
#: commune centroid (0 = places located in the commune itself only).
COVERAGE_CATCHMENT_KM = float(_env("COVERAGE_CATCHMENT_KM", "15"))

#: Family whose installed places feed the default places-per-1,000-aged-75+ ratio.
COVERAGE_RATIO_FAMILY = _env("COVERAGE_RATIO_FAMILY", "pa_hebergement")

#: Families meant for the elderly (space-separated ids of data/reference/familles.csv): the ratio
#: of places per 1,000 people aged 75+ is computed only for resources all of these families
#: (the ARS "taux d'équipement" of EHPAD, SSIAD...), never for, say, CSAPA.
COVERAGE_ELDERLY_FAMILIES = _env("COVERAGE_ELDERLY_FAMILIES", "pa_hebergement pa_domicile domicile")

#: Population table (INSEE layout, see dac_map.coverage.population). The default is the shipped
#: demo table with FICTITIOUS values; empty = no population ratios.
POPULATION_PATH = _env("POPULATION_PATH", str(
    DATA_DIR / "reference" / "DEMO-FICTIF_population_75plus_80_46.csv"))

#: Plain-word synonyms of the "Je cherche" box (CSV, ``;``, UTF-8; see
#: :mod:`dac_map.query.synonyms` and data/README.md): what callers say (EHPAD, aide à domicile...)
#: -> FINESS categories, equipment disciplines, activity types and clientèles. Stewards edit it.
SYNONYMS_PATH = Path(_env("SYNONYMS_PATH", str(DATA_DIR / "reference" / "synonymes.csv")))

#: SQLite file of the unmet-need log ("besoins non couverts"). Kept OUTSIDE the GeoPackage so
#: that a refresh of the FINESS data never erases it.
UNMET_NEEDS_DB = Path(_env("UNMET_NEEDS_DB", str(DATA_DIR / "unmet_needs.sqlite")))

#: Longest free comment of an unmet need (characters). The coded reason and the search criteria
#: carry the record; the comment is optional and short, which also limits what could leak into it.
UNMET_COMMENT_MAX_CHARS = int(_env("UNMET_COMMENT_MAX_CHARS", "300"))

#: Retention of the unmet-need log (months): older records are deleted each time the log is
#: opened and by ``dac-map unmet purge``. 0 keeps everything.
UNMET_RETENTION_MONTHS = int(_env("UNMET_RETENTION_MONTHS", "24"))

#: Folder of the ARS reports (HTML, CSV) and of their JSON snapshots (changes since last report).
REPORTS_DIR = Path(_env("REPORTS_DIR", str(DATA_DIR / "reports")))

# --------------------------------------------------------------------------- downloads (dac_map.refresh)
# Defaults of the [download] keys of a refresh configuration (the configuration file wins).

#: Total time one source may take to download, in seconds, every attempt and wait included:
#: a server that sends a few bytes now and then cannot hold the refresh lock for hours.
DOWNLOAD_DEADLINE_S = float(_env("DOWNLOAD_DEADLINE_S", "1800"))

#: Slowest accepted download, in bytes per second, averaged over DOWNLOAD_RATE_WINDOW_S
#: (0 = no minimum). Slower: the attempt is abandoned (and retried/resumed within the deadline).
DOWNLOAD_MIN_BYTES_PER_S = float(_env("DOWNLOAD_MIN_BYTES_PER_S", "2048"))

#: Window of the throughput measure, in seconds (also the grace period of each connection).
DOWNLOAD_RATE_WINDOW_S = float(_env("DOWNLOAD_RATE_WINDOW_S", "20"))

# --------------------------------------------------------------------------- app (dac_map.ui)

#: URL prefix of the vendored front-end assets (Leaflet...), as seen from the map iframe. The
#: default is relative to the streamlit-folium iframe (``/component/<name>/index.html``) and
#: resolves to Streamlit's static file serving (``/app/static/``, ``static/`` beside app.py),
#: so it also works behind ``server.baseUrlPath``. Never a CDN: the app must work offline.
UI_ASSETS_URL = _env("UI_ASSETS_URL", "../../app/static/vendor")

#: Above this many results the map draws counts per grid cell instead of one point per
#: resource (national view); below, one canvas circle marker per resource.
MAP_MAX_POINTS = int(_env("MAP_MAX_POINTS", "12000"))

#: Size (degrees) of the grid cells of the aggregated map.
MAP_AGGREGATE_CELL_DEG = float(_env("MAP_AGGREGATE_CELL_DEG", "0.25"))

#: Height of the map, in pixels.
MAP_HEIGHT_PX = int(_env("MAP_HEIGHT_PX", "470"))

#: Background colour of the map when no tile layer is drawn (``TILES=none``).
MAP_BACKGROUND = _env("MAP_BACKGROUND", "#eef1f4")

#: Colour of a family missing from the ``familles`` table (or with an invalid colour).
MAP_FALLBACK_COLOR = _env("MAP_FALLBACK_COLOR", "#7f7f7f")

#: Tolerance (degrees) used to simplify the department and commune outlines drawn on the map.
MAP_SIMPLIFY_DEG = float(_env("MAP_SIMPLIFY_DEG", "0.0012"))

#: Most commune outlines drawn around a territory (beyond: departments only).
MAP_MAX_COMMUNES = int(_env("MAP_MAX_COMMUNES", "2500"))

#: Largest height of the result list beside the map, in pixels.
UI_LIST_HEIGHT_PX = int(_env("UI_LIST_HEIGHT_PX", "430"))

#: Rows per page of the result list.
UI_PAGE_SIZE = int(_env("UI_PAGE_SIZE", "100"))

#: Default radius (km) of the "around a commune / point" filter.
UI_DEFAULT_RADIUS_KM = float(_env("UI_DEFAULT_RADIUS_KM", "10"))

#: Offer the national view ("France entière") in the territory list.
UI_NATIONAL_VIEW = _env("UI_NATIONAL_VIEW", "1").lower() not in ("0", "false", "no", "non")

#: Most resources printed on one A4 sheet.
UI_MAX_SHEET_ITEMS = int(_env("UI_MAX_SHEET_ITEMS", "40"))

# --------------------------------------------------------------------------- data integrity (ETL checks)

#: Most physical lines one record may span (a quoted value with line breaks); an opening quote
#: still open after this many lines is an unbalanced quote, reported and ignored.
PARSER_MAX_RECORD_LINES = int(_env("PARSER_MAX_RECORD_LINES", "4"))

#: Most characters of one record spanning several lines (same rule as above).
PARSER_MAX_RECORD_CHARS = int(_env("PARSER_MAX_RECORD_CHARS", "4000"))

#: Share of the establishments with address coordinates whose position is found implausible
#: (outside its department) and moved to a commune centroid, above which the ETL refuses the
#: run (exit code 5): a wrong CRS or a corrupted file, not a few bad rows...
MAX_CENTROID_SHARE = float(_env("MAX_CENTROID_SHARE", "0.03"))
#: ... provided more than this many positions are moved.
MIN_CENTROID_MOVES_TO_ABORT = int(_env("MIN_CENTROID_MOVES_TO_ABORT", "10"))

#: Largest plausible capacity of one equipment line (places). A larger ``capinstot`` /
#: ``capautot`` is ignored (blanked), flagged ``capacity_implausible`` and reported.
CAPACITY_MAX_PLACES = int(_env("CAPACITY_MAX_PLACES", "5000"))

#: Tighter bounds per discipline (FINESS ``de`` code -> places), as ``code:max`` pairs separated
#: by commas. Defaults, far above any real site: 924 accueil pour personnes âgées (EHPAD),
#: 925 résidence autonomie, 657 / 658 accueil temporaire (personnes âgées / handicapées).
CAPACITY_MAX_BY_DISCIPLINE: dict[str, int] = {
    code.strip(): int(value) for code, value in (
        pair.split(":", 1) for pair in _env(
            "CAPACITY_MAX_BY_DISCIPLINE", "924:1500,925:1000,657:300,658:300"
        ).split(",") if ":" in pair)}

#: Age (seconds) after which a temporary GeoPackage left by a crashed write is removed even
#: when the process id in its name is alive again (process ids are reused).
STALE_TEMP_SECONDS = float(_env("STALE_TEMP_SECONDS", "21600"))

# --------------------------------------------------------------------------- territories (dac_map.territories)

#: SQLite file of the versioned DAC territory table that stewards edit (embedded mode). Kept
#: OUTSIDE the GeoPackage: the ETL and the refresh read it and never write it. Created (seeded
#: from the shipped tables) when the steward page or ``dac-map territories`` first opens it; until
#: then the shipped table ``reference/territoires_dac.csv`` is used.
TERRITORIES_DB = Path(_env("TERRITORIES_DB", str(DATA_DIR / "territories.sqlite")))

#: INSEE COG "mouvements des communes" CSV (``mvtcommune_AAAA.csv``) giving the successors of
#: commune codes that no longer exist. Empty = none (dac-map ships none): unknown codes are
#: reported without a successor.
COMMUNE_MOVES = _env("COMMUNE_MOVES", "")

# --------------------------------------------------------------------------- road network (dac_map.network)
# Read at call time by dac_map.network (``settings.NAME``), so tests and the CLI may change them.

#: Folder of the road-network caches, one sub-folder per territory (``<NETWORK_DIR>/<id>/``).
#: Never inside the package: it lives under the data folder.
NETWORK_DIR = Path(_env("NETWORK_DIR", str(DATA_DIR / "network")))

#: Car speeds replacing the defaults of :mod:`dac_map.network.profile` (km/h per OSM
#: ``highway`` class, ``"motorway=110,primary=70"``); empty = defaults.
NETWORK_SPEEDS = _env("NETWORK_SPEEDS", "")

#: TOML file with a ``[speeds]`` table (km/h per class) applied before ``NETWORK_SPEEDS``.
NETWORK_SPEEDS_FILE = _env("NETWORK_SPEEDS_FILE", "")

#: Longest edge (metres) kept between two intersections: longer roads get intermediate nodes,
#: so that places along a long rural road snap close to where they are.
NETWORK_MAX_EDGE_M = float(_env("NETWORK_MAX_EDGE_M", "500"))

#: A place or resource further than this (metres) from the nearest road is "hors réseau": it
#: gets no travel time and is listed as such.
NETWORK_MAX_SNAP_M = float(_env("NETWORK_MAX_SNAP_M", "3000"))

#: Share (0-1) of the territory's resources that may lie beyond ``NETWORK_MAX_SNAP_M`` before a
#: build is refused as "covering another area than the territory".
NETWORK_MAX_OFF_SHARE = float(_env("NETWORK_MAX_OFF_SHARE", "0.5"))

#: Families whose resources go to the patient's home (comma-separated family codes of the
#: ``familles`` table): their travel times are from the resource to the place (a professional
#: drives to the patient); for every other family, from the place to the resource (the patient
#: drives there). One-way streets make the two differ.
NETWORK_HOME_FAMILIES: tuple[str, ...] = tuple(
    v.strip() for v in _env("NETWORK_HOME_FAMILIES", "domicile").split(",") if v.strip())

#: Buffer (metres) around the reachable road nodes when drawing the reachable area.
NETWORK_HULL_BUFFER_M = float(_env("NETWORK_HULL_BUFFER_M", "400"))

#: Default white-zone threshold by car (minutes from the commune centroid to the nearest resource
#: of the kind), used when a road network is loaded.
COVERAGE_WHITE_ZONE_MIN = float(_env("COVERAGE_WHITE_ZONE_MIN", "20"))

#: Upper bounds (minutes) of the travel-time classes of the coverage map (with a road network),
#: comma-separated, increasing; a last open class is added. Colours: COVERAGE_DISTANCE_COLORS.
COVERAGE_TIME_BINS_MIN: tuple[float, ...] = tuple(
    float(v) for v in _env("COVERAGE_TIME_BINS_MIN", "10,20,30,45").split(",") if v.strip())

#: Number of resources returned by "Les plus proches" (nearest N, no radius).
NEAREST_N = int(_env("NEAREST_N", "10"))

# --- data·inclusion and local resources (issue 16, dac_map/inclusion/) ---------------------
#: Path of the DAC's local-resources table (CSV in the data·inclusion schema, see
#: data/inclusion/modele_ressources_locales.csv), edited on the app's stewards' page and read by
#: every import and refresh. Default: ``data/inclusion/ressources_locales.csv`` (created by the
#: first save). Kept outside the store: refreshes never touch it. Embedded mode only: in server mode
#: (``DAC_MAP_DATABASE_URL``) the table is in PostgreSQL (:mod:`dac_map.inclusion.tables`). (The demo's FICTITIOUS table,
#: ``data/inclusion/DEMO-FICTIF_ressources_locales_80_46.csv``, is imported by ``dac-map demo``.)
INCLUSION_LOCAL_TABLE = Path(_env("INCLUSION_LOCAL_TABLE", str(
    DATA_DIR / "inclusion" / "ressources_locales.csv")))
#: The demo's FICTITIOUS local resources (patient associations of the Somme and the Lot).
INCLUSION_DEMO_TABLE = DATA_DIR / "inclusion" / "DEMO-FICTIF_ressources_locales_80_46.csv"
#: Path (str) of the stewards' FINESS match decisions (CSV ``resource_id;finess;decision;motif`` with
#: ``lier`` / ``separer``, edited on the stewards' page). Default:
#: ``data/inclusion/correspondances_manuelles.csv`` (optional). Embedded mode only: in server mode
#: the decisions are in PostgreSQL (:mod:`dac_map.inclusion.tables`).
INCLUSION_OVERRIDES = Path(_env("INCLUSION_OVERRIDES", str(
    DATA_DIR / "inclusion" / "correspondances_manuelles.csv")))
#: Path (str) of the EPCI -> communes table that expands data·inclusion zones of type EPCI
#: (``epci;nom_epci;nature;commune;nom_commune;absorbee_par``, see :mod:`dac_map.inclusion.epci`;
#: ``dac-map inclusion epci-table`` rebuilds it from an official DGCL/INSEE file). Default: the
#: shipped official composition for the demo departments, ``data/geo/epci_communes_01_46_80.csv``;
#: "" = none (EPCI zones then kept as codes and reported as not expanded).
INCLUSION_EPCI_TABLE = _env("INCLUSION_EPCI_TABLE", str(DATA_DIR / "geo" / "epci_communes_01_46_80.csv"))
#: Largest result (rows) that a one-off ``dac-map search`` reads row by row from the social table
#: (the resources shown only); a larger result reads the whole table at once
#: (:meth:`dac_map.inclusion.catalogue.SocialCatalogue.records`). Same output either way.
SOCIAL_ROWS_READ_MAX = int(_env("SOCIAL_ROWS_READ_MAX", "50000"))

# --------------------------------------------------------------------------- process memory (dac_map.memory)

#: Arrow memory pool used for the ETL, the catalogue load and the imports (str): ``jemalloc``
#: (default), ``system`` (the C library's malloc), ``mimalloc`` or ``default`` (pyarrow's own
#: choice: mimalloc in recent wheels). Measured on a 2-core virtual machine, pyarrow's mimalloc
#: pool made the ETL's CSV read and text trims 5-10 times slower than jemalloc or malloc: it
#: commits its arenas at once in transparent huge pages, and each first touch of a 2 MiB page
#: was slow there (see README, ETL benchmark). ``jemalloc`` falls back to ``system`` when the
#: installed pyarrow lacks it. Applied by :func:`dac_map.memory.use_arrow_pool`, at call time.
ARROW_MEMORY_POOL = _env("ARROW_MEMORY_POOL", "jemalloc")
