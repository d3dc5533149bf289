"""The refresh pipeline: fetch, build, validate, compare, swap — and nothing lost on failure."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from dac_map import store
from dac_map.errors import LockedError
from dac_map.etl import EtlInputs, run_etl
from dac_map.refresh import stages
from dac_map.refresh.config import load_config
from dac_map.refresh.diff import CHANGES_LAYER, load_change_summary, load_latest_changes
from dac_map.refresh.lock import RefreshLock
from dac_map.refresh.pipeline import refresh, rollback
from dac_map.refresh.versions import list_versions
from dac_map.testing.refresh import (
    Est,
    LocalServer,
    equipment_bytes,
    extract_bytes,
    refresh_config,
    sample_rows,
    somme_equipment,
    write_bytes,
    write_departments,
    write_sources,
    write_territories,
)

ROWS = sample_rows(20)  # 20 EHPAD in the Somme (DAC-80), 20 SSIAD in the Lot (DAC-46)
SOMME = [r for r in ROWS if r.departement == "80"]
LOT = [r for r in ROWS if r.departement == "46"]
EQ = somme_equipment(ROWS)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_config(ws: Path, validation: str = "", keep: int = 3) -> Path:
    path = ws / "refresh.toml"
    path.write_text(refresh_config(f'[validation]\n{validation}\n\n[store]\ncurrent = "build/dac_map.gpkg"\n'
                                   f"keep = {keep}\n"), encoding="utf-8")
    return path


def _log(ws: Path) -> list[dict]:
    path = ws / "build" / "refresh.log.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _versions(ws: Path) -> list[str]:
    return sorted(p.name for p in (ws / "build" / "versions").glob("dac_map-*.gpkg"))


def _snapshot(ws: Path) -> dict[str, str]:
    """Digest of every file that must not change when a run fails."""
    build = ws / "build"
    files = [build / "dac_map.gpkg", *sorted((build / "raw").glob("*.*")),
             *sorted((build / "versions").glob("dac_map-*"))]
    return {str(p.relative_to(ws)): _sha(p) for p in files if p.is_file()}


def _no_temp_files(ws: Path) -> None:
    build = ws / "build"
    assert not list(build.glob(".dac_map.gpkg.*")), "swap temp file left"
    assert not list((build / "versions").glob(".*")), "staging file left"
    assert not list((build / "versions").glob("*.tmp*"))
    incoming = build / "raw" / "incoming"
    assert not incoming.exists() or not any(incoming.iterdir())


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A workspace where a first refresh put version 1 (ROWS, EQ) in service."""
    ws = tmp_path_factory.mktemp("baseline")
    write_sources(ws, ROWS, EQ)
    result = refresh(load_config(_write_config(ws)))
    result.raise_for_status()
    assert result.status == "ok"
    return ws


@pytest.fixture()
def ws(baseline, tmp_path):
    target = tmp_path / "ws"
    shutil.copytree(baseline, target)
    return target


def _set_rows(ws: Path, rows: list[Est], eq=EQ, date: str = "2021-02-05") -> None:
    write_bytes(ws / "src" / "establishments.csv", extract_bytes(rows, source_date=date))
    write_bytes(ws / "src" / "equipment.csv", equipment_bytes(eq, source_date=date))


