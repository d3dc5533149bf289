"""The refresh configuration file (TOML) -> frozen dataclasses.

Every source can be an ``http(s)://`` URL or a local path; relative paths are resolved against
the folder of the configuration file. Unknown sections or keys, wrong types and out-of-range
values raise :class:`ConfigError` naming the file and the key (``[validation] row_tolerance``).

Layout (every section but ``[sources]`` is optional; defaults shown)::

    [sources]
    establishments = "https://..."        # FINESS cs1100507 (or cs1100502), required unless FINESS+
    finess_plus_structures = "https://..."  # FINESS+ Structures flow (JSON, may be gzipped), optional
    finess_plus_activites = "https://..."   # FINESS+ Activités flow (JSON, may be gzipped), optional
    equipment = "https://..."             # FINESS cs1100505, optional
    departments = "https://..."           # department outlines, required
    communes = ["...", "..."]             # commune outlines, optional (list)
    boundaries_crs = "EPSG:2154"          # CRS of the outlines when they do not declare it, optional
    territories = "..."                   # DAC territory table, default: shipped table
    categories = "..."                    # category nomenclature, default: shipped file
    families = "..."                      # family table, default: shipped file
    category_families = "..."             # category -> family table, default: shipped file
    disciplines = "..."                   # equipment disciplines, default: shipped file
    activities = "..."                    # care activities, default: shipped file
    inclusion_services = "..."            # data·inclusion services (JSON/JSONL/CSV, .gz), optional
    inclusion_structures = "..."          # data·inclusion structures, optional
    inclusion_local = "..."               # the DAC's local resources, default: INCLUSION_LOCAL_TABLE

    [download]
    raw_dir = "<folder of the current store>/raw"
    timeout_s = 60          # per network read
    retries = 4             # attempts after the first one
    backoff_s = 2.0         # first wait, doubled at each retry...
    backoff_max_s = 60.0    # ... up to this
    min_bytes = 1024        # a smaller FINESS extract is refused
    user_agent = "dac-map/<version> (refresh)"

    [validation]
    row_tolerance = 0.10            # |new - previous| / previous, establishments and equipment lines
    territory_row_tolerance = 0.25  # same, per DAC territory...
    territory_min_rows = 20         # ... for territories that had at least this many rows
    min_geolocated_share = 0.90     # rows with an address-level position (not a commune centroid)
    max_vanished_share = 0.03       # served establishments (by FINESS number) absent from the new one
    max_positions_lost_share = 0.02 # address positions of the served version lost in the new one
    identity_min_count = 5          # ... up to this many are accepted whatever the share
    require_families = true         # refuse categories that have no family
    territories_required = "previous"  # "previous" | "all" | "none" | ["DAC-80", ...]

    [store]
    current = "<settings.STORE_PATH>"   # the GeoPackage the app serves
    versions_dir = "<folder of current>/versions"
    keep = 5                            # versions kept (the newest first)
    log_file = "<folder of current>/refresh.log.jsonl"
    lock_file = "<current>.lock"

    [report]
    moved_threshold_m = 100.0    # a move shorter than this is not reported
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dac_map import __version__, settings
from dac_map.errors import InputFormatError, InputMissingError

#: Kinds of source, each with its own content check (see :mod:`dac_map.refresh.download`).
KIND_FINESS_ESTABLISHMENTS = "finess-etablissements"
KIND_FINESS_EQUIPMENT = "finess-equipements"
KIND_BOUNDARIES = "limites"
KIND_TABLE = "table"
KIND_FINESS_PLUS_STRUCTURES = "finess-plus-structures"
KIND_FINESS_PLUS_ACTIVITES = "finess-plus-activites"
#: data·inclusion open-data files (issue 16): JSON / JSON Lines / CSV, optionally gzipped.
KIND_DATA_INCLUSION = "data-inclusion"

#: Source name -> (kind, default file suffix, required).
SOURCE_KINDS: dict[str, tuple[str, str, bool]] = {
    "establishments": (KIND_FINESS_ESTABLISHMENTS, ".csv", True),
    "equipment": (KIND_FINESS_EQUIPMENT, ".csv", False),
    "departments": (KIND_BOUNDARIES, ".geojson", True),
    "communes": (KIND_BOUNDARIES, ".geojson", False),
    "territories": (KIND_TABLE, ".csv", False),
    "categories": (KIND_TABLE, ".csv", False),
    "families": (KIND_TABLE, ".csv", False),
    "category_families": (KIND_TABLE, ".csv", False),
    "disciplines": (KIND_TABLE, ".csv", False),
    "activities": (KIND_TABLE, ".csv", False),
    # FINESS+ JSON flows (issue 11); ``establishments`` is then optional
    "finess_plus_structures": (KIND_FINESS_PLUS_STRUCTURES, ".json", False),
    "finess_plus_activites": (KIND_FINESS_PLUS_ACTIVITES, ".json", False),
    # --- issue 16: data·inclusion open-data files (services, structures), validated on import
    "inclusion_services": (KIND_DATA_INCLUSION, ".json", False),
    "inclusion_structures": (KIND_DATA_INCLUSION, ".json", False),
    "inclusion_local": (KIND_DATA_INCLUSION, ".csv", False),
}

_KNOWN_SUFFIXES = (".json.gz", ".csv.gz", ".jsonl.gz", ".csv", ".txt", ".geojson", ".jsonl", ".json", ".gpkg",
                   ".zip", ".gz", ".shp")

#: Default configuration file: ``refresh.toml`` in the project folder.
DEFAULT_CONFIG = settings.PROJECT_DIR / "refresh.toml"

TERRITORIES_PREVIOUS = "previous"
TERRITORIES_ALL = "all"
TERRITORIES_NONE = "none"


class ConfigError(InputFormatError):
    """The refresh configuration file is invalid (exit code 4)."""


@dataclass(frozen=True)
class Source:
    """One input of the refresh: where it comes from and how to check it."""

    #: ``establishments``, ``departments``, ``communes-1``...
    name: str
    #: ``http(s)://`` URL, or an absolute local path.
    location: str
    #: One of the ``KIND_*`` constants.
    kind: str
    #: File name under the raw folder (``establishments.csv``, ``communes-2.geojson``...).
    raw_name: str

    @property
    def is_url(self) -> bool:
        return is_url(self.location)


@dataclass(frozen=True)
class Sources:
    establishments: Source | None
    departments: Source
    equipment: Source | None = None
    communes: tuple[Source, ...] = ()
    territories: Source | None = None
    categories: Source | None = None
    families: Source | None = None
    category_families: Source | None = None
    disciplines: Source | None = None
    activities: Source | None = None
    #: CRS of the boundary files when they do not declare it (``EPSG:2154``...), or None.
    boundaries_crs: str | None = None
    finess_plus_structures: Source | None = None
    finess_plus_activites: Source | None = None
    inclusion_services: Source | None = None  # issue 16
    inclusion_structures: Source | None = None  # issue 16
    inclusion_local: Source | None = None  # issue 16 (default: settings.INCLUSION_LOCAL_TABLE)

    def all(self) -> tuple[Source, ...]:
        """Every configured source, in a stable order."""
        out: list[Source] = [s for s in (self.establishments, self.finess_plus_structures,
                                         self.finess_plus_activites) if s is not None]
        if self.equipment:
            out.append(self.equipment)
        out.append(self.departments)
        out.extend(self.communes)
        for name in ("territories", "categories", "families", "category_families",
                     "disciplines", "activities", "inclusion_services", "inclusion_structures",
                     "inclusion_local"):
            s = getattr(self, name)
            if s is not None:
                out.append(s)
        return tuple(out)


@dataclass(frozen=True)
class DownloadSettings:
    raw_dir: Path
    timeout_s: float = 60.0
    retries: int = 4
    backoff_s: float = 2.0
    backoff_max_s: float = 60.0
    #: FINESS extracts smaller than this are refused (the tables and outlines are checked
    #: by content only).
    min_bytes: int = 1024
    user_agent: str = f"dac-map/{__version__} (refresh)"
    #: Total time (seconds) one source may take, every attempt and wait included.
    deadline_s: float = 1800.0
    #: Slowest accepted transfer (bytes per second), measured over ``rate_window_s`` seconds.
    min_bytes_per_s: float = 2048.0
    #: Window (seconds) of the throughput measure (also the grace period of a new connection).
    rate_window_s: float = 20.0


def _bounded(default: float, lo: float, hi: float | None = None) -> Any:
    """A number field of a configuration table: its default and the bounds (``lo`` to ``hi``,
    included; ``hi`` None: no upper bound) a configured value must respect. The table's reader
    takes both from here (:meth:`_Reader.numbers`); an ``int`` field must be an integer."""
    return field(default=default, metadata={"bounds": (lo, hi)})


@dataclass(frozen=True)
class ValidationSettings:
    """``[validation]``: the checks a new version must pass to replace the served one (shares
    are fractions from 0 to 1; ``0.10`` = 10 %)."""

    #: Largest ``|new - previous| / previous`` of the establishments and equipment lines.
    row_tolerance: float = _bounded(0.10, 0, 1)
    #: The same, per DAC territory...
    territory_row_tolerance: float = _bounded(0.25, 0, 1)
    #: ... for the territories that had at least this many establishments.
    territory_min_rows: int = _bounded(20, 0)
    #: Smallest share of establishments with an address-level position (not a commune centroid).
    min_geolocated_share: float = _bounded(0.90, 0, 1)
    #: Largest share of the served establishments (by FINESS number) absent from the new version.
    max_vanished_share: float = _bounded(0.03, 0, 1)
    #: Largest share of the served address-level positions lost in the new version.
    max_positions_lost_share: float = _bounded(0.02, 0, 1)
    #: Vanished establishments or lost positions accepted whatever their share (count).
    identity_min_count: int = _bounded(5, 0)
    #: Refuse a version with FINESS categories that have no family.
    require_families: bool = True
    #: ``"previous"``, ``"all"``, ``"none"`` or a tuple of territory ids.
    territories_required: str | tuple[str, ...] = TERRITORIES_PREVIOUS


@dataclass(frozen=True)
class StoreSettings:
    current: Path
    versions_dir: Path
    keep: int = 5
    log_file: Path = field(default=Path("refresh.log.jsonl"))
    lock_file: Path = field(default=Path("dac_map.gpkg.lock"))


@dataclass(frozen=True)
class ReportSettings:
    """``[report]``: what the change report lists."""

    #: A move shorter than this (metres) is not reported.
    moved_threshold_m: float = _bounded(100.0, 0)


@dataclass(frozen=True)
class RefreshConfig:
    """A parsed refresh configuration."""

    path: Path
    sources: Sources
    download: DownloadSettings
    validation: ValidationSettings
    store: StoreSettings
    report: ReportSettings
    #: road networks (issue 12): territory id -> local ``.osm.pbf`` extract, rebuilt when it changes
    networks: dict[str, Path] = field(default_factory=dict)


def is_url(location: str) -> bool:
    """True for ``http://`` and ``https://`` locations."""
    return urlsplit(location).scheme.lower() in ("http", "https")


