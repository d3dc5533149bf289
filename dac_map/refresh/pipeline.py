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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyogrio

from dac_map import __version__, settings, store
from dac_map.errors import DacMapError, LockedError, StoreError, ValidationError
from dac_map.etl import EtlInputs, run_etl
from dac_map.refresh.config import RefreshConfig
from dac_map.refresh.diff import ChangeReport, compare_stores, write_changes_layer, write_reports
from dac_map.refresh.download import Fetched, fetch, sha256_file
from dac_map.refresh.lock import RefreshLock
from dac_map.refresh.validate import Check, failed, store_facts, validate

STATUS_OK = "ok"
STATUS_UNCHANGED = "unchanged"
STATUS_DRY_RUN = "dry-run"
STATUS_CANCELLED = "cancelled"
STATUS_REFUSED = "refused"
STATUS_LOCKED = "locked"
STATUS_FAILED = "failed"
STATUS_ROLLBACK = "rollback"
STATUS_HELD = "held"

#: Written by :func:`rollback` in the versions folder: refreshes wait until it is released.
HOLD_FILE = "hold.json"

VERSION_PREFIX = "dac_map-"
_REFERENCE_INPUTS = ("territories", "categories", "families", "category_families",
                     "disciplines", "activities")
_COMPANIONS = (".rejets.csv", ".changements.md", ".changements.html", ".changements.csv")

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

def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _remove(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")]


def new_version_id(versions_dir: Path, when: datetime | None = None) -> str:
    """``dac_map-YYYYMMDDTHHMMSSZ``, with ``_01``, ``_02``... when already taken (names sort
    in time order)."""
    base = f"{VERSION_PREFIX}{(when or _now()):%Y%m%dT%H%M%SZ}"
    vid, i = base, 0
    while (versions_dir / f"{vid}.gpkg").exists():
        i += 1
        vid = f"{base}_{i:02d}"
    return vid


def list_version_files(versions_dir: Path) -> list[Path]:
    """The kept versions, oldest first."""
    if not versions_dir.is_dir():
        return []
    return sorted(p for p in versions_dir.glob(f"{VERSION_PREFIX}*.gpkg") if p.is_file())


def update_metadata(path: Path, values: dict[str, object]) -> None:
    """Set keys of the ``metadata`` table of a GeoPackage (JSON-encoded like write_store)."""
    meta = store.read_layer(path, store.METADATA)
    meta = meta[~meta["key"].isin(list(values))]
    extra = pd.DataFrame({"key": list(values),
                          "value": [v if isinstance(v, str) else json.dumps(v, default=str,
                                                                            ensure_ascii=False)
                                    for v in values.values()]})
    table = pd.concat([meta[["key", "value"]], extra], ignore_index=True)
    pyogrio.write_dataframe(table, path, layer=store.METADATA, driver="GPKG", use_arrow=True)


def swap_in(version: Path, current: Path) -> None:
    """Make ``current`` a copy of ``version`` atomically (copy beside it, fsync, os.replace).

    Raises :class:`StoreError`; ``current`` is then untouched and the temporary copy removed.
    """
    current.parent.mkdir(parents=True, exist_ok=True)
    tmp = current.with_name(f".{current.name}.{uuid.uuid4().hex[:8]}.swap")
    try:
        shutil.copyfile(version, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, current)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, Exception) and not isinstance(exc, DacMapError):
            raise StoreError(f"cannot swap in the new version: {exc}", path=str(current)) from exc
        raise
    _fsync_dir(current.parent)
    _remove(*_sidecars(current))


