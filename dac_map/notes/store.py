"""The notes store: one interface (:class:`NoteStore`), SQLite and PostgreSQL back-ends.

Both back-ends share the SQL (``?`` placeholders, rewritten to ``%s`` for psycopg) and every
rule: authorisation (:func:`dac_map.server.auth.authorize` is called HERE, by the write and read
paths themselves), validation, visibility (the notes of the principal's DACs plus the notes
other DACs shared), idempotent writes (``client_key``: a retried submission is stored once).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from dac_map.errors import StoreError
from dac_map.notes.model import (FIELDS, Note, NoteConflictError, NoteError, NoteInput, matches,
                                 now_utc, validate_note)
from dac_map.server import auth, config

_COLUMNS = ("id", "finess", "dac_id", "shared", *FIELDS, "verified_on", "author", "created_at",
            "updated_at")

_SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finess TEXT NOT NULL,
    dac_id TEXT NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0,
    opening_hours TEXT NOT NULL DEFAULT '',
    contact_role TEXT NOT NULL DEFAULT '',
    admission_criteria TEXT NOT NULL DEFAULT '',
    waiting_time TEXT NOT NULL DEFAULT '',
    other TEXT NOT NULL DEFAULT '',
    verified_on TEXT,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    client_key TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS notes_finess ON notes (finess);
CREATE INDEX IF NOT EXISTS notes_dac ON notes (dac_id);
"""


