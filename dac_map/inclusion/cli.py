"""The ``dac-map inclusion`` commands: :func:`register` adds them to the Typer app.

* ``dac-map inclusion check FILE...``: validate data·inclusion files (services, structures,
  or the steward table with ``--local``), print the deviation report; exit 5 when strict and
  something deviates, 4 when a file is not readable as JSON/CSV.
* ``dac-map inclusion import --services F [--structures F] [--store S]``: validate, map,
  deduplicate against FINESS and write the social resources into the store (with the DAC's
  local table and the stewards' match decisions of the current mode — CSV files in embedded
  mode, PostgreSQL in server mode — unless ``--no-local`` / ``--local-table`` / ``--overrides``).
  Prints the deviation report, the FINESS match decisions (stewards' overrides applied) and the
  change report.
* ``dac-map inclusion export FOLDER``: the steward table as schema v1 ``services.json`` and
  ``structures.json``.
* ``dac-map inclusion search [--intervient 80021] [--famille ...]``: the social resources
  matching the criteria (the keys of :data:`dac_map.inclusion.filters.SOCIAL_PARAMS`).
* ``dac-map inclusion epci-table [SOURCE]``: rebuild the EPCI -> communes table from an official
  DGCL / INSEE / geo.api.gouv.fr file, or check the one in use against the catalogue's communes.

Exit codes are those of :mod:`dac_map.errors`. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.text import Text

from dac_map.cli_common import StoreOpt, fail
from dac_map.errors import DacMapError

inclusion_app = typer.Typer(help="Services sociaux data·inclusion et ressources locales du DAC "
                                 "/ data·inclusion social services and local resources.",
                            no_args_is_help=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _say(console: Console, line: str, style: str = "") -> None:
    console.print(Text(line, style=style), soft_wrap=True)


@inclusion_app.command("check")
def check_cmd(
    files: Annotated[list[Path], typer.Argument(help="Fichiers data·inclusion (JSON, JSONL, CSV, .gz)")],
    kind: Annotated[str, typer.Option(help="service | structure")] = "service",
    local: Annotated[bool, typer.Option("--local", help="Fichiers au format de la table locale du DAC")] = False,
    strict: Annotated[bool, typer.Option(help="Refuser tout écart au schéma v1")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Rapport en JSON sur la sortie standard")] = False,
) -> None:
    """Valider des fichiers sans rien écrire / validate files, write nothing."""
    from dac_map.inclusion.reader import iter_records
    from dac_map.inclusion.steward import read_table
    from dac_map.inclusion.validate import DeviationReport, Validator

    if kind not in ("service", "structure"):
        fail(DacMapError("--kind must be 'service' or 'structure'"))
    report = DeviationReport()
    issues = []
    try:
        for path in files:
            if local:
                t = read_table(path, strict=strict)
                for k, n in t.report.counts.items():
                    report.counts[k] += n
                for k, ex in t.report.examples.items():
                    report.examples.setdefault(k, []).extend(ex)
                for a in ("records", "kept", "rejected", "converted"):
                    setattr(report, a, getattr(report, a) + getattr(t.report, a))
                issues += t.issues
                continue
            v = Validator(kind, strict=strict, report=report)
            for loc in iter_records(path, issues):
                v.validate(loc.record, path=str(path), index=loc.index, where=loc.where)
    except DacMapError as exc:
        fail(exc)
    if as_json:
        data = report.as_dict()
        data["unreadable"] = [vars(i) for i in issues]
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        for line in report.lines():
            _say(out, line)
        for i in issues[:20]:
            _say(out, f"illisible : {i}", "red")
    if strict and (report.rejected or issues):
        raise typer.Exit(5)


@inclusion_app.command("import")
def import_cmd(
    services: Annotated[list[Path], typer.Option("--services", help="Fichier(s) de services (ou page d'API)")] = [],  # noqa: B006
    structures: Annotated[list[Path], typer.Option("--structures", help="Fichier(s) de structures")] = [],  # noqa: B006
    store: StoreOpt = None,
    local_table: Annotated[Optional[Path], typer.Option("--local-table", help="Table locale du DAC (défaut : celle "
                                                        "de l'application : INCLUSION_LOCAL_TABLE, ou PostgreSQL en mode serveur)")] = None,
    no_local: Annotated[bool, typer.Option("--no-local", help="Sans la table locale")] = False,
    overrides: Annotated[Optional[Path], typer.Option(help="Décisions du référent, CSV resource_id;finess;decision;motif "
                                                      "(défaut : celles de l'application)")] = None,
    strict: Annotated[bool, typer.Option(help="Refuser tout écart au schéma v1")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Tout vérifier, ne rien écrire")] = False,
    report: Annotated[Optional[Path], typer.Option("--rapport", help="Dossier des rapports (écarts, "
                                                   "correspondances FINESS, changements)")] = None,
) -> None:
    """Importer dans le catalogue / import into the catalogue."""
    from dac_map.inclusion.dedup import current_overrides
    from dac_map.inclusion.importer import run_import
    from dac_map.inclusion.steward import current_table

    try:
        local = None if no_local else (local_table if local_table is not None else current_table())
        result = run_import(services, structures, store=store, local_table=local,
                            overrides=overrides if overrides is not None else current_overrides(),
                            strict=strict, dry_run=dry_run)
    except DacMapError as exc:
        fail(exc)
    for line in result.lines():
        _say(out, line)
    if report is not None:
        from dac_map.inclusion.importer import write_reports

        for path in write_reports(result, report).values():
            _say(out, f"Rapport : {path}")
    _say(out, "Essai à blanc : rien n'a été écrit." if dry_run else
         f"{len(result.table)} ressources sociales écrites dans le catalogue.", "bold green")


@inclusion_app.command("export")
def export_cmd(
    folder: Annotated[Path, typer.Argument(help="Dossier de sortie")],
    local_table: Annotated[Optional[Path], typer.Option("--local-table", help="Table CSV (défaut : celle de "
                                                        "l'application, PostgreSQL en mode serveur)")] = None,
) -> None:
    """Exporter la table locale au schéma v1 / export the local table in schema v1."""
    from dac_map.inclusion.steward import current_table, export_schema

    try:
        table = current_table(local_table)
        if table is None:
            raise DacMapError("table locale vide ou absente / no local table yet")
        paths = export_schema(table, folder)
    except DacMapError as exc:
        fail(exc)
    for line in table.report.lines():
        _say(out, line)
    _say(out, f"{len(table.services)} services -> {paths['services']}, "
              f"{len(table.structures)} structures -> {paths['structures']}")


@inclusion_app.command("search")
def search_cmd(
    intervient: Annotated[Optional[str], typer.Option(help="Intervient à cette commune (code INSEE)")] = None,
    famille: Annotated[Optional[list[str]], typer.Option(help="Famille (ex. aidants_famille, sante_mentale)")] = None,
    public: Annotated[Optional[list[str]], typer.Option(help="Public (ex. seniors)")] = None,
    frais: Annotated[Optional[str], typer.Option(help="gratuit | payant")] = None,
    qualite: Annotated[Optional[float], typer.Option(help="Score de qualité minimal (0 à 1)")] = None,
    q: Annotated[Optional[str], typer.Option("--q", help="Mots du nom ou de la description")] = None,
    store: StoreOpt = None,
    limit: Annotated[int, typer.Option(help="Lignes affichées au plus")] = 50,
) -> None:
    """Chercher une ressource sociale / search the social resources."""
    from dac_map.inclusion.catalogue import load_social
    from dac_map.inclusion.filters import describe, filters_from_params, search_social
    from dac_map.inclusion.vocab import family_label

    try:
        cat = load_social(store)
        if cat is None:
            raise DacMapError("no social resources in this catalogue: run dac-map inclusion import")
        filters = filters_from_params({"intervient": intervient or "", "famille": famille or [],
                                       "public": public or [], "frais": frais or "",
                                       "qualite": "" if qualite is None else str(qualite), "q": q or ""})
    except DacMapError as exc:
        fail(exc)
    found = search_social(cat, filters)
    _say(out, f"{len(found)} ressource(s) — {describe(filters, cat)}", "bold")
    for _, r in found.head(limit).iterrows():
        fams = ", ".join(family_label(f) for f in r["families"])
        fict = " [EXEMPLE FICTIF]" if r["fictitious"] else ""
        _say(out, f"- {r['name']}{fict} — {r['city'] or ''} — {fams} — {r['sources_label']}")


@inclusion_app.command("epci-table")
def epci_table_cmd(
    source: Annotated[Optional[Path], typer.Argument(help="Fichier officiel : DGCL epcicomAAAA.xlsx/.csv, INSEE "
                                                     "Intercommunalite_Metropole_au_01-01-AAAA.xlsx, JSON de "
                                                     "geo.api.gouv.fr/communes?fields=code,nom,codeEpci,epci. "
                                                     "Sans fichier : vérifier la table en service.")] = None,
    departements: Annotated[Optional[list[str]], typer.Option("--departement", help="Départements gardés "
                                                              "(défaut : ceux des communes du catalogue)")] = None,
    mouvements: Annotated[Optional[Path], typer.Option(help="INSEE mouvements des communes (mvtcommune_AAAA.csv) "
                                                       "pour rattacher les anciens codes (défaut : réglage COMMUNE_MOVES)")] = None,
    output: Annotated[Optional[Path], typer.Option("--sortie", help="Table écrite (défaut : réglage INCLUSION_EPCI_TABLE)")] = None,
    store: Annotated[Optional[Path], typer.Option(help="GeoPackage dont les communes servent de référence")] = None,
) -> None:
    """Construire ou vérifier la table EPCI -> communes / build or check the EPCI table.

    With SOURCE: keep the EPCIs having a commune in the departments, attach the older commune
    codes of the catalogue's boundaries to the commune that absorbed them (INSEE moves), write
    the table, then check it. Without: check the table in use against the catalogue's communes.
    """
    from dac_map import settings, store as store_mod
    from dac_map.inclusion import epci

    try:
        st = store_mod.open_store(store)
        communes: set[str] = set()
        if st.exists() and st.has_layer(store_mod.COMMUNES):
            communes = set(st.read_layer(store_mod.COMMUNES, read_geometry=False)["code"].astype(str))
        target = Path(output or settings.INCLUSION_EPCI_TABLE)
        if source is not None:
            from dac_map import codes

            deps = list(departements or sorted({codes.department_of(c) for c in communes}))
            members = epci.select(epci.read_official(source), deps)
            moves_path = mouvements or settings.COMMUNE_MOVES
            bridged = []
            if moves_path:
                from dac_map.territories.vintages import read_moves

                bridged = epci.bridge(members, communes, read_moves(moves_path))
            epci.build_table(members, bridged, target)
            _say(out, f"Table écrite : {target} ({len({m.epci for m in members})} EPCI, départements "
                      f"{', '.join(deps) or 'tous'})")
        table = epci.read_epci_table(target)
    except DacMapError as exc:
        fail(exc)
    if not communes:
        _say(out, f"{len(table)} EPCI ; pas de communes dans le catalogue pour comparer.")
        return
    for line in epci.check_table(table, communes).lines():
        _say(out, line)


def register(app: typer.Typer) -> None:
    """Add ``dac-map inclusion ...`` to ``app``."""
    app.add_typer(inclusion_app, name="inclusion")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(inclusion_app())
