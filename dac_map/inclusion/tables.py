"""Versioned steward tables of the social side (issue 16): the DAC's local resources and the
stewards' FINESS <-> data·inclusion match decisions, behind one interface, two back-ends.

* :class:`CsvTable` (embedded mode): the CSV file a steward may also edit by hand (``;``, UTF-8
  with BOM, written through :mod:`dac_map.tabular`); each save keeps the previous file in
  ``<table>.versions/`` and appends to ``<table>.journal.csv`` (when, who, what, why); a lock
  file serialises the saves of concurrent processes.
* :class:`PostgresTable` (server mode, ``DAC_MAP_DATABASE_URL``): one row per record in
  ``dac_map.steward_rows`` with its version, every change in ``dac_map.steward_row_history``,
  one audit entry per save (migration ``0006_steward_tables.sql``).

Editing is optimistic. An editor reads a :class:`Snapshot` (the rows and one version token per
row), edits, and :func:`plan` turns the edited rows into per-row :class:`Change` s; the
back-end applies them only if every touched row still has the token that was read — otherwise
:class:`ConflictError` names the rows somebody else changed and nothing is written (two
stewards editing different rows both succeed; nothing is lost silently). The role is checked
inside :meth:`StewardTable.commit` (:func:`dac_map.server.auth.authorize`), the reason goes
through :func:`dac_map.privacy.check_free_text`.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import hashlib
import json
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dac_map.errors import DacMapError, InputFormatError
from dac_map.server import auth

#: Columns of the CSV journal beside a table.
JOURNAL_HEADER = ("horodatage_utc", "auteur", "action", "id", "champs", "commentaire")
ADD, MODIFY, DELETE = "ajout", "modification", "suppression"


class ConflictError(DacMapError, exit_code=8):
    """Rows changed since they were read: nothing was written. ``keys`` lists them."""

    def __init__(self, message: str, *, keys: Sequence[str] = (), **kw: Any) -> None:
        self.keys = tuple(keys)
        super().__init__(message, **kw)


def norm(value: object) -> str:
    """A cell as compared and hashed: lists joined with ``|``, blanks and NaN as ``""``."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (list, tuple)):
        return "|".join(str(v).strip() for v in value)
    return str(value).strip()


@dataclass(frozen=True)
class TableSpec:
    """What a steward table is: its ``kind`` (``ressources_locales``, ``correspondances``),
    ``columns``, ``key_columns``, the authorisation ``action`` of a write, the CSV reader of
    the embedded back-end (path -> rows, unreadable-line messages), its default path, and the
    column holding each row's own reason (``comment_column``: journaled instead of the save's
    comment)."""

    kind: str
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    action: str
    read_csv: Callable[[Path], tuple[list[dict], list[str]]]
    default_path: Callable[[], Path]
    comment_column: str | None = None

    def comment(self, change: Change, default: str) -> str:
        """The journal comment of ``change``."""
        own = norm((change.row or {}).get(self.comment_column)) if self.comment_column else ""
        return own or default

    def key(self, row: Mapping[str, object]) -> str:
        return "|".join(norm(row.get(c)) for c in self.key_columns)

    def clean(self, row: Mapping[str, object]) -> dict:
        """``row`` restricted to the columns, blanks as None, lists kept."""
        out = {}
        for c in self.columns:
            v = row.get(c)
            if isinstance(v, str):
                v = v.strip()
            out[c] = None if norm(v) == "" else v
        return out

    def token(self, row: Mapping[str, object]) -> str:
        """Content token of a row (CSV back-end version)."""
        payload = "\x1f".join(norm(row.get(c)) for c in self.columns)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Snapshot:
    """The rows of a table (stored order), their version tokens, who/when last changed each
    (``updated``: key -> (author, ISO time)) and lines the CSV reader could not read."""

    rows: tuple[dict, ...] = ()
    tokens: Mapping[str, str] = field(default_factory=dict)
    updated: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """One row's change: ``action`` (ajout / modification / suppression), the ``token`` read
    (None for an addition), the new ``row`` (None for a deletion), the ``fields`` modified."""

    key: str
    action: str
    token: str | None
    row: dict | None
    fields: tuple[str, ...] = ()


