"""Catalogue versions in PostGIS: publish, switch, rollback, prune, read.

Each published version is one PostgreSQL schema (``cat_<version>``) holding one table per store
layer (the same layers as the GeoPackage, :mod:`dac_map.store`; geometries
``geometry(Geometry, 4326)``, WGS84 degrees, with a GiST index), plus a row in
``dac_map.catalogue_versions`` (row counts, column dtypes, metadata). The version every app
process serves is the single row of ``dac_map.served_version``.

Atomicity: :func:`publish` creates the schema, loads every table (COPY), registers the version
and — when asked — switches the served version, all in ONE transaction. Until it commits no
other session can see any of it; a failure rolls everything back and the served version is
untouched. :func:`switch` and :func:`rollback` are one UPDATE each. Readers
(:func:`read_served`) read the served row and every table in one REPEATABLE READ transaction,
so they see exactly one whole version; the table locks they hold make a concurrent prune
(``DROP SCHEMA``) wait for them.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from dac_map.errors import StoreError
from dac_map.server import config, db

SRID = 4326
GEOMETRY = "geometry"


@dataclass(frozen=True)
class VersionInfo:
    """One published version (``served``: the one the app processes serve now)."""

    version: str
    schema_name: str
    published_at: datetime
    published_by: str
    source: str | None
    layers: dict[str, int]
    served: bool


@dataclass(frozen=True)
class ServedCatalogue:
    """A whole served version as read by :func:`read_served`: ``layers`` maps layer names to
    (Geo)DataFrames (geometries EPSG:4326), ``metadata`` is the version's metadata."""

    version: str
    serial: int
    layers: dict[str, pd.DataFrame]
    metadata: dict[str, object]


# --------------------------------------------------------------------------- writing

def _pg_type(series: pd.Series) -> tuple[str, str]:
    """(PostgreSQL type, pandas dtype to restore) of a column."""
    dtype = series.dtype
    if isinstance(dtype, gpd.array.GeometryDtype):
        return f"geometry(Geometry, {SRID})", "geometry"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean", str(dtype)
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint", str(dtype)
    if pd.api.types.is_float_dtype(dtype):
        return "double precision", str(dtype)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp", str(dtype)
    return "text", str(dtype)


def _json_if_list(value: object) -> object:
    if isinstance(value, (list, tuple, np.ndarray)):
        return json.dumps([v.item() if hasattr(v, "item") else v for v in value])
    return value


def _column_values(series: pd.Series, kind: str) -> list:
    if kind.startswith("geometry"):
        geoms = shapely.set_srid(np.asarray(series.array, dtype=object), SRID)
        return list(shapely.to_wkb(geoms, hex=True, include_srid=True))
    if kind == "double precision":
        return [None if v != v else v for v in series.astype("float64").tolist()]
    if kind == "timestamp":
        return [None if pd.isna(v) else v.to_pydatetime().replace(tzinfo=None)
                for v in pd.to_datetime(series)]
    if kind in ("bigint", "boolean"):
        return [None if pd.isna(v) else v for v in series.astype(object).tolist()]
    return [None if v is None or (isinstance(v, float) and v != v) else
            (_json_if_list(v) if not isinstance(v, str) else v) for v in series.tolist()]


def _write_table(con: psycopg.Connection, schema: str, layer: str, frame: pd.DataFrame) -> dict:
    cols = list(frame.columns)
    types = {c: _pg_type(frame[c]) for c in cols}
    ident = sql.Identifier(schema, layer)
    con.execute(sql.SQL("CREATE TABLE {} ({})").format(ident, sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c][0])) for c in cols)))
    values = [_column_values(frame[c], types[c][0]) for c in cols]
    with con.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
            ident, sql.SQL(", ").join(map(sql.Identifier, cols)))) as copy:
        for row in zip(*values):
            copy.write_row(row)
    geoms = [c for c in cols if types[c][1] == "geometry"]
    for c in geoms:
        con.execute(sql.SQL("CREATE INDEX ON {} USING gist ({})").format(ident, sql.Identifier(c)))
    # a list of pairs: jsonb does not keep the order of object keys
    return {"rows": len(frame), "columns": [[c, types[c][1]] for c in cols]}


