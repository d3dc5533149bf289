"""Coverage and report pages for their readers (issue 15), in AppTest: a precise resource type
(sigle / FINESS category) instead of a whole family, the 75+ ratio only for the elderly,
labels and Paris time in the unmet-need list, the ARS report as a PDF."""

from __future__ import annotations

from datetime import datetime, timezone

from streamlit.testing.v1 import AppTest

from dac_map.coverage import commune_coverage, record_unmet_need
from dac_map.coverage.resources import ResourceType
from dac_map.query.spec import SearchSpec
from dac_map.testing.apptest import unmet_pages_script


def _coverage_app(store: str) -> None:
    from dac_map.ui.coverage_view import render_coverage_mode

    render_coverage_mode(store, "DAC-80")


def test_coverage_by_a_precise_type(demo_store, demo_catalogue):
    at = AppTest.from_function(_coverage_app, kwargs={"store": str(demo_store)}, default_timeout=60).run()
    assert not at.exception
    assert len(at.radio[0].options) == 2  # default family: elderly housing -> ratio offered
    box = at.selectbox(key="cov_precise")
    assert "Addictologie (CSAPA)" in box.options and "Maison de retraite médicalisée (EHPAD)" in box.options
    box.set_value("Addictologie (CSAPA)").run()
    assert not at.exception
    assert len(at.radio[0].options) == 1  # no 75+ ratio for CSAPA
    cov = commune_coverage(demo_catalogue, "DAC-80", ResourceType(categories=("197",)), 20.0, None)
    expected = int((cov.table["distance_km"] > 20.0).sum())
    assert [m.value for m in at.metric if m.label == "Zones blanches"] == [str(expected)]


def test_needs_list_labels_and_report_pdf(demo_store, tmp_path):
    db = str(tmp_path / "u.sqlite")
    now = datetime.now(timezone.utc).replace(hour=22, minute=30, second=0, microsecond=0)
    record_unmet_need("DAC-80", "80021", SearchSpec(categories=("197",)), "CSAPA", "", db_path=db,
                      recorded_at=now.replace(day=1) if now.day > 1 else now)
    at = AppTest.from_function(unmet_pages_script, kwargs={"store": str(demo_store), "db": db,
                                                   "reports": str(tmp_path / "r")},
                               default_timeout=60).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Type"]) == ["Addictologie (CSAPA)"]
    assert "Date (heure de Paris)" in table.columns
    assert table["Date (heure de Paris)"].iat[0].endswith(("23:30", "00:30"))  # UTC+1 / UTC+2
    next(b for b in at.button if "Préparer le rapport" in b.label).click().run()
    assert not at.exception
    pdf = at.session_state["ars_pdf"]
    assert pdf[:5] == b"%PDF-"
