"""The stages of one refresh, one function each (see :mod:`dac_map.refresh.pipeline` for what
they do and guarantee): fetch, unchanged?, build, validate and compare, may we swap?, finalise
and swap, after the swap; :func:`run_stages` runs them in order and always removes the
unfinished version, its temporary files and the incoming files.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dac_map import __version__, settings, store
from dac_map.errors import DacMapError, RowIssue, ValidationError
from dac_map.etl import EtlInputs, run_etl
from dac_map.files import sha256_file, unlink_quietly
from dac_map.refresh.config import RefreshConfig
from dac_map.refresh.diff import ChangeReport, compare_stores, write_changes_layer
from dac_map.refresh.download import Fetched, fetch
from dac_map.refresh.reports import write_reports
from dac_map.refresh.result import (
    STATUS_CANCELLED,
    STATUS_DRY_RUN,
    STATUS_OK,
    STATUS_UNCHANGED,
    Confirm,
    RefreshResult,
    Say,
    iso_time,
)
from dac_map.refresh.validate import Check, failed, store_facts, validate
from dac_map.refresh.versions import (
    VERSION_PREFIX,
    archive_current,
    new_version_id,
    now,
    prune_versions,
    swap_in,
)
from dac_map.store.geopackage import GeoPackageStore, remove_files

_REFERENCE_INPUTS = ("territories", "categories", "families", "category_families",
                     "disciplines", "activities")


def _cleanup_leftovers(config: RefreshConfig) -> list[str]:
    """Remove what a crashed run left behind (called under the lock)."""
    removed: list[str] = []
    patterns = [(config.store.versions_dir, ".staging-*"), (config.store.versions_dir, "*.tmp.gpkg*"),
                (config.store.versions_dir, f".{VERSION_PREFIX}*.swap"),
                (config.store.current.parent, f".{config.store.current.name}.*.swap")]
    for folder, pattern in patterns:
        if folder.is_dir():
            for p in folder.glob(pattern):
                if p.is_file():
                    unlink_quietly(p)
                    removed.append(p.name)
    incoming = config.download.raw_dir / "incoming"
    if incoming.is_dir():
        for p in incoming.iterdir():
            if p.is_file() and not p.name.endswith((".part", ".part.json")):
                unlink_quietly(p)
                removed.append(p.name)
    return removed


def read_current_meta(current: Path, result: RefreshResult, say: Say
                       ) -> dict[str, object] | None:
    if not current.is_file():
        return None
    try:
        return store.open_store(current).read_metadata()
    except DacMapError as exc:
        msg = f"le GeoPackage actuel est illisible, il sera archivé puis remplacé : {exc}"
        result.messages.append(msg)
        say(msg)
        return None


@dataclass
class _Run:
    """What the stages of one refresh share (see the module doc for the stages)."""

    config: RefreshConfig
    result: RefreshResult
    say: Say
    fetched: dict[str, Fetched] = field(default_factory=dict)
    inputs_sha: dict[str, str] = field(default_factory=dict)
    prev_meta: dict[str, object] | None = None
    vid: str = ""
    staging: Path | None = None
    staging_rejects: Path | None = None
    #: Row problems of the ETL run that built the staging version (to name lines in checks).
    issues: list[RowIssue] = field(default_factory=list)
    report: ChangeReport | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def current(self) -> Path:
        return self.config.store.current

    @property
    def versions_dir(self) -> Path:
        return self.config.store.versions_dir

    @property
    def raw_dir(self) -> Path:
        return self.config.download.raw_dir


def run_stages(config: RefreshConfig, result: RefreshResult, *, dry_run: bool, force: bool,
         rebuild: bool, say: Say, show_progress: bool, confirm: Confirm | None) -> None:
    run = _Run(config, result, say)
    leftovers = _cleanup_leftovers(config)
    if leftovers:
        result.messages.append(f"restes d'une exécution interrompue supprimés : {', '.join(leftovers)}")
    try:
        _fetch(run, show_progress)
        if _unchanged(run, rebuild):
            return
        _build(run)
        _validate_and_compare(run, dry_run)
        if not _may_swap(run, dry_run=dry_run, force=force, confirm=confirm):
            return
        _finalise_and_swap(run, forced=bool(failed(run.checks)))
        _after_swap(run)
    finally:
        if run.staging is not None:
            remove_files(run.staging)
        if run.staging_rejects is not None:
            unlink_quietly(run.staging_rejects)
        for got in run.fetched.values():
            unlink_quietly(got.path)


def _fetch(run: _Run, show_progress: bool) -> None:
    """Stage 1: every source into ``<raw_dir>/incoming/``, and the digests of the inputs."""
    incoming = run.raw_dir / "incoming"
    for src in run.config.sources.all():
        got = fetch(src, incoming / src.raw_name, run.config.download, say=run.say,
                    show_progress=show_progress)
        run.fetched[src.name] = got
        last_good = run.raw_dir / src.raw_name
        info = got.as_dict()
        info["changed"] = not (last_good.is_file() and sha256_file(last_good) == got.sha256)
        run.result.sources[src.name] = info
    run.inputs_sha = {name: f.sha256 for name, f in run.fetched.items()}
    # The shipped reference tables used when not configured count as inputs too, so that
    # editing e.g. data/reference/categories_familles.csv triggers a rebuild.
    defaults = EtlInputs(establishments=Path(), departments=Path())
    for name in _REFERENCE_INPUTS:
        path = getattr(defaults, name)
        if name not in run.fetched and path is not None and Path(path).is_file():
            run.inputs_sha[f"{name} (défaut)"] = sha256_file(Path(path))


def _unchanged(run: _Run, rebuild: bool) -> bool:
    """Stage 2: reads the served version's metadata; unless ``rebuild``, whether it was built
    from the same inputs and software (then the result says so and nothing else is done)."""
    result = run.result
    run.prev_meta = prev = read_current_meta(run.current, result, run.say)
    if prev is None:
        return False
    result.previous_version = str(prev.get("refresh_version") or run.current.name)
    if (not rebuild and prev.get("refresh_inputs") == run.inputs_sha
            and prev.get("software_version") == __version__
            and str(prev.get("etl_version")) == str(settings.ETL_VERSION)):
        result.status, result.exit_code = STATUS_UNCHANGED, 0
        result.version = result.previous_version
        result.messages.append("sources inchangées depuis la version servie : rien à faire "
                               "(--rebuild pour reconstruire quand même)")
        run.say(result.messages[-1])
        return True
    return False


def _build(run: _Run) -> None:
    """Stage 3: the ETL into a staging GeoPackage of the versions folder."""
    run.versions_dir.mkdir(parents=True, exist_ok=True)
    run.vid = new_version_id(run.versions_dir)
    run.staging = run.versions_dir / f".staging-{run.vid}.gpkg"
    run.staging_rejects = run.versions_dir / f".staging-{run.vid}.rejets.csv"
    fetched = run.fetched
    def path(name: str) -> Path | None:
        return fetched[name].path if name in fetched else None

    inputs = EtlInputs(establishments=path("establishments"), departments=fetched["departments"].path,
                       equipment=path("equipment"),
                       communes=[f.path for n, f in fetched.items() if n.startswith("communes-")],
                       # FINESS+ flows (issue 11)
                       finess_plus_structures=path("finess_plus_structures"),
                       finess_plus_activites=path("finess_plus_activites"),
                       boundaries_crs=run.config.sources.boundaries_crs)
    for name in _REFERENCE_INPUTS:
        if name in fetched:
            setattr(inputs, name, fetched[name].path)
    etl_report = run_etl(inputs, run.staging, progress=run.say, rejects_path=run.staging_rejects)
    run.result.counts = dict(etl_report.counts)
    run.issues = etl_report.issues
    _build_social(run)


def _build_social(run: _Run) -> None:
    """Stage 3b (issue 16): the social resources into the staging version: the configured
    data·inclusion files (validated; too many rejects refuse the version) or, when none is
    configured, the served version's data·inclusion resources carried over; plus the DAC's
    local table and the stewards' match decisions, read again from the current mode's tables
    (they live outside the store, so refreshes never lose them)."""
    from dac_map.inclusion.dedup import current_overrides
    from dac_map.inclusion.importer import run_import
    from dac_map.inclusion.steward import current_table

    fetched = run.fetched
    services = [fetched["inclusion_services"].path] if "inclusion_services" in fetched else []
    structures = [fetched["inclusion_structures"].path] if "inclusion_structures" in fetched else []
    local = fetched["inclusion_local"].path if "inclusion_local" in fetched else current_table()
    if isinstance(local, Path) and not local.exists():
        local = None
    previous = run.current if run.current.exists() else None
    if not services and local is None and previous is None:
        return
    social = run_import(services, structures, store=run.staging, local_table=local,
                        overrides=current_overrides(),
                        keep_from=None if services else previous, compare_with=previous)
    if len(social.table) or social.services_report.records:
        run.result.messages.append(
            f"ressources sociales : {len(social.table)} (data·inclusion {social.services_report.kept} "
            f"retenus / {social.services_report.rejected} rejetés) ; changements : {social.changes}")
        run.say(run.result.messages[-1])


def _validate_and_compare(run: _Run, dry_run: bool) -> None:
    """Stages 4 and 5: the checks against the served version, and the change report."""
    result = run.result
    run.say("Vérification de la nouvelle version")
    previous = run.current if run.prev_meta is not None else None
    prev_facts = None
    if previous is not None:
        try:
            prev_facts = store_facts(previous)
        except DacMapError as exc:  # an old or damaged store: compare with nothing
            previous = None
            result.messages.append(f"version servie illisible, non comparée : {exc}")
    run.checks = validate(store_facts(run.staging), prev_facts, run.config.validation, run.issues)
    result.checks = [c.as_dict() for c in run.checks]
    run.say("Comparaison avec la version servie")
    report = compare_stores(previous, run.staging, run.config.report.moved_threshold_m)
    run.report = dataclasses.replace(report, current=dataclasses.replace(
        report.current, file="(essai à blanc)" if dry_run else f"{run.vid}.gpkg",
        version=None if dry_run else run.vid))
    result.report = run.report
    result.changes = dict(run.report.counts)
    result.changes_total = run.report.total


def _may_swap(run: _Run, *, dry_run: bool, force: bool, confirm: Confirm | None) -> bool:
    """Whether to go on to the swap: not for a dry run, a version failing its checks (unless
    ``force``) or a steward saying no; the reports of a dry run or refused version are kept
    in ``dry-run/`` or ``refused/``. Raises :class:`ValidationError` when refused."""
    result, report = run.result, run.report
    bad = failed(run.checks)
    if dry_run or (bad and not force):
        folder = run.versions_dir / ("dry-run" if dry_run else "refused")
        paths = write_reports(report, folder / "changements")
        if run.staging_rejects.exists():
            paths["rejects"] = Path(shutil.move(run.staging_rejects, folder / "rejets.csv"))
        result.reports = {k: str(v) for k, v in paths.items()}
    if bad and not force:
        raise ValidationError(
            f"{len(bad)} contrôle(s) en échec, les données servies sont conservées / "
            f"{len(bad)} check(s) failed, the current data is kept: "
            + " | ".join(f"{c.name}: {c.message}" for c in bad), path=str(run.current))
    if bad:
        result.messages.append("contrôles en échec acceptés (--force) : "
                               + ", ".join(c.name for c in bad))
    if dry_run:
        result.status, result.exit_code = STATUS_DRY_RUN, 0
        run.say(f"Essai à blanc : {report.total} changement(s), rien n'a été remplacé")
        return False
    if confirm is not None and not confirm(report, run.checks):
        result.status, result.exit_code = STATUS_CANCELLED, 0
        result.messages.append("annulé : les données servies sont conservées")
        return False
    return True


def _refresh_metadata(run: _Run, forced: bool) -> dict[str, object]:
    report = run.report
    return {
        "refresh_version": run.vid,
        "refresh_time": iso_time(now()),
        "refresh_config": str(run.config.path),
        "refresh_sources": {n: f.location for n, f in run.fetched.items()},
        "refresh_inputs": run.inputs_sha,
        "refresh_forced": forced,
        "validation_checks": run.result.checks,
        "previous_version": run.result.previous_version,
        "previous_source_date": report.previous.source_date if report.previous else None,
        "previous_etl_time": report.previous.etl_time if report.previous else None,
        "changes_total": report.total,
        "changes_counts": report.counts,
        "changes_by_territory": report.by_territory,
        "changes_by_family": report.by_family,
        "changes_moved_threshold_m": report.moved_threshold_m,
        "changes_capacity_compared": report.capacity_compared,
        "changes_notes": list(report.notes),
    }


def _finalise_and_swap(run: _Run, forced: bool) -> Path:
    """Stages 6 to 8: the kept version (changes table, refresh metadata, reports), the
    archive of the served store, the swap. On failure, what was published is removed."""
    result, vid = run.result, run.vid
    version = run.versions_dir / f"{vid}.gpkg"
    published: list[Path] = []
    try:
        run.say(f"Enregistrement de la version {vid}")
        write_changes_layer(run.report, run.staging)
        GeoPackageStore(run.staging).update_metadata(_refresh_metadata(run, forced))
        os.replace(run.staging, version)
        published.append(version)
        if run.staging_rejects.exists():
            rejects = version.with_name(f"{vid}.rejets.csv")
            os.replace(run.staging_rejects, rejects)
            published.append(rejects)
            result.reports["rejects"] = str(rejects)
        paths = write_reports(run.report, run.versions_dir / f"{vid}.changements")
        published.extend(paths.values())
        result.reports.update({k: str(v) for k, v in paths.items()})

        # server mode (issue 14): publish the validated version into PostGIS and serve it
        # (one transaction); a failure here stops the refresh before the file swap
        from dac_map.server import config as server_config
        if server_config.server_mode():
            from dac_map.server.versions import publish_geopackage

            run.say("Publication dans PostgreSQL/PostGIS")
            result.messages.append("version publiée dans PostGIS : " + publish_geopackage(
                version, actor="dac-map refresh", keep=run.config.store.keep))

        archived = archive_current(run.current, run.prev_meta, run.versions_dir)
        if archived is not None:
            result.messages.append(f"version servie précédente archivée : {archived.name}")
        run.say(f"Remplacement atomique de {run.current}")
        swap_in(version, run.current)
    except BaseException:
        unlink_quietly(*published)
        result.reports = {}
        raise
    result.status, result.exit_code = STATUS_OK, 0
    result.version, result.version_path = vid, str(version)
    return version


def _after_swap(run: _Run) -> None:
    """After the swap: the raw files are promoted and old versions pruned; problems are
    reported, the new data is served anyway."""
    result = run.result
    for got in run.fetched.values():
        try:
            os.replace(got.path, run.raw_dir / got.path.name)
        except OSError as exc:
            result.messages.append(f"fichier brut {got.path.name} non conservé : {exc}")
    run.fetched = {}
    try:
        result.pruned = prune_versions(run.versions_dir, run.config.store.keep)
    except OSError as exc:
        result.messages.append(f"nettoyage des anciennes versions impossible : {exc}")
    run.say(f"Version {run.vid} en service : {run.report.total} changement(s)")
