"""The ONE writer of every CSV and XLSX file dac-map produces (search results, coverage tables,
ETL reject reports, refresh change reports, the unmet-need export, the ARS report, the app's
downloads). It neutralises spreadsheet formulas (CSV/formula injection):

* CSV: a text cell whose first character — or first character after leading spaces — is
  ``=``, ``+``, ``-`` or ``@``, or which starts with a tab, a carriage return or a line feed,
  is prefixed with ``'`` (the spreadsheet then shows it as text and never runs it). Numbers
  stay numbers: numeric columns are not touched, and a text cell that is a plain number
  (``-12``, ``-3,5``, ``+33``... matched by :data:`PLAIN_NUMBER`) is left as it is, since a
  spreadsheet reads it as that number, not as a formula.
* XLSX (openpyxl): every text cell is stored as text (``data_type = "s"``), never as a
  formula, and characters XML cannot hold are removed; numbers are written as numbers.

Functions: :func:`neutralise` (one value), :func:`neutralise_frame`, :func:`csv_bytes` /
:func:`write_csv` (a DataFrame, or a header and rows), :func:`xlsx_sheet` / :func:`xlsx_bytes`
/ :func:`write_xlsx`. Files are written atomically (temporary file + rename in the same
folder): an interrupted write never leaves half a file in place of the previous one.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Union

import pandas as pd

#: Characters that make a spreadsheet read a cell as a formula (after leading spaces).
FORMULA_START = ("=", "+", "-", "@")
#: Characters that are dangerous as the very first character of a cell.
CONTROL_START = ("\t", "\r", "\n")
#: A text cell that is just a number (decimal point or comma, optional exponent): not a formula.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")

Rows = Union[pd.DataFrame, Iterable[Sequence[Any]]]


def neutralise(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would run as a formula; then the text
    prefixed with ``'``. Non-text values (numbers, dates, None) are returned as they are."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(CONTROL_START):
        return "'" + value
    stripped = value.lstrip(" \u00a0\u202f")
    if stripped.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(stripped.strip()):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text (object / string) columns are neutralised; numeric,
    boolean and datetime columns are left untouched."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            out[col] = s.map(neutralise).astype("object")
    return out


def _cell(value: Any, decimal: str) -> Any:
    """One CSV cell: None/NaN -> "", floats with the decimal separator, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(value).replace(".", decimal)
    if isinstance(value, bool):
        return "oui" if value else "non"
    try:
        if value is pd.NA or value is pd.NaT:
            return ""
    except TypeError:  # pragma: no cover - exotic objects
        pass
    if isinstance(value, str):
        return neutralise(value)
    return neutralise(str(value)) if not isinstance(value, (int,)) else value


def csv_bytes(data: Rows, header: Sequence[str] | None = None, *, sep: str = ";",
              decimal: str = ",", bom: bool = True, lineterminator: str = "\r\n",
              index: bool = False) -> bytes:
    """CSV bytes of a DataFrame (its columns are the header unless ``header`` renames them)
    or of rows (``header`` is then the first line, if given). UTF-8, with a BOM by default so
    that a French Excel opens it as is; text neutralised (see the module docstring)."""
    if isinstance(data, pd.DataFrame):
        frame = neutralise_frame(data.reset_index() if index else data)
        if header is not None:
            frame.columns = list(header)
        frame.columns = [neutralise(str(c)) for c in frame.columns]
        text = frame.to_csv(sep=sep, index=False, decimal=decimal, lineterminator=lineterminator)
    else:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=sep, lineterminator=lineterminator)
        if header is not None:
            w.writerow([neutralise(str(h)) for h in header])
        for row in data:
            w.writerow([_cell(v, decimal) for v in row])
        text = buf.getvalue()
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def _atomic_write(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_csv(target: str | Path | IO[bytes], data: Rows, header: Sequence[str] | None = None,
              **options: Any) -> Path | None:
    """Write :func:`csv_bytes` of ``data`` to a path (atomically; returns it) or to a binary
    stream such as ``sys.stdout.buffer`` (returns None). ``options``: see :func:`csv_bytes`."""
    payload = csv_bytes(data, header, **options)
    if isinstance(target, (str, Path)):
        return _atomic_write(Path(target), payload)
    target.write(payload)
    target.flush()
    return None


# --------------------------------------------------------------------------- XLSX

def _xlsx_value(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        if value is pd.NA or value is pd.NaT:
            return None
    except TypeError:  # pragma: no cover
        pass
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, (int, float, bool)):
        return value
    if not isinstance(value, str):
        value = str(value)
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def xlsx_sheet(ws: Any, data: Rows, header: Sequence[str] | None = None) -> None:
    """Append ``data`` (DataFrame or rows, with ``header`` first if given) to the openpyxl
    worksheet ``ws``: numbers as numbers, every text cell stored as text (never a formula)."""
    if isinstance(data, pd.DataFrame):
        header = list(header) if header is not None else [str(c) for c in data.columns]
        rows: Iterable[Sequence[Any]] = data.itertuples(index=False, name=None)
    else:
        rows = data
    if header is not None:
        ws.append([_xlsx_value(str(h)) for h in header])
    for row in rows:
        ws.append([_xlsx_value(v) for v in row])
    for row in ws.iter_rows():
        for cell in row:
            if cell.data_type == "f":  # text starting with "=" stays text
                cell.data_type = "s"


def xlsx_bytes(sheets: Mapping[str, Rows | tuple[Sequence[str], Rows]]) -> bytes:
    """An ``.xlsx`` workbook with one sheet per entry: ``{title: DataFrame}`` or
    ``{title: (header, rows)}``."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, data in sheets.items():
        ws = wb.create_sheet(title[:31])
        if isinstance(data, tuple):
            xlsx_sheet(ws, data[1], data[0])
        else:
            xlsx_sheet(ws, data)
    return workbook_bytes(wb)


def workbook_bytes(wb: Any) -> bytes:
    """The bytes of an openpyxl workbook (filled with :func:`xlsx_sheet`)."""
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(target: str | Path, sheets: Mapping[str, Rows | tuple[Sequence[str], Rows]]) -> Path:
    """Write :func:`xlsx_bytes` of ``sheets`` atomically to ``target``."""
    return _atomic_write(Path(target), xlsx_bytes(sheets))


def write_bytes(target: str | Path, payload: bytes) -> Path:
    """Write bytes this module produced (CSV or XLSX) atomically to ``target``."""
    return _atomic_write(Path(target), payload)


__all__ = [
    "CONTROL_START", "FORMULA_START", "PLAIN_NUMBER", "csv_bytes", "neutralise",
    "neutralise_frame", "workbook_bytes", "write_bytes", "write_csv", "write_xlsx", "xlsx_bytes",
    "xlsx_sheet",
]
