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

import csv
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dac_map import settings
from dac_map.codes import FINESS_PATTERN
from dac_map.errors import InputFormatError, InputMissingError, RowIssue
from dac_map.etl.rawtext import DecodeNote, LocalRecord, decode, local_records, safe_line
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
#: Field names of the header line ``finess;etalab;NN;YYYY-MM-DD`` by value index.
_HEADER_FIELDS = {0: "section", 1: "source", 2: "numero", 3: "date"}
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
    booleans from ``indsupinst`` / ``indsupaut`` (``O`` = removed). A capacity above
    :data:`~dac_map.settings.CAPACITY_MAX_PLACES` (or the discipline's bound in
    :data:`~dac_map.settings.CAPACITY_MAX_BY_DISCIPLINE`) is blanked, reported and flagged in
    ``capacity_implausible``.
    """

    path: str
    encoding: str
    source_date: str | None
    equipment: pd.DataFrame
    issues: list[RowIssue] = field(default_factory=list)
    lines_read: int = 0


# --------------------------------------------------------------------------- raw read

def read_bytes(path: str | Path) -> bytes:
    """The bytes of ``path``, gunzipped when compressed; missing files and corrupt gzip
    archives raise :class:`InputMissingError` / :class:`InputFormatError`."""
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
    return data


def read_text(path: str | Path) -> tuple[str, str]:
    """Return the decoded text of ``path`` and the encoding decided for the file.

    See :func:`dac_map.etl.rawtext.decode`: UTF-8 (BOM or not) or Windows-1252/Latin-1, decided
    from the evidence of the whole file, lines in the other encoding repaired. Gzip files are
    decompressed. UTF-16, binary files, ZIP archives and HTML pages are refused with an
    :class:`InputFormatError`.
    """
    decoded = decode(read_bytes(path), str(path))
    return decoded.text, decoded.encoding


def decode_bytes(data: bytes, path: str) -> tuple[str, str]:
    """Decode raw bytes of an extract (see :func:`read_text`)."""
    decoded = decode(data, path)
    return decoded.text, decoded.encoding


def _encoding_issues(notes: list[DecodeNote], path: str,
                     sections: tuple[Section, ...]) -> list[RowIssue]:
    by_name = {s.name: s for s in sections}
    return [RowIssue(path, n.line, _field_name(by_name.get(n.tag), n.index),
                     f"bytes not valid in the file's encoding ({n.file_encoding}): read as "
                     f"{n.decoded_as}, check the value", "kept") for n in notes]


def _excerpt(values: list[str]) -> str:
    return ";".join(values)[:_RAW_EXCERPT]


@dataclass
class _Sections:
    source_date: str | None
    frames: dict[str, pd.DataFrame]
    issues: list[RowIssue]
    records: int
    seen: dict[str, int]


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


def _split_sections(text: str, path: str, sections: tuple[Section, ...],
                    engine: str = "arrow") -> _Sections:
    """Group the records of ``text`` by section into text DataFrames, checking field counts.

    Lines with plain CSV quoting (nearly all) are parsed by Arrow's CSV reader, a block per
    section; the header, the lines with irregular or unbalanced quotes (see
    :mod:`~dac_map.etl.rawtext`) and lines of unknown type are read one by one with Python's
    csv rules. ``engine="csv"`` reads every line that way (the reference the fast path is
    tested against). Line numbers are physical 1-based lines (CR, LF and CRLF all end a line).
    """
    normalised = text
    if "\r" in text:  # CRLF, or bare CR (old Mac files)
        normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normalised.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    by_name = {sec.name: sec for sec in sections}
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    ends = np.cumsum(lengths + 1) - 1  # offset of the newline after each line
    starts = ends - lengths
    non_blank = lengths > 0
    first_line = int(np.argmax(non_blank)) if non_blank.any() else -1
    if engine == "csv":
        starts_local = np.flatnonzero(non_blank).tolist()
    else:  # lines holding a quote: found from the quotes when they are few (the usual case)
        n_quotes = normalised.count('"')
        if n_quotes <= len(lines):
            quoted = np.unique(np.searchsorted(
                starts, [m.start() for m in re.finditer('"', normalised)], side="right") - 1)
        else:  # quotes on most lines (a fully quoted export)
            quoted = np.asarray([i for i, line in enumerate(lines) if '"' in line], dtype=np.int64)
        starts_local = [i for i in quoted.tolist() if not safe_line(lines[i])]
        if first_line >= 0 and first_line not in starts_local:
            starts_local = sorted([first_line, *starts_local])
    records, covered = local_records(lines, starts_local)

    selected: dict[str, np.ndarray] = {}
    matched = covered.copy()
    if engine != "csv":
        for name in by_name:
            block = _contiguous_block(normalised, starts, name)
            if block is None:  # interleaved sections: classify line by line
                idx = np.asarray([i for i, line in enumerate(lines) if line.startswith(name + ";")],
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
            fast, more = _arrow_frame(normalised, lines, starts, ends, idx, sec, path)
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
    n_records = int((non_blank & ~covered).sum()) + len(records)
    return _Sections(source_date, frames, issues, n_records, seen)


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
    decoded = decode(read_bytes(path), str(path))
    return parse_establishments_text(decoded.text, str(path), decoded.encoding, decoded.notes)


def parse_establishments_text(text: str, path: str = "<text>", encoding: str = "utf-8",
                              notes: list[DecodeNote] | None = None, engine: str = "arrow"
                              ) -> EstablishmentExtract:
    """Parse the decoded text of a cs1100507/cs1100502 extract; bad rows become issues.

    ``notes`` are the lines the decoder repaired (reported as issues); ``engine`` is ``arrow``
    (fast path, default) or ``csv`` (every line with Python's csv module: same result).
    """
    sections = (STRUCTUREET, GEOLOCALISATION)
    parts = _split_sections(text, path, sections, engine)
    issues = parts.issues + _encoding_issues(notes or [], path, sections)
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
    issues += _parse_dates(geo, ("datemaj",), path)
    out["datemaj"] = geo["datemaj"]
    return out


# --------------------------------------------------------------------------- equipment

def parse_equipment(path: str | Path) -> EquipmentExtract:
    """Parse a cs1100505 equipment extract file into a typed table (see module doc)."""
    decoded = decode(read_bytes(path), str(path))
    return parse_equipment_text(decoded.text, str(path), decoded.encoding, decoded.notes)


def parse_equipment_text(text: str, path: str = "<text>", encoding: str = "utf-8",
                         notes: list[DecodeNote] | None = None, engine: str = "arrow"
                         ) -> EquipmentExtract:
    """Parse the decoded text of a cs1100505 extract; bad rows become issues (see
    :func:`parse_establishments_text` for ``notes`` and ``engine``)."""
    parts = _split_sections(text, path, (EQUIPEMENTSOCIAL,), engine)
    issues = parts.issues + _encoding_issues(notes or [], path, (EQUIPEMENTSOCIAL,))
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
    limit = eq["de"].map(settings.CAPACITY_MAX_BY_DISCIPLINE).fillna(
        settings.CAPACITY_MAX_PLACES).astype("float64")
    implausible = pd.Series(False, index=eq.index)
    for f in _CAPACITY_FIELDS:
        text_values = eq[f].fillna("")
        values = pd.to_numeric(text_values, errors="coerce")
        bad = (values.isna() & text_values.ne("")) | (values.notna() & ((values < 0) | (values % 1 != 0)))
        issues += _issues_for(eq, bad, path, f,
                              lambda v: f"capacity is not a whole non-negative number: {v!r}", "kept")
        too_big = values.notna() & ~bad & (values > limit)
        for line, value, de, lim in zip(eq.loc[too_big, "line"], values[too_big],
                                        eq.loc[too_big, "de"], limit[too_big]):
            issues.append(RowIssue(path, int(line), f,
                                   f"implausible capacity {value:,.0f} places (more than {lim:,.0f} "
                                   f"for discipline {de}): ignored", "kept", raw=str(value)))
        implausible |= too_big
        eq[f] = values.where(~bad & ~too_big).round().astype("Int64")
    eq["capacity_implausible"] = implausible
    for flag, name in (("indsupinst", "removed_installed"), ("indsupaut", "removed_authorised")):
        eq[name] = eq[flag].fillna("").str.upper().eq("O")
    issues += _parse_dates(eq, _DATE_FIELDS_EQUIPMENT, path)
    issues.sort(key=lambda i: i.line)
    return EquipmentExtract(path, encoding, parts.source_date, eq, issues, parts.records)
