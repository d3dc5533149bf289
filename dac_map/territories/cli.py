"""``dac-map territories list|import|export|check|history``: the steward table from the command
line (the same operations as the app's steward page)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dac_map import settings
from dac_map.cli_common import StoreOpt, fail
from dac_map.errors import DacMapError, ValidationError

err = Console(stderr=True)
out = Console()

_SET = typer.Option("--set", help="Jeu de territoires (principal, demo-fictif-somme-2-dac...)")
_DB = typer.Option("--db", help="Table des territoires (SQLite ; défaut : la base PostgreSQL du mode "
                   "serveur si DAC_MAP_DATABASE_URL est défini, sinon le réglage TERRITORIES_DB)")


def _default_author() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "cli"


def _warn_overlaps(stored, imported) -> None:
    """Warn about communes now claimed by two territories, for those just imported (communes
    listed explicitly; department shortcuts are checked by ``territories check``)."""
    from dac_map.territories.check import primary_dac

    ids = {t.id for t in imported}
    items = [v.territory for v in stored]
    seen: set[str] = set()
    for t in items:
        if t.id not in ids:
            continue
        for c in t.communes:
            claims = primary_dac(c, items)
            if len(claims) > 1 and c not in seen:
                seen.add(c)
                err.print(f"Attention : la commune {c} est revendiquée par {' et '.join(claims)}",
                          markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``territories`` command group to the main CLI."""
    group = typer.Typer(no_args_is_help=True, help="Territoires DAC : liste, import, export, "
                        "contrôle (chevauchements, trous, codes inconnus), historique.")
    app.add_typer(group, name="territories")

    @group.command("list")
    def list_(set_name: Annotated[str, _SET] = "principal",
              db: Annotated[Optional[Path], _DB] = None) -> None:
        """Liste les territoires (id, nom, téléphone, FINESS, départements, nb de communes, version)."""
        from dac_map.territories import open_store

        try:
            items = open_store(db).list(set_name)
        except DacMapError as exc:
            fail(exc)
        table = Table(title=f"Territoires DAC — jeu « {set_name} » ({len(items)})")
        for col in ("Id", "Nom", "Téléphone", "FINESS", "Départements", "Communes", "Version",
                    "Modifié par", "Le"):
            table.add_column(col)
        for v in items:
            t = v.territory
            table.add_row(*map(Text, (t.id, t.name, t.phone, t.finess or "(à la main)",
                                      " ".join(t.departments), str(len(t.communes)), str(v.version),
                                      v.updated_by, v.updated_at)))
        out.print(table)

    @group.command("import")
    def import_(file: Annotated[Path, typer.Argument(help="CSV id;nom;telephone;site_web;departements;communes[;finess;note;version]")],
                set_name: Annotated[str, _SET] = "principal",
                db: Annotated[Optional[Path], _DB] = None,
                replace: Annotated[bool, typer.Option("--replace", help="Supprimer les territoires absents du fichier")] = False,
                force: Annotated[bool, typer.Option("--force", help="Ignorer la colonne version (écraser les changements faits depuis l'export)")] = False,
                author: Annotated[Optional[str], typer.Option("--author", help="Auteur du changement (historique)")] = None,
                comment: Annotated[str, typer.Option("--comment", help="Commentaire (historique)")] = "") -> None:
        """Importe un CSV dans la table (versionnée). Les lignes invalides sont signalées et ignorées ;
        une ligne exportée à une version dépassée est un conflit : elle n'est pas écrite."""
        from dac_map.territories import open_store, read_table

        try:
            read = read_table(file)
            from dac_map.server.auth import operator

            result = open_store(db, principal=operator()).import_many(
                read.territories, author or _default_author(), set_name=set_name,
                expected=None if force else read.versions, replace=replace,
                comment=comment or f"import de {file.name}")
        except DacMapError as exc:
            fail(exc)
        for issue in read.issues:
            err.print(f"ligne ignorée / skipped: {issue}", markup=False, highlight=False, soft_wrap=True)
        out.print(f"Jeu « {set_name} » : {len(result.created)} créé(s), {len(result.updated)} modifié(s), "
                  f"{len(result.unchanged)} inchangé(s), {len(result.deleted)} supprimé(s), "
                  f"{len(result.conflicts)} conflit(s), {len(read.issues)} ligne(s) ignorée(s).",
                  markup=False, highlight=False)
        _warn_overlaps(open_store(db).list(set_name), read.territories)
        for tid in result.conflicts:
            err.print(f"Conflit : {tid} a été modifié depuis l'export ; non écrit (réexporter, ou --force).",
                      markup=False, highlight=False)
        if result.conflicts or read.issues:
            raise typer.Exit(ValidationError.exit_code)

    @group.command("export")
    def export(file: Annotated[Optional[Path], typer.Argument(help="Fichier CSV (défaut : sortie standard)")] = None,
               set_name: Annotated[str, _SET] = "principal",
               db: Annotated[Optional[Path], _DB] = None) -> None:
        """Exporte la table en CSV (avec la version de chaque territoire, pour un réimport contrôlé)."""
        from dac_map.territories import open_store, table_bytes, table_text

        try:
            items = open_store(db).list(set_name)
        except DacMapError as exc:
            fail(exc)
        if file is None:
            sys.stdout.write(table_text(items))
        else:
            from dac_map.tabular import write_bytes

            write_bytes(file, table_bytes(items))
            err.print(f"{len(items)} territoire(s) écrits dans {file}", markup=False, highlight=False)

    @group.command("check")
    def check(set_name: Annotated[str, _SET] = "principal",
              db: Annotated[Optional[Path], _DB] = None,
              store_path: StoreOpt = None,
              department: Annotated[Optional[list[str]], typer.Option("--department", help="Départements où chercher les trous")] = None,
              strict: Annotated[bool, typer.Option("--strict", help="Code de sortie 5 s'il y a une alerte")] = False) -> None:
        """Contrôle : chevauchements, trous, codes de communes disparus (et successeurs), DAC absents de l'annuaire."""
        from dac_map.cli import DEMO_COMMUNES
        from dac_map.territories import check_territories, open_store, split_codes
        from dac_map.territories.sources import communes_from_files, communes_from_store, directory_from_store
        from dac_map.territories.vintages import load_moves

        try:
            items = [v.territory for v in open_store(db).list(set_name)]
            ref = communes_from_store(store_path) or communes_from_files(DEMO_COMMUNES)
            directory = directory_from_store(store_path)
            report = check_territories(
                items, ref, load_moves(settings.COMMUNE_MOVES),
                directory_finess=None if directory is None else directory["finess"].astype(str),
                departments=split_codes(",".join(department)) if department else None)
        except DacMapError as exc:
            fail(exc)
        out.print(f"Jeu « {set_name} » : {len(items)} territoire(s), {len(report.overlaps)} chevauchement(s), "
                  f"{len(report.gaps)} commune(s) sans DAC, {len(report.unknown)} code(s) inconnu(s).",
                  markup=False, highlight=False)
        for line in report.lines():
            out.print(f"- {line}", markup=False, highlight=False, soft_wrap=True)
        if strict and not report.ok:
            raise typer.Exit(ValidationError.exit_code)

    @group.command("history")
    def history(territory: Annotated[Optional[str], typer.Argument(help="Id du territoire (défaut : tous)")] = None,
                set_name: Annotated[str, _SET] = "principal",
                db: Annotated[Optional[Path], _DB] = None,
                limit: Annotated[int, typer.Option("--limit")] = 50) -> None:
        """Historique des changements : qui, quand, quoi."""
        from dac_map.territories import open_store
        from dac_map.territories.model import describe_changes

        try:
            entries = open_store(db).history(set_name, territory, limit)
        except DacMapError as exc:
            fail(exc)
        table = Table(title=f"Historique — jeu « {set_name} »")
        for col in ("Quand", "Qui", "Territoire", "Version", "Action", "Changements", "Commentaire"):
            table.add_column(col)
        for e in entries:
            table.add_row(*map(Text, (e.at, e.author, e.id, str(e.version), e.action,
                                      describe_changes(e.changes), e.comment)))
        out.print(table)
