"""Change report between two known versions built from small extracts in the real layouts."""

from __future__ import annotations

import csv
import dataclasses

import pytest

from dac_map import store
from dac_map.etl import EtlInputs, run_etl
from dac_map.refresh.diff import (
    CHANGES_LAYER,
    COLUMNS,
    Change,
    ChangeReport,
    VersionInfo,
    compare_stores,
    load_change_summary,
    load_latest_changes,
    write_changes_layer,
)
from dac_map.refresh.reports import md, render_html, render_markdown, write_csv, write_reports
from dac_map.testing.refresh import (
    Est,
    equipment_bytes,
    extract_bytes,
    write_bytes,
    write_departments,
    write_territories,
)

# Real establishments of the demo extract (Somme, Lot), Lambert-93 coordinates.
A = Est("800000143", "CH ABBEVILLE", "355", "Centre Hospitalier (C.H.)", "80", "001",
        "80142 ABBEVILLE CEDEX", 616283.0, 7000932.9, "0322255200")
B = Est("800000010", "FV NOTRE DAME HARBONNIÈRES", "382", "Foyer de Vie pour Adultes Handicapés",
        "80", "417", "80131 HARBONNIERES", 676198.6, 6972248.9, "0322853535")
C = Est("800000150", "SSR PCP ALBERT", "109", "Etablissement de santé privé autorisé en SSR",
        "80", "016", "80300 ALBERT", 675335.9, 6989555.7, "0322743000")
D = Est("800000283", "IME LES 4 CHEMINS", "183", "Institut Médico-Educatif (I.M.E.)", "80", "011",
        "80470 AILLY SUR SOMME", 642013.0, 6981181.3, "0322518156")
E = Est("460000045", "CH FIGEAC SITE MAQUISARDS", "355", "Centre Hospitalier (C.H.)", "46", "102",
        "46106 FIGEAC CEDEX", 623030.1, 6390607.4, "0565506550")
F = Est("460002579", "SSIAD DE LUZECH", "354", "Service de Soins Infirmiers A Domicile (S.S.I.A.D)",
        "46", "182", "46140 LUZECH", 563421.7, 6376843.1, "0565202462")
G = Est("460002462", "EHPAD RESIDENCE DU PETIT BOIS", "500",
        "Etablissement d'hébergement pour personnes âgées dépendantes", "46", "224",
        "46090 PRADINES", 573283.7, 6376306.7, "0565532625")
H = Est("460002652", "MAS LE HAMEAU DES SOURCES", "255", "Maison d'Accueil Spécialisée (M.A.S.)",
        "46", "170", "46120 LEYME", 613034.3, 6410166.4, "0565102030")
I = Est("460002678", "PHARMACIE DU COUQUET", "620", "Pharmacie d'Officine", "46", "055",
        "46100 CAPDENAC", 626136.9, 6387280.6, "0565110203")

V1 = [A, B, C, D, E, F, G, H]
V2 = [
    A,
    # B closed
    dataclasses.replace(C, x=C.x + 300, y=C.y + 400, number="12", street="DU MOULIN"),  # 500 m
    dataclasses.replace(D, name="IME LES QUATRE CHEMINS"),
    dataclasses.replace(E, category="106", category_label="Centre hospitalier, ex Hôpital local"),
    dataclasses.replace(F, phone="05 65 20 24 00"),
    G,  # capacity 80/80 -> 90/95 in the equipment extract
    dataclasses.replace(H, x=H.x + 30),  # 30 m: under the threshold, not reported
    I,  # opened
]
EQ1 = [("460002462", "924", 80, 80), ("460002652", "917", 40, 40)]
EQ2 = [("460002462", "924", 90, 95), ("460002652", "917", 40, 40)]


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    deps = write_departments(d / "deps.geojson")
    terr = write_territories(d / "terr.csv")
    out = []
    for name, rows, eq, date in (("v1", V1, EQ1, "2021-01-08"), ("v2", V2, EQ2, "2021-02-05")):
        est = write_bytes(d / f"{name}.csv", extract_bytes(rows, source_date=date))
        equip = write_bytes(d / f"{name}-eq.csv", equipment_bytes(eq, source_date=date))
        run_etl(EtlInputs(establishments=est, departments=deps, equipment=equip, territories=terr),
                d / f"{name}.gpkg")
        out.append(d / f"{name}.gpkg")
    return out


