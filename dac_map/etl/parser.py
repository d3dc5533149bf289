"""Parser of the raw FINESS etalab extracts: raw read -> typed tables.

Two public functions, one per extract:

* :func:`parse_establishments` for cs1100507 (``structureet`` then ``geolocalisation``
  lines) and cs1100502 (``structureet`` lines only);
* :func:`parse_equipment` for cs1100505 (``equipementsocial`` lines).

Both read Latin-1, Windows-1252 or UTF-8 (with or without BOM, optionally gzipped),
use a real CSV reader (quoted fields with doubled quotes, CRLF, embedded newlines),
and never raise on a bad *row*: such rows are returned as :class:`~dac_map.errors.RowIssue`
with the file, line and field. Problems with the *file* (missing, binary, HTML, another
layout) raise :class:`~dac_map.errors.InputMissingError` or
:class:`~dac_map.errors.InputFormatError`.

The typed tables keep FINESS field names; renaming into the domain model is the ETL's job.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dac_map.codes import FINESS_PATTERN
from dac_map.errors import InputFormatError, InputMissingError, RowIssue
from dac_map.etl.layouts import (
    EQUIPEMENTSOCIAL,
    GEOLOCALISATION,
    HEADER_TAG,
    KNOWN_EPSG,
    PROJECTIONS,
    STRUCTUREET,
    Section,
)

_RAW_EXCERPT = 300
_DATE_FIELDS_STRUCTURE = ("dateouv", "dateautor", "datemaj")
_DATE_FIELDS_EQUIPMENT = ("datederinst", "datepremautor", "dateautor", "datemajaut", "datemajinst")
#: Capacities typed as integers (the per-sex/per-housing breakdowns stay text: unused).
_CAPACITY_FIELDS = ("capinstot", "capautot")


@dataclass
class EstablishmentExtract:
    """Typed content of a cs1100507/cs1100502 extract.

    ``structures`` has one row per accepted ``structureet`` line (FINESS field names, text
    columns stripped, dates as ``datetime64``) plus ``line`` (1-based line number).
    ``geolocations`` has one row per accepted ``geolocalisation`` line: ``nofinesset``,
    ``x``, ``y`` (floats in the CRS ``epsg``, NaN when absent or bad), ``epsg`` (Int64),
    ``sourcecoordet``, ``datemaj``, ``line``.
    """

    path: str
    layout: str
    encoding: str
    source_date: str | None
    structures: pd.DataFrame
    geolocations: pd.DataFrame
    issues: list[RowIssue] = field(default_factory=list)
    lines_read: int = 0
    #: Number of lines seen per section, rejected ones included.
    section_lines: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_structures(self) -> int:
        """``structureet`` lines seen but not kept."""
        return self.section_lines.get("structureet", 0) - len(self.structures)


@dataclass
class EquipmentExtract:
    """Typed content of a cs1100505 extract: one row per ``equipementsocial`` line.

    Capacities are ``Int64`` (places), ``removed_installed`` / ``removed_authorised`` are
    booleans from ``indsupinst`` / ``indsupaut`` (``O`` = removed).
    """

    path: str
    encoding: str
    source_date: str | None
    equipment: pd.DataFrame
    issues: list[RowIssue] = field(default_factory=list)
    lines_read: int = 0


# --------------------------------------------------------------------------- raw read

def read_text(path: str | Path) -> tuple[str, str]:
    """Return the decoded text of ``path`` and the encoding used.

    UTF-8 (BOM or not) is tried first, then Windows-1252, then Latin-1. Gzip files are
    decompressed. UTF-16, binary files, ZIP archives and HTML pages are refused with an
    :class:`InputFormatError`.
    """
    p = Path(path)
    if not p.is_file():
        raise InputMissingError("file not found / fichier introuvable", path=str(p))
    try:
        data = p.read_bytes()
    except OSError as exc:  # pragma: no cover - permissions
        raise InputMissingError(f"cannot read file: {exc}", path=str(p)) from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputFormatError(f"truncated or corrupt gzip file: {exc}", path=str(p)) from exc
    return decode_bytes(data, str(p))


def decode_bytes(data: bytes, path: str) -> tuple[str, str]:
    """Decode raw bytes of an extract (see :func:`read_text`)."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputFormatError("file starts with a UTF-8 BOM but is not valid UTF-8",
                                   path=path, line=line) from exc
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
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _read_records(text: str, path: str) -> tuple[list[list[str]], list[int], list[RowIssue]]:
    """All CSV records of ``text`` (``;``-separated) with their exact 1-based start line
    numbers, even when quoted fields span several lines; unreadable records become issues."""
    records, lines, issues = [], [], []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar='"')
    prev = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field larger than the csv field limit
            issues.append(RowIssue(path, prev + 1, "*", f"unreadable CSV record: {exc}"))
            prev = reader.line_num
            continue
        records.append(values)
        lines.append(prev + 1)
        prev = reader.line_num
    return records, lines, issues


