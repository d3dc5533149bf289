"""The ARS report (:class:`~dac_map.coverage.report.ArsReport`) as files: printable A4 HTML
(:func:`render_html`: every text coming from data or users escaped with :func:`html.escape`,
inline SVG bar charts, no external asset), PDF (:func:`render_pdf`), long-format French CSV
(:func:`render_csv`, through :mod:`dac_map.tabular`) and :func:`write_report` (both plus the
JSON snapshot, in the reports folder); French number and date formatting.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dac_map import settings
from dac_map.coverage.report import ArsReport, file_slug, snapshot
from dac_map.paths import safe_join
from dac_map.printing import TIMEZONE
from dac_map.tabular import csv_bytes, write_bytes


def _bar_chart(title: str, items: list[tuple[str, float]], unit: str = "") -> str:
    """A horizontal bar chart as inline SVG (prints sharp, black on white, no script)."""
    if not items:
        return ""
    top = max(v for _, v in items) or 1
    bar_h, gap, label_w, width = 14, 5, 230, 640
    h = len(items) * (bar_h + gap) + 6
    out = [f"<figure class='chart'><figcaption>{_esc(title)}</figcaption>"
           f"<svg width='100%' viewBox='0 0 {width} {h}' "
           f"role='img' aria-label='{_esc(title)}'>"]
    for k, (label, value) in enumerate(items):
        y = 3 + k * (bar_h + gap)
        w = (width - label_w - 60) * (float(value) / top)
        out.append(f"<text x='{label_w - 6}' y='{y + bar_h - 3}' text-anchor='end' "
                   f"font-size='11'>{_esc(label[:45])}</text>"
                   f"<rect x='{label_w}' y='{y}' width='{w:.1f}' height='{bar_h}' fill='#08306b'/>"
                   f"<text x='{label_w + w + 4:.1f}' y='{y + bar_h - 3}' font-size='11'>"
                   f"{_esc(fmt_number(value))}{_esc(unit)}</text>")
    out.append("</svg></figure>")
    return "".join(out)


def _month_fr(month: str) -> str:
    names = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
             "nov.", "déc."]
    try:
        y, m = month.split("-")
        return f"{names[int(m) - 1]} {y}"
    except (ValueError, IndexError):
        return month


# --------------------------------------------------------------------------- formatting

def fmt_number(value: Any, decimals: int = 0) -> str:
    """French number formatting: ``12 345,6``; "—" for missing, "aucune" for infinity."""
    if value is None:
        return "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "aucune ressource"
    text = f"{v:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")
    return text


def _fmt_change(value: Any) -> str:
    if value is None:
        return "—"
    v = float(value)
    if math.isnan(v):
        return "—"
    sign = "+" if v > 0 else ""
    return sign + fmt_number(v, 0 if v == int(v) else 2)


def _date_fr(iso: str | None) -> str:
    if not iso:
        return "début du journal"
    try:
        d = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if "T" not in iso:
        return d.strftime("%d/%m/%Y")
    d = d if d.tzinfo else d.replace(tzinfo=timezone.utc)
    return d.astimezone(TIMEZONE).strftime("%d/%m/%Y à %H:%M")  # Europe/Paris local time


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None,
           empty: str = "Aucune donnée.") -> str:
    if not rows:
        return f"<p class='empty'>{_esc(empty)}</p>"
    numeric = numeric or set()
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{_esc(h)}</th>"
                   for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i in numeric else ''}>{_esc(c)}</td>"
                         for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
@page { size: A4; margin: 15mm 12mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #222; margin: 0; }
h1 { font-size: 16pt; margin: 0 0 4pt; } h2 { font-size: 12.5pt; margin: 14pt 0 4pt;
border-bottom: 1px solid #888; } .meta { color: #555; font-size: 9pt; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0 8pt; page-break-inside: auto; }
thead { display: table-header-group; } tr { page-break-inside: avoid; }
th, td { border: 1px solid #bbb; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #eee; } td.num, th.num { text-align: right; white-space: nowrap; }
.warn { border: 1px solid #c60; background: #fff4e5; padding: 4pt 6pt; margin: 6pt 0; }
.kpi { display: inline-block; border: 1px solid #bbb; padding: 4pt 8pt; margin: 2pt 4pt 2pt 0; }
.kpi b { display: block; font-size: 13pt; } .empty { color: #555; font-style: italic; }
table.about { width: auto; } table.about th { text-align: left; }
figure.chart { margin: 6pt 0; page-break-inside: avoid; break-inside: avoid; }
figure.chart figcaption { font-weight: bold; font-size: 9.5pt; margin-bottom: 2pt; }
@media screen { body { max-width: 190mm; margin: 10mm auto; } }
"""