# --------------------------------------------------------------------------- reading

class _Reader:
    """Typed access to one TOML table, with errors naming the file and the key."""

    def __init__(self, path: Path, section: str, table: Any) -> None:
        self.file = path
        self.section = section
        if not isinstance(table, dict):
            self.fail(None, "must be a table")
        self.table: dict[str, Any] = table
        self.used: set[str] = set()

    def key(self, key: str | None) -> str:
        return f"[{self.section}] {key}" if key else f"[{self.section}]"

    def fail(self, key: str | None, message: str) -> None:
        raise ConfigError(message, path=str(self.file), field=self.key(key))

    def get(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return self.table.get(key, default)

    def number(self, key: str, default: float, lo: float | None = None, hi: float | None = None,
               integer: bool = False) -> float:
        value = self.get(key, default)
        ok_types = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            self.fail(key, f"must be {'an integer' if integer else 'a number'}, got {value!r}")
        if lo is not None and value < lo or hi is not None and value > hi:
            bounds = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            self.fail(key, f"must be {bounds}, got {value!r}")
        return value

    def numbers(self, cls: type) -> dict[str, float]:
        """The values of the number fields of dataclass ``cls`` declared with :func:`_bounded`,
        by field name (default and bounds from the declaration, ``int`` fields as integers)."""
        values: dict[str, float] = {}
        for f in fields(cls):
            if "bounds" in f.metadata:
                lo, hi = f.metadata["bounds"]
                integer = f.type in ("int", int)
                value = self.number(f.name, f.default, lo, hi, integer=integer)
                values[f.name] = int(value) if integer else float(value)
        return values

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {value!r}")
        return value

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            self.fail(key, f"must be a non-empty string, got {value!r}")
        return value.strip() if isinstance(value, str) else value

    def path(self, key: str, default: Path) -> Path:
        value = self.string(key)
        return default if value is None else resolve(value, self.file)

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            self.fail(unknown[0], f"unknown key (known keys: {', '.join(sorted(self.used))})")


def resolve(value: str, config_path: Path) -> Path:
    """A path from the configuration: ``~`` expanded, relative to the config file's folder."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else (config_path.parent / p).resolve()


def _suffix(location: str, default: str) -> str:
    path = urlsplit(location).path if is_url(location) else location
    lower = path.lower()
    for suffix in _KNOWN_SUFFIXES:
        if lower.endswith(suffix):
            return suffix
    return default


def _source(reader: _Reader, key: str, value: Any, name: str) -> Source:
    kind, default_suffix, _ = SOURCE_KINDS[key]
    if not isinstance(value, str) or not value.strip():
        reader.fail(key, f"must be a URL or a path (a non-empty string), got {value!r}")
    value = value.strip()
    scheme = urlsplit(value).scheme.lower()
    if scheme and len(scheme) > 1 and scheme not in ("http", "https"):
        reader.fail(key, f"unsupported URL scheme {scheme!r}: use http(s):// or a local path")
    location = value if is_url(value) else str(resolve(value, reader.file))
    return Source(name, location, kind, name + _suffix(value, default_suffix))


def load_config(path: str | Path) -> RefreshConfig:
    """Read and check a refresh configuration file."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise InputMissingError(
            "refresh configuration not found: copy refresh.example.toml to refresh.toml and "
            "edit it, or pass --config data/refresh-demo.toml for the offline demo",
            path=str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError("the configuration must be UTF-8 text", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from exc
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path) -> RefreshConfig:
    """Build a :class:`RefreshConfig` from parsed TOML ``data`` read from ``path``."""
    known = ("sources", "download", "validation", "store", "report", "network")
    for section in data:
        if section not in known:
            raise ConfigError(f"unknown section (known: {', '.join(known)})", path=str(path),
                              field=f"[{section}]")
    if "sources" not in data:
        raise ConfigError("missing section: list the sources to fetch", path=str(path),
                          field="[sources]")

    # [store] first: the other defaults live beside the current store.
    st = _Reader(path, "store", data.get("store", {}))
    current = st.path("current", settings.STORE_PATH)
    versions_dir = st.path("versions_dir", current.parent / "versions")
    keep = int(st.number("keep", 5, lo=1, integer=True))
    log_file = st.path("log_file", current.parent / "refresh.log.jsonl")
    lock_file = st.path("lock_file", current.with_name(current.name + ".lock"))
    st.finish()
    if versions_dir.resolve() == current.parent.resolve():
        st.fail("versions_dir", "must not be the folder of the current store")
    store = StoreSettings(current, versions_dir, keep, log_file, lock_file)

    src = _Reader(path, "sources", data["sources"])
    values: dict[str, Any] = {}
    for key, (_, _, required) in SOURCE_KINDS.items():
        value = src.get(key)
        if value is None:
            finess_plus = src.get("finess_plus_structures") or src.get("finess_plus_activites")
            if required and not (key == "establishments" and finess_plus):
                src.fail(key, "missing: this source is required"
                         + (" (or give the FINESS+ flows)" if key == "establishments" else ""))
            continue
        if key == "communes":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list):
                src.fail(key, "must be a URL/path or a list of them")
            values[key] = tuple(_source(src, key, v, f"communes-{i}")
                                for i, v in enumerate(items, start=1))
        else:
            values[key] = _source(src, key, value, key)
    values["boundaries_crs"] = src.string("boundaries_crs")
    src.finish()
    values.setdefault("establishments", None)
    sources = Sources(**values)

    dl = _Reader(path, "download", data.get("download", {}))
    download = DownloadSettings(
        raw_dir=dl.path("raw_dir", current.parent / "raw"),
        timeout_s=float(dl.number("timeout_s", 60.0, lo=0.001)),
        retries=int(dl.number("retries", 4, lo=0, integer=True)),
        backoff_s=float(dl.number("backoff_s", 2.0, lo=0)),
        backoff_max_s=float(dl.number("backoff_max_s", 60.0, lo=0)),
        min_bytes=int(dl.number("min_bytes", 1024, lo=0, integer=True)),
        user_agent=dl.string("user_agent", DownloadSettings.user_agent) or "",
        deadline_s=float(dl.number("deadline_s", settings.DOWNLOAD_DEADLINE_S, lo=0.001)),
        min_bytes_per_s=float(dl.number("min_bytes_per_s", settings.DOWNLOAD_MIN_BYTES_PER_S, lo=0)),
        rate_window_s=float(dl.number("rate_window_s", settings.DOWNLOAD_RATE_WINDOW_S, lo=0.001)),
    )
    dl.finish()

    va = _Reader(path, "validation", data.get("validation", {}))
    required = va.get("territories_required", TERRITORIES_PREVIOUS)
    if isinstance(required, str):
        if required not in (TERRITORIES_PREVIOUS, TERRITORIES_ALL, TERRITORIES_NONE):
            va.fail("territories_required",
                    f'must be "previous", "all", "none" or a list of territory ids, got {required!r}')
    elif isinstance(required, list) and required and all(
            isinstance(r, str) and re.fullmatch(r"\S+", r) for r in required):
        required = tuple(required)
    else:
        va.fail("territories_required",
                f'must be "previous", "all", "none" or a non-empty list of territory ids, got {required!r}')
    validation = ValidationSettings(
        **va.numbers(ValidationSettings),
        require_families=va.boolean("require_families", ValidationSettings.require_families),
        territories_required=required,
    )
    va.finish()

    rp = _Reader(path, "report", data.get("report", {}))
    report = ReportSettings(**rp.numbers(ReportSettings))
    rp.finish()
    # [network] (issue 12): DAC-46 = "extraits/midi-pyrenees.osm.pbf" (local files)
    nw = _Reader(path, "network", data.get("network", {}))
    networks: dict[str, Path] = {}
    for key in list(nw.table):
        value = nw.get(key)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", key) or ".." in key:
            nw.fail(key, "must be a territory id such as DAC-46")
        if not isinstance(value, str) or not value.strip() or is_url(value):
            nw.fail(key, "must be the local path of an OpenStreetMap extract (.osm.pbf)")
        networks[key] = resolve(value, path)
    nw.finish()
    return RefreshConfig(path, sources, download, validation, store, report, networks)
