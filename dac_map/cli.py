"""Command-line interface: ``dac-map etl|demo|info|search|refresh|coverage|report|db|users|health``.

Errors of the :mod:`dac_map.errors` hierarchy are printed as one line naming the file, line
and field, and turned into the exit codes documented there.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dac_map import settings
from dac_map.cli_common import STORE_HELP, DacFilterOpt, StoreOpt, fail, report_error
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
# FINESS+ example of the Ain (issue 11): ANS's published example flows and the Ain communes.
DEMO_FINESS_PLUS_STRUCTURES = DEMO_DIR / "finess_plus" / "exemple-finess-structures-journalier-20260309.json"
DEMO_FINESS_PLUS_ACTIVITES = DEMO_DIR / "finess_plus" / "exemple-finess-activites-journalier-20260401.json"
DEMO_AIN_COMMUNES = DEMO_DIR / "geo" / "communes-01-ain.geojson"


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
    if getattr(report, "finess_plus", None) is not None:  # FINESS+ deviation report (issue 11)
        lines = report.finess_plus.summary_lines()
        if lines:
            out.print(f"Écarts des flux FINESS+ ({report.deviations_path}) :", highlight=False)
            for line in lines[:15]:
                out.print(f"  - {line}", highlight=False, soft_wrap=True)
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
    establishments: Annotated[Optional[Path], typer.Option("--establishments", "-e",
                              help="Extrait FINESS cs1100507 (ou cs1100502)")] = None,
    departments: Annotated[Path, typer.Option("--departments", "-d",
                           help="Limites des départements (GeoJSON, GPKG, SHP)")] = DEMO_DEPARTMENTS,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help=STORE_HELP)] = None,
    equipment: Annotated[Optional[Path], typer.Option("--equipment", help="Extrait cs1100505")] = None,
    communes: Annotated[Optional[list[Path]], typer.Option("--communes", "-c",
                        help="Limites des communes (répétable)")] = None,
    territories: Annotated[Optional[Path], typer.Option(help="Table des territoires DAC (CSV)")] = None,
    families: Annotated[Optional[Path], typer.Option(help="Table des familles (CSV)")] = None,
    category_families: Annotated[Optional[Path], typer.Option(
        help="Table catégorie -> famille (CSV)")] = None,
    categories: Annotated[Optional[Path], typer.Option(help="Nomenclature des catégories")] = None,
    rejects: Annotated[Optional[Path], typer.Option(help="Fichier CSV des lignes rejetées")] = None,
    boundaries_crs: Annotated[Optional[str], typer.Option(
        "--boundaries-crs", help="SCR des fichiers de limites s'ils ne le déclarent pas "
        "(ex. EPSG:2154)")] = None,
    finess_plus_structures: Annotated[Optional[Path], typer.Option(
        "--finess-plus-structures", help="Flux FINESS+ Structures (JSON, éventuellement gzippé)")] = None,
    finess_plus_activites: Annotated[Optional[Path], typer.Option(
        "--finess-plus-activites", help="Flux FINESS+ Activités (JSON, éventuellement gzippé)")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="FINESS+ : refuser tout écart au schéma publié")] = False,
) -> None:
    """Charge les extraits FINESS (etalab et/ou flux FINESS+) et les limites dans un GeoPackage
    (remplacement atomique)."""
    from dac_map.etl import EtlInputs, run_etl

    if establishments is None and finess_plus_structures is None and finess_plus_activites is None:
        err.print("[bold red]Erreur / error[/]: donner --establishments et/ou --finess-plus-structures / "
                  "--finess-plus-activites")
        raise typer.Exit(2)
    inputs = EtlInputs(establishments=establishments, departments=departments,
                       equipment=equipment, communes=list(communes or []),
                       boundaries_crs=boundaries_crs,
                       finess_plus_structures=finess_plus_structures,
                       finess_plus_activites=finess_plus_activites, finess_plus_strict=strict)
    for name, value in (("territories", territories), ("families", families),
                        ("category_families", category_families), ("categories", categories)):
        if value is not None:
            setattr(inputs, name, value)
    try:
        report = run_etl(inputs, output, progress=lambda m: err.print(f"[cyan]•[/] {m}"),
                         rejects_path=rejects)
    except DacMapError as exc:
        fail(exc)
    _print_report(report)


@app.command()
def demo(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help=STORE_HELP)] = None,
    if_missing: Annotated[bool, typer.Option("--if-missing",
                          help="Ne rien faire si le GeoPackage existe déjà")] = False,
) -> None:
    """Construit le GeoPackage de démonstration (Somme + Lot, et l'exemple FINESS+ de l'Ain) à partir
    de data/."""
    output = settings.STORE_PATH if output is None else output
    if if_missing and output.exists():
        err.print(f"GeoPackage déjà présent : {output}")
        return
    from dac_map.etl import EtlInputs, run_etl

    inputs = EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS,
                       equipment=DEMO_EQUIPMENT, communes=[*DEMO_COMMUNES, DEMO_AIN_COMMUNES],
                       finess_plus_structures=DEMO_FINESS_PLUS_STRUCTURES,
                       finess_plus_activites=DEMO_FINESS_PLUS_ACTIVITES)
    try:
        report = run_etl(inputs, output, progress=lambda m: err.print(f"[cyan]•[/] {m}"))
    except DacMapError as exc:
        fail(exc)
    _print_report(report)
    # --- issue 16: the demo's FICTITIOUS local resources (patient associations, Somme + Lot)
    if settings.INCLUSION_DEMO_TABLE.exists():
        from dac_map.inclusion.importer import run_import

        try:
            social = run_import([], store=output, local_table=settings.INCLUSION_DEMO_TABLE)
        except DacMapError as exc:
            fail(exc)
        err.print(f"Ressources locales (démonstration, FICTIVES) : {len(social.table)}")


@app.command()
def info(path: Annotated[Optional[Path], typer.Argument(help=STORE_HELP)] = None) -> None:
    """Affiche les métadonnées d'un GeoPackage dac-map."""
    from dac_map.store import open_store

    st = open_store(path)
    try:
        meta = st.read_metadata()
        layers = st.layers()
    except DacMapError as exc:
        fail(exc)
    out.print(f"Couches : {', '.join(layers)}")
    for key, value in meta.items():
        out.print(f"{key}: {value}", highlight=False, soft_wrap=True)


