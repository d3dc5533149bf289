"""Tests of the synthetic extract generator (dac_map.testing.synthetic)."""

from __future__ import annotations

import csv
import re
from collections import Counter

import pytest

from dac_map.testing import synthetic, synthetic_equipment, synthetic_tables
from dac_map.codes import FINESS_PATTERN
from dac_map.etl.layouts import EQUIPEMENTSOCIAL, GEOLOCALISATION, STRUCTUREET
from dac_map.etl.parser import parse_equipment, parse_establishments, parse_projection

N = 2000
N_LINES = 3000
WIDTH = {s.name: s.width for s in (STRUCTUREET, GEOLOCALISATION, EQUIPEMENTSOCIAL)}


def _records(path, encoding="latin-1"):
    with open(path, encoding=encoding, newline="") as f:
        return list(csv.reader(f, delimiter=";"))


@pytest.fixture(scope="module")
def extracts(tmp_path_factory):
    d = tmp_path_factory.mktemp("synthetic")
    est_path, eq_path = d / "cs1100507.csv", d / "cs1100505.csv"
    numbers = synthetic.write_establishments_extract(est_path, N, seed=3)
    establishments = synthetic.read_establishment_categories(est_path)
    written = synthetic_equipment.write_equipment_extract(eq_path, establishments, n_lines=N_LINES, seed=3)
    return {"est": est_path, "eq": eq_path, "numbers": numbers, "table": establishments,
            "written": written, "est_rows": _records(est_path), "eq_rows": _records(eq_path)}


def _section(rows, name):
    return [r for r in rows if r[0] == name]


def _structures(extracts):
    i = {f: k + 1 for k, f in enumerate(STRUCTUREET.fields)}
    return [{f: r[k] for f, k in i.items()} for r in _section(extracts["est_rows"], "structureet")]


def test_establishment_file_sections(extracts):
    rows = extracts["est_rows"]
    assert rows[0] == ["finess", "etalab", "00", "2021-01-08"]
    names = [r[0] for r in rows[1:]]
    assert names == ["structureet"] * N + ["geolocalisation"] * N
    assert len(extracts["numbers"]) == N


def test_every_line_has_its_section_width(extracts):
    for row in extracts["est_rows"][1:] + extracts["eq_rows"][1:]:
        assert len(row) == WIDTH[row[0]], row
    # Same check on the raw bytes' line count: no value spans two lines.
    with open(extracts["est"], "rb") as f:
        assert sum(1 for _ in f) == 1 + 2 * N


def test_finess_numbers_unique_and_well_formed(extracts):
    numbers = extracts["numbers"]
    assert len(set(numbers)) == N
    assert all(re.fullmatch(FINESS_PATTERN, v) for v in numbers)
    structures = _structures(extracts)
    assert [s["nofinesset"] for s in structures] == numbers
    geo = [r[1] for r in _section(extracts["est_rows"], "geolocalisation")]
    assert geo == numbers
    for s in structures:
        assert s["nofinesset"][:2] == s["departement"]
        assert re.fullmatch(r"[0-9]{3}", s["commune"])
        assert s["numuai"] == ""
        assert s["telephone"] == "" or re.fullmatch(r"0[0-9]{9}", s["telephone"])
        for f in ("dateouv", "dateautor", "datemaj"):
            assert s[f] == "" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", s[f])


def test_all_departments_present(extracts):
    deps = Counter(s["departement"] for s in _structures(extracts))
    assert len(deps) == 101
    assert {"2A", "2B", "9A", "9B", "9C", "9D", "9F"} <= set(deps)
    assert "20" not in deps


def test_nasty_names_round_trip(extracts):
    names = {s["rs"] for s in _structures(extracts)}
    nasty = names & set(synthetic_tables.NASTY_NAMES)
    assert any(";" in v for v in nasty) and any('"' in v for v in nasty)
    raw = extracts["est"].read_text(encoding="latin-1")
    for v in nasty:
        if '"' in v or ";" in v:  # csv-quoted, inner quotes doubled
            assert '"' + v.replace('"', '""') + '"' in raw


def test_projection_token_per_department(extracts):
    expected = {"9A": ("UTM_N20", 5490), "9B": ("UTM_N20", 5490), "9C": ("UTM_N22", 2972),
                "9D": ("UTM_S40", 2975), "9F": ("UTM_S38", 4471)}
    dep = {s["nofinesset"]: s["departement"] for s in _structures(extracts)}
    commune = {s["nofinesset"]: s["commune"] for s in _structures(extracts)}
    for row in _section(extracts["est_rows"], "geolocalisation"):
        d = dep[row[1]]
        token, epsg = expected.get(d, ("LAMBERT_93", 2154))
        assert row[4].rsplit(",", 1)[-1] == token
        assert parse_projection(row[4]) == epsg
        assert re.fullmatch(r"-?\d+\.\d", row[2]) and re.fullmatch(r"-?\d+\.\d", row[3])
        if d in expected:
            assert commune[row[1]][0] == {"9A": "1", "9B": "2", "9C": "3", "9D": "4",
                                          "9F": "6"}[d]


