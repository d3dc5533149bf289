"""FINESS+ model, ETL, catalogue index and filters on the real Ain example. Expected values
are computed here from a plain ``json.load`` of the raw files (brute force), or from other
files (the independently derived TRE_R392 table, the Ain commune outlines)."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest

from dac_map.cli import DEMO_AIN_COMMUNES, DEMO_DEPARTMENTS, DEMO_ESTABLISHMENTS
from dac_map.errors import InputFormatError
from dac_map.etl import EtlInputs, run_etl
from dac_map.finess_plus.coverage import zone_coverage
from dac_map.query import (
    ActivityCapacityFilter,
    ActivityTypeFilter,
    ServesCommuneFilter,
    StatusFilter,
    load_catalogue,
    search,
)

FIXTURES = Path(__file__).parent / "fixtures" / "finess_plus"


def _raw(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _active(a: dict, as_of: str) -> bool:
    g = a["caracteristiquesGeneriques"]
    end = g.get("dateFinEffectiveActivite")
    return g["etatObjet"] == "A" and not (end and end <= as_of)


@pytest.fixture(scope="module")
def raw(fp_paths):
    return _raw(fp_paths[0]), _raw(fp_paths[1])


# --------------------------------------------------------------------------- labels

def test_type_keys_match_the_independently_derived_r392_table(fp_catalogue):
    with open(FIXTURES / "TRE_R392_derive-exemple-activites.csv", encoding="utf-8") as f:
        derived = {r["code"]: r["libelle"] for r in csv.DictReader(f, delimiter=";")}
    a = pd.concat([fp_catalogue.finess_plus.activities])
    ours = dict(zip(a["type_code"], a["type_key"]))
    assert ours and {c: derived[c] for c in ours} == ours


def test_labels_are_derived_exactly_where_r392_has_no_entry(fp_build):
    _, store = fp_build
    acts = pyogrio.read_dataframe(store, layer="activites")
    with open(Path(__file__).parents[1] / "data" / "nomenclatures" / "ans_tre" /
              "TRE_R392_type-act-smsse-regulee_PARTIEL.csv", encoding="utf-8") as f:
        known = {r["code"] for r in csv.DictReader(f, delimiter=";")}
    derived = dict(zip(acts["type_code"], acts["type_label_derived"].astype(bool)))
    assert {c for c, d in derived.items() if not d} == set(derived) & known == \
        {"178", "3117", "3120", "3125", "3126", "3129"}
    ssiad = acts[acts["component_1"] == "358"]
    assert set(ssiad["activity_label"]) == {"Soins infirmiers à Domicile"}
    assert set(acts.loc[acts["public_code"] == "436", "public_label"]) == {"Personnes Alzheimer ou maladies apparentées"}


# --------------------------------------------------------------------------- establishments

def test_positions_agree_with_the_wgs84_pair_and_swapped_lambert93(raw, fp_catalogue):
    structures, _ = raw
    cat = fp_catalogue
    to_l93 = pyproj.Transformer.from_crs(4326, 2154, always_xy=True)
    checked = 0
    for p in structures["pmej"]:
        for e in p["ege"]:
            fin = e["informationsGeneralesEGE"]["numFinessEge"]
            i = cat.finess_row[fin]
            geo = (e["adresse"][0].get("coordonneesGeographique") or {})
            if "directionLatitude" not in geo:
                continue
            lat, lon = float(geo["directionLatitude"]), float(geo["directionLongitude"])
            assert abs(cat.lat[i] - lat) < 1e-4 and abs(cat.lon[i] - lon) < 1e-4
            # metric pair = (coordonneeY, coordonneeX): the flow swaps the axes
            assert (cat.x_m[i], cat.y_m[i]) == pytest.approx(
                (float(geo["coordonneeY"]), float(geo["coordonneeX"])), abs=0.01)
            x, y = to_l93.transform(lon, lat)
            assert math.hypot(x - cat.x_m[i], y - cat.y_m[i]) < 1.0
            checked += 1
    assert checked == 18


def test_closed_kept_and_flagged_and_addresses_without_coordinates(raw, fp_build):
    structures, _ = raw
    _, store = fp_build
    est = pyogrio.read_dataframe(store, layer="etablissements")
    fp = est[est["source"] == "finess_plus"].set_index("finess")
    for p in structures["pmej"]:
        for e in p["ege"]:
            info = e["informationsGeneralesEGE"]
            closed = e["etatObjet"] != "A" or "dateFermeture" in info
            row = fp.loc[info["numFinessEge"]]
            assert (row["status"] == "fermé") == closed
            has_xy = "coordonneesGeographique" in e["adresse"][0]
            commune = e["adresse"][0]["cogCommune"]
            expected = "adresse" if has_xy else ("commune" if commune.startswith("01") else "aucune")
            assert row["geo_precision"] == expected, info["numFinessEge"]
    assert (fp["status"] == "fermé").sum() == 12


def test_establishments_known_only_from_activites_are_kept_without_position(raw, fp_build):
    structures, activites = raw
    report, store = fp_build
    est = pyogrio.read_dataframe(store, layer="etablissements")
    s_fin = {e["informationsGeneralesEGE"]["numFinessEge"] for p in structures["pmej"] for e in p["ege"]}
    a_fin = {e["numFinessEge"] for p in activites["pmej"] for e in p["ege"]}
    assert set(est["finess"]) == s_fin | a_fin
    stubs = est[est["source"] == "finess_plus_activites"]
    assert set(stubs["finess"]) == a_fin - s_fin and len(stubs) == 60
    assert stubs.geometry.isna().all() and (stubs["department"] == "01").all()
    assert report.finess_plus.counts["unknown_establishment"] == 60


# --------------------------------------------------------------------------- index and filters

def _expected_serving(structures: dict, activites: dict) -> dict[str, set[str]]:
    """commune -> FINESS numbers, brute force: an establishment serves the communes of its
    legal entity's zoned authorisation of the same type, when its own activity is active."""
    as_of = activites["generatedAt"][:10]
    out: dict[str, set[str]] = defaultdict(set)
    for p in activites["pmej"]:
        zones = {}
        for a in p["activitesAutorisees"]:
            z = a["zoneIntervention"]
            if z:
                zones.setdefault(a["caracteristiquesGeneriques"]["typeActiviteSMSSE"],
                                 [c["commune"] for c in z["communeZI"]])
        for e in p["ege"]:
            for a in e["activitesExercees"]:
                t = a["caracteristiquesGeneriques"]["typeActiviteSMSSE"]
                if t in zones and _active(a, as_of):
                    for c in zones[t]:
                        out[c].add(e["numFinessEge"])
    return out


