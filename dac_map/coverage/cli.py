"""CLI commands of the coverage package: ``dac-map coverage`` and ``dac-map report``.

Wire them into the main Typer app with :func:`register` (``dac_map/cli.py``)::

    from dac_map.coverage.cli import register as register_coverage
    register_coverage(app)
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Callable, Optional, get_type_hints

import typer
from rich.console import Console
from rich.table import Table

from dac_map import settings
from dac_map.cli_common import STORE_HELP, DacFilterOpt, DacOpt, UnmetDbOpt, UntilOpt, fail, report_error
from dac_map.errors import DacMapError

_out = Console()


def _resource(families: list[str] | None, categories: list[str] | None,
              disciplines: list[str] | None, label: str | None):
    from dac_map.coverage.resources import ResourceType

    fams = tuple(families or ())
    if not fams and not categories and not disciplines:
        fams = (settings.COVERAGE_RATIO_FAMILY,)
    return ResourceType(families=fams, categories=tuple(categories or ()),
                        disciplines=tuple(disciplines or ()), label=label or "")


def _population(path: Optional[Path], metadata: dict):
    """An explicit table (``none`` = without), else the POPULATION_PATH setting — whose
    fictitious demo table is only used for a demo store."""
    from dac_map.coverage.population import default_population, read_population

    if path is None:
        return default_population(metadata)
    if str(path).lower() == "none":
        return None
    return read_population(path)


def _defaults(dac: str | None, threshold: float | None, radius: float | None
              ) -> tuple[str, float, float]:
    """The options left out, from the settings (read now)."""
    return (dac or settings.DEFAULT_DAC,
            settings.COVERAGE_WHITE_ZONE_KM if threshold is None else threshold,
            settings.COVERAGE_CATCHMENT_KM if radius is None else radius)


def _km(v: object) -> str:
    from dac_map.coverage.report_render import fmt_number

    return fmt_number(v, 1)


# Options left out take their value from dac_map.settings when the command runs.
StoreOpt = Annotated[Optional[Path], typer.Option("--store", "-s", help=STORE_HELP)]
FamilyOpt = Annotated[Optional[list[str]], typer.Option(
    "--family", "-f", help="Famille de ressources (répétable), ex. pa_hebergement")]
CategoryOpt = Annotated[Optional[list[str]], typer.Option(
    "--category", help="Catégorie FINESS (répétable), ex. 500")]
DisciplineOpt = Annotated[Optional[list[str]], typer.Option(
    "--discipline", help="Discipline d'équipement (répétable), ex. 924")]
LabelOpt = Annotated[Optional[str], typer.Option("--label", help="Libellé du type de ressource")]
ThresholdOpt = Annotated[Optional[float], typer.Option(
    "--threshold", "-t",
    help="Seuil de zone blanche, km à vol d'oiseau (défaut : réglage COVERAGE_WHITE_ZONE_KM)")]
PopulationOpt = Annotated[Optional[Path], typer.Option(
    "--population", help="Table de population INSEE (défaut : réglage POPULATION_PATH, table "
    "fictive utilisée seulement sur la démo ; 'none' = sans)")]
RadiusOpt = Annotated[Optional[float], typer.Option(
    "--radius", help="Rayon (km) du ratio places / 1 000 habitants de 75 ans ou plus (0 = la "
    "commune ; défaut : réglage COVERAGE_CATCHMENT_KM)")]


@dataclass(frozen=True)
class CommonOptions:
    """The options ``coverage`` and ``report`` share, declared once (left out = ``None``)."""

    store: StoreOpt = None
    dac: DacOpt = None
    family: FamilyOpt = None
    category: CategoryOpt = None
    discipline: DisciplineOpt = None
    label: LabelOpt = None
    threshold: ThresholdOpt = None
    population: PopulationOpt = None
    radius: RadiusOpt = None


def _with_common_options(fn: Callable[..., None]) -> Callable[..., None]:
    """Give the command ``fn(opts: CommonOptions, ...)`` the fields of :class:`CommonOptions`
    as its first Typer options; ``fn`` receives them gathered in ``opts``."""
    hints = get_type_hints(CommonOptions, include_extras=True)
    shared = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=t, default=None)
              for n, t in hints.items()]
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
           for p in inspect.signature(fn, eval_str=True).parameters.values() if p.name != "opts"]

    @functools.wraps(fn)
    def command(**kwargs: object) -> None:
        opts = CommonOptions(**{n: kwargs.pop(n) for n in hints})
        fn(opts, **kwargs)

    command.__signature__ = inspect.Signature(shared + own, return_annotation=None)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in shared + own}
    return command


@_with_common_options
def coverage(
    opts: CommonOptions,
    csv: Annotated[Optional[Path], typer.Option(
        "--csv", help="Écrire le tableau par commune (distance, zone blanche, ratio) en CSV")] = None,
    families_csv: Annotated[Optional[Path], typer.Option(
        "--families-csv", help="Écrire les indicateurs par famille et par commune en CSV")] = None,
    top: Annotated[int, typer.Option("--top", help="Zones blanches affichées (les plus éloignées)")] = 20,
    threshold_min: Annotated[Optional[float], typer.Option(
        "--threshold-min", help="Seuil de zone blanche en minutes de voiture (avec un réseau routier ; "
        "défaut : réglage COVERAGE_WHITE_ZONE_MIN)")] = None,
    straight_line: Annotated[bool, typer.Option(
        "--straight-line", help="Ignorer le réseau routier du territoire (distances à vol d'oiseau)")] = False,
) -> None:
    """Indicateurs de couverture d'un territoire DAC et zones blanches pour un type de ressource."""
    from dac_map.coverage.indicators import commune_coverage, commune_indicators, territory_indicators
    from dac_map.coverage.report import SUMMARY_LABELS
    from dac_map.coverage.report_render import fmt_number
    from dac_map.query import load_catalogue

    dac, threshold, radius = _defaults(opts.dac, opts.threshold, opts.radius)
    try:
        catalogue = load_catalogue(opts.store)
        res = _resource(opts.family, opts.category, opts.discipline, opts.label)
        pop = _population(opts.population, catalogue.metadata)
        # ---- road network (issue 12): travel times when the territory has one
        from dac_map.network import try_load_network

        road = None if straight_line else try_load_network(dac)
        cov = commune_coverage(catalogue, dac, res, threshold,
                               pop.pop_75plus if pop is not None else None, radius,
                               network=road, threshold_min=threshold_min)
        fam, _dis = territory_indicators(catalogue, dac)
    except DacMapError as exc:
        fail(exc)
    except ValueError as exc:
        report_error(exc)
        raise typer.Exit(2)

    t = Table(title=f"Offre par famille — {cov.territory_name}")
    for col, just in (("Famille", "left"), ("Établissements", "right"), ("Places installées", "right")):
        t.add_column(col, justify=just)
    for x in fam.itertuples(index=False):
        t.add_row(str(x.family_label), fmt_number(x.establishments), fmt_number(x.capacity_installed))
    _out.print(t)

    s = cov.summary()
    _out.print(f"Ressource : [bold]{cov.resource_label}[/] — seuil {_km(threshold)} km", highlight=False)
    for k, v in s.items():
        integral = v is None or float(v).is_integer()
        _out.print(f"  {SUMMARY_LABELS.get(k, k)} : {fmt_number(v, 0 if integral else 1)}",
                   highlight=False)
    for note in cov.notes:
        _out.print(f"[yellow]Note[/] : {note}", highlight=False, soft_wrap=True)
    if pop is not None and pop.fictitious:
        _out.print("[yellow]Note[/] : table de population FICTIVE (démonstration).")
    wz = cov.white_zones
    t = Table(title=f"Zones blanches (> {_km(threshold)} km) : {len(wz)} commune(s)")
    for col in ("Commune", "Code", "Distance (km)", "Ressource la plus proche"):
        t.add_column(col)
    for x in wz.head(top).itertuples(index=False):
        t.add_row(str(x.name), str(x.code), _km(x.distance_km), str(x.nearest_name or "—"))
    _out.print(t)

    if cov.by_road:
        wt = cov.white_zones_by_time
        t = Table(title=f"Zones blanches par la route (> {fmt_number(cov.threshold_min, 0)} min en "
                        f"voiture) : {len(wt)} commune(s)")
        for col in ("Commune", "Code", "Durée (min)", "Ressource la plus proche par la route"):
            t.add_column(col)
        for x in wt.head(top).itertuples(index=False):
            t.add_row(str(x.name), str(x.code), fmt_number(x.travel_min, 0) if x.travel_min == x.travel_min
                      else "non atteinte", str(x.travel_nearest_name or "—"))
        _out.print(t)
    else:
        _out.print("Distances à vol d'oiseau (pas de réseau routier construit pour ce territoire : "
                   "dac-map network build)", highlight=False)

    if csv is not None:
        from dac_map.tabular import write_csv

        write_csv(csv, cov.table.drop(columns="geometry"), decimal=".")
        _out.print(f"Tableau par commune écrit : {csv}")
    if families_csv is not None:
        fc, _ = commune_indicators(catalogue, dac)
        write_csv(families_csv, fc, decimal=".")
        _out.print(f"Indicateurs par famille et commune écrits : {families_csv}")