def _new_version() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S") + "_" + uuid.uuid4().hex[:6]


def publish(layers: Mapping[str, pd.DataFrame], metadata: Mapping[str, object], *,
            actor: str, source: str | None = None, switch_to: bool = True,
            version: str | None = None, url: str | None = None,
            keep: int | None = None) -> str:
    """Publish one validated catalogue version; returns its version id.

    Args:
        layers: layer name -> (Geo)DataFrame, geometries in EPSG:4326 (WGS84 degrees), as
            written to the GeoPackage (:meth:`dac_map.store.Store.write`).
        metadata: the version's metadata (JSON-serialisable values).
        actor: who publishes (account or ``cli:<user>``), for the audit log.
        source: where the version comes from (a GeoPackage path, a refresh run).
        switch_to: also make it the served version, in the same transaction.
        version: id to use (default: UTC timestamp + random suffix); ``[A-Za-z0-9_.-]``.
        keep: versions to keep afterwards (default :func:`config.keep_versions`).

    Raises :class:`StoreError` (nothing is published then).
    """
    version = version or _new_version()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", version):
        raise StoreError(f"invalid version id: {version!r}")
    schema = "cat_" + re.sub(r"[^a-z0-9_]", "_", version.lower())
    written: dict[str, dict] = {}
    with db.connect(url) as con:
        if con.execute("SELECT 1 FROM dac_map.catalogue_versions WHERE version = %s OR "
                       "schema_name = %s", (version, schema)).fetchone():
            raise StoreError(f"version {version} already published")
        con.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for name, frame in layers.items():
            written[name] = _write_table(con, schema, name, frame)
        con.execute(
            "INSERT INTO dac_map.catalogue_versions (version, schema_name, published_by, source, "
            "layers, metadata) VALUES (%s, %s, %s, %s, %s, %s)",
            (version, schema, actor, source, json.dumps(written),
             json.dumps(dict(metadata), default=str)))
        _audit(con, actor, "catalogue.publish", version, {"source": source,
               "rows": {k: v["rows"] for k, v in written.items()}})
        if switch_to:
            _switch(con, version, actor)
    prune(keep=keep, url=url)
    return version


def publish_geopackage(path: str | Path, *, actor: str, switch_to: bool = True,
                       url: str | None = None, keep: int | None = None) -> str:
    """Load every layer of an existing dac-map GeoPackage (through
    :class:`~dac_map.store.GeoPackageStore`) and :func:`publish` it; the version id is the
    GeoPackage's ``refresh_version`` when it has a new one."""
    from dac_map.store import METADATA
    from dac_map.store.geopackage import GeoPackageStore

    src = GeoPackageStore(path)
    if not src.exists():
        raise StoreError("GeoPackage not found", path=str(path))
    layers = {name: src.read_layer(name) for name in src.layers() if name != METADATA}
    meta = src.read_metadata()
    version = meta.get("refresh_version") if isinstance(meta.get("refresh_version"), str) else None
    return publish(layers, meta, actor=actor, source=str(path), switch_to=switch_to, url=url,
                   keep=keep, version=version if version and not _exists(version, url) else None)


def _exists(version: str, url: str | None) -> bool:
    with db.connect(url) as con:
        return con.execute("SELECT 1 FROM dac_map.catalogue_versions WHERE version = %s",
                           (version,)).fetchone() is not None


def _audit(con: psycopg.Connection, actor: str, action: str, target: str | None,
           details: Mapping[str, object]) -> None:
    from dac_map.server import audit

    audit.record(con, actor, action, target, details)


def _switch(con: psycopg.Connection, version: str, actor: str) -> None:
    con.execute("SELECT 1 FROM dac_map.served_version FOR UPDATE")
    if not con.execute("SELECT 1 FROM dac_map.catalogue_versions WHERE version = %s",
                       (version,)).fetchone():
        raise StoreError(f"unknown catalogue version {version}")
    con.execute("UPDATE dac_map.served_version SET previous = version, version = %s, "
                "switched_at = now(), switched_by = %s, serial = serial + 1", (version, actor))
    _audit(con, actor, "catalogue.switch", version, {})


