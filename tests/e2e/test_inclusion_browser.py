"""The social-resources pages in headless chromium: the fictitious demo is labelled on screen, a
family filter changes the count, a row opens its sheet (source, update date), the stewards'
page saves with a name and journals nothing when nothing changed."""

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

    base = tmp_path_factory.mktemp("social_e2e")
    store = build_ui_store(base / "store.gpkg")
    run_import([], store=store, local_table=DEMO_LOCAL)
    table = base / "DEMO-FICTIF_locales.csv"
    shutil.copyfile(DEMO_LOCAL, table)
    port = free_port()
    proc = start_streamlit(store, port, base / "streamlit.log",
                           extra_env={"DAC_MAP_INCLUSION_LOCAL_TABLE": str(table)})
    yield f"http://127.0.0.1:{port}", table
    stop(proc)


def _count(page) -> int:
    text = page.get_by_text(re.compile(r"\d+ ressource\(s\)")).first.inner_text()
    return int(text.split(" ")[0])


def test_social_page(browser, social_app):
    url, _ = social_app
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/ressources-sociales")
    page.get_by_text("EXEMPLES FICTIFS").first.wait_for(timeout=TIMEOUT)
    with open(DEMO_LOCAL, encoding="utf-8-sig", newline="") as f:
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
    url, table = social_app
    before = table.read_bytes()
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
    page.goto(f"{url}/ressources-locales")
    page.get_by_text("Enregistrer", exact=True).wait_for(timeout=TIMEOUT)
    page.get_by_text("Enregistrer", exact=True).click()
    page.get_by_text("Non enregistré").wait_for(timeout=TIMEOUT)  # no steward name
    page.get_by_label("Votre nom (référent)").fill("Référente A")
    page.get_by_label("Motif de la modification").fill("vérification")
    page.get_by_label("Motif de la modification").press("Enter")
    page.get_by_text("Enregistrer", exact=True).click()
    page.get_by_text("Aucun changement.").wait_for(timeout=TIMEOUT)
    assert table.read_bytes() == before
    page.close()