def prune_versions(versions_dir: Path, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest versions (and their report files); return their names."""
    files = list_version_files(versions_dir)
    removed = []
    for old in files[:max(0, len(files) - max(1, keep))]:
        stem = old.name[:-len(".gpkg")]
        _remove(old, *_sidecars(old), *(old.with_name(stem + c) for c in _COMPANIONS))
        removed.append(stem)
    return removed


def _stamp(meta: dict[str, object] | None, path: Path) -> str:
    value = meta.get("etl_time") if meta else None
    try:
        t = datetime.fromisoformat(str(value)).astimezone(timezone.utc)
    except (TypeError, ValueError):
        t = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return f"{t:%Y%m%dT%H%M%SZ}"


def archive_current(current: Path, meta: dict[str, object] | None, versions_dir: Path
                    ) -> Path | None:
    """Copy the current store into the versions folder unless one of the kept versions is the
    same file. Returns the archive's path (``None`` when nothing had to be archived)."""
    if not current.is_file():
        return None
    digest = sha256_file(current)
    vid = meta.get("refresh_version") if meta else None
    candidates = [versions_dir / f"{vid}.gpkg"] if isinstance(vid, str) else []
    for cand in candidates:
        if cand.is_file() and cand.stat().st_size == current.stat().st_size \
                and sha256_file(cand) == digest:
            return None
    # "-archive" sorts before "." and "_01": an archive comes before the versions of its second.
    name = (f"{vid}-archive" if isinstance(vid, str) and vid.startswith(VERSION_PREFIX)
            else f"{VERSION_PREFIX}{_stamp(meta, current)}-archive")
    target = versions_dir / f"{name}.gpkg"
    if target.exists() and sha256_file(target) == digest:
        return None
    i = 0
    while target.exists():
        i += 1
        target = versions_dir / f"{name}{i}.gpkg"
    tmp = versions_dir / f".archive-{uuid.uuid4().hex[:8]}.tmp"
    try:
        shutil.copyfile(current, tmp)
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    return target


def _cleanup_leftovers(config: RefreshConfig) -> list[str]:
    """Remove what a crashed run left behind (called under the lock)."""
    removed: list[str] = []
    patterns = [(config.store.versions_dir, ".staging-*"), (config.store.versions_dir, "*.tmp.gpkg*"),
                (config.store.versions_dir, ".archive-*.tmp"),
                (config.store.current.parent, f".{config.store.current.name}.*.swap")]
    for folder, pattern in patterns:
        if folder.is_dir():
            for p in folder.glob(pattern):
                if p.is_file():
                    _remove(p)
                    removed.append(p.name)
    incoming = config.download.raw_dir / "incoming"
    if incoming.is_dir():
        for p in incoming.iterdir():
            if p.is_file() and not p.name.endswith((".part", ".part.json")):
                _remove(p)
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
        return store.read_metadata(current)
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
    result.finished = _iso(_now())
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
    result = RefreshResult(status="interrupted", exit_code=130, started=_iso(_now()),
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
                    f"mises à jour suspendues depuis un retour en arrière ({_hold_text(hold)}) : "
                    "relancez avec --release pour reprendre")
                say(result.messages[-1])
            else:
                _run(config, result, dry_run=dry_run, force=force, rebuild=rebuild, say=say,
                     show_progress=show_progress, confirm=confirm)
    except BaseException as exc:  # noqa: BLE001 - recorded in the result, then logged
        _record_failure(result, exc, refused_status=STATUS_REFUSED)
    finally:
        _finish(config, result, t0)
    return result


def _hold_text(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return f"version {data.get('version')} le {data.get('time')}"
    except (OSError, ValueError, AttributeError):
        return path.name


def _run(config: RefreshConfig, result: RefreshResult, *, dry_run: bool, force: bool,
         rebuild: bool, say: Say, show_progress: bool, confirm: Confirm | None) -> None:
    cfg = config
    current = cfg.store.current
    versions_dir = cfg.store.versions_dir
    raw_dir = cfg.download.raw_dir
    incoming = raw_dir / "incoming"

    leftovers = _cleanup_leftovers(cfg)
    if leftovers:
        result.messages.append(f"restes d'une exécution interrompue supprimés : {', '.join(leftovers)}")

    fetched: dict[str, Fetched] = {}
    staging: Path | None = None
    staging_rejects: Path | None = None
    try:
        # 1. fetch
        for src in cfg.sources.all():
            got = fetch(src, incoming / src.raw_name, cfg.download, say=say,
                        show_progress=show_progress)
            fetched[src.name] = got
            last_good = raw_dir / src.raw_name
            info = got.as_dict()
            info["changed"] = not (last_good.is_file() and sha256_file(last_good) == got.sha256)
            result.sources[src.name] = info
        inputs_sha = {name: f.sha256 for name, f in fetched.items()}
        # The shipped reference tables used when not configured count as inputs too, so that
        # editing e.g. data/reference/categories_familles.csv triggers a rebuild.
        defaults = EtlInputs(establishments=Path(), departments=Path())
        for name in _REFERENCE_INPUTS:
            path = getattr(defaults, name)
            if name not in fetched and path is not None and Path(path).is_file():
                inputs_sha[f"{name} (défaut)"] = sha256_file(Path(path))

        # 2. unchanged?
        prev_meta = _read_current_meta(current, result, say)
        previous = current if prev_meta is not None else None
        if prev_meta is not None:
            result.previous_version = str(prev_meta.get("refresh_version") or current.name)
        if (not rebuild and prev_meta is not None and prev_meta.get("refresh_inputs") == inputs_sha
                and prev_meta.get("software_version") == __version__
                and str(prev_meta.get("etl_version")) == str(settings.ETL_VERSION)):
            result.status, result.exit_code = STATUS_UNCHANGED, 0
            result.version = result.previous_version
            result.messages.append("sources inchangées depuis la version servie : rien à faire "
                                   "(--rebuild pour reconstruire quand même)")
            say(result.messages[-1])
            return

        # 3. build
        versions_dir.mkdir(parents=True, exist_ok=True)
        vid = new_version_id(versions_dir)
        staging = versions_dir / f".staging-{vid}.gpkg"
        staging_rejects = versions_dir / f".staging-{vid}.rejets.csv"
        inputs = EtlInputs(establishments=fetched["establishments"].path,
                           departments=fetched["departments"].path,
                           equipment=fetched["equipment"].path if "equipment" in fetched else None,
                           communes=[f.path for n, f in fetched.items() if n.startswith("communes-")])
        for name in _REFERENCE_INPUTS:
            if name in fetched:
                setattr(inputs, name, fetched[name].path)
        etl_report = run_etl(inputs, staging, progress=say, rejects_path=staging_rejects)
        result.counts = dict(etl_report.counts)

        # 4. validate, 5. compare
        say("Vérification de la nouvelle version")
        prev_facts = None
        if previous is not None:
            try:
                prev_facts = store_facts(previous)
            except DacMapError as exc:  # an old or damaged store: compare with nothing
                previous = None
                result.messages.append(f"version servie illisible, non comparée : {exc}")
        checks = validate(store_facts(staging), prev_facts, cfg.validation)
        result.checks = [c.as_dict() for c in checks]
        bad = failed(checks)
        say("Comparaison avec la version servie")
        report = compare_stores(previous, staging, cfg.report.moved_threshold_m)
        report = dataclasses.replace(report, current=dataclasses.replace(
            report.current, file="(essai à blanc)" if dry_run else f"{vid}.gpkg",
            version=None if dry_run else vid))
        result.report = report
        result.changes = dict(report.counts)
        result.changes_total = report.total

        if dry_run or (bad and not force):
            folder = versions_dir / ("dry-run" if dry_run else "refused")
            paths = write_reports(report, folder / "changements")
            if staging_rejects.exists():
                paths["rejects"] = Path(shutil.move(staging_rejects, folder / "rejets.csv"))
            result.reports = {k: str(v) for k, v in paths.items()}
        if bad and not force:
            raise ValidationError(
                f"{len(bad)} contrôle(s) en échec, les données servies sont conservées / "
                f"{len(bad)} check(s) failed, the current data is kept: "
                + " | ".join(f"{c.name}: {c.message}" for c in bad), path=str(current))
        if bad:
            result.messages.append("contrôles en échec acceptés (--force) : "
                                   + ", ".join(c.name for c in bad))
        if dry_run:
            result.status, result.exit_code = STATUS_DRY_RUN, 0
            say(f"Essai à blanc : {report.total} changement(s), rien n'a été remplacé")
            return
        if confirm is not None and not confirm(report, checks):
            result.status, result.exit_code = STATUS_CANCELLED, 0
            result.messages.append("annulé : les données servies sont conservées")
            return

        # 6. finalise the version
        version = versions_dir / f"{vid}.gpkg"
        published: list[Path] = []
        try:
            say(f"Enregistrement de la version {vid}")
            write_changes_layer(report, staging)
            refresh_time = _iso(_now())
            update_metadata(staging, {
                "refresh_version": vid,
                "refresh_time": refresh_time,
                "refresh_config": str(cfg.path),
                "refresh_sources": {n: f.location for n, f in fetched.items()},
                "refresh_inputs": inputs_sha,
                "refresh_forced": bool(bad),
                "validation_checks": result.checks,
                "previous_version": result.previous_version,
                "previous_source_date": report.previous.source_date if report.previous else None,
                "previous_etl_time": report.previous.etl_time if report.previous else None,
                "changes_total": report.total,
                "changes_counts": report.counts,
                "changes_by_territory": report.by_territory,
                "changes_by_family": report.by_family,
                "changes_moved_threshold_m": report.moved_threshold_m,
                "changes_capacity_compared": report.capacity_compared,
                "changes_notes": list(report.notes),
            })
            os.replace(staging, version)
            published.append(version)
            if staging_rejects.exists():
                rejects = version.with_name(f"{vid}.rejets.csv")
                os.replace(staging_rejects, rejects)
                published.append(rejects)
                result.reports["rejects"] = str(rejects)
            paths = write_reports(report, versions_dir / f"{vid}.changements")
            published.extend(paths.values())
            result.reports.update({k: str(v) for k, v in paths.items()})

            # server mode (issue 14): publish the validated version into PostGIS and serve it
            # (one transaction); a failure here stops the refresh before the file swap
            from dac_map.server import config as server_config
            if server_config.server_mode():
                from dac_map.server.versions import publish_geopackage

                say("Publication dans PostgreSQL/PostGIS")
                result.messages.append("version publiée dans PostGIS : " + publish_geopackage(
                    version, actor="dac-map refresh", keep=cfg.store.keep))

            # 7. archive, 8. swap
            archived = archive_current(current, prev_meta, versions_dir)
            if archived is not None:
                result.messages.append(f"version servie précédente archivée : {archived.name}")
            say(f"Remplacement atomique de {current}")
            swap_in(version, current)
        except BaseException:
            _remove(*published)
            result.reports = {}
            raise
        result.status, result.exit_code = STATUS_OK, 0
        result.version, result.version_path = vid, str(version)

        # After the swap: problems are reported, the new data is served anyway.
        for name, got in fetched.items():
            try:
                os.replace(got.path, raw_dir / got.path.name)
            except OSError as exc:
                result.messages.append(f"fichier brut {got.path.name} non conservé : {exc}")
        fetched = {}
        try:
            result.pruned = prune_versions(versions_dir, cfg.store.keep)
        except OSError as exc:
            result.messages.append(f"nettoyage des anciennes versions impossible : {exc}")
        say(f"Version {vid} en service : {report.total} changement(s)")
    finally:
        if staging is not None:
            _remove(staging, *_sidecars(staging))
        if staging_rejects is not None:
            _remove(staging_rejects)
        for got in fetched.values():
            _remove(got.path)


# --------------------------------------------------------------------------- versions

def list_versions(config: RefreshConfig) -> list[dict[str, object]]:
    """The kept versions, newest first: id, file, size, times, source date, counts, current."""
    current_version = None
    if config.store.current.is_file():
        try:
            current_version = store.read_metadata(config.store.current).get("refresh_version")
        except DacMapError:
            pass
    out = []
    for path in reversed(list_version_files(config.store.versions_dir)):
        try:
            meta = store.read_metadata(path)
        except DacMapError:
            meta = {}
        counts = meta.get("counts") if isinstance(meta.get("counts"), dict) else {}
        vid = path.name[:-len(".gpkg")]
        out.append({
            "version": vid, "file": str(path), "bytes": path.stat().st_size,
            "refresh_time": meta.get("refresh_time"), "etl_time": meta.get("etl_time"),
            "source_date": meta.get("source_date"),
            "establishments": counts.get("establishments"),
            "changes_total": meta.get("changes_total"),
            "current": meta.get("refresh_version", vid) == current_version,
        })
    return out


def rollback(config: RefreshConfig, version: str, *, progress: Say | None = None) -> RefreshResult:
    """Serve a kept version again (under the lock; the current store is archived first when
    it is not a kept version), and hold the refreshes until ``refresh(..., release=True)``.
    Logged like a refresh, with status ``rollback``."""
    say = progress or (lambda _m: None)
    t0 = time.monotonic()
    result = RefreshResult(status="interrupted", exit_code=130, started=_iso(_now()),
                           config=str(config.path), store=str(config.store.current))
    try:
        with RefreshLock(config.store.lock_file):
            vid = version[:-len(".gpkg")] if version.endswith(".gpkg") else version
            path = config.store.versions_dir / f"{vid}.gpkg"
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
            hold.write_text(json.dumps({"version": vid, "time": _iso(_now())}), encoding="utf-8")
            result.messages.append("mises à jour suspendues jusqu'à `refresh --release`")
            result.status, result.exit_code = STATUS_ROLLBACK, 0
            result.version, result.version_path = vid, str(path)
    except BaseException as exc:  # noqa: BLE001 - recorded in the result, then logged
        _record_failure(result, exc, refused_status=STATUS_FAILED)
    finally:
        _finish(config, result, t0)
    return result
