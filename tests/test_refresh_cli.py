"""The `refresh` command registered on a local Typer app: exit codes, --json, --dry-run."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dac_map import settings, store
from dac_map.refresh.cli import register
from dac_map.refresh.config import load_config
from dac_map.refresh.lock import RefreshLock
from dac_map.testing.refresh import (
    extract_bytes,
    refresh_config,
    sample_rows,
    write_bytes,
    write_sources,
)

ROWS = sample_rows(15)
CONFIG = refresh_config('[store]\ncurrent = "build/dac_map.gpkg"\n', retries=0)


@pytest.fixture()
def app():
    app = typer.Typer()

    @app.command()
    def other() -> None:  # a second command, as in the real CLI
        pass

    register(app)
    return app


@pytest.fixture()
def ws(tmp_path):
    write_sources(tmp_path, ROWS, [(r.finess, "924", 40, 45) for r in ROWS[:10]])
    (tmp_path / "refresh.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def _run(app, *args):
    return CliRunner().invoke(app, ["refresh", *map(str, args)])


def test_refresh_json_then_unchanged_then_dry_run(app, ws):
    cfg = ws / "refresh.toml"
    first = _run(app, "--config", cfg, "--json", "--yes")
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert (data["status"], data["exit_code"], data["counts"]["establishments"]) == ("ok", 0, 30)
    assert data["version"].startswith("dac_map-")
    log = (ws / "build" / "refresh.log.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(log[-1]) == data

    second = _run(app, "--config", cfg, "--json")
    assert json.loads(second.stdout)["status"] == "unchanged" and second.exit_code == 0

    write_bytes(ws / "src" / "establishments.csv", extract_bytes(ROWS[:-1]))
    before = (ws / "build" / "dac_map.gpkg").read_bytes()
    dry = _run(app, "--config", cfg, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "essai à blanc" in dry.stdout and "Fermeture" in dry.stdout
    assert (ws / "build" / "dac_map.gpkg").read_bytes() == before

    listed = _run(app, "--config", cfg, "--list-versions", "--json")
    assert [v["current"] for v in json.loads(listed.stdout)] == [True]


def test_exit_codes(app, ws):
    cfg = ws / "refresh.toml"
    assert _run(app, "--config", ws / "absent.toml").exit_code == 3
    bad = ws / "bad.toml"
    bad.write_text(CONFIG + "[validation]\nrow_tolerance = 2\n", encoding="utf-8")
    result = _run(app, "--config", bad, "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["type"] == "ConfigError"
    assert "[validation] row_tolerance" in result.stderr

    assert _run(app, "--config", cfg, "--yes").exit_code == 0
    write_bytes(ws / "src" / "establishments.csv", extract_bytes(ROWS[:12]))  # 12 of 30
    refused = _run(app, "--config", cfg, "--json")
    assert refused.exit_code == 5 and json.loads(refused.stdout)["status"] == "refused"

    with RefreshLock(load_config(cfg).store.lock_file):
        locked = _run(app, "--config", cfg)
    assert locked.exit_code == 7 and "autre mise à jour" in locked.stderr

    (ws / "src" / "equipment.csv").write_bytes(b"<html><body>Not found</body></html>\n")
    assert _run(app, "--config", cfg).exit_code == 4
    (ws / "src" / "equipment.csv").unlink()
    assert _run(app, "--config", cfg).exit_code == 3

    assert _run(app, "--config", cfg, "--rollback", "dac_map-19990101T000000Z").exit_code == 6
    assert _run(app, "--config", cfg, "--unknown-option").exit_code == 2


def test_rollback_command(app, ws):
    cfg = ws / "refresh.toml"
    assert _run(app, "--config", cfg, "--yes").exit_code == 0
    first = store.open_store(ws / "build" / "dac_map.gpkg").read_metadata()["refresh_version"]
    assert _run(app, "--config", cfg, "--yes", "--rebuild").exit_code == 0
    back = _run(app, "--config", cfg, "--rollback", first, "--json")
    assert back.exit_code == 0 and json.loads(back.stdout)["status"] == "rollback"
    assert store.open_store(ws / "build" / "dac_map.gpkg").read_metadata()["refresh_version"] == first
    held = _run(app, "--config", cfg, "--json")
    assert held.exit_code == 0 and json.loads(held.stdout)["status"] == "held"
    released = _run(app, "--config", cfg, "--release", "--json")
    assert released.exit_code == 0 and json.loads(released.stdout)["status"] == "unchanged"
    assert not (ws / "build" / "versions" / "hold.json").exists()


def test_scripts_refresh_wrapper(ws):
    script = settings.PROJECT_DIR / "scripts" / "refresh"
    assert os.access(script, os.X_OK)
    proc = subprocess.run([str(script), "--config", str(ws / "refresh.toml"), "--json", "--yes"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "ok"
    assert Path(ws / "build" / "dac_map.gpkg").is_file()
