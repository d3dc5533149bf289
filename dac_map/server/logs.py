"""Logs as JSON lines (server mode): one object per line on stderr, for journald/Loki/ELK.

Each line has ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``msg`` and the ``extra`` fields
given to the logging call (``event``, ``actor``, ``action``...). Never a note's or a comment's
text, never a token: callers log identifiers and outcomes only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from dac_map.server import config

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                   timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name,
               "msg": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(level: int | None = None) -> logging.Logger:
    """Install the handler of the ``dac_map`` logger once (JSON or text, see
    :func:`dac_map.server.config.log_format`; level :func:`dac_map.server.config.log_level`
    unless given); returns the logger."""
    level = config.log_level() if level is None else level
    logger = logging.getLogger("dac_map")
    if not any(getattr(h, "_dac_map", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._dac_map = True  # type: ignore[attr-defined]
        handler.setFormatter(JsonFormatter() if config.log_format() == "json"
                             else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return logger


@contextmanager
def timed_run(name: str) -> Iterator[None]:
    """Around one run of the app script: at debug level, one ``page_run`` line with the page,
    its duration (ms) and whether it completed (a rerun requested by the browser interrupts the
    current run: ``completed`` false)."""
    logger = logging.getLogger("dac_map.run")
    if not logger.isEnabledFor(logging.DEBUG):
        yield
        return
    t0 = time.perf_counter()
    completed = False
    try:
        yield
        completed = True
    finally:
        logger.debug("page run", extra={"event": "page_run", "page": name, "completed": completed,
                                        "ms": round((time.perf_counter() - t0) * 1000, 1)})