def switch(version: str, *, actor: str, url: str | None = None) -> None:
    """Serve ``version`` from now on (one UPDATE, atomic for every reader)."""
    with db.connect(url) as con:
        _switch(con, version, actor)


def rollback(*, actor: str, to: str | None = None, url: str | None = None) -> str:
    """Serve ``to`` or, by default, the newest version published before the served one;
    returns the version now served. Raises :class:`StoreError` when there is none."""
    with db.connect(url) as con:
        con.execute("SELECT 1 FROM dac_map.served_version FOR UPDATE")
        if to is None:
            row = con.execute(
                "SELECT v.version FROM dac_map.catalogue_versions v, dac_map.served_version s, "
                "dac_map.catalogue_versions c WHERE c.version = s.version AND "
                "(v.published_at, v.version) < (c.published_at, c.version) "
                "ORDER BY v.published_at DESC, v.version DESC LIMIT 1").fetchone()
            if row is None:
                raise StoreError("no earlier catalogue version to roll back to / "
                                 "aucune version antérieure")
            to = row[0]
        _switch(con, to, actor)
        _audit(con, actor, "catalogue.rollback", to, {})
    return to


def prune(*, keep: int | None = None, url: str | None = None) -> list[str]:
    """Drop the oldest versions beyond ``keep`` (never the served one nor the previous one);
    returns the versions dropped. Each drop waits for the readers of that version."""
    keep = max(2, keep if keep is not None else config.keep_versions())
    with db.connect(url) as con:
        served, previous = con.execute(
            "SELECT version, previous FROM dac_map.served_version").fetchone()
        rows = con.execute("SELECT version, schema_name FROM dac_map.catalogue_versions "
                           "ORDER BY published_at DESC, version DESC").fetchall()
    protected = {served, previous}
    dropped = []
    for version, schema in rows[keep:]:
        if version in protected:
            continue
        with db.connect(url) as con:
            con.execute("SET lock_timeout = '60s'")
            con.execute("DELETE FROM dac_map.catalogue_versions WHERE version = %s AND version "
                        "NOT IN (SELECT coalesce(version, '') FROM dac_map.served_version "
                        "UNION SELECT coalesce(previous, '') FROM dac_map.served_version)",
                        (version,))
            con.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        dropped.append(version)
    return dropped


# --------------------------------------------------------------------------- reading

def served_stamp(url: str | None = None) -> tuple[str | None, int]:
    """(served version, switch serial): the cheap check an app process makes on each rerun."""
    with db.connect(url) as con:
        row = con.execute("SELECT version, serial FROM dac_map.served_version").fetchone()
    return (row[0], int(row[1])) if row else (None, 0)


_STAMP_LOCK = threading.Lock()
_STAMP_CONNECTIONS: dict[str, psycopg.Connection] = {}


def served_stamp_cached(url: str) -> tuple[str | None, int]:
    """:func:`served_stamp` over one connection kept per process (the check every rerun of
    every session makes: no connection set-up each time)."""
    row = _kept_query(url, "SELECT version, serial FROM dac_map.served_version")
    return (row[0], int(row[1])) if row else (None, 0)


def catalogue_stamp_cached(url: str) -> tuple[int, int]:
    """(switch serial, newest territory-table change): what an app process's cached catalogue
    is keyed on, so that it reloads when any process switches the version OR a steward edits
    the territories (which the catalogue load overlays); one query on the kept connection."""
    row = _kept_query(url, "SELECT serial, (SELECT coalesce(max(seq), 0) FROM "
                           "dac_map.territory_history) FROM dac_map.served_version")
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _kept_query(url: str, query: str) -> tuple | None:
    """One row of ``query`` over the connection kept for ``url`` in this process; reconnects
    once on failure."""
    with _STAMP_LOCK:
        for attempt in (1, 2):
            con = _STAMP_CONNECTIONS.get(url)
            try:
                if con is None or con.closed:
                    con = _STAMP_CONNECTIONS[url] = psycopg.connect(
                        url, autocommit=True, connect_timeout=max(1, int(config.db_timeout())))
                return con.execute(query).fetchone()
            except psycopg.Error as exc:
                _STAMP_CONNECTIONS.pop(url, None)
                if con is not None:
                    con.close()
                if attempt == 2:
                    raise StoreError(f"PostgreSQL error: {exc}", path=db.redact(url)) from exc
    raise AssertionError("unreachable")


