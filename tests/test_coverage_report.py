"""The ARS report (HTML, CSV, snapshots, changes) and the ``coverage``/``report`` CLI commands."""

from __future__ import annotations

import dataclasses
import csv
import io
import json
from datetime import datetime, timezone

import pytest
import typer
from typer.testing import CliRunner

from dac_map.coverage import (
    ResourceType,
    build_report,
    read_population,
    record_unmet_need,
    render_csv,
    render_html,
    write_report,
)
from dac_map import settings
from dac_map.coverage.cli import register
from dac_map.coverage.report import compare_snapshots, latest_snapshot
from dac_map.query import Catalogue
from dac_map.settings import DATA_DIR

DEMO_POPULATION = DATA_DIR / "reference" / "DEMO-FICTIF_population_75plus_80_46.csv"
T1 = datetime(2024, 1, 31, 8, 0, tzinfo=timezone.utc)
T2 = datetime(2024, 4, 30, 8, 0, tzinfo=timezone.utc)
XSS = "<script>alert('x')</script>"


@pytest.fixture(autouse=True)
def _keep_old_records(monkeypatch):
    """The records of these tests are dated 2024: the retention purge (24 months by default,
    tested in test_privacy.py) must not delete them."""
    monkeypatch.setattr(settings, "UNMET_RETENTION_MONTHS", 0)


@pytest.fixture(scope="module")
def population():
    return read_population(DEMO_POPULATION)


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode("utf-8"))
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_report_content_and_escaping(demo_catalogue, population, tmp_path):
    db = tmp_path / "u.sqlite"
    record_unmet_need("DAC-46", "46042", {}, "HAD autour de Cahors", "", resource_type=XSS,
                      db_path=db, recorded_at=datetime(2024, 1, 15, tzinfo=timezone.utc))
    record_unmet_need("DAC-46", "46102", {"families": ["had_palliatif"]}, "HAD", "", db_path=db,
                      recorded_at=datetime(2024, 1, 20, tzinfo=timezone.utc))
    record_unmet_need("DAC-80", "80021", {}, "Autre territoire", "", db_path=db,
                      recorded_at=datetime(2024, 1, 20, tzinfo=timezone.utc))
    territories = demo_catalogue.territories.copy()
    territories.loc[territories["dac_id"] == "DAC-46", "name"] = f"Lot {XSS}"
    evil = dataclasses.replace(demo_catalogue, territories=territories, cache={})
    res = ResourceType(families=("had_palliatif",), label=f"HAD <img src=x onerror=alert(1)>")
    rep = build_report(evil, "DAC-46", res, 25.0, population, 15.0, db, tmp_path / "reports",
                       generated_at=T1)
    html_text = render_html(rep)
    assert "<script" not in html_text.lower() and "<img" not in html_text.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html_text
    assert "@page { size: A4" in html_text and "http" not in html_text  # no external asset
    # independent expectations
    t = rep.coverage.table
    n_wz = int((t["distance_km"] > 25).sum())
    assert rep.summary["white_zones"] == n_wz > 0
    assert f"{n_wz}</b>" in html_text
    assert rep.unmet_total == 2  # the DAC-80 record is not counted
    assert "Premier rapport" in html_text
    assert "FICTIVE" in html_text  # demo population (and capacities) flagged
    for x in rep.white_zones.head(3).itertuples():
        assert x.code in html_text

    rows = _csv_rows(render_csv(rep))
    assert rows[0] == ["Section", "Code", "Libellé", "Indicateur", "Valeur"]  # French (issue 15)
    sections = {r[0] for r in rows[1:]}
    assert {"rapport", "synthese", "famille", "commune", "besoins_type", "besoins_commune"} <= sections
    zb = [r for r in rows if r[0] == "commune" and r[3] == "zone_blanche" and r[4] == "1"]
    assert len(zb) == n_wz
    fam = {r[1]: float(r[4].replace(",", ".")) for r in rows if r[0] == "famille" and r[3] == "etablissements"}
    expected = demo_catalogue.establishments.loc[demo_catalogue.establishments["dac_id"] == "DAC-46", "family"].value_counts()
    assert fam == {k: float(v) for k, v in expected.items()}
    by_type = {r[2]: r[4] for r in rows if r[0] == "besoins_type"}
    # CSV keeps the raw text (not HTML); family ids read from the filters show as labels
    assert by_type == {XSS: "1", "Hospitalisation à domicile / soins palliatifs": "1"}


