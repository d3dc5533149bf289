"""The stewards' territory editor in headless chromium, on the demo store and the FICTITIOUS
Somme split: a click on a commune of the map adds it, the gap count drops, saving writes a new
version; a save over someone else's change is refused and reported, nothing is lost; the table
exports as CSV."""

from __future__ import annotations

import re
import pytest
from conftest import OUTPUT
from pages import count_shown, open_page, wait_change
from server import free_port, start_streamlit, stop

from dac_map.cli import DEMO_COMMUNES
from dac_map.etl.reference import read_boundaries
from dac_map.territories import DEMO_SET, SqliteTerritoryStore, check_territories, demo_table, read_table
from dac_map.territories.sources import communes_from_files

pytestmark = pytest.mark.e2e

TIMEOUT = 60_000
OUEST = "DEMO-80-OUEST"


@pytest.fixture(scope="module")
def editor(demo_store, browser, tmp_path_factory):
    """(url, territory table path) of an app serving the demo store with a private table."""
    db = tmp_path_factory.mktemp("editor") / "territories.sqlite"
    port = free_port()
    proc = start_streamlit(demo_store, port, tmp_path_factory.getbasetemp() / "streamlit_editor.log",
                           extra_env={"DAC_MAP_TERRITORIES_DB": str(db)})
    try:
        yield f"http://127.0.0.1:{port}", db
    finally:
        stop(proc)


@pytest.fixture
def tab(browser):
    with open_page(browser, viewport={"width": 1400, "height": 1100}, accept_downloads=True) as page:
        yield page


def _gap_communes() -> list[str]:
    """The demo split's gaps, computed from the raw CSV and the commune outlines."""
    items = [t for t in read_table(demo_table()).territories if t.id.startswith("DEMO")]
    report = check_territories(items, communes_from_files(DEMO_COMMUNES[:1]))
    return [g.commune for g in report.gaps]


def _select(page, label: str, option: str) -> None:
    page.wait_for_timeout(500)
    box = page.get_by_role("combobox", name=label, exact=True).last
    box.click()
    page.get_by_role("option", name=re.compile(re.escape(option))).first.click()


def _listed(page) -> int:
    return count_shown(page, r"^\d+ commune\(s\) listée\(s\)", timeout=TIMEOUT)


def _wait_listed(page, before: int) -> int:
    return wait_change(page, _listed, before, "the commune count", tries=400)


def _open_ouest(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("link", name="Territoires DAC (référents)").click()
    page.get_by_text("Territoires DAC — page des référents").wait_for(timeout=TIMEOUT)
    _select(page, "Jeu de territoires", "FICTIVE")
    page.get_by_text("Jeu de démonstration FICTIF").wait_for(timeout=TIMEOUT)
    _select(page, "Territoire à modifier", "DAC Somme Ouest")
    page.get_by_text("Chevauchements (ce territoire)").wait_for(timeout=TIMEOUT)
    page.get_by_label("Votre nom (noté dans l'historique)").fill("Référente A")
    page.get_by_label("Votre nom (noté dans l'historique)").press("Enter")


def _click_commune(page, code: str) -> None:
    """Click, in the editor map, a point inside commune ``code`` (WGS84 -> screen pixels)."""
    communes = read_boundaries(DEMO_COMMUNES[0]).set_index("code")
    pt = communes.geometry[code].representative_point()
    page.wait_for_selector("iframe[title='streamlit_folium.st_folium']", timeout=TIMEOUT)
    frame = None
    for _ in range(300):
        frame = next((f for f in page.frames if "streamlit_folium" in f.url), None)
        if frame is not None and frame.evaluate("() => !!(window.map && window.map.getSize)"):
            break
        page.wait_for_timeout(100)
    page.locator("iframe[title='streamlit_folium.st_folium']").first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    xy = frame.evaluate(f"() => {{ var p = window.map.latLngToContainerPoint([{pt.y}, {pt.x}]);"
                        " return [p.x, p.y]; }")
    box = page.locator("iframe[title='streamlit_folium.st_folium']").first.bounding_box()
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])


def test_editor_click_save_conflict_export(editor, tab):
    url, db = editor
    gaps = _gap_communes()
    assert len(gaps) == 4
    _open_ouest(tab, url)
    before = _listed(tab)
    _click_commune(tab, gaps[0])
    after = _wait_listed(tab, before)
    assert after == before + 1
    tab.get_by_text("Communes dans aucun territoire").first.wait_for(timeout=TIMEOUT)
    tab.get_by_role("button", name="Enregistrer", exact=True).click()
    tab.get_by_text(re.compile(r"Enregistré : DAC Somme Ouest .*version 2")).wait_for(timeout=TIMEOUT)
    store = SqliteTerritoryStore(db)
    saved = store.get(OUEST, DEMO_SET)
    assert saved.version == 2 and gaps[0] in saved.territory.communes
    assert store.history(DEMO_SET, OUEST)[0].author == "Référente A"

    # Someone else saves meanwhile (version 3); our next save must be refused, nothing lost.
    store.save(saved.territory.with_communes(add=[gaps[1]]), 2, "Référent B", set_name=DEMO_SET)
    tab.get_by_text("Coller des codes INSEE ou importer un CSV de communes").click()
    tab.get_by_label(re.compile("Codes INSEE")).fill(gaps[2])
    tab.get_by_role("button", name="Ajouter ces communes").click()
    _wait_listed(tab, after)
    tab.get_by_role("button", name="Enregistrer", exact=True).click()
    tab.get_by_text(re.compile("modifié par quelqu'un d'autre")).wait_for(timeout=TIMEOUT)
    current = store.get(OUEST, DEMO_SET)
    assert current.version == 3 and gaps[1] in current.territory.communes
    assert gaps[2] not in current.territory.communes
    tab.get_by_role("button", name="Réappliquer mes changements sur la version actuelle").click()
    tab.wait_for_timeout(1500)
    tab.get_by_role("button", name="Enregistrer", exact=True).click()
    tab.get_by_text(re.compile(r"Enregistré : .*version 4")).wait_for(timeout=TIMEOUT)
    final = store.get(OUEST, DEMO_SET).territory.communes
    assert {gaps[0], gaps[1], gaps[2]} <= set(final)

    tab.wait_for_timeout(1500)
    button = tab.get_by_role("button", name=re.compile("Exporter la table"))
    assert button.count() == 1
    with tab.expect_download(timeout=TIMEOUT) as info:
        button.click()
    target = OUTPUT / "e2e_territoires.csv"
    info.value.save_as(str(target))
    rows = read_table(target)
    assert rows.issues == [] and rows.versions[OUEST] == 4
    tab.screenshot(path=str(OUTPUT / "e2e_territoires.png"), full_page=True)
    assert tab.errors == []
