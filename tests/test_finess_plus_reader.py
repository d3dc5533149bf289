"""FINESS+ readers on the real ANS examples and nasty variants. Expectations come from a plain
``json.load`` of the same files (or the brief's published counts), never from the reader."""

from __future__ import annotations

import copy
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dac_map.errors import InputFormatError, InputMissingError, ValidationError
from dac_map.finess_plus import DeviationReport, read_activites, read_structures


def _raw(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _all_activities(doc: dict):
    """(pmej index, level, finess, activity) for every activity of a raw Activités document."""
    for i, p in enumerate(doc["pmej"]):
        for a in p.get("activitesAutorisees") or []:
            yield i, "entite_juridique", None, a
        for e in p.get("ege") or []:
            for a in e.get("activitesExercees") or []:
                yield i, "etablissement", e["numFinessEge"], a


# --------------------------------------------------------------------------- counts

def test_activites_counts_match_the_raw_file_and_the_published_figures(fp_paths):
    _, path = fp_paths
    doc = _raw(path)
    acts = list(_all_activities(doc))
    caps = sum(len(a["capacite"] or []) for *_, a in acts)
    zones = [a["zoneIntervention"] for *_, a in acts if a["zoneIntervention"]]
    communes = sum(len(z["communeZI"]) for z in zones)
    t = read_activites(path)
    assert (len(t.activities), len(t.capacities), t.counts["zones"], len(t.zones)) == \
        (len(acts), caps, len(zones), communes) == (335, 454, 7, 104)  # brief's figures
    assert t.counts["legal_entities"] == len(doc["pmej"]) == 64
    assert len(t.establishments) == sum(len(p["ege"]) for p in doc["pmej"]) == 84
    levels = Counter(t.activities["level"])
    assert levels == Counter(lv for _, lv, _, _ in acts) == {"entite_juridique": 162, "etablissement": 173}
    # every capacity number round-trips
    raw_numbers = sorted(float(c["nombre"]) for *_, a in acts for c in a["capacite"] or [])
    assert sorted(t.capacities["number"].tolist()) == raw_numbers
    # the zone of FINESS 010000628's activity type 1494 has 64 communes (data/README)
    z = [a["zoneIntervention"] for i, lv, _, a in acts
         if doc["pmej"][i]["numFiness"] == "010000628" and a["caracteristiquesGeneriques"]["typeActiviteSMSSE"] == "1494"
         and a["zoneIntervention"]]
    ours = t.activities[(t.activities["finess_ej"] == "010000628") & (t.activities["type_code"] == "1494")
                        & t.activities["zone_id"].notna()]
    assert len(z) == len(ours) == 1
    assert sorted(t.zones.loc[t.zones["zone_id"] == ours["zone_id"].iloc[0], "commune"]) == \
        sorted(c["commune"] for c in z[0]["communeZI"])
    assert len(z[0]["communeZI"]) == 64


def test_structures_counts_states_and_missing_metadata(fp_paths):
    path, _ = fp_paths
    doc = _raw(path)
    eges = [e for p in doc["pmej"] for e in p["ege"]]
    report = DeviationReport()
    t = read_structures(path, report)
    assert len(t.establishments) == len(eges) == 27
    assert len(t.legal_entities) == len(doc["pmej"]) == 23
    assert t.counts["groups_gcc"] == len(doc["gcc"]) and t.counts["groups_gco"] == len(doc["gco"])
    assert Counter(t.establishments["state"]) == Counter(e["etatObjet"] for e in eges) == {"A": 15, "I": 12}
    assert "metadata" not in doc and report.counts["metadata_missing"] == 1
    assert report.examples["metadata_missing"][0].path == "$.metadata"


def test_deviations_counted_like_an_independent_walk(fp_paths):
    _, path = fp_paths
    doc = _raw(path)
    nulls = asmr = 0
    for *_, a in _all_activities(doc):
        g = a["caracteristiquesGeneriques"]
        spec = a["nature"]["caracteristiquesSpecifiques"]
        nulls += sum(v is None for v in g.values()) + sum(v is None for v in spec.values())
        nulls += sum(v is None for c in a["capacite"] or [] for v in c.values())
        if a["zoneIntervention"]:
            nulls += sum(v is None for v in a["zoneIntervention"].values())
        asmr += a["nature"]["codeNature"] == "ASMR"
    report = DeviationReport()
    t = read_activites(path, report)
    assert report.counts["explicit_null"] == nulls > 0
    assert report.counts["nature_asmr"] == asmr == 176
    assert set(t.activities["nature"]) <= {"AASA", "ASR", "EML", "ASDR", "ASOCR", "AMSR", "AER", "AMF", "AMM"}
    assert "ASMR" not in set(t.activities["nature"]) and "ASMR" in set(t.activities["nature_raw"])
    extra = report.examples["extra_field"][0]
    assert extra.path.endswith("caracteristiquesGeneriques.pmSmsseExploitanteId")
    assert extra.path.startswith("$.pmej[0].activitesAutorisees[0]")
    d = report.to_dict()
    assert d["counts"]["nature_asmr"]["count"] == asmr and d["examples"]["nature_asmr"][0]["path"].startswith("$.pmej[")


# --------------------------------------------------------------------------- variants of the same file

def _same(a, b) -> None:
    for name in ("activities", "capacities", "zones"):
        x, y = getattr(a, name), getattr(b, name)
        x = x.drop(columns=[c for c in ("json_path",) if c in x])
        y = y.drop(columns=[c for c in ("json_path",) if c in y])
        assert x.astype(str).equals(y.astype(str)), name


def test_gzip_lf_and_bom_variants_read_identically(fp_paths, tmp_path):
    _, path = fp_paths
    raw = path.read_bytes()
    assert b"\r\n" in raw  # the real file has CRLF line endings
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "lf.json").write_bytes(raw.replace(b"\r\n", b"\n"))
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + raw)
    (tmp_path / "compact.json").write_text(json.dumps(_raw(path), separators=(",", ":")), encoding="utf-8")
    ref = read_activites(path)
    for name in ("a.json.gz", "lf.json", "bom.json", "compact.json"):
        _same(ref, read_activites(tmp_path / name))


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 4099])
def test_any_chunk_boundary_reads_identically(fp_paths, monkeypatch, chunk):
    """Values cut anywhere by the read size (strings, numbers, literals such as null, keys,
    CRLF, multi-byte UTF-8 characters) decode as if the file were read at once."""
    from dac_map.finess_plus import source

    structures, activites = fp_paths
    ref_a, ref_s = read_activites(activites), read_structures(structures)
    monkeypatch.setattr(source, "_CHUNK", chunk)
    _same(ref_a, read_activites(activites))
    got_s = read_structures(structures)
    assert got_s.establishments.astype(str).equals(ref_s.establishments.astype(str))