def _excerpt(values: list[str]) -> str:
    return ";".join(values)[:_RAW_EXCERPT]


@dataclass
class _Sections:
    source_date: str | None
    frames: dict[str, pd.DataFrame]
    issues: list[RowIssue]
    records: int
    seen: dict[str, int]


def _split_sections_csv(text: str, path: str, sections: tuple[Section, ...]) -> _Sections:
    """Group the records of ``text`` by section with Python's csv module (exact line numbers
    even when quoted fields span several lines), checking the field count of each line.

    Returns the header date, the rows and line numbers per section, the issues, the number
    of records read and the number of lines seen per section (rejected ones included).
    """
    by_name = {s.name: s for s in sections}
    rows: dict[str, list[list[str]]] = {s.name: [] for s in sections}
    lines: dict[str, list[int]] = {s.name: [] for s in sections}
    seen = {s.name: 0 for s in sections}
    records, numbers, issues = _read_records(text, path)
    source_date: str | None = None
    n = 0
    for line, values in zip(numbers, records):
        if not values:
            continue
        n += 1
        section = by_name.get(values[0])
        if section is None:
            tag = values[0].strip().lstrip("\ufeff").lower()
            section = by_name.get(tag)
            if section is None:
                if tag == HEADER_TAG and n == 1:
                    if len(values) >= 4:
                        source_date = values[3].strip() or None
                    continue
                if n == 1:
                    expected = " / ".join(s.name for s in sections)
                    raise InputFormatError(
                        f"first line starts with {values[0][:40]!r}: this is not a raw FINESS "
                        f"etalab extract (expected a 'finess;etalab;...' header or '{expected}' "
                        "lines)", path=path, line=line, field="section")
                issues.append(RowIssue(path, line, "section",
                                       f"unknown line type {values[0][:40]!r}", raw=_excerpt(values)))
                continue
        seen[section.name] += 1
        width = len(values)
        if width != section.width:
            if section.trailing_empty_ok and width == section.width + 1 and not values[-1].strip():
                values = values[:-1]
            else:
                issues.append(RowIssue(
                    path, line, "*",
                    f"{width} fields on a '{section.name}' line, expected {section.width}",
                    raw=_excerpt(values)))
                continue
        rows[section.name].append(values)
        lines[section.name].append(line)
    frames = {sec.name: _frame(rows[sec.name], lines[sec.name], sec) for sec in sections}
    return _Sections(source_date, frames, issues, n, seen)


def _contiguous_block(text: str, starts: np.ndarray, name: str) -> tuple[int, int] | None:
    """``(first, stop)`` line indices when every line starting with ``name;`` lies in one
    contiguous block (the usual layout of an extract), ``(0, 0)`` when there is none, and
    None otherwise. Only C-level string counts: no Python loop over the lines."""
    head = name + ";"
    marker = "\n" + head
    at_start = text.startswith(head)
    total = text.count(marker) + int(at_start)
    if not total:
        return (0, 0)
    first_pos = 0 if at_start else text.find(marker) + 1
    first = int(np.searchsorted(starts, first_pos, side="right")) - 1
    last = first + total - 1
    if last >= len(starts):
        return None
    # A marker can only sit at a line start; total-1 of them between the starts of lines
    # first+1..last means each of those lines starts with the section name.
    inside = text.count(marker, int(starts[first]), int(starts[last]) - 1 + len(marker))
    return (first, last + 1) if inside == total - 1 else None