def _codes(values: Optional[list[str]]) -> list[str]:
    """Repeated and comma-separated option values: ``-x 80 -x 46,02`` -> ``[80, 46, 02]``."""
    return [v.strip() for item in (values or []) for v in item.split(",") if v.strip()]


@app.command()
def search(
    dac: DacFilterOpt = None,
    department: Annotated[Optional[list[str]], typer.Option("--department", help="Département(s) INSEE")] = None,
    commune: Annotated[Optional[list[str]], typer.Option("--commune", help="Commune(s) INSEE")] = None,
    family: Annotated[Optional[list[str]], typer.Option("--family", help="Famille(s) (ex. hopitaux)")] = None,
    category: Annotated[Optional[list[str]], typer.Option("--category", help="Catégorie(s) FINESS")] = None,
    aggregate: Annotated[Optional[list[str]], typer.Option("--aggregate", help="Agrégat(s) de catégories")] = None,
    discipline: Annotated[Optional[list[str]], typer.Option("--discipline", help="Discipline(s) : code ou libellé")] = None,
    activity_type: Annotated[Optional[list[str]], typer.Option("--activity-type",
                             help="Type(s) d'activité : accueil de jour, hébergement complet, domicile...")] = None,
    clientele: Annotated[Optional[list[str]], typer.Option("--clientele", help="Clientèle(s) : alzheimer...")] = None,
    min_capacity: Annotated[Optional[int], typer.Option("--min-capacity",
                            help="Places installées minimum (de la spécialité si donnée)")] = None,
    authorised: Annotated[bool, typer.Option("--authorised", help="Capacité autorisée au lieu d'installée")] = False,
    near_commune: Annotated[Optional[str], typer.Option("--near-commune", help="Autour d'une commune (INSEE)")] = None,
    near_point: Annotated[Optional[str], typer.Option("--near-point",
                          help="Autour d'un point « LAT, LON » (WGS84, latitude d'abord)")] = None,
    near_finess: Annotated[Optional[str], typer.Option("--near-finess", help="Autour d'un établissement (FINESS)")] = None,
    radius_km: Annotated[Optional[float], typer.Option("--radius-km", help="Rayon en km (sans rayon : "
                         "les plus proches)")] = None,
    nearest: Annotated[Optional[int], typer.Option("--nearest", help="Nombre de ressources les plus "
                       "proches (défaut : réglage NEAREST_N)")] = None,
    max_km: Annotated[Optional[float], typer.Option("--max-km", help="Les plus proches : distance "
                      "maximale (km, à vol d'oiseau)")] = None,
    max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", help="Les plus proches : "
                           "durée maximale en voiture (minutes, réseau routier requis)")] = None,
    network_dac: Annotated[Optional[str], typer.Option("--network", help="Réseau routier du territoire "
                           "(défaut : celui de --dac s'il est construit)")] = None,
    straight_line: Annotated[bool, typer.Option("--straight-line", help="Ignorer le réseau routier "
                             "(distances à vol d'oiseau)")] = False,
    outline: Annotated[bool, typer.Option("--outline", help="Distance au contour de la commune")] = False,
    text: Annotated[Optional[str], typer.Option("--text", help="Recherche approchée (nom, commune, FINESS)")] = None,
    include_closed: Annotated[bool, typer.Option("--include-closed", help="Inclure les établissements fermés")] = False,
    serves_commune: Annotated[Optional[str], typer.Option(
        "--serves-commune", help="Intervient à cette commune (INSEE) : zone d'intervention FINESS+")] = None,
    activity: Annotated[Optional[list[str]], typer.Option(
        "--activity", help="Activité FINESS+ : code TRE_R392, code d'activité (ex. 358) ou mots du libellé")] = None,
    public: Annotated[Optional[list[str]], typer.Option(
        "--public", help="Public FINESS+ : code TRE_R403 (ex. 436) ou mots (ex. alzheimer)")] = None,
    activity_min_capacity: Annotated[Optional[int], typer.Option(
        "--activity-min-capacity", help="Places FINESS+ minimum (installées ; autorisées avec --authorised)")] = None,
    resources: Annotated[Optional[str], typer.Option(
        "--resources", help="Ressources cherchées : finess, sociales ou toutes (défaut : les sociales dès "
                            "qu'un critère social est donné, FINESS sauf si seuls des critères sociaux)")] = None,
    social_family: Annotated[Optional[list[str]], typer.Option(
        "--social-family", help="Besoin social (ressources sociales) : clé ou début du libellé, ex. "
                                "aide_alimentaire, « Aide alimentaire », « Accès aux droits »")] = None,
    social_public: Annotated[Optional[list[str]], typer.Option(
        "--social-public", help="Public des ressources sociales (data·inclusion), ex. seniors, familles")] = None,
    fee: Annotated[Optional[str], typer.Option("--fee", help="Frais des ressources sociales : gratuit ou payant")] = None,
    min_quality: Annotated[Optional[float], typer.Option(
        "--min-quality", help="Score de qualité data·inclusion minimal (0 à 1)")] = None,
    sort: Annotated[Optional[str], typer.Option("--sort", help="distance|score|name|finess|capacity")] = None,
    page: Annotated[int, typer.Option("--page", help="Page (à partir de 1)")] = 1,
    page_size: Annotated[Optional[int], typer.Option("--page-size",
                         help="Résultats par page (défaut : 20 en tableau, tout en csv/geojson)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table|csv|geojson")] = "table",
    store_path: StoreOpt = None,
) -> None:
    """Cherche des ressources : territoire, type, spécialité, capacité, distance, nom ; et les
    ressources sociales (data·inclusion, ressources locales du DAC)."""
    import json
    import re

    from dac_map import codes
    from dac_map import query as q
    from dac_map.query import export as qexport
    from dac_map.query import social as qs
    from dac_map.query import spec
    from dac_map.query.near import POINT_FORMAT, format_point, parse_point

    try:
        if fmt not in ("table", "csv", "geojson"):
            raise q.QueryError(f"format inconnu / unknown format: {fmt!r} (table, csv, geojson)")
        near = None
        for value, pattern, what in ((near_commune, codes.COMMUNE_PATTERN, "code INSEE de commune invalide / "
                                      "invalid commune INSEE code"),
                                     (near_finess, codes.FINESS_PATTERN, "numéro FINESS invalide / "
                                      "invalid FINESS number")):
            if value is not None:
                if not re.fullmatch(pattern, value.strip().upper()):
                    raise q.QueryError(f"{what}: {value!r}")
                near = value.strip().upper()
        if near_point is not None:
            point = parse_point(near_point)
            if point is None:
                raise q.QueryError(f"point invalide / bad point: {near_point!r} ; attendu "
                                   f"{POINT_FORMAT}")
            near = format_point(*point)
        if sum(v is not None for v in (near_commune, near_point, near_finess)) > 1 or (outline and not near):
            raise q.QueryError("donner exactement un centre : --near-commune, --near-point ou "
                               "--near-finess / give exactly one centre")
        if radius_km is not None and not near:
            raise q.QueryError("--radius-km demande un centre (--near-commune, --near-point ou "
                               "--near-finess) / --radius-km needs a centre")
        # ---- proximity (issue 12): the N nearest by default, the radius when asked for
        if not near and (nearest is not None or max_km is not None or max_minutes is not None):
            raise q.QueryError("--nearest, --max-km et --max-minutes demandent un centre "
                               "(--near-commune, --near-point ou --near-finess) / need a centre")
        road = None
        if near and not straight_line:
            from dac_map.network import load_network, try_load_network

            road = load_network(network_dac) if network_dac else try_load_network(dac)
        if authorised and min_capacity is None and activity_min_capacity is None:
            raise q.QueryError("--authorised s'utilise avec --min-capacity / --authorised needs --min-capacity")
        wanted = spec.SearchSpec(
            dac=dac, departments=tuple(_codes(department)), communes=tuple(_codes(commune)),
            families=tuple(_codes(family)), categories=tuple(_codes(category)),
            aggregates=tuple(_codes(aggregate)), disciplines=tuple(_codes(discipline)),
            activity_types=tuple(activity_type or ()), clienteles=tuple(clientele or ()),
            min_capacity=min_capacity or 0, authorised=authorised and min_capacity is not None,
            text=text or "", near=near or "",
            radius_km=radius_km if radius_km is not None else (
                settings.UI_DEFAULT_RADIUS_KM if outline else None), outline=outline,
            include_closed=include_closed, sort=sort or "",
            nearest_n=nearest if nearest is not None else settings.NEAREST_N,
            max_minutes=max_minutes or 0.0, max_km=max_km or 0.0,
            # FINESS+ activities and intervention zones (issue 11)
            serves=(serves_commune or "").strip().upper(), fp_types=tuple(activity or ()),
            fp_publics=tuple(public or ()), fp_min_places=activity_min_capacity or 0,
            fp_authorised=authorised and activity_min_capacity is not None,
            # social resources (issue 16)
            resources=(resources or "").strip().lower(),
            social_families=tuple(qs.social_family_key(v) for v in _codes(social_family)),
            social_publics=tuple(_codes(social_public)), social_fee=(fee or "").strip().lower(),
            social_min_quality=min_quality or 0.0)
        qs.check_spec(wanted)
        size = page_size if page_size is not None else (20 if fmt == "table" else None)
        catalogue = q.load_catalogue(store_path)
        kinds = qs.scope(wanted)
        result = (q.search(catalogue, wanted.to_filters(catalogue, has_network=road is not None),
                           sort=sort, page=page, page_size=size, network=road) if kinds.finess else None)
        social = qs.search_social_spec(wanted, catalogue, whole_table=False) if kinds.social else None
    except DacMapError as exc:
        fail(exc)
    social_rows = None
    if social is not None:
        start = (max(page, 1) - 1) * size if size else 0
        social_rows = social.records.iloc[start:start + size] if size else social.records

    if fmt == "csv":
        import pandas as pd

        from dac_map.tabular import write_csv

        parts = []
        if result is not None:
            table = q.to_french_table(result.records)
            if social is not None:  # both kinds in one file: say which each row is
                table.insert(0, "Type de ressource", qs.KIND_FINESS)
            parts.append(table)
        if social_rows is not None:
            parts.append(qexport.social_french_table(social_rows))
        sys.stdout.flush()
        write_csv(sys.stdout.buffer, pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0],
                  bom=False, lineterminator="\n")
    elif fmt == "geojson":
        collection = (q.to_geojson(result.records) if result is not None
                      else {"type": "FeatureCollection", "features": []})
        if social_rows is not None:
            for f in collection["features"]:
                f["properties"]["Type de ressource"] = qs.KIND_FINESS
            collection["features"] += qexport.social_geojson(social_rows)
        sys.stdout.write(json.dumps(collection, ensure_ascii=False) + "\n")
    else:
        if result is not None:
            _print_finess_result(catalogue, result, near_commune, commune)
        if social is not None:
            out.print(f"Ressources sociales : {social.total}", markup=False, highlight=False)
            if social.total:
                out.print(qexport.to_rich_social_table(social_rows))
                if social.total > len(social_rows):
                    out.print(f"({len(social_rows)} affichées ; --page / --page-size pour la suite)",
                              markup=False, highlight=False)
            out.print("Critères (ressources sociales) : " + (" · ".join(social.labels) or "aucun"),
                      markup=False, highlight=False, soft_wrap=True)
            if social.records["fictitious"].fillna(False).astype(bool).any():
                out.print("EXEMPLE FICTIF : des ressources sociales de ce résultat sont inventées "
                          "(démonstration).", markup=False, highlight=False)
    empty = (result is None or result.is_empty) and (social is None or not social.total)
    if empty and fmt != "table":
        err.print(result.message if result is not None else "Aucune ressource sociale ne correspond aux critères.",
                  markup=False, highlight=False, soft_wrap=True)