def plan(spec: TableSpec, base: Snapshot, rows: Sequence[Mapping[str, object]]) -> list[Change]:
    """The changes that turn ``base`` into ``rows`` (blank rows ignored). A key given twice
    raises :class:`InputFormatError` naming the line (header = line 1)."""
    before = {spec.key(r): r for r in base.rows}
    seen: set[str] = set()
    out: list[Change] = []
    for n, raw in enumerate(rows, start=2):
        row = spec.clean(raw)
        if all(v is None for v in row.values()):
            continue
        key = spec.key(row)
        if not key.replace("|", ""):
            raise InputFormatError("identifiant manquant / missing key", line=n, field=spec.key_columns[0])
        if key in seen:
            raise InputFormatError(f"doublon / duplicate key {key!r}", line=n, field=spec.key_columns[0])
        seen.add(key)
        old = before.get(key)
        if old is None:
            out.append(Change(key, ADD, None, row))
            continue
        changed = tuple(c for c in spec.columns if norm(old.get(c)) != norm(row.get(c)))
        if changed:
            out.append(Change(key, MODIFY, base.tokens.get(key), row, changed))
    out += [Change(k, DELETE, base.tokens.get(k), None) for k in before if k not in seen]
    return out


def _author(principal: auth.Principal, typed: str | None) -> str:
    """Server mode: the signed-in account (a typed name is never trusted). Embedded mode (the
    one local user): the name the steward typed, required."""
    if principal.subject != auth.LOCAL.subject:
        return principal.subject
    name = " ".join((typed or "").split())
    if not name:
        raise InputFormatError("un enregistrement demande le nom du référent / a save needs the "
                               "steward's name", field="auteur")
    return name[:120]


def _conflicts(changes: Sequence[Change], current: Mapping[str, str]) -> list[str]:
    bad = []
    for ch in changes:
        now = current.get(ch.key)
        if ch.action == ADD:
            if now is not None:
                bad.append(ch.key)
        elif now != ch.token:
            bad.append(ch.key)
    return bad


def _conflict_error(keys: list[str]) -> ConflictError:
    return ConflictError(
        f"modifié(s) par quelqu'un d'autre depuis votre lecture : {', '.join(keys[:20])} — rien n'a été "
        "enregistré ; rechargez la table et refaites vos modifications / changed by someone else since "
        "you read them: nothing was saved", keys=keys)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class StewardTable(ABC):
    """A versioned steward table (see the module doc)."""

    spec: TableSpec
    location: str = ""

    @property
    def label(self) -> str:
        """Where the table lives, for people (a file path, or the server's database)."""
        return self.location

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """The rows and their version tokens, as stored now."""

    @abstractmethod
    def _commit(self, changes: Sequence[Change], author: str, comment: str,
                principal: auth.Principal) -> None:
        """Apply ``changes`` atomically, or raise :class:`ConflictError` writing nothing."""

    @abstractmethod
    def history(self, limit: int = 500) -> list[dict]:
        """The newest ``limit`` changes (dicts with :data:`JOURNAL_HEADER` keys), oldest first."""

    def commit(self, changes: Sequence[Change], principal: auth.Principal, *, author: str | None = None,
               comment: str = "") -> list[Change]:
        """Apply ``changes`` (role checked here, reason privacy-checked, author decided by
        :func:`_author`); returns them (``[]``: nothing to do, nothing written)."""
        from dac_map import privacy

        auth.authorize(principal, self.spec.action)
        who = _author(principal, author)
        reason = privacy.check_free_text(comment or "", field="motif", max_length=500)
        if not changes:
            return []
        self._commit(list(changes), who, reason, principal)
        return list(changes)

    def save(self, base: Snapshot, rows: Sequence[Mapping[str, object]], principal: auth.Principal, *,
             author: str | None = None, comment: str = "") -> list[Change]:
        """:func:`plan` then :meth:`commit`: the edit of ``base`` into ``rows``."""
        auth.authorize(principal, self.spec.action)
        return self.commit(plan(self.spec, base, rows), principal, author=author, comment=comment)


