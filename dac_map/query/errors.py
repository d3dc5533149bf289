"""The error of the query layer."""

from __future__ import annotations

from dac_map.errors import DacMapError


class QueryError(DacMapError):
    """A query cannot be answered as asked: unknown DAC id, commune or FINESS number, bad point,
    radius, page or option. The message is bilingual (French / English). CLI exit code 2."""

    exit_code = 2