# --------------------------------------------------------------------------- file-level problems

@pytest.mark.parametrize("content, words", [
    (b"", "vide"),
    (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "HTML"),
    (b"PK\x03\x04rest-of-zip", "ZIP"),
    (b"\xff\xfe{\x00", "UTF-16"),
    (b"finess;etalab;NN;2021-01-08\n", "JSON"),
    (b"[1, 2, 3]", "tableau"),
    (b'{"schemaVersion": "v1", "other": []}', "pmej"),
])
def test_file_level_problems_abort_with_a_clear_message(refused_file, content, words):
    error = refused_file(read_activites, "flux.json", content)
    assert words in str(error) and error.exit_code == 4


def test_missing_file(tmp_path):
    with pytest.raises(InputMissingError) as exc:
        read_structures(tmp_path / "absent.json")
    assert exc.value.exit_code == 3


def test_truncated_file_names_the_item_being_read(fp_paths, tmp_path):
    _, path = fp_paths
    raw = path.read_bytes()
    cut = raw[: len(raw) // 2]
    p = tmp_path / "cut.json"
    p.write_bytes(cut)
    with pytest.raises(InputFormatError) as exc:
        read_activites(p)
    msg = str(exc.value)
    assert "tronqué" in msg and "$.pmej[" in msg
    n_complete = cut.count(b'"numFiness"') - 1  # items fully read before the cut one
    assert f"$.pmej[{n_complete}]" in msg
    gz = tmp_path / "cut.json.gz"
    gz.write_bytes(gzip.compress(raw)[:-100])
    with pytest.raises(InputFormatError):
        read_activites(gz)


def test_other_flow_is_refused_both_ways(fp_paths):
    structures, activites = fp_paths
    with pytest.raises(InputFormatError, match="flux FINESS\\+ Activités, pas un flux FINESS\\+ Structures"):
        read_structures(activites)
    with pytest.raises(InputFormatError, match="flux FINESS\\+ Structures, pas un flux FINESS\\+ Activités"):
        read_activites(structures)


def test_latin1_file_is_refused_as_invalid_utf8(fp_paths, tmp_path):
    structures, _ = fp_paths
    text = structures.read_text(encoding="utf-8")
    assert "é" in text or "É" in text
    p = tmp_path / "latin1.json"
    p.write_bytes(text.encode("latin-1", errors="replace"))
    with pytest.raises(InputFormatError, match="UTF-8"):
        read_structures(p)


# --------------------------------------------------------------------------- row-level problems

def _write(doc: dict, path: Path) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_row_level_problems_are_reported_and_skipped_locally(fp_paths, tmp_path):
    _, path = fp_paths
    doc = _raw(path)
    # a non-numeric capacity, a malformed commune in a zone, a legal entity that is a string
    acts = [(i, a) for i, lv, _, a in _all_activities(doc) if a["capacite"] and lv == "entite_juridique"]
    i0, a0 = acts[0]
    a0["capacite"][0]["nombre"] = "douze"
    zoned = [a for *_, a in _all_activities(doc) if a["zoneIntervention"]]
    zoned[0]["zoneIntervention"]["communeZI"][0]["commune"] = "1A2B"
    doc["pmej"][3] = "pas un objet"
    report = DeviationReport()
    t = read_activites(_write(doc, tmp_path / "bad.json"), report)
    ref = read_activites(path)
    raw3 = _raw(path)["pmej"][3]
    n3 = len(raw3["activitesAutorisees"]) + sum(len(e["activitesExercees"]) for e in raw3["ege"])
    assert len(t.activities) == len(ref.activities) - n3
    c3 = sum(len(a["capacite"] or []) for a in raw3["activitesAutorisees"]) + sum(
        len(a["capacite"] or []) for e in raw3["ege"] for a in e["activitesExercees"])
    assert len(t.capacities) == len(ref.capacities) - c3 - 1
    assert len(t.zones) == len(ref.zones) - 1
    kinds = {d.kind: d for d in report.skipped}
    j0 = doc["pmej"][i0]["activitesAutorisees"].index(a0)
    assert kinds["invalid_number"].path == f"$.pmej[{i0}].activitesAutorisees[{j0}].capacite[0].nombre"
    assert "douze" in kinds["invalid_number"].message
    assert kinds["invalid_commune"].path.endswith("communeZI[0].commune")
    assert kinds["not_an_object"].path == "$.pmej[3]"


# --------------------------------------------------------------------------- property: corruption stays local

_SMALL_N = 12
_JUNK = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.text(max_size=20), st.lists(st.integers(), max_size=3),
                  st.dictionaries(st.sampled_from(["caracteristiquesGeneriques", "nature", "capacite", "x"]),
                              st.one_of(st.none(), st.text(max_size=5), st.integers(), st.lists(st.none())),
                              max_size=4))


