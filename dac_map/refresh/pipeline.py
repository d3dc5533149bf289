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
one line to the log file (``[store] log_file``): see
:meth:`~dac_map.refresh.result.RefreshResult.as_dict`. The stages are in
:mod:`dac_map.refresh.stages`, one function each.
"""

from __future__ import annotations

import json
import time

from dac_map.errors import DacMapError, StoreError
from dac_map.refresh.config import RefreshConfig
from dac_map.refresh.lock import RefreshLock
from dac_map.refresh.result import (
    STATUS_FAILED,
    STATUS_HELD,
    STATUS_REFUSED,
    STATUS_ROLLBACK,
    Confirm,
    RefreshResult,
    Say,
    finish,
    iso_time,
    record_failure,
)
from dac_map.refresh.stages import read_current_meta, run_stages
from dac_map.paths import safe_join, safe_name
from dac_map.refresh.versions import (
    HOLD_FILE,
    VERSION_ID,
    archive_current,
    hold_text,
    list_version_files,
    now,
    swap_in,
)


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
    result = RefreshResult(status="interrupted", exit_code=130, started=iso_time(now()),
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
                run_stages(config, result, dry_run=dry_run, force=force, rebuild=rebuild, say=say,
                     show_progress=show_progress, confirm=confirm)
                if not dry_run and result.exit_code == 0:
                    refresh_networks(config, result, say, rebuild=rebuild)
    except BaseException as exc:  # noqa: BLE001 - recorded in the result, then logged
        record_failure(result, exc, refused_status=STATUS_REFUSED)
    finally:
        finish(config, result, t0)
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


def rollback(config: RefreshConfig, version: str, *, progress: Say | None = None) -> RefreshResult:
    """Serve a kept version again (under the lock; the current store is archived first when
    it is not a kept version), and hold the refreshes until ``refresh(..., release=True)``.
    Logged like a refresh, with status ``rollback``."""
    say = progress or (lambda _m: None)
    t0 = time.monotonic()
    result = RefreshResult(status="interrupted", exit_code=130, started=iso_time(now()),
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
            meta = read_current_meta(config.store.current, result, say)
            if meta is not None:
                result.previous_version = str(meta.get("refresh_version") or config.store.current.name)
            archived = archive_current(config.store.current, meta, config.store.versions_dir)
            if archived is not None:
                result.messages.append(f"version servie précédente archivée : {archived.name}")
            say(f"Remise en service de {vid}")
            swap_in(path, config.store.current)
            hold = config.store.versions_dir / HOLD_FILE
            hold.write_text(json.dumps({"version": vid, "time": iso_time(now())}), encoding="utf-8")
            result.messages.append("mises à jour suspendues jusqu'à `refresh --release`")
            result.status, result.exit_code = STATUS_ROLLBACK, 0
            result.version, result.version_path = vid, str(path)
    except BaseException as exc:  # noqa: BLE001 - recorded in the result, then logged
        record_failure(result, exc, refused_status=STATUS_FAILED)
    finally:
        finish(config, result, t0)
    return result
