"""The unmet-need log ("besoins non couverts"): record, list, filter, export, delete.

When a coordinator's search finds no suitable resource, one click records it: when (UTC), for
which DAC territory and commune, with which search filters (JSON + the French label shown to
the user), of which type, with a free comment. The log is what the ARS report counts.

**Little free text, and no personal data.** A record is made of the search criteria and a
coded reason (:data:`REASONS`: no resource, no capacity, too far, waiting time, refused
admission, other); the comment is optional and short
(:data:`~dac_map.settings.UNMET_COMMENT_MAX_CHARS`). Every free-text field (the comment, the
filters label, the role, every text value of the filters) is checked by
:func:`dac_map.privacy.check_free_text` and the record is REFUSED with
:class:`PersonalDataError` (a French message naming what was detected) when it looks like it
holds a NIR, a full or birth date, a phone number, an e-mail address or a person's name, in
plain or obfuscated forms (see :mod:`dac_map.privacy`). Public names of the store
(establishments, communes) can be exempted from the name check of the fields the app generates
(:func:`~dac_map.privacy.allowed_name_pairs`).

**Retention and exports.** Records older than
:data:`~dac_map.settings.UNMET_RETENTION_MONTHS` months are deleted each time the log is opened
(and by ``dac-map unmet purge``). Exports leave the comments out unless asked
(``include_comments=True``, ``dac-map unmet export --with-comments``, the app's checkbox).

Storage: a SQLite file (default :data:`dac_map.settings.UNMET_NEEDS_DB`) separate from the
GeoPackage, so that refreshing the FINESS data never erases the log. Table ``unmet_needs``:

==================  =======  =============================================================
``id``              INTEGER  primary key
``recorded_at``     TEXT     ISO 8601 UTC, seconds (``2024-03-01T09:15:00+00:00``)
``dac_id``          TEXT     DAC territory id (``DAC-80``)
``commune``         TEXT     INSEE commune code of the need, or NULL
``resource_type``   TEXT     French label of the kind of resource looked for
``filters_json``    TEXT     the search criteria, versioned JSON (:mod:`dac_map.query.spec`:
                             ``{"v": 1, "famille": [...], ...}``)
``filters_label``   TEXT     the search filters, French text
``comment``         TEXT     free comment (checked: no patient data)
``recorded_by_role`` TEXT    optional role of the person recording (``coordinatrice``...)
``reason``          TEXT     reason code (:data:`REASONS`); rows of older logs get ``other``
``legacy_filters_json`` TEXT criteria as first stored by schema 1 (rows migrated), else NULL
==================  =======  =============================================================

Schema version in ``PRAGMA user_version`` (:data:`SCHEMA_VERSION`); an older log is migrated
when opened (:func:`_migrate`), in one transaction.

Errors: every validation problem raises :class:`~dac_map.coverage.unmet_model.UnmetNeedError`
(or its subclass :class:`~dac_map.coverage.unmet_model.PersonalDataError`; the record's fields
and checks are in :mod:`dac_map.coverage.unmet_model`); a database that cannot be opened or written raises
:class:`~dac_map.errors.StoreError`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from dac_map import settings
from dac_map.coverage import criteria
from dac_map.coverage.unmet_model import (
    DEFAULT_REASON,
    REASONS,
    UnmetNeed,
    UnmetNeedError,
    validate_unmet_need,
)
from dac_map.errors import StoreError
from dac_map.query.spec import SearchSpec
from dac_map.tabular import csv_bytes, write_bytes

#: Schema version of the SQLite log (``PRAGMA user_version``; older logs are migrated).
SCHEMA_VERSION = 2
#: Table of the log (in server mode: ``dac_map.unmet_needs``, :mod:`dac_map.server.unmet`).
TABLE = "unmet_needs"

# --------------------------------------------------------------------------- storage

_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    dac_id TEXT NOT NULL,
    commune TEXT,
    resource_type TEXT NOT NULL,
    filters_json TEXT NOT NULL,
    filters_label TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    recorded_by_role TEXT,
    legacy_filters_json TEXT
);
CREATE INDEX IF NOT EXISTS {TABLE}_when ON {TABLE} (recorded_at);
CREATE INDEX IF NOT EXISTS {TABLE}_dac ON {TABLE} (dac_id, commune);
"""