# --------------------------------------------------------------------------- CSV (embedded mode)

class CsvTable(StewardTable):
    """The table as a CSV file (see the module doc)."""

    def __init__(self, spec: TableSpec, path: str | Path) -> None:
        self.spec = spec
        self.path = Path(path)
        self.location = str(self.path)

    @property
    def journal_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".journal.csv")

    def snapshot(self) -> Snapshot:
        if not self.path.exists():
            return Snapshot()
        rows, problems = self.spec.read_csv(self.path)
        rows = [self.spec.clean({k: _as_typed(v) for k, v in r.items()}) for r in rows]
        updated = {j["id"]: (j["auteur"], j["horodatage_utc"]) for j in self.history(limit=100_000)}
        return Snapshot(tuple(rows), {self.spec.key(r): self.spec.token(r) for r in rows},
                        {k: updated[k] for k in map(self.spec.key, rows) if k in updated}, tuple(problems))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _commit(self, changes: Sequence[Change], author: str, comment: str,
                principal: auth.Principal) -> None:
        from dac_map import tabular

        with self._locked():
            current = self.snapshot()
            if current.problems:
                raise InputFormatError("le fichier a des lignes illisibles : corrigez-les avant d'enregistrer "
                                       f"(rien n'a été écrit) / unreadable lines: {current.problems[0]}",
                                       path=str(self.path))
            bad = _conflicts(changes, current.tokens)
            if bad:
                raise _conflict_error(bad)
            by_key = {c.key: c for c in changes}
            rows = []
            for r in current.rows:
                ch = by_key.get(self.spec.key(r))
                if ch is None:
                    rows.append(r)
                elif ch.row is not None:
                    rows.append(ch.row)
            rows += [c.row for c in changes if c.action == ADD]
            now = _now()
            if self.path.exists():
                versions = self.path.with_name(self.path.name + ".versions")
                versions.mkdir(exist_ok=True)
                shutil.copy2(self.path, versions / f"{self.path.stem}-{now.replace(':', '')}.csv")
            tabular.write_csv(self.path, [[norm(r.get(c)) or None for c in self.spec.columns] for r in rows],
                              list(self.spec.columns), decimal=".")
            journal = [(now, author, c.action, c.key, ",".join(c.fields), self.spec.comment(c, comment))
                       for c in changes]
            payload = tabular.csv_bytes(journal, None if self.journal_path.exists() else JOURNAL_HEADER,
                                        bom=False, lineterminator="\n")
            with open(self.journal_path, "ab") as f:  # appended: the journal only grows
                f.write(payload)

    def history(self, limit: int = 500) -> list[dict]:
        if not self.journal_path.exists():
            return []
        with open(self.journal_path, encoding="utf-8", newline="") as f:
            rows = [{k: _as_typed(v) for k, v in r.items()} for r in csv.DictReader(f, delimiter=";")]
        return rows[-limit:]


def _as_typed(v: object) -> object:
    """A cell of a file this module wrote, as typed (:func:`dac_map.tabular.neutralise`'s ``'``
    before a formula-like text removed)."""
    from dac_map.tabular import neutralise

    if isinstance(v, str) and v[:1] == "'" and neutralise(v[1:]) == v:
        return v[1:]
    return v


# --------------------------------------------------------------------------- PostgreSQL (server mode)

