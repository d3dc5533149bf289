"""The one PostgreSQL gateway of server mode (psycopg 3).

Every connection is opened here, so that failures become a :class:`~dac_map.errors.StoreError`
naming the database (password never shown) and every session uses UTC.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from dac_map.errors import StoreError
from dac_map.server import config

#: The schema of the application tables (users, notes, unmet needs, audit, versions).
APP_SCHEMA = "dac_map"
log = logging.getLogger("dac_map.db")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for messages and logs)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def require_url(url: str | None = None) -> str:
    """``url``, or the configured one; raises :class:`StoreError` when neither is set."""
    url = url or config.database_url()
    if not url:
        raise StoreError("server mode is off: set DAC_MAP_DATABASE_URL=postgresql://... / "
                         "mode serveur inactif : définir DAC_MAP_DATABASE_URL")
    return url


@contextmanager
def connect(url: str | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection: commits on success, rolls back on error, always closes.

    Raises :class:`StoreError` when the database cannot be reached or a statement fails
    (psycopg errors are wrapped; our own errors pass through).
    """
    url = require_url(url)
    t0 = time.perf_counter()
    try:
        con = psycopg.connect(url, connect_timeout=max(1, int(config.db_timeout())),
                              autocommit=autocommit, options="-c timezone=UTC")
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {exc}".strip(), path=redact(url)) from exc
    if log.isEnabledFor(logging.DEBUG):
        log.debug("connected", extra={"event": "db_connect",
                                      "ms": round((time.perf_counter() - t0) * 1000, 1)})
    try:
        with con:
            yield con
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL error: {exc}".strip(), path=redact(url)) from exc
    finally:
        con.close()


def quote_ident(name: str) -> str:
    """A safe SQL identifier (only ``[a-z0-9_]`` names are accepted)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise StoreError(f"invalid SQL identifier: {name!r}")
    return f'"{name}"'
