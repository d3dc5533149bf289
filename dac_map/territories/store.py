"""The versioned territory table that stewards own.

:class:`TerritoryStore` is the small interface (a PostgreSQL implementation can replace the
embedded one); :class:`SqliteTerritoryStore` keeps it in one SQLite file in the data folder
(setting ``TERRITORIES_DB``), outside the GeoPackage: a data refresh reads it, never writes it.

Every change bumps the territory's version and appends a history row (who, when, what
changed). Writes are optimistic: the caller passes the version it read; if the stored version
differs, nothing is written and :class:`~dac_map.territories.model.ConflictError` is raised, so
the last writer never silently erases the other's change.

Territories live in named *sets*: ``principal`` (the one the ETL, the search and the app use)
and alternatives (e.g. the fictitious demo splitting the Somme into two DACs) that a steward
can try in the editor.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from dac_map.errors import StoreError
from dac_map.territories.model import ConflictError, Territory, Versioned, changes, validate

MAIN_SET = "principal"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS territory (
    set_name TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, data TEXT,
    deleted INTEGER NOT NULL DEFAULT 0, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (set_name, id));
CREATE TABLE IF NOT EXISTS territory_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, set_name TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL, action TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '', changes TEXT NOT NULL, data TEXT);
CREATE INDEX IF NOT EXISTS territory_history_id ON territory_history (set_name, id);
"""


@dataclass(frozen=True)
class HistoryEntry:
    """One change: ``action`` is ``creation``, ``modification`` or ``suppression``."""

    seq: int
    set_name: str
    id: str
    version: int
    action: str
    author: str
    at: str
    comment: str
    changes: dict


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did, per territory id."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    deleted: list[str]
    conflicts: list[str]


class TerritoryStore(Protocol):
    """What the app, the CLI and the ETL need from a territory table."""

    def sets(self) -> list[str]: ...

    def has_history(self, set_name: str = MAIN_SET) -> bool: ...

    def list(self, set_name: str = MAIN_SET) -> list[Versioned]: ...

    def get(self, territory_id: str, set_name: str = MAIN_SET) -> Versioned | None: ...

    def save(self, territory: Territory, expected_version: int | None, author: str,
             set_name: str = MAIN_SET, comment: str = "") -> Versioned: ...

    def delete(self, territory_id: str, expected_version: int, author: str,
               set_name: str = MAIN_SET, comment: str = "") -> None: ...

    def import_many(self, territories: Iterable[Territory], author: str, set_name: str = MAIN_SET,
                    expected: dict[str, int] | None = None, replace: bool = False,
                    comment: str = "") -> ImportOutcome: ...

    def history(self, set_name: str = MAIN_SET, territory_id: str | None = None,
                limit: int = 200) -> list[HistoryEntry]: ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _dump(t: Territory) -> str:
    d = asdict(t)
    d["departments"] = list(t.departments)
    d["communes"] = list(t.communes)
    return json.dumps(d, ensure_ascii=False, sort_keys=True)


def _load(text: str) -> Territory:
    d = json.loads(text)
    return Territory(**{**d, "departments": tuple(d["departments"]), "communes": tuple(d["communes"])})


