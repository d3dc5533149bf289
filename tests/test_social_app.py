"""Social resources on the main map page (issue 16), with AppTest: URL -> sidebar -> social list,
the scope, the detail sheet (escaping, source, « mis à jour le », hours in French, quality, FICTIF,
merged sources), the unmet-need log with social criteria, and the map layer's payload. Expected
values come from the raw test table (:mod:`csv`) and the store read with :mod:`sqlite3`."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dac_map import settings
from dac_map.testing.apptest import unescape
from dac_map.ui import map as umap
from dac_map.ui.social_layer import resource_from_tooltip, social_payload

APP = str(Path(__file__).resolve().parents[1] / "app.py")
FOOD = "equipement-et-alimentation"


def _food(r) -> bool:
    return any(t.startswith(FOOD + "--") for t in r["thematiques"].split("|"))


@pytest.fixture(autouse=True)
def app_settings(social_ui_store, monkeypatch, tmp_path):
    monkeypatch.setattr(settings, "STORE_PATH", social_ui_store)
    monkeypatch.setattr(settings, "TILES", "none")
    monkeypatch.setattr(settings, "DEFAULT_DAC", "DAC-80")
    monkeypatch.setattr(settings, "UNMET_NEEDS_DB", tmp_path / "besoins.sqlite")


def run(params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _count(at: AppTest, pattern: str) -> int | None:
    for m in at.markdown:
        hit = re.match(pattern, m.value)
        if hit:
            return int(hit.group(1))
    return None


def social_count(at: AppTest) -> int | None:
    return _count(at, r"\*\*(\d+) ressources? sociales?\*\*")


def finess_count(at: AppTest) -> int | None:
    return _count(at, r"\*\*(\d+) ressources?\*\* correspond")


def test_social_family_from_the_url_shows_only_social_resources(social_raw):
    at = run({"dac": "DAC-80", "famille_sociale": "aide_alimentaire"})
    expected = [r for r in social_raw if _food(r) and r["code_insee"].startswith("80")]
    assert social_count(at) == len(expected) == 2
    assert finess_count(at) is None  # only social criteria: no FINESS list
    assert at.multiselect(key="f_familles_sociales").value == ["aide_alimentaire"]
    frames = [d.value for d in at.dataframe if "Besoin social" in d.value.columns]
    assert set(frames[0]["Nom"]) == {r["nom"] for r in expected}  # hostile name kept as text
    assert set(frames[0]["Type de ressource"]) == {"Ressource sociale — EXEMPLE FICTIF"}


def test_sidebar_filters_and_both_kinds(social_raw):
    at = run({"dac": "DAC-80"})
    assert social_count(at) is None and finess_count(at) > 0  # no social criterion: FINESS only
    n_finess = finess_count(at)
    at.multiselect(key="f_familles_sociales").set_value(["acces_droits"]).run()
    assert social_count(at) == sum("difficultes-administratives" in r["thematiques"] for r in social_raw
                                   if r["code_insee"].startswith("80"))
    at.selectbox(key="f_ressources").set_value("toutes").run()
    assert finess_count(at) == n_finess and social_count(at) == 1
    at.multiselect(key="f_familles_sociales").set_value([]).run()
    at.selectbox(key="f_frais").set_value("payant").run()
    assert social_count(at) == sum(r["frais"] == "payant" and r["code_insee"].startswith("80") for r in social_raw)
    at.selectbox(key="f_frais").set_value("").run()
    at.selectbox(key="f_intervient").set_value("80001").run()  # « Intervient à » Abbeville
    serving = [r for r in social_raw if r["code_insee"].startswith("80")
               and ({"80001", "80"} & set(r["zone_eligibilite"].split("|")))]
    assert social_count(at) == len(serving) == 4
    assert at.query_params["intervient"] == "80001" and at.query_params["ressources"] == "toutes"


def test_sheet_of_a_hostile_social_resource(social_raw):
    at = run({"dac": "DAC-80", "famille_sociale": "aide_alimentaire", "ressource": "local:t-alim-abbeville"})
    raw = next(r for r in social_raw if r["id"] == "t-alim-abbeville")
    text = "\n".join(m.value for m in at.markdown)
    assert "<img" not in text.replace("\\<img", "")  # escaped, never markup
    assert unescape(at.subheader[0].value) == raw["nom"]
    assert "EXEMPLE FICTIF" in text
    assert "**Horaires :** Mercredi \\: de 14 h à 17 h" in text
    assert "mis à jour le 14\\/08\\/2025" in text and "**Source :** ressource locale" in text
    with sqlite3.connect(settings.STORE_PATH) as con:
        (q,) = con.execute("SELECT quality FROM ressources_sociales WHERE resource_id = ?",
                           ("local:t-alim-abbeville",)).fetchone()
    assert f"**Score de qualité data·inclusion :** {q:.2f}".replace(".", ",") in text
    assert at.query_params["ressource"] == "local:t-alim-abbeville"


def test_merged_resource_shows_both_sources_and_opens_the_finess_sheet():
    at = run({"dac": "DAC-80", "ressources": "toutes", "ressource": "local:t-sante-abbeville"})
    text = "\n".join(m.value for m in at.markdown)
    assert "FINESS 800000143" in unescape(text) and "**Sources fusionnées :**" in text
    at.button(key="btn_social_finess").click().run()
    text = unescape("\n".join(m.value for m in at.markdown))
    assert "Aussi référencé comme ressource sociale : **Permanence d'accès aux soins de l'hôpital" in text
    assert at.query_params["etab"] == "800000143" and "ressource" not in dict(at.query_params)


def test_unmet_need_with_social_criteria_is_logged_in_version_4(social_raw):
    at = run({"dac": "DAC-80", "famille_sociale": "aide_alimentaire", "frais": "payant", "intervient": "80016"})
    assert social_count(at) == sum(_food(r) and r["frais"] == "payant"
                                   and bool({"80016", "80"} & set(r["zone_eligibilite"].split("|"))) for r in social_raw)
    assert social_count(at) == 0  # no paying food aid serves Albert: a need to record
    submit = [b for b in at.button if "aucune ressource adaptée" in (b.label or "")]
    submit[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    with sqlite3.connect(settings.UNMET_NEEDS_DB) as con:
        rows = con.execute("SELECT commune, resource_type, filters_json FROM unmet_needs").fetchall()
    assert len(rows) == 1
    commune, rtype, fj = rows[0]
    obj = json.loads(fj)
    assert obj["v"] == 4 and obj["famille_sociale"] == ["aide_alimentaire"] and obj["intervient"] == "80016"
    assert obj["frais"] == "payant"
    assert commune == "80016" and rtype == "social_aide_alimentaire"


def test_social_layer_payload_and_click_reference(social_ui_store, social_raw):
    from dac_map.query import load_catalogue
    from dac_map.query.social import search_social_spec
    from dac_map.query.spec import SearchSpec

    cat = load_catalogue(social_ui_store)
    res = search_social_spec(SearchSpec(resources="sociales"), cat)
    payload = social_payload(res.records)
    feats = payload["data"]["features"]
    assert sorted(f["properties"]["r"] for f in feats) == sorted("local:" + r["id"] for r in social_raw)
    assert all(f["properties"].get("x") == 1 for f in feats)  # every test row is fictitious
    no_finess = res.records.iloc[0:0].assign(finess=[], family=[], category_label=[], commune_name=[])
    layer = umap.build_results_layer(no_finess, {}, social=umap.SocialLayerInput(
        payload, res.counts_by_family(), res.records[["lat", "lon"]], False, total=len(res.records)))
    html = _render(layer)
    assert "onerror=alert(3)" not in html.replace("\\u003cimg src=x onerror=alert(3)\\u003e", "")
    assert "Aide alimentaire et matérielle" in html and "Ressources sociales (5)" in html
    assert resource_from_tooltip("Banque\nRessource sociale · Aide\nRéf. ressource sociale : local:t-x") == "local:t-x"
    assert resource_from_tooltip("N° FINESS 800000143") is None
    # grid aggregation above the limit: counts per cell add up to the located resources
    agg = social_payload(res.records, max_points=2)
    assert agg["mode"] == "aggregate"
    assert sum(f["properties"]["n"] for f in agg["data"]["features"]) == len(social_raw)


def _render(layer) -> str:
    import folium

    m = folium.Map(tiles=None)
    m.add_child(layer.group)
    return m.get_root().render()


def test_je_cherche_a_social_need_and_csv_export(social_raw, downloads):
    import csv
    import io

    at = run({"dac": "DAC-80"})
    at.text_input(key="f_jecherche").input("ehpad").run()
    assert at.multiselect(key="f_categories").value and social_count(at) is None
    at.text_input(key="f_jecherche").input("banque alimentaire").run()
    assert at.multiselect(key="f_familles_sociales").value == ["aide_alimentaire"]
    assert at.multiselect(key="f_categories").value == [] and finess_count(at) is None  # one type at a time
    assert any("Besoin social : Aide alimentaire et matérielle" in c.value for c in at.sidebar.caption)
    food = [r for r in social_raw if _food(r) and r["code_insee"].startswith("80")]
    assert social_count(at) == len(food)
    data = downloads["ressources-sociales.csv"]()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert sorted(r["Identifiant"] for r in rows) == sorted("local:" + r["id"] for r in food)
    hostile = next(r for r in rows if r["Identifiant"] == "local:t-alim-abbeville")
    assert hostile["Nom"] == next(r["nom"] for r in food if r["id"] == "t-alim-abbeville")
    assert hostile["Frais"] == "Payant" and hostile["Exemple fictif"] == "oui"
    at.text_input(key="f_jecherche").input("ssiad").run()  # back to a FINESS type: social filter off
    assert at.multiselect(key="f_familles_sociales").value == [] and social_count(at) is None
