"""The GeoPackage store (GDAL through pyogrio, Arrow I/O): the default, embedded store.

Writing always goes to a temporary file beside the target, which replaces the target with
``os.replace`` only once every layer is written and the file reopens; a failure at any point
leaves the previous store untouched. The swap (:meth:`GeoPackageStore.replace_with`) copies the
new version beside the target, syncs it, and renames it over the target. SQLite sidecar files
(``-wal``, ``-shm``, ``-journal``) are removed with the file they belong to.

Layers (geometries in EPSG:4326, WGS84 degrees):

==========================  ===========  ===================================================
``etablissements``          Point        one row per FINESS establishment
``equipements``             (table)      one row per equipment line (discipline, capacities)
``departements``            Polygon      department outlines
``communes``                Polygon      commune outlines (when given)
``territoires``             Polygon      DAC territories (unions of departments/communes)
``familles``                (table)      user-facing families
``categories``              (table)      category nomenclature with aggregates and family
``disciplines``             (table)      equipment disciplines
``activites_soins``         (table)      care activities nomenclature
``metadata``                (table)      key/value: sources, dates, counts, ETL version
``changements``             (table)      changes since the previous version (refresh only)
==========================  ===========  ===================================================

Polygon layers mixing polygons and multipolygons are written as MultiPolygon by pyogrio's own
``promote_to_multi`` (its default for GeoPackage).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

from dac_map.errors import StoreError
from dac_map.files import unlink_quietly
from dac_map.store.base import METADATA, Store, metadata_frame, with_key

#: What GDAL/pyogrio raise for a bad file, layer, field or geometry, and the OS for I/O (also
#: caught by the readers of input files: boundaries in the ETL, downloaded sources).
GDAL_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, OSError)
#: Values of one ``key IN (...)`` query of :meth:`GeoPackageStore.read_rows` (its SQL text stays
#: well under SQLite's statement length limit).
ROWS_PER_QUERY = 10000

_SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")


def sidecars(path: Path) -> list[Path]:
    """SQLite companion files of a GeoPackage."""
    return [path.with_name(path.name + suffix) for suffix in _SIDECAR_SUFFIXES]


def remove_files(*paths: Path) -> None:
    """Delete files and the SQLite sidecars of each; missing ones are ignored."""
    for path in paths:
        unlink_quietly(path, *sidecars(path))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_lists(frame: pd.DataFrame) -> pd.DataFrame:
    """List/tuple-valued columns as JSON text (a GeoPackage has no list type)."""
    frame = frame.copy(deep=False)
    for col in frame.columns:
        if col == "geometry" or frame[col].dtype != object or not len(frame):
            continue
        values = frame[col].dropna()
        if len(values) and isinstance(values.iloc[0], (list, tuple)):
            frame[col] = frame[col].map(lambda v: json.dumps(list(v)) if v is not None else None)
    return frame


def _parse_iso_datetimes(series: pd.Series) -> pd.Series:
    """``YYYY-MM-DDTHH:MM:SS`` strings -> ``datetime64[ms]`` with Arrow (pandas' ISO 8601
    parser as a fallback for any other shape)."""
    try:
        arr = series.array.__arrow_array__() if hasattr(series.array, "__arrow_array__") \
            else pa.array(series.to_numpy(dtype=object), type=pa.string())
        fmt = "%Y-%m-%d" if len(arr) and pc.max(pc.utf8_length(arr)).as_py() == 10 \
            else "%Y-%m-%dT%H:%M:%S"  # DATE columns come as YYYY-MM-DD
        parsed = pc.strptime(arr, format=fmt, unit="ms")
        values = parsed.to_numpy(zero_copy_only=False).astype("datetime64[ms]")
        return pd.Series(values, index=series.index, name=series.name)
    except (pa.ArrowException, TypeError, ValueError):
        return pd.to_datetime(series, format="ISO8601", errors="coerce")


#: Name of a temporary store written by :meth:`GeoPackageStore.write`:
#: ``.<target>.<pid>-<hex8>.tmp.gpkg`` (older versions wrote no pid), and its SQLite sidecars.
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.(?:(?P<pid>[0-9]+)-)?[0-9a-f]{8}\.tmp\.gpkg"
                        r"(?:-journal|-wal|-shm)?")


def _pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def clean_leftovers(target: str | os.PathLike) -> list[Path]:
    """Remove the temporary stores (and their ``-journal``/``-wal``/``-shm`` files) that a
    crashed write of ``target`` left beside it; return what was removed.

    Only files named like our own temporaries of this very target are considered, and only
    when nothing can be writing them any more: the process id in the name is gone (or a zombie),
    or the file is older than :data:`~dac_map.settings.STALE_TEMP_SECONDS` (process ids are
    reused; names without a process id are judged by age alone). A write in progress in this
    process is never touched.
    """
    from dac_map import settings

    target = Path(target)
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    now = time.time()
    for p in target.parent.glob(f".{glob.escape(target.name)}.*.tmp.gpkg*"):
        m = _TEMP_NAME.fullmatch(p.name)
        if m is None or m["target"] != target.name or not p.is_file():
            continue
        pid = int(m["pid"]) if m["pid"] else None
        if pid == os.getpid():
            continue
        try:
            age = now - p.stat().st_mtime
        except FileNotFoundError:
            continue
        if age <= settings.STALE_TEMP_SECONDS and (pid is None or _pid_alive(pid)):
            continue
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def _as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns holding only dates (every value at midnight, no time zone) as Arrow
    ``date32``, so that the GeoPackage gets ``DATE`` columns with ``YYYY-MM-DD`` values (a
    datetime in a ``DATE`` column is non-conformant); other datetimes stay ``DATETIME``."""
    for col in frame.columns:
        values = frame[col]
        if col == "geometry" or not pd.api.types.is_datetime64_dtype(values.dtype):
            continue
        present = values.dropna()
        if len(present) and not (present == present.dt.normalize()).all():
            continue
        frame[col] = pd.Series(pa.array(values, from_pandas=True).cast(pa.date32()),
                               index=frame.index, dtype=pd.ArrowDtype(pa.date32()))
    return frame