@contextmanager
def connect(db_path: str | Path | None = None) -> Iterator[sqlite3.Connection]:
    """Open (creating it and its folder when needed) the unmet-need database; commits on
    success, rolls back on error, always closes. Raises :class:`StoreError`. Default:
    :data:`~dac_map.settings.UNMET_NEEDS_DB`, read at call time."""
    path = Path(settings.UNMET_NEEDS_DB if db_path is None else db_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=10)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"impossible d'ouvrir le journal des besoins non couverts : {exc}",
                         path=str(path)) from exc
    try:
        con.row_factory = sqlite3.Row
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"journal créé par une version plus récente (schéma {version})",
                             path=str(path))
        con.executescript(_DDL)
        if version < SCHEMA_VERSION:
            _migrate(con)
        _ensure_reason_column(con)
        _purge(con, settings.UNMET_RETENTION_MONTHS)
        yield con
        con.commit()
    except sqlite3.Error as exc:
        con.rollback()
        raise StoreError(f"journal des besoins non couverts illisible ou non modifiable : {exc}",
                         path=str(path)) from exc
    finally:
        con.close()


def _ensure_reason_column(con: sqlite3.Connection) -> None:
    """Logs written before reason codes existed get a ``reason`` column; their rows read
    :data:`DEFAULT_REASON` ("other": the reason was not recorded)."""
    cols = {r[1] for r in con.execute(f"PRAGMA table_info({TABLE})")}
    if "reason" not in cols:
        con.execute(f"ALTER TABLE {TABLE} ADD COLUMN reason TEXT NOT NULL DEFAULT '{DEFAULT_REASON}'")


