"""The unmet-need log reduces free text by design: coded reasons, a short optional comment,
retention (purge on open and by CLI), exports without comments unless asked, and old logs keep
working (their rows get the reason "other")."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from dac_map import settings
from dac_map.cli import app
from dac_map.coverage.unmet import (
    list_unmet_needs,
    purge_unmet_needs,
    record_unmet_need,
    retention_cutoff,
    unmet_needs_csv,
)
from dac_map.coverage.unmet_model import REASONS, PersonalDataError, UnmetNeedError

NOW = datetime.now(timezone.utc)


def test_reason_codes_are_stored_and_exported_as_labels(tmp_path):
    db = tmp_path / "u.sqlite"
    assert list(REASONS) == ["no_resource", "no_capacity", "too_far", "waiting_time",
                             "refused_admission", "other"]
    for code in REASONS:
        record_unmet_need("DAC-80", "80021", {"families": ["pa_hebergement"]}, "EHPAD", db_path=db,
                          reason=code)
    frame = list_unmet_needs(db)
    assert sorted(frame["reason"]) == sorted(REASONS)
    rows = list(csv.DictReader(io.StringIO(unmet_needs_csv(frame).decode("utf-8-sig")),
                               delimiter=";"))
    assert sorted(r["motif"] for r in rows) == sorted(REASONS.values())
    with pytest.raises(UnmetNeedError) as exc:
        record_unmet_need("DAC-80", None, {}, "EHPAD", db_path=db, reason="because")
    assert exc.value.field == "reason"


def test_comment_is_short_and_its_limit_is_a_setting(tmp_path, monkeypatch):
    db = tmp_path / "u.sqlite"
    record_unmet_need("DAC-80", None, {}, "EHPAD", "x" * settings.UNMET_COMMENT_MAX_CHARS, db_path=db)
    with pytest.raises(UnmetNeedError) as exc:
        record_unmet_need("DAC-80", None, {}, "EHPAD", "x" * (settings.UNMET_COMMENT_MAX_CHARS + 1),
                          db_path=db)
    assert exc.value.field == "comment" and "dépasse" in exc.value.message
    monkeypatch.setattr(settings, "UNMET_COMMENT_MAX_CHARS", 20)
    with pytest.raises(UnmetNeedError):
        record_unmet_need("DAC-80", None, {}, "EHPAD", "x" * 21, db_path=db)


@pytest.mark.parametrize("comment", [
    "NIR 1_85_05/78 006 084\u200b36", "rappeler le +33 (0)6 12 34 56 78", "née le 3 MARS 1938",
    "fille : s.bernard(at)free", "patiente Zwiebelmann, 86 ans, sortie du CHU", "famille DURAND",
])
def test_obfuscated_personal_data_is_refused_by_the_log(tmp_path, comment):
    with pytest.raises(PersonalDataError):
        record_unmet_need("DAC-80", None, {}, "EHPAD", comment, db_path=tmp_path / "u.sqlite",
                          reason="no_capacity")
    assert not len(list_unmet_needs(tmp_path / "u.sqlite"))


def test_old_logs_keep_working_with_reason_other(tmp_path):
    """A log written before reason codes (schema of the first version) opens, keeps its rows,
    reads them with the reason "other" and accepts new records."""
    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE unmet_needs (id INTEGER PRIMARY KEY AUTOINCREMENT, recorded_at TEXT NOT NULL,
            dac_id TEXT NOT NULL, commune TEXT, resource_type TEXT NOT NULL,
            filters_json TEXT NOT NULL, filters_label TEXT NOT NULL,
            comment TEXT NOT NULL DEFAULT '', recorded_by_role TEXT);
        PRAGMA user_version = 1;""")
    stamp = (NOW - timedelta(days=3)).isoformat(timespec="seconds")
    con.execute("INSERT INTO unmet_needs (recorded_at, dac_id, commune, resource_type, filters_json,"
                " filters_label, comment) VALUES (?, 'DAC-80', '80021', 'SSIAD', '{}', 'SSIAD', "
                "'ancien')", (stamp,))
    con.commit()
    con.close()
    frame = list_unmet_needs(db)
    assert list(frame["reason"]) == ["other"] and list(frame["comment"]) == ["ancien"]
    record_unmet_need("DAC-80", None, {}, "EHPAD", db_path=db, reason="too_far")
    assert sorted(list_unmet_needs(db)["reason"]) == ["other", "too_far"]


def test_retention_purges_on_open(tmp_path, monkeypatch):
    db = tmp_path / "u.sqlite"
    monkeypatch.setattr(settings, "UNMET_RETENTION_MONTHS", 0)  # write old records first
    for months in (30, 25, 23, 1):
        record_unmet_need("DAC-80", None, {}, f"EHPAD {months}", db_path=db,
                          recorded_at=NOW - timedelta(days=months * 30.5))
    assert len(list_unmet_needs(db)) == 4
    monkeypatch.setattr(settings, "UNMET_RETENTION_MONTHS", 24)
    assert sorted(list_unmet_needs(db)["filters_label"]) == ["EHPAD 1", "EHPAD 23"]
    # and the rows are really gone from the file, not hidden
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM unmet_needs").fetchone()[0] == 2
    con.close()