def _split_sections(text: str, path: str, sections: tuple[Section, ...]) -> _Sections:
    """Group the records of ``text`` by section into text DataFrames, checking field counts.

    Uses Arrow's multi-threaded CSV reader on each section's lines when no quoted field spans
    several lines (the common case); else falls back to :func:`_split_sections_csv`.
    """
    normalised = text.replace("\r\n", "\n")
    if "\r" in normalised:
        return _split_sections_csv(text, path, sections)
    lines = normalised.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if '"' in normalised and any(line.count('"') % 2 for line in lines if '"' in line):
        return _split_sections_csv(text, path, sections)
    by_name = {sec.name: sec for sec in sections}
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    ends = np.cumsum(lengths + 1) - 1  # offset of the newline after each line
    starts = ends - lengths
    selected: dict[str, list[int]] = {}
    matched = np.zeros(len(lines), dtype=bool)
    for name in by_name:
        block = _contiguous_block(normalised, starts, name)
        if block is None:  # interleaved sections: classify line by line
            idx = [i for i, line in enumerate(lines) if line.startswith(name + ";")]
            selected[name] = idx
            matched[idx] = True
        else:
            selected[name] = list(range(*block))
            matched[block[0]:block[1]] = True
    non_blank = lengths > 0
    first_line = int(np.argmax(non_blank)) if non_blank.any() else -1
    issues: list[RowIssue] = []
    source_date: str | None = None
    for i in np.flatnonzero(non_blank & ~matched).tolist():
        values = next(csv.reader([lines[i]], delimiter=";"), [""])
        norm = values[0].strip().lstrip("\ufeff").lower()
        if norm in by_name:
            selected[norm].append(i)
        elif i == first_line and norm == HEADER_TAG:
            if len(values) >= 4:
                source_date = values[3].strip() or None
        elif i == first_line:
            expected = " / ".join(by_name)
            raise InputFormatError(
                f"first line starts with {values[0][:40]!r}: this is not a raw FINESS etalab "
                f"extract (expected a 'finess;etalab;...' header or '{expected}' lines)",
                path=path, line=i + 1, field="section")
        else:
            issues.append(RowIssue(path, i + 1, "section",
                                   f"unknown line type {values[0][:40]!r}", raw=_excerpt(values)))
    frames = {}
    for name, idx in selected.items():
        idx_arr = np.unique(np.asarray(idx, dtype=np.int64))
        frames[name], more = _arrow_frame(normalised, lines, starts, ends, idx_arr,
                                          by_name[name], path)
        issues += more
    issues.sort(key=lambda issue: issue.line)
    seen = {name: len(idx) for name, idx in selected.items()}
    return _Sections(source_date, frames, issues, int(non_blank.sum()), seen)


def _arrow_frame(text: str, lines: list[str], starts: np.ndarray, ends: np.ndarray,
                 idx: np.ndarray, section: Section, path: str
                 ) -> tuple[pd.DataFrame, list[RowIssue]]:
    """Parse the lines ``idx`` (0-based, sorted) of one section with Arrow's CSV reader.

    A contiguous block is handed over as one slice of ``text`` (``starts``/``ends`` are the
    character offsets of each line). Rows Arrow rejects (wrong width) are found back by their
    text to name their line; they become issues, or are accepted when the section tolerates
    one trailing empty field. Valid rows keep their order, so their line numbers are the
    remaining positions.
    """
    if not len(idx):
        return _frame([], [], section), []
    bad: list[str] = []

    def on_invalid(row) -> str:
        bad.append(row.text)
        return "skip"

    if idx[-1] - idx[0] + 1 == len(idx):
        body = text[starts[idx[0]]:ends[idx[-1]]].encode("utf-8")
    else:
        body = "\n".join([lines[i] for i in idx.tolist()]).encode("utf-8")
    names = ["_section", *section.fields]
    table = pacsv.read_csv(
        pa.BufferReader(body),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(delimiter=";", quote_char='"', double_quote=True,
                                         invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                             strings_can_be_null=False,
                                             quoted_strings_can_be_null=False),
    )
    numbers = idx + 1
    issues: list[RowIssue] = []
    extra_rows, extra_lines = [], []
    if bad:
        wanted: dict[str, int] = {}
        for t in bad:
            wanted[t] = wanted.get(t, 0) + 1
        rejected_pos = []
        for pos, i in enumerate(idx.tolist()):
            if wanted.get(lines[i], 0):
                wanted[lines[i]] -= 1
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
    table = table.drop(["_section"]).append_column("line", pa.array(numbers, type=pa.int64()))
    frame = _trim(table, section)
    if extra_rows:
        frame = pd.concat([frame, _frame(extra_rows, extra_lines, section)], ignore_index=True)
        frame = frame.sort_values("line", kind="stable").reset_index(drop=True)
    return frame, issues


def _trim(table: pa.Table, section: Section) -> pd.DataFrame:
    arrays = {name: pc.utf8_trim_whitespace(table[name]) for name in section.fields}
    arrays["line"] = table["line"]
    return pa.table(arrays).to_pandas()


def _frame(rows: list[list[str]], lines: list[int], section: Section) -> pd.DataFrame:
    """Build a text DataFrame from raw rows (section name dropped, values stripped) through
    Arrow, plus the ``line`` column."""
    columns = list(zip(*rows)) if rows else [()] * section.width
    arrays = {name: pc.utf8_trim_whitespace(pa.array(col, type=pa.string()))
              for name, col in zip(section.fields, columns[1:])}
    arrays["line"] = pa.array(lines, type=pa.int64())
    return pa.table(arrays).to_pandas()


