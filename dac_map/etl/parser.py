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

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from dac_map import settings
from dac_map.codes import FINESS_PATTERN
from dac_map.errors import InputFormatError, InputMissingError, RowIssue
from dac_map.etl.columns import isin_text, map_distinct, to_float
from dac_map.etl.layouts import EQUIPEMENTSOCIAL, GEOLOCALISATION, KNOWN_EPSG, PROJECTIONS, STRUCTUREET
from dac_map.etl.rawtext import DecodeNote, decode
from dac_map.etl.sections import RAW_EXCERPT, split_sections

_Extract = TypeVar("_Extract")

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


def _issues_for(df: pd.DataFrame, mask: pd.Series, path: str, field_name: str, reason,
                action: str) -> list[RowIssue]:
    """One RowIssue per row of ``df`` where ``mask`` is true (reason may be a callable of the value)."""
    out = []
    if not mask.any():
        return out
    for line, value in zip(df.loc[mask, "line"], df.loc[mask, field_name] if field_name in df else
                           [""] * int(mask.sum())):
        text = reason(value) if callable(reason) else reason
        out.append(RowIssue(path, int(line), field_name, text, action, raw=str(value)[:RAW_EXCERPT]))
    return out


def _drop(df: pd.DataFrame, mask: pd.Series, issues: list[RowIssue], path: str,
          reason: Callable[[str], str]) -> pd.DataFrame:
    """Report the rows where ``mask`` is true as rejected (field ``nofinesset``), return the others
    (``df`` itself when there are none: no copy of a national table for nothing)."""
    if not mask.any():
        return df
    issues += _issues_for(df, mask, path, "nofinesset", reason, "rejected")
    return df[~mask]


def _keep_first(df: pd.DataFrame, issues: list[RowIssue], path: str,
                reason: Callable[[str], str]) -> pd.DataFrame:
    """Reject the repeats of a FINESS number (its first row is kept), renumber the rows."""
    return _drop(df, df["nofinesset"].duplicated(keep="first"), issues, path, reason
                 ).reset_index(drop=True)


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


def _parse_file(path: str | Path, parse_text: Callable[..., _Extract]) -> _Extract:
    """Read, decode and parse one extract file with ``parse_text`` (its UTF-8 bytes, path,
    encoding, notes): no file-sized string is built."""
    decoded = decode(read_bytes(path), str(path))
    return parse_text(decoded.body, str(path), decoded.encoding, decoded.notes)


# --------------------------------------------------------------------------- establishments

def parse_establishments(path: str | Path) -> EstablishmentExtract:
    """Parse a cs1100507 or cs1100502 extract file into typed tables (see module doc)."""
    return _parse_file(path, parse_establishments_text)


def parse_establishments_text(text: str | bytes | bytearray, path: str = "<text>",
                              encoding: str = "utf-8", notes: list[DecodeNote] | None = None,
                              engine: str = "arrow") -> EstablishmentExtract:
    """Parse the decoded text of a cs1100507/cs1100502 extract (a string, or its UTF-8 bytes);
    bad rows become issues.

    ``notes`` are the lines the decoder repaired (reported as issues); ``engine`` is ``arrow``
    (fast path, default) or ``csv`` (every line with Python's csv module: same result).
    """
    sections = (STRUCTUREET, GEOLOCALISATION)
    parts = split_sections(text, path, sections, engine, notes)
    issues = parts.issues
    if not len(parts.frames["structureet"]):
        raise InputFormatError("no valid 'structureet' line: not a FINESS establishment extract "
                               "(or every line has the wrong number of fields)", path=path)
    st = parts.frames["structureet"]
    geo = parts.frames["geolocalisation"]

    # FINESS number: pattern, then uniqueness (first occurrence wins).
    bad_no = ~st["nofinesset"].str.fullmatch(FINESS_PATTERN).fillna(False).astype(bool)
    st = _drop(st, bad_no, issues, path, lambda v: f"invalid FINESS number {v!r}")
    st = _keep_first(st, issues, path, lambda v: f"duplicate FINESS number {v} (first occurrence kept)")

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
    geo = _drop(geo, unknown, issues, path, lambda v: f"geolocation for an unknown establishment {v!r}")
    geo = _keep_first(geo, issues, path, lambda v: f"second geolocation for {v} (first kept)")

    out = pd.DataFrame({"nofinesset": geo["nofinesset"], "line": geo["line"]})
    for src, dst in (("coordxet", "x"), ("coordyet", "y")):
        text = geo[src].fillna("")
        values = to_float(text.str.replace(",", ".", regex=False))
        bad = values.isna() & text.ne("")
        bad |= ~np.isfinite(values.fillna(0.0))
        issues += _issues_for(geo, bad, path, src,
                              lambda v: f"coordinate is not a number: {v!r}", "kept")
        out[dst] = values.where(~bad).astype("float64")
    has_xy = out["x"].notna() & out["y"].notna()
    out.loc[~has_xy, ["x", "y"]] = np.nan

    epsg = pd.Series(map_distinct(geo["sourcecoordet"], parse_projection), index=geo.index,
                     dtype="float64")
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
    return _parse_file(path, parse_equipment_text)


def parse_equipment_text(text: str | bytes | bytearray, path: str = "<text>",
                         encoding: str = "utf-8", notes: list[DecodeNote] | None = None,
                         engine: str = "arrow") -> EquipmentExtract:
    """Parse the decoded text of a cs1100505 extract; bad rows become issues (see
    :func:`parse_establishments_text` for ``notes`` and ``engine``)."""
    parts = split_sections(text, path, (EQUIPEMENTSOCIAL,), engine, notes)
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