@pytest.fixture(scope="module")
def small_doc(fp_paths) -> dict:
    doc = _raw(fp_paths[1])
    return {"schemaVersion": doc["schemaVersion"], "generatedAt": doc["generatedAt"], "pmej": doc["pmej"][:_SMALL_N]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), junk=_JUNK)
def test_one_corrupted_activity_affects_only_itself(small_doc, tmp_path_factory, data, junk):
    doc = copy.deepcopy(small_doc)
    places = [(i, "activitesAutorisees", None, j) for i, p in enumerate(doc["pmej"])
              for j in range(len(p["activitesAutorisees"]))]
    places += [(i, "ege", k, j) for i, p in enumerate(doc["pmej"]) for k, e in enumerate(p["ege"])
               for j in range(len(e["activitesExercees"]))]
    i, kind, k, j = data.draw(st.sampled_from(places))
    container = doc["pmej"][i]["activitesAutorisees"] if kind == "activitesAutorisees" \
        else doc["pmej"][i]["ege"][k]["activitesExercees"]
    victim = container[j]
    victim_id = victim["caracteristiquesGeneriques"]["activiteAeId"]
    container[j] = junk
    tmp = tmp_path_factory.mktemp("prop")
    ref = read_activites(_write(small_doc, tmp / "ref.json"))
    got = read_activites(_write(doc, tmp / "bad.json"))
    ref_ids = Counter(ref.activities["activity_id"])
    got_ids = Counter(got.activities["activity_id"])
    # every other activity is still there, unchanged
    expected = ref_ids.copy()
    expected[victim_id] -= 1
    expected += Counter()
    assert got_ids - Counter({a: n for a, n in got_ids.items() if a.startswith("~")}) <= ref_ids
    assert all(got_ids[a] >= n for a, n in expected.items() if n > 0)
    other = ref.activities[ref.activities["activity_id"] != victim_id].drop(columns=["json_path"])
    mine = got.activities[got.activities["activity_id"].isin(other["activity_id"])].drop(columns=["json_path"])
    assert mine.astype(str).reset_index(drop=True).equals(other.astype(str).reset_index(drop=True))
    ref_caps = ref.capacities[ref.capacities["activity_id"] != victim_id]
    got_caps = got.capacities[got.capacities["activity_id"] != victim_id]
    assert got_caps.astype(str).reset_index(drop=True).equals(ref_caps.astype(str).reset_index(drop=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), junk=st.one_of(st.none(), st.text(max_size=8), st.integers(-2**63, 2**63 - 1),
                                        st.floats(allow_nan=False, allow_infinity=False)))
