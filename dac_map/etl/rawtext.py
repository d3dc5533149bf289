"""Raw text of an extract: bytes -> UTF-8 -> records, with corruption kept local.

Two steps, each guarding against one way a single bad line used to spoil a whole file:

* :func:`decode` decides the encoding of a file from the evidence of the whole file (bytes that
  form valid UTF-8 multi-byte sequences against bytes that do not), then gives its UTF-8 bytes
  (a valid UTF-8 file as it is; a Latin-1 one converted a MiB at a time: no file-sized string is
  built on the way), repairing the minority:
  a UTF-8 file with a stray Latin-1 byte stays UTF-8 and only that byte is read as Windows-1252;
  a Latin-1 file with one UTF-8 line keeps its other lines as they are. Every repaired line is
  returned as a :class:`DecodeNote` (line, value index) for the parser to report.
* :func:`local_records` reads the lines a plain line-by-line split cannot (quotes that are not
  simple CSV quoting): a quoted field may span several lines only if the closing quote comes
  within :data:`~dac_map.settings.PARSER_MAX_RECORD_LINES` lines and
  :data:`~dac_map.settings.PARSER_MAX_RECORD_CHARS` characters, and never across a line that
  starts a new record (``structureet;``, ``geolocalisation;``, ``equipementsocial;``...). An
  unbalanced quote is otherwise ignored (the line is read as if it were absent) and reported.

The CSV dialect is the etalab one: ``;`` separators, ``"`` quotes doubled inside quoted fields,
and Python's :mod:`csv` reading rules for irregular quotes (text after a closing quote is kept,
a quote inside an unquoted value is a literal character).
"""

from __future__ import annotations

import codecs
import csv
import re
import threading
from dataclasses import dataclass

import numpy as np

from dac_map import settings
from dac_map.errors import InputFormatError

# --------------------------------------------------------------------------- decoding

_repairs = threading.local()


@dataclass(frozen=True)
class DecodeNote:
    """One line read in the file's minority encoding."""

    line: int  #: 1-based line number
    tag: str  #: first value of the line (its section name when well-formed)
    index: int  #: 0-based index of the ``;``-separated value holding the first repaired byte
    decoded_as: str  #: encoding used for the repaired bytes
    file_encoding: str  #: the encoding decided for the file


@dataclass
class Decoded:
    """A decoded extract: its UTF-8 bytes (line breaks as in the file), the encoding decided
    for the file and the lines read in the other one. The parser works on ``body``; ``text`` is
    the same content as a string."""

    body: bytes | bytearray
    encoding: str
    notes: list[DecodeNote]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


#: Bytes converted at a time by the chunked decoders (no file-sized string is ever built).
_CHUNK = 1 << 20


