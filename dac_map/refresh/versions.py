"""The versions folder of the refresh: kept versions (``dac_map-<UTC time>.gpkg`` and their
report files), the archive of a served store that is not a kept version, pruning, the hold file
written by a rollback, and the swap that serves a version.

Kept versions are GeoPackage files (:class:`~dac_map.store.geopackage.GeoPackageStore`); the
served store is whatever :func:`dac_map.store.open_store` opens.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from dac_map import store
from dac_map.errors import DacMapError
from dac_map.files import sha256_file, unlink_quietly
from dac_map.refresh.config import RefreshConfig
from dac_map.store.geopackage import GeoPackageStore, remove_files

#: Written by :func:`rollback` in the versions folder: refreshes wait until it is released.
HOLD_FILE = "hold.json"

VERSION_PREFIX = "dac_map-"
#: A version identifier: what :func:`new_version_id` and :func:`archive_current` create. Only
#: such identifiers address a version (``--rollback``, the store's ``refresh_version``).
VERSION_ID = re.compile(rf"{VERSION_PREFIX}\d{{8}}T\d{{6}}Z(?:_\d{{2,}})?(?:-archive\d*)?")
_COMPANIONS = (".rejets.csv", ".changements.md", ".changements.html", ".changements.csv")


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(timezone.utc)


def new_version_id(versions_dir: Path, when: datetime | None = None) -> str:
    """``dac_map-YYYYMMDDTHHMMSSZ``, with ``_01``, ``_02``... when already taken (names sort
    in time order)."""
    base = f"{VERSION_PREFIX}{(when or now()):%Y%m%dT%H%M%SZ}"
    vid, i = base, 0
    while (versions_dir / f"{vid}.gpkg").exists():
        i += 1
        vid = f"{base}_{i:02d}"
    return vid


def list_version_files(versions_dir: Path) -> list[Path]:
    """The kept versions, oldest first."""
    if not versions_dir.is_dir():
        return []
    return sorted(p for p in versions_dir.glob(f"{VERSION_PREFIX}*.gpkg") if p.is_file())


def swap_in(version: Path, current: Path) -> None:
    """Serve ``version`` (a kept GeoPackage version): the store at ``current`` becomes a copy of
    it, atomically (:meth:`~dac_map.store.Store.replace_with`). Raises :class:`StoreError`;
    ``current`` is then untouched."""
    store.open_store(current).replace_with(GeoPackageStore(version))


def prune_versions(versions_dir: Path, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest versions (and their report files); return their names."""
    files = list_version_files(versions_dir)
    removed = []
    for old in files[:max(0, len(files) - max(1, keep))]:
        stem = old.name[:-len(".gpkg")]
        remove_files(old)
        unlink_quietly(*(old.with_name(stem + c) for c in _COMPANIONS))
        removed.append(stem)
    return removed


def _stamp(meta: dict[str, object] | None, path: Path) -> str:
    value = meta.get("etl_time") if meta else None
    try:
        t = datetime.fromisoformat(str(value)).astimezone(timezone.utc)
    except (TypeError, ValueError):
        t = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return f"{t:%Y%m%dT%H%M%SZ}"


def archive_current(current: Path, meta: dict[str, object] | None, versions_dir: Path
                    ) -> Path | None:
    """Copy the current store into the versions folder unless one of the kept versions is the
    same file. Returns the archive's path (``None`` when nothing had to be archived)."""
    if not current.is_file():
        return None
    digest = sha256_file(current)
    vid = meta.get("refresh_version") if meta else None
    if not (isinstance(vid, str) and VERSION_ID.fullmatch(vid)):
        vid = None  # read from the store's metadata: only a valid identifier names a file
    candidates = [versions_dir / f"{vid}.gpkg"] if isinstance(vid, str) else []
    for cand in candidates:
        if cand.is_file() and cand.stat().st_size == current.stat().st_size \
                and sha256_file(cand) == digest:
            return None
    # "-archive" sorts before "." and "_01": an archive comes before the versions of its second.
    name = (f"{vid}-archive" if isinstance(vid, str) and vid.startswith(VERSION_PREFIX)
            else f"{VERSION_PREFIX}{_stamp(meta, current)}-archive")
    target = versions_dir / f"{name}.gpkg"
    if target.exists() and sha256_file(target) == digest:
        return None
    i = 0
    while target.exists():
        i += 1
        target = versions_dir / f"{name}{i}.gpkg"
    GeoPackageStore(target).replace_with(store.open_store(current))
    return target


def list_versions(config: RefreshConfig) -> list[dict[str, object]]:
    """The kept versions, newest first: id, file, size, times, source date, counts, current."""
    current_version = None
    if config.store.current.is_file():
        try:
            current_version = store.open_store(config.store.current).read_metadata().get("refresh_version")
        except DacMapError:
            pass
    out = []
    for path in reversed(list_version_files(config.store.versions_dir)):
        try:
            meta = store.open_store(path).read_metadata()
        except DacMapError:
            meta = {}
        counts = meta.get("counts") if isinstance(meta.get("counts"), dict) else {}
        vid = path.name[:-len(".gpkg")]
        out.append({
            "version": vid, "file": str(path), "bytes": path.stat().st_size,
            "refresh_time": meta.get("refresh_time"), "etl_time": meta.get("etl_time"),
            "source_date": meta.get("source_date"),
            "establishments": counts.get("establishments"),
            "changes_total": meta.get("changes_total"),
            "current": meta.get("refresh_version", vid) == current_version,
        })
    return out


def hold_text(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return f"version {data.get('version')} le {data.get('time')}"
    except (OSError, ValueError, AttributeError):
        return path.name