def retention_cutoff(months: int, now: datetime | None = None) -> datetime:
    """The instant (UTC) ``months`` calendar months before ``now`` (day clamped to the
    month's length: 31 March minus one month is 28/29 February)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    total = now.year * 12 + (now.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    days = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31,
            30, 31, 31, 30, 31, 30, 31][month - 1]
    return now.replace(year=year, month=month, day=min(now.day, days))


def _purge(con: sqlite3.Connection, months: int, now: datetime | None = None) -> int:
    if months <= 0:
        return 0
    cutoff = retention_cutoff(months, now).isoformat(timespec="seconds")
    return con.execute(f"DELETE FROM {TABLE} WHERE recorded_at < ?", (cutoff,)).rowcount


def purge_unmet_needs(db_path: str | Path | None = None, months: int | None = None,
                      now: datetime | None = None) -> int:
    """Delete the records older than ``months`` months (default: the
    :data:`~dac_map.settings.UNMET_RETENTION_MONTHS` setting; 0 deletes nothing) from the log
    (default :data:`~dac_map.settings.UNMET_NEEDS_DB`); returns how many were deleted. A
    missing log is left missing."""
    db_path = settings.UNMET_NEEDS_DB if db_path is None else db_path
    if not Path(db_path).exists():
        return 0
    months = settings.UNMET_RETENTION_MONTHS if months is None else int(months)
    if months < 0:
        raise UnmetNeedError("durée de conservation négative", field="months")
    path = Path(db_path)
    try:
        con = sqlite3.connect(path, timeout=10)
    except sqlite3.Error as exc:
        raise StoreError(f"impossible d'ouvrir le journal des besoins non couverts : {exc}",
                         path=str(path)) from exc
    try:
        with con:
            return _purge(con, months, now)
    except sqlite3.Error as exc:
        raise StoreError(f"journal des besoins non couverts non modifiable : {exc}",
                         path=str(path)) from exc
    finally:
        con.close()


def _migrate(con: sqlite3.Connection) -> None:
    """Bring a log of an older schema to :data:`SCHEMA_VERSION`, in one transaction (all or
    nothing). Schema 1 -> 2: criteria rewritten in the versioned JSON form
    (:func:`dac_map.coverage.criteria.migrate_text`), the original text kept in
    ``legacy_filters_json``."""
    con.commit()
    level = con.isolation_level
    con.isolation_level = None  # explicit transaction: ALTER TABLE included
    try:
        con.execute("BEGIN IMMEDIATE")
        columns = {r[1] for r in con.execute(f"PRAGMA table_info({TABLE})")}
        if "legacy_filters_json" not in columns:
            con.execute(f"ALTER TABLE {TABLE} ADD COLUMN legacy_filters_json TEXT")
        for rid, text in con.execute(f"SELECT id, filters_json FROM {TABLE}").fetchall():
            new = criteria.migrate_text(text)
            if new is not None:
                con.execute(f"UPDATE {TABLE} SET filters_json = ?, legacy_filters_json = ? "
                            "WHERE id = ?", (new, text, rid))
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.isolation_level = level


def record_unmet_need(dac_id: str, commune: str | None,
                      filters_json: SearchSpec | Mapping[str, Any] | list | str | None,
                      filters_label: str,
                      comment: str = "", recorded_by_role: str | None = None,
                      resource_type: str | None = None, *,
                      db_path: str | Path | None = None,
                      recorded_at: datetime | None = None,
                      allowed_names: frozenset[str] = frozenset(),
                      reason: str = DEFAULT_REASON) -> UnmetNeed:
    """Validate and store one unmet need; returns it with its ``id``.

    Args:
        dac_id: DAC territory id (``DAC-80``).
        commune: INSEE code of the commune the need is about, or None.
        filters_json: the search criteria: a :class:`~dac_map.query.spec.SearchSpec`, its
            JSON form (dict or text), or a former form (converted,
            :func:`dac_map.coverage.criteria.normalise`).
        filters_label: the filters as French text (as shown to the user).
        comment: free comment, optional and short (setting ``UNMET_COMMENT_MAX_CHARS``) —
            no personal data (checked).
        recorded_by_role: optional role of the person recording (no name).
        resource_type: French label of the kind looked for; read from the filters when None.
        db_path: the SQLite file (created when missing).
        recorded_at: timestamp (default now, UTC).
        allowed_names: public names exempt from the name check of the generated fields
            (see :func:`validate_unmet_need`).
        reason: reason code, one of :data:`REASONS`.

    Raises :class:`PersonalDataError` when a field looks like patient-identifying data,
    :class:`UnmetNeedError` for other invalid fields, :class:`StoreError` if the database
    cannot be written.
    """
    need = validate_unmet_need(dac_id, commune, filters_json, filters_label, comment,
                               recorded_by_role, resource_type, recorded_at, allowed_names, reason)
    with connect(db_path) as con:
        cur = con.execute(
            f"INSERT INTO {TABLE} (recorded_at, dac_id, commune, resource_type, filters_json, "
            "filters_label, comment, recorded_by_role, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (need.recorded_at, need.dac_id, need.commune, need.resource_type, need.filters_json,
             need.filters_label, need.comment, need.recorded_by_role, need.reason))
        new_id = int(cur.lastrowid)
    return UnmetNeed(**{**need.__dict__, "id": new_id})


# --------------------------------------------------------------------------- list and export

#: Columns read from the table (the SELECT of :func:`list_query`, in the table's order).
_COLUMNS = ("id", "recorded_at", "dac_id", "commune", "resource_type", "filters_json",
            "filters_label", "comment", "recorded_by_role", "reason")
#: Columns of the list/export frames (those, and ``commune_name`` from the catalogue), in
#: their order, with their French CSV headers.
EXPORT_HEADERS: dict[str, str] = {
    "id": "id",
    "recorded_at": "date_utc",
    "dac_id": "territoire",
    "commune": "commune",
    "commune_name": "nom_commune",
    "reason": "motif",
    "resource_type": "type_de_ressource",
    "filters_label": "criteres",
    "comment": "commentaire",
    "recorded_by_role": "role",
    "filters_json": "criteres_json",
}


def _bound(value: date | datetime | str | None, end: bool) -> str | None:
    """ISO UTC text bound of a period: a date covers the whole day (UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError as exc:
            raise UnmetNeedError(f"date invalide : {value!r} (attendu AAAA-MM-JJ)",
                                 field="recorded_at") from exc
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        dt = datetime.combine(value, time.max if end else time.min, tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def list_unmet_needs(db_path: str | Path | None = None, *,
                     start: date | datetime | str | None = None,
                     end: date | datetime | str | None = None, dac_id: str | None = None,
                     commune: str | None = None, resource_type: str | None = None,
                     commune_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The recorded needs, newest first, filtered by period (``start``/``end`` inclusive; a
    date means the whole UTC day), territory, commune code and resource type.

    Columns: ``id``, ``recorded_at``, ``dac_id``, ``commune``, ``commune_name`` (from
    ``commune_names`` when given), ``reason`` (code, :data:`REASONS`), ``resource_type``, ``filters_label``, ``comment``,
    ``recorded_by_role``, ``filters_json``. A missing database file is an empty log.
    """
    cols = list(EXPORT_HEADERS)
    db_path = settings.UNMET_NEEDS_DB if db_path is None else db_path
    if str(db_path).startswith(("postgresql://", "postgres://")):  # server mode (issue 14)
        from dac_map.server.unmet import list_pg

        return list_pg(str(db_path), start=start, end=end, dac_id=dac_id, commune=commune,
                       resource_type=resource_type, commune_names=commune_names)
    if not Path(db_path).exists():
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    sql, args = list_query(TABLE, start=start, end=end, dac_id=dac_id, commune=commune,
                           resource_type=resource_type)
    with connect(db_path) as con:
        rows = [tuple(r) for r in con.execute(sql, args).fetchall()]
    return log_frame(rows, commune_names)


def list_query(table: str, *, start: date | datetime | str | None = None,
               end: date | datetime | str | None = None, dac_id: str | None = None,
               commune: str | None = None, resource_type: str | None = None,
               ids: list[int] | None = None) -> tuple[str, list]:
    """The SELECT of :func:`list_unmet_needs` (``?`` placeholders) and its arguments; shared
    with the PostgreSQL log (:mod:`dac_map.server.unmet`)."""
    where, args = [], []
    lo, hi = _bound(start, False), _bound(end, True)
    if lo:
        where.append("recorded_at >= ?")
        args.append(lo)
    if hi:
        where.append("recorded_at <= ?")
        args.append(hi)
    for col, value in (("dac_id", dac_id), ("commune", commune), ("resource_type", resource_type)):
        if value:
            where.append(f"{col} = ?")
            args.append(value)
    if ids is not None:
        where.append(f"id IN ({', '.join('?' for _ in ids) or 'NULL'})")
        args.extend(int(i) for i in ids)
    sql = f"SELECT {', '.join(_COLUMNS)} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY recorded_at DESC, id DESC", args


def log_frame(rows: list[tuple], commune_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The rows of :func:`list_query` as the list/export frame (columns of
    :data:`EXPORT_HEADERS`)."""
    frame = pd.DataFrame(rows, columns=list(_COLUMNS), dtype="object")
    frame["id"] = frame["id"].astype("int64")
    names = commune_names or {}
    frame["commune_name"] = frame["commune"].map(lambda c: names.get(c) if c else None)
    return frame[list(EXPORT_HEADERS)]


def delete_unmet_need(need_id: int, db_path: str | Path | None = None) -> bool:
    """Delete one record (a correction, or a data-protection request); True if it existed."""
    with connect(db_path) as con:
        return con.execute(f"DELETE FROM {TABLE} WHERE id = ?", (int(need_id),)).rowcount > 0


def unmet_needs_csv(frame: pd.DataFrame, include_comments: bool = False) -> bytes:
    """A list of needs (:func:`list_unmet_needs`) as CSV bytes (:mod:`dac_map.tabular`: ``;``,
    UTF-8 with BOM, formulas neutralised), French headers, the reason as its French label.
    The free comments are left out unless ``include_comments``."""
    cols = [c for c in EXPORT_HEADERS if c in frame.columns
            and (include_comments or c != "comment")]
    out = frame[cols].copy()
    if "reason" in out:
        out["reason"] = out["reason"].map(lambda r: REASONS.get(r, r))
    return csv_bytes(out, [EXPORT_HEADERS[c] for c in cols])


def export_unmet_needs_csv(path: str | Path, db_path: str | Path | None = None,
                           include_comments: bool = False, **filters: Any) -> Path:
    """Write the (filtered, see :func:`list_unmet_needs`) log to a CSV file, without the
    comments unless ``include_comments``."""
    return write_bytes(Path(path), unmet_needs_csv(list_unmet_needs(db_path, **filters),
                                                   include_comments))


def unmet_needs_by_reason(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts of needs by reason code (``reason``, French ``label``, ``needs``), in the order of
    :data:`REASONS`, reasons with no record left out."""
    counts = frame["reason"].value_counts() if "reason" in frame and len(frame) else {}
    rows = [(code, label, int(counts[code])) for code, label in REASONS.items()
            if code in counts and counts[code]]
    return pd.DataFrame(rows, columns=["reason", "label", "needs"])


def unmet_needs_summary(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts of needs by resource type and by commune (``commune``, ``commune_name``):
    ``(by_type, by_commune)``, largest first."""
    if not len(frame):
        return (pd.DataFrame(columns=["resource_type", "needs"]),
                pd.DataFrame(columns=["commune", "commune_name", "needs"]))
    by_type = (frame.groupby("resource_type").size().rename("needs").reset_index()
               .sort_values(["needs", "resource_type"], ascending=[False, True], kind="stable"))
    com = frame.assign(commune=frame["commune"].fillna("(non précisée)"),
                       commune_name=frame["commune_name"].fillna(""))
    by_commune = (com.groupby(["commune", "commune_name"]).size().rename("needs").reset_index()
                  .sort_values(["needs", "commune"], ascending=[False, True], kind="stable"))
    return by_type.reset_index(drop=True), by_commune.reset_index(drop=True)
