"""The refresh configuration: defaults, relative paths, clear errors, shipped examples."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dac_map import settings, store
from dac_map.errors import InputMissingError
from dac_map.refresh.config import (
    KIND_BOUNDARIES,
    KIND_FINESS_ESTABLISHMENTS,
    ConfigError,
    Source,
    load_config,
)
from dac_map.refresh.pipeline import refresh

MINIMAL = '[sources]\nestablishments = "in/cs1100507.csv"\ndepartments = "https://example.org/r/abc"\n'


def _write(tmp_path, text, name="refresh.toml"):
    path = tmp_path / "conf" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config_and_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, MINIMAL + '[store]\ncurrent = "../build/x.gpkg"\n'))
    conf = tmp_path / "conf"
    assert cfg.sources.establishments == Source(
        "establishments", str(conf / "in" / "cs1100507.csv"), KIND_FINESS_ESTABLISHMENTS,
        "establishments.csv")
    assert cfg.sources.departments == Source("departments", "https://example.org/r/abc",
                                             KIND_BOUNDARIES, "departments.geojson")
    assert cfg.sources.equipment is None and cfg.sources.communes == ()
    assert [s.name for s in cfg.sources.all()] == ["establishments", "departments"]
    build = tmp_path / "build"
    assert cfg.store.current == build / "x.gpkg"
    assert (cfg.store.versions_dir, cfg.store.keep, cfg.store.log_file, cfg.store.lock_file) == (
        build / "versions", 5, build / "refresh.log.jsonl", build / "x.gpkg.lock")
    assert cfg.download.raw_dir == build / "raw"
    assert (cfg.validation.row_tolerance, cfg.validation.territories_required) == (0.10, "previous")
    assert cfg.report.moved_threshold_m == 100.0
    default_store = load_config(_write(tmp_path, MINIMAL, "b.toml")).store.current
    assert default_store == settings.STORE_PATH


def test_full_config(tmp_path):
    cfg = load_config(_write(tmp_path, MINIMAL + """