@_with_common_options
def report(
    opts: CommonOptions,
    db: UnmetDbOpt = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Dossier des rapports (défaut : réglage REPORTS_DIR)")] = None,
    since: Annotated[Optional[str], typer.Option(
        "--since", help="Début de période AAAA-MM-JJ (défaut : fin du rapport précédent)")] = None,
    until: UntilOpt = None,
) -> None:
    """Écrit le rapport périodique pour l'ARS (HTML imprimable A4 + CSV + instantané JSON)."""
    from dac_map.coverage.report import build_report
    from dac_map.coverage.report_render import write_report
    from dac_map.query import load_catalogue

    try:
        start = date.fromisoformat(since) if since else None
        end = date.fromisoformat(until) if until else None
    except ValueError as exc:
        report_error(f"date invalide ({exc}) : format AAAA-MM-JJ")
        raise typer.Exit(2)
    dac, threshold, radius = _defaults(opts.dac, opts.threshold, opts.radius)
    output = settings.REPORTS_DIR if output is None else output
    try:
        catalogue = load_catalogue(opts.store)
        rep = build_report(catalogue, dac, _resource(opts.family, opts.category, opts.discipline, opts.label),
                           threshold, _population(opts.population, catalogue.metadata), radius, db, output,
                           start, end)
        files = write_report(rep, output)
    except DacMapError as exc:
        fail(exc)
    _out.print(f"Rapport ARS — {rep.territory_name} : {rep.summary.get('white_zones')} zone(s) "
               f"blanche(s), {rep.unmet_total} besoin(s) non couvert(s) sur la période", highlight=False)
    if rep.previous is not None:
        _out.print(f"Comparé au rapport du {rep.previous.get('generated_at')}", highlight=False)
    for p in (files.html, files.csv, files.snapshot):
        _out.print(f"  {p}", highlight=False)


