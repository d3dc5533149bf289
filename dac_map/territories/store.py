"""The versioned territory table that stewards own.

:class:`TerritoryStore` is the small interface, with two back-ends sharing every rule and
statement (:class:`_SqlTerritoryStore`): :class:`SqliteTerritoryStore` keeps the table in one
SQLite file in the data folder (setting ``TERRITORIES_DB``, embedded mode), outside the
GeoPackage; :class:`PostgresTerritoryStore` keeps it in ``dac_map.territories`` (server mode,
``DAC_MAP_DATABASE_URL``; migration ``0003_territories.sql``), shared by every app process. A data
refresh reads it, never writes it. :func:`dac_map.territories.service.open_store` picks one.

Writes are authorised inside the store: each store is bound to the
:class:`~dac_map.server.auth.Principal` that uses it and every write calls
:func:`~dac_map.server.auth.authorize` (``territories.write``: data stewards; the embedded mode's
one local user may). In PostgreSQL each write also adds an audit entry (account, action, set and
territory, version) in the same transaction.

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

from typing import Any

from dac_map.errors import StoreError
from dac_map.server import auth
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

    def stamp(self) -> int: ...

    def list(self, set_name: str = MAIN_SET) -> list[Versioned]: ...

    def get(self, territory_id: str, set_name: str = MAIN_SET) -> Versioned | None: ...

    def save(self, territory: Territory, expected_version: int | None, author: str,
             set_name: str = MAIN_SET, comment: str = "") -> Versioned: ...

    def delete(self, territory_id: str, expected_version: int, author: str,
               set_name: str = MAIN_SET, comment: str = "") -> None: ...

    def import_many(self, territories: Iterable[Territory], author: str, set_name: str = MAIN_SET,
                    expected: dict[str, int] | None = None, replace: bool = False,
                    comment: str = "") -> ImportOutcome: ...

    def seed(self, set_name: str, territories: Iterable[Territory], author: str,
             comment: str = "") -> bool: ...

    def history(self, set_name: str = MAIN_SET, territory_id: str | None = None,
                limit: int = 200) -> list[HistoryEntry]: ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _dump(t: Territory) -> str:
    d = asdict(t)
    d["departments"] = list(t.departments)
    d["communes"] = list(t.communes)
    return json.dumps(d, ensure_ascii=False, sort_keys=True)


def _load(data: str | dict) -> Territory:
    d = json.loads(data) if isinstance(data, str) else data
    return Territory(**{**d, "departments": tuple(d["departments"]), "communes": tuple(d["communes"])})


def _stamp(value: object) -> str:
    """A stored time as ISO 8601 UTC text, seconds (SQLite stores the text, PostgreSQL a
    ``timestamptz``)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    return str(value)