def test_first_refresh_over_http_then_unchanged(tmp_path):
    est, eq = extract_bytes(ROWS), equipment_bytes(EQ)
    src = tmp_path / "files"
    deps = write_departments(src / "deps.geojson").read_bytes()
    terr = write_territories(src / "terr.csv").read_bytes()
    with LocalServer() as srv:
        urls = {
            "establishments": srv.route("/cs1100507.csv", est, mode="drop_once"),
            "equipment": srv.route("/cs1100505.csv", eq),
            "departments": srv.route("/departements.geojson", deps, content_type="application/json"),
            "territories": srv.route("/territoires.csv", terr),
        }
        cfg_path = tmp_path / "refresh.toml"
        cfg_path.write_text(
            "[sources]\n" + "".join(f'{k} = "{v}"\n' for k, v in urls.items())
            + '[download]\nbackoff_s = 0.001\n[store]\ncurrent = "out/dac_map.gpkg"\n',
            encoding="utf-8")
        cfg = load_config(cfg_path)
        result = refresh(cfg)
        result.raise_for_status()
        again = refresh(cfg)
    current = tmp_path / "out" / "dac_map.gpkg"
    assert (result.status, result.exit_code, again.status, again.exit_code) == (
        "ok", 0, "unchanged", 0)
    assert result.sources["establishments"]["resumed"] is True
    assert result.counts["establishments"] == 40 and result.counts["equipment_lines"] == 20
    assert result.previous_version is None and result.changes_total == 0
    assert [c["ok"] for c in result.checks] == [True] * len(result.checks)
    # The raw files are the downloaded ones, promoted after the swap.
    raw = tmp_path / "out" / "raw"
    assert (raw / "establishments.csv").read_bytes() == est
    assert (raw / "departments.geojson").read_bytes() == deps
    # The store carries its (empty) change table and the refresh metadata.
    assert CHANGES_LAYER in store.open_store(current).layers()
    assert len(load_latest_changes(current)) == 0
    meta = store.open_store(current).read_metadata()
    assert meta["refresh_version"] == result.version
    assert meta["refresh_sources"]["establishments"] == urls["establishments"]
    assert meta["refresh_inputs"]["establishments"] == hashlib.sha256(est).hexdigest()
    assert meta["previous_version"] is None and meta["changes_total"] == 0
    versions = sorted(p.name for p in (tmp_path / "out" / "versions").glob("dac_map-*.gpkg"))
    assert versions == [f"{result.version}.gpkg"]
    assert _sha(current) == _sha(tmp_path / "out" / "versions" / versions[0])
    log = [json.loads(ln) for ln in (tmp_path / "out" / "refresh.log.jsonl").read_text().splitlines()]
    assert [(e["status"], e["exit_code"]) for e in log] == [("ok", 0), ("unchanged", 0)]
    assert log[0]["version"] == result.version and log[0]["changes"]["opened"] == 0
    assert {"time", "finished", "duration_s", "counts", "checks", "sources", "messages"} <= set(log[0])


def test_changes_are_reported_and_stored_in_the_new_version(ws):
    first = _versions(ws)[0][:-len(".gpkg")]
    rows = [dataclasses.replace(ROWS[0], name="EHPAD RENOMMÉ <b>")] + ROWS[2:] + [
        Est("460009999", "NOUVEAU SSIAD", "354", "Service de Soins Infirmiers A Domicile (S.S.I.A.D)",
            "46", "102", "46100 FIGEAC", 624000.0, 6391000.0)]
    _set_rows(ws, rows)
    result = refresh(load_config(_write_config(ws)))
    result.raise_for_status()
    assert result.changes == {"opened": 1, "closed": 1, "moved": 0, "renamed": 1, "category": 0,
                              "phone": 0, "capacity": 0}
    assert result.previous_version == first
    current = ws / "build" / "dac_map.gpkg"
    changes = load_latest_changes(current)
    assert changes[["finess", "change", "dac_id"]].values.tolist() == [
        ["460009999", "opened", "DAC-46"], [ROWS[1].finess, "closed", "DAC-46"],
        [ROWS[0].finess, "renamed", "DAC-80"]]
    summary = load_change_summary(current)
    assert summary["previous_version"] == first and summary["changes_total"] == 3
    assert summary["source_date"] == "2021-02-05" and summary["previous_source_date"] == "2021-01-08"
    assert summary["changes_by_territory"] == {"DAC-46": {"opened": 1, "closed": 1},
                                               "DAC-80": {"renamed": 1}}
    for kind in ("md", "html", "csv"):
        path = Path(result.reports[kind])
        assert path.name == f"{result.version}.changements.{kind}" and path.is_file()
    assert "&lt;b&gt;" in Path(result.reports["html"]).read_text(encoding="utf-8")
    assert _versions(ws) == [f"{first}.gpkg", f"{result.version}.gpkg"]
    _no_temp_files(ws)


