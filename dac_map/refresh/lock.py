"""An exclusive, non-blocking lock so that two refreshes never run at once.

``fcntl.flock`` on a lock file beside the store: the kernel releases it when the holder exits,
even after a crash or ``kill -9``, so a stale lock file never blocks the next run. The file is
never deleted (deleting it would let two processes lock two different files); it holds the PID
and start time of the current holder, for the error message.
"""

from __future__ import annotations

import fcntl
import os
from datetime import datetime, timezone
from pathlib import Path

from dac_map.errors import LockedError


class RefreshLock:
    """``with RefreshLock(path):`` holds the lock or raises :class:`LockedError` at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = ""
            try:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            except OSError:
                pass
            os.close(fd)
            raise LockedError(
                "another refresh is running / une autre mise à jour est en cours"
                + (f" ({holder})" if holder else ""), path=str(self.path)) from exc
        os.ftruncate(fd, 0)
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        os.pwrite(fd, f"pid {os.getpid()} since {now}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> RefreshLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
