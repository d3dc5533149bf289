"""Named exceptions of dac-map and the exit codes the CLI maps them to.

Row-level problems are not exceptions: they are collected as :class:`RowIssue` and
written to a reject file. File-level problems abort the run with one of these.

Exit codes (``dac-map`` CLI):

====  =====================================================================
0     success (rows may have been rejected: see the reject report)
1     unexpected internal error
2     usage error (bad command-line arguments)
3     input file missing or unreadable
4     input file in the wrong format or encoding
5     too many rejected rows, or an inconsistent dataset (validation failed)
6     the store could not be written (the previous store is untouched)
7     another refresh holds the lock
8     forbidden: the signed-in role may not do this (server mode)
====  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass


class DacMapError(Exception):
    """Base class of every error dac-map reports to its user."""

    exit_code = 1

    def __init_subclass__(cls, *, exit_code: int | None = None, **kw: object) -> None:
        """``class XError(DacMapError, exit_code=N)`` sets the CLI exit code of a new domain."""
        super().__init_subclass__(**kw)
        if exit_code is not None:
            cls.exit_code = exit_code

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(str(self.path))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class InputMissingError(DacMapError, exit_code=3):
    """An input file does not exist or cannot be read."""


class InputFormatError(DacMapError, exit_code=4):
    """An input file is not in the expected layout or encoding."""


class ValidationError(DacMapError, exit_code=5):
    """The dataset as a whole failed a check (too many rejects, empty territory...)."""


class StoreError(DacMapError, exit_code=6):
    """The GeoPackage could not be written or read."""


class LockedError(DacMapError, exit_code=7):
    """Another refresh is running."""


class ForbiddenError(DacMapError, exit_code=8):
    """The principal's roles do not allow the action (server mode, :mod:`dac_map.server.auth`)."""


#: What a reader did about a row problem (:attr:`RowIssue.action`): the row dropped, the row
#: kept (a value blanked, repaired or flagged), or one object inside a record left out and the
#: rest kept (a FINESS+ capacity or activity, :mod:`dac_map.finess_plus.deviations`).
REJECTED = "rejected"
KEPT = "kept"
SKIPPED = "skipped"


@dataclass(frozen=True)
class RowIssue:
    """One problem found on one line of an input file.

    ``action`` says what the reader did about it: :data:`REJECTED`, :data:`KEPT` or
    :data:`SKIPPED`.
    """

    path: str
    line: int
    field: str
    reason: str
    action: str = REJECTED
    raw: str = ""

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}, field '{self.field}': {self.reason} ({self.action})"
