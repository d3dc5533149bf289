"""The "Nouveautés depuis la dernière mise à jour" panel, from the store alone."""

from __future__ import annotations

import dataclasses

import pytest
from streamlit.testing.v1 import AppTest

from dac_map.etl import EtlInputs, run_etl
from dac_map.refresh.config import load_config
from dac_map.refresh.pipeline import refresh
from dac_map.testing.refresh import (
    Est,
    extract_bytes,
    sample_rows,
    write_bytes,
    write_departments,
    write_territories,
)
from dac_map.ui.news import TITLE, news_counts, news_table

ROWS = sample_rows(12)
NASTY = "EHPAD <script>alert(1)</script> [x](javascript:alert(1)) :red[rouge] $x$"


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    ws = tmp_path_factory.mktemp("news")
    write_bytes(ws / "src" / "establishments.csv", extract_bytes(ROWS))
    write_departments(ws / "src" / "departments.geojson")
    write_territories(ws / "src" / "territories.csv")
    (ws / "refresh.toml").write_text(
        '[sources]\nestablishments = "src/establishments.csv"\n'
        'departments = "src/departments.geojson"\nterritories = "src/territories.csv"\n'
        '[store]\ncurrent = "build/dac_map.gpkg"\n', encoding="utf-8")
    cfg = load_config(ws / "refresh.toml")
    refresh(cfg).raise_for_status()
    first = ws / "first.gpkg"
    first.write_bytes(cfg.store.current.read_bytes())
    rows = [dataclasses.replace(ROWS[0], name=NASTY)] + ROWS[2:] + [
        Est("460009999", "NOUVEAU SSIAD", "354", "Service de Soins Infirmiers A Domicile (S.S.I.A.D)",
            "46", "102", "46100 FIGEAC", 624000.0, 6391000.0)]
    write_bytes(ws / "src" / "establishments.csv", extract_bytes(rows, source_date="2021-02-05"))
    refresh(cfg).raise_for_status()
    plain = ws / "etl.gpkg"
    run_etl(EtlInputs(establishments=ws / "src" / "establishments.csv",
                      departments=ws / "src" / "departments.geojson"), plain)
    return {"first": first, "second": cfg.store.current, "plain": plain}


def _app(path, dac_id=None):
    def page(path, dac_id):
        from dac_map.ui.news import render_news
        render_news(path, dac_id=dac_id, expanded=True)

    at = AppTest.from_function(page, args=(str(path), dac_id), default_timeout=30)
    return at.run()


def test_pure_tables(stores):
    from dac_map.refresh.diff import load_latest_changes

    changes = load_latest_changes(stores["second"])
    assert news_counts(changes).to_dict("records") == [
        {"Changement": "Ouverture", "Nombre": 1}, {"Changement": "Fermeture", "Nombre": 1},
        {"Changement": "Changement de nom", "Nombre": 1}]
    table = news_table(changes, dac_id="DAC-80")
    assert list(table.columns) == ["Changement", "FINESS", "Nom", "Avant", "Après",
                                   "Distance (m)", "DAC", "Famille"]
    assert table[["Changement", "Nom"]].values.tolist() == [["Changement de nom", NASTY]]
    assert len(news_counts(changes, dac_id="DAC-46")) == 2


def test_panel_shows_counts_and_table_without_markup(stores):
    at = _app(stores["second"])
    assert not at.exception
    assert [e.label for e in at.expander] == [f"{TITLE} (3)"]
    assert "2021-02-05" in at.markdown[0].value and "2021-01-08" in at.markdown[0].value
    frames = [d.value for d in at.dataframe]
    assert frames[0]["Nombre"].tolist() == [1, 1, 1]
    assert NASTY in frames[1]["Nom"].tolist()  # shown as plain text in the table
    assert all("<script>" not in m.value for m in at.markdown)


def test_panel_per_territory_first_version_and_plain_store(stores):
    at = _app(stores["second"], dac_id="DAC-46")
    assert [e.label for e in at.expander] == [f"{TITLE} (2)"]
    at = _app(stores["first"])
    assert [e.label for e in at.expander] == [f"{TITLE} (0)"]
    assert "Première mise à jour" in at.markdown[0].value and at.info[0].value == "Aucun changement."
    at = _app(stores["plain"])  # built by `dac-map etl`: no panel
    assert not at.exception and len(at.expander) == 0