def isin_text(values: pd.Series, known: pd.Series) -> np.ndarray:
    """Vectorised membership test of string columns (Arrow hash set)."""
    result = pc.is_in(pa.array(values, type=pa.string()),
                      value_set=pa.array(known, type=pa.string()).unique())
    return np.asarray(result.fill_null(False), dtype=bool)


def _issues_for(df: pd.DataFrame, mask: pd.Series, path: str, field_name: str, reason,
                action: str) -> list[RowIssue]:
    """One RowIssue per row of ``df`` where ``mask`` is true (reason may be a callable of the value)."""
    out = []
    if not mask.any():
        return out
    for line, value in zip(df.loc[mask, "line"], df.loc[mask, field_name] if field_name in df else
                           [""] * int(mask.sum())):
        text = reason(value) if callable(reason) else reason
        out.append(RowIssue(path, int(line), field_name, text, action, raw=str(value)[:_RAW_EXCERPT]))
    return out


def _parse_dates(df: pd.DataFrame, fields: tuple[str, ...], path: str) -> list[RowIssue]:
    """Convert ISO date text columns to datetime64 in place; bad values become NaT (kept)."""
    issues: list[RowIssue] = []
    for f in fields:
        text = df[f]
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() & text.fillna("").ne("")
        issues += _issues_for(df, bad, path, f, lambda v: f"not a date (YYYY-MM-DD): {v!r}", "kept")
        df[f] = parsed
    return issues


def parse_projection(source: str) -> int | None:
    """EPSG code named by a ``sourcecoordet`` value, or None if unknown.

    Accepts the projection token of the etalab files (last comma-separated part, e.g.
    ``1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93``), ``EPSG:NNNN`` or a bare code.
    """
    if not source:
        return None
    token = source.rsplit(",", 1)[-1].strip().upper()
    if token in PROJECTIONS:
        return PROJECTIONS[token]
    m = re.fullmatch(r"(?:EPSG:?)?\s*(\d{4,5})", token)
    if m and int(m.group(1)) in KNOWN_EPSG:
        return int(m.group(1))
    return None


# --------------------------------------------------------------------------- establishments

def parse_establishments(path: str | Path) -> EstablishmentExtract:
    """Parse a cs1100507 or cs1100502 extract file into typed tables (see module doc)."""
    text, encoding = read_text(path)
    return parse_establishments_text(text, str(path), encoding)


def parse_establishments_text(text: str, path: str = "<text>", encoding: str = "utf-8"
                              ) -> EstablishmentExtract:
    """Parse the decoded text of a cs1100507/cs1100502 extract; bad rows become issues."""
    parts = _split_sections(text, path, (STRUCTUREET, GEOLOCALISATION))
    issues = parts.issues
    if not len(parts.frames["structureet"]):
        raise InputFormatError("no valid 'structureet' line: not a FINESS establishment extract "
                               "(or every line has the wrong number of fields)", path=path)
    st = parts.frames["structureet"]
    geo = parts.frames["geolocalisation"]

    # FINESS number: pattern, then uniqueness (first occurrence wins).
    bad_no = ~st["nofinesset"].str.fullmatch(FINESS_PATTERN).fillna(False).astype(bool)
    issues += _issues_for(st, bad_no, path, "nofinesset",
                          lambda v: f"invalid FINESS number {v!r}", "rejected")
    st = st[~bad_no]
    dup = st["nofinesset"].duplicated(keep="first")
    issues += _issues_for(st, dup, path, "nofinesset",
                          lambda v: f"duplicate FINESS number {v} (first occurrence kept)", "rejected")
    st = st[~dup].reset_index(drop=True)

    bad_dep = ~st["departement"].str.fullmatch(r"[0-9]{2}|2[AB]|9[A-Z]").fillna(False).astype(bool)
    issues += _issues_for(st, bad_dep, path, "departement",
                          lambda v: f"invalid department code {v!r}", "kept")
    bad_com = ~st["commune"].str.fullmatch(r"[0-9]{3}").fillna(False).astype(bool)
    issues += _issues_for(st, bad_com, path, "commune",
                          lambda v: f"invalid commune code {v!r} (3 digits expected)", "kept")
    bad_cat = ~st["categetab"].str.fullmatch(r"[0-9]{3}").fillna(False).astype(bool)
    issues += _issues_for(st, bad_cat, path, "categetab",
                          lambda v: f"invalid category code {v!r}", "kept")
    issues += _parse_dates(st, _DATE_FIELDS_STRUCTURE, path)

    geo = _type_geolocations(geo, st["nofinesset"], path, issues)
    layout = "cs1100507" if len(geo) else "cs1100502"
    issues.sort(key=lambda i: i.line)
    return EstablishmentExtract(path, layout, encoding, parts.source_date, st, geo, issues,
                                parts.records, parts.seen)


