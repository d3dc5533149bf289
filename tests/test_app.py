"""The Streamlit script logic, with streamlit.testing.v1.AppTest: filters -> result count,
URL parameters -> state, contents of the exports, hostile names shown as text."""

from __future__ import annotations

import csv
import io
import json

import pytest
from e2e.ui_store import KNOWN_FINESS, KNOWN_NAME, NASTY
from openpyxl import load_workbook
from streamlit.testing.v1 import AppTest

from dac_map import settings
from dac_map.testing.apptest import APP, markdown_text, result_count, run_app, unescape


@pytest.fixture(autouse=True)
def app_settings(ui_store, app_store):
    app_store(ui_store, "DAC-80")


def file_of(downloads: dict[str, object], extension: str) -> bytes:
    names = [n for n in downloads if str(n).endswith("." + extension)]
    assert names, f"no .{extension} download among {list(downloads)}"
    data = downloads[names[-1]]()
    return data if isinstance(data, bytes) else data.encode("utf-8")


def test_default_territory_and_url():
    at = run_app()
    assert at.selectbox(key="f_dac").value == "DAC-80"
    assert result_count(at) == 915  # 912 demo establishments of the Somme + 3 hostile test ones
    assert at.query_params == {"dac": "DAC-80"}
    assert "Territoire DAC" in markdown_text(at)
    assert "extraites le 08/01/2021" in unescape("\n".join(c.value for c in at.caption))
    warning = "\n".join(w.value for w in at.warning)
    assert "FICTIVES" in warning  # illustrative capacities are labelled


def test_filters_change_the_count_and_the_url():
    at = run_app({"dac": "DAC-80"})
    total = result_count(at)
    at.multiselect(key="f_familles").set_value(["pa_hebergement"]).run()
    ehpad = result_count(at)
    assert 0 < ehpad < total
    at.number_input(key="f_capacite").set_value(60).run()
    big = result_count(at)
    assert 0 < big < ehpad
    assert at.query_params["famille"] == "pa_hebergement" and at.query_params["capacite"] == "60"
    assert "Capacité installée ≥ 60 places" in markdown_text(at)
    reset = next(b for b in at.button if b.label == "Réinitialiser les filtres")
    reset.click().run()
    assert result_count(at) == total
    assert at.query_params == {"dac": "DAC-80"}


def test_typo_search_finds_a_known_establishment():
    at = run_app({"dac": "DAC-80"})
    at.text_input(key="f_q").input("ch abevile").run()
    n = result_count(at)
    assert 1 <= n < 50
    table = at.dataframe[0].value
    assert KNOWN_NAME in list(table["Nom"])
    assert at.query_params["q"] == "ch abevile"
    assert "Recherche \\: « ch abevile »" in markdown_text(at)


def test_around_a_commune_adds_distances():
    at = run_app({"dac": "DAC-80", "autour": "Abbeville", "rayon": "5"})
    n = result_count(at)
    assert 0 < n < 200
    table = at.dataframe[0].value
    assert "Distance (km)" in table.columns
    assert (table["Distance (km)"] <= 5.0).all()
    assert list(table["Distance (km)"]) == sorted(table["Distance (km)"])  # nearest first
    assert "À moins de 5 km du centre de la commune Abbeville \\(80001\\)" in markdown_text(at)


def test_url_parameters_set_the_widgets():
    at = run_app({"dac": "DAC-80", "famille": "pa_hebergement,domicile", "q": "amiens",
              "capacite": "10", "rayon": "7.5", "autour": "80021", "tri": "name",
              "etab": KNOWN_FINESS})
    assert at.multiselect(key="f_familles").value == ["pa_hebergement", "domicile"]
    assert at.text_input(key="f_q").value == "amiens"
    assert at.number_input(key="f_capacite").value == 10
    assert at.number_input(key="f_rayon").value == 7.5
    assert at.selectbox(key="f_autour").value == "80021"
    assert at.selectbox(key="f_tri").value == "name"
    assert at.session_state["focus"] == KNOWN_FINESS
    assert "CH ABBEVILLE" in [h.value for h in at.subheader]  # detail panel of the linked one
    assert at.query_params["etab"] == KNOWN_FINESS


