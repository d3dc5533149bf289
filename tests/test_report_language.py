"""The ARS report for its readers (issue 15): labels instead of codes, Paris time, French CSV,
75+ ratio only for resources meant for the elderly, the report's frame (period, territory,
data date, changes), charts, and the real PDF read back as text."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from dac_map.coverage import ResourceType, build_report, read_population, record_unmet_need, render_csv, write_report
from dac_map.coverage.labels import need_type_label
from dac_map.coverage.report_render import render_html, render_pdf
from dac_map.query.spec import SearchSpec
from dac_map.settings import DATA_DIR
from dac_map.testing.apptest import pdf_text

POPULATION = DATA_DIR / "reference" / "DEMO-FICTIF_population_75plus_80_46.csv"
Y = datetime.now(timezone.utc).year - 1  # within the log's retention (24 months by default)
T1 = datetime(Y, 3, 31, 22, 30, tzinfo=timezone.utc)  # 1 April, 00:30 in Paris (CEST)
T2 = datetime(Y, 7, 31, 22, 15, tzinfo=timezone.utc)  # 1 August, 00:15 in Paris (CEST)


@pytest.fixture(scope="module")
def population():
    return read_population(POPULATION)


def _log(db):
    record_unmet_need("DAC-80", "80021", SearchSpec(categories=("197",)), "CSAPA", "", db_path=db,
                      recorded_at=datetime(Y, 3, 10, 9, tzinfo=timezone.utc))
    record_unmet_need("DAC-80", "80001", SearchSpec(categories=("197",)), "CSAPA", "", db_path=db,
                      recorded_at=datetime(Y, 3, 12, 9, tzinfo=timezone.utc))
    record_unmet_need("DAC-80", "80001", SearchSpec(categories=("500",)), "EHPAD", "", db_path=db,
                      recorded_at=datetime(Y, 2, 20, 9, tzinfo=timezone.utc))


def test_need_labels_never_codes(demo_catalogue):
    assert need_type_label("197", None, demo_catalogue) == "Addictologie (CSAPA)"
    assert need_type_label("x", '{"v": 1, "categorie": ["178", "197"]}', demo_catalogue) == \
        "Addictologie (CSAPA, CAARUD)"
    assert need_type_label("pa_hebergement", None, demo_catalogue) == "Personnes âgées — hébergement"
    assert need_type_label("texte libre", "pas du json", demo_catalogue) == "texte libre"


def test_report_for_the_ars_reader(demo_catalogue, population, tmp_path):
    db = tmp_path / "u.sqlite"
    _log(db)
    csapa = ResourceType(categories=("197",), label="Addictologie (CSAPA)")
    rep = build_report(demo_catalogue, "DAC-80", csapa, 20.0, population, 15.0, db,
                       tmp_path / "reports", generated_at=T1)
    assert not rep.ratio_meaningful  # CSAPA is not meant for the elderly
    html_text = render_html(rep)
    assert "Places / 1 000 hab. de 75 ans" not in html_text
    assert "non calculé" in html_text
    assert f"01/04/{Y} à 00:30" in html_text  # Paris local time, not 31/03 22:30 UTC
    assert "UTC" not in html_text
    by_type = dict(zip(rep.unmet_by_type["resource_type"], rep.unmet_by_type["needs"]))
    assert by_type == {"Addictologie (CSAPA)": 2, "Maison de retraite médicalisée (EHPAD)": 1}
    assert list(rep.needs_by_month["month"]) == [f"{Y}-02", f"{Y}-03"]
    assert list(rep.needs_by_month["needs"]) == [1, 2]
    assert html_text.count("<figure class='chart'>") >= 3  # type/reason, month, white zones by type
    # white zones by type: independent count for EHPAD by brute force over the commune table
    ehpad = ResourceType(categories=("500",))
    from dac_map.coverage import commune_coverage
    cov = commune_coverage(demo_catalogue, "DAC-80", ehpad, 20.0, None)
    wz = dict(zip(rep.white_zones_by_type["label"], rep.white_zones_by_type["white_zones"]))
    assert wz["Maison de retraite médicalisée (EHPAD)"] == int((cov.table["distance_km"] > 20.0).sum())

    text = pdf_text(render_pdf(rep))
    flat = " ".join(text.split())
    assert "Territoire" in flat and "Somme" in flat
    assert "Période des besoins" in flat and "extraction du 08/01/2021" in flat
    assert "premier rapport pour ce territoire" in flat
    assert "Addictologie (CSAPA)" in flat and "Besoins non couverts par mois" in flat
    assert f"févr. {Y}" in flat and f"mars {Y}" in flat
    assert "<td>197</td>" not in html_text and "Addictologie (CSAPA) 2" in flat  # label, not code
    assert "None" not in flat and "nan" not in flat.split()

    rows = list(csv.reader(io.StringIO(render_csv(rep).decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Section", "Code", "Libellé", "Indicateur", "Valeur"]
    dist = [r[4] for r in rows if r[3] == "distance_km" and r[4] not in ("", "inf")]
    assert any("," in v for v in dist) and not any("." in v for v in dist)  # decimal comma
    write_report(rep, tmp_path / "reports")

    # second report: its frame says what changed since the first
    record_unmet_need("DAC-80", "80021", SearchSpec(categories=("197",)), "CSAPA", "", db_path=db,
                      recorded_at=datetime(Y, 5, 1, 9, tzinfo=timezone.utc))
    second = build_report(demo_catalogue, "DAC-80", csapa, 20.0, population, 15.0, db,
                          tmp_path / "reports", generated_at=T2)
    flat2 = " ".join(pdf_text(render_pdf(second)).split())
    assert f"rapport précédent du 01/04/{Y} à 00:30" in flat2
    assert "indicateur(s) modifié(s)" in flat2
    assert f"01/08/{Y} à 00:15" in flat2  # summer time in Paris


def test_ratio_kept_for_elderly_resources(demo_catalogue, population, tmp_path):
    rep = build_report(demo_catalogue, "DAC-80", ResourceType.family("pa_hebergement"), 20.0,
                       population, 15.0, tmp_path / "u.sqlite", None, generated_at=T1)
    assert rep.ratio_meaningful
    assert "Places / 1 000 hab. de 75 ans ou +" in render_html(rep)
    assert ResourceType(categories=("354",)).for_elderly(demo_catalogue)  # SSIAD: home care
    assert not ResourceType(categories=("156",)).for_elderly(demo_catalogue)  # CMP


def test_dac_number_heads_the_report_and_the_sheet(demo_catalogue, population, tmp_path):
    import dataclasses

    from dac_map.query import Catalogue

    d = demo_catalogue
    terr = d.territories.copy()
    terr["numero"] = ["800012345" if i == "DAC-80" else "" for i in terr["dac_id"]]
    cat = Catalogue.from_frames(d.establishments, equipment=d.equipment, territories=terr,
                                communes=d.communes, departments=d.departments, families=d.families,
                                categories=d.categories, disciplines=d.disciplines, metadata=d.metadata)
    rep = build_report(cat, "DAC-80", ResourceType.family("pa_hebergement"), 20.0, population, 15.0,
                       tmp_path / "u.sqlite", None, generated_at=T1)
    assert "(n° 800012345)" in " ".join(pdf_text(render_pdf(rep)).split())
    assert dataclasses.is_dataclass(rep)
