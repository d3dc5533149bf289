"""The app and the coverage page with a road network (AppTest, issue 12): travel times in the
list, sort by time, white zones by time on the coverage page. The network is a FICTITIOUS grid
over the Lot (see the ``lot_network`` fixture)."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from dac_map import settings
from dac_map.coverage import ResourceType, commune_coverage
from dac_map.ui.choropleth import MODE_TIME, classify, coverage_map, legend_classes

from dac_map.testing.apptest import run_app


@pytest.fixture(autouse=True)
def app_settings(demo_store, lot_network, app_store):
    app_store(demo_store, "DAC-46", NETWORK_DIR=lot_network[0])


def test_list_has_travel_time_next_to_the_name_sorted(lot_network):
    at = run_app({"dac": "DAC-46", "autour": "46128", "famille": "pa_hebergement", "n": "12"})
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["Nom", "Durée (min)", "Distance (km)"]
    assert len(table) == 12 and list(table["Durée (min)"]) == sorted(table["Durée (min)"])
    text = " ".join(m.value for m in at.markdown).replace("\\", "")  # Markdown escapes
    assert "durées en voiture par la route" in text
    assert "Les 12 plus proches de la commune Gramat (46128) (temps de trajet en voiture)" in text


def test_specialty_capacity_column_next_to_the_name():
    at = run_app({"dac": "DAC-46", "autour": "46128", "discipline": "924"})
    table = at.dataframe[0].value
    assert list(table.columns[:4]) == ["Nom", "Durée (min)", "Distance (km)", "Places (spécialité)"]
    assert table["Places (spécialité)"].notna().all()


def test_max_minutes_in_the_link(lot_network):
    at = run_app({"dac": "DAC-46", "autour": "46042", "famille": "pa_hebergement", "n": "200",
              "minutes": "25"})
    table = at.dataframe[0].value
    assert len(table) > 0 and (table["Durée (min)"] <= 25).all()
    assert at.number_input(key="f_minutes").value == 25.0


def test_territory_without_network_says_straight_line():
    at = run_app({"dac": "DAC-80", "autour": "80021"})
    table = at.dataframe[0].value
    assert "Durée (min)" not in table.columns and "Distance (km)" in table.columns
    assert any("distances à vol d'oiseau" in m.value for m in at.markdown)
    assert any("Pas de réseau routier pour ce territoire" in c.value for c in at.caption)


def _coverage_app(store: str) -> None:
    from dac_map.ui.coverage_view import render_coverage_mode

    render_coverage_mode(store, "DAC-46")


def test_coverage_page_offers_travel_time(demo_store):
    at = AppTest.from_function(_coverage_app, kwargs={"store": str(demo_store)},
                               default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio[0].value == MODE_TIME
    labels = [m.label for m in at.metric]
    assert "Zones blanches (durée)" in labels and "Durée médiane" in labels
    assert any("Zones blanches :" in s.value and "min en voiture" in s.value for s in at.subheader)


def test_time_choropleth_classes_and_white_zones(demo_catalogue, lot_network):
    cov = commune_coverage(demo_catalogue, "DAC-46", ResourceType.family("pa_hebergement"), 10.0,
                           network=lot_network[1], threshold_min=15)
    page = coverage_map(cov, MODE_TIME, tiles="none").get_root().render()
    payload = json.loads(re.search(r"var P = (\{.*?\});\n", page, re.S).group(1))
    props = {f["properties"]["n"]: f["properties"] for f in payload["data"]["features"]}
    t = cov.table.set_index("name")
    bins = list(settings.COVERAGE_TIME_BINS_MIN)
    for name, p in props.items():
        minutes = t.at[name, "travel_min"]
        assert p["k"] == int(classify([minutes], bins, MODE_TIME)[0])
        assert p["w"] == bool(minutes > 15)
    assert legend_classes([10, 20], MODE_TIME) == ["≤ 10 min", "10 – 20 min", "> 20 min"]
    assert "Zone blanche (\\u0026gt; 15,0 min)" in page  # HTML-escaped, then JSON-escaped
