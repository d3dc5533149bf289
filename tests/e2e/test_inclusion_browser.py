"""The social-resources pages in headless chromium: the fictitious demo is labelled on screen, a
family filter changes the count, a row opens its sheet (source, update date), the stewards'
page saves with a name and journals nothing when nothing changed; a steward separates a FINESS
match proposed by the import, with a reason, and the decision is saved and journaled."""

from __future__ import annotations

import csv
import re
import shutil

import pytest
from conftest import OUTPUT, _require_browser
from server import ROOT, free_port, start_streamlit, stop
from ui_store import build_ui_store

pytestmark = pytest.mark.e2e
TIMEOUT = 30_000
DEMO_LOCAL = ROOT / "data" / "inclusion" / "DEMO-FICTIF_ressources_locales_80_46.csv"


@pytest.fixture(scope="module")
def social_app(tmp_path_factory):
    _require_browser()
    from dac_map.inclusion.importer import run_import

    from dac_map.testing.inclusion import local_table_with_finess_copy

    base = tmp_path_factory.mktemp("social_e2e")
    store = build_ui_store(base / "store.gpkg")
    with_copy, proposed, _ = local_table_with_finess_copy(base / "avec_copie.csv")
    run_import([], store=store, local_table=with_copy)
    table = base / "DEMO-FICTIF_locales.csv"
    shutil.copyfile(with_copy, table)
    decisions = base / "decisions.csv"
    port = free_port()
    proc = start_streamlit(store, port, base / "streamlit.log",
                           extra_env={"DAC_MAP_INCLUSION_LOCAL_TABLE": str(table),
                                      "DAC_MAP_INCLUSION_OVERRIDES": str(decisions)})
    yield f"http://127.0.0.1:{port}", table, decisions, proposed
    stop(proc)


def _count(page) -> int:
    text = page.get_by_text(re.compile(r"\d+ ressource\(s\)")).first.inner_text()
    return int(text.split(" ")[0])


def _open(browser, url: str, height: int = 1000):
    """A French page at ``url`` and the list its JavaScript errors go to."""
    page = browser.new_page(viewport={"width": 1440, "height": height}, locale="fr-FR")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors


def test_social_page(browser, social_app):
    url, table, _, _ = social_app
    page, errors = _open(browser, f"{url}/ressources-sociales")
    page.get_by_text("EXEMPLES FICTIFS").first.wait_for(timeout=TIMEOUT)
    with open(table, encoding="utf-8-sig", newline="") as f:  # the table imported: demo + one copy
        raw = list(csv.DictReader(f, delimiter=";"))
    page.get_by_text(re.compile(r"\d+ ressource\(s\)")).first.wait_for(timeout=TIMEOUT)
    assert _count(page) == len(raw)
    box = page.locator("[data-testid='stMultiSelect']").filter(has_text="Famille")
    box.locator("input").click()
    box.locator("input").fill("Famille et aid")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    caregivers = {"famille--soutien-aidants", "famille--prise-en-charge-personne-dependante"}
    expected = sum(bool(caregivers & set(r["thematiques"].split("|"))) for r in raw)
    page.wait_for_function(f"() => document.body.innerText.includes('{expected} ressource(s)')", timeout=TIMEOUT)
    page.screenshot(path=str(OUTPUT / "ressources_sociales.png"), full_page=True)
    assert errors == []
    page.close()


def test_steward_page_save(browser, social_app):
    url, table, _, _ = social_app
    before = table.read_bytes()
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
    page.goto(f"{url}/ressources-locales")
    page.get_by_text("Enregistrer", exact=True).wait_for(timeout=TIMEOUT)
    page.get_by_text("Enregistrer", exact=True).click()
    page.get_by_text("Non enregistré").wait_for(timeout=TIMEOUT)  # no steward name
    page.locator(".st-key-stw_author input").fill("Référente A")
    page.get_by_label("Motif de la modification").fill("vérification")
    page.get_by_label("Motif de la modification").press("Enter")
    page.get_by_text("Enregistrer", exact=True).click()
    page.get_by_text("Aucun changement.").wait_for(timeout=TIMEOUT)
    assert table.read_bytes() == before
    page.close()


def test_steward_separates_a_finess_match(browser, social_app):
    url, _, decisions, proposed = social_app
    page, errors = _open(browser, f"{url}/ressources-locales", height=1100)
    page.get_by_role("tab", name="Correspondances FINESS ↔ data·inclusion").click()
    form = page.locator(".st-key-dec_form")
    form.wait_for(timeout=TIMEOUT)
    pair = form.get_by_label("Paire")
    pair.wait_for(timeout=TIMEOUT)
    assert f"(FINESS {proposed}) — nom et adresse proches — lié" in pair.input_value()  # the first choice
    form.get_by_text("Séparer (structures différentes)").click()
    form.get_by_label("Motif (obligatoire pour lier ou séparer)").fill("antenne distincte, même nom")
    form.get_by_label("Votre nom (référent)").fill("Référente A")
    form.get_by_label("Votre nom (référent)").press("Enter")
    form.get_by_text("Enregistrer la décision").click()
    page.get_by_text("appliqué au prochain import").wait_for(timeout=TIMEOUT)
    page.get_by_text("Journal des décisions").wait_for(timeout=TIMEOUT)
    with open(decisions, encoding="utf-8-sig", newline="") as f:
        saved = list(csv.DictReader(f, delimiter=";"))
    assert saved == [{"resource_id": "local:copie-finess", "finess": proposed, "decision": "separer",
                      "motif": "antenne distincte, même nom"}]
    page.screenshot(path=str(OUTPUT / "correspondances_finess.png"), full_page=True)
    assert errors == []
    page.close()
