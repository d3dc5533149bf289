"""data·inclusion as a configured refresh source: imported into each new version, the local
table survives refreshes, a bad file refuses the version and the served store is untouched."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from dac_map import settings, store
from dac_map.inclusion.resources import RESOURCES_LAYER
from dac_map.refresh.config import load_config
from dac_map.refresh.pipeline import refresh
from dac_map.testing.refresh import (equipment_bytes, extract_bytes, sample_rows, write_bytes,
                                     write_departments, write_territories)

ROWS = sample_rows(20)
DEMO_LOCAL = settings.DATA_DIR / "inclusion" / "DEMO-FICTIF_ressources_locales_80_46.csv"
CONFIG = """\
[sources]
establishments = "src/establishments.csv"
departments = "src/departments.geojson"
territories = "src/territories.csv"
inclusion_local = "src/locales.csv"
{extra}

[download]
retries = 1
backoff_s = 0.001

[store]
current = "build/dac_map.gpkg"
"""


def _ids(path: Path) -> set[str]:
    return set(store.open_store(path).read_layer(RESOURCES_LAYER, read_geometry=False)["resource_id"])


@pytest.fixture
def ws(tmp_path, inclusion_v1):
    _, services = inclusion_v1
    write_bytes(tmp_path / "src" / "establishments.csv", extract_bytes(ROWS))
    write_departments(tmp_path / "src" / "departments.geojson")
    write_territories(tmp_path / "src" / "territories.csv")
    shutil.copyfile(DEMO_LOCAL, tmp_path / "src" / "locales.csv")
    (tmp_path / "src" / "services.json").write_text(json.dumps(services), encoding="utf-8")
    return tmp_path


def _config(ws: Path, extra: str = "") -> Path:
    path = ws / "refresh.toml"
    path.write_text(CONFIG.format(extra=extra), encoding="utf-8")
    return path


def test_sources_imported_and_local_table_survives(ws, inclusion_v1):
    _, services = inclusion_v1
    result = refresh(load_config(_config(ws, 'inclusion_services = "src/services.json"')))
    result.raise_for_status()
    current = ws / "build" / "dac_map.gpkg"
    local_ids = {f"local:demo-{x}" for x in ("80-alz", "80-diab", "80-aidants", "80-addict", "46-alz",
                                              "46-parkinson", "46-cancer", "46-mobilite")}
    assert _ids(current) == {f"di:{s['id']}" for s in services} | local_ids
    assert any("ressources sociales" in m for m in result.messages)
    # the next refresh without data·inclusion source keeps the served data·inclusion resources
    write_bytes(ws / "src" / "establishments.csv", extract_bytes(ROWS[:-1], source_date="2021-02-05"))
    refresh(load_config(_config(ws))).raise_for_status()
    assert _ids(current) == {f"di:{s['id']}" for s in services} | local_ids


def test_bad_data_inclusion_file_refuses_the_version(ws, inclusion_v1):
    _, services = inclusion_v1
    refresh(load_config(_config(ws))).raise_for_status()
    current = ws / "build" / "dac_map.gpkg"
    before = hashlib.sha256(current.read_bytes()).hexdigest()
    bad = [{**s, "date_maj": "2999-01-01"} for s in services] * 3
    (ws / "src" / "services.json").write_text(json.dumps(bad), encoding="utf-8")
    write_bytes(ws / "src" / "establishments.csv", extract_bytes(ROWS[:-1], source_date="2021-02-05"))
    result = refresh(load_config(_config(ws, 'inclusion_services = "src/services.json"')))
    assert result.exit_code == 5 and result.status in ("refused", "failed")
    assert hashlib.sha256(current.read_bytes()).hexdigest() == before
    (ws / "src" / "services.json").write_text("<html>erreur</html>", encoding="utf-8")
    result = refresh(load_config(_config(ws, 'inclusion_services = "src/services.json"')))
    assert result.exit_code in (3, 4)
    assert hashlib.sha256(current.read_bytes()).hexdigest() == before


def test_stewards_decisions_applied_by_the_refresh(ws, monkeypatch):
    """A link a steward imposed on the stewards' page (decisions table of the current mode) is
    applied by the next refresh; taking it back undoes it at the following one."""
    from dac_map.inclusion import dedup
    from dac_map.server import auth

    path = ws / "decisions.csv"
    monkeypatch.setattr(settings, "INCLUSION_OVERRIDES", path)
    table = dedup.decisions_store()
    finess = ROWS[2].finess
    dedup.save_decisions(table, table.snapshot(), [{"resource_id": "local:demo-80-alz", "finess": finess,
                                                    "decision": "lier", "motif": "même association"}],
                         auth.LOCAL, author="Référente A")
    refresh(load_config(_config(ws))).raise_for_status()
    current = ws / "build" / "dac_map.gpkg"
    res = store.open_store(current).read_layer(RESOURCES_LAYER, read_geometry=False).set_index("resource_id")
    assert res.loc["local:demo-80-alz", "finess"] == finess
    assert res.loc["local:demo-80-alz", "sources_label"].endswith(f"+ FINESS {finess}")
    matches = store.open_store(current).read_layer("correspondances_finess", read_geometry=False)
    assert matches[["resource_id", "finess", "method"]].values.tolist() == [["local:demo-80-alz", finess, "manuel"]]
    dedup.save_decisions(table, table.snapshot(), [], auth.LOCAL, author="Référente A")
    write_bytes(ws / "src" / "establishments.csv", extract_bytes(ROWS[:-1], source_date="2021-02-05"))
    refresh(load_config(_config(ws))).raise_for_status()
    res = store.open_store(current).read_layer(RESOURCES_LAYER, read_geometry=False).set_index("resource_id")
    assert "FINESS" not in res.loc["local:demo-80-alz", "sources_label"]