def test_report_on_two_known_versions(versions):
    v1, v2 = versions
    report = compare_stores(v1, v2, moved_threshold_m=100)
    m1, m2 = store.open_store(v1).read_metadata(), store.open_store(v2).read_metadata()
    fam = {"hopitaux": "Hôpitaux et cliniques", "handicap_adultes": "Handicap adultes",
           "handicap_enfants": "Handicap enfants", "domicile": "Aide et soins à domicile (SSIAD, SAAD, SPASAD)",
           "pa_hebergement": "Personnes âgées — hébergement", "pharmacie_biologie": "Pharmacies / biologie"}
    expected = ChangeReport(
        previous=VersionInfo("v1.gpkg", None, "2021-01-08", m1["etl_time"], 8),
        current=VersionInfo("v2.gpkg", None, "2021-02-05", m2["etl_time"], 8),
        moved_threshold_m=100.0,
        capacity_compared=True,
        changes=(
            Change("460002678", "PHARMACIE DU COUQUET", "opened", None,
                   "620 Pharmacie d'Officine — 1 R DE LA GARE, 46100 CAPDENAC",
                   "DAC-46", "pharmacie_biologie", fam["pharmacie_biologie"]),
            Change("800000010", "FV NOTRE DAME HARBONNIÈRES", "closed",
                   "382 Foyer de Vie pour Adultes Handicapés — 1 R DE LA GARE, 80131 HARBONNIERES",
                   None, "DAC-80", "handicap_adultes", fam["handicap_adultes"]),
            Change("800000150", "SSR PCP ALBERT", "moved", "1 R DE LA GARE, 80300 ALBERT",
                   "12 R DU MOULIN, 80300 ALBERT", "DAC-80", "hopitaux", fam["hopitaux"], 500),
            Change("800000283", "IME LES QUATRE CHEMINS", "renamed", "IME LES 4 CHEMINS",
                   "IME LES QUATRE CHEMINS", "DAC-80", "handicap_enfants", fam["handicap_enfants"]),
            Change("460000045", "CH FIGEAC SITE MAQUISARDS", "category",
                   "355 Centre Hospitalier (C.H.)", "106 Centre hospitalier, ex Hôpital local",
                   "DAC-46", "hopitaux", fam["hopitaux"]),
            Change("460002579", "SSIAD DE LUZECH", "phone", "0565202462", "0565202400",
                   "DAC-46", "domicile", fam["domicile"]),
            Change("460002462", "EHPAD RESIDENCE DU PETIT BOIS", "capacity",
                   "installées 80, autorisées 80", "installées 90, autorisées 95",
                   "DAC-46", "pa_hebergement", fam["pa_hebergement"]),
        ),
        counts={"opened": 1, "closed": 1, "moved": 1, "renamed": 1, "category": 1, "phone": 1,
                "capacity": 1},
        by_territory={"DAC-46": {"opened": 1, "category": 1, "phone": 1, "capacity": 1},
                      "DAC-80": {"closed": 1, "moved": 1, "renamed": 1}},
        by_family={"domicile": {"phone": 1}, "handicap_adultes": {"closed": 1},
                   "handicap_enfants": {"renamed": 1}, "hopitaux": {"moved": 1, "category": 1},
                   "pa_hebergement": {"capacity": 1}, "pharmacie_biologie": {"opened": 1}},
        notes=(),
    )
    assert report == expected


def test_threshold_and_first_version(versions):
    v1, v2 = versions
    far = compare_stores(v1, v2, moved_threshold_m=600)
    assert far.counts["moved"] == 0 and far.total == 6
    near = compare_stores(v1, v2, moved_threshold_m=10)
    assert [(c.finess, c.distance_m) for c in near.changes if c.change == "moved"] == [
        ("460002652", 30), ("800000150", 500)]
    first = compare_stores(None, v2)
    assert first.previous is None and first.total == 0 and first.notes


def test_same_store_has_no_change(versions):
    report = compare_stores(versions[0], versions[0])
    assert report.total == 0 and set(report.counts.values()) == {0}
    assert report.by_territory == {} and report.by_family == {}


def test_writers_escape_everything(tmp_path, versions):
    report = compare_stores(*versions)
    nasty = Change("800009999", 'EHPAD <script>alert(1)</script> | "x" & [lien](javascript:x)',
                   "renamed", "=HYPERLINK(\"http://evil\")", "-2+3", "DAC-80", "pa_hebergement",
                   "<b>PA</b>")
    report = dataclasses.replace(report, changes=(*report.changes, nasty))
    page = render_html(report)
    assert "<script>" not in page and "<b>PA</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;PA&lt;/b&gt;" in page
    assert page.count("<table>") == 3 + 7  # counts, territories, families, one per change type
    text = render_markdown(report)
    line = next(ln for ln in text.splitlines() if "800009999" in ln)
    assert line.count(" | ") == 5  # the '|' of the name is escaped, the row keeps 6 cells
    assert r"\<script\>" in line and r"\[lien\]" in line and "<script>" not in line
    assert md("a|b<c>*_") == r"a\|b\<c\>\*\_"
    path = write_csv(report, tmp_path / "c.csv")
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[0] == ["finess", "nom", "changement", "libelle_changement", "avant", "apres",
                       "distance_m", "dac_id", "famille", "libelle_famille"]
    assert len(rows) == 1 + 8
    last = rows[-1]
    assert last[4] == "'=HYPERLINK(\"http://evil\")" and last[5] == "'-2+3"
    assert last[1].startswith("EHPAD <script>")
    moved = next(r for r in rows if r[2] == "moved")
    assert moved[6] == "500"
    paths = write_reports(report, tmp_path / "out" / "changements")
    assert sorted(paths) == ["csv", "html", "md"] and all(p.is_file() for p in paths.values())


def test_changes_layer_round_trip(tmp_path, versions):
    v1, v2 = versions
    assert load_latest_changes(v2) is None  # built by the ETL, not by a refresh
    assert load_change_summary(v2) is None
    assert load_latest_changes(tmp_path / "absent.gpkg") is None
    copy = tmp_path / "v2.gpkg"
    copy.write_bytes(v2.read_bytes())
    report = compare_stores(v1, copy)
    write_changes_layer(report, copy)
    assert CHANGES_LAYER in store.open_store(copy).layers()
    frame = load_latest_changes(copy)
    assert list(frame.columns) == list(COLUMNS)
    assert frame.astype(object).where(frame.notna(), None).to_dict("records") == \
        report.to_frame().astype(object).where(report.to_frame().notna(), None).to_dict("records")
    empty = dataclasses.replace(report, changes=())
    write_changes_layer(empty, copy)
    assert len(load_latest_changes(copy)) == 0