def render_html(report: ArsReport) -> str:
    """The report as one self-contained, printable A4 HTML page (French)."""
    r = report
    s = r.summary
    e = _esc
    parts = [
        "<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'>",
        f"<title>{e('Observatoire des ruptures de parcours — ' + r.territory_name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Observatoire des ruptures de parcours — {e(r.territory_name)}"
        + (f" (n° {e(r.dac_number)})" if r.dac_number else "") + "</h1>",
        f"<p class='meta'>Rapport à l'ARS · établi le {e(_date_fr(r.generated_at))} (heure de "
        f"Paris) · dac-map {e(r.sources.get('software_version'))}</p>",
        "<table class='about'><tbody>"
        f"<tr><th>Territoire</th><td>{e(r.territory_name)}</td></tr>"
        f"<tr><th>Période des besoins</th><td>du {e(_date_fr(r.period_start))} au "
        f"{e(_date_fr(r.period_end))}</td></tr>"
        f"<tr><th>Données FINESS</th><td>extraction du {e(_date_fr(r.data_date))}</td></tr>"
        "<tr><th>Depuis le dernier rapport</th><td>"
        + (e(_changes_sentence(r)) if r.previous is not None else "premier rapport pour ce territoire")
        + "</td></tr></tbody></table>",
    ]
    for note in r.notes:
        parts.append(f"<p class='warn'>{e(note)}</p>")

    kpis = [("Communes du territoire", fmt_number(s.get("communes"))),
            (f"Zones blanches (> {fmt_number(r.threshold_km, 1)} km)", fmt_number(s.get("white_zones"))),
            ("Distance moyenne (km)", fmt_number(s.get("distance_mean_km"), 1)),
            ("Distance maximale (km)", fmt_number(s.get("distance_max_km"), 1)),
            ("Besoins non couverts signalés", fmt_number(r.unmet_total))]
    if r.ratio_meaningful and "places_per_1000_75plus" in s:
        kpis.append(("Places / 1 000 hab. de 75 ans ou +", fmt_number(s.get("places_per_1000_75plus"), 1)))
        kpis.append(("Hab. de 75 ans ou + en zone blanche", fmt_number(s.get("pop_75plus_white_zones"))))
    parts.append("<h2>1. Synthèse</h2>")
    parts.append(f"<p>Ressource observée : <b>{e(r.resource_label)}</b>. Distances à vol d'oiseau "
                 "depuis le centre géométrique de chaque commune jusqu'à la ressource la plus "
                 "proche (tous départements chargés).</p>")
    parts.append("".join(f"<span class='kpi'>{e(k)}<b>{e(v)}</b></span>" for k, v in kpis))

    parts.append("<h2>2. Offre par famille de ressources</h2>")
    parts.append(_table(
        ["Famille", "Établissements", "Places installées", "dont avec capacité connue"],
        [[x.family_label or x.family, fmt_number(x.establishments), fmt_number(x.capacity_installed),
          fmt_number(x.with_capacity)] for x in r.families.itertuples(index=False)], {1, 2, 3}))

    if len(r.social_resources):  # issue 16: beside the FINESS establishments
        fict = int(r.social_resources["fictitious"].sum())
        parts.append(_table(
            ["Ressources sociales (data·inclusion, ressources locales)", "Ressources"],
            [[x.family, fmt_number(x.resources)] for x in r.social_resources.itertuples(index=False)], {1}))
        if fict:
            parts.append(f"<p class='warn'>{e(fmt_number(fict))} ressource(s) sociale(s) comptée(s) "
                         "ci-dessus sont des EXEMPLES FICTIFS (démonstration).</p>")

    parts.append("<h2>3. Offre par discipline d'équipement</h2>")
    parts.append(_table(
        ["Discipline", "Établissements", "Places installées"],
        [[x.discipline_label or "Discipline non libellée", fmt_number(x.establishments),
          fmt_number(x.capacity_installed)] for x in r.disciplines.itertuples(index=False)],
        {1, 2}, "Aucun équipement renseigné."))

    parts.append(f"<h2>4. Zones blanches — {e(r.resource_label)} à plus de "
                 f"{e(fmt_number(r.threshold_km, 1))} km</h2>")
    wz = r.white_zones
    has_pop = "pop_75plus" in wz.columns
    headers = ["Commune", "Code INSEE", "Distance (km)", "Ressource la plus proche", "Située à"]
    if has_pop:
        headers.append("Hab. 75 ans ou +")
    rows = []
    for x in wz.itertuples(index=False):
        row = [x.name, x.code, fmt_number(x.distance_km, 1), x.nearest_name or "—",
               x.nearest_commune or "—"]
        if has_pop:
            row.append(fmt_number(x.pop_75plus))
        rows.append(row)
    parts.append(_table(headers, rows, {2, 5}, "Aucune commune au-delà du seuil."))
    if len(r.white_zones_by_type):
        parts.append(_bar_chart(
            f"Zones blanches par type de ressource (communes à plus de "
            f"{fmt_number(r.threshold_km, 1)} km)",
            [(x.label, x.white_zones) for x in r.white_zones_by_type.itertuples(index=False)]))

    parts.append("<h2>5. Besoins non couverts signalés</h2>")
    parts.append(f"<p>{e(fmt_number(r.unmet_total))} signalement(s) sur la période, sans donnée "
                 "identifiante (contrôle à la saisie).</p>")
    parts.append(_table(["Type de ressource recherchée", "Signalements"],
                        [[x.resource_type, fmt_number(x.needs)]
                         for x in r.unmet_by_type.itertuples(index=False)], {1},
                        "Aucun besoin non couvert signalé sur la période."))
    if len(r.unmet_by_social_family):  # issue 16
        parts.append(_table(["Besoin social recherché", "Signalements"],
                            [[x.family, fmt_number(x.needs)]
                             for x in r.unmet_by_social_family.itertuples(index=False)], {1}))
    if len(r.unmet_by_reason):
        parts.append(_table(["Motif", "Signalements"],
                            [[x.label, fmt_number(x.needs)]
                             for x in r.unmet_by_reason.itertuples(index=False)], {1}))
        parts.append(_bar_chart("Besoins non couverts par motif",
                                [(x.label, x.needs) for x in r.unmet_by_reason.itertuples(index=False)]))
    if len(r.unmet_by_type):
        parts.append(_bar_chart("Besoins non couverts par type de ressource",
                                [(x.resource_type, x.needs) for x in r.unmet_by_type.itertuples(index=False)]))
    if len(r.needs_by_month):
        parts.append(_bar_chart("Besoins non couverts par mois",
                                [(_month_fr(x.month), x.needs) for x in r.needs_by_month.itertuples(index=False)]))
    parts.append(_table(["Commune", "Code INSEE", "Signalements"],
                        [[x.commune_name or "", x.commune, fmt_number(x.needs)]
                         for x in r.unmet_by_commune.itertuples(index=False)], {2}, ""))

    parts.append("<h2>6. Évolutions depuis le dernier rapport</h2>")
    if r.previous is None:
        parts.append("<p class='empty'>Premier rapport pour ce territoire : pas de comparaison.</p>")
    else:
        parts.append(f"<p>Rapport précédent : {e(_date_fr(r.previous.get('generated_at')))} "
                     f"(ressource : {e(r.previous.get('resource_label'))}, seuil "
                     f"{e(fmt_number(r.previous.get('threshold_km'), 1))} km).</p>")
        parts.append(_table(["Indicateur", "Précédent", "Actuel", "Évolution"],
                            [[x.label, fmt_number(x.previous, 2 if isinstance(x.previous, float)
                                                  and x.previous != int(x.previous) else 0),
                              fmt_number(x.current, 2 if isinstance(x.current, float)
                                         and x.current != int(x.current) else 0),
                              _fmt_change(x.change)] for x in r.changes.itertuples(index=False)],
                            {1, 2, 3}, "Aucun changement."))
        names = r.coverage.table.set_index("code")["name"].to_dict()
        if r.white_zones_new:
            parts.append("<p>Nouvelles zones blanches : " + e(", ".join(
                f"{names.get(c, c)} ({c})" for c in r.white_zones_new)) + "</p>")
        if r.white_zones_resolved:
            parts.append("<p>Communes sorties des zones blanches : " + e(", ".join(
                f"{names.get(c, c)} ({c})" for c in r.white_zones_resolved)) + "</p>")

    src = r.sources
    parts.append("<h2>7. Sources et méthode</h2><ul>")
    parts.append(f"<li>Établissements : FINESS ({e(src.get('finess_file'))}, extraction du "
                 f"{e(src.get('finess_date'))}).</li>")
    if src.get("equipment_file"):
        parts.append(f"<li>Équipements et capacités : {e(src.get('equipment_file'))}"
                     f"{' — capacités FICTIVES' if src.get('equipment_illustrative') else ''}.</li>")
    if src.get("population_file"):
        parts.append(f"<li>Population de 75 ans ou plus : {e(src.get('population_file'))}"
                     f"{' — valeurs FICTIVES' if src.get('population_fictitious') else ''} ; "
                     f"ratio calculé sur un rayon de {e(fmt_number(r.radius_km, 0))} km autour "
                     "de chaque commune.</li>")
    parts.append("<li>Distances en ligne droite (Lambert-93, EPSG:2154, en métropole ; projection "
                 "locale outre-mer), depuis le centroïde de la commune : ce ne sont pas des temps "
                 "de trajet.</li>")
    parts.append("<li>Besoins non couverts : journal local tenu par le DAC ; aucune donnée "
                 "nominative n'y est acceptée.</li></ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _changes_sentence(r: ArsReport) -> str:
    prev = r.previous or {}
    bits = [f"rapport précédent du {_date_fr(prev.get('generated_at'))}"]
    moved = [x for x in r.changes.itertuples(index=False)
             if x.change is not None and x.change == x.change and x.change != 0] if len(r.changes) else []
    bits.append(f"{len(moved)} indicateur(s) modifié(s)" if moved else "aucun indicateur modifié")
    if r.white_zones_new:
        bits.append(f"{len(r.white_zones_new)} nouvelle(s) zone(s) blanche(s)")
    if r.white_zones_resolved:
        bits.append(f"{len(r.white_zones_resolved)} commune(s) sortie(s) des zones blanches")
    return " ; ".join(bits) + " (détail en partie 6)."


def render_pdf(report: ArsReport) -> bytes:
    """The report as a real PDF (A4), generated on the server from :func:`render_html`."""
    from dac_map.printing import html_to_pdf

    return html_to_pdf(render_html(report))


def _csv_rows(report: ArsReport) -> list[list[Any]]:
    r = report
    rows: list[list[Any]] = []
    add = rows.append
    add(["rapport", r.dac_id, r.territory_name, "genere_le", r.generated_at])
    add(["rapport", r.dac_id, r.territory_name, "periode_debut", r.period_start or ""])
    add(["rapport", r.dac_id, r.territory_name, "periode_fin", r.period_end])
    add(["rapport", r.resource_key, r.resource_label, "seuil_zone_blanche_km", r.threshold_km])
    for k, v in r.sources.items():
        add(["source", k, "", "valeur", "" if v is None else v])
    for k, v in r.summary.items():
        add(["synthese", r.dac_id, r.territory_name, k, "" if v is None else v])
    for x in r.families.itertuples(index=False):
        add(["famille", x.family, x.family_label, "etablissements", int(x.establishments)])
        add(["famille", x.family, x.family_label, "places_installees", float(x.capacity_installed)])
    for x in r.disciplines.itertuples(index=False):
        add(["discipline", x.discipline, x.discipline_label, "etablissements", int(x.establishments)])
        add(["discipline", x.discipline, x.discipline_label, "places_installees",
             float(x.capacity_installed)])
    t = r.coverage.table
    for x in t.drop(columns="geometry").itertuples(index=False):
        d = x.distance_km
        add(["commune", x.code, x.name, "distance_km",
             "" if d is None or d != d else ("inf" if math.isinf(d) else round(float(d), 3))])
        add(["commune", x.code, x.name, "zone_blanche", int(bool(x.white_zone))])
        add(["commune", x.code, x.name, "ressources", int(x.resources)])
        if "places_per_1000" in t.columns:
            v = x.places_per_1000
            add(["commune", x.code, x.name, "places_pour_1000_75ans", "" if v != v else round(float(v), 2)])
    for x in r.unmet_by_type.itertuples(index=False):
        add(["besoins_type", "", x.resource_type, "signalements", int(x.needs)])
    for x in r.unmet_by_commune.itertuples(index=False):
        add(["besoins_commune", x.commune, x.commune_name, "signalements", int(x.needs)])
    for x in r.unmet_by_reason.itertuples(index=False):
        add(["besoins_motif", x.reason, x.label, "signalements", int(x.needs)])
    for x in r.unmet_by_social_family.itertuples(index=False):
        add(["besoins_famille_sociale", "", x.family, "signalements", int(x.needs)])
    for x in r.social_resources.itertuples(index=False):
        add(["ressources_sociales", r.dac_id, x.family, "ressources", int(x.resources)])
        add(["ressources_sociales", r.dac_id, x.family, "dont_fictives", int(x.fictitious)])
    for x in r.changes.itertuples(index=False):
        add(["evolution", x.indicator, x.label, "precedent", "" if x.previous is None else x.previous])
        add(["evolution", x.indicator, x.label, "actuel", "" if x.current is None else x.current])
        add(["evolution", x.indicator, x.label, "ecart", "" if x.change is None else x.change])
    for c in r.white_zones_new:
        add(["evolution", c, "", "nouvelle_zone_blanche", 1])
    for c in r.white_zones_resolved:
        add(["evolution", c, "", "zone_blanche_resorbee", 1])
    return rows


#: Header of the report's CSV (French, for spreadsheet readers).
CSV_HEADERS = ["Section", "Code", "Libellé", "Indicateur", "Valeur"]


def render_csv(report: ArsReport) -> bytes:
    """The report as long-format CSV bytes: ``Section;Code;Libellé;Indicateur;Valeur``
    (``;``, UTF-8 with BOM, decimal comma). Text cells that look like spreadsheet formulas
    are neutralised (:mod:`dac_map.tabular`)."""
    return csv_bytes(_csv_rows(report), CSV_HEADERS, decimal=",")  # the one writer (tabular)


@dataclass
class ReportFiles:
    """Paths written by :func:`write_report`."""

    html: Path
    csv: Path
    snapshot: Path


def write_report(report: ArsReport, reports_dir: str | Path | None = None) -> ReportFiles:
    """Write ``rapport_<dac>_<YYYYMMDDTHHMMSSZ>.html|.csv|.json`` into ``reports_dir``
    (default :data:`~dac_map.settings.REPORTS_DIR`)."""
    folder = Path(settings.REPORTS_DIR if reports_dir is None else reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(report.generated_at).strftime("%Y%m%dT%H%M%SZ")
    base = safe_join(folder, f"rapport_{file_slug(report.dac_id)}_{stamp}", what="rapport")
    paths = ReportFiles(base.with_suffix(".html"), base.with_suffix(".csv"), base.with_suffix(".json"))
    paths.html.write_text(render_html(report), encoding="utf-8")
    write_bytes(paths.csv, render_csv(report))
    paths.snapshot.write_text(json.dumps(snapshot(report), ensure_ascii=False, indent=1,
                                         default=str), encoding="utf-8")
    return paths