def test_one_corrupted_capacity_number_affects_only_itself(small_doc, tmp_path_factory, data, junk):
    doc = copy.deepcopy(small_doc)
    caps = [c for p in doc["pmej"] for a in p["activitesAutorisees"] + [x for e in p["ege"]
                                                                       for x in e["activitesExercees"]]
            for c in (a["capacite"] or [])]
    victim = data.draw(st.sampled_from(caps))
    victim_id = victim["idCapacite"]
    victim["nombre"] = junk
    tmp = tmp_path_factory.mktemp("propcap")
    ref = read_activites(_write(small_doc, tmp / "ref.json"))
    report = DeviationReport()
    got = read_activites(_write(doc, tmp / "bad.json"), report)
    assert got.activities.astype(str).equals(ref.activities.astype(str))
    others = ref.capacities[ref.capacities["capacity_id"] != victim_id]
    kept = got.capacities[got.capacities["capacity_id"] != victim_id]
    assert kept.astype(str).reset_index(drop=True).equals(others.astype(str).reset_index(drop=True))
    try:
        value = float(str(junk).replace(",", "."))
        valid = value == value and 0 <= value <= 1e6 and junk is not None and not isinstance(junk, bool)
    except ValueError:
        valid = False
    assert (victim_id in set(got.capacities["capacity_id"])) == valid
    assert (report.skipped_counts["invalid_number"] == 1) == (not valid)


# --------------------------------------------------------------------------- strict mode

def test_strict_mode_refuses_the_real_examples_with_json_paths(fp_paths):
    structures, activites = fp_paths
    report = DeviationReport()
    with pytest.raises(ValidationError) as exc:
        read_activites(activites, report, strict=True)
    assert exc.value.exit_code == 5 and "strict" in str(exc.value)
    assert report.counts["schema"] > 0
    assert all(d.path.startswith("$.pmej[") for d in report.examples["schema"])
    with pytest.raises(ValidationError, match="metadata"):
        read_structures(structures, DeviationReport(), strict=True)


def test_strict_mode_accepts_a_conforming_file(tmp_path):
    doc = {"schemaVersion": "v1.0.1", "generatedAt": "2026-04-01T00:00:00Z", "pmej": [{
        "numFiness": "010000628", "pmSmsseId": "43",
        "activitesAutorisees": [{
            "caracteristiquesGeneriques": {"activiteAeId": "1", "etatObjet": "A",
                                           "dateDebutActiviteAutorisee": "2020-01-01",
                                           "typeActiviteSMSSE": "1514"},
            "nature": {"codeNature": "AMSR", "caracteristiquesSpecifiques": {
                "aaSocialeReguleeId": "9", "activiteAeId": "1",
                "typeActiviteAMSR": {"activiteSocialeRegulee": "358", "modeFonctionnement": "16",
                                     "public": "700"}}},
            "evenement": [], "capacite": [{"idCapacite": "5", "nombre": "30", "statutCapacite": "09",
                                           "uniteMesureCapacite": "02"}],
            "zoneIntervention": {"zoneInterventionAutoriseeId": "7", "activiteAeId": "1",
                                 "communeZI": [{"commune": "01053"}, {"commune": "01451"}]}}],
        "ege": [{"egeId": "914", "numFinessEge": "010784817", "activitesExercees": []}]}]}
    report = DeviationReport()
    t = read_activites(_write(doc, tmp_path / "ok.json"), report, strict=True)
    assert report.counts.get("schema", 0) == 0
    assert list(t.zones["commune"]) == ["01053", "01451"] and t.capacities["number"].tolist() == [30.0]


def test_invalid_finess_skips_only_that_establishment(fp_paths, tmp_path):
    _, path = fp_paths
    doc = _raw(path)
    i = next(k for k, p in enumerate(doc["pmej"]) if len(p["ege"]) > 1)
    victim = doc["pmej"][i]["ege"][0]
    lost = len(victim["activitesExercees"])
    victim["numFinessEge"] = "01-ABC"
    report = DeviationReport()
    t = read_activites(_write(doc, tmp_path / "bad.json"), report)
    ref = read_activites(path)
    assert len(t.activities) == len(ref.activities) - lost
    assert len(t.establishments) == len(ref.establishments) - 1
    d = report.skipped[0]
    assert (d.kind, d.path) == ("invalid_finess", f"$.pmej[{i}].ege[0].numFinessEge") and "01-ABC" in d.message