def test_serves_commune_matches_brute_force_for_every_commune(raw, fp_catalogue):
    expected = _expected_serving(*raw)
    cat = fp_catalogue
    assert len(expected) > 50
    for commune in [*expected, "01999", "80021"]:
        f = ServesCommuneFilter(commune)
        got = set(cat.establishments.loc[f.mask(cat), "finess"])
        assert got == expected.get(commune, set()), commune
    assert ServesCommuneFilter("01451").describe(cat) == "Intervient à Viriat (01451)"
    assert ServesCommuneFilter("01451").label == "Intervient à 01451"


def test_activity_type_public_and_capacity_filters_match_brute_force(raw, fp_catalogue):
    _, activites = raw
    as_of = activites["generatedAt"][:10]
    cat = fp_catalogue
    ssiad, alzheimer, places = set(), set(), defaultdict(float)
    for p in activites["pmej"]:
        for e in p["ege"]:
            for a in e["activitesExercees"]:
                if not _active(a, as_of):
                    continue
                typ = next((v for k, v in a["nature"]["caracteristiquesSpecifiques"].items()
                            if k.startswith("typeActivite") and isinstance(v, dict)), {})
                if typ.get("activiteSocialeRegulee") == "358":
                    ssiad.add(e["numFinessEge"])
                    best: dict[str, float] = {}
                    for c in a["capacite"] or []:
                        if c["statutCapacite"] == "08" and c["uniteMesureCapacite"] in ("01", "02"):
                            best[c["uniteMesureCapacite"]] = max(best.get(c["uniteMesureCapacite"], 0),
                                                                 float(c["nombre"]))
                    places[e["numFinessEge"]] += sum(best.values())
                if typ.get("public") == "436":
                    alzheimer.add(e["numFinessEge"])
    finess = cat.establishments["finess"]
    assert set(finess[ActivityTypeFilter(("358",)).mask(cat)]) == ssiad and ssiad
    assert set(finess[ActivityTypeFilter(("soins infirmiers a domicile",)).mask(cat)]) >= ssiad
    assert set(finess[ActivityTypeFilter(publics=("436",)).mask(cat)]) == alzheimer
    assert set(finess[ActivityTypeFilter(publics=("alzheimer",)).mask(cat)]) == alzheimer
    f = ActivityCapacityFilter(40, activity=ActivityTypeFilter(("358",)))
    assert set(finess[f.mask(cat)]) == {k for k, v in places.items() if v >= 40}
    assert f.describe(cat).startswith("Capacité FINESS+ installée ≥ 40 places")