def test_half_the_rows_is_refused_by_the_tolerance_check(ws):
    before = _snapshot(ws)
    _set_rows(ws, SOMME[:10] + LOT[:10])  # 20 of 40 establishments
    cfg = load_config(_write_config(ws))
    result = refresh(cfg)
    assert (result.status, result.exit_code) == ("refused", 5)
    assert _snapshot(ws) == before  # current store, raw files and versions byte-identical
    _no_temp_files(ws)
    failed = {c["name"] for c in result.checks if not c["ok"]}
    assert "rows:etablissements" in failed and "rows:equipements" in failed
    assert "-50.0%" in result.error["message"]
    refused = ws / "build" / "versions" / "refused" / "changements.csv"
    assert Path(result.reports["csv"]) == refused
    assert result.changes["closed"] == 20
    assert _log(ws)[-1]["status"] == "refused" and _log(ws)[-1]["exit_code"] == 5
    with pytest.raises(Exception) as info:
        result.raise_for_status()
    assert info.value.exit_code == 5

    forced = refresh(cfg, force=True)  # the steward checked the extract: accept it
    assert (forced.status, forced.exit_code) == ("ok", 0)
    assert store.open_store(ws / "build" / "dac_map.gpkg").read_metadata()["refresh_forced"] is True
    assert any("--force" in m for m in forced.messages)


@pytest.mark.parametrize("validation,rows,failing", [
    ("row_tolerance = 0.9\nterritory_row_tolerance = 1.0", SOMME, "territories"),
    ("", ROWS + [Est("800099999", "INCONNU", "999", "Catégorie inconnue", "80", "021",
                     "80000 AMIENS", 649000.0, 6978000.0)], "families"),
    ("", [dataclasses.replace(r, x=None, y=None) if i % 3 == 0 else r for i, r in enumerate(ROWS)],
     "geolocated"),
    ("row_tolerance = 0.2\nterritory_row_tolerance = 0.2", SOMME + LOT[:14],
     "rows:territoire:DAC-46"),
], ids=["territory-emptied", "category-without-family", "not-geolocated", "territory-shrank"])
def test_other_validation_checks(ws, validation, rows, failing):
    before = _snapshot(ws)
    _set_rows(ws, rows)
    result = refresh(load_config(_write_config(ws, validation)))
    assert (result.status, result.exit_code) == ("refused", 5), result.checks
    assert failing in {c["name"] for c in result.checks if not c["ok"]}
    assert _snapshot(ws) == before


def test_dry_run_changes_nothing(ws):
    before = _snapshot(ws)
    _set_rows(ws, ROWS[1:])
    result = refresh(load_config(_write_config(ws)), dry_run=True)
    assert (result.status, result.exit_code, result.changes["closed"]) == ("dry-run", 0, 1)
    assert _snapshot(ws) == before
    assert Path(result.reports["md"]) == ws / "build" / "versions" / "dry-run" / "changements.md"
    assert "Fermeture (1)" in Path(result.reports["md"]).read_text(encoding="utf-8")
    _no_temp_files(ws)
    assert _log(ws)[-1]["dry_run"] is True


def test_crash_between_write_and_swap_keeps_the_previous_data(ws, monkeypatch):
    before = _snapshot(ws)
    current = ws / "build" / "dac_map.gpkg"
    _set_rows(ws, ROWS[1:])
    cfg = load_config(_write_config(ws))
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(dst) == current:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    result = refresh(cfg)
    assert (result.status, result.exit_code) == ("failed", 6)
    assert "No space left" in result.error["message"]
    assert _snapshot(ws) == before
    _no_temp_files(ws)

    monkeypatch.setattr(os, "replace", real_replace)

    def crash(version, target):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(stages, "swap_in", crash)
    result = refresh(cfg)
    assert (result.status, result.exit_code) == ("failed", 1)
    assert "traceback" in result.error
    assert _snapshot(ws) == before
    _no_temp_files(ws)


