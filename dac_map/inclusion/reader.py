"""Streaming readers for data·inclusion files: JSON (array, API page, JSON Lines) and CSV, plain
or gzipped.

Nothing is held in memory but the record being read: a national ``services.json`` is read in
chunks and decoded one element at a time (:meth:`json.JSONDecoder.raw_decode`). Every record
comes with where it was found (:class:`Located`: record index, JSON path or CSV line), so
that every problem can name the file, the record and the field.

Shapes understood:

* a JSON array of records (the open-data files ``services.json`` / ``structures.json``);
* a JSON object whose ``items`` (or ``data`` / ``results``) member is the array (an API page);
  each item may be the record itself or ``{"service": {...}, "distance": ...}``;
* JSON Lines (``.jsonl`` / ``.ndjson``), one record per line;
* CSV (``,`` or ``;``, UTF-8 with or without BOM); list-valued cells are JSON arrays
  (``["a", "b"]``), PostgreSQL arrays (``{a,b}``) or ``a|b`` / ``a, b`` lists.

A syntax error inside one JSON element, or a CSV line of the wrong width, spoils only that
record: it is reported (:class:`ReadIssue`) and reading resumes at the next record.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dac_map.errors import InputFormatError, InputMissingError

CHUNK_CHARS = 1 << 20
#: most physical lines one CSV record may span (a quoted multi-line cell)
MAX_RECORD_LINES = 200
_ARRAY_KEYS = ("items", "data", "results")
_WS = re.compile(r"[\s]*")
#: where the next element of an array may start after a broken one
_RESYNC = re.compile(r",\s*(?=\{)")

#: Columns of the schema that hold lists (CSV cells are split for these).
LIST_FIELDS = frozenset({
    "thematiques", "publics", "modes_accueil", "zone_eligibilite", "modes_mobilisation",
    "mobilisable_par", "reseaux_porteurs",
    # 2024 field set (its list-valued ``frais`` is split by the converter)
    "profils", "types", "modes_orientation_beneficiaire",
    "modes_orientation_accompagnateur", "justificatifs", "pre_requis", "labels_nationaux",
    "labels_autres",
})


@dataclass(frozen=True)
class Located:
    """One record and where it is: ``index`` (0-based record number), ``where`` (``$[12]``,
    ``$.items[3].service`` or ``ligne 14``) and ``line`` (first line of the record, 1-based, for
    CSV and JSON Lines; 0 in a JSON array, where ``where`` says it)."""

    index: int
    where: str
    line: int
    record: dict


@dataclass(frozen=True)
class ReadIssue:
    """A record that could not be read (syntax): reported, skipped."""

    path: str
    index: int
    where: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}, {self.where} (ligne {self.line}) : {self.message}"


def open_text(path: str | Path) -> io.TextIOBase:
    """Open ``path`` as UTF-8 text (BOM skipped), gunzipping when it starts with the gzip magic."""
    path = Path(path)
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise InputMissingError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from exc
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def detect_format(path: str | Path) -> str:
    """``json``, ``jsonl`` or ``csv`` from the file name (``.gz`` ignored)."""
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".txt")):
        return "csv"
    raise InputFormatError("unknown file type (expected .json, .jsonl, .ndjson or .csv, "
                           "optionally .gz)", path=str(path))


class _Buffer:
    """A text stream read in chunks, with the line number of the consumed text."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.stream = stream
        self.text = ""
        self.pos = 0
        self.eof = False
        self._base_line = 1  # line number at the start of self.text

    def more(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(CHUNK_CHARS)
        if not chunk:
            self.eof = True
            return False
        self._base_line += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos:] + chunk
        self.pos = 0
        return True

    @property
    def line(self) -> int:
        """Line number (1-based) at the position (counted on demand)."""
        return self._base_line + self.text.count("\n", 0, self.pos)

    def advance(self, to: int) -> None:
        self.pos = to

    def skip_ws(self) -> str:
        """Skip white space; the next character ('' at end of file)."""
        while True:
            m = _WS.match(self.text, self.pos)
            self.advance(m.end())
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def decode(self, decoder: json.JSONDecoder) -> object:
        """Decode one JSON value at the position (reading more text as needed)."""
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError:
                if self.more():
                    continue
                raise
            if end == len(self.text) and not self.eof and self.more():
                continue  # a number may go on in the next chunk
            self.advance(end)
            return value