class _SqlTerritoryStore:
    """Everything both back-ends share: the statements (written with ``?`` placeholders,
    rewritten by :meth:`_sql`), the version check, the history, the authorisation.

    Subclasses give the table names, :meth:`_read` and :meth:`_transaction` (one write
    transaction in which no other writer of the same set can run: SQLite ``BEGIN IMMEDIATE``,
    PostgreSQL a transaction-level advisory lock per set), and :meth:`_audit`."""

    _TABLE = "territory"
    _HISTORY = "territory_history"
    location = ""

    def __init__(self, principal: auth.Principal) -> None:
        self.principal = principal

    # -- back-end hooks ---------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:  # pragma: no cover - abstract
        raise NotImplementedError

    @contextmanager
    def _transaction(self, set_name: str) -> Iterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def _audit(self, con: Any, action: str, set_name: str, territory_id: str, version: int,
               actor: str) -> None:
        """Audit entry of one write (server mode; the embedded mode has one local user)."""

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._read(self._sql(sql.format(T=self._TABLE, H=self._HISTORY)), args)

    def _x(self, con: Any, sql: str, args: tuple = ()) -> Any:
        return con.execute(self._sql(sql.format(T=self._TABLE, H=self._HISTORY)), args)

    def _authorize(self) -> None:
        auth.authorize(self.principal, "territories.write")

    # -- reading ----------------------------------------------------------------------------
    def sets(self) -> list[str]:
        rows = self._q("SELECT DISTINCT set_name FROM {H} ORDER BY set_name")
        names = [r[0] for r in rows]
        return sorted(names, key=lambda n: (n != MAIN_SET, n))

    def has_history(self, set_name: str = MAIN_SET) -> bool:
        return bool(self._q("SELECT 1 FROM {H} WHERE set_name = ? LIMIT 1", (set_name,)))

    def stamp(self) -> int:
        """The newest history sequence number (0: empty): changes at every write, whatever
        process made it (app caches of the territories key on it)."""
        return int(self._q("SELECT coalesce(max(seq), 0) FROM {H}")[0][0])

    def list(self, set_name: str = MAIN_SET) -> list[Versioned]:
        rows = self._q("SELECT data, version, updated_by, updated_at FROM {T} "
                       "WHERE set_name = ? AND NOT deleted ORDER BY id", (set_name,))
        return [Versioned(_load(d), v, by, _stamp(at)) for d, v, by, at in rows]

    def get(self, territory_id: str, set_name: str = MAIN_SET) -> Versioned | None:
        rows = self._q("SELECT data, version, updated_by, updated_at FROM {T} "
                       "WHERE set_name = ? AND id = ? AND NOT deleted", (set_name, territory_id))
        if not rows:
            return None
        d, v, by, at = rows[0]
        return Versioned(_load(d), v, by, _stamp(at))

    def history(self, set_name: str = MAIN_SET, territory_id: str | None = None,
                limit: int = 200) -> list[HistoryEntry]:
        sql = ("SELECT seq, set_name, id, version, action, author, at, comment, changes "
               "FROM {H} WHERE set_name = ?")
        args: tuple = (set_name,)
        if territory_id is not None:
            sql += " AND id = ?"
            args += (territory_id,)
        rows = self._q(sql + " ORDER BY seq DESC LIMIT ?", args + (int(limit),))
        return [HistoryEntry(*r[:6], _stamp(r[6]), r[7],
                             json.loads(r[8]) if isinstance(r[8], str) else r[8]) for r in rows]

    # -- writing ----------------------------------------------------------------------------
    def _write(self, con: Any, set_name: str, territory_id: str,
               new: Territory | None, expected: int | None, author: str, comment: str,
               check: bool = True, actor: str | None = None) -> tuple[str, int]:
        """One change inside an open transaction; returns (action, new version). ``actor``:
        the audited account (default: the store's principal)."""
        row = self._x(con, "SELECT data, version, deleted, updated_by, updated_at FROM {T} "
                      "WHERE set_name = ? AND id = ?", (set_name, territory_id)).fetchone()
        live = row is not None and not row[2]
        current = Versioned(_load(row[0]), row[1], row[3], _stamp(row[4])) if live else None
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
                    f"{row[1]}{', supprimé' if row[2] else ''} ; {row[3]}, {_stamp(row[4])}) "
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
        kept = _dump(new) if new else (row[0] if row is None or isinstance(row[0], str)
                                       else json.dumps(row[0], ensure_ascii=False, sort_keys=True))
        self._x(con, "INSERT INTO {T} (set_name, id, version, data, deleted, updated_by, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (set_name, id) DO UPDATE SET "
                "version = excluded.version, data = excluded.data, deleted = excluded.deleted, "
                "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                (set_name, territory_id, version, kept, new is None, author, at))
        self._x(con, "INSERT INTO {H} (set_name, id, version, action, author, at, comment, "
                "changes, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (set_name, territory_id, version, action, author, at, comment,
                 json.dumps(diff, ensure_ascii=False), _dump(new) if new else None))
        self._audit(con, f"territories.{action}", set_name, territory_id, version,
                    actor or self.principal.subject)
        return action, version

    def save(self, territory: Territory, expected_version: int | None, author: str,
             set_name: str = MAIN_SET, comment: str = "") -> Versioned:
        """Create (``expected_version`` None) or update a territory; returns the stored version.
        Raises ConflictError if the stored version is not ``expected_version``,
        :class:`~dac_map.errors.ForbiddenError` if the store's principal may not edit."""
        self._authorize()
        t = validate(territory)
        author = _author(author)
        with self._transaction(set_name) as con:
            self._write(con, set_name, t.id, t, expected_version, author, comment)
        stored = self.get(t.id, set_name)
        assert stored is not None
        return stored

    def delete(self, territory_id: str, expected_version: int, author: str,
               set_name: str = MAIN_SET, comment: str = "") -> None:
        """Delete a territory (kept in the history). ConflictError if changed since read."""
        self._authorize()
        with self._transaction(set_name) as con:
            self._write(con, set_name, territory_id, None, expected_version, _author(author), comment)

    def import_many(self, territories: Iterable[Territory], author: str, set_name: str = MAIN_SET,
                    expected: dict[str, int] | None = None, replace: bool = False,
                    comment: str = "") -> ImportOutcome:
        """Write many territories in one transaction (all or nothing on a store error).

        A territory with an ``expected`` version (the version it was exported at) that is no
        longer the stored one is a conflict: it is left as stored and listed in ``conflicts``;
        the others are written. Without an expected version the row overwrites (an explicit
        import). ``replace`` deletes the territories of the set absent from the import."""
        self._authorize()
        return self._import(territories, _author(author), set_name, expected or {}, replace, comment)

    def seed(self, set_name: str, territories: Iterable[Territory], author: str,
             comment: str = "") -> bool:
        """Load the SHIPPED table of a set that never existed (no history), in one transaction
        that re-checks it under the set's write lock (two processes opening the table at once
        seed it once). A system action, not a person's edit: no role needed. True if seeded."""
        items = list(territories)
        with self._transaction(set_name) as con:
            if self._x(con, "SELECT 1 FROM {H} WHERE set_name = ? LIMIT 1", (set_name,)).fetchone():
                return False
            self._import_in(con, items, _author(author), set_name, {}, False, comment,
                            actor=_author(author))
        return True

    def _import(self, territories: Iterable[Territory], author: str, set_name: str,
                expected: dict[str, int], replace: bool, comment: str) -> ImportOutcome:
        items = [validate(t) for t in territories]
        with self._transaction(set_name) as con:
            return self._import_in(con, items, author, set_name, expected, replace, comment)

    def _import_in(self, con: Any, items: list[Territory], author: str, set_name: str,
                   expected: dict[str, int], replace: bool, comment: str,
                   actor: str | None = None) -> ImportOutcome:
        out = ImportOutcome([], [], [], [], [])
        for t in items:
            exp = expected.get(t.id)
            try:
                action, _ = self._write(con, set_name, t.id, t, exp, author, comment,
                                        check=exp is not None, actor=actor)
            except ConflictError:
                out.conflicts.append(t.id)
                continue
            {"creation": out.created, "modification": out.updated,
             "inchangé": out.unchanged}[action].append(t.id)
        if replace:
            keep = {t.id for t in items}
            live = [r[0] for r in self._x(
                con, "SELECT id FROM {T} WHERE set_name = ? AND NOT deleted", (set_name,)).fetchall()]
            for tid in live:
                if tid not in keep:
                    self._write(con, set_name, tid, None, None, author, comment, check=False,
                                actor=actor)
                    out.deleted.append(tid)
        return out


