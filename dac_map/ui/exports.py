"""Exports of the current result, in pure Python (the app hands these to download buttons):

* :func:`csv_bytes`: the list with French headers, ``;`` separator, decimal comma, UTF-8 with
  BOM (opens as is in a French Excel);
* :func:`excel_bytes`: the same list as an ``.xlsx`` workbook (openpyxl) with a sheet
  describing the query, the data date and the sources;
* :func:`geojson_bytes`: the points as a GeoJSON FeatureCollection (RFC 7946, WGS84);
* :func:`a4_sheet_html`: a printable A4 sheet of selected resources for a patient or a
  colleague: self-contained HTML, no script, no external resource, every string escaped.

Spreadsheet formula injection: both files go through :mod:`dac_map.tabular` (text that a
spreadsheet would run as a formula is prefixed with ``'`` in the CSV, every text cell is stored as
text in the workbook).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from dac_map.notes.model import Note
from dac_map.query import FRENCH_HEADERS, to_french_table, to_geojson
from dac_map.query.equipment import offered_in
from dac_map.query.search import plain_value
from dac_map.printing import now_local
from dac_map.tabular import csv_bytes as _csv_bytes
from dac_map.tabular import workbook_bytes, xlsx_sheet
from dac_map.ui.text import (
    format_date,
    format_km,
    format_phone,
    format_places,
    plain,
    precision_label,
)

#: Columns of the GeoJSON properties (record columns, in order, when present).
GEOJSON_COLUMNS = tuple(c for c in FRENCH_HEADERS if c not in ("lon", "lat"))

def export_table(records: pd.DataFrame) -> pd.DataFrame:
    """The records as exported: French headers (query layer's :func:`to_french_table`), text
    cleaned of control characters (formulas are neutralised by the writer)."""
    table = to_french_table(_rounded(records))
    for col in table.columns:
        if table[col].dtype == object or pd.api.types.is_string_dtype(table[col]):
            table[col] = table[col].map(_clean_cell).astype("object")
    return table


def _rounded(records: pd.DataFrame) -> pd.DataFrame:
    """Coordinates rounded to 6 decimals (about 0.1 m) for the spreadsheets."""
    out = records.copy(deep=False)
    for col in ("lon", "lat"):
        if col in out:
            out[col] = out[col].astype("float64").round(6)
    return out


def _clean_cell(value: object) -> object:
    return plain(value) if isinstance(value, str) else value


def csv_bytes(records: pd.DataFrame) -> bytes:
    """CSV (``;``, decimal comma, UTF-8 with BOM, ``\\r\\n`` line ends) of the records."""
    return _csv_bytes(export_table(records))


def excel_bytes(records: pd.DataFrame, about: Mapping[str, str] | None = None) -> bytes:
    """``.xlsx`` workbook: sheet « Ressources » (French headers, frozen header row, filters,
    numbers as numbers, text as text) and sheet « À propos » (``about`` key/value lines:
    query, data date, sources...)."""
    table = to_french_table(_rounded(records))
    wb = Workbook()
    ws = wb.active
    ws.title = "Ressources"
    xlsx_sheet(ws, table.map(plain_value))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    if len(table.columns):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{max(len(table) + 1, 1)}"
    for i, col in enumerate(table.columns, start=1):
        sample = [len(str(col))] + [len(str(v)) for v in table[col].head(200) if v is not None]
        ws.column_dimensions[get_column_letter(i)].width = min(max(sample) + 2, 60)
    info = wb.create_sheet("À propos")
    xlsx_sheet(info, [(str(k), str(v)) for k, v in (about or {}).items()], ["Élément", "Valeur"])
    for cell in info[1]:
        cell.font = Font(bold=True)
    for row in info.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    info.column_dimensions["A"].width = 28
    info.column_dimensions["B"].width = 100
    return workbook_bytes(wb)


def geojson_dict(records: pd.DataFrame) -> dict[str, object]:
    """GeoJSON FeatureCollection of the records (query layer's :func:`to_geojson`) with the
    export columns as properties."""
    cols = [c for c in GEOJSON_COLUMNS if c in records.columns]
    return to_geojson(records[[*cols, records.geometry.name]])


def geojson_bytes(records: pd.DataFrame) -> bytes:
    """:func:`geojson_dict` as UTF-8 JSON."""
    return json.dumps(geojson_dict(records), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------- A4 sheet

@dataclass(frozen=True)
class SheetContext:
    """What the A4 sheet says besides the resources (all plain text, escaped on output)."""

    title: str
    territory: str = ""
    contact: str = ""
    criteria: Sequence[str] = ()
    data_date: str = ""
    sources: str = ""
    warnings: Sequence[str] = ()
    generated: datetime = field(default_factory=lambda: now_local())
    # --- issue 15: the DAC named in the header --------------------------------------------
    #: DAC name and number (e.g. its FINESS or ARS number) heading the sheet; the territory
    #: line is then left out when it only repeats the name.
    dac_name: str = ""
    dac_number: str = ""


def equipment_by_finess(equipment: pd.DataFrame, finess: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """Equipment lines (discipline, activity type, clientèle, installed / authorised places)
    of the given establishments, as display strings; only the lines offered now count
    (:func:`dac_map.query.equipment.offered_lines`, the rule of the search and coverage)."""
    out: dict[str, list[dict[str, str]]] = {f: [] for f in finess}
    if equipment is None or not len(equipment) or not finess:
        return out
    eq = equipment[equipment["finess"].isin(list(finess))]
    eq = eq[offered_in(eq)]
    for rec in eq.to_dict(orient="records"):
        out[str(rec["finess"])].append({
            "discipline": plain(rec.get("discipline_label")) or plain(rec.get("discipline")),
            "activity": plain(rec.get("activity_type_label")) or plain(rec.get("activity_type")),
            "clientele": plain(rec.get("clientele_label")) or plain(rec.get("clientele")),
            "installed": format_places(rec.get("capacity_installed")),
            "authorised": format_places(rec.get("capacity_authorised")),
        })
    return out


_SHEET_CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.35 "DejaVu Sans", Arial, sans-serif; color: #111; margin: 0; }
header { border-bottom: 2px solid #08306b; margin-bottom: 8px; padding-bottom: 4px; }
h1 { font-size: 15pt; margin: 0 0 2px 0; color: #08306b; }
.meta, .criteria, footer { font-size: 8.5pt; color: #444; }
.warn { font-size: 9pt; color: #8a1c00; font-weight: bold; margin: 4px 0; }
.item { border-bottom: 1px solid #bbb; padding: 6px 0; break-inside: avoid; page-break-inside: avoid; }
.item h2 { font-size: 11.5pt; margin: 0; }
.item .cat { color: #333; font-style: italic; }
.item table { border-collapse: collapse; margin-top: 3px; font-size: 8.5pt; }
.item td, .item th { border: 1px solid #ccc; padding: 1px 4px; text-align: left; }
.item td.num { text-align: right; }
.item caption { text-align: left; font-size: 8.5pt; color: #444; }
.phone { font-size: 12pt; font-weight: bold; }
.note { margin-top: 4px; padding: 3px 5px; border-left: 3px solid #5b7; font-size: 9pt; }
.dac { font-size: 9pt; }
.dac a { color: #08306b; }
.notes { margin-top: 10px; border: 1px dashed #888; min-height: 25mm; padding: 4px; font-size: 9pt; color: #666; }
footer { margin-top: 8px; border-top: 1px solid #08306b; padding-top: 4px; }
.dac { font-size: 12pt; font-weight: bold; color: #08306b; }

@media screen { body { max-width: 186mm; margin: 10mm auto; } }
"""


def _e(value: object) -> str:
    return html.escape(plain(value), quote=True)


def a4_sheet_html(records: pd.DataFrame, context: SheetContext,
                  equipment: Mapping[str, list[dict[str, str]]] | None = None,
                  illustrative: bool = False, dacs: Mapping[str, object] | None = None,
                  notes: Mapping[str, Sequence[Note]] | None = None) -> str:
    """A printable A4 HTML sheet listing ``records`` (in their order) for a patient or a
    colleague: name, category, address, phone, capacities by discipline, FINESS number,
    distance, position precision; header with the territory and criteria, footer with the data
    date and sources. No script and no external resource (a Content-Security-Policy forbids
    them); every string is HTML-escaped. ``dacs``: commune INSEE code -> the
    :class:`~dac_map.territories.DacContact` covering it, printed under each resource with its
    number as a ``tel:`` link. ``notes``: the coordinators' notes the reader may see, by FINESS
    number (printed under each resource)."""
    equipment = equipment or {}
    dacs = dacs or {}
    notes = notes or {}
    items = []
    for rec in records.to_dict(orient="records"):
        fin = plain(rec.get("finess"))
        addr1 = " ".join(x for x in (plain(rec.get("address")), plain(rec.get("address_complement"))) if x)
        addr2 = " ".join(x for x in (plain(rec.get("postcode")), plain(rec.get("city"))) if x)
        phone = format_phone(rec.get("phone"))
        lines = [f'<h2>{_e(rec.get("name"))}</h2>',
                 f'<div class="cat">{_e(rec.get("category_label"))}'
                 + (f' — {_e(rec.get("family_label"))}' if plain(rec.get("family_label")) else "")
                 + "</div>"]
        if addr1 or addr2:
            lines.append(f"<div>{_e(addr1)}{'<br>' if addr1 and addr2 else ''}{_e(addr2)}</div>")
        if phone:
            lines.append(f'<div class="phone">Tél. {_e(phone)}</div>')
        dac = dacs.get(plain(rec.get("commune")))
        if dac is not None:
            lines.append(f'<div class="dac">DAC : {dac.html()}</div>')
        dist = format_km(rec.get("distance_km"))
        details = [f"N° FINESS {_e(fin)}"]
        if dist:
            details.append(f"à {_e(dist)}")
        cap = plain(rec.get("capacity_summary"))
        if cap:
            details.append(_e(cap) + (" (fictif)" if illustrative else ""))
        details.append("position " + _e(precision_label(rec.get("geo_precision"))))
        lines.append(f'<div class="meta">{" · ".join(details)}</div>')
        eq = equipment.get(fin) or []
        if eq:
            rows = "".join(
                f"<tr><td>{_e(x['discipline'])}</td><td>{_e(x['activity'])}</td>"
                f"<td>{_e(x['clientele'])}</td><td class=\"num\">{_e(x['installed'])}</td>"
                f"<td class=\"num\">{_e(x['authorised'])}</td></tr>" for x in eq)
            caption = "Capacités par discipline" + (" (FICTIVES, illustration)" if illustrative else "")
            lines.append(f"<table><caption>{_e(caption)}</caption><tr><th>Discipline</th>"
                         f"<th>Type d'activité</th><th>Clientèle</th><th>Installées</th>"
                         f"<th>Autorisées</th></tr>{rows}</table>")
        for note in notes.get(fin, ()):
            lines.append(_note_html(note))
        items.append(f'<section class="item">{"".join(lines)}</section>')
    crit = "".join(f"<li>{_e(c)}</li>" for c in context.criteria)
    warns = "".join(f'<div class="warn">{_e(w)}</div>' for w in context.warnings)
    dac = plain(context.dac_name)
    heading = dac + (f" — n° {plain(context.dac_number)}" if plain(context.dac_number) else "")
    head_meta = [x for x in (context.territory, context.contact)
                 if plain(x) and plain(x) != dac and plain(x) not in plain(context.title)]
    n = len(items)
    foot = [_e(context.sources)] if plain(context.sources) else []
    if context.data_date:
        foot.append(f"données du {_e(format_date(context.data_date))}")
    footer = " · ".join([*foot, (
        "les capacités sont des places installées ou autorisées, pas des places libres : "
        "appeler l'établissement avant toute orientation.")])
    footer = footer[:1].upper() + footer[1:]
    return (
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        f"<title>{_e(context.title)}</title><style>{_SHEET_CSS}</style></head><body>"
        + (f'<header><div class="dac">{_e(heading)}</div>' if heading else "<header>")
        + f"<h1>{_e(context.title)}</h1>"
        + (f'<div class="meta">{" · ".join(_e(x) for x in head_meta)}</div>' if head_meta else "")
        + f'<div class="meta">{n} ressource{"s" if n > 1 else ""} · fiche éditée le '
        f'{_e(context.generated.strftime("%d/%m/%Y à %H:%M"))}'
        + (f" · données FINESS du {_e(format_date(context.data_date))}" if context.data_date else "")
        + "</div>"
        + (f'<ul class="criteria">{crit}</ul>' if crit else "")
        + warns + "</header><main>" + "".join(items)
        + '<div class="notes">Notes :</div></main>'
        f"<footer>{footer}</footer></body></html>\n")


def a4_sheet_pdf(records: pd.DataFrame, context: SheetContext,
                 equipment: Mapping[str, list[dict[str, str]]] | None = None,
                 illustrative: bool = False, dacs: Mapping[str, object] | None = None,
                 notes: Mapping[str, Sequence[Note]] | None = None) -> bytes:
    """The A4 sheet as a real PDF (:func:`dac_map.printing.html_to_pdf` of
    :func:`a4_sheet_html`), generated on the server."""
    from dac_map.printing import html_to_pdf

    return html_to_pdf(a4_sheet_html(records, context, equipment, illustrative, dacs, notes))


def _note_html(note: Note) -> str:
    """One coordinators' note on the A4 sheet (escaped)."""
    from dac_map.notes import FIELDS

    parts = [f"<b>{_e(FIELDS[f][0].capitalize())}</b> : {_e(getattr(note, f))}"
             for f in FIELDS if plain(getattr(note, f))]
    when = (f"vérifié le {note.verified_on.strftime('%d/%m/%Y')}" if note.verified_on
            else "non daté")
    parts.append(f'<span class="meta">Note {_e(note.dac_id)} · {_e(when)} · {_e(note.author)}</span>')
    return f'<div class="note">{"<br>".join(parts)}</div>'


def sheet_filename(prefix: str, extension: str, when: datetime | None = None) -> str:
    """``dac-map_<prefix>_<yyyymmdd-hhmm>.<extension>`` with a file-system-safe prefix."""
    safe = re.sub(r"[^0-9A-Za-z_-]+", "-", prefix).strip("-") or "export"
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M")
    return f"dac-map_{safe}_{stamp}.{extension}"


__all__ = [
    "GEOJSON_COLUMNS",
    "SheetContext",
    "a4_sheet_html",
    "a4_sheet_pdf",
    "csv_bytes",
    "equipment_by_finess",
    "excel_bytes",
    "export_table",
    "geojson_bytes",
    "geojson_dict",
    "sheet_filename",
]
