"""The territory table as CSV: import (row problems reported and skipped) and export.

Layout (``;``, UTF-8, BOM accepted; lines starting with ``#`` before the header are comments):

``id;nom;telephone;site_web;departements;communes;finess;note;version``

``departements`` and ``communes`` are INSEE codes separated by spaces, commas or ``|``. The first
six columns are the historical ``territoires_dac.csv`` layout, still accepted alone; ``finess``
(the DAC's FINESS establishment number), ``note`` and ``version`` are optional. ``version``, when
present, is the version the row was exported at: importing it over a territory changed since is
a conflict (see :mod:`dac_map.territories.store`).

Exports go through :mod:`dac_map.tabular` (formula-like cells get a leading ``'``, the spreadsheet
text marker; a value that starts with ``'`` gets one more); imports remove one leading ``'``, so an
export re-imports unchanged.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from dac_map.errors import InputFormatError, RowIssue
from dac_map.etl.parser import read_text
from dac_map.territories.model import Territory, TerritoryError, Versioned, split_codes, validate

COLUMNS = ("id", "nom", "telephone", "site_web", "departements", "communes", "finess", "note",
           "version")
REQUIRED = ("id", "nom", "departements", "communes")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


@dataclass
class TableRead:
    """Territories read from a file, the version each row was exported at (when given) and
    the rows skipped, with their reasons."""

    territories: list[Territory] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    issues: list[RowIssue] = field(default_factory=list)


def _unneutralise(value: str) -> str:
    """A leading ``'`` is the spreadsheet text marker: :mod:`dac_map.tabular` adds it before a
    formula-like cell, and :func:`_row` before a value that starts with ``'`` itself; it is
    removed on reading, so an export re-imports exactly."""
    return value[1:] if value.startswith("'") else value


def parse_table(text: str, path: str = "<territoires>") -> TableRead:
    """Parse CSV text. A missing column aborts (:class:`InputFormatError` naming it); a bad row
    is skipped and reported (line and field); a repeated id keeps the first row. Each line is
    parsed on its own, so a stray quote only affects its line."""
    lines = text.translate(_INVISIBLE).splitlines()
    start = 0
    while start < len(lines) and (lines[start].startswith("#") or not lines[start].strip()):
        start += 1
    if start == len(lines):
        raise InputFormatError("fichier vide / empty file (expected a header line)", path=path,
                               line=1)
    delimiter = ";" if lines[start].count(";") >= lines[start].count(",") else ","
    header = [h.strip().lower() for h in next(csv.reader([lines[start]], delimiter=delimiter))]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputFormatError(f"colonne(s) manquante(s) / missing column(s): {', '.join(missing)}; "
                               f"found: {', '.join(header)}", path=path, line=start + 1,
                               field=missing[0])
    out = TableRead()
    seen: set[str] = set()
    # One physical line = one row (a territory never spans lines): a stray quote cannot swallow
    # the following rows.
    for offset, text_line in enumerate(lines[start + 1:]):
        line = start + 2 + offset
        cells = next(csv.reader([text_line], delimiter=delimiter), [])
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            out.issues.append(RowIssue(path, line, header[-1],
                                       f"{len(cells)} champs au lieu de {len(header)} / too many fields"))
            continue
        row = {h: _unneutralise(c.strip()) for h, c in zip(header, cells)}
        try:
            t = validate(Territory(
                id=row.get("id", ""), name=row.get("nom", ""),
                departments=tuple(split_codes(row.get("departements", ""))),
                communes=tuple(split_codes(row.get("communes", ""))),
                finess=row.get("finess", ""), phone=row.get("telephone", ""),
                website=row.get("site_web", ""), note=row.get("note", "")))
            version = row.get("version", "")
            if version and not version.isdigit():
                raise TerritoryError(f"version invalide / invalid version: {version!r}", field="version")
        except TerritoryError as exc:
            out.issues.append(RowIssue(path, line, exc.field or "", exc.message,
                                       raw=";".join(cells)[:200]))
            continue
        if t.id in seen:
            out.issues.append(RowIssue(path, line, "id", f"identifiant répété / repeated id {t.id!r}"))
            continue
        seen.add(t.id)
        out.territories.append(t)
        if version:
            out.versions[t.id] = int(version)
    return out


def read_table(path: str | Path) -> TableRead:
    """Read a territory CSV file (encoding detected like the FINESS files)."""
    text, _ = read_text(path)
    return parse_table(text, str(path))


def _row(t: Territory, version: int | None) -> list[str]:
    cells = [t.id, t.name, t.phone, t.website, " ".join(t.departments), " ".join(t.communes),
             t.finess, t.note, "" if version is None else str(version)]
    return ["'" + c if c.startswith("'") else c for c in cells]


def table_text(items: list[Territory] | list[Versioned]) -> str:
    """The table as CSV text (``;``, ``\r\n``) through the one CSV writer
    (:mod:`dac_map.tabular`: formula-like cells neutralised). Versioned items carry their
    version number (for a conflict-checked re-import)."""
    return table_bytes(items, bom=False).decode("utf-8")


def table_bytes(items: list[Territory] | list[Versioned], bom: bool = True) -> bytes:
    """The table as UTF-8 CSV bytes, with a BOM by default (opens in Excel)."""
    from dac_map.tabular import csv_bytes

    rows = []
    for item in items:
        t, v = (item.territory, item.version) if isinstance(item, Versioned) else (item, None)
        rows.append(_row(t, v))
    return csv_bytes(rows, header=COLUMNS, bom=bom)
