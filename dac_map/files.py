"""Small file helpers shared by the ETL, the refresh and the store."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def unlink_quietly(*paths: Path) -> None:
    """Delete files; missing ones are ignored."""
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