def _utf8_valid(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, checked a MiB at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for o in range(0, len(data), _CHUNK):
            decoder.decode(view[o:o + _CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _8bit_to_utf8(raw: bytes, out: bytearray, c1: bool = True) -> bytearray:
    """Append ``raw`` (Windows-1252 / Latin-1, see :func:`_decode_8bit`) to ``out`` as UTF-8,
    a MiB at a time (a single-byte encoding can be cut anywhere)."""
    for o in range(0, len(raw), _CHUNK):
        out += _decode_8bit(raw[o:o + _CHUNK], c1).encode("utf-8")
    return out


def _cp1252(raw: bytes) -> str:
    """Windows-1252, with Latin-1 for its five undefined bytes."""
    return "".join(raw[i:i + 1].decode("cp1252", errors="strict") if raw[i] not in (
        0x81, 0x8D, 0x8F, 0x90, 0x9D) else raw[i:i + 1].decode("latin-1") for i in range(len(raw)))


def _repair_handler(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):  # pragma: no cover - decode only
        raise exc
    _repairs.starts.append(exc.start)
    return _cp1252(exc.object[exc.start:exc.end]), exc.end


codecs.register_error("dac_map-cp1252", _repair_handler)


def _refuse_non_text(data: bytes, path: str) -> None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputFormatError("UTF-16 encoding is not supported: save the file as UTF-8 or Latin-1",
                               path=path, line=1)
    if data.startswith(b"PK\x03\x04"):
        raise InputFormatError("this is a ZIP archive: extract the CSV first", path=path, line=1)
    nul = data.find(b"\x00", 0, 65536)
    if nul >= 0:
        raise InputFormatError("binary content (NUL byte): not a text extract",
                               path=path, line=data[:nul].count(b"\n") + 1)
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        raise InputFormatError("this is an HTML/XML page, not a CSV extract "
                               "(an error page downloaded instead of the file?)", path=path, line=1)


def decode(data: bytes, path: str) -> Decoded:
    """Decode the bytes of a text extract, deciding the encoding for the whole file.

    UTF-8 (with or without BOM) when the file is valid UTF-8, or when more of its non-ASCII
    bytes form valid UTF-8 sequences than not (the others are then read as Windows-1252 and
    noted); else Windows-1252 (Latin-1 for its undefined bytes), except lines that are valid
    UTF-8 with multi-byte sequences, read as UTF-8 and noted. UTF-16, ZIP, binary and HTML
    content raise :class:`InputFormatError`.
    """
    _refuse_non_text(data, path)
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[3:] if bom else data
    if _utf8_valid(body):
        return Decoded(body, "utf-8-sig" if bom else "utf-8", [])
    valid_bytes, high, leads, c1 = _utf8_evidence(body)
    if not valid_bytes:  # no UTF-8 evidence at all: a Latin-1 / Windows-1252 file
        return Decoded(_8bit_to_utf8(body, bytearray(), c1), "cp1252", [])
    if bom or valid_bytes >= high - valid_bytes:
        encoding = "utf-8-sig" if bom else "utf-8"
        _repairs.starts = []
        try:
            text = body.decode("utf-8", errors="dac_map-cp1252")
            starts = _repairs.starts
        finally:
            del _repairs.starts
        return Decoded(text.encode("utf-8"), encoding, _notes(body, starts, "cp1252", encoding))
    # A Windows-1252 file: lines that are valid UTF-8 with multi-byte sequences are UTF-8.
    breaks = byte_offsets(body, 0x0A)
    candidates = np.unique(np.searchsorted(breaks, leads)).tolist()
    out, pos, starts = bytearray(), 0, []
    for k in candidates:
        lo = int(breaks[k - 1]) + 1 if k else 0
        hi = int(breaks[k]) if k < len(breaks) else len(body)
        line = body[lo:hi]
        if not _utf8_valid(line):
            continue
        _8bit_to_utf8(body[pos:lo], out)
        out += line  # already UTF-8
        pos = hi
        starts.append(int(leads[np.searchsorted(leads, lo)]))
    _8bit_to_utf8(body[pos:], out)
    return Decoded(out, "cp1252", _notes(body, starts, "utf-8", "cp1252", breaks))


def _chunked_offsets(arr: np.ndarray, test, step: int = 1 << 20) -> np.ndarray:
    """Offsets where ``test(chunk)`` is true, scanned a MiB at a time: the same result as
    ``np.flatnonzero(test(arr))`` without a file-sized temporary mask (whose fresh pages cost
    more than the comparison on a national extract)."""
    parts = [np.flatnonzero(test(arr[o:o + step])) + o for o in range(0, len(arr), step)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)


def _high_bytes(arr: np.ndarray, step: int = 1 << 20) -> np.ndarray:
    """Offsets of the bytes >= 0x80 (see :func:`_chunked_offsets`)."""
    return _chunked_offsets(arr, lambda chunk: chunk >= 0x80, step)


def byte_offsets(data: bytes, value: int) -> np.ndarray:
    """Offsets of every byte ``value`` in ``data`` (e.g. 0x0A for the line breaks), ascending."""
    return _chunked_offsets(np.frombuffer(data, dtype=np.uint8), lambda chunk: chunk == value)


def _utf8_evidence(body: bytes) -> tuple[int, int, np.ndarray, bool]:
    """Bytes in valid UTF-8 multi-byte sequences, bytes >= 0x80, the offsets of the lead
    bytes of those sequences (vectorised; overlong and surrogate forms are not told apart,
    which does not matter for weighing the evidence), and whether a byte 0x80-0x9F (where
    Windows-1252 and Latin-1 differ) is present."""
    arr = np.frombuffer(body, dtype=np.uint8)
    pos = _high_bytes(arr)
    if not len(pos):
        return 0, 0, pos, False
    last = len(arr) - 1
    lead = arr[pos]
    c1 = bool(np.any(lead < 0xA0))
    nxt = arr[np.minimum(pos + 1, last)]
    start = (lead >= 0xC2) & (lead <= 0xF4) & (nxt >= 0x80) & (nxt <= 0xBF) & (pos < last)
    cand, cl = pos[start], lead[start]
    ok = cl <= 0xDF
    size = np.where(ok, 2, np.where(cl <= 0xEF, 3, 4))
    for k in (2, 3):  # further continuation bytes of 3- and 4-byte sequences
        need = ~ok & (size > k)
        b = arr[np.minimum(cand + k, last)]
        ok_k = (b >= 0x80) & (b <= 0xBF) & (cand + k <= last)
        size = np.where(need & ~ok_k, 0, size)
    valid = size > 0
    return int(size[valid].sum()), len(pos), cand[valid], c1


def _decode_8bit(raw: bytes, c1: bool = True) -> str:
    """Windows-1252 text (Latin-1 for the five bytes Windows-1252 leaves undefined). Without
    bytes 0x80-0x9F (``c1`` False) the two encodings agree: Latin-1's decoder is far faster."""
    if not c1:
        return raw.decode("latin-1")
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return _cp1252(raw)


def _notes(body: bytes, starts: list[int], decoded_as: str, file_encoding: str,
           breaks: np.ndarray | None = None) -> list[DecodeNote]:
    """One note per line holding a repaired byte (the first one of the line)."""
    if not starts:
        return []
    breaks = byte_offsets(body, 0x0A) if breaks is None else breaks
    notes, seen = [], set()
    for s in starts:
        k = int(np.searchsorted(breaks, s))
        if k in seen:
            continue
        seen.add(k)
        lo = int(breaks[k - 1]) + 1 if k else 0
        raw = body[lo:s]
        tag = body[lo:body.find(b";", lo, lo + 64) if b";" in body[lo:lo + 64] else lo]
        notes.append(DecodeNote(k + 1, tag.decode("latin-1").strip().lstrip("\ufeff").lower(),
                                raw.count(b";"), decoded_as, file_encoding))
    return notes


# --------------------------------------------------------------------------- records

_QUOTED = r'"(?:[^"]|"")*+"'
#: A line whose quotes are all plain CSV quoting (whole value quoted, inner quotes doubled):
#: every CSV reader splits it the same way, so it may go to the fast path.
_SAFE = re.compile(rf'(?:{_QUOTED}|[^";]*)(?:;(?:{_QUOTED}|[^";]*))*')
#: One value under Python's csv rules, followed by ``;`` or the end of the record. No match
#: at a value start means an opening quote that never closes.
_VALUE = re.compile(rf'(?:{_QUOTED}[^;]*|[^";][^;]*|)(?=;|\Z)')
#: A line starting a new record: a lowercase section tag and ``;`` (etalab section names).
RECORD_START = re.compile(r'\ufeff?[a-z][a-z0-9_]{2,};')


def safe_line(line: str) -> bool:
    """True when ``line`` has no quote, or only plain CSV quoting (see :data:`_SAFE`)."""
    return '"' not in line or _SAFE.fullmatch(line) is not None


def _scan(record: str) -> tuple[list[str], int | None]:
    """Raw values of ``record`` and the index of the value whose opening quote never closes
    (None when the record is complete)."""
    raw: list[str] = []
    pos = 0
    while True:
        m = _VALUE.match(record, pos)
        if m is None:
            return raw, len(raw)
        raw.append(m.group())
        pos = m.end()
        if pos >= len(record):
            return raw, None
        pos += 1


def _irregular(raw: list[str]) -> int | None:
    """Index of the first value with quotes that are not plain CSV quoting."""
    for i, value in enumerate(raw):
        if '"' in value and not re.fullmatch(_QUOTED, value):
            return i
    return None


def split_values(record: str) -> list[str]:
    """The values of one record under Python's csv rules."""
    return next(csv.reader([record], delimiter=";", quotechar='"'), [""])


@dataclass(frozen=True)
class LocalRecord:
    """A record read by :func:`local_records`."""

    line: int  #: 1-based number of its first line
    values: list[str]
    span: int = 1  #: physical lines it covers
    note_index: int | None = None  #: value index of a quoting problem
    note: str = ""  #: the problem ("" when none)


def local_records(lines: list[str], starts: list[int]) -> tuple[list[LocalRecord], np.ndarray]:
    """Read the records starting at the 0-based line indices ``starts`` (ascending).

    Returns the records and a boolean mask of the lines they cover. A start covered by an
    earlier record is skipped. See the module docstring for the rules on unbalanced quotes.
    """
    max_lines = max(1, settings.PARSER_MAX_RECORD_LINES)
    max_chars = max(1, settings.PARSER_MAX_RECORD_CHARS)
    covered = np.zeros(len(lines), dtype=bool)
    out: list[LocalRecord] = []
    for i in starts:
        if covered[i]:
            continue
        record = lines[i]
        raw, open_at = _scan(record)
        j = i
        why = ""
        while open_at is not None:
            if j + 1 >= len(lines):
                why = "no closing quote before the end of the file"
                break
            if j + 1 - i >= max_lines:
                why = f"no closing quote within {max_lines} lines"
                break
            nxt = lines[j + 1]
            if RECORD_START.match(nxt):
                why = "the next line starts a new record"
                break
            if len(record) + 1 + len(nxt) > max_chars:
                why = f"the value would exceed {max_chars} characters"
                break
            record += "\n" + nxt
            j += 1
            raw, open_at = _scan(record)
        if open_at is None:
            covered[i:j + 1] = True
            bad = _irregular(raw)
            note = "" if bad is None else "irregular double quotes (read with CSV rules)"
            out.append(LocalRecord(i + 1, split_values(record), j - i + 1, bad, note))
            continue
        # Unbalanced quote: read the line alone without its opening quote(s).
        line = lines[i]
        raw, open_at = _scan(line)
        first_open = open_at
        for _ in range(8):
            if open_at is None:
                break
            cut = sum(len(v) + 1 for v in raw[:open_at])
            line = line[:cut] + line[cut + 1:]
            raw, open_at = _scan(line)
        covered[i] = True
        out.append(LocalRecord(i + 1, split_values(line), 1, first_open,
                               f"unbalanced double quote ({why}): quote ignored, the next lines "
                               "are read as their own records"))
    return out, covered