def list_versions(url: str | None = None) -> list[VersionInfo]:
    """Every published version, newest first."""
    with db.connect(url) as con:
        served = con.execute("SELECT version FROM dac_map.served_version").fetchone()[0]
        rows = con.execute("SELECT version, schema_name, published_at, published_by, source, "
                           "layers FROM dac_map.catalogue_versions "
                           "ORDER BY published_at DESC, version DESC").fetchall()
    return [VersionInfo(v, s, at, by, src, {k: int(x["rows"]) for k, x in lay.items()},
                        v == served) for v, s, at, by, src, lay in rows]


def _restore(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    for col, dtype in columns.items():
        if dtype == "geometry" or col not in frame:
            continue
        try:
            if dtype.startswith("datetime64"):
                frame[col] = pd.to_datetime(frame[col]).astype(dtype)
            elif dtype != "object":
                frame[col] = frame[col].astype(dtype)
        except (TypeError, ValueError):
            pass  # e.g. NULLs in an int64 column: keep what PostgreSQL gave
    return frame


def _read_table(con: psycopg.Connection, schema: str, layer: str, spec: Mapping,
                columns: Sequence[str] | None = None) -> pd.DataFrame:
    dtypes = dict(map(tuple, spec["columns"]))
    wanted = [c for c in dtypes if columns is None or c in columns or dtypes[c] == "geometry"]
    exprs = [sql.SQL("ST_AsBinary({})").format(sql.Identifier(c))
             if dtypes[c] == "geometry" else sql.Identifier(c) for c in wanted]
    cur = con.execute(sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(exprs), sql.Identifier(schema, layer)))
    rows = cur.fetchall()
    data = {c: [r[i] for r in rows] for i, c in enumerate(wanted)}
    geom_cols = [c for c in wanted if dtypes[c] == "geometry"]
    for c in geom_cols:
        data[c] = shapely.from_wkb(np.array(data[c], dtype=object))
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) if c not in geom_cols else v
                          for c, v in data.items()}, columns=wanted)
    frame = _restore(frame, {c: dtypes[c] for c in wanted})
    if geom_cols:
        return gpd.GeoDataFrame(frame, geometry=geom_cols[0], crs=f"EPSG:{SRID}")
    return frame


def read_served(url: str | None = None, layers: Sequence[str] | None = None,
                attempts: int = 3) -> ServedCatalogue:
    """Read the served version (every layer, or ``layers``) in one consistent snapshot.

    Raises :class:`StoreError` when no version is served.
    """
    url = db.require_url(url)
    for attempt in range(attempts):
        try:
            with psycopg.connect(url, options="-c timezone=UTC") as con:
                con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                row = con.execute(
                    "SELECT s.version, s.serial, c.schema_name, c.layers, c.metadata "
                    "FROM dac_map.served_version s JOIN dac_map.catalogue_versions c "
                    "USING (version)").fetchone()
                if row is None:
                    raise StoreError("no catalogue version is served: run `dac-map db publish "
                                     "GPKG` / aucune version publiée", path=db.redact(url))
                version, serial, schema, spec, meta = row
                frames = {name: _read_table(con, schema, name, spec[name])
                          for name in spec if layers is None or name in layers}
                con.rollback()
            return ServedCatalogue(version, int(serial), frames, dict(meta))
        except psycopg.errors.UndefinedTable:
            if attempt == attempts - 1:
                raise StoreError("the served version changed during reading, retry",
                                 path=db.redact(url)) from None
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL error: {exc}", path=db.redact(url)) from exc
    raise AssertionError("unreachable")