def test_retention_cutoff_is_in_calendar_months():
    t = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
    assert retention_cutoff(1, t) == datetime(2026, 2, 28, 12, tzinfo=timezone.utc)
    assert retention_cutoff(24, t) == datetime(2024, 3, 31, 12, tzinfo=timezone.utc)
    assert retention_cutoff(25, t) == datetime(2024, 2, 29, 12, tzinfo=timezone.utc)
    assert retention_cutoff(3, t) == datetime(2025, 12, 31, 12, tzinfo=timezone.utc)


def test_cli_purge_and_export(tmp_path, monkeypatch):
    db = tmp_path / "u.sqlite"
    monkeypatch.setattr(settings, "UNMET_RETENTION_MONTHS", 0)
    record_unmet_need("DAC-80", None, {}, "EHPAD ancien", "vieux", db_path=db,
                      recorded_at=NOW - timedelta(days=200))
    record_unmet_need("DAC-80", None, {}, "EHPAD récent", "commentaire libre", db_path=db,
                      recorded_at=NOW - timedelta(days=10), reason="waiting_time")
    runner = CliRunner()
    res = runner.invoke(app, ["unmet", "purge", "--db", str(db), "--months", "6"])
    assert res.exit_code == 0, res.output
    assert "1 signalement(s)" in res.output
    assert list(list_unmet_needs(db)["filters_label"]) == ["EHPAD récent"]
    out = tmp_path / "export.csv"
    res = runner.invoke(app, ["unmet", "export", "--db", str(db), "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert "commentaire" not in rows[0] and "commentaire libre" not in out.read_text("utf-8-sig")
    assert rows[1][rows[0].index("motif")] == REASONS["waiting_time"]
    res = runner.invoke(app, ["unmet", "export", "--db", str(db), "-o", str(out), "--with-comments"])
    assert res.exit_code == 0 and "commentaire libre" in out.read_text("utf-8-sig")


def test_cli_without_db_reads_the_setting_when_it_runs(tmp_path, monkeypatch):
    """``--db`` left out: the UNMET_NEEDS_DB setting as it is when the command runs."""
    db = tmp_path / "setting.sqlite"
    record_unmet_need("DAC-80", None, {}, "EHPAD", "un besoin", db_path=db, recorded_at=NOW)
    monkeypatch.setattr(settings, "UNMET_NEEDS_DB", db)
    out = tmp_path / "export.csv"
    res = CliRunner().invoke(app, ["unmet", "export", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert [r[rows[0].index("criteres")] for r in rows[1:]] == ["EHPAD"]


def test_purge_of_a_missing_log_creates_nothing(tmp_path):
    assert purge_unmet_needs(tmp_path / "none.sqlite", 12) == 0
    assert not (tmp_path / "none.sqlite").exists()


def _form_app(db: str) -> None:
    from dac_map.ui.unmet_view import render_unmet_need_button

    render_unmet_need_button("Famille : Personnes âgées — hébergement",
                             {"families": ["pa_hebergement"]}, "DAC-80", "80021", db_path=db,
                             store_path=None, allowed_names=frozenset())


def test_form_records_the_chosen_reason_and_refuses_obfuscated_data(tmp_path):
    from streamlit.testing.v1 import AppTest

    db = str(tmp_path / "u.sqlite")
    at = AppTest.from_function(_form_app, kwargs={"db": db}, default_timeout=20).run()
    assert not at.exception
    reason = at.selectbox(key="unmet_reason")
    assert reason.value == "other" and reason.options[:2] == [REASONS["no_resource"],
                                                              REASONS["no_capacity"]]
    assert at.text_area[0].max_chars == settings.UNMET_COMMENT_MAX_CHARS
    reason.select("too_far")
    at.text_area[0].input("famille GIRARD, tél 06.12.34.56.78")
    at.button[0].click().run()
    assert at.error and "Enregistrement refusé" in at.error[0].value
    assert "06.12" not in at.error[0].value  # the refusal never repeats the data
    at.text_area[0].input("")
    at.button[0].click().run()
    assert at.success and not at.error
    assert list(list_unmet_needs(db)["reason"]) == ["too_far"]


def test_ars_report_counts_needs_by_reason(tmp_path, demo_catalogue):
    from dac_map.coverage import ResourceType, build_report, render_csv, render_html

    db = tmp_path / "u.sqlite"
    codes = ["too_far", "too_far", "no_capacity", "other", "too_far"]
    for code in codes:
        record_unmet_need("DAC-80", "80021", {"v": 1, "famille": ["pa_hebergement"]}, "EHPAD",
                          db_path=db, reason=code, recorded_at=NOW - timedelta(days=2))
    record_unmet_need("DAC-46", None, {}, "SSIAD", db_path=db, reason="waiting_time",
                      recorded_at=NOW - timedelta(days=2))  # another territory: not counted
    rep = build_report(demo_catalogue, "DAC-80", ResourceType(families=("pa_hebergement",)), 20.0,
                       None, 15.0, db, tmp_path / "r", generated_at=NOW)
    expected = {c: codes.count(c) for c in set(codes)}
    assert dict(zip(rep.unmet_by_reason["reason"], rep.unmet_by_reason["needs"])) == expected
    assert list(rep.unmet_by_reason["reason"]) == [c for c in REASONS if c in expected]
    rows = list(csv.reader(io.StringIO(render_csv(rep).decode("utf-8-sig")), delimiter=";"))
    got = {r[1]: int(r[4]) for r in rows if r[0] == "besoins_motif"}
    assert got == expected
    page = render_html(rep)
    assert f"<td>{REASONS['too_far']}</td>" in page and REASONS["waiting_time"] not in page