def test_search_combines_serving_with_other_filters(fp_catalogue):
    r = search(fp_catalogue, [StatusFilter(), ServesCommuneFilter("01053"), ActivityTypeFilter(("358",))])
    assert r.labels[1:] == ["Intervient à Bourg-en-Bresse (01053)", "Activité : 358"]
    assert len(r.records) > 0
    assert set(r.records["finess"]) <= set(fp_catalogue.establishments.loc[
        ServesCommuneFilter("01053").mask(fp_catalogue), "finess"])


def test_zone_coverage_counts_and_white_zones(raw, fp_catalogue):
    with open(DEMO_AIN_COMMUNES, encoding="utf-8") as f:
        ain = [feat["properties"]["code"] for feat in json.load(f)["features"]]
    table = zone_coverage(fp_catalogue, ain, ["1514"])
    assert len(table) == len(ain) == 407
    # brute force for type 1514 only
    _, activites = raw
    as_of = activites["generatedAt"][:10]
    by_commune: dict[str, set[str]] = defaultdict(set)
    for p in activites["pmej"]:
        zone = next(([c["commune"] for c in a["zoneIntervention"]["communeZI"]] for a in p["activitesAutorisees"]
                     if a["zoneIntervention"] and a["caracteristiquesGeneriques"]["typeActiviteSMSSE"] == "1514"), [])
        for e in p["ege"]:
            if any(a["caracteristiquesGeneriques"]["typeActiviteSMSSE"] == "1514" and _active(a, as_of)
                   for a in e["activitesExercees"]):
                for c in zone:
                    by_commune[c].add(e["numFinessEge"])
    got = dict(zip(table["commune"], table["services"]))
    assert got == {c: len(by_commune.get(c, ())) for c in ain}
    assert int(table["white"].sum()) == sum(1 for c in ain if not by_commune.get(c))


# --------------------------------------------------------------------------- ETL

def test_etl_layers_metadata_and_deviation_report(fp_build):
    report, store = fp_build
    layers = {n for n, _ in pyogrio.list_layers(store)}
    assert {"etablissements", "activites", "capacites", "zones_intervention"} <= layers
    meta = load_catalogue(store).metadata
    assert meta["finess_plus_structures_date"] == "2026-03-09"
    assert meta["finess_plus_activites_date"] == "2026-04-01"
    assert meta["source_date"] == "2026-03-09"
    dev = json.loads(report.deviations_path.read_text(encoding="utf-8"))
    assert dev["counts"]["coordinates_swapped"]["count"] == 18
    assert dev["counts"]["metadata_missing"]["count"] == 1
    assert dev["examples"]["nature_asmr"][0]["path"].startswith("$.pmej[")
    assert report.counts["finess_plus_zone_communes"] == 104


def test_both_sources_finess_plus_wins_and_differences_are_reported(fp_paths, tmp_path):
    structures, activites = fp_paths
    doc = _raw(structures)
    ege = doc["pmej"][1]["ege"][0]
    ege["informationsGeneralesEGE"]["numFinessEge"] = "800000143"  # CH ABBEVILLE in the etalab demo
    ege["informationsGeneralesEGE"]["nomEgeCourt"] = "NOM FINESS+"
    fp = tmp_path / "structures.json"
    fp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "both.gpkg"
    report = run_etl(EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS,
                               communes=[DEMO_AIN_COMMUNES], finess_plus_structures=fp,
                               finess_plus_activites=activites), out)
    est = pyogrio.read_dataframe(out, layer="etablissements").set_index("finess")
    assert est.index.is_unique
    assert est.loc["800000143", "name"] == "NOM FINESS+" and est.loc["800000143", "source"] == "finess_plus"
    assert (est["source"] == "etalab").sum() == 1285 - 1
    diffs = [d.message for d in report.finess_plus.examples["source_difference"]]
    assert any("NOM FINESS+" in m and "nom" in m for m in diffs)


