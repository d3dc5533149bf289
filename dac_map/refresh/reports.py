"""The change report of a refresh (:class:`~dac_map.refresh.diff.ChangeReport`) as files for
the data steward: Markdown (:func:`render_markdown`), HTML with every value escaped
(:func:`render_html`), CSV through :mod:`dac_map.tabular` (:func:`write_csv`), all three
beside a version (:func:`write_reports`).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from dac_map.refresh.diff import CHANGE_LABELS, CHANGE_TYPES, CSV_HEADER, Change, ChangeReport, VersionInfo

# --------------------------------------------------------------------------- writers

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|&!~#$:])")


def md(value) -> str:
    """Markdown-safe text: special characters backslash-escaped (HTML, links, tables, and
    Streamlit's ``$math$`` and ``:directive[...]``), line breaks flattened."""
    text = "" if value is None else str(value)
    text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _version_text(v: VersionInfo | None) -> str:
    if v is None:
        return "aucune"
    parts = [v.version or v.file]
    if v.source_date:
        parts.append(f"extrait FINESS du {v.source_date}")
    parts.append(f"{v.establishments} établissements")
    return ", ".join(parts)


def _group_rows(groups: dict[str, dict[str, int]], names: dict[str, str] | None = None
                ) -> list[list[str]]:
    names = names or {}
    return [[names.get(k, k), *(str(inner.get(t, 0)) for t in CHANGE_TYPES),
             str(sum(inner.values()))] for k, inner in groups.items()]


def _family_names(report: ChangeReport) -> dict[str, str]:
    return {c.family: c.family_label for c in report.changes if c.family and c.family_label}


def _change_row(ch: Change) -> list[str]:
    after = ch.after or ""
    if ch.distance_m is not None:
        after = f"{after} ({ch.distance_m} m)" if after else f"{ch.distance_m} m"
    return [ch.finess, ch.name or "", ch.before or "", after, ch.dac_id or "",
            ch.family_label or ch.family or ""]


_CHANGE_HEAD = ["FINESS", "Nom", "Avant", "Après", "DAC", "Famille"]


def render_markdown(report: ChangeReport) -> str:
    """The report as Markdown (every value escaped)."""
    out = ["# Nouveautés depuis la dernière mise à jour", "",
           f"- Version précédente : {md(_version_text(report.previous))}",
           f"- Nouvelle version : {md(_version_text(report.current))}",
           f"- Seuil de déplacement : {report.moved_threshold_m:g} m",
           f"- Total des changements : {report.total}"]
    out += [f"- {md(n)}" for n in report.notes]
    out += ["", "| Changement | Nombre |", "|---|---:|"]
    out += [f"| {CHANGE_LABELS[t]} | {n} |" for t, n in report.counts.items()]

    def table(title: str, first: str, groups: dict[str, dict[str, int]],
              names: dict[str, str] | None = None) -> None:
        if not groups:
            return
        out.extend(["", f"## {title}", "",
                    "| " + " | ".join([first, *(CHANGE_LABELS[t] for t in CHANGE_TYPES), "Total"])
                    + " |", "|---" + "|---:" * (len(CHANGE_TYPES) + 1) + "|"])
        out.extend("| " + " | ".join(md(c) for c in row) + " |"
                   for row in _group_rows(groups, names))

    table("Par territoire DAC", "Territoire", report.by_territory)
    table("Par famille", "Famille", report.by_family, _family_names(report))
    for kind in CHANGE_TYPES:
        rows = [c for c in report.changes if c.change == kind]
        if not rows:
            continue
        out.extend(["", f"## {CHANGE_LABELS[kind]} ({len(rows)})", "",
                    "| " + " | ".join(_CHANGE_HEAD) + " |", "|---" * len(_CHANGE_HEAD) + "|"])
        out.extend("| " + " | ".join(md(c) for c in _change_row(ch)) + " |" for ch in rows)
    return "\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left;vertical-align:top}td.n,th.n{text-align:right}caption{text-align:left;font-weight:bold}"""


def render_html(report: ChangeReport) -> str:
    """The report as a standalone HTML page (every value escaped, no script)."""
    e = html.escape

    def table(caption: str, head: list[str], rows: list[list[str]], numeric_from: int) -> str:
        th = "".join(f'<th{" class=n" if i >= numeric_from else ""}>{e(h)}</th>'
                     for i, h in enumerate(head))
        body = "".join("<tr>" + "".join(f'<td{" class=n" if i >= numeric_from else ""}>{e(c)}</td>'
                                        for i, c in enumerate(row)) + "</tr>" for row in rows)
        return f"<table><caption>{e(caption)}</caption><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    parts = ["<!DOCTYPE html>", '<html lang="fr"><head><meta charset="utf-8">',
             "<title>Nouveautés depuis la dernière mise à jour</title>",
             f"<style>{_CSS}</style></head><body>",
             "<h1>Nouveautés depuis la dernière mise à jour</h1><ul>",
             f"<li>Version précédente : {e(_version_text(report.previous))}</li>",
             f"<li>Nouvelle version : {e(_version_text(report.current))}</li>",
             f"<li>Seuil de déplacement : {e(f'{report.moved_threshold_m:g}')} m</li>",
             f"<li>Total des changements : {report.total}</li>"]
    parts += [f"<li>{e(n)}</li>" for n in report.notes]
    parts.append("</ul>")
    parts.append(table("Changements", ["Changement", "Nombre"],
                       [[CHANGE_LABELS[t], str(n)] for t, n in report.counts.items()], 1))
    group_head = [*(CHANGE_LABELS[t] for t in CHANGE_TYPES), "Total"]
    if report.by_territory:
        parts.append(table("Par territoire DAC", ["Territoire", *group_head],
                           _group_rows(report.by_territory), 1))
    if report.by_family:
        parts.append(table("Par famille", ["Famille", *group_head],
                           _group_rows(report.by_family, _family_names(report)), 1))
    for kind in CHANGE_TYPES:
        rows = [_change_row(c) for c in report.changes if c.change == kind]
        if rows:
            parts.append(f"<h2>{e(CHANGE_LABELS[kind])} ({len(rows)})</h2>")
            parts.append(table(CHANGE_LABELS[kind], _CHANGE_HEAD, rows, len(_CHANGE_HEAD)))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_csv(report: ChangeReport, path: str | Path) -> Path:
    """One row per change (``;``, UTF-8 with BOM, French headers :data:`CSV_HEADER`)."""
    from dac_map.tabular import write_csv

    return write_csv(Path(path), ((ch.finess, ch.name, ch.change, ch.change_label, ch.before,
                                   ch.after, ch.distance_m, ch.dac_id, ch.family, ch.family_label)
                                  for ch in report.changes), CSV_HEADER, decimal=".")


def write_reports(report: ChangeReport, base: str | Path) -> dict[str, Path]:
    """Write ``<base>.md``, ``<base>.html`` and ``<base>.csv``; return their paths by format."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = {"md": base.with_name(base.name + ".md"), "html": base.with_name(base.name + ".html"),
             "csv": base.with_name(base.name + ".csv")}
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    write_csv(report, paths["csv"])
    return paths
