"""Issue 15 / 10 / 9 in the app logic (AppTest): the « Je cherche » box, the list without
"None", the detail sheet following the results, the link's criteria kept across reruns."""

from __future__ import annotations


import pytest
from streamlit.testing.v1 import AppTest

from dac_map.testing.apptest import pdf_text, result_count, run_app


@pytest.fixture(autouse=True)
def app_settings(ui_store, app_store):
    app_store(ui_store, "DAC-80")


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def categories_of(at: AppTest, store_catalogue, dac: str = "DAC-80") -> set[str]:
    table = at.dataframe[0].value
    return {store_catalogue.establishments["category"].iat[store_catalogue.finess_row[f]]
            for f in table["N° FINESS"]}


@pytest.fixture(scope="module")
def store_catalogue(ui_store):
    from dac_map.query import load_catalogue

    return load_catalogue(ui_store)


@pytest.mark.parametrize("said, category", [("ehpad", "500"), ("ssiad", "354"), ("csapa", "197"),
                                             ("S.S.I.A.D.", "354"), ("EHPAD", "500")])
def test_je_cherche_selects_the_category(said, category, store_catalogue):
    at = run_app({"dac": "DAC-80"})
    at.text_input(key="f_jecherche").input(said).run()
    assert at.multiselect(key="f_categories").value == [category]
    assert at.query_params["categorie"] == category
    est = store_catalogue.establishments
    expected = int(((est["category"].astype(str) == category)
                    & (est["dac_id"].astype(str) == "DAC-80")).sum())
    assert result_count(at) == expected
    assert expected > 0 and categories_of(at, store_catalogue) == {category}


def test_je_cherche_several_meanings_offers_buttons():
    at = run_app({"dac": "DAC-80"})
    before = result_count(at)
    at.text_input(key="f_jecherche").input("soins").run()
    assert result_count(at) == before  # nothing applied yet
    labels = [b.label for b in at.button if b.key and b.key.startswith("need_sugg_")]
    assert "Soins infirmiers à domicile (SSIAD)" in labels
    next(b for b in at.button if b.label == "Soins infirmiers à domicile (SSIAD)").click().run()
    assert at.multiselect(key="f_categories").value == ["354"]
    assert "Soins infirmiers à domicile (SSIAD)" in captions(at)


def test_je_cherche_unknown_word_and_absent_type_are_explained():
    at = run_app({"dac": "DAC-80"})
    before = result_count(at)
    at.text_input(key="f_jecherche").input("zzzz").run()
    assert "Aucun type de ressource ne correspond à « zzzz »" in captions(at)
    at.text_input(key="f_jecherche").input("LAM").run()  # no category 213 in the test store
    assert "Aucune ressource « Lits d'accueil médicalisés (LAM) »" in captions(at)
    assert result_count(at) == before


def test_je_cherche_activity_type_and_clientele():
    at = run_app({"dac": "DAC-80"})
    at.text_input(key="f_jecherche").input("accueil de jour").run()
    assert at.multiselect(key="f_activites").value == ["21"]
    assert at.query_params["activite"] == "21"
    table = at.dataframe[0].value
    assert "Places (spécialité)" in table.columns
    at.text_input(key="f_jecherche").input("unité alzheimer").run()
    assert at.multiselect(key="f_clienteles").value == ["436"]
    assert at.multiselect(key="f_activites").value == []


def test_category_box_puts_the_acronym_first():
    at = run_app({"dac": "DAC-80"})
    box = at.multiselect(key="f_categories")
    labels = [box.format_func(o) if hasattr(box, "format_func") else o for o in box.options]
    assert any(lab.startswith("EHPAD — ") and lab.endswith("(500)") for lab in labels)
    assert not any(lab.startswith("EHPAD") and "(502)" in lab for lab in labels)


def test_no_none_in_the_list_and_placeholder():
    at = run_app({"dac": "DAC-80"})
    table = at.dataframe[0].value
    assert table["Capacité (places)"].isna().any()  # rows without capacity exist...
    proto = at.dataframe[0].proto
    assert proto.placeholder == "—"  # ...and are shown as "—", never "None"


def test_link_criteria_without_widgets_are_kept_across_reruns():
    params = {"dac": "DAC-80", "commune": "80021", "agregat": "4401", "capacite": "10",
              "autorisee": "1"}
    at = run_app(params)
    n = result_count(at)
    at.text_input(key="f_q").input("a").run()
    at.text_input(key="f_q").input("").run()
    for k, v in params.items():
        assert at.query_params[k] == v, k
    assert result_count(at) == n
    assert "Critères du lien conservés" in captions(at)
    next(b for b in at.button if b.label == "Réinitialiser les filtres").click().run()
    assert at.query_params == {"dac": "DAC-80"}


def test_detail_sheet_closes_when_its_establishment_leaves_the_results():
    at = run_app({"dac": "DAC-80", "etab": "800000143"})
    assert at.session_state["focus"] == "800000143"
    at.text_input(key="f_jecherche").input("csapa").run()
    assert at.session_state["focus"] is None
    assert "etab" not in at.query_params


def test_a4_sheet_is_a_real_pdf(downloads):
    at = run_app({"dac": "DAC-80", "etab": "800000143"})
    at.button(key="btn_basket").click().run()
    name = next(n for n in downloads if str(n).endswith(".pdf"))
    data = downloads[name]()
    assert data[:5] == b"%PDF-"
    text = pdf_text(data)
    assert "CH ABBEVILLE" in text and "800000143" in text
    assert "Ressources sélectionnées" in text
    assert "données FINESS du 08/01/2021" in text
    assert "None" not in text and "nan" not in text.split()
    header = text.split("Ressources sélectionnées")[0]
    assert header.count("Somme") == 1  # the DAC's name heads the sheet, not repeated


def test_empty_result_replaces_the_legend():
    from dac_map.ui import map as umap

    import pandas as pd

    layer = umap.build_results_layer(pd.DataFrame(columns=["finess", "lon", "lat", "family"]),
                                     {}, [], legend=[])
    kinds = [type(c).__name__ for c in layer.group._children.values()]
    assert "Legend" in kinds
    legend = next(c for c in layer.group._children.values() if type(c).__name__ == "Legend")
    assert "Familles (0)" in legend.html_js and "Aucune ressource ne correspond" in legend.html_js


def test_a4_sheet_criteria_in_plain_words(downloads):
    at = run_app({"dac": "DAC-80"})
    at.text_input(key="f_jecherche").input("csapa").run()
    first = at.dataframe[0].value["N° FINESS"].iat[0]
    at.session_state["focus"] = first
    at.run()
    at.button(key="btn_basket").click().run()
    name = [n for n in downloads if str(n).endswith(".pdf")][-1]
    text = " ".join(pdf_text(downloads[name]()).split())
    assert "Type de ressource : Addictologie (CSAPA)" in text
    assert "Catégorie FINESS" not in text and "(197)" not in text
