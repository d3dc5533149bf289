"""The GeoPackage store: layer names, atomic writing and reading, through GDAL/pyogrio.

Writing always goes to a temporary file beside the target, which replaces the target with
``os.replace`` only once every layer is written and the file reopens; a failure at any point
leaves the previous store untouched.

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
==========================  ===========  ===================================================
"""

from __future__ import annotations

import glob
import json
import os
import re
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from dac_map import settings
from dac_map.errors import StoreError

ESTABLISHMENTS = "etablissements"
EQUIPMENT = "equipements"
DEPARTMENTS = "departements"
COMMUNES = "communes"
TERRITORIES = "territoires"
FAMILIES = "familles"
CATEGORIES = "categories"
DISCIPLINES = "disciplines"
ACTIVITIES = "activites_soins"
METADATA = "metadata"


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def write_store(layers: Mapping[str, pd.DataFrame], target: str | Path,
                metadata: Mapping[str, object]) -> Path:
    """Write ``layers`` and ``metadata`` to a new GeoPackage and atomically replace ``target``.

    ``layers`` maps layer names to GeoDataFrames (spatial) or DataFrames (attribute tables).
    List-valued columns are stored as JSON text. Raises :class:`StoreError` (and removes the
    temporary file) if anything fails; the existing ``target`` is then left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.gpkg")
    try:
        for name, frame in layers.items():
            _write_layer(frame, tmp, name)
        meta = pd.DataFrame({"key": list(metadata),
                             "value": [v if isinstance(v, str) else json.dumps(v, default=str)
                                       for v in metadata.values()]})
        _write_layer(meta, tmp, METADATA)
        found = {name for name, _ in pyogrio.list_layers(tmp)}
        missing = set(layers) - found
        if missing:
            raise StoreError(f"layers not found after writing: {sorted(missing)}", path=str(tmp))
        os.replace(tmp, target)
    except StoreError:
        _remove(tmp)
        raise
    except Exception as exc:
        _remove(tmp)
        raise StoreError(f"cannot write the GeoPackage: {exc}", path=str(target)) from exc
    for side in _sidecars(target):
        _remove(side)
    return target


def _remove(path: Path) -> None:
    for p in (path, *_sidecars(path)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


#: Name of a temporary store written by :func:`write_store`: ``.<target>.<pid>-<hex8>.tmp.gpkg``
#: (older versions wrote no pid), and its SQLite sidecars.
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


def clean_leftovers(target: str | Path) -> list[Path]:
    """Remove the temporary stores (and their ``-journal``/``-wal``/``-shm`` files) that a
    crashed write of ``target`` left beside it; return what was removed.

    Only files named like our own temporaries of this very target are considered, and only
    when nothing can be writing them any more: the process id in the name is gone (or a zombie),
    or the file is older than :data:`~dac_map.settings.STALE_TEMP_SECONDS` (process ids are
    reused; names without a process id are judged by age alone). A write in progress in this
    process is never touched.
    """
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


def _write_layer(frame: pd.DataFrame, path: Path, layer: str) -> None:
    frame = _as_dates(frame.copy(deep=False))
    for col in frame.columns:
        if col != "geometry" and frame[col].dtype == object and len(frame) and isinstance(
                frame[col].dropna().iloc[0] if frame[col].notna().any() else None, (list, tuple)):
            frame[col] = frame[col].map(lambda v: json.dumps(list(v)) if v is not None else None)
    kwargs = {}
    if isinstance(frame, gpd.GeoDataFrame):
        kwargs["geometry_type"] = _geometry_type(frame)
        if kwargs["geometry_type"] == "MultiPolygon":
            geoms = frame.geometry.to_numpy()
            single = shapely.get_type_id(geoms) == 3  # Polygon
            geoms[single] = [
                shapely.MultiPolygon([g]) for g in geoms[single]]
            frame = frame.set_geometry(geoms, crs=frame.crs)
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG", use_arrow=True, **kwargs)


def _geometry_type(frame: gpd.GeoDataFrame) -> str:
    types = set(frame.geometry.dropna().geom_type.unique())
    if types <= {"Point"}:
        return "Point"
    if types <= {"Polygon", "MultiPolygon"}:
        return "MultiPolygon" if "MultiPolygon" in types else "Polygon"
    return "Unknown"


def read_layer(path: str | Path, layer: str, **kwargs) -> pd.DataFrame:
    """Read one layer of the store (Arrow I/O). Raises :class:`StoreError` if absent."""
    path = Path(path)
    if not path.exists():
        raise StoreError("the GeoPackage does not exist: run `dac-map etl` first", path=str(path))
    try:
        kwargs.setdefault("arrow_to_pandas_kwargs", {"date_as_object": False})
        return pyogrio.read_dataframe(path, layer=layer, use_arrow=True, **kwargs)
    except Exception as exc:
        raise StoreError(f"cannot read layer '{layer}': {exc}", path=str(path)) from exc


def read_metadata(path: str | Path) -> dict[str, object]:
    """The ``metadata`` table as a dict (JSON values decoded)."""
    meta = read_layer(path, METADATA)
    out: dict[str, object] = {}
    for key, value in zip(meta["key"], meta["value"]):
        try:
            out[key] = json.loads(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


def list_store_layers(path: str | Path) -> list[str]:
    """Names of the layers present in a store."""
    return [name for name, _ in pyogrio.list_layers(Path(path))]
