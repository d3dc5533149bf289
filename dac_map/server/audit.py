"""The audit log of server mode: who did what, when (``dac_map.audit_log``).

Entries name the account (``sub``), the action, the target (a record id, a FINESS number, a
version) and non-personal details; never a comment or a note's text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd
import psycopg

from dac_map.server import db


def record(con: psycopg.Connection, actor: str, action: str, target: str | None = None,
           details: Mapping[str, object] | None = None, roles: frozenset[str] = frozenset()) -> None:
    """Add one entry inside the caller's transaction (so it commits with the change)."""
    con.execute("INSERT INTO dac_map.audit_log (actor, roles, action, target, details) "
                "VALUES (%s, %s, %s, %s, %s)",
                (actor, sorted(roles), action, target, json.dumps(dict(details or {}), default=str)))


def entries(url: str | None = None, limit: int = 200) -> pd.DataFrame:
    """The newest ``limit`` entries (columns ``at``, ``actor``, ``roles``, ``action``,
    ``target``, ``details``)."""
    with db.connect(url) as con:
        rows = con.execute("SELECT at, actor, roles, action, target, details FROM "
                           "dac_map.audit_log ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
    return pd.DataFrame(rows, columns=["at", "actor", "roles", "action", "target", "details"])