def test_unknown_commune_in_a_zone_is_reported_and_skipped(fp_paths, tmp_path):
    structures, activites = fp_paths
    doc = _raw(activites)
    zoned = [a for p in doc["pmej"] for a in p["activitesAutorisees"] if a["zoneIntervention"]]
    zoned[0]["zoneIntervention"]["communeZI"].append({"commune": "01999"})  # no such Ain commune
    p = tmp_path / "act.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    report = run_etl(EtlInputs(establishments=None, departments=DEMO_DEPARTMENTS, communes=[DEMO_AIN_COMMUNES],
                               finess_plus_activites=p), tmp_path / "z.gpkg")
    zones = pyogrio.read_dataframe(tmp_path / "z.gpkg", layer="zones_intervention")
    assert "01999" not in set(zones["commune"]) and len(zones) == 104
    dev = report.finess_plus.examples["unknown_commune"][0]
    assert "01999" in dev.message and dev.path.endswith(".zoneIntervention.communeZI")
    assert any(i.field.endswith("communeZI") for i in report.issues)  # in the reject CSV too


def test_bad_flow_aborts_and_leaves_the_store_untouched(fp_build, fp_paths, tmp_path):
    _, store = fp_build
    target = tmp_path / "served.gpkg"
    target.write_bytes(store.read_bytes())
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    bad = tmp_path / "cut.json"
    bad.write_bytes(fp_paths[1].read_bytes()[:300_000])
    with pytest.raises(InputFormatError, match="tronqué"):
        run_etl(EtlInputs(establishments=None, departments=DEMO_DEPARTMENTS, finess_plus_activites=bad), target)
    with pytest.raises(InputFormatError, match="pas un flux FINESS\\+ Structures"):
        run_etl(EtlInputs(establishments=None, departments=DEMO_DEPARTMENTS,
                          finess_plus_structures=fp_paths[1]), target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert not list(tmp_path.glob(".*.tmp.gpkg"))


def test_capacity_totals_follow_the_activity_rule(raw, fp_catalogue):
    _, activites = raw
    as_of = activites["generatedAt"][:10]
    cat = fp_catalogue
    checked = 0
    for p in activites["pmej"]:
        for e in p["ege"]:
            inst = aut = 0.0
            seen = has_inst = has_aut = False
            for a in e["activitesExercees"]:
                if not _active(a, as_of):
                    continue
                best: dict[tuple[str, str], float] = {}
                for c in a["capacite"] or []:
                    if c["uniteMesureCapacite"] in ("01", "02"):
                        k = (c["statutCapacite"], c["uniteMesureCapacite"])
                        best[k] = max(best.get(k, 0.0), float(c["nombre"]))
                        seen = True
                inst += sum(v for (s, _), v in best.items() if s in ("08", "01"))
                aut += sum(v for (s, _), v in best.items() if s == "09")
                has_inst |= any(s in ("08", "01") for s, _ in best)
                has_aut |= any(s == "09" for s, _ in best)
            i = cat.finess_row[e["numFinessEge"]]
            if seen:  # no line of a status: unknown (NaN), not 0
                assert (cat.capacity_installed[i] == inst) if has_inst else np.isnan(cat.capacity_installed[i])
                assert (cat.capacity_authorised[i] == aut) if has_aut else np.isnan(cat.capacity_authorised[i])
                checked += 1
    assert checked > 30


# --------------------------------------------------------------------------- command line

def test_cli_etl_and_search_with_finess_plus(fp_paths, fp_build, tmp_path):
    from typer.testing import CliRunner

    from dac_map.cli import app

    runner = CliRunner()
    out = tmp_path / "cli.gpkg"
    res = runner.invoke(app, ["etl", "--finess-plus-structures", str(fp_paths[0]), "--finess-plus-activites",
                              str(fp_paths[1]), "--departments", str(DEMO_DEPARTMENTS), "--communes",
                              str(DEMO_AIN_COMMUNES), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "coordinates_swapped" in res.output and out.exists()
    res = runner.invoke(app, ["search", "--store", str(fp_build[1]), "--serves-commune", "01451", "--format", "csv"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("010784817;")
    res = runner.invoke(app, ["search", "--store", str(fp_build[1]), "--serves-commune", "1A2"])
    assert res.exit_code == 2 and "commune" in res.output
    res = runner.invoke(app, ["etl", "--finess-plus-structures", str(fp_paths[1]), "--departments",
                              str(DEMO_DEPARTMENTS), "--output", str(tmp_path / "x.gpkg")])
    assert res.exit_code == 4 and "pas un flux FINESS+ Structures" in res.output
    res = runner.invoke(app, ["etl", "--finess-plus-activites", str(fp_paths[1]), "--strict", "--departments",
                              str(DEMO_DEPARTMENTS), "--output", str(tmp_path / "y.gpkg")])
    assert res.exit_code == 5 and "strict" in res.output and not (tmp_path / "y.gpkg").exists()
