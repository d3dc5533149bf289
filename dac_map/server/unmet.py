"""The unmet-need log behind authorisation, in SQLite (embedded) or PostgreSQL (server mode).

:class:`UnmetLog` is what the app calls: every method takes the :class:`~dac_map.server.auth.Principal`
and calls :func:`~dac_map.server.auth.authorize` itself (a coordinator records, lists, exports and
deletes the needs of their DACs only). Validation (no patient data) is
:func:`dac_map.coverage.unmet_model.validate_unmet_need`, the same in both modes. In PostgreSQL,
writers run concurrently; ``client_key`` makes a retried submission idempotent; every write is
audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from dac_map.coverage import unmet as log
from dac_map.coverage import unmet_model
from dac_map.server import auth, config

def is_url(location: object) -> bool:
    """True for a ``postgresql://`` location."""
    return str(location).startswith(("postgresql://", "postgres://"))


class UnmetLog:
    """The unmet-need log at ``location``: a SQLite path or a PostgreSQL URL; None (read at
    call time): ``DAC_MAP_DATABASE_URL`` in server mode, else ``settings.UNMET_NEEDS_DB``."""

    def __init__(self, location: str | Path | None = None) -> None:
        if location is None:
            from dac_map import settings

            location = config.database_url() or settings.UNMET_NEEDS_DB
        self.location = location

    # ------------------------------------------------------------------ writes
    def record(self, principal: auth.Principal, dac_id: str, commune: str | None,
               filters_json: Mapping[str, Any] | list | str | None, filters_label: str,
               comment: str = "", recorded_by_role: str | None = None,
               resource_type: str | None = None, *, client_key: str | None = None,
               allowed_names: frozenset[str] = frozenset(),
               reason: str = unmet_model.DEFAULT_REASON) -> unmet_model.UnmetNeed:
        """Authorise, validate and store one need (see
        :func:`dac_map.coverage.unmet.record_unmet_need`)."""
        auth.authorize(principal, "unmet.write_dac", dac_id)
        if not is_url(self.location):
            return log.record_unmet_need(dac_id, commune, filters_json, filters_label, comment,
                                         recorded_by_role, resource_type, db_path=self.location,
                                         allowed_names=allowed_names, reason=reason)
        from dac_map.server import audit, db

        need = unmet_model.validate_unmet_need(dac_id, commune, filters_json, filters_label,
                                               comment, recorded_by_role, resource_type, None,
                                               allowed_names, reason)
        with db.connect(str(self.location)) as con:
            row = con.execute(
                "INSERT INTO dac_map.unmet_needs (recorded_at, dac_id, commune, resource_type, "
                "filters_json, filters_label, comment, recorded_by_role, reason, client_key) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (client_key) "
                "DO NOTHING RETURNING id",
                (need.recorded_at, need.dac_id, need.commune, need.resource_type,
                 need.filters_json, need.filters_label, need.comment, need.recorded_by_role,
                 need.reason, client_key)).fetchone()
            if row is None:  # the same submission was already stored
                row = con.execute("SELECT id FROM dac_map.unmet_needs WHERE client_key = %s",
                                  (client_key,)).fetchone()
            else:
                audit.record(con, principal.subject, "unmet.add", str(row[0]),
                             {"dac": need.dac_id}, principal.roles)
        return unmet_model.UnmetNeed(**{**need.__dict__, "id": int(row[0])})

    def delete(self, principal: auth.Principal, need_id: int) -> bool:
        """Delete one record of one of the principal's DACs; True if it existed."""
        found = self._frame(ids=[int(need_id)])
        if not len(found):
            return False
        auth.authorize(principal, "unmet.write_dac", found["dac_id"].iloc[0])
        if not is_url(self.location):
            return log.delete_unmet_need(int(need_id), self.location)
        from dac_map.server import audit, db

        with db.connect(str(self.location)) as con:
            n = con.execute("DELETE FROM dac_map.unmet_needs WHERE id = %s",
                            (int(need_id),)).rowcount
            audit.record(con, principal.subject, "unmet.delete", str(need_id), {},
                         principal.roles)
        return n > 0

    # ------------------------------------------------------------------ reads
    def list(self, principal: auth.Principal, *, dacs: list[str] | None = None,
             **filters: Any) -> pd.DataFrame:
        """The needs of the principal's DACs (or of ``dacs`` among them), filtered as
        :func:`dac_map.coverage.unmet.list_unmet_needs`. Comments included: coordinators only."""
        auth.authorize(principal, "unmet.read_dac")
        frame = self._frame(**filters)
        if auth.ALL_DACS not in principal.dacs:
            frame = frame[frame["dac_id"].isin(principal.dacs)]
        if dacs is not None:
            frame = frame[frame["dac_id"].isin(dacs)]
        return frame.reset_index(drop=True)

    def _frame(self, ids: list[int] | None = None, *, start: date | datetime | str | None = None,
               end: date | datetime | str | None = None, dac_id: str | None = None,
               commune: str | None = None, resource_type: str | None = None,
               commune_names: Mapping[str, str] | None = None) -> pd.DataFrame:
        if not is_url(self.location):
            frame = log.list_unmet_needs(self.location, start=start, end=end, dac_id=dac_id,
                                         commune=commune, resource_type=resource_type,
                                         commune_names=commune_names)
            return frame[frame["id"].isin(ids)] if ids is not None else frame
        return list_pg(str(self.location), ids=ids, start=start, end=end, dac_id=dac_id,
                       commune=commune, resource_type=resource_type, commune_names=commune_names)


def list_pg(url: str, *, ids: list[int] | None = None, start: date | datetime | str | None = None,
            end: date | datetime | str | None = None, dac_id: str | None = None,
            commune: str | None = None, resource_type: str | None = None,
            commune_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`dac_map.coverage.unmet.list_unmet_needs` on the PostgreSQL log (same columns)."""
    from dac_map.server import db

    query, args = log.list_query("dac_map.unmet_needs", start=start, end=end, dac_id=dac_id,
                                 commune=commune, resource_type=resource_type, ids=ids)
    with db.connect(url) as con:
        rows = con.execute(query.replace("?", "%s"), args).fetchall()
    return log.log_frame(rows, commune_names)