class SqliteTerritoryStore:
    """:class:`TerritoryStore` in one SQLite file (created on first write)."""

    def __init__(self, path: str | Path, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s

    # -- connection -------------------------------------------------------------------------
    def _connect(self, write: bool) -> sqlite3.Connection:
        if not write and not self.path.exists():
            return sqlite3.connect(":memory:")  # reading a missing table = empty, creates nothing
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"table des territoires illisible / cannot open the territory table: {exc}",
                             path=str(self.path)) from exc
        return con

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        con = self._connect(write=False)
        try:
            con.executescript(_SCHEMA)
            return con.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"lecture impossible / cannot read: {exc}", path=str(self.path)) from exc
        finally:
            con.close()

    # -- reading ----------------------------------------------------------------------------
    def sets(self) -> list[str]:
        rows = self._read("SELECT DISTINCT set_name FROM territory_history ORDER BY set_name")
        names = [r[0] for r in rows]
        return sorted(names, key=lambda n: (n != MAIN_SET, n))

    def has_history(self, set_name: str = MAIN_SET) -> bool:
        return bool(self._read("SELECT 1 FROM territory_history WHERE set_name = ? LIMIT 1", (set_name,)))

    def list(self, set_name: str = MAIN_SET) -> list[Versioned]:
        rows = self._read("SELECT data, version, updated_by, updated_at FROM territory "
                          "WHERE set_name = ? AND deleted = 0 ORDER BY id", (set_name,))
        return [Versioned(_load(d), v, by, at) for d, v, by, at in rows]

    def get(self, territory_id: str, set_name: str = MAIN_SET) -> Versioned | None:
        rows = self._read("SELECT data, version, updated_by, updated_at FROM territory "
                          "WHERE set_name = ? AND id = ? AND deleted = 0", (set_name, territory_id))
        return Versioned(_load(rows[0][0]), *rows[0][1:]) if rows else None

    def history(self, set_name: str = MAIN_SET, territory_id: str | None = None,
                limit: int = 200) -> list[HistoryEntry]:
        sql = ("SELECT seq, set_name, id, version, action, author, at, comment, changes "
               "FROM territory_history WHERE set_name = ?")
        args: tuple = (set_name,)
        if territory_id is not None:
            sql += " AND id = ?"
            args += (territory_id,)
        rows = self._read(sql + " ORDER BY seq DESC LIMIT ?", args + (int(limit),))
        return [HistoryEntry(*r[:8], json.loads(r[8])) for r in rows]

    # -- writing ----------------------------------------------------------------------------
    def _write(self, con: sqlite3.Connection, set_name: str, territory_id: str,
               new: Territory | None, expected: int | None, author: str, comment: str,
               check: bool = True) -> tuple[str, int]:
        """One change inside an open transaction; returns (action, new version)."""
        row = con.execute("SELECT data, version, deleted, updated_by, updated_at FROM territory "
                          "WHERE set_name = ? AND id = ?", (set_name, territory_id)).fetchone()
        live = row is not None and not row[2]
        current = Versioned(_load(row[0]), row[1], row[3], row[4]) if live else None
        if check:
            if expected is None and live:
                raise ConflictError(f"le territoire {territory_id} existe déjà (version {row[1]}) / "
                                    "already exists", current=current)
            if expected is not None and row is None:
                raise ConflictError(f"le territoire {territory_id} n'existe pas dans le jeu "
                                    f"« {set_name} » / no such territory", current=None)
            if expected is not None and (not live or row[1] != expected):
                raise ConflictError(
                    f"le territoire {territory_id} a été modifié par quelqu'un d'autre (version "
                    f"{row[1]}{', supprimé' if row[2] else ''} ; {row[3]}, {row[4]}) "
                    f"depuis votre lecture (version {expected}) : rien n'a été enregistré, "
                    "rechargez puis refaites vos changements / changed since you read it",
                    current=current)
        before = current.territory if current else None
        diff = changes(before, new)
        if live and new is not None and not diff:
            return "inchangé", row[1]
        version = (row[1] if row else 0) + 1
        at = _now()
        action = "suppression" if new is None else ("modification" if live else "creation")
        con.execute("INSERT INTO territory (set_name, id, version, data, deleted, updated_by, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (set_name, id) DO UPDATE SET "
                    "version = excluded.version, data = excluded.data, deleted = excluded.deleted, "
                    "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    (set_name, territory_id, version, _dump(new) if new else (row[0] if row else None),
                     int(new is None), author, at))
        con.execute("INSERT INTO territory_history (set_name, id, version, action, author, at, comment, "
                    "changes, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (set_name, territory_id, version, action, author, at, comment,
                     json.dumps(diff, ensure_ascii=False), _dump(new) if new else None))
        return action, version

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on
        any exception (a conflict included), so a failed change writes nothing."""
        con = self._connect(write=True)
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            con.close()
            raise StoreError(f"table des territoires occupée / busy: {exc}", path=str(self.path)) from exc
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def save(self, territory: Territory, expected_version: int | None, author: str,
             set_name: str = MAIN_SET, comment: str = "") -> Versioned:
        """Create (``expected_version`` None) or update a territory; returns the stored version.
        Raises ConflictError if the stored version is not ``expected_version``."""
        t = validate(territory)
        author = _author(author)
        with self._transaction() as con:
            self._write(con, set_name, t.id, t, expected_version, author, comment)
        stored = self.get(t.id, set_name)
        assert stored is not None
        return stored

    def delete(self, territory_id: str, expected_version: int, author: str,
               set_name: str = MAIN_SET, comment: str = "") -> None:
        """Delete a territory (kept in the history). ConflictError if changed since read."""
        with self._transaction() as con:
            self._write(con, set_name, territory_id, None, expected_version, _author(author), comment)

    def import_many(self, territories: Iterable[Territory], author: str, set_name: str = MAIN_SET,
                    expected: dict[str, int] | None = None, replace: bool = False,
                    comment: str = "") -> ImportOutcome:
        """Write many territories in one transaction (all or nothing on a store error).

        A territory with an ``expected`` version (the version it was exported at) that is no
        longer the stored one is a conflict: it is left as stored and listed in ``conflicts``;
        the others are written. Without an expected version the row overwrites (an explicit
        import). ``replace`` deletes the territories of the set absent from the import."""
        author = _author(author)
        expected = expected or {}
        items = [validate(t) for t in territories]
        out = ImportOutcome([], [], [], [], [])
        with self._transaction() as con:
            for t in items:
                exp = expected.get(t.id)
                try:
                    action, _ = self._write(con, set_name, t.id, t, exp, author, comment,
                                            check=exp is not None)
                except ConflictError:
                    out.conflicts.append(t.id)
                    continue
                {"creation": out.created, "modification": out.updated,
                 "inchangé": out.unchanged}[action].append(t.id)
            if replace:
                keep = {t.id for t in items}
                live = [r[0] for r in con.execute(
                    "SELECT id FROM territory WHERE set_name = ? AND deleted = 0", (set_name,))]
                for tid in live:
                    if tid not in keep:
                        self._write(con, set_name, tid, None, None, author, comment, check=False)
                        out.deleted.append(tid)
        return out


def _author(author: str) -> str:
    name = " ".join((author or "").split())
    if not name:
        raise ValueError("author required (who made the change)")
    return name[:120]