class SqliteTerritoryStore(_SqlTerritoryStore):
    """:class:`TerritoryStore` in one SQLite file (created on first write); embedded mode, so
    the principal is the one local user unless told otherwise."""

    def __init__(self, path: str | Path, timeout_s: float = 10.0,
                 principal: auth.Principal = auth.LOCAL) -> None:
        super().__init__(principal)
        self.path = Path(path)
        self.location = str(self.path)
        self.timeout_s = timeout_s

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

    @contextmanager
    def _transaction(self, set_name: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: one writer of the file at a time):
        committed on success, rolled back on any exception (a conflict included), so a failed
        change writes nothing."""
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


#: Advisory-lock class of the territory writes (second key: hash of the set name).
_PG_LOCK_CLASS = 0x0DAC_7E2


class PostgresTerritoryStore(_SqlTerritoryStore):
    """:class:`TerritoryStore` in ``dac_map.territories`` / ``dac_map.territory_history``
    (server mode, every app process and the CLI share it). Writers of one set are serialised
    by a transaction-level advisory lock, so the version check and the write are one atomic
    step; each write is audited (``territories.creation|modification|suppression``).

    ``principal``: who uses the store; the default, an anonymous visitor, may only read."""

    _TABLE = "dac_map.territories"
    _HISTORY = "dac_map.territory_history"

    def __init__(self, url: str | None = None, principal: auth.Principal = auth.ANONYMOUS) -> None:
        from dac_map.server import db

        super().__init__(principal)
        self.url = db.require_url(url)
        self.location = db.redact(self.url)

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        from dac_map.server import db

        with db.connect(self.url) as con:
            return con.execute(sql, args).fetchall()

    @contextmanager
    def _transaction(self, set_name: str) -> Iterator[Any]:
        from dac_map.server import db

        with db.connect(self.url) as con:
            con.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_PG_LOCK_CLASS, set_name))
            yield con

    def _audit(self, con: Any, action: str, set_name: str, territory_id: str, version: int,
               actor: str) -> None:
        from dac_map.server import audit

        audit.record(con, actor, action, f"{set_name}/{territory_id}",
                     {"version": version}, self.principal.roles)


def _author(author: str) -> str:
    name = " ".join((author or "").split())
    if not name:
        raise ValueError("author required (who made the change)")
    return name[:120]
