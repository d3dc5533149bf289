"""The one « Intervient à <commune> » filter (dac_map.query.serving) over FINESS+ zones and
social resources' zones, against brute force from the raw files; the EPCI table (shipped data,
reader errors, building from official layouts, vintage check)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from typer.testing import CliRunner

from dac_map import codes, settings
from dac_map.cli import app
from dac_map.errors import InputFormatError, InputMissingError
from dac_map.inclusion import epci
from dac_map.inclusion.catalogue import SocialCatalogue
from dac_map.query.errors import QueryError
from dac_map.query.serving import AreaIndex, ServesCommuneFilter, ServingIndex, served_counts

GEO = settings.DATA_DIR / "geo"
SHIPPED = GEO / "epci_communes_01_46_80.csv"


def _geo_codes() -> dict[str, str]:
    out = {}
    for name in ("communes-01-ain", "communes-46-lot", "communes-80-somme"):
        with open(GEO / f"{name}.geojson", encoding="utf-8") as f:
            out.update({ft["properties"]["code"]: ft["properties"]["nom"] for ft in json.load(f)["features"]})
    return out


def test_one_filter_class_for_every_catalogue():
    from dac_map import query
    from dac_map.finess_plus import filters as fp_filters
    from dac_map.inclusion import filters as social_filters

    assert fp_filters.ServesCommuneFilter is social_filters.ServesCommuneFilter is query.ServesCommuneFilter \
        is ServesCommuneFilter


def test_both_indexes_implement_the_protocol(fp_catalogue):
    social = SocialCatalogue.from_frames(pd.DataFrame({"resource_id": ["a"], "name": ["A"]}))
    assert isinstance(fp_catalogue.serving, ServingIndex) and fp_catalogue.serving is fp_catalogue.finess_plus
    assert isinstance(social.serving, ServingIndex)


# --------------------------------------------------------------------------- social zones, whole demo

def test_social_zones_match_brute_force_for_every_demo_commune(epci_members_raw, serves_raw):
    """Raw zone codes (communes, departments, EPCIs of the shipped table, France) for a few
    hundred resources; every commune of the three demo departments checked."""
    rng = np.random.default_rng(16)
    geo = sorted(_geo_codes())
    sirens = sorted(epci_members_raw)
    pool = geo[::7] + ["80", "46", "01", "2A", "974"] + sirens + ["france", "99100", "200000000"]
    zones = [list(rng.choice(pool, size=rng.integers(0, 4), replace=False)) for _ in range(300)]
    own = list(rng.choice(geo, size=300))
    table = pd.DataFrame({"resource_id": [f"r{i}" for i in range(300)], "name": [f"R{i}" for i in range(300)],
                          "commune": own})
    pairs = pd.DataFrame([(f"r{i}", c) for i, z in enumerate(zones) for c in (z or [own[i]])],
                         columns=["resource_id", "code"])
    cat = SocialCatalogue.from_frames(table, pairs, epci_communes=epci.read_epci_table(SHIPPED).communes)
    for commune in geo + ["2A004", "97411"]:
        expected = [serves_raw(z or [own[i]], commune, epci_members_raw) for i, z in enumerate(zones)]
        assert ServesCommuneFilter(commune).mask(cat).tolist() == expected, commune


def test_served_counts_is_coverage_by_areas(epci_members_raw, serves_raw):
    zones = [["80"], ["248000531"], ["80021", "46042"], ["france"], []]
    own = ["80021", "80021", "80021", "46042", "01053"]
    table = pd.DataFrame({"resource_id": list("abcde"), "name": list("ABCDE"), "commune": own})
    pairs = pd.DataFrame([(r, c) for r, z, o in zip("abcde", zones, own) for c in (z or [o])],
                         columns=["resource_id", "code"])
    cat = SocialCatalogue.from_frames(table, pairs, epci_communes=epci.read_epci_table(SHIPPED).communes)
    communes = ["80021", "80620", "46042", "01053", "01001", "80001"]
    mask = np.array([True, True, False, True, True])
    want = {c: sum(serves_raw(z or [o], c, epci_members_raw) for z, o, m in zip(zones, own, mask) if m)
            for c in communes}
    assert served_counts(cat, communes, mask) == want
    assert served_counts(cat, ["80021"]) == {"80021": 4}


# --------------------------------------------------------------------------- FINESS+ zones, raw JSON

def test_finess_plus_zones_match_raw_json_for_every_ain_commune(fp_paths, fp_catalogue):
    with open(fp_paths[1], encoding="utf-8") as f:
        activites = json.load(f)
    # brute force: an establishment serves the communes of its legal entity's zoned
    # authorisation of the same type, when its own activity of that type is active
    as_of = activites["generatedAt"][:10]

    def active(a: dict) -> bool:
        g = a["caracteristiquesGeneriques"]
        end = g.get("dateFinEffectiveActivite")
        return g["etatObjet"] == "A" and not (end and end <= as_of)

    serving: dict[str, set[str]] = defaultdict(set)
    for p in activites["pmej"]:
        zoned: dict[str, list[str]] = {}
        for a in p["activitesAutorisees"]:
            if a["zoneIntervention"]:
                zoned.setdefault(a["caracteristiquesGeneriques"]["typeActiviteSMSSE"],
                                 [c["commune"] for c in a["zoneIntervention"]["communeZI"]])
        for e in p["ege"]:
            for a in e["activitesExercees"]:
                t = a["caracteristiquesGeneriques"]["typeActiviteSMSSE"]
                if t in zoned and active(a):
                    for c in zoned[t]:
                        serving[c].add(e["numFinessEge"])
    cat = fp_catalogue
    finess = cat.establishments["finess"]
    assert len(serving) > 50
    for commune in sorted(set(_geo_codes()) | set(serving)):
        assert set(finess[ServesCommuneFilter(commune).mask(cat)]) == serving.get(commune, set()), commune
    ain = [c for c in _geo_codes() if c.startswith("01")]
    assert served_counts(cat, ain) == {c: len(serving.get(c, ())) for c in ain}


def test_filter_errors():
    with pytest.raises(QueryError):
        ServesCommuneFilter("800")
    social_without_zones = SocialCatalogue.from_frames(pd.DataFrame({"resource_id": ["a"], "name": ["A"]}))
    assert not ServesCommuneFilter("80021").mask(social_without_zones).any()

    class NoIndex:
        serving = None

        def __len__(self):
            return 1

        def commune_name(self, code):
            return None

    with pytest.raises(QueryError, match="zones d'intervention non chargées"):
        ServesCommuneFilter("80021").mask(NoIndex())


@hsettings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["80021", "80001", "46042", "2A004", "97411", "80", "46", "2A", "974",
                                           "france", "99100", "111111111", "222222222"]),
                          st.integers(0, 9)), max_size=40),
       st.sampled_from(["80021", "80001", "46042", "2A004", "97411", "01053"]))
def test_area_index_matches_brute_force(pairs, commune):
    members = {"111111111": {"80001", "80021"}, "222222222": {"2A004"}}
    index = AreaIndex.from_pairs([c for c, _ in pairs], [r for _, r in pairs], members)
    dep = codes.department_of(commune)
    want = sorted({r for c, r in pairs if c in (commune, dep, "france", "99100") or commune in members.get(c, ())})
    got = index.rows_serving(commune)
    assert got.tolist() == want
    assert not got.flags.writeable


# --------------------------------------------------------------------------- the shipped EPCI table

def test_shipped_table_every_demo_commune_in_exactly_one_epci():
    geo = _geo_codes()
    with open(SHIPPED, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    by_commune: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_commune[r["commune"]].add(r["epci"])
        assert len(r["epci"]) == 9 and r["epci"].isdigit()
    assert {c for c in geo if len(by_commune.get(c, ())) != 1} == set()
    # absorbed 2018 codes point at a member of the same EPCI
    for r in rows:
        if r["absorbee_par"]:
            assert by_commune[r["absorbee_par"]] == {r["epci"]}, r["commune"]
    # the Amiens agglomeration contains Amiens
    assert "80021" in {r["commune"] for r in rows if r["epci"] == "248000531"}
    check = epci.check_table(epci.read_epci_table(SHIPPED), geo)
    assert check.unknown_in_departments == () and check.communes_without_epci == ()
    assert check.epcis == len({r["epci"] for r in rows})


BAD_TABLES = [
    ("epci;commune\n12345;80021\n", 2, "epci"),
    ("epci;commune\n248000531;80021\n248000531;8002\n", 3, "commune"),
    ("epci;nom_epci;commune;absorbee_par\n248000531;X;80021;ABCDE\n", 2, "absorbee_par"),
    ("siren;commune\n248000531;80021\n", 1, "epci"),
    ("epci;commune\n248000531;80021;extra\n", 2, None),
]


@pytest.mark.parametrize("text,line,field", BAD_TABLES)
def test_bad_table_error_names_file_line_field(tmp_path, text, line, field):
    path = tmp_path / "epci.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFormatError) as exc:
        epci.read_epci_table(path)
    assert exc.value.path == str(path) and exc.value.line == line and exc.value.field == field
    assert str(path) in str(exc.value) and f"line {line}" in str(exc.value)


def test_table_encoding_and_missing(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("epci;nom_epci;commune\n248000531;Amiens;80021\n248000531;Métropole;80620\n".encode("latin-1"))
    with pytest.raises(InputFormatError) as exc:
        epci.read_epci_table(path)
    assert exc.value.line == 3
    with pytest.raises(InputMissingError):
        epci.read_epci_table(tmp_path / "absent.csv")


def _write_dgcl_xlsx(path: Path, rows: list[tuple]) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["dept", "siren", "raison_sociale", "nature_juridique", "mode_financ", "nb_membres",
               "total_pop_tot", "total_pop_mun", "dep_com", "insee", "siren_membre", "nom_membre",
               "ptot_2025", "pmun_2025"])
    for r in rows:
        ws.append(list(r))
    wb.save(path)


def test_build_from_dgcl_xlsx_with_bridge_and_cli(tmp_path, demo_store):
    """The DGCL layout (SIREN as a number, a commune code whose leading zero a spreadsheet
    dropped), selection by department, an older code attached through an INSEE moves file."""
    src = tmp_path / "epcicom2025.xlsx"
    _write_dgcl_xlsx(src, [
        ("80", 248000531, "CA Amiens Métropole", "CA", "FPU", 3, 1, 1, "80", "80021", 218000219, "Amiens", 1, 1),
        ("80", 248000531, "CA Amiens Métropole", "CA", "FPU", 3, 1, 1, "80", "80620", 218006208, "Poulainville", 1, 1),
        ("80", 248000531, "CA Amiens Métropole", "CA", "FPU", 3, 1, 1, "60", "60001", 216000013, "Voisine", 1, 1),
        ("01", 200029999, "CC Rives de l'Ain", "CC", "FPU", 1, 1, 1, "01", 1304, 210103040, "Pont-d'Ain", 1, 1),
        ("75", 200054781, "Métropole du Grand Paris", "MET69", "FPU", 1, 1, 1, "75", "75056", 217500016, "Paris", 1, 1),
    ])
    moves = tmp_path / "mvtcommune_2025.csv"
    moves.write_text("MOD,DATE_EFF,TYPECOM_AV,COM_AV,TNCC_AV,NCC_AV,NCCENR_AV,LIBELLE_AV,TYPECOM_AP,COM_AP,"
                     "TNCC_AP,NCC_AP,NCCENR_AP,LIBELLE_AP\n"
                     "32,2019-01-01,COM,80999,0,ANCIENNE,Ancienne,Ancienne,COM,80620,0,POULAINVILLE,Poulainville,Poulainville\n",
                     encoding="utf-8")
    members = epci.select(epci.read_official(src), ["80", "01"])
    assert {(m.epci, m.commune) for m in members} == {("248000531", "80021"), ("248000531", "80620"),
                                                      ("248000531", "60001"), ("200029999", "01304")}
    from dac_map.territories.vintages import read_moves

    bridged = epci.bridge(members, ["80021", "80620", "80999", "80001"], read_moves(moves))
    assert [(m.commune, new) for m, new in bridged] == [("80999", "80620")]
    out = tmp_path / "table.csv"
    epci.build_table(members, bridged, out)
    table = epci.read_epci_table(out)
    assert set(table.communes["248000531"]) == {"80021", "80620", "60001", "80999"}
    assert table.absorbed == {"80999": "80620"} and table.names["248000531"] == "CA Amiens Métropole"

    result = CliRunner().invoke(app, ["inclusion", "epci-table", str(src), "--departement", "80",
                                      "--mouvements", str(moves), "--sortie", str(tmp_path / "cli.csv"),
                                      "--store", str(demo_store)])
    assert result.exit_code == 0, result.output
    assert "Table écrite" in result.output and "communes des contours dans aucun EPCI" in result.output
    assert set(epci.read_epci_table(tmp_path / "cli.csv").communes) == {"248000531"}


def test_read_insee_and_geo_api_layouts(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Composition_communale"
    ws.append(["Intercommunalités au 1er janvier 2025"])
    ws.append(["Source : Insee, Code officiel géographique"])
    ws.append([])
    ws.append(["CODGEO", "LIBGEO", "EPCI", "LIBEPCI", "DEP", "REG"])
    ws.append(["80021", "Amiens", "248000531", "CA Amiens Métropole", "80", "32"])
    ws.append(["29083", "Île-Molène", "ZZZZZZZZZ", "Sans objet", "29", "53"])
    insee = tmp_path / "Intercommunalite_Metropole_au_01-01-2025.xlsx"
    wb.save(insee)
    assert [(m.epci, m.commune, m.nom_epci) for m in epci.read_official(insee)] == [
        ("248000531", "80021", "CA Amiens Métropole")]
    api = tmp_path / "communes.json"
    api.write_text(json.dumps([{"code": "80021", "nom": "Amiens", "codeEpci": "248000531",
                                "epci": {"code": "248000531", "nom": "CA Amiens Métropole", "type": "CA"}},
                               {"code": "29083", "nom": "Île-Molène"}]), encoding="utf-8")
    assert [(m.epci, m.commune, m.nature) for m in epci.read_official(api)] == [("248000531", "80021", "CA")]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"code": "80021", "codeEpci": "12"}]), encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"\$\[0\]"):
        epci.read_official(bad)
    unknown = tmp_path / "x.csv"
    unknown.write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="colonnes non reconnues"):
        epci.read_official(unknown)


_SIREN = st.from_regex(r"2[0-9]{8}", fullmatch=True)
_COMMUNE_CODE = st.from_regex(r"(0[1-9]|[1-8][0-9]|2A|2B)[0-9]{3}", fullmatch=True)
_BAD = {"epci": st.sampled_from(["12345", "2480005310", "24800053A", ""]),
        "commune": st.sampled_from(["8002", "800211", "2C004", "", "Amiens"]),
        "absorbee_par": st.sampled_from(["800", "X0021", "8002A"])}


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_SIREN, _COMMUNE_CODE, st.text(alphabet="abcdeéè -'", max_size=12)), min_size=1,
                max_size=15),
       st.data())
def test_table_reader_names_the_first_bad_row(tmp_path_factory, rows, data):
    """A valid table reads back as written; one corrupted cell is reported at its line and field."""
    path = tmp_path_factory.mktemp("epci") / "t.csv"

    def write(lines):
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(epci.COLUMNS)
            w.writerows(lines)

    lines = [[s, f"EPCI {s}", "CC", c, n, ""] for s, c, n in rows]
    write(lines)
    table = epci.read_epci_table(path)
    want: dict[str, list[str]] = {}
    for s, c, _ in rows:
        if c not in want.setdefault(s, []):
            want[s].append(c)
    assert {k: list(v) for k, v in table.communes.items()} == want
    i = data.draw(st.integers(0, len(lines) - 1))
    field = data.draw(st.sampled_from(sorted(_BAD)))
    lines[i][epci.COLUMNS.index(field)] = data.draw(_BAD[field])
    write(lines)
    with pytest.raises(InputFormatError) as exc:
        epci.read_epci_table(path)
    assert (exc.value.line, exc.value.field) == (i + 2, field)
