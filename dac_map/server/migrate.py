"""Versioned schema migrations: ``migrations/NNNN_name.sql`` files applied in order.

``dac-map db upgrade`` applies every file whose revision ``NNNN`` is above the database's, each
in its own transaction with its row in ``dac_map_schema.migrations``; a PostgreSQL advisory lock
makes concurrent upgrades (two app hosts starting at once) wait rather than collide. A file
that fails leaves the database at the previous revision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dac_map.errors import StoreError
from dac_map.server import db

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x0DAC_3A9  # advisory lock id of the upgrade
_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

_BOOKKEEPING = """
CREATE SCHEMA IF NOT EXISTS dac_map_schema;
CREATE TABLE IF NOT EXISTS dac_map_schema.migrations (
    revision    integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    revision: int
    name: str
    path: Path


def available(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files, by revision. Raises :class:`StoreError` on a badly named file or
    a duplicate revision."""
    out: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.fullmatch(path.name)
        if not m:
            raise StoreError("migration file name must be NNNN_name.sql", path=str(path))
        rev = int(m.group(1))
        if rev in out:
            raise StoreError(f"duplicate migration revision {rev}", path=str(path))
        out[rev] = Migration(rev, m.group(2), path)
    return [out[r] for r in sorted(out)]


def current_revision(url: str | None = None) -> int:
    """The revision of the database (0: never upgraded)."""
    with db.connect(url) as con:
        exists = con.execute("SELECT to_regclass('dac_map_schema.migrations')").fetchone()[0]
        if not exists:
            return 0
        return int(con.execute("SELECT coalesce(max(revision), 0) FROM dac_map_schema.migrations")
                   .fetchone()[0])


def upgrade(url: str | None = None, folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply the pending migrations; returns those applied (empty: already up to date)."""
    migrations = available(folder)
    applied: list[Migration] = []
    with db.connect(url, autocommit=True) as con:
        con.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            con.execute(_BOOKKEEPING)
            done = {r for (r,) in con.execute("SELECT revision FROM dac_map_schema.migrations")}
            for mig in migrations:
                if mig.revision in done:
                    continue
                sql = mig.path.read_text(encoding="utf-8")
                try:
                    with con.transaction():
                        con.execute(sql)
                        con.execute("INSERT INTO dac_map_schema.migrations (revision, name) "
                                    "VALUES (%s, %s)", (mig.revision, mig.name))
                except Exception as exc:
                    raise StoreError(f"migration {mig.revision} failed: {exc}",
                                     path=str(mig.path)) from exc
                applied.append(mig)
        finally:
            con.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied


def require_current(url: str | None = None) -> None:
    """Raise :class:`StoreError` unless every migration is applied (app start-up check)."""
    latest = available()[-1].revision
    have = current_revision(url)
    if have < latest:
        raise StoreError(f"database schema at revision {have}, {latest} needed: run "
                         "`dac-map db upgrade` / schéma de base à mettre à jour")
    if have > latest:
        raise StoreError(f"database schema at revision {have}, newer than this dac-map "
                         f"({latest}): upgrade dac-map")