def test_second_report_lists_changes_since_the_first(demo_catalogue, population, tmp_path):
    db = tmp_path / "u.sqlite"
    reports = tmp_path / "reports"
    res = ResourceType.family("had_palliatif")
    record_unmet_need("DAC-46", "46042", {}, "HAD", "", db_path=db,
                      recorded_at=datetime(2024, 1, 10, tzinfo=timezone.utc))
    first = build_report(demo_catalogue, "DAC-46", res, 25.0, population, 15.0, db, reports, generated_at=T1)
    files = write_report(first, reports)
    assert files.html.exists() and files.csv.exists()
    snap = json.loads(files.snapshot.read_text(encoding="utf-8"))
    assert snap["dac_id"] == "DAC-46" and snap["unmet_total"] == 1

    # Between the reports: two new needs, and one HAD closed (simulated on the tables).
    for day in (2, 3):
        record_unmet_need("DAC-46", "46102", {}, "HAD", "", db_path=db,
                          recorded_at=datetime(2024, 2, day, tzinfo=timezone.utc))
    est = demo_catalogue.establishments
    had = est.index[(est["family"] == "had_palliatif") & (est["dac_id"] == "DAC-46")]
    later = Catalogue.from_frames(
        est.drop(index=had[:1]), equipment=demo_catalogue.equipment, territories=demo_catalogue.territories,
        communes=demo_catalogue.communes, departments=demo_catalogue.departments, families=demo_catalogue.families,
        categories=demo_catalogue.categories, disciplines=demo_catalogue.disciplines, metadata=demo_catalogue.metadata)
    second = build_report(later, "DAC-46", res, 25.0, population, 15.0, db, reports, generated_at=T2)
    assert second.previous is not None and second.previous["generated_at"] == first.generated_at
    assert second.period_start == first.period_end  # default period: since the last report
    assert second.unmet_total == 2
    changes = second.changes.set_index("indicator")
    assert changes.at["famille:had_palliatif:establishments", "change"] == -1
    assert changes.at["besoins:total", "previous"] == 1 and changes.at["besoins:total", "current"] == 2
    expected_new = set(second.white_zones["code"]) - set(first.white_zones["code"])
    assert set(second.white_zones_new) == expected_new and expected_new
    html_text = render_html(second)
    assert "Évolutions depuis le dernier rapport" in html_text and "Nouvelles zones blanches" in html_text
    write_report(second, reports)
    assert latest_snapshot(reports, "DAC-46")["generated_at"] == second.generated_at
    assert latest_snapshot(reports, "DAC-46", before=second.generated_at)["generated_at"] == first.generated_at
    assert latest_snapshot(reports, "DAC-80") is None


def test_changes_ignore_white_zones_when_type_or_threshold_differ():
    a = {"resource_key": "famille=x", "threshold_km": 20, "white_zones": ["1"], "families": {},
         "summary": {"white_zones": 1}, "unmet_total": 0}
    b = dict(a, threshold_km=30, white_zones=["2"])
    frame, new, resolved = compare_snapshots(a, b)
    assert new == [] and resolved == []
    assert "synthese:white_zones" not in set(frame["indicator"])


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()
    register(app)

    @app.command()
    def _noop() -> None:  # a second command so that sub-commands are named
        pass

    return app


def test_cli_coverage_prints_and_writes_csv(cli, demo_store, tmp_path):
    out = tmp_path / "communes.csv"
    fam_out = tmp_path / "familles.csv"
    result = CliRunner().invoke(cli, ["coverage", "--store", str(demo_store), "--dac", "DAC-46",
                                      "-f", "had_palliatif", "-t", "25", "--csv", str(out),
                                      "--families-csv", str(fam_out), "--population", "none"])
    assert result.exit_code == 0, result.output
    assert "Zones blanches" in result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert len(rows) == 320 and "distance_km" in rows[0]
    assert fam_out.exists()


def test_cli_report_writes_three_files(cli, demo_store, tmp_path):
    result = CliRunner().invoke(cli, ["report", "--store", str(demo_store), "--dac", "DAC-80",
                                      "--db", str(tmp_path / "u.sqlite"), "-o", str(tmp_path / "r"),
                                      "--population", str(DEMO_POPULATION)])
    assert result.exit_code == 0, result.output
    names = sorted(p.suffix for p in (tmp_path / "r").iterdir())
    assert names == [".csv", ".html", ".json"]


def test_cli_errors_have_exit_codes(cli, tmp_path):
    result = CliRunner().invoke(cli, ["coverage", "--store", str(tmp_path / "none.gpkg")])
    assert result.exit_code == 6
    result = CliRunner().invoke(cli, ["report", "--store", str(tmp_path / "none.gpkg"),
                                      "--since", "yesterday"])
    assert result.exit_code == 2


def test_cli_error_text_is_printed_as_typed(cli, tmp_path):
    # the value quoted by the error is the user's: Rich markup in it is shown, not applied
    result = CliRunner().invoke(cli, ["report", "--store", str(tmp_path / "none.gpkg"),
                                      "--since", "[red]hier[/red]"])
    assert result.exit_code == 2
    assert "[red]hier[/red]" in result.output
