"""Coverage UI: the choropleth map (pure function) and the Streamlit pieces run in AppTest."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dac_map.coverage import ResourceType, commune_coverage, list_unmet_needs, read_population
from dac_map.settings import DATA_DIR
from dac_map.testing.apptest import unmet_pages_script
from dac_map.ui.choropleth import MODE_DISTANCE, MODE_RATIO, classify, coverage_map, legend_classes

DEMO_POPULATION = DATA_DIR / "reference" / "DEMO-FICTIF_population_75plus_80_46.csv"
XSS = "</script><script>alert(1)</script>"


def test_classes_and_legend():
    bins = [5, 10, 20, 30]
    assert list(classify([0, 5, 5.01, 30, 31, np.inf, np.nan], bins, MODE_DISTANCE)) == [0, 0, 1, 3, 4, 4, -1]
    assert list(classify([0, 24.9, 25, 150, np.nan], [25, 50, 100, 150], MODE_RATIO)) == [0, 0, 1, 4, -1]
    assert legend_classes(bins, MODE_DISTANCE) == ["≤ 5 km", "5 – 10 km", "10 – 20 km", "20 – 30 km", "> 30 km"]
    assert legend_classes([2.5], MODE_RATIO) == ["< 2,5", "≥ 2,5"]


def _payload(html_text: str) -> dict:
    m = re.search(r"var P = (\{.*?\});\n", html_text, re.S)
    assert m, "choropleth payload not found"
    return json.loads(m.group(1))


def test_coverage_map_is_offline_escaped_and_classed(demo_catalogue):
    communes = demo_catalogue.communes.copy()
    communes.loc[communes["code"] == "46042", "name"] = XSS
    evil = dataclasses.replace(demo_catalogue, communes=communes, cache={})
    pop = read_population(DEMO_POPULATION).pop_75plus
    cov = commune_coverage(evil, "DAC-46", ResourceType.family("pa_hebergement"), 10.0, pop, 15.0)
    page = coverage_map(cov, MODE_DISTANCE, tiles="none").get_root().render()
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and all("static/vendor/leaflet" in u for u in urls), urls
    assert "cdn" not in page.lower() and "alert(1)</script>" not in page
    payload = _payload(page)
    feats = payload["data"]["features"]
    assert len(feats) == 320
    by_name = {f["properties"]["n"]: f["properties"] for f in feats}
    assert XSS in by_name  # intact in the data, escaped in the script (\u003c)
    t = cov.table.set_index("code")
    expected = classify(t["distance_km"], [5, 10, 20, 30], MODE_DISTANCE)
    got = [f["properties"]["k"] for f in feats]
    assert got == list(expected)
    assert sum(f["properties"]["w"] for f in feats) == int((t["distance_km"] > 10).sum())
    assert "Zone blanche (&gt; 10,0 km)" in page or "Zone blanche (\\u0026gt; 10,0 km)" in page
    ratio_page = coverage_map(cov, MODE_RATIO, tiles="none").get_root().render()
    assert len(_payload(ratio_page)["data"]["features"]) == 320
    without_pop = commune_coverage(demo_catalogue, "DAC-46", ResourceType.family("pa_hebergement"), 10.0)
    with pytest.raises(ValueError):
        coverage_map(without_pop, MODE_RATIO)


# --------------------------------------------------------------------------- AppTest


def _button_app(db: str, store: str) -> None:
    from dac_map.ui.unmet_view import render_unmet_need_button

    # the label quotes a real establishment name that looks like a person's (public: allowed)
    render_unmet_need_button("Famille : Personnes âgées — hébergement ; à moins de 10 km de "
                             "l'établissement CHRS LOUISE MICHEL COALLIA AMIENS",
                             [{"filter": "FamilyFilter", "families": ["pa_hebergement"]},
                              {"filter": "TerritoryFilter", "communes": ["80410"]}], "DAC-80", None,
                             resource_type="Personnes âgées — hébergement", db_path=db,
                             store_path=store)


def test_unmet_need_button_records_and_refuses(tmp_path, demo_store):
    db = str(tmp_path / "u.sqlite")
    at = AppTest.from_function(_button_app, kwargs={"db": db, "store": str(demo_store)},
                               default_timeout=20).run()
    assert not at.exception
    at.text_area[0].input("Mme Dupont, née le 12/03/1938")
    at.button[0].click().run()
    assert at.error and "Enregistrement refusé" in at.error[0].value
    assert list_unmet_needs(db).empty
    at.text_area[0].input("Pas d'EHPAD avec unité Alzheimer à moins de 30 km de Ham")
    at.button[0].click().run()
    assert not at.error and at.success
    rows = list_unmet_needs(db)
    assert list(rows["comment"]) == ["Pas d'EHPAD avec unité Alzheimer à moins de 30 km de Ham"]
    assert rows["dac_id"].iat[0] == "DAC-80" and rows["commune"].iat[0] == "80410"


def test_needs_page_and_report_download(demo_store, tmp_path):
    from dac_map.coverage import record_unmet_need

    db = str(tmp_path / "u.sqlite")
    record_unmet_need("DAC-80", "80410", {}, "EHPAD", "Pas de place", db_path=db)
    at = AppTest.from_function(unmet_pages_script, kwargs={"store": str(demo_store), "db": db,
                                                   "reports": str(tmp_path / "r")},
                               default_timeout=30).run()
    assert not at.exception
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 1
    report_button = [b for b in at.button if "Préparer le rapport" in b.label][0]
    report_button.click().run()
    assert not at.exception and at.success
    assert sorted(p.suffix for p in (tmp_path / "r").iterdir()) == [".csv", ".html", ".json"]


def _coverage_app(store: str) -> None:
    from dac_map.ui.coverage_view import render_coverage_mode

    render_coverage_mode(store, "DAC-46")


def test_coverage_mode_renders(demo_store):
    at = AppTest.from_function(_coverage_app, kwargs={"store": str(demo_store)}, default_timeout=30).run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Zones blanches" in labels and "Communes" in labels
    assert [m.value for m in at.metric if m.label == "Communes"] == ["320"]


def _raw_rows(path, section: str) -> list[list[str]]:
    import csv

    with open(path, encoding="cp1252", newline="") as f:
        return [r for r in csv.reader(f, delimiter=";") if r and r[0] == section]


def test_coverage_page_counts_a_discipline_with_the_one_rule(demo_store):
    """The page's discipline choice selects what the raw file says is offered (installation
    in force): Somme EHPAD-type establishments with an accueil pour personnes âgées (924) line;
    three such lines have their installation removed but their authorisation kept."""
    import csv

    from dac_map.cli import DEMO_EQUIPMENT, DEMO_ESTABLISHMENTS

    with open(DATA_DIR / "reference" / "categories_familles.csv", encoding="utf-8-sig", newline="") as f:
        family_of = {r["categetab"]: r["famille"] for r in csv.DictReader(f, delimiter=";")}
    somme_pa = {r[1] for r in _raw_rows(DEMO_ESTABLISHMENTS, "structureet")
                if r[13] == "80" and family_of.get(r[18]) == "pa_hebergement"}
    lines = [r for r in _raw_rows(DEMO_EQUIPMENT, "equipementsocial") if r[2] == "924" and r[1] in somme_pa]
    offered = {r[1] for r in lines if r[16] != "O" and r[10] != "0"}
    assert {r[1] for r in lines} - offered  # the file exercises the rule

    at = AppTest.from_function(_discipline_app, kwargs={"store": str(demo_store)}, default_timeout=30).run()
    assert not at.exception
    at.selectbox(key="cov_family").set_value("pa_hebergement").run()
    at.selectbox(key="cov_discipline").set_value("924").run()
    assert not at.exception
    counts = [c.value for c in at.caption if "ressource(s) de ce type" in c.value]
    assert counts == [f"{len(offered)} ressource(s) de ce type dans le territoire ; les distances "
                      "tiennent compte aussi de celles des territoires voisins chargés."]


def _discipline_app(store: str) -> None:
    from dac_map.ui.coverage_view import render_coverage_mode

    render_coverage_mode(store, "DAC-80", population_path="none")