unmet_app = typer.Typer(help="Journal des besoins non couverts : export, purge.",
                        no_args_is_help=True)


@unmet_app.command("export")
def unmet_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="Fichier CSV à écrire")],
    db: UnmetDbOpt = None,
    dac: DacFilterOpt = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Début de période AAAA-MM-JJ")] = None,
    until: UntilOpt = None,
    with_comments: Annotated[bool, typer.Option(
        "--with-comments", help="Inclure les commentaires libres (exclus par défaut)")] = False,
) -> None:
    """Exporte le journal en CSV (motifs et critères ; commentaires seulement sur demande)."""
    from dac_map.coverage.unmet import export_unmet_needs_csv, list_unmet_needs

    try:
        path = export_unmet_needs_csv(output, db, include_comments=with_comments, start=since,
                                      end=until, dac_id=dac)
        count = len(list_unmet_needs(db, start=since, end=until, dac_id=dac))
    except DacMapError as exc:
        fail(exc)
    _out.print(f"{count} signalement(s) exporté(s) "
               f"{'avec' if with_comments else 'sans'} commentaires : {path}", highlight=False)


@unmet_app.command("purge")
def unmet_purge(
    db: UnmetDbOpt = None,
    months: Annotated[Optional[int], typer.Option(
        "--months", min=0, help="Conserver N mois (défaut : réglage UNMET_RETENTION_MONTHS ; "
        "0 = tout conserver)")] = None,
) -> None:
    """Supprime les signalements plus anciens que la durée de conservation."""
    from dac_map.coverage.unmet import purge_unmet_needs

    try:
        deleted = purge_unmet_needs(db, months)
    except DacMapError as exc:
        fail(exc)
    kept = settings.UNMET_RETENTION_MONTHS if months is None else months
    _out.print(f"{deleted} signalement(s) de plus de {kept} mois supprimé(s).", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``coverage``, ``report`` and ``unmet`` commands to a Typer app."""
    app.command("coverage")(coverage)
    app.command("report")(report)
    app.add_typer(unmet_app, name="unmet")
