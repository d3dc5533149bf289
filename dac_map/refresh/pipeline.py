"""The refresh: fetch, build, validate, compare, then swap in atomically — or change nothing.

:func:`refresh` runs, under an exclusive lock (:class:`~dac_map.refresh.lock.RefreshLock`):

1. **fetch** every source into ``<raw_dir>/incoming/`` (:func:`~dac_map.refresh.download.fetch`:
   complete and checked, or an error); the last good raw files in ``<raw_dir>/`` are only
   replaced once the new version is served;
2. **unchanged?** when every fetched file has the same SHA-256 as the inputs of the current
   store (and the software version is the same), stop there: status ``unchanged`` (so that a
   daily cron job does not create a version a day and prune the real history);
3. **build** the new GeoPackage with :func:`~dac_map.etl.run_etl` into a staging file of the
   versions folder;
4. **validate** it against the current store (:mod:`~dac_map.refresh.validate`);
5. **compare** it with the current store (:mod:`~dac_map.refresh.diff`); with ``dry_run`` (or
   when validation fails) the report is written to ``<versions_dir>/dry-run/`` (or
   ``refused/``) and nothing else changes;
6. **finalise** the version: the ``changements`` layer and the ``refresh_*``/``changes_*``
   metadata keys are added to it, it is renamed ``<versions_dir>/dac_map-<UTC time>.gpkg`` and
   its reports ``.changements.md/.html/.csv`` (and ``.rejets.csv``) are written beside it;
7. **archive** the current store into the versions folder when it is not one of the kept
   versions (a store built by ``dac-map etl``/``demo``): nothing is lost;
8. **swap**: the version is copied to a temporary file beside the current store, synced, and
   renamed over it with :func:`os.replace` (readers see the old file or the new one, never a
   mix); then the raw files are promoted and the versions folder is pruned to ``keep``.

Any failure before the swap leaves the current store byte-identical, removes the unfinished
version and its temporary files, and leaves the last good raw files in place. Leftovers of a
crashed run (staging and temporary files) are removed at the start of the next run.

Every run, whatever its outcome (refused by the lock included), appends one JSON object on
one line to the log file (``[store] log_file``): see :meth:`RefreshResult.as_dict`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dac_map import __version__, settings, store
from dac_map.errors import DacMapError, LockedError, RowIssue, StoreError, ValidationError
from dac_map.files import sha256_file, unlink_quietly
from dac_map.etl import EtlInputs, run_etl
from dac_map.refresh.config import RefreshConfig
from dac_map.refresh.diff import ChangeReport, compare_stores, write_changes_layer, write_reports
from dac_map.refresh.download import Fetched, fetch
from dac_map.refresh.lock import RefreshLock
from dac_map.refresh.validate import Check, failed, store_facts, validate
from dac_map.paths import safe_join, safe_name
from dac_map.refresh.versions import (
    HOLD_FILE,
    VERSION_ID,
    VERSION_PREFIX,
    archive_current,
    hold_text,
    list_version_files,
    new_version_id,
    now,
    prune_versions,
    swap_in,
)
from dac_map.store.geopackage import GeoPackageStore, remove_files

STATUS_OK = "ok"
STATUS_UNCHANGED = "unchanged"
STATUS_DRY_RUN = "dry-run"
STATUS_CANCELLED = "cancelled"
STATUS_REFUSED = "refused"
STATUS_LOCKED = "locked"
STATUS_FAILED = "failed"
STATUS_ROLLBACK = "rollback"
STATUS_HELD = "held"

_REFERENCE_INPUTS = ("territories", "categories", "families", "category_families",
                     "disciplines", "activities")

Say = Callable[[str], None]
Confirm = Callable[[ChangeReport, list[Check]], bool]


@dataclass
class RefreshResult:
    """Outcome of one run; :meth:`as_dict` is the JSON line written to the log."""

    status: str
    exit_code: int
    started: str
    config: str
    store: str
    dry_run: bool = False
    finished: str | None = None
    duration_s: float | None = None
    version: str | None = None
    version_path: str | None = None
    previous_version: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    changes_total: int = 0
    checks: list[dict[str, object]] = field(default_factory=list)
    sources: dict[str, dict[str, object]] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    pruned: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    #: road networks (issue 12): territory id -> "reconstruit" / "inchangé" / "erreur : ..."
    networks: dict[str, str] = field(default_factory=dict)
    error: dict[str, str] | None = None
    #: The change report (not written to the log).
    report: ChangeReport | None = field(default=None, repr=False, compare=False)
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def as_dict(self) -> dict[str, object]:
        """JSON-serialisable summary (no report object, no exception)."""
        out: dict[str, object] = {"time": self.started}
        out.update((f.name, getattr(self, f.name)) for f in dataclasses.fields(self)
                   if f.name not in ("started", "report", "exception"))
        return out

    def raise_for_status(self) -> None:
        """Re-raise the error of a failed run."""
        if self.exception is not None:
            raise self.exception


# --------------------------------------------------------------------------- helpers

def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


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


def append_log(path: Path, result: RefreshResult) -> None:
    """Append one JSON line describing ``result`` to the log file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(result.as_dict(), ensure_ascii=False, default=str)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def _read_current_meta(current: Path, result: RefreshResult, say: Say
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


# --------------------------------------------------------------------------- the run

def _record_failure(result: RefreshResult, exc: BaseException, *, refused_status: str) -> None:
    """Put an exception into ``result``: status, exit code (see :mod:`dac_map.errors`), message.

    Interrupts (KeyboardInterrupt, SystemExit) are re-raised after being recorded."""
    if isinstance(exc, DacMapError):
        result.status = (STATUS_LOCKED if isinstance(exc, LockedError) else
                         refused_status if isinstance(exc, ValidationError) else STATUS_FAILED)
        result.exit_code = exc.exit_code
        result.error = {"type": type(exc).__name__, "message": str(exc)}
    elif isinstance(exc, Exception):
        result.status, result.exit_code = STATUS_FAILED, 1
        result.error = {"type": type(exc).__name__, "message": str(exc),
                        "traceback": traceback.format_exc(limit=20)}
    else:
        raise exc
    result.exception = exc


def _finish(config: RefreshConfig, result: RefreshResult, t0: float) -> None:
    """Stamp the end time and duration and append the JSON log line (never raises)."""
    result.finished = _iso(now())
    result.duration_s = round(time.monotonic() - t0, 3)
    try:
        append_log(config.store.log_file, result)
    except OSError as exc:
        result.messages.append(f"cannot write the log {config.store.log_file}: {exc}")


def refresh(config: RefreshConfig, *, dry_run: bool = False, force: bool = False,
            rebuild: bool = False, release: bool = False, progress: Say | None = None,
            show_progress: bool = False, confirm: Confirm | None = None) -> RefreshResult:
    """Run one refresh (see the module doc) and return its :class:`RefreshResult`.

    Never raises a :class:`~dac_map.errors.DacMapError` or other ``Exception``: the result
    carries the status, the exit code of the error (see :mod:`dac_map.errors`), its message,
    and the exception (:meth:`RefreshResult.raise_for_status`). ``force`` swaps in a version
    that failed validation checks (recorded in the log and metadata); ``rebuild`` builds a new
    version even when the sources did not change; ``confirm`` is asked before the swap.

    After a :func:`rollback`, refreshes are held (status ``held``, exit code 0, nothing done;
    a dry run still runs) until one is run with ``release=True``: otherwise the next cron run
    would serve again the data the steward has just rolled back.
    """
    say = progress or (lambda _m: None)
    t0 = time.monotonic()
    result = RefreshResult(status="interrupted", exit_code=130, started=_iso(now()),
                           config=str(config.path), store=str(config.store.current),
                           dry_run=dry_run)
    try:
        with RefreshLock(config.store.lock_file):
            hold = config.store.versions_dir / HOLD_FILE
            if hold.is_file() and release and not dry_run:
                hold.unlink()
                result.messages.append("retour en arrière levé (--release)")
            if hold.is_file() and not dry_run:
                result.status, result.exit_code = STATUS_HELD, 0
                result.messages.append(
                    f"mises à jour suspendues depuis un retour en arrière ({hold_text(hold)}) : "
                    "relancez avec --release pour reprendre")
                say(result.messages[-1])
            else:
                _run(config, result, dry_run=dry_run, force=force, rebuild=rebuild, say=say,
                     show_progress=show_progress, confirm=confirm)
                if not dry_run and result.exit_code == 0:
                    refresh_networks(config, result, say, rebuild=rebuild)
    except BaseException as exc:  # noqa: BLE001 - recorded in the result, then logged
        _record_failure(result, exc, refused_status=STATUS_REFUSED)
    finally:
        _finish(config, result, t0)
    return result


def refresh_networks(config: RefreshConfig, result: RefreshResult, say: Say, *,
                     rebuild: bool = False) -> None:
    """Rebuild each configured road network whose extract changed (size or SHA-256), or whose
    speeds changed. A failed build keeps the previous network and is reported in
    ``result.networks`` and ``result.messages``; it does not undo the FINESS refresh."""
    if not config.networks:
        return
    from dac_map.network import build_network, needs_rebuild
    from dac_map.network.cli import territory_points

    for territory, pbf in config.networks.items():
        try:
            if not rebuild and not needs_rebuild(pbf, territory):
                result.networks[territory] = "inchangé"
                continue
            say(f"Réseau routier de {territory} : reconstruction depuis {pbf.name}")
            lon, lat = territory_points(config.store.current, territory)
            report = build_network(pbf, territory, check_lon=lon, check_lat=lat)
            result.networks[territory] = "reconstruit"
            result.messages.append(f"réseau routier {territory} reconstruit : {report.n_nodes} "
                                   f"nœuds, {report.n_edges} tronçons")
        except (DacMapError, OSError) as exc:
            result.networks[territory] = f"erreur : {exc}"
            result.messages.append(f"réseau routier {territory} non reconstruit (précédent "
                                   f"conservé) : {exc}")


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


def _run(config: RefreshConfig, result: RefreshResult, *, dry_run: bool, force: bool,
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
    run.prev_meta = prev = _read_current_meta(run.current, result, run.say)
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
        "refresh_time": _iso(now()),
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


def rollback(config: RefreshConfig, version: str, *, progress: Say | None = None) -> RefreshResult:
    """Serve a kept version again (under the lock; the current store is archived first when
    it is not a kept version), and hold the refreshes until ``refresh(..., release=True)``.
    Logged like a refresh, with status ``rollback``."""
    say = progress or (lambda _m: None)
    t0 = time.monotonic()
    result = RefreshResult(status="interrupted", exit_code=130, started=_iso(now()),
                           config=str(config.path), store=str(config.store.current))
    try:
        with RefreshLock(config.store.lock_file):
            vid = version[:-len(".gpkg")] if version.endswith(".gpkg") else version
            safe_name(vid, pattern=VERSION_ID, what="version (attendu dac_map-AAAAMMJJTHHMMSSZ)")
            path = safe_join(config.store.versions_dir, f"{vid}.gpkg", what="version")
            if not path.is_file():
                known = ", ".join(p.name[:-5] for p in list_version_files(config.store.versions_dir))
                raise StoreError(f"no kept version {vid!r} (kept: {known or 'none'})",
                                 path=str(config.store.versions_dir))
            meta = _read_current_meta(config.store.current, result, say)
            if meta is not None:
                result.previous_version = str(meta.get("refresh_version") or config.store.current.name)
            archived = archive_current(config.store.current, meta, config.store.versions_dir)
            if archived is not None:
                result.messages.append(f"version servie précédente archivée : {archived.name}")
            say(f"Remise en service de {vid}")
            swap_in(path, config.store.current)
            hold = config.store.versions_dir / HOLD_FILE
            hold.write_text(json.dumps({"version": vid, "time": _iso(now())}), encoding="utf-8")
            result.messages.append("mises à jour suspendues jusqu'à `refresh --release`")
            result.status, result.exit_code = STATUS_ROLLBACK, 0
            result.version, result.version_path = vid, str(path)
    except BaseException as exc:  # noqa: BLE001 - recorded in the result, then logged
        _record_failure(result, exc, refused_status=STATUS_FAILED)
    finally:
        _finish(config, result, t0)
    return result
