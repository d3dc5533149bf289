"""The data folder is a setting outside the package: a regular (non-editable) install — the
package copied into a site-packages folder — resolves every default path under ``./data`` of the
current directory (or DAC_MAP_DATA_DIR) and never writes into the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dac_map
from dac_map import settings

PROBE = r"""
import json, sys
from pathlib import Path
from dac_map import settings
from dac_map.etl import reference
from dac_map.refresh import config
from dac_map.coverage.unmet import record_unmet_need
paths = {name: str(value) for name, value in vars(settings).items()
         if name.isupper() and isinstance(value, Path) and name != "PACKAGE_DIR"}
paths["POPULATION_PATH"] = settings.POPULATION_PATH
paths.update({name: str(value) for name, value in vars(reference).items()
              if name.startswith("DEFAULT_") and isinstance(value, Path)})
paths["DEFAULT_CONFIG"] = str(config.DEFAULT_CONFIG)
# write with every default: the unmet-need log
record_unmet_need("DAC-80", None, {}, "Pas de SSIAD", "")
print(json.dumps({"package": str(Path(settings.__file__).resolve().parent), "paths": paths}))
"""


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if "__pycache__" not in p.parts}


def _run(site: Path, cwd: Path, env_extra: dict[str, str] | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAC_MAP_")}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1", **(env_extra or {}))
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The package as a regular install lays it out: site-packages/dac_map, no checkout around."""
    site = tmp_path_factory.mktemp("site-packages")
    shutil.copytree(Path(dac_map.__file__).parent, site / "dac_map",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return site


def test_regular_install_uses_the_current_directory(site, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    before = _tree(site)
    got = _run(site, work)
    package = Path(got["package"])
    assert package == (site / "dac_map").resolve()
    for name, value in got["paths"].items():
        p = Path(value).resolve()
        assert package not in p.parents and p != package, name
        assert site.resolve() not in p.parents, name
        if name == "PROJECT_DIR":
            assert p == work.resolve()
        elif name == "DATA_DIR":
            assert p == (work / "data").resolve()
        elif name != "DEFAULT_CONFIG":
            assert (work / "data").resolve() in p.parents, (name, value)
    assert Path(got["paths"]["DEFAULT_CONFIG"]) == (work / "refresh.toml").resolve()
    assert (work / "data" / "unmet_needs.sqlite").is_file()  # written in ./data
    assert _tree(site) == before  # nothing written into the package


def test_data_dir_setting_wins(site, tmp_path):
    work, data = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    got = _run(site, work, {"DAC_MAP_DATA_DIR": str(data)})
    assert Path(got["paths"]["UNMET_NEEDS_DB"]) == data / "unmet_needs.sqlite"
    assert Path(got["paths"]["STORE_PATH"]) == data / "build" / "dac_map.gpkg"
    assert (data / "unmet_needs.sqlite").is_file() and not (work / "data").exists()


def test_checkout_uses_its_own_data_folder():
    """`make install` is an editable install of the checkout: data/ beside the package."""
    root = Path(dac_map.__file__).resolve().parent.parent
    if "DAC_MAP_DATA_DIR" not in os.environ:
        assert settings.DATA_DIR == root / "data"
    assert settings.PACKAGE_DIR not in settings.DATA_DIR.parents
