"""Sections of a raw FINESS extract: decoded text -> one text table per section.

:func:`split_sections` groups the records of an extract by their section name
(``structureet``, ``geolocalisation``, ``equipementsocial``...), checks their number of fields
and returns one text DataFrame per section (values stripped, plus the 1-based ``line``), the
``finess;etalab;NN;DATE`` header's date and every problem as a
:class:`~dac_map.errors.RowIssue` naming the file, line and field.

Two engines give the same tables: ``arrow`` (default) hands the lines with plain CSV quoting,
a contiguous block per section, to Arrow's multithreaded CSV reader and reads only the others
(header, irregular or unbalanced quotes, unknown line types) one by one with Python's csv rules
(:mod:`~dac_map.etl.rawtext`); ``csv`` reads every line that way (the reference the fast path
is tested against).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dac_map.errors import InputFormatError, RowIssue
from dac_map.etl.layouts import HEADER_TAG, Section
from dac_map.etl.rawtext import DecodeNote, LocalRecord, byte_offsets, local_records, safe_line

#: Longest raw excerpt kept in a row issue (characters).
RAW_EXCERPT = 300
#: Field names of the header line ``finess;etalab;NN;YYYY-MM-DD`` by value index.
_HEADER_FIELDS = {0: "section", 1: "source", 2: "numero", 3: "date"}


def _encoding_issues(notes: list[DecodeNote], path: str,
                     sections: tuple[Section, ...]) -> list[RowIssue]:
    by_name = {s.name: s for s in sections}
    return [RowIssue(path, n.line, _field_name(by_name.get(n.tag), n.index),
                     f"bytes not valid in the file's encoding ({n.file_encoding}): read as "
                     f"{n.decoded_as}, check the value", "kept") for n in notes]


def _excerpt(values: list[str]) -> str:
    return ";".join(values)[:RAW_EXCERPT]


@dataclass
class Sections:
    """What :func:`split_sections` found: the header date, one text table per section, the
    issues (sorted by line), the number of records and the lines seen per section."""

    source_date: str | None
    frames: dict[str, pd.DataFrame]
    issues: list[RowIssue]
    records: int
    seen: dict[str, int]


def _contiguous_block(body: bytes | bytearray, starts: np.ndarray, name: str) -> tuple[int, int] | None:
    """``(first, stop)`` line indices when every line starting with ``name;`` lies in one
    contiguous block (the usual layout of an extract), ``(0, 0)`` when there is none, and
    None otherwise. Only C-level byte searches: the first and the last such line are found
    from each end, then the markers between them counted (one pass over the block)."""
    head = name.encode("utf-8") + b";"
    marker = b"\n" + head
    at_start = body.startswith(head)
    first_pos = 0 if at_start else body.find(marker) + 1
    if not first_pos and not at_start:
        return (0, 0)
    last_pos = max(body.rfind(marker) + 1, first_pos)
    first = int(np.searchsorted(starts, first_pos, side="right")) - 1
    last = int(np.searchsorted(starts, last_pos, side="right")) - 1
    # A marker can only sit at a line start: last-first of them between the starts of lines
    # first+1..last means each of those lines starts with the section name.
    inside = body.count(marker, int(starts[first]), int(starts[last]) - 1 + len(marker))
    return (first, last + 1) if inside == last - first else None


class _Lines(Sequence[str]):
    """The physical lines of a UTF-8 ``body`` (byte offsets ``starts``/``ends``), decoded one at a
    time on access: the fast path reads only the few lines it cannot hand to Arrow, so the file
    is never split into hundreds of thousands of Python strings."""

    def __init__(self, body: bytes | bytearray, starts: np.ndarray, ends: np.ndarray) -> None:
        self.body, self.starts, self.ends = body, starts, ends

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return self.body[self.starts[i]:self.ends[i]].decode("utf-8", "surrogatepass")

    def raw(self, i: int) -> bytes:
        """The bytes of line ``i`` (no newline)."""
        return bytes(self.body[self.starts[i]:self.ends[i]])


def _line_offsets(body: bytes | bytearray) -> tuple[np.ndarray, np.ndarray]:
    """Byte offsets of the start and of the end (exclusive, the newline) of each physical line
    of ``body``; like ``str.split("\n")`` without the empty piece after a final newline."""
    breaks = byte_offsets(body, 0x0A)
    n = len(breaks) + (0 if not body or body.endswith(b"\n") else 1)
    ends = np.append(breaks, len(body))[:n]
    starts = np.concatenate((np.zeros(1, dtype=ends.dtype), breaks + 1))[:n]
    return starts, ends


def _field_name(section: Section | None, index: int | None) -> str:
    """Name of the value at ``index`` of a line of ``section`` (0 is the section name)."""
    if index is None:
        return "*"
    if index == 0:
        return "section"
    if section is not None and index <= len(section.fields):
        return section.fields[index - 1]
    return f"valeur {index + 1}"


def _header(rec: LocalRecord, path: str) -> tuple[str | None, list[RowIssue]]:
    """Source date of a ``finess;etalab;NN;YYYY-MM-DD`` header line, and its problems."""
    values, issues = rec.values, []
    if rec.note:
        issues.append(RowIssue(path, rec.line, _HEADER_FIELDS.get(rec.note_index, "*"), rec.note,
                               "kept", raw=_excerpt(values)))
    if len(values) != len(_HEADER_FIELDS):
        issues.append(RowIssue(path, rec.line, "*",
                               f"header line has {len(values)} values, expected 4 "
                               "(finess;etalab;NN;YYYY-MM-DD)", "kept", raw=_excerpt(values)))
    date = values[3].strip() if len(values) >= 4 else ""
    if date and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", date):
        issues.append(RowIssue(path, rec.line, "date", f"header date is not YYYY-MM-DD: {date!r}",
                               "kept", raw=_excerpt(values)))
        date = ""
    return date or None, issues


def split_sections(text: str | bytes | bytearray, path: str, sections: tuple[Section, ...],
                   engine: str = "arrow", notes: list[DecodeNote] | None = None) -> Sections:
    """Group the records of ``text`` (the decoded text, or its UTF-8 bytes as
    :func:`~dac_map.etl.rawtext.decode` gives them) by section into text DataFrames, checking
    field counts.

    Lines with plain CSV quoting (nearly all) are parsed by Arrow's CSV reader, a block per
    section; the header, the lines with irregular or unbalanced quotes (see
    :mod:`~dac_map.etl.rawtext`) and lines of unknown type are read one by one with Python's
    csv rules. ``engine="csv"`` reads every line that way (the reference the fast path is
    tested against). Line numbers are physical 1-based lines (CR, LF and CRLF all end a line).
    ``notes`` are the lines the decoder repaired (:func:`~dac_map.etl.rawtext.decode`): each
    becomes a kept-row issue naming its field.
    """
    body = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if b"\r" in body:  # CRLF, or bare CR (old Mac files)
        body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    starts, ends = _line_offsets(body)
    lines = _Lines(body, starts, ends)
    by_name = {sec.name: sec for sec in sections}
    non_blank = ends > starts
    first_line = int(np.argmax(non_blank)) if non_blank.any() else -1
    if engine == "csv":
        starts_local = np.flatnonzero(non_blank).tolist()
    else:  # lines holding a quote, from the quotes' offsets
        quotes = byte_offsets(body, 0x22)
        quoted = np.unique(np.searchsorted(starts, quotes, side="right") - 1)
        starts_local = [i for i in quoted.tolist() if not safe_line(lines[i])]
        if first_line >= 0 and first_line not in starts_local:
            starts_local = sorted([first_line, *starts_local])
    records, covered = local_records(lines, starts_local)

    selected: dict[str, np.ndarray] = {}
    matched = covered.copy()
    if engine != "csv":
        for name in by_name:
            block = _contiguous_block(body, starts, name)
            if block is None:  # interleaved sections: classify line by line
                head = name.encode("utf-8") + b";"  # no newline in it: a match is in the line
                idx = np.asarray([i for i, at in enumerate(starts.tolist()) if body.startswith(head, at)],
                                 dtype=np.int64)
            else:
                idx = np.arange(*block, dtype=np.int64)
            idx = idx[~covered[idx]]
            selected[name] = idx
            matched[idx] = True
        rest = np.flatnonzero(non_blank & ~matched).tolist()
        if rest:  # lines of unknown type (or odd spellings of a section name)
            more, _ = local_records(lines, rest)
            records = sorted(records + more, key=lambda r: r.line)

    issues: list[RowIssue] = []
    source_date: str | None = None
    rows: dict[str, list[list[str]]] = {name: [] for name in by_name}
    row_lines: dict[str, list[int]] = {name: [] for name in by_name}
    first_unknown: LocalRecord | None = None
    for rec in records:
        values = rec.values
        tag = values[0].strip().lstrip("\ufeff").lower() if values else ""
        is_first = rec.line - 1 == first_line
        if is_first and tag == HEADER_TAG:
            source_date, more = _header(rec, path)
            issues += more
            continue
        section = by_name.get(tag)
        if section is None:
            if is_first:
                first_unknown = rec
            else:
                issues.append(RowIssue(path, rec.line, "section",
                                       f"unknown line type {values[0][:40]!r}"
                                       + (f"; {rec.note}" if rec.note else ""), raw=_excerpt(values)))
            continue
        width = len(values)
        if section.trailing_empty_ok and width == section.width + 1 and not values[-1].strip():
            values, width = values[:-1], width - 1
        if width != section.width:
            reason = f"{width} fields on a '{section.name}' line, expected {section.width}"
            issues.append(RowIssue(path, rec.line, _field_name(section, rec.note_index)
                                   if rec.note else "*",
                                   f"{rec.note}; {reason}" if rec.note else reason,
                                   raw=_excerpt(values)))
            rows[section.name].append([])  # counted as seen, dropped below
            row_lines[section.name].append(-1)
            continue
        if rec.note:
            issues.append(RowIssue(path, rec.line, _field_name(section, rec.note_index), rec.note,
                                   "kept", raw=_excerpt(values)))
        rows[section.name].append(values)
        row_lines[section.name].append(rec.line)

    frames: dict[str, pd.DataFrame] = {}
    seen: dict[str, int] = {}
    for name, sec in by_name.items():
        good = [(v, ln) for v, ln in zip(rows[name], row_lines[name]) if ln > 0]
        local = _frame([v for v, _ in good], [ln for _, ln in good], sec)
        idx = selected.get(name, np.zeros(0, dtype=np.int64))
        seen[name] = len(rows[name]) + len(idx)
        if len(idx):
            fast, more = _arrow_frame(lines, idx, sec, path)
            issues += more
            if len(local):
                fast = pd.concat([fast, local], ignore_index=True).sort_values(
                    "line", kind="stable").reset_index(drop=True)
            local = fast
        frames[name] = local
    if first_unknown is not None:
        if not any(seen.values()):
            expected = " / ".join(by_name)
            raise InputFormatError(
                f"first line starts with {first_unknown.values[0][:40]!r}: this is not a raw FINESS "
                f"etalab extract (expected a 'finess;etalab;...' header or '{expected}' lines)",
                path=path, line=first_unknown.line, field="section")
        issues.append(RowIssue(path, first_unknown.line, "section",
                               f"unknown first line {first_unknown.values[0][:40]!r} (a damaged "
                               "header?)" + (f"; {first_unknown.note}" if first_unknown.note else ""),
                               raw=_excerpt(first_unknown.values)))
    # an empty line anywhere, the end of the file included (the newline that ends the last line is
    # not a line): a damaged or deleted record?
    for i in np.flatnonzero(~non_blank).tolist():
        issues.append(RowIssue(path, i + 1, "*", "empty line (a damaged record?)"))
    issues.sort(key=lambda issue: issue.line)
    issues += _encoding_issues(notes or [], path, sections)
    n_records = int((non_blank & ~covered).sum()) + len(records)
    return Sections(source_date, frames, issues, n_records, seen)


def _arrow_frame(lines: _Lines, idx: np.ndarray, section: Section, path: str
                 ) -> tuple[pd.DataFrame, list[RowIssue]]:
    """Parse the lines ``idx`` (0-based, sorted) of one section with Arrow's CSV reader.

    A contiguous block is handed over as a slice of the body's bytes, without a copy. Rows
    Arrow rejects (wrong width) are found back by their bytes to name their line; they become
    issues, or are accepted when the section tolerates one trailing empty field. Valid rows
    keep their order, so their line numbers are the remaining positions.
    """
    if not len(idx):
        return _frame([], [], section), []
    bad: list[str] = []

    def on_invalid(row) -> str:
        bad.append(row.text)
        return "skip"

    if idx[-1] - idx[0] + 1 == len(idx):
        block = pa.py_buffer(memoryview(lines.body)[lines.starts[idx[0]]:lines.ends[idx[-1]]])
    else:
        block = pa.py_buffer(b"\n".join([lines.raw(i) for i in idx.tolist()]))
    names = ["_section", *section.fields]
    table = pacsv.read_csv(
        pa.BufferReader(block),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(delimiter=";", quote_char='"', double_quote=True,
                                         invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.large_string() for c in names},
                                             strings_can_be_null=False,
                                             quoted_strings_can_be_null=False),
    )
    numbers = idx + 1
    issues: list[RowIssue] = []
    extra_rows, extra_lines = [], []
    if bad:
        wanted: dict[bytes, int] = {}
        for t in bad:
            key = t.encode("utf-8", "surrogatepass")
            wanted[key] = wanted.get(key, 0) + 1
        rejected_pos = []
        for pos, i in enumerate(idx.tolist()):
            raw = lines.raw(i)
            if wanted.get(raw, 0):
                wanted[raw] -= 1
                rejected_pos.append(pos)
        for pos in rejected_pos:
            line = int(numbers[pos])
            values = next(csv.reader([lines[idx[pos]]], delimiter=";"), [])
            width = len(values)
            if section.trailing_empty_ok and width == section.width + 1 and not values[-1].strip():
                extra_rows.append(values[:-1])
                extra_lines.append(line)
                continue
            issues.append(RowIssue(
                path, line, "*",
                f"{width} fields on a '{section.name}' line, expected {section.width}",
                raw=_excerpt(values)))
        numbers = np.delete(numbers, rejected_pos)
    columns = {name: table[name] for name in section.fields}
    del table  # each raw column is freed as soon as its trimmed copy exists
    frame = _trim(columns, pa.array(numbers, type=pa.int64()))
    if extra_rows:
        frame = pd.concat([frame, _frame(extra_rows, extra_lines, section)], ignore_index=True)
        frame = frame.sort_values("line", kind="stable").reset_index(drop=True)
    return frame, issues


def _trim(columns: dict[str, pa.ChunkedArray], line: pa.Array) -> pd.DataFrame:
    """The text columns stripped of surrounding white space, plus ``line``, as a DataFrame."""
    for name in list(columns):
        columns[name] = pc.utf8_trim_whitespace(columns[name])
    columns["line"] = line
    return pa.table(columns).to_pandas()


def _frame(rows: list[list[str]], lines: list[int], section: Section) -> pd.DataFrame:
    """Build a text DataFrame from raw rows (section name dropped, values stripped) through
    Arrow, plus the ``line`` column."""
    columns = list(zip(*rows)) if rows else [()] * section.width
    arrays = {name: pc.utf8_trim_whitespace(pa.array(col, type=pa.large_string()))
              for name, col in zip(section.fields, columns[1:])}
    arrays["line"] = pa.array(lines, type=pa.int64())
    return pa.table(arrays).to_pandas()