equipment = "/abs/cs1100505.csv.gz"
communes = ["a.geojson", "https://example.org/communes-46.json"]
territories = "t.csv"
[download]
raw_dir = "raw"
retries = 0
backoff_s = 0.5
[validation]
row_tolerance = 0.2
territories_required = ["DAC-80", "DAC-46"]
require_families = false
[report]
moved_threshold_m = 250
"""))
    assert cfg.sources.equipment.location == "/abs/cs1100505.csv.gz"
    assert cfg.sources.equipment.raw_name == "equipment.csv.gz"
    assert [(s.name, s.raw_name) for s in cfg.sources.communes] == [
        ("communes-1", "communes-1.geojson"), ("communes-2", "communes-2.json")]
    assert cfg.download.raw_dir == tmp_path / "conf" / "raw" and cfg.download.retries == 0
    assert cfg.validation.territories_required == ("DAC-80", "DAC-46")
    assert cfg.validation.require_families is False and cfg.report.moved_threshold_m == 250.0


def test_documented_validation_and_report_defaults(tmp_path):
    """The defaults written in the module's example configuration are the ones applied, with
    the documented type (integers stay integers)."""
    import re
    import tomllib

    from dac_map.refresh import config

    doc = config.__doc__
    example = {}
    for section in ("validation", "report"):
        block = re.search(rf"\[{section}\]\n(.*?)(?:\n\s*\n|\Z)", doc, re.S).group(1)
        example[section] = tomllib.loads("\n".join(line.split("#")[0] for line in block.splitlines()))
    cfg = load_config(_write(tmp_path, MINIMAL))
    got = {"validation": dataclasses.asdict(cfg.validation), "report": dataclasses.asdict(cfg.report)}
    assert got == example
    assert [type(v) for v in got["validation"].values()] == [type(v) for v in example["validation"].values()]


@pytest.mark.parametrize("text,field,match", [
    ("[sources]\ndepartments = 'd.geojson'\n", "[sources] establishments", "required"),
    (MINIMAL + "[validation]\nrow_tolerence = 0.1\n", "[validation] row_tolerence", "unknown key"),
    (MINIMAL + "[validation]\nrow_tolerance = 1.5\n", "[validation] row_tolerance", "between 0"),
    (MINIMAL + "[validation]\nrow_tolerance = '10%'\n", "[validation] row_tolerance", "a number"),
    (MINIMAL + "[validation]\nterritories_required = 'some'\n",
     "[validation] territories_required", '"previous"'),
    (MINIMAL + "[store]\nkeep = 0\n", "[store] keep", ">= 1"),
    (MINIMAL + "[store]\nkeep = true\n", "[store] keep", "an integer"),
    (MINIMAL + "[store]\ncurrent = 'b/x.gpkg'\nversions_dir = 'b'\n", "[store] versions_dir",
     "must not be"),
    (MINIMAL + "[validation]\nrequire_families = 'yes'\n", "[validation] require_families",
     "true or false"),
    (MINIMAL + "[validation]\nterritory_min_rows = 2.5\n", "[validation] territory_min_rows",
     "an integer"),
    (MINIMAL + "[validation]\nidentity_min_count = -1\n", "[validation] identity_min_count", ">= 0"),
    (MINIMAL + "[validation]\nmax_vanished_share = 1.01\n", "[validation] max_vanished_share",
     "between 0 and 1"),
    (MINIMAL + "[report]\nmoved_threshold_m = -5\n", "[report] moved_threshold_m", ">= 0"),
    (MINIMAL + "communes = 3\n", "[sources] communes", "list"),
    ("[sources]\nestablishments = 'ftp://x/y.csv'\ndepartments = 'd'\n",
     "[sources] establishments", "scheme"),
    (MINIMAL + "[stores]\n", "[stores]", "unknown section"),
    ("[download]\n", "[sources]", "missing section"),
])
def test_errors_name_the_file_and_the_key(tmp_path, text, field, match):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path)
    assert info.value.field == field and info.value.path == str(path)
    assert info.value.exit_code == 4
    assert str(path) in str(info.value) and field in str(info.value)


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="invalid TOML") as info:
        load_config(_write(tmp_path, "[sources\nx = 1\n"))
    assert "line 1" in str(info.value)
    with pytest.raises(InputMissingError, match="refresh.example.toml") as missing:
        load_config(tmp_path / "absent.toml")
    assert missing.value.exit_code == 3


def test_shipped_example_config():
    cfg = load_config(settings.PROJECT_DIR / "refresh.example.toml")
    assert cfg.sources.establishments.location == (
        "https://www.data.gouv.fr/fr/datasets/r/98f3161f-79ff-4f16-8f6a-6d571a80fea2")
    assert cfg.sources.departments.is_url and len(cfg.sources.communes) == 2
    assert cfg.sources.territories.location == str(
        settings.PROJECT_DIR / "data" / "reference" / "territoires_dac.csv")
    assert cfg.store.current == settings.PROJECT_DIR / "data" / "build" / "dac_map.gpkg"


def test_demo_config_refreshes_offline(tmp_path):
    """The shipped demo configuration, with its store redirected to a temporary folder."""
    cfg = load_config(settings.DATA_DIR / "refresh-demo.toml")
    assert all(not s.is_url for s in cfg.sources.all())
    assert all(Path(s.location).is_file() for s in cfg.sources.all())
    cfg = dataclasses.replace(
        cfg, download=dataclasses.replace(cfg.download, raw_dir=tmp_path / "raw"),
        store=dataclasses.replace(cfg.store, current=tmp_path / "dac_map.gpkg",
                                  versions_dir=tmp_path / "versions",
                                  log_file=tmp_path / "log.jsonl", lock_file=tmp_path / "lock"))
    result = refresh(cfg)
    result.raise_for_status()
    assert result.counts["establishments"] == 1285
    assert all(c["ok"] for c in result.checks)
    assert store.open_store(tmp_path / "dac_map.gpkg").read_metadata()["refresh_version"] == result.version
    assert refresh(cfg).status == "unchanged"