def _type_geolocations(geo: pd.DataFrame, known: pd.Series, path: str,
                       issues: list[RowIssue]) -> pd.DataFrame:
    unknown = pd.Series(~isin_text(geo["nofinesset"], known), index=geo.index)
    issues += _issues_for(geo, unknown, path, "nofinesset",
                          lambda v: f"geolocation for an unknown establishment {v!r}", "rejected")
    geo = geo[~unknown]
    dup = geo["nofinesset"].duplicated(keep="first")
    issues += _issues_for(geo, dup, path, "nofinesset",
                          lambda v: f"second geolocation for {v} (first kept)", "rejected")
    geo = geo[~dup].reset_index(drop=True)

    out = pd.DataFrame({"nofinesset": geo["nofinesset"], "line": geo["line"]})
    for src, dst in (("coordxet", "x"), ("coordyet", "y")):
        text = geo[src].fillna("")
        values = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
        bad = values.isna() & text.ne("")
        bad |= ~np.isfinite(values.fillna(0.0))
        issues += _issues_for(geo, bad, path, src,
                              lambda v: f"coordinate is not a number: {v!r}", "kept")
        out[dst] = values.where(~bad).astype("float64")
    has_xy = out["x"].notna() & out["y"].notna()
    out.loc[~has_xy, ["x", "y"]] = np.nan

    codes = {s: parse_projection(s) for s in geo["sourcecoordet"].unique()}
    epsg = geo["sourcecoordet"].map(codes)
    bad_proj = epsg.isna() & has_xy
    issues += _issues_for(geo, bad_proj, path, "sourcecoordet",
                          lambda v: f"unknown projection in {v!r}: coordinates ignored", "kept")
    out["epsg"] = epsg.astype("Int64")
    out.loc[bad_proj, ["x", "y"]] = np.nan
    out["sourcecoordet"] = geo["sourcecoordet"]
    dates = pd.to_datetime(geo["datemaj"], format="%Y-%m-%d", errors="coerce")
    out["datemaj"] = dates
    return out


# --------------------------------------------------------------------------- equipment

def parse_equipment(path: str | Path) -> EquipmentExtract:
    """Parse a cs1100505 equipment extract file into a typed table (see module doc)."""
    text, encoding = read_text(path)
    return parse_equipment_text(text, str(path), encoding)


def parse_equipment_text(text: str, path: str = "<text>", encoding: str = "utf-8"
                         ) -> EquipmentExtract:
    """Parse the decoded text of a cs1100505 extract; bad rows become issues."""
    parts = _split_sections(text, path, (EQUIPEMENTSOCIAL,))
    issues = parts.issues
    eq = parts.frames["equipementsocial"]
    if not len(eq) and parts.records > 1:
        raise InputFormatError("no valid 'equipementsocial' line: not a FINESS equipment extract",
                               path=path)
    bad_no = ~eq["nofinesset"].str.fullmatch(FINESS_PATTERN).fillna(False).astype(bool)
    issues += _issues_for(eq, bad_no, path, "nofinesset",
                          lambda v: f"invalid FINESS number {v!r}", "rejected")
    bad_de = ~eq["de"].str.fullmatch(r"[0-9]{1,4}").fillna(False).astype(bool) & ~bad_no
    issues += _issues_for(eq, bad_de, path, "de",
                          lambda v: f"invalid discipline code {v!r}", "rejected")
    eq = eq[~(bad_no | bad_de)].reset_index(drop=True)
    for f in _CAPACITY_FIELDS:
        text_values = eq[f].fillna("")
        values = pd.to_numeric(text_values, errors="coerce")
        bad = (values.isna() & text_values.ne("")) | (values.notna() & ((values < 0) | (values % 1 != 0)))
        issues += _issues_for(eq, bad, path, f,
                              lambda v: f"capacity is not a whole non-negative number: {v!r}", "kept")
        eq[f] = values.where(~bad).round().astype("Int64")
    for flag, name in (("indsupinst", "removed_installed"), ("indsupaut", "removed_authorised")):
        eq[name] = eq[flag].fillna("").str.upper().eq("O")
    issues += _parse_dates(eq, _DATE_FIELDS_EQUIPMENT, path)
    issues.sort(key=lambda i: i.line)
    return EquipmentExtract(path, encoding, parts.source_date, eq, issues, parts.records)