class PostgresTable(StewardTable):
    """The table in ``dac_map.steward_rows`` (see the module doc)."""

    def __init__(self, spec: TableSpec, url: str | None = None) -> None:
        from dac_map.server import db

        self.spec = spec
        self.url = db.require_url(url)
        self.location = db.redact(self.url)

    @property
    def label(self) -> str:
        return "base PostgreSQL du mode serveur"

    def snapshot(self) -> Snapshot:
        from dac_map.server import db

        with db.connect(self.url) as con:
            rows = con.execute("SELECT key, version, data, updated_by, updated_at FROM dac_map.steward_rows "
                               "WHERE kind = %s AND NOT deleted ORDER BY position", (self.spec.kind,)).fetchall()
        return Snapshot(tuple(self.spec.clean(r[2]) for r in rows), {r[0]: str(r[1]) for r in rows},
                        {r[0]: (r[3], r[4].strftime("%Y-%m-%dT%H:%M:%SZ")) for r in rows})

    def _commit(self, changes: Sequence[Change], author: str, comment: str,
                principal: auth.Principal) -> None:
        from dac_map.server import audit, db

        keys = [c.key for c in changes]
        with db.connect(self.url) as con:
            # one writer per table at a time: the check and the writes see the same rows
            con.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("steward_rows:" + self.spec.kind,))
            current = {k: (v, d) for k, v, d in con.execute(
                "SELECT key, version, deleted FROM dac_map.steward_rows WHERE kind = %s AND key = ANY(%s)",
                (self.spec.kind, keys)).fetchall()}
            live = {k: str(v) for k, (v, d) in current.items() if not d}
            bad = _conflicts(changes, live)
            if bad:
                raise _conflict_error(bad)
            at = dt.datetime.now(dt.timezone.utc)
            for ch in changes:
                version = current.get(ch.key, (0, False))[0] + 1
                data = json.dumps(ch.row, ensure_ascii=False, default=str) if ch.row is not None else None
                con.execute(
                    "INSERT INTO dac_map.steward_rows (kind, key, version, data, deleted, updated_by, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (kind, key) DO UPDATE SET "
                    "version = excluded.version, data = coalesce(excluded.data, dac_map.steward_rows.data), "
                    "deleted = excluded.deleted, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    (self.spec.kind, ch.key, version, data, ch.row is None, author, at))
                con.execute(
                    "INSERT INTO dac_map.steward_row_history (kind, key, version, action, author, at, comment, "
                    "fields, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (self.spec.kind, ch.key, version, ch.action, author, at, self.spec.comment(ch, comment),
                     list(ch.fields), data))
            counts = {a: sum(c.action == a for c in changes) for a in (ADD, MODIFY, DELETE)}
            audit.record(con, principal.subject, f"{self.spec.kind}.save", self.spec.kind,
                         {**counts, "keys": keys[:50]}, principal.roles)

    def history(self, limit: int = 500) -> list[dict]:
        from dac_map.server import db

        with db.connect(self.url) as con:
            rows = con.execute("SELECT at, author, action, key, fields, comment FROM dac_map.steward_row_history "
                               "WHERE kind = %s ORDER BY seq DESC LIMIT %s", (self.spec.kind, limit)).fetchall()
        return [dict(zip(JOURNAL_HEADER, (r[0].strftime("%Y-%m-%dT%H:%M:%SZ"), r[1], r[2], r[3], ",".join(r[4]), r[5])))
                for r in reversed(rows)]


def open_table(spec: TableSpec, location: str | Path | None = None) -> StewardTable:
    """The table of the current mode: PostgreSQL when ``location`` (or ``DAC_MAP_DATABASE_URL``)
    is a ``postgresql://`` URL, else the CSV file ``location`` (default: the spec's path)."""
    from dac_map.server import config

    loc = str(location) if location is not None else (config.database_url() or "")
    if loc.startswith(("postgresql://", "postgres://")):
        return PostgresTable(spec, loc)
    return CsvTable(spec, location if location is not None else spec.default_path())