def _unwrap(item: object, where: str) -> tuple[object, str]:
    if isinstance(item, dict) and isinstance(item.get("service"), dict) and "id" not in item:
        return item["service"], f"{where}.service"
    return item, where


def iter_json(path: str | Path, issues: list[ReadIssue]) -> Iterator[Located]:
    """Records of a JSON file (array or API page), streamed; syntax errors in one element go
    to ``issues`` and reading resumes at the next element."""
    spath = str(path)
    decoder = json.JSONDecoder()
    with open_text(path) as stream:
        buf = _Buffer(stream)
        try:
            first = buf.skip_ws()
        except UnicodeDecodeError as exc:
            raise InputFormatError(f"not UTF-8 text: {exc.reason}", path=spath) from exc
        prefix = "$"
        if first == "{":
            buf.advance(buf.pos + 1)
            prefix = None
            while True:
                c = buf.skip_ws()
                if c == "}" or c == "":
                    break
                if c == ",":
                    buf.advance(buf.pos + 1)
                    continue
                try:
                    key = buf.decode(decoder)
                except json.JSONDecodeError as exc:
                    raise InputFormatError(f"invalid JSON: {exc.msg}", path=spath, line=buf.line) from exc
                if buf.skip_ws() != ":":
                    raise InputFormatError("invalid JSON: ':' expected", path=spath, line=buf.line)
                buf.advance(buf.pos + 1)
                if buf.skip_ws() == "[" and key in _ARRAY_KEYS:
                    prefix = f"$.{key}"
                    break
                try:
                    buf.decode(decoder)
                except json.JSONDecodeError as exc:
                    raise InputFormatError(f"invalid JSON: {exc.msg}", path=spath, line=buf.line) from exc
            if prefix is None:
                raise InputFormatError("JSON object without an 'items' array: not a data·inclusion "
                                       "file or API page", path=spath, line=buf.line)
        elif first != "[":
            raise InputFormatError("expected a JSON array of records (or an API page)", path=spath,
                                   line=buf.line)
        buf.advance(buf.pos + 1)  # '['
        index = 0
        while True:
            c = buf.skip_ws()
            if c == "]":
                return
            if c == "":
                raise InputFormatError(f"file ends inside the array (after {index} records): "
                                       "truncated?", path=spath, line=buf.line)
            if c == ",":
                buf.advance(buf.pos + 1)
                continue
            where, start = f"{prefix}[{index}]", buf.pos
            try:
                item = buf.decode(decoder)
            except json.JSONDecodeError as exc:
                line = buf._base_line + buf.text.count("\n", 0, start)
                issues.append(ReadIssue(spath, index, where, line, f"invalid JSON ({exc.msg})"))
                index += 1
                if not _resync(buf):
                    return
                continue
            record, where = _unwrap(item, where)
            if not isinstance(record, dict):
                issues.append(ReadIssue(spath, index, where, buf.line,
                                        f"a record must be a JSON object, not {type(record).__name__}"))
            else:
                yield Located(index, where, 0, record)
            index += 1


def _resync(buf: _Buffer) -> bool:
    """After a broken element: move to the next ``, {`` from which an object decodes and is
    followed by ``,`` or ``]`` (the next element); ``False`` when there is none (end of file)."""
    decoder = json.JSONDecoder()
    start = buf.pos + 1
    while True:
        m = _RESYNC.search(buf.text, start)
        old = buf.pos  # buf.more() drops the text before buf.pos: positions shift by `old`
        if m is None:
            keep = max(old, len(buf.text) - 64)
            if not buf.more():
                return False
            start = keep - old
            continue
        try:
            _, end = decoder.raw_decode(buf.text, m.end())
        except json.JSONDecodeError:
            if buf.more():
                start = m.start() - old
                continue
            start = m.end()
            continue
        rest = _WS.match(buf.text, end).end()
        if rest >= len(buf.text) and buf.more():
            start = m.start() - old
            continue
        if buf.text[rest:rest + 1] in (",", "]"):
            buf.advance(m.end())
            return True
        start = m.end()


