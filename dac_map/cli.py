"""Command-line interface: ``dac-map etl|demo|info``.

Errors of the :mod:`dac_map.errors` hierarchy are printed as one line naming the file, line
and field, and turned into the exit codes documented there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dac_map import settings
from dac_map.errors import DacMapError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="dac-map: carte des ressources d'un territoire DAC (données FINESS).")
err = Console(stderr=True)
out = Console()

DEMO_DIR = settings.DATA_DIR
DEMO_ESTABLISHMENTS = DEMO_DIR / "finess" / "RECONSTRUCTED_etalab-cs1100507-stock-20210108_dep80_dep46.csv"
DEMO_EQUIPMENT = DEMO_DIR / "finess" / "DEMO-FICTIF_etalab-cs1100505-equipements_80_46.csv"
DEMO_DEPARTMENTS = DEMO_DIR / "geo" / "departements.geojson"
DEMO_COMMUNES = [DEMO_DIR / "geo" / "communes-80-somme.geojson",
                 DEMO_DIR / "geo" / "communes-46-lot.geojson"]


def _fail(exc: DacMapError) -> None:
    err.print(f"[bold red]Erreur / error[/]: {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _print_report(report) -> None:
    table = Table(title=f"GeoPackage écrit : {report.target}")
    table.add_column("Mesure")
    table.add_column("Valeur", justify="right")
    for key, value in report.counts.items():
        table.add_row(key, str(value))
    out.print(table)
    if report.unknown_categories:
        out.print("Catégories sans famille (classées « Autres ») : "
                  + ", ".join(f"{k} ({v})" for k, v in report.unknown_categories.items()))
    if report.issues:
        by_action: dict[str, int] = {}
        for i in report.issues:
            by_action[i.action] = by_action.get(i.action, 0) + 1
        out.print(f"{len(report.issues)} problème(s) de ligne "
                  f"({', '.join(f'{v} {k}' for k, v in by_action.items())}) ; détail : "
                  f"{report.rejects_path}")
        for issue in report.issues[:10]:
            out.print(f"  - {issue}", highlight=False, soft_wrap=True)
    out.print("Durées (s) : " + ", ".join(f"{k} {v}" for k, v in report.timings.items()))


@app.command()
def etl(
    establishments: Annotated[Path, typer.Option("--establishments", "-e",
                              help="Extrait FINESS cs1100507 (ou cs1100502)")],
    departments: Annotated[Path, typer.Option("--departments", "-d",
                           help="Limites des départements (GeoJSON, GPKG, SHP)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="GeoPackage à écrire")] = settings.STORE_PATH,
    equipment: Annotated[Optional[Path], typer.Option("--equipment", help="Extrait cs1100505")] = None,
    communes: Annotated[Optional[list[Path]], typer.Option("--communes", "-c",
                        help="Limites des communes (répétable)")] = None,
    territories: Annotated[Optional[Path], typer.Option(help="Table des territoires DAC (CSV)")] = None,
    families: Annotated[Optional[Path], typer.Option(help="Table des familles (CSV)")] = None,
    category_families: Annotated[Optional[Path], typer.Option(
        help="Table catégorie -> famille (CSV)")] = None,
    categories: Annotated[Optional[Path], typer.Option(help="Nomenclature des catégories")] = None,
    rejects: Annotated[Optional[Path], typer.Option(help="Fichier CSV des lignes rejetées")] = None,
) -> None:
    """Charge les extraits FINESS et les limites dans un GeoPackage (remplacement atomique)."""
    from dac_map.etl import EtlInputs, run_etl

    inputs = EtlInputs(establishments=establishments, departments=departments,
                       equipment=equipment, communes=list(communes or []))
    for name, value in (("territories", territories), ("families", families),
                        ("category_families", category_families), ("categories", categories)):
        if value is not None:
            setattr(inputs, name, value)
    try:
        report = run_etl(inputs, output, progress=lambda m: err.print(f"[cyan]•[/] {m}"),
                         rejects_path=rejects)
    except DacMapError as exc:
        _fail(exc)
    _print_report(report)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--output", "-o")] = settings.STORE_PATH,
    if_missing: Annotated[bool, typer.Option("--if-missing",
                          help="Ne rien faire si le GeoPackage existe déjà")] = False,
) -> None:
    """Construit le GeoPackage de démonstration (Somme + Lot) à partir de data/."""
    if if_missing and output.exists():
        err.print(f"GeoPackage déjà présent : {output}")
        return
    from dac_map.etl import EtlInputs, run_etl

    inputs = EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS,
                       equipment=DEMO_EQUIPMENT, communes=DEMO_COMMUNES)
    try:
        report = run_etl(inputs, output, progress=lambda m: err.print(f"[cyan]•[/] {m}"))
    except DacMapError as exc:
        _fail(exc)
    _print_report(report)


@app.command()
def info(path: Annotated[Path, typer.Argument()] = settings.STORE_PATH) -> None:
    """Affiche les métadonnées d'un GeoPackage dac-map."""
    from dac_map.store import list_store_layers, read_metadata

    try:
        meta = read_metadata(path)
    except DacMapError as exc:
        _fail(exc)
    out.print(f"Couches : {', '.join(list_store_layers(path))}")
    for key, value in meta.items():
        out.print(f"{key}: {value}", highlight=False, soft_wrap=True)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except DacMapError as exc:  # pragma: no cover - commands catch their own
        err.print(f"Erreur / error: {exc}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
