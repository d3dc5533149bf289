"""The outcome of a refresh or rollback run (:class:`RefreshResult`, its statuses and exit
code), recording a failure in it, and the JSON-lines log every run appends to
(:func:`append_log`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dac_map.errors import DacMapError, LockedError, ValidationError
from dac_map.refresh.config import RefreshConfig
from dac_map.refresh.diff import ChangeReport
from dac_map.refresh.validate import Check
from dac_map.refresh.versions import (
    now,
)

STATUS_OK = "ok"
STATUS_UNCHANGED = "unchanged"
STATUS_DRY_RUN = "dry-run"
STATUS_CANCELLED = "cancelled"
STATUS_REFUSED = "refused"
STATUS_LOCKED = "locked"
STATUS_FAILED = "failed"
STATUS_ROLLBACK = "rollback"
STATUS_HELD = "held"


Say = Callable[[str], None]
Confirm = Callable[[ChangeReport, list[Check]], bool]


@dataclass
class RefreshResult:
    """Outcome of one run; :meth:`as_dict` is the JSON line written to the log."""

    status: str
    exit_code: int
    started: str
    config: str
    store: str
    dry_run: bool = False
    finished: str | None = None
    duration_s: float | None = None
    version: str | None = None
    version_path: str | None = None
    previous_version: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    changes_total: int = 0
    checks: list[dict[str, object]] = field(default_factory=list)
    sources: dict[str, dict[str, object]] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    pruned: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    #: road networks (issue 12): territory id -> "reconstruit" / "inchangé" / "erreur : ..."
    networks: dict[str, str] = field(default_factory=dict)
    error: dict[str, str] | None = None
    #: The change report (not written to the log).
    report: ChangeReport | None = field(default=None, repr=False, compare=False)
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def as_dict(self) -> dict[str, object]:
        """JSON-serialisable summary (no report object, no exception)."""
        out: dict[str, object] = {"time": self.started}
        out.update((f.name, getattr(self, f.name)) for f in dataclasses.fields(self)
                   if f.name not in ("started", "report", "exception"))
        return out

    def raise_for_status(self) -> None:
        """Re-raise the error of a failed run."""
        if self.exception is not None:
            raise self.exception


def iso_time(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def append_log(path: Path, result: RefreshResult) -> None:
    """Append one JSON line describing ``result`` to the log file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(result.as_dict(), ensure_ascii=False, default=str)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def record_failure(result: RefreshResult, exc: BaseException, *, refused_status: str) -> None:
    """Put an exception into ``result``: status, exit code (see :mod:`dac_map.errors`), message.

    Interrupts (KeyboardInterrupt, SystemExit) are re-raised after being recorded."""
    if isinstance(exc, DacMapError):
        result.status = (STATUS_LOCKED if isinstance(exc, LockedError) else
                         refused_status if isinstance(exc, ValidationError) else STATUS_FAILED)
        result.exit_code = exc.exit_code
        result.error = {"type": type(exc).__name__, "message": str(exc)}
    elif isinstance(exc, Exception):
        result.status, result.exit_code = STATUS_FAILED, 1
        result.error = {"type": type(exc).__name__, "message": str(exc),
                        "traceback": traceback.format_exc(limit=20)}
    else:
        raise exc
    result.exception = exc


def finish(config: RefreshConfig, result: RefreshResult, t0: float) -> None:
    """Stamp the end time and duration and append the JSON log line (never raises)."""
    result.finished = iso_time(now())
    result.duration_s = round(time.monotonic() - t0, 3)
    try:
        append_log(config.store.log_file, result)
    except OSError as exc:
        result.messages.append(f"cannot write the log {config.store.log_file}: {exc}")
