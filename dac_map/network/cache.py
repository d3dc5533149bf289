"""The on-disk cache of a built road network: one ``network.npz`` per territory.

Location: ``<settings.NETWORK_DIR>/<territory>/network.npz`` (under the data folder, never in
the package). The file holds the graph arrays and a JSON ``meta`` record (source file name,
size and SHA-256, speeds, build date, counts, format version). It is written to a temporary
file in the same folder and moved into place with :func:`os.replace`, so a failed or
interrupted build leaves the previous network untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from dac_map import settings
from dac_map.network.errors import NetworkCacheError

#: Version of the cache layout; a cache of another version is rebuilt.
FORMAT_VERSION = 1
FILE_NAME = "network.npz"
_TERRITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def territory_dir(territory: str, base: Path | None = None) -> Path:
    """Folder of ``territory``'s network (a DAC id such as ``DAC-46``; no path separators)."""
    if not _TERRITORY.match(territory or "") or ".." in territory:
        raise NetworkCacheError(f"identifiant de territoire invalide : {territory!r}")
    return Path(base or settings.NETWORK_DIR) / territory


def cache_path(territory: str, base: Path | None = None) -> Path:
    """Path of ``territory``'s cached network (it may not exist yet)."""
    return territory_dir(territory, base) / FILE_NAME


def file_fingerprint(path: Path) -> dict[str, object]:
    """Name, size (bytes) and SHA-256 of a file: what tells a refresh the extract changed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"name": Path(path).name, "size": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def write_arrays(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, object]) -> None:
    """Write ``arrays`` and ``meta`` to ``path`` atomically (temporary file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "format_version": FORMAT_VERSION}
    fd, tmp = tempfile.mkstemp(prefix=".network-", suffix=".npz.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta, ensure_ascii=False)), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Read a cache written by :func:`write_arrays`; :class:`NetworkCacheError` if unusable."""
    if not path.exists():
        raise NetworkCacheError("aucun réseau routier construit (dac-map network build)",
                                path=str(path))
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except Exception as exc:  # zipfile, ValueError, JSON: all mean "unreadable cache"
        raise NetworkCacheError(f"cache du réseau illisible ({exc})", path=str(path)) from exc
    if meta.get("format_version") != FORMAT_VERSION:
        raise NetworkCacheError("cache d'une autre version : reconstruire le réseau",
                                path=str(path))
    return arrays, meta


def read_meta(path: Path) -> dict[str, object] | None:
    """The ``meta`` record of a cache, or None when there is no readable cache."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"]))
    except Exception:
        return None