def _print_finess_result(catalogue, result, near_commune: Optional[str], commune: Optional[list[str]]) -> None:
    """The FINESS part of ``dac-map search`` in the terminal."""
    from dac_map.query.export import to_rich_table

    if result.is_empty:
        out.print(result.message, markup=False, highlight=False, soft_wrap=True)
    else:
        out.print(to_rich_table(result))
    out.print("Critères : " + " · ".join(result.labels), markup=False, highlight=False, soft_wrap=True)
    if result.centre is not None:
        out.print("Durées en voiture par la route (réseau OpenStreetMap)" if result.by_road
                  else "Distances à vol d'oiseau", markup=False, highlight=False)
    if not result.by_road and result.centre_snap_m is not None:
        out.print(f"Centre à {result.centre_snap_m / 1000:.1f} km de la route la plus proche du "
                  "réseau chargé : distances à vol d'oiseau", markup=False, highlight=False)
    if result.unreachable:
        out.print(f"{len(result.unreachable)} ressource(s) hors du réseau routier (sans durée) : "
                  + ", ".join(result.unreachable[:10]), markup=False, highlight=False, soft_wrap=True)
    if result.counts_by_family:
        out.print("Par famille : " + ", ".join(f"{result.family_labels.get(k, k)} {v}"
                                               for k, v in result.counts_by_family.items()),
                  markup=False, highlight=False, soft_wrap=True)
    _print_dac_for_communes(catalogue, [near_commune] if near_commune else [], _codes(commune))
    if result.data_date:
        out.print(f"Données FINESS du {result.data_date}", markup=False, highlight=False)
    if result.equipment_illustrative:
        out.print("Capacités illustratives (données d'équipement fictives) ; les places "
                  "installées ne disent rien de la disponibilité.", markup=False, highlight=False)