#: SQLite settings for writing a temporary GeoPackage: no rollback journal and no fsync per
#: transaction (a failed write is thrown away whole; the finished file is fsynced once before
#: it replaces the target), a larger page cache (MiB).
_TEMP_WRITE_OPTIONS = {"OGR_SQLITE_JOURNAL": "OFF", "OGR_SQLITE_SYNCHRONOUS": "OFF",
                       "OGR_SQLITE_CACHE": "256"}


@contextmanager
def _gdal_options(options: Mapping[str, str]) -> Iterator[None]:
    saved = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(dict(options))
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(saved)


@contextmanager
def _beside(target: Path, suffix: str, errors: tuple[type[BaseException], ...], what: str
            ) -> Iterator[Path]:
    """A temporary path beside ``target`` for the block to write and rename over it. On any
    failure the temporary file (and its sidecars) is removed; ``errors`` become a
    :class:`StoreError` starting with ``what``, anything else is re-raised as is."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")
    try:
        yield tmp
    except errors as exc:
        remove_files(tmp)
        raise StoreError(f"{what}: {exc}", path=str(target)) from exc
    except BaseException:
        remove_files(tmp)
        raise


class GeoPackageStore(Store):
    """A store in one GeoPackage file (see the module doc)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    # ------------------------------------------------------------------ probes

    def exists(self) -> bool:
        return self.path.is_file()

    def token(self) -> tuple:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return (self.location, None, None)
        return (self.location, st.st_mtime_ns, st.st_size)

    def _require(self) -> None:
        if not self.path.exists():
            raise StoreError("the GeoPackage does not exist: run `dac-map etl` first / "
                             "le GeoPackage n'existe pas : lancer `dac-map etl`", path=self.location)

    def layers(self) -> list[str]:
        if not self.path.exists():
            return []
        try:
            return [str(name) for name, _ in pyogrio.list_layers(self.path)]
        except GDAL_ERRORS as exc:
            raise StoreError(f"cannot list the layers: {exc}", path=self.location) from exc

    def fields(self, layer: str) -> dict[str, str]:
        self._require()
        try:
            info = pyogrio.read_info(self.path, layer=layer)
        except GDAL_ERRORS as exc:
            raise StoreError(f"cannot read layer '{layer}': {exc}", path=self.location) from exc
        return {str(f): str(d) for f, d in zip(info["fields"], info["dtypes"])}

    # ------------------------------------------------------------------ reading

    def read_layer(self, layer: str, *, columns: Sequence[str] | None = None,
                   read_geometry: bool = True) -> pd.DataFrame:
        return self._read(layer, columns, read_geometry)

    def read_rows(self, layer: str, key: str, values: Sequence[str], *,
                  columns: Sequence[str] | None = None) -> pd.DataFrame:
        """SQLite selects the rows (``key IN (...)``, :data:`ROWS_PER_QUERY` values a query):
        the other rows are never decoded."""
        if key not in self.fields(layer):
            raise StoreError(f"cannot read layer '{layer}': no column '{key}'", path=self.location)
        wanted = with_key(key, columns)
        values = list(dict.fromkeys(str(v) for v in values))
        column = '"' + key.replace('"', '""') + '"'
        parts = []
        for start in range(0, max(len(values), 1), ROWS_PER_QUERY):
            chunk = values[start:start + ROWS_PER_QUERY]
            literals = ",".join("'" + v.replace("'", "''") + "'" for v in chunk)
            parts.append(self._read(layer, wanted, False, where=f"{column} IN ({literals})" if chunk else "0",
                                    fid_as_index=True))
        # each query returns its rows in the layer's order; several queries are merged back
        # into that order by feature id
        frame = parts[0] if len(parts) == 1 else pd.concat(parts).sort_index(kind="stable")
        return frame.reset_index(drop=True)

    def _read(self, layer: str, columns: Sequence[str] | None, read_geometry: bool,
              where: str | None = None, fid_as_index: bool = False) -> pd.DataFrame:
        fields = self.fields(layer)
        wanted = fields if columns is None else [c for c in columns if c in fields]
        dt_cols = [c for c in wanted if fields[c].startswith("datetime")]
        kwargs: dict[str, object] = {"read_geometry": read_geometry}
        if columns is not None:
            kwargs["columns"] = list(columns)
        if dt_cols:  # parsed below by Arrow: faster than GDAL's, same datetime64[ms] result
            kwargs["datetime_as_string"] = True
        if where is not None:
            kwargs["where"] = where
        if fid_as_index:
            kwargs["fid_as_index"] = True
        try:
            frame = pyogrio.read_dataframe(self.path, layer=layer, use_arrow=True, **kwargs)
        except GDAL_ERRORS as exc:
            raise StoreError(f"cannot read layer '{layer}': {exc}", path=self.location) from exc
        for c in dt_cols:
            if c in frame:
                frame[c] = _parse_iso_datetimes(frame[c])
        return frame

    # ------------------------------------------------------------------ writing

    @staticmethod
    def _write_layer(frame: pd.DataFrame, path: Path, layer: str) -> None:
        # geometry_type and promote_to_multi are left to pyogrio: a single geometry type is
        # kept, mixed Polygon/MultiPolygon is promoted to MultiPolygon (GPKG default).
        pyogrio.write_dataframe(_as_dates(_json_lists(frame)), path, layer=layer, driver="GPKG",
                                use_arrow=True)

    def write(self, layers: Mapping[str, pd.DataFrame], metadata: Mapping[str, object]) -> None:
        clean_leftovers(self.path)
        with _beside(self.path, ".tmp.gpkg", GDAL_ERRORS, "cannot write the GeoPackage") as tmp:
            with _gdal_options(_TEMP_WRITE_OPTIONS):
                for name, frame in layers.items():
                    self._write_layer(frame, tmp, name)
                self._write_layer(metadata_frame(metadata), tmp, METADATA)
            missing = set(layers) - set(GeoPackageStore(tmp).layers())
            if missing:
                raise StoreError(f"layers not found after writing: {sorted(missing)}", path=str(tmp))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        remove_files(*sidecars(self.path))

    def write_table(self, layer: str, frame: pd.DataFrame) -> None:
        self._require()
        try:
            self._write_layer(pd.DataFrame(frame), self.path, layer)
        except GDAL_ERRORS as exc:
            raise StoreError(f"cannot write table '{layer}': {exc}", path=self.location) from exc

    def update_metadata(self, values: Mapping[str, object]) -> None:
        meta = self.read_layer(METADATA, read_geometry=False)
        meta = meta[~meta["key"].isin(list(values))]
        table = pd.concat([meta[["key", "value"]], metadata_frame(values)], ignore_index=True)
        self.write_table(METADATA, table)

    def replace_with(self, source: Store) -> None:
        current = self.path
        if not isinstance(source, GeoPackageStore):  # another kind of store: rewrite it here
            layers = {name: source.read_layer(name) for name in source.layers() if name != METADATA}
            self.write(layers, source.read_metadata())
            return
        with _beside(current, ".swap", (OSError,), "cannot swap in the new version") as tmp:
            shutil.copyfile(source.path, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, current)
        _fsync_dir(current.parent)
        remove_files(*sidecars(current))

    def remove(self) -> None:
        """Delete the file and its sidecars (staging versions, pruned versions)."""
        remove_files(self.path)
