"""Social resources on the main map in headless chromium (issue 16): a coordinator opens the
« Filtres des ressources sociales », picks « Aide alimentaire », sees the social markers (their own
layer and legend), clicks one and reads its sheet (source, « mis à jour le », hours in French,
FICTIF badge); hostile names stay text. Expected counts come from the raw test table."""

from __future__ import annotations

import csv
import re

import pytest
from conftest import OUTPUT, _require_browser
from pages import map_frame, reveal
from playwright.sync_api import Error as PlaywrightError
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


def _pick(page, box, typed: str, option_name: str, url_part: str, tries: int = 5) -> None:
    """Type ``typed`` in the multiselect ``box`` and pick the option ``option_name``, as a person
    does, until the URL holds ``url_part`` (the app took the choice). A rerun may close the list
    or redraw the box while typing: type again, unless the choice is already there."""
    option = page.get_by_role("option", name=re.compile(option_name))
    chosen = box.get_by_text(option_name)
    for _ in range(tries):
        if not chosen.count():
            try:
                box.locator("input").click()
                box.locator("input").fill(typed)
                option.first.click(timeout=10_000)  # the list is filtered: pick the family
                page.keyboard.press("Escape")
            except PlaywrightError:
                continue
        try:
            page.wait_for_function(f"() => location.search.includes({url_part!r})", timeout=TIMEOUT)
            return
        except PlaywrightTimeout:
            pass
    raise AssertionError(f"the app did not take « {option_name} »")


#: Aim at a social marker (``rid``) once the map is still: no fit or zoom animation running
#: (``setView`` is ignored during one), the marker in front at zoom 14 in the middle of the
#: map. Its container point, or null to wait.
_AIM = """(rid) => {
    var m = window.map, found = null;
    if (!m || m._animatingZoom || (m._panAnim && m._panAnim._inProgress)) { return null; }
    m.eachLayer(function (l) {
        if (l.feature && l.feature.properties && l.feature.properties.r === rid) { found = l; }
    });
    if (!found) { return null; }
    found.bringToFront();
    m.setView(found.getLatLng(), 14, {animate: false});
    var p = m.latLngToContainerPoint(found.getLatLng()), s = m.getSize();
    if (m.getZoom() !== 14 || p.x < 1 || p.y < 1 || p.x > s.x - 1 || p.y > s.y - 1) { return null; }
    return {x: p.x, y: p.y};
}"""


def _click_marker(page, rid: str, tries: int = 5) -> None:
    """Click the social marker ``rid`` as a person does, until streamlit-folium took the click
    on that marker (its tooltip, with the resource id, is the value it sends to the app)."""
    took = ("(rid) => !!window.__GLOBAL_DATA__ && String(window.__GLOBAL_DATA__"
            ".last_object_clicked_tooltip || '').includes(rid)")
    for _ in range(tries):
        try:
            frame = map_frame(page, "window.dacMapSocial", timeout=TIMEOUT)
            point = frame.wait_for_function(_AIM, arg=rid, timeout=TIMEOUT).json_value()
            frame.locator("#map_div").click(position=point)
            frame.wait_for_function(took, arg=rid, timeout=5_000)
            return
        except (PlaywrightError, AssertionError):  # map redrawn or re-fitted meanwhile: aim again
            continue
    raise AssertionError(f"the marker {rid} could not be clicked")


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
    box = sidebar.locator("[data-testid='stMultiSelect']").filter(has_text="Besoin social")
    # the map's first value reruns the app: the expander may be redrawn closed after the click
    reveal(page, sidebar.get_by_text("Filtres des ressources sociales", exact=True), box)
    _pick(page, box, "Aide alimentaire", "Aide alimentaire et matérielle",
          "famille_sociale=aide_alimentaire")

    page.get_by_text(re.compile(rf"^{len(food)} ressources sociales")).first.wait_for(timeout=TIMEOUT)
    frame = map_frame(page, f"window.dacMapSocial && window.dacMapSocial.markers === {len(food)}",
                      timeout=TIMEOUT)
    legend = frame.evaluate("() => document.querySelector('.dacmap-legend').innerText")
    assert f"Ressources sociales ({len(food)})" in legend and "Aide alimentaire et matérielle" in legend
    assert "Familles (" not in legend  # only social resources asked for: no FINESS legend

    amiens = next(r for r in food if r["id"] == "t-alim-amiens")
    sheet = page.locator(".st-key-social_detail")
    _click_marker(page, "local:" + amiens["id"])
    sheet.wait_for(timeout=TIMEOUT)  # the click reached the app: its rerun may be slow under load
    text = sheet.inner_text()
    assert amiens["nom"] in text and "EXEMPLE FICTIF" in text
    assert "mis à jour le 02/10/2025" in text
    assert "Du lundi au vendredi : de 9 h à 12 h et de 14 h à 17 h" in text
    page.wait_for_function("() => location.search.includes('ressource=local')", timeout=TIMEOUT)
    frame = map_frame(page, "window.dacMap && window.dacMap.rings === 1")  # the shown resource is circled

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
