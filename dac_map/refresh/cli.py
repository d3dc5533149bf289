"""The ``dac-map refresh`` command: :func:`register` adds it to a Typer app.

Exit codes are those of :mod:`dac_map.errors` (0 success — also "unchanged", "dry run" and
"cancelled" —, 3 source missing or download failed, 4 wrong format or invalid configuration,
5 validation failed, 6 store not written, 7 another refresh holds the lock, 1 internal error).
With ``--json`` the machine-readable result (the same object as the log line) is printed on
stdout; progress and messages go to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dac_map.errors import DacMapError
from dac_map.refresh.config import DEFAULT_CONFIG, load_config

if TYPE_CHECKING:  # the pipeline (pandas, GDAL) is imported when the command runs
    from dac_map.refresh.diff import ChangeReport
    from dac_map.refresh.result import RefreshResult
    from dac_map.refresh.validate import Check

_STATUS_TEXT = {
    "ok": "nouvelle version en service / new version served",
    "unchanged": "sources inchangées, rien à faire / sources unchanged, nothing to do",
    "dry-run": "essai à blanc, rien n'a été remplacé / dry run, nothing replaced",
    "cancelled": "annulé, données servies conservées / cancelled, current data kept",
    "refused": "refusé par les contrôles, données servies conservées / refused by the checks, "
               "current data kept",
    "locked": "une autre mise à jour est en cours / another refresh is running",
    "failed": "échec, données servies conservées / failed, current data kept",
    "rollback": "version conservée remise en service / kept version served again",
    "held": "suspendu après un retour en arrière (--release) / held after a rollback (--release)",
}


def _plain(console: Console, text: str, style: str | None = None) -> None:
    console.print(Text(text, style=style or ""), soft_wrap=True)


def _summary(console: Console, result: RefreshResult) -> None:
    ok = result.exit_code == 0
    _plain(console, f"Mise à jour / refresh : {_STATUS_TEXT.get(result.status, result.status)} "
                    f"(code {result.exit_code})", "bold green" if ok else "bold red")
    if result.version:
        previous = result.previous_version
        _plain(console, f"Version : {result.version}"
                        + (f" (précédente : {previous})" if previous and previous != result.version
                           else ""))
    elif result.previous_version:
        _plain(console, f"Version servie : {result.previous_version}")
    if result.checks:
        table = Table(title="Contrôles / checks")
        table.add_column("")
        table.add_column("Contrôle")
        table.add_column("Détail")
        for c in result.checks:
            table.add_row(Text("✓" if c["ok"] else "✗", style="green" if c["ok"] else "red"),
                          Text(str(c["name"])), Text(str(c["message"])))
        console.print(table)
    report = result.report
    if report is not None:
        _report_tables(console, report)
    labels = {"md": "Rapport (Markdown)", "html": "Rapport (HTML)", "csv": "Rapport (CSV)",
              "rejects": "Lignes rejetées"}
    for kind, path in result.reports.items():
        _plain(console, f"{labels.get(kind, kind)} : {path}")
    for msg in result.messages:
        _plain(console, f"• {msg}")
    if result.pruned:
        _plain(console, f"Anciennes versions supprimées : {', '.join(result.pruned)}")
    if result.error:
        _plain(console, f"Erreur / error : {result.error['message']}", "red")


def _report_tables(console: Console, report: ChangeReport) -> None:
    from dac_map.refresh.diff import CHANGE_LABELS

    table = Table(title=f"Changements / changes ({report.total}, seuil de déplacement "
                        f"{report.moved_threshold_m:g} m)")
    table.add_column("Changement")
    table.add_column("Nombre", justify="right")
    for kind, n in report.counts.items():
        table.add_row(CHANGE_LABELS[kind], str(n))
    console.print(table)
    if report.by_territory:
        per = Table(title="Par territoire DAC / per DAC territory")
        per.add_column("Territoire")
        for kind in report.counts:
            per.add_column(CHANGE_LABELS[kind], justify="right")
        for dac_id, inner in report.by_territory.items():
            per.add_row(Text(dac_id), *(str(inner.get(k, 0)) for k in report.counts))
        console.print(per)
    for note in report.notes:
        _plain(console, f"• {note}")


def register(app: typer.Typer) -> None:
    """Add the ``refresh`` command to ``app``."""

    @app.command("refresh")
    def refresh_command(
        config: Annotated[Path, typer.Option(
            "--config", "-c", help="Fichier de configuration TOML (voir refresh.example.toml)")
        ] = DEFAULT_CONFIG,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Tout faire sauf remplacer les données : montre ce qui changerait")
        ] = False,
        json_output: Annotated[bool, typer.Option(
            "--json", help="Écrire le résultat en JSON sur stdout (pour cron)")] = False,
        yes: Annotated[bool, typer.Option(
            "--yes", "-y", help="Ne pas demander de confirmation avant le remplacement")] = False,
        force: Annotated[bool, typer.Option(
            "--force", help="Remplacer même si des contrôles échouent (tolérance, territoires...)")
        ] = False,
        rebuild: Annotated[bool, typer.Option(
            "--rebuild", help="Reconstruire même si les sources n'ont pas changé")] = False,
        rollback_to: Annotated[Optional[str], typer.Option(
            "--rollback", metavar="VERSION", help="Remettre en service une version conservée")
        ] = None,
        release: Annotated[bool, typer.Option(
            "--release", help="Reprendre les mises à jour suspendues par un --rollback")] = False,
        versions: Annotated[bool, typer.Option(
            "--list-versions", help="Lister les versions conservées")] = False,
    ) -> None:
        """Met à jour les données : télécharge, vérifie, compare et remplace atomiquement.

        Codes de sortie : 0 succès (aussi : inchangé, essai à blanc, annulé, suspendu),
        3 source introuvable ou téléchargement impossible, 4 fichier ou configuration invalide,
        5 contrôles en échec, 6 GeoPackage non écrit, 7 autre mise à jour en cours,
        1 erreur interne. Les données servies ne changent qu'en cas de succès.
        """
        from dac_map.refresh.pipeline import refresh, rollback
        from dac_map.refresh.versions import list_versions

        err = Console(stderr=True)
        out = Console()

        def fail(exc: DacMapError) -> None:
            if json_output:
                print(json.dumps({"status": "failed", "exit_code": exc.exit_code,
                                  "error": {"type": type(exc).__name__, "message": str(exc)}},
                                 ensure_ascii=False))
            _plain(err, f"Erreur / error: {exc}", "bold red")
            raise typer.Exit(exc.exit_code)

        try:
            cfg = load_config(config)
        except DacMapError as exc:
            fail(exc)
        if versions:
            try:
                rows = list_versions(cfg)
            except DacMapError as exc:
                fail(exc)
            if json_output:
                print(json.dumps(rows, ensure_ascii=False, default=str))
                return
            table = Table(title=f"Versions conservées : {cfg.store.versions_dir}")
            for col in ("", "Version", "Extrait du", "Établissements", "Changements", "Mise à jour"):
                table.add_column(col)
            for r in rows:
                table.add_row("▶" if r["current"] else "", Text(str(r["version"])),
                              Text(str(r["source_date"] or "")), str(r["establishments"] or ""),
                              str(r["changes_total"] if r["changes_total"] is not None else ""),
                              Text(str(r["refresh_time"] or r["etl_time"] or "")))
            out.print(table)
            return

        def say(message: str) -> None:
            err.print(Text("• ", style="cyan") + Text(message), soft_wrap=True)

        if rollback_to:
            result = rollback(cfg, rollback_to, progress=say)
        else:
            confirm = None
            if not (yes or dry_run or json_output) and sys.stdin.isatty():
                def confirm(report: ChangeReport, checks: list[Check]) -> bool:
                    _report_tables(err, report)
                    return typer.confirm("Mettre en service cette nouvelle version ?", default=False)
            result = refresh(cfg, dry_run=dry_run, force=force, rebuild=rebuild, release=release,
                             progress=say, show_progress=err.is_terminal, confirm=confirm)
        if json_output:
            print(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
            _plain(err, f"{result.status} (code {result.exit_code})"
                   + (f": {result.error['message']}" if result.error else ""))
        else:
            _summary(out if result.exit_code == 0 else err, result)
        if result.exit_code:
            raise typer.Exit(result.exit_code)
