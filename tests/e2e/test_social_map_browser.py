"""Social resources on the main map in headless chromium (issue 16): a coordinator opens the
« Filtres des ressources sociales », picks « Aide alimentaire », sees the social markers (their own
layer and legend), clicks one and reads its sheet (source, « mis à jour le », hours in French,
FICTIF badge); hostile names stay text. Expected counts come from the raw test table."""

from __future__ import annotations

import csv
import re

import pytest
from conftest import OUTPUT, _require_browser
from pages import map_frame
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from server import serve_app
from ui_store import SOCIAL_TABLE, build_social_ui_store

pytestmark = pytest.mark.e2e
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def social_map_url(tmp_path_factory):
    _require_browser()
    base = tmp_path_factory.mktemp("social_map_e2e")
    with serve_app(build_social_ui_store(base / "store.gpkg"), base / "streamlit.log") as url:
        yield url


def _raw() -> list[dict[str, str]]:
    with open(SOCIAL_TABLE, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def test_food_aid_markers_and_sheet(browser, social_map_url):
    food = [r for r in _raw() if r["code_insee"].startswith("80")
            and any(t.startswith("equipement-et-alimentation--") for t in r["thematiques"].split("|"))]
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{social_map_url}/?dac=DAC-80")
    frame = map_frame(page, timeout=90_000)  # first load: slow on a loaded machine
    assert frame.evaluate("() => window.dacMapSocial === undefined")  # no social criterion yet

    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Filtres des ressources sociales", exact=True).click()
    box = sidebar.locator("[data-testid='stMultiSelect']").filter(has_text="Besoin social")
    box.wait_for(timeout=TIMEOUT)
    box.locator("input").click()
    box.locator("input").fill("Aide alimentaire")
    option = page.get_by_role("option", name=re.compile("Aide alimentaire et matérielle"))
    option.first.wait_for(timeout=TIMEOUT)  # the list is filtered: pick the family, as a person does
    option.first.click()
    page.keyboard.press("Escape")

    page.get_by_text(re.compile(rf"^{len(food)} ressources sociales")).first.wait_for(timeout=TIMEOUT)
    frame = map_frame(page, "window.dacMapSocial")
    frame.wait_for_function(f"() => window.dacMapSocial.markers === {len(food)}", timeout=TIMEOUT)
    legend = frame.evaluate("() => document.querySelector('.dacmap-legend').innerText")
    assert f"Ressources sociales ({len(food)})" in legend and "Aide alimentaire et matérielle" in legend
    assert "Familles (" not in legend  # only social resources asked for: no FINESS legend
    page.wait_for_function("() => location.search.includes('famille_sociale=aide_alimentaire')", timeout=TIMEOUT)

    amiens = next(r for r in food if r["id"] == "t-alim-amiens")
    sheet = page.locator(".st-key-social_detail")
    for _ in range(5):  # the view may still be re-fitted after a rerun: aim again if the click missed
        point = frame.evaluate("""(rid) => {
            var found = null;
            window.map.eachLayer(function (l) {
                if (l.feature && l.feature.properties && l.feature.properties.r === rid) { found = l; }
            });
            found.bringToFront();
            window.map.setView(found.getLatLng(), 14, {animate: false});
            var p = window.map.latLngToContainerPoint(found.getLatLng());
            return {x: p.x, y: p.y};
        }""", "local:" + amiens["id"])
        page.wait_for_timeout(500)
        frame.locator("#map_div").click(position={"x": point["x"], "y": point["y"]})
        try:
            sheet.wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            try:  # the map may have been redrawn: take its frame again
                frame = map_frame(page, "window.dacMapSocial")
            except AssertionError:
                continue
    sheet.wait_for(timeout=TIMEOUT)
    text = sheet.inner_text()
    assert amiens["nom"] in text and "EXEMPLE FICTIF" in text
    assert "mis à jour le 02/10/2025" in text
    assert "Du lundi au vendredi : de 9 h à 12 h et de 14 h à 17 h" in text
    page.wait_for_function("() => location.search.includes('ressource=local')", timeout=TIMEOUT)
    map_frame(page, "window.dacMap && window.dacMap.rings === 1")  # the shown resource is circled

    hostile = next(r for r in food if r["id"] == "t-alim-abbeville")
    tips = frame.evaluate("""() => {
        var out = [];
        window.map.eachLayer(function (l) { if (l.feature && l.feature.properties.r) { out.push(l.feature.properties.n); } });
        return out;
    }""")
    assert hostile["nom"] in tips  # the name is data, drawn with textContent
    assert page.locator("img[src='x']").count() == 0 and frame.locator("img[src='x']").count() == 0
    page.screenshot(path=str(OUTPUT / "e2e_ressources_sociales_carte.png"), full_page=True)
    assert errors == [] and dialogs == []
    page.close()