def _print_dac_for_communes(catalogue, *code_lists: list[str]) -> None:
    """"DAC pour <commune> : name — phone" for the communes of a search (issue 13)."""
    from dac_map.territories.catalogue import dac_lookup

    lookup = dac_lookup(catalogue)
    for code in dict.fromkeys(c.upper() for codes in code_lists for c in codes):
        name = catalogue.commune_name(code) or ""
        found = lookup.for_commune(code)
        label = f"{name} ({code})" if name else code
        if not found:
            out.print(f"DAC pour {label} : aucun territoire DAC ne couvre cette commune",
                      markup=False, highlight=False, soft_wrap=True)
            continue
        more = f" (aussi revendiquée par : {', '.join(c.name for c in found[1:])})" if len(found) > 1 else ""
        out.print(f"DAC pour {label} : {found[0].text()}{more}", markup=False, highlight=False,
                  soft_wrap=True)


def _register_subsystems() -> None:
    from dac_map.coverage.cli import register as register_coverage
    from dac_map.network.cli import register as register_network
    from dac_map.refresh.cli import register as register_refresh
    from dac_map.server.cli import register as register_server
    from dac_map.territories.cli import register as register_territories

    register_refresh(app)
    register_coverage(app)
    register_territories(app)
    register_network(app)
    register_server(app)
    # --- issue 16: data·inclusion social services and local resources
    from dac_map.inclusion.cli import register as register_inclusion

    register_inclusion(app)


_register_subsystems()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except DacMapError as exc:  # pragma: no cover - commands catch their own
        report_error(exc)
        sys.exit(exc.exit_code)
    finally:
        # The process ends here: the objects still alive (every module of pandas, GDAL... and
        # what the command left) leave the garbage collector's sight, or the interpreter's last
        # full collection walks them all (0.15-0.2 s after a national ETL) just before the
        # operating system frees the whole memory anyway.
        gc.freeze()


if __name__ == "__main__":
    main()