def test_hard_crash_leaves_data_intact_and_the_next_run_cleans_up(ws):
    before = _snapshot(ws)
    _set_rows(ws, ROWS[1:])
    script = textwrap.dedent(f"""
        import os
        from dac_map.refresh import pipeline, stages
        from dac_map.refresh.config import load_config
        def crash(*args, **kwargs):
            os._exit(9)   # killed after the new GeoPackage is written, before the swap
        stages.write_changes_layer = crash
        pipeline.refresh(load_config({str(ws / 'refresh.toml')!r}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert _snapshot(ws) == before
    leftovers = list((ws / "build" / "versions").glob(".staging-*.gpkg"))
    assert leftovers  # what the crash left behind
    result = refresh(load_config(ws / "refresh.toml"))  # the lock died with the process
    result.raise_for_status()
    assert any("interrompue" in m for m in result.messages)
    assert not any(p.exists() for p in leftovers)
    _no_temp_files(ws)
    assert result.changes["closed"] == 1


def test_concurrent_refresh_is_refused(ws):
    before = _snapshot(ws)
    cfg = load_config(ws / "refresh.toml")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from dac_map.refresh.lock import RefreshLock
            with RefreshLock({str(cfg.store.lock_file)!r}):
                print("locked", flush=True)
                sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = refresh(cfg)
        assert (result.status, result.exit_code) == ("locked", 7)
        assert f"pid {holder.pid}" in result.error["message"]
    finally:
        holder.communicate("\n", timeout=30)
    assert _snapshot(ws) == before
    assert _log(ws)[-1]["status"] == "locked"
    # Same process, another thread or handle: refused too; free again once released.
    with RefreshLock(cfg.store.lock_file):
        with pytest.raises(LockedError):
            RefreshLock(cfg.store.lock_file).acquire()
        assert refresh(cfg).exit_code == 7
    assert refresh(cfg).status == "unchanged"


def test_failed_download_keeps_the_current_data(ws):
    before = _snapshot(ws)
    (ws / "src" / "equipment.csv").write_bytes(
        b"<!DOCTYPE html><html><body>Erreur 500</body></html>\n")
    result = refresh(load_config(ws / "refresh.toml"))
    assert (result.status, result.exit_code) == ("failed", 4)
    assert "equipment" in result.error["message"]
    assert _snapshot(ws) == before
    _no_temp_files(ws)
    (ws / "src" / "equipment.csv").unlink()
    assert refresh(load_config(ws / "refresh.toml")).exit_code == 3


def test_archive_prune_list_and_rollback(tmp_path, baseline):
    ws = tmp_path / "ws"
    shutil.copytree(baseline, ws, ignore=shutil.ignore_patterns("build"))
    current = ws / "build" / "dac_map.gpkg"
    # A store built by `dac-map etl`: not a kept version, archived before being replaced.
    run_etl(EtlInputs(establishments=ws / "src" / "establishments.csv",
                      departments=ws / "src" / "departments.geojson",
                      territories=ws / "src" / "territories.csv"), current)
    manual = _sha(current)
    cfg = load_config(_write_config(ws, keep=2))
    first = refresh(cfg)
    first.raise_for_status()
    archives = list((ws / "build" / "versions").glob("*-archive.gpkg"))
    assert len(archives) == 1 and _sha(archives[0]) == manual
    assert first.changes["capacity"] == 0  # the manual store had no equipment: not compared
    second = refresh(cfg, rebuild=True)
    third = refresh(cfg, rebuild=True)
    assert second.pruned == [archives[0].name[:-len(".gpkg")]] and third.pruned == [first.version]
    assert _versions(ws) == [f"{second.version}.gpkg", f"{third.version}.gpkg"]
    listed = list_versions(cfg)
    assert [(v["version"], v["current"]) for v in listed] == [(third.version, True),
                                                              (second.version, False)]
    back = rollback(cfg, second.version)
    assert (back.status, back.exit_code) == ("rollback", 0)
    assert store.open_store(current).read_metadata()["refresh_version"] == second.version
    assert rollback(cfg, "dac_map-19990101T000000Z").exit_code == 6
    assert [e["status"] for e in _log(ws)][-2:] == ["rollback", "failed"]
    # The rolled-back data is not served again by the next (cron) run...
    _set_rows(ws, ROWS[1:])
    held = refresh(cfg)
    assert (held.status, held.exit_code) == ("held", 0) and second.version in held.messages[0]
    assert refresh(cfg, dry_run=True).status == "dry-run"  # previews still run
    assert store.open_store(current).read_metadata()["refresh_version"] == second.version
    # ... until the steward releases the hold.
    released = refresh(cfg, release=True)
    assert (released.status, released.changes["closed"]) == ("ok", 1)
    assert refresh(cfg).status == "unchanged"


def test_store_layers_and_metadata_after_a_refresh(baseline):
    current = baseline / "build" / "dac_map.gpkg"
    layers = set(store.open_store(current).layers())
    assert {"etablissements", "equipements", "territoires", "metadata", CHANGES_LAYER} <= layers
    meta = store.open_store(current).read_metadata()
    assert [c["name"] for c in meta["validation_checks"]] == [
        "rows:etablissements", "geolocated", "territories", "families"]
    est = store.open_store(current).read_layer(store.ESTABLISHMENTS)
    assert isinstance(est, pd.DataFrame) and len(est) == 40