def iter_jsonl(path: str | Path, issues: list[ReadIssue]) -> Iterator[Located]:
    """Records of a JSON Lines file, one per non-blank line."""
    spath = str(path)
    with open_text(path) as stream:
        index = 0
        for n, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            where = f"ligne {n}"
            try:
                item = json.loads(raw)
            except json.JSONDecodeError as exc:
                issues.append(ReadIssue(spath, index, where, n, f"invalid JSON ({exc.msg})"))
            else:
                record, where = _unwrap(item, where)
                if isinstance(record, dict):
                    yield Located(index, where, n, record)
                else:
                    issues.append(ReadIssue(spath, index, where, n, "a record must be a JSON object"))
            index += 1


def split_list(cell: str) -> list[str] | None:
    """A list-valued CSV cell as a list (``None`` when blank)."""
    text = cell.strip()
    if not text:
        return None
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list):
            return [str(v) for v in value]
        text = text.strip("[]")
    elif text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    sep = "|" if "|" in text else ","
    return [p.strip().strip("'\"") for p in text.split(sep) if p.strip().strip("'\"")]


def _sniff_delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def iter_csv(path: str | Path, issues: list[ReadIssue]) -> Iterator[Located]:
    """Records of a CSV file (header line first). Blank cells become ``None``, list columns are
    split (:func:`split_list`). A line of the wrong width is reported and skipped; a quote left
    open that swallows following lines is detected by width and the next line is read afresh."""
    spath = str(path)
    with open_text(path) as stream:
        lines = _numbered_lines(stream)
        try:
            n0, header_line = next(lines)
        except StopIteration:
            raise InputFormatError("empty file", path=spath) from None
        except UnicodeDecodeError as exc:
            raise InputFormatError(f"not UTF-8 text: {exc.reason}", path=spath) from exc
        delimiter = _sniff_delimiter(header_line)
        header = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter))]
        if "id" not in header:
            raise InputFormatError("no 'id' column in the header", path=spath, line=n0, field="id")
        width = len(header)
        index = 0
        pending: list[tuple[int, str]] = []
        pushback: list[tuple[int, str]] = []
        while True:
            if pushback:
                n, raw = pushback.pop()
            else:
                try:
                    n, raw = next(lines)
                except StopIteration:
                    if not pending:
                        return
                    n, raw = 0, ""  # flush a record left open at the end of the file
            if not pending and not raw.strip():
                if n == 0:
                    return
                continue
            if n:
                pending.append((n, raw))
            text = "".join(r for _, r in pending)
            if n and text.count('"') % 2 == 1 and len(pending) < MAX_RECORD_LINES:
                continue  # a quoted cell goes on on the next line
            first = pending[0][0]
            rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
            if len(rows) == 1 and len(rows[0]) == width:
                rec = {k: (v if v.strip() else None) for k, v in zip(header, rows[0])}
                for k in LIST_FIELDS.intersection(rec):
                    if rec[k] is not None:
                        rec[k] = split_list(rec[k])
                yield Located(index, f"ligne {first}", first, rec)
            else:
                got = len(rows[0]) if rows else 0
                issues.append(ReadIssue(spath, index, f"ligne {first}", first,
                                        f"{got} columns instead of {width} (stray quote or "
                                        "delimiter?)"))
                # the lines after the broken one are read afresh
                pushback.extend(reversed(pending[1:]))
            pending = []
            index += 1


def _numbered_lines(stream: io.TextIOBase) -> Iterator[tuple[int, str]]:
    yield from enumerate(stream, start=1)


def iter_records(path: str | Path, issues: list[ReadIssue], fmt: str | None = None) -> Iterator[Located]:
    """Records of any supported file (format from the name unless ``fmt`` is given)."""
    fmt = fmt or detect_format(path)
    if not Path(path).is_file():
        raise InputMissingError("file not found", path=str(path))
    if fmt == "json":
        return iter_json(path, issues)
    if fmt == "jsonl":
        return iter_jsonl(path, issues)
    return iter_csv(path, issues)
