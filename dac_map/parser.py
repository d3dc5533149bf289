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

from dac_map.errors import InputFormatError, InputMissingError, RowIssue
from dac_map.layouts import (
    EQUIPEMENTSOCIAL,
    FINESS_PATTERN,
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
_CAPACITY_FIELDS = ("capinstot", "capinstm", "capinstf", "capinsthab",
                    "capautot", "capautm", "capautf", "capauthab")


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


def _iter_records(text: str):
    """Yield ``(start_line, values)`` for every CSV record of ``text`` (``;``-separated)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";", quotechar='"', strict=False)
    prev = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. field larger than field limit
            yield prev + 1, exc
            prev = reader.line_num
            continue
        start = prev + 1
        prev = reader.line_num
        if values:
            yield start, values


def _excerpt(values: list[str]) -> str:
    return ";".join(values)[:_RAW_EXCERPT]


def _split_sections(text: str, path: str, sections: tuple[Section, ...]
                    ) -> tuple[str | None, dict[str, list[list[str]]], list[RowIssue], int,
                               dict[str, int]]:
    """Group the records of ``text`` by section, checking the field count of each line.

    Returns the header date, the rows per section (each row ends with its line number as
    a string), the issues, the number of records read and the number of lines per section.
    """
    by_name = {s.name: s for s in sections}
    rows: dict[str, list[list[str]]] = {s.name: [] for s in sections}
    issues: list[RowIssue] = []
    source_date: str | None = None
    seen = {s.name: 0 for s in sections}
    n = 0
    for line, values in _iter_records(text):
        n += 1
        if isinstance(values, Exception):
            issues.append(RowIssue(path, line, "*", f"unreadable CSV record: {values}"))
            continue
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
                    f"first line starts with {values[0][:40]!r}: this is not a raw FINESS etalab "
                    f"extract (expected a 'finess;etalab;...' header or '{expected}' lines)",
                    path=path, line=line, field="section")
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
        values.append(str(line))
        rows[section.name].append(values)
    return source_date, rows, issues, n, seen


def _frame(rows: list[list[str]], section: Section) -> pd.DataFrame:
    """Build a text DataFrame from raw rows (section name dropped, values stripped)."""
    columns = ["_section", *section.fields, "line"]
    if not rows:
        df = pd.DataFrame({c: pd.Series([], dtype="str") for c in columns})
    else:
        df = pd.DataFrame(rows, columns=columns, dtype="str")
    df = df.drop(columns="_section")
    for c in section.fields:
        df[c] = df[c].str.strip()
    df["line"] = df["line"].astype("int64")
    return df


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
    source_date, rows, issues, n, seen = _split_sections(text, path, (STRUCTUREET, GEOLOCALISATION))
    if not rows["structureet"]:
        raise InputFormatError("no valid 'structureet' line: not a FINESS establishment extract "
                               "(or every line has the wrong number of fields)", path=path)
    st = _frame(rows["structureet"], STRUCTUREET)
    geo = _frame(rows["geolocalisation"], GEOLOCALISATION)

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

    geo = _type_geolocations(geo, set(st["nofinesset"]), path, issues)
    layout = "cs1100507" if len(geo) else "cs1100502"
    issues.sort(key=lambda i: i.line)
    return EstablishmentExtract(path, layout, encoding, source_date, st, geo, issues, n, seen)


def _type_geolocations(geo: pd.DataFrame, known: set[str], path: str,
                       issues: list[RowIssue]) -> pd.DataFrame:
    unknown = ~geo["nofinesset"].isin(known)
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
    source_date, rows, issues, n, _ = _split_sections(text, path, (EQUIPEMENTSOCIAL,))
    eq = _frame(rows["equipementsocial"], EQUIPEMENTSOCIAL)
    if not len(eq) and n > 1:
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
    return EquipmentExtract(path, encoding, source_date, eq, issues, n)
