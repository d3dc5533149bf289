"""The refresh with FINESS+ flows as sources (local paths): config, head checks, and the change
report on activities, capacities and zones (expected changes are the edits the test makes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dac_map.cli import DEMO_AIN_COMMUNES, DEMO_DEPARTMENTS
from dac_map.refresh.config import ConfigError, load_config
from dac_map.refresh.diff import load_latest_changes
from dac_map.refresh.pipeline import refresh

CONFIG = """\
[sources]
finess_plus_structures = "src/structures.json"
finess_plus_activites = "src/activites.json"
departments = "src/departements.geojson"
communes = ["src/communes-01.geojson"]

[download]
retries = 1
backoff_s = 0.001

[validation]
min_geolocated_share = 0.0
territories_required = "none"

[store]
current = "build/dac_map.gpkg"
keep = 3
"""


@pytest.fixture
def ws(tmp_path, fp_paths) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(fp_paths[0], src / "structures.json")
    shutil.copy(fp_paths[1], src / "activites.json")
    shutil.copy(DEMO_DEPARTMENTS, src / "departements.geojson")
    shutil.copy(DEMO_AIN_COMMUNES, src / "communes-01.geojson")
    (tmp_path / "refresh.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def test_config_accepts_finess_plus_without_etalab(ws):
    cfg = load_config(ws / "refresh.toml")
    assert cfg.sources.establishments is None
    assert [s.name for s in cfg.sources.all()][:2] == ["finess_plus_structures", "finess_plus_activites"]
    (ws / "bad.toml").write_text(CONFIG.replace('finess_plus_structures = "src/structures.json"\n', "")
                                 .replace('finess_plus_activites = "src/activites.json"\n', ""), encoding="utf-8")
    with pytest.raises(ConfigError, match="establishments"):
        load_config(ws / "bad.toml")


def test_a_wrong_flow_is_refused_before_anything_changes(ws):
    shutil.copy(ws / "src" / "structures.json", ws / "src" / "activites.json")  # Structures as Activités
    result = refresh(load_config(ws / "refresh.toml"))
    assert result.exit_code == 4
    assert not (ws / "build" / "dac_map.gpkg").exists()
    assert "pas un flux FINESS+ Activités" in json.dumps(result.as_dict(), ensure_ascii=False)


def test_changes_on_activities_zones_and_capacities(ws):
    first = refresh(load_config(ws / "refresh.toml"))
    first.raise_for_status()
    path = ws / "src" / "activites.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    pm = {p["numFiness"]: p for p in doc["pmej"]}
    # 010000628: the 64-commune zone of type 1494 loses 01451; the 4-commune zone of 1498 gains 01283
    z1494 = next(a for a in pm["010000628"]["activitesAutorisees"]
                 if a["caracteristiquesGeneriques"]["typeActiviteSMSSE"] == "1494")["zoneIntervention"]
    z1494["communeZI"] = [c for c in z1494["communeZI"] if c["commune"] != "01451"]
    z1498 = next(a for a in pm["010000628"]["activitesAutorisees"]
                 if a["caracteristiquesGeneriques"]["typeActiviteSMSSE"] == "1498")["zoneIntervention"]
    z1498["communeZI"].append({"commune": "01283"})
    # 010784817's SSIAD 1514: 118 -> 120 installed places; 010006401's AMM activity closes
    ege = pm["010000628"]["ege"][0]
    act = next(a for a in ege["activitesExercees"] if a["caracteristiquesGeneriques"]["typeActiviteSMSSE"] == "1514")
    for c in act["capacite"]:
        if c["statutCapacite"] == "08":
            c["nombre"] = "120"
    amm = next(a for e in pm["010000339"]["ege"] if e["numFinessEge"] == "010006401"
               for a in e["activitesExercees"] if a["nature"]["codeNature"] == "AMM")
    amm["caracteristiquesGeneriques"]["etatObjet"] = "I"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    second = refresh(load_config(ws / "refresh.toml"))
    second.raise_for_status()
    assert {k: v for k, v in second.changes.items() if k.startswith(("activity", "zone"))} == {
        "activity_closed": 1, "zone_extended": 1, "zone_reduced": 1, "activity_capacity": 1,
        "activity_opened": 0}
    rows = load_latest_changes(ws / "build" / "dac_map.gpkg")
    got = {(r.finess, r.change) for r in rows.itertuples()}
    assert got >= {("010784817", "zone_reduced"), ("010784817", "zone_extended"),
                   ("010784817", "activity_capacity"), ("010006401", "activity_closed")}
    cap = rows[rows["change"] == "activity_capacity"].iloc[0]
    assert "118 installées" in cap["before"] and "120 installées" in cap["after"]
    red = rows[rows["change"] == "zone_reduced"].iloc[0]
    assert red["before"].endswith("64 communes") and "63 communes (− 01451)" == red["after"]


def test_head_check_refuses_html_as_a_flow(ws):
    (ws / "src" / "activites.json").write_text("<html><body>maintenance</body></html>", encoding="utf-8")
    result = refresh(load_config(ws / "refresh.toml"))
    assert result.exit_code == 4
    assert "HTML/XML page" in json.dumps(result.as_dict(), ensure_ascii=False)
    assert not (ws / "build" / "dac_map.gpkg").exists()
