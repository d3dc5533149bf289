"""``dac-map db upgrade|publish|rollback|switch|status``, ``dac-map users set|list|remove`` and
``dac-map health``: the server-mode commands (database from ``--database-url`` or
``DAC_MAP_DATABASE_URL``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dac_map.cli_common import fail
from dac_map.errors import DacMapError

err = Console(stderr=True)
out = Console()

UrlOption = Annotated[Optional[str], typer.Option(
    "--database-url", envvar="DAC_MAP_DATABASE_URL",
    help="Base PostgreSQL (postgresql://...) ; défaut : DAC_MAP_DATABASE_URL")]


def _actor() -> str:
    from dac_map.server.auth import operator

    return operator().subject


def register(app: typer.Typer) -> None:
    """Add the ``db``, ``users`` and ``health`` commands to ``app``."""
    db_app = typer.Typer(no_args_is_help=True,
                         help="Mode serveur : schéma PostgreSQL et versions du catalogue (PostGIS).")
    users_app = typer.Typer(no_args_is_help=True,
                            help="Mode serveur : rôles des comptes (prioritaires sur le jeton).")
    app.add_typer(db_app, name="db")
    app.add_typer(users_app, name="users")

    @db_app.command("upgrade")
    def upgrade(url: UrlOption = None) -> None:
        """Applique les migrations de schéma en attente (fichiers SQL versionnés)."""
        from dac_map.server import migrate

        try:
            applied = migrate.upgrade(url)
            rev = migrate.current_revision(url)
        except DacMapError as exc:
            fail(exc)
        for m in applied:
            out.print(f"migration {m.revision:04d} appliquée : {m.name}")
        out.print(f"schéma à la révision {rev}" + (" (déjà à jour)" if not applied else ""))

    @db_app.command("publish")
    def publish(gpkg: Annotated[Path, typer.Argument(help="GeoPackage dac-map à publier")],
                url: UrlOption = None,
                no_switch: Annotated[bool, typer.Option(
                    "--no-switch", help="Publier sans servir cette version")] = False,
                keep: Annotated[Optional[int], typer.Option(
                    help="Versions conservées (défaut DAC_MAP_KEEP_VERSIONS=3)")] = None) -> None:
        """Charge un GeoPackage existant comme nouvelle version du catalogue et la sert."""
        from dac_map.server import migrate, versions

        try:
            migrate.require_current(url)
            version = versions.publish_geopackage(gpkg, actor=_actor(), switch_to=not no_switch,
                                                  url=url, keep=keep)
        except DacMapError as exc:
            fail(exc)
        out.print(f"version {version} publiée" + ("" if no_switch else " et servie"))

    @db_app.command("rollback")
    def rollback(url: UrlOption = None,
                 to: Annotated[Optional[str], typer.Option(
                     "--to", help="Version à servir (défaut : la précédente)")] = None) -> None:
        """Sert de nouveau la version précédente du catalogue (ou --to VERSION)."""
        from dac_map.server import versions

        try:
            version = versions.rollback(actor=_actor(), to=to, url=url)
        except DacMapError as exc:
            fail(exc)
        out.print(f"version servie : {version}")

    @db_app.command("status")
    def status(url: UrlOption = None,
               json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Révision du schéma, versions publiées, version servie."""
        from dac_map.server import migrate, versions

        try:
            rev = migrate.current_revision(url)
            vers = versions.list_versions(url) if rev else []
        except DacMapError as exc:
            fail(exc)
        if json_output:
            print(json.dumps({"schema_revision": rev, "versions": [
                {"version": v.version, "served": v.served, "published_at": v.published_at,
                 "published_by": v.published_by, "source": v.source, "layers": v.layers}
                for v in vers]}, default=str, ensure_ascii=False))
            return
        out.print(f"schéma : révision {rev} (attendue {migrate.available()[-1].revision})")
        table = Table(title="Versions du catalogue")
        for col in ("", "version", "publiée le (UTC)", "par", "établissements"):
            table.add_column(col)
        for v in vers:
            table.add_row("▶" if v.served else "", v.version, f"{v.published_at:%Y-%m-%d %H:%M}",
                          v.published_by, str(v.layers.get("etablissements", "")))
        out.print(table)

    @users_app.command("set")
    def users_set(subject: Annotated[str, typer.Argument(help="sub OIDC ou adresse du compte")],
                  role: Annotated[list[str], typer.Option(
                      "--role", "-r", help="visiteur | coordinateur | referent_donnees | ars")],
                  dac: Annotated[Optional[list[str]], typer.Option(
                      "--dac", "-d", help="DAC du coordinateur (répétable)")] = None,
                  label: Annotated[Optional[str], typer.Option(help="Fonction (pas un nom)")] = None,
                  url: UrlOption = None) -> None:
        """Crée ou remplace les rôles d'un compte."""
        from dac_map.server import auth

        try:
            user = auth.set_user(subject, role, dac or [], actor=_actor(), label=label, url=url)
        except DacMapError as exc:
            fail(exc)
        out.print(f"{user.subject} : {', '.join(sorted(user.roles))}"
                  + (f" ({', '.join(sorted(user.dacs))})" if user.dacs else ""))

    @users_app.command("list")
    def users_list(url: UrlOption = None) -> None:
        """Liste les comptes et leurs rôles."""
        from dac_map.server import auth

        try:
            users = auth.list_users(url)
        except DacMapError as exc:
            fail(exc)
        table = Table(title="Comptes")
        for col in ("compte", "rôles", "DAC", "fonction"):
            table.add_column(col)
        for u in users:
            table.add_row(u.subject, ", ".join(sorted(u.roles)), ", ".join(sorted(u.dacs)),
                          u.label or "")
        out.print(table)

    @users_app.command("remove")
    def users_remove(subject: str, url: UrlOption = None) -> None:
        """Retire un compte de la table (il retombe sur les rôles de son jeton)."""
        from dac_map.server import auth

        try:
            existed = auth.remove_user(subject, actor=_actor(), url=url)
        except DacMapError as exc:
            fail(exc)
        out.print(f"{subject} retiré" if existed else f"{subject} absent de la table")

    @app.command("health")
    def health(url: UrlOption = None,
               secrets: Annotated[Optional[Path], typer.Option(
                   help="Fichier de secrets Streamlit (défaut .streamlit/secrets.toml)")] = None
               ) -> None:
        """État pour la supervision (JSON ; code retour 0 si tout va bien, 1 sinon)."""
        from dac_map.server import health as h

        report = h.check(url, secrets)
        print(json.dumps(report, ensure_ascii=False, default=str))
        raise typer.Exit(0 if report["status"] == "ok" else 1)
