"""Server-mode settings. Each is read from the environment AT CALL TIME (so a test or a
process can change it), with its type, unit and default documented here.

==============================  =======  ===========================================================
``DAC_MAP_DATABASE_URL``        str      PostgreSQL URL (``postgresql://user@host:port/db``). Empty
                                         (default): embedded mode, no server, no sign-in.
``DAC_MAP_KEEP_VERSIONS``       int      catalogue versions kept in PostGIS (served one included);
                                         default 3, minimum 2 (so that a rollback is possible).
``DAC_MAP_ROLES_CLAIM``         str      name of the ID-token claim holding roles
                                         (``["coordinateur:DAC-80", "ars"]``); default
                                         ``dac_map_roles``. The ``users`` table wins over it.
``DAC_MAP_NOTES_DB``            path     SQLite file of the coordinators' notes in embedded mode;
                                         default ``<DATA_DIR>/notes.sqlite``.
``DAC_MAP_LOG_FORMAT``          str      ``json`` (default in server mode: one JSON object per
                                         line on stderr) or ``text``.
``DAC_MAP_DB_TIMEOUT_S``        float    seconds to wait for a connection; default 10.
``DAC_MAP_LOG_LEVEL``           str      ``info`` (default) or ``debug``: debug adds one line per
                                         page run (its duration) and per PostgreSQL connection
                                         opened (diagnosis, load tests).
==============================  =======  ===========================================================
"""

from __future__ import annotations

import os
from pathlib import Path


def database_url() -> str | None:
    """The PostgreSQL URL of server mode, or None (embedded mode)."""
    url = os.environ.get("DAC_MAP_DATABASE_URL", "").strip()
    return url or None


def server_mode() -> bool:
    """True when ``DAC_MAP_DATABASE_URL`` is set."""
    return database_url() is not None


def keep_versions() -> int:
    """Catalogue versions kept in PostGIS (>= 2)."""
    return max(2, int(os.environ.get("DAC_MAP_KEEP_VERSIONS", "3")))


def roles_claim() -> str:
    """The ID-token claim that lists roles."""
    return os.environ.get("DAC_MAP_ROLES_CLAIM", "dac_map_roles")


def notes_db() -> Path:
    """The SQLite file of the notes in embedded mode."""
    from dac_map import settings

    return Path(os.environ.get("DAC_MAP_NOTES_DB", str(Path(settings.DATA_DIR) / "notes.sqlite")))


def log_format() -> str:
    """``json`` or ``text``."""
    return os.environ.get("DAC_MAP_LOG_FORMAT", "json" if server_mode() else "text").lower()


def db_timeout() -> float:
    """Connection timeout, seconds."""
    return float(os.environ.get("DAC_MAP_DB_TIMEOUT_S", "10"))


def log_level() -> int:
    """The level of the ``dac_map`` logger (:mod:`logging` constant)."""
    import logging

    return logging.DEBUG if os.environ.get("DAC_MAP_LOG_LEVEL", "info").lower() == "debug" \
        else logging.INFO