def test_bad_url_parameters_do_not_break_the_page():
    at = run_app({"dac": "DAC-XX", "famille": "nope", "capacite": "lots", "etab": "123",
              "autour": "Nulle-Part-Sur-Mer"})
    assert at.selectbox(key="f_dac").value == "DAC-80"
    warnings = "\n".join(w.value for w in at.warning)
    assert "Territoire inconnu" in warnings and "Capacité minimale illisible" in warnings
    assert "Nulle\\-Part\\-Sur\\-Mer" in warnings


def test_detail_panel_shows_hostile_names_as_text():
    finess = "800999991"
    at = run_app({"dac": "DAC-80", "etab": finess})
    body = markdown_text(at)
    assert "\\<script\\>alert\\(1\\)\\<\\/script\\> EHPAD TEST" in [h.value for h in at.subheader]
    assert "<script>" not in body  # never raw markup in Markdown
    assert [m.value for m in at.markdown if m.proto.allow_html] == []  # no raw HTML at all
    assert f"N° FINESS {finess}" in body
    assert "[03 22 99 99 90](tel:0322999990)" in body


def test_exports_contents(downloads):
    at = run_app({"dac": "DAC-80", "famille": "pa_hebergement"})
    n = result_count(at)
    rows = list(csv.reader(io.StringIO(file_of(downloads, "csv").decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["N° FINESS", "Nom", "Raison sociale longue"]
    assert len(rows) == n + 1
    assert NASTY["800999991"] in [r[1] for r in rows]
    wb = load_workbook(io.BytesIO(file_of(downloads, "xlsx")))
    assert wb["Ressources"].max_row == n + 1
    about = dict(wb["À propos"].iter_rows(min_row=2, values_only=True))
    assert about["Nombre de ressources"] == str(n)
    assert "Personnes âgées — hébergement" in about["Critères"]
    gj = json.loads(file_of(downloads, "geojson"))
    assert len(gj["features"]) == n
    assert all(f["properties"]["family_label"] == "Personnes âgées — hébergement" for f in gj["features"])


def test_a4_sheet_of_selected_resources(downloads):
    at = run_app({"dac": "DAC-80", "etab": "800999992"})
    sheet_button = at.get("download_button")[-1]
    assert sheet_button.proto.disabled
    at.button(key="btn_basket").click().run()
    assert at.session_state["basket"] == ["800999992"]
    at.query_params["etab"] = KNOWN_FINESS
    at.session_state["focus"] = KNOWN_FINESS
    at.run()
    at.button(key="btn_basket").click().run()
    assert at.session_state["basket"] == ["800999992", KNOWN_FINESS]
    page = file_of(downloads, "html").decode("utf-8")
    assert page.count('<section class="item">') == 2
    assert "CENTRE &quot;L&#x27;ÉCHO&quot; &lt;img src=x onerror=alert(2)&gt;" in page
    assert "<img" not in page and "<script" not in page
    assert "CH ABBEVILLE" in page and "DAC Somme" in page


def test_search_around_an_establishment(ui_store):
    at = run_app({"dac": "DAC-80", "etab": KNOWN_FINESS})
    at.button(key="btn_around").click().run()
    assert at.session_state["f_autour"] == KNOWN_FINESS
    # issue 12: the nearest ones by default, no radius to guess
    assert at.query_params["autour"] == KNOWN_FINESS and "rayon" not in at.query_params
    assert ("Les 10 plus proches de l'établissement CH ABBEVILLE (800000143) (à vol d'oiseau)"
            in unescape(markdown_text(at)))
    table = at.dataframe[0].value
    # expected independently: geodesic distances (pyproj.Geod) from the raw coordinates
    from pyproj import Geod

    from dac_map.query import TerritoryFilter, load_catalogue
    from dac_map.query import search as qsearch
    cat = load_catalogue(ui_store)
    terr = qsearch(cat, [TerritoryFilter(dac_id="DAC-80")], page_size=None).records
    centre = terr.loc[terr["finess"] == KNOWN_FINESS].iloc[0]
    others = terr[(terr["finess"] != KNOWN_FINESS) & terr["lon"].notna()]
    _, _, d = Geod(ellps="GRS80").inv([centre["lon"]] * len(others), [centre["lat"]] * len(others),
                                      others["lon"].to_numpy(), others["lat"].to_numpy())
    km = sorted(d / 1000.0)[:10]
    assert KNOWN_FINESS not in list(table["N° FINESS"])  # the centre itself is not listed
    assert list(table["Distance (km)"]) == pytest.approx([round(x, 1) for x in km], abs=0.11)
    # the radius stays available as an explicit filter (and links with a radius keep it)
    at = run_app({"dac": "DAC-80", "autour": KNOWN_FINESS, "rayon": "10"})
    assert at.radio(key="f_mode").value == "rayon" and at.query_params["rayon"] == "10"
    assert "À moins de 10 km de l'établissement CH ABBEVILLE (800000143)" in unescape(markdown_text(at))
    table = at.dataframe[0].value
    at_zero = table.loc[table["Distance (km)"] == 0.0, "N° FINESS"]
    assert KNOWN_FINESS in list(at_zero) and table.index[table["N° FINESS"] == KNOWN_FINESS][0] < len(at_zero)


def test_territory_change_resets_the_centre_and_the_page():
    at = run_app({"dac": "DAC-80", "page": "3"})
    assert at.number_input(key="f_page").value == 3
    first_page3 = at.dataframe[0].value["N° FINESS"].iloc[0]
    assert at.query_params["page"] == "3"
    at.selectbox(key="f_dac").set_value("DAC-46").run()
    assert result_count(at) == 373  # the Lot
    assert at.number_input(key="f_page").value == 1
    assert at.query_params == {"dac": "DAC-46"}
    assert at.dataframe[0].value["N° FINESS"].iloc[0] != first_page3


def test_national_view_is_aggregated(monkeypatch):
    monkeypatch.setattr(settings, "MAP_MAX_POINTS", 500)
    at = run_app({"dac": "france"})
    assert result_count(at) == 1288
    infos = "\n".join(i.value for i in at.info)
    assert "Vue agrégée : 1288 ressources regroupées en" in infos


def map_args(at: AppTest) -> dict:
    (component,) = [e for e in at.get("component_instance")
                    if e.proto.component_name == "streamlit_folium.st_folium"]
    return json.loads(component.proto.json_args)


def test_map_component_returns_only_clicks_and_keeps_its_iframe():
    at = run_app({"dac": "DAC-80"})
    before = map_args(at)
    assert before["returned_objects"] == ["last_object_clicked", "last_object_clicked_tooltip"]
    assert before["js_links"] == ["../../app/static/vendor/leaflet-1.9.4/leaflet.js"]
    assert before["css_links"] == ["../../app/static/vendor/leaflet-1.9.4/leaflet.css"]
    assert "tileLayer" not in before["script"]  # tiles off in the tests
    at.multiselect(key="f_familles").set_value(["hopitaux"]).run()
    after = map_args(at)
    assert after["key"] == before["key"]  # same base map: the iframe is kept...
    assert after["script"] == before["script"]
    assert after["feature_group"] != before["feature_group"]  # ...only the results change
    assert len(after["feature_group"]) < len(before["feature_group"])


def test_missing_store_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setattr(settings, "STORE_PATH", tmp_path / "absent.gpkg")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    (error,) = at.error
    assert "dac-map demo" in error.value and "absent" in error.value