class NoteStore:
    """The notes of every DAC. Subclasses provide :meth:`_connect` and the table name."""

    table = "notes"
    location = ""

    @contextmanager
    def _connect(self) -> Iterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    def _sql(self, text: str) -> str:
        return text

    def _audit(self, con: Any, principal: auth.Principal, action: str, target: str,
               details: dict) -> None:
        """Audit entry (server mode only; the embedded mode has one local user)."""

    def _locked(self, con: Any, note_id: int) -> Note | None:  # pragma: no cover - abstract
        """The stored note, no other writer able to change it until the transaction ends."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def _row(self, row: Any) -> Note:
        d = dict(zip(_COLUMNS, row))
        d["shared"] = bool(d["shared"])
        v = d["verified_on"]
        d["verified_on"] = date.fromisoformat(v) if isinstance(v, str) and v else (v or None)
        return Note(**d)

    def _visibility(self, principal: auth.Principal) -> tuple[str, list]:
        if auth.ALL_DACS in principal.dacs:
            return "1=1", []
        dacs = sorted(principal.dacs)
        marks = ", ".join("?" for _ in dacs) or "NULL"
        return f"(dac_id IN ({marks}) OR shared = ?)", [*dacs, True]

    def _select(self, con: Any, where: str, args: list) -> list[Note]:
        rows = con.execute(self._sql(f"SELECT {', '.join(_COLUMNS)} FROM {self.table} WHERE "
                                     f"{where} ORDER BY finess, id"), args).fetchall()
        return [self._row(r) for r in rows]

    def _get(self, con: Any, note_id: int) -> Note | None:
        found = self._select(con, "id = ?", [int(note_id)])
        return found[0] if found else None

    # ------------------------------------------------------------------ writes
    def add(self, note: NoteInput, principal: auth.Principal, *, client_key: str | None = None,
            allowed_names: frozenset[str] = frozenset()) -> Note:
        """Validate and store a note of ``note.dac_id`` written by ``principal``.

        ``client_key`` (optional, unique): a second call with the same key returns the note
        already stored instead of a duplicate. Raises :class:`~dac_map.errors.ForbiddenError`,
        :class:`NoteError` or :class:`~dac_map.errors.StoreError`.
        """
        auth.authorize(principal, "notes.write_dac", note.dac_id)
        clean = validate_note(note, allowed_names)
        stamp = now_utc()
        values = [clean.finess, clean.dac_id, clean.shared, *(getattr(clean, f) for f in FIELDS),
                  clean.verified_on.isoformat() if clean.verified_on else None,
                  principal.subject, stamp, stamp, client_key]
        cols = ("finess", "dac_id", "shared", *FIELDS, "verified_on", "author", "created_at",
                "updated_at", "client_key")
        with self._connect() as con:
            if client_key is not None:
                prior = con.execute(self._sql(f"SELECT id FROM {self.table} WHERE client_key = ?"),
                                    [client_key]).fetchone()
                if prior:
                    return self._get(con, prior[0])
            row = con.execute(self._sql(
                f"INSERT INTO {self.table} ({', '.join(cols)}) VALUES "
                f"({', '.join('?' for _ in cols)}) ON CONFLICT (client_key) DO NOTHING "
                "RETURNING id"), values).fetchone()
            if row is None:  # a concurrent retry with the same key won
                row = con.execute(self._sql(f"SELECT id FROM {self.table} WHERE client_key = ?"),
                                  [client_key]).fetchone()
            else:
                self._audit(con, principal, "notes.add", clean.finess, {"id": row[0],
                            "dac": clean.dac_id})
            return self._get(con, row[0])

    def update(self, note_id: int, note: NoteInput, principal: auth.Principal, *,
               expected: Note | None = None,
               allowed_names: frozenset[str] = frozenset()) -> Note:
        """Replace the fields of note ``note_id`` (same FINESS number): the "vérifié le" date
        is the one given, the author becomes the principal, ``updated_at`` now. The principal
        must be allowed to write for both the note's DAC and ``note.dac_id``; the fields pass
        the same checks (personal data included) as a new note.

        ``expected``: the note as the editor read it; if the stored one differs (someone
        edited or deleted it meanwhile), :class:`NoteConflictError` and nothing is written."""
        with self._connect() as con:
            old = self._locked(con, note_id)
            if old is None:
                if expected is not None:
                    raise NoteConflictError(f"la note {note_id} a été supprimée entre-temps : "
                                            "rien n'a été enregistré", current=None)
                raise NoteError(f"note {note_id} introuvable", field="id")
            auth.authorize(principal, "notes.write_dac", old.dac_id)
            auth.authorize(principal, "notes.write_dac", note.dac_id)
            if note.finess != old.finess:
                raise NoteError("le numéro FINESS d'une note ne change pas", field="finess")
            clean = validate_note(note, allowed_names)
            if expected is not None and old != expected:
                raise NoteConflictError(
                    f"la note a été modifiée par {old.author} le {old.updated_at} depuis que vous "
                    "l'avez ouverte : rien n'a été enregistré ; relisez-la puis refaites vos "
                    "changements", current=old)
            con.execute(self._sql(
                f"UPDATE {self.table} SET dac_id = ?, shared = ?, "
                + ", ".join(f"{f} = ?" for f in FIELDS)
                + ", verified_on = ?, author = ?, updated_at = ? WHERE id = ?"),
                [clean.dac_id, clean.shared, *(getattr(clean, f) for f in FIELDS),
                 clean.verified_on.isoformat() if clean.verified_on else None,
                 principal.subject, now_utc(), int(note_id)])
            self._audit(con, principal, "notes.update", old.finess, {"id": int(note_id)})
            return self._get(con, note_id)

    def delete(self, note_id: int, principal: auth.Principal) -> bool:
        """Delete note ``note_id`` (a coordinator of its DAC); True if it existed."""
        with self._connect() as con:
            old = self._get(con, note_id)
            if old is None:
                return False
            auth.authorize(principal, "notes.write_dac", old.dac_id)
            con.execute(self._sql(f"DELETE FROM {self.table} WHERE id = ?"), [int(note_id)])
            self._audit(con, principal, "notes.delete", old.finess, {"id": int(note_id)})
            return True

    # ------------------------------------------------------------------ reads
    def visible(self, principal: auth.Principal) -> list[Note]:
        """Every note the principal may read."""
        auth.authorize(principal, "notes.read_dac")
        where, args = self._visibility(principal)
        with self._connect() as con:
            return self._select(con, where, args)

    def for_resource(self, finess: str, principal: auth.Principal) -> list[Note]:
        """The notes on establishment ``finess`` the principal may read (own DACs first)."""
        auth.authorize(principal, "notes.read_dac")
        where, args = self._visibility(principal)
        with self._connect() as con:
            notes = self._select(con, f"finess = ? AND {where}", [finess, *args])
        return sorted(notes, key=lambda n: (n.dac_id not in principal.dacs, n.id))

    def for_resources(self, finess: Iterable[str], principal: auth.Principal
                      ) -> dict[str, list[Note]]:
        """The visible notes of several establishments (A4 sheet), by FINESS number."""
        wanted = set(finess)
        out: dict[str, list[Note]] = {}
        for note in self.visible(principal):
            if note.finess in wanted:
                out.setdefault(note.finess, []).append(note)
        return out

    def search(self, query: str, principal: auth.Principal) -> list[Note]:
        """The visible notes whose text holds every word of ``query`` (case and accents
        ignored)."""
        return [n for n in self.visible(principal) if matches(n, query)]

    def orphans(self, known_finess: Iterable[str], principal: auth.Principal) -> list[Note]:
        """The visible notes whose FINESS number is not in ``known_finess`` (the current
        catalogue): the establishment closed or left the registry."""
        known = set(known_finess)
        return [n for n in self.visible(principal) if n.finess not in known]


class SqliteNoteStore(NoteStore):
    """Notes in a SQLite file (embedded mode). The file and its folder are created on first
    use; writes are serialised by SQLite (``timeout`` 10 s)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    def _locked(self, con: Any, note_id: int) -> Note | None:
        con.execute("BEGIN IMMEDIATE")  # one writer of the file until the commit
        return self._get(con, note_id)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"impossible d'ouvrir les notes : {exc}", path=str(self.path)) from exc
        try:
            con.executescript(_SQLITE_DDL)
            yield con
            con.commit()
        except sqlite3.Error as exc:
            con.rollback()
            raise StoreError(f"notes illisibles ou non modifiables : {exc}",
                             path=str(self.path)) from exc
        except BaseException:
            con.rollback()
            raise
        finally:
            con.close()


class PostgresNoteStore(NoteStore):
    """Notes in ``dac_map.notes`` (server mode, concurrent writers; audited)."""

    table = "dac_map.notes"

    def __init__(self, url: str | None = None) -> None:
        from dac_map.server import db

        self.url = db.require_url(url)
        self.location = db.redact(self.url)

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        from dac_map.server import db

        with db.connect(self.url) as con:
            yield con

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def _locked(self, con: Any, note_id: int) -> Note | None:
        rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM {self.table} WHERE id = %s "
                           "FOR UPDATE", [int(note_id)]).fetchall()
        return self._row(rows[0]) if rows else None

    def _audit(self, con: Any, principal: auth.Principal, action: str, target: str,
               details: dict) -> None:
        from dac_map.server import audit

        audit.record(con, principal.subject, action, target, details, principal.roles)


def open_notes(location: str | Path | None = None) -> NoteStore:
    """The notes store of the current mode: PostgreSQL when ``location`` (or
    ``DAC_MAP_DATABASE_URL``) is a ``postgresql://`` URL, else the SQLite file ``location`` (or
    :func:`dac_map.server.config.notes_db`)."""
    loc = str(location) if location is not None else (config.database_url() or "")
    if loc.startswith(("postgresql://", "postgres://")):
        return PostgresNoteStore(loc)
    return SqliteNoteStore(location if location is not None else config.notes_db())