def test_coordinates_fall_in_their_department(extracts):
    from pyproj import Transformer

    bounds = {code: geom.bounds for code, _, geom in synthetic._departments()}
    insee = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9F": "976"}
    dep = {s["nofinesset"]: s["departement"] for s in _structures(extracts)}
    for row in _section(extracts["est_rows"], "geolocalisation")[::7]:
        epsg = parse_projection(row[4])
        lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(
            float(row[2]), float(row[3]))
        minx, miny, maxx, maxy = bounds[insee.get(dep[row[1]], dep[row[1]])]
        assert minx - 0.01 <= lon <= maxx + 0.01 and miny - 0.01 <= lat <= maxy + 0.01


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    synthetic.write_establishments_extract(a, 300, seed=7)
    synthetic.write_establishments_extract(b, 300, seed=7)
    synthetic.write_establishments_extract(c, 300, seed=8)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_equipment_exact_line_count_and_flags(extracts):
    rows = extracts["eq_rows"]
    assert rows[0] == ["finess", "etalab", "00", "2021-01-08"]
    lines = rows[1:]
    assert extracts["written"] == N_LINES == len(lines)
    assert all(r[0] == "equipementsocial" for r in lines)
    f = {name: k + 1 for k, name in enumerate(EQUIPEMENTSOCIAL.fields)}
    flags = Counter(r[f["indsupinst"]] for r in lines)
    assert set(flags) == {"O", "N"} and 0.02 < flags["O"] / len(lines) < 0.09
    assert {r[f["indsupaut"]] for r in lines} == {"O", "N"}
    assert {r[f["sourceinfo"]] for r in lines} == {"X"}
    assert {r[f["libsourceinfo"]] for r in lines} == {synthetic_equipment.ILLUSTRATIVE_SOURCE[1]}
    for r in lines:
        assert r[f["capinstot"]] == "" or r[f["capinstot"]].isdigit()
        assert r[f["capautot"]].isdigit()
        assert r[f["libde"]] == synthetic_equipment.DISCIPLINE_LABELS[r[f["de"]]]
    cat = dict(zip(extracts["table"]["nofinesset"], extracts["table"]["categetab"]))
    assert {cat[r[1]] for r in lines} <= set(synthetic_equipment.PROFILE)
    # Lines of one establishment are contiguous.
    seen, previous = set(), None
    for r in lines:
        if r[1] != previous:
            assert r[1] not in seen
            seen.add(r[1])
            previous = r[1]


def test_equipment_default_one_to_four_lines(tmp_path, extracts):
    path = tmp_path / "eq.csv"
    n = synthetic_equipment.write_equipment_extract(path, extracts["table"], seed=5, illustrative=False)
    lines = _section(_records(path), "equipementsocial")
    assert n == len(lines)
    per_est = Counter(r[1] for r in lines)
    table = extracts["table"]
    eligible = set(table.loc[table["categetab"].isin(list(synthetic_equipment.PROFILE)), "nofinesset"])
    assert set(per_est) == eligible
    assert set(per_est.values()) <= {1, 2, 3, 4} and max(per_est.values()) > 1
    assert {r[8] for r in lines} <= {"E", "C", "A"}


def test_equipment_n_lines_edge_cases(tmp_path, extracts):
    table = extracts["table"]
    for k in (0, 1, 17):
        path = tmp_path / f"eq{k}.csv"
        assert synthetic_equipment.write_equipment_extract(path, table, n_lines=k) == k
        assert len(_records(path)) == 1 + k
    with pytest.raises(ValueError):
        synthetic_equipment.write_equipment_extract(tmp_path / "none.csv",
                                          table[table["categetab"] == "620"], n_lines=5)


def test_embedded_labels_match_reference_files():
    ref = {r[0]: r[1] for r in _records(synthetic._data_file(
        synthetic.Path("nomenclatures") / "TRE_R280_DisciplineEquipementSocial_v20231215.csv"),
        encoding="utf-8")[1:]}
    for code, label in synthetic_equipment.DISCIPLINE_LABELS.items():
        assert ref[code] == label
    used = {o.de for opts in synthetic_equipment.PROFILE.values() for o in opts}
    assert used <= set(synthetic_equipment.DISCIPLINE_LABELS)
    for opts in synthetic_equipment.PROFILE.values():
        for o in opts:
            assert o.ta in synthetic_equipment.ACTIVITY_LABELS and o.client in synthetic_equipment.CLIENT_LABELS
            assert 0 < o.cap_min <= o.cap_max


def test_project_parser_accepts_both_files(extracts):
    est = parse_establishments(extracts["est"])
    assert est.issues == [] and len(est.structures) == N and len(est.geolocations) == N
    assert est.geolocations["x"].notna().all()
    eq = parse_equipment(extracts["eq"])
    assert eq.issues == [] and len(eq.equipment) == N_LINES


def test_utf8_encoding(tmp_path):
    path = tmp_path / "u.csv"
    numbers = synthetic.write_establishments_extract(path, 150, seed=1, encoding="utf-8")
    rows = _records(path, encoding="utf-8")
    assert len(rows) == 1 + 300 and rows[1][1] == numbers[0]
