"""Issue 12 in headless chromium at 1366×768: the map follows the search (centre marker,
reachable area by road or radius circle, view fitted to the results), the first rows of the
list are visible beside the map, and selecting a row pans to its marker without zooming in nor
hiding the other results. The road network is a FICTITIOUS grid over the Lot."""

from __future__ import annotations

import re

import pytest
from conftest import OUTPUT, _require_browser
from pages import map_frame, open_page
from server import serve_app
from ui_store import build_ui_store

from dac_map.network import build_network
from dac_map.testing.roads import write_grid_pbf

pytestmark = pytest.mark.e2e
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def net_app(tmp_path_factory):
    """The app on the UI test store, with a fictitious road network for DAC-46."""
    _require_browser()
    base = tmp_path_factory.mktemp("e2e-network")
    store = build_ui_store(tmp_path_factory.getbasetemp() / "ui_store" / "store.gpkg")
    pbf = base / "DEMO-FICTIF_reseau_lot.osm.pbf"
    write_grid_pbf(pbf, (0.95, 44.18, 2.25, 45.08), 90, 85, seed=46)
    build_network(pbf, "DAC-46", base=base / "network")
    with serve_app(store, base / "streamlit.log", {"DAC_MAP_NETWORK_DIR": str(base / "network")}) as url:
        yield url


@pytest.fixture(scope="module")
def laptop(net_app, browser):
    """A 1366×768 page (a common laptop screen) in the shared headless chromium."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with open_page(browser, viewport={"width": 1366, "height": 768}) as page:
        yield page


def area_frame(page):
    """The map iframe once its results and search-area layers are drawn."""
    return map_frame(page, "window.dacMap && window.dacMapArea")


_MARKERS_IN_VIEW = """() => {
    var inside = 0, total = 0, b = window.map.getBounds();
    window.map.eachLayer(function (l) {
        if (l.feature && l.feature.properties && l.feature.properties.f) {
            total += 1; if (b.contains(l.getLatLng())) { inside += 1; }
        }
    });
    return {inside: inside, total: total, zoom: window.map.getZoom()};
}"""


def test_nearest_by_road_map_and_list_on_a_laptop_screen(laptop, net_app):
    page = laptop
    page.goto(f"{net_app}/?dac=DAC-46&autour=46128&famille=pa_hebergement&n=8")
    frame = area_frame(page)
    frame.wait_for_function("() => window.__dacmapFitted === window.dacMap.version", timeout=TIMEOUT)
    page.wait_for_timeout(1500)  # fitBounds animation
    area = frame.evaluate("() => Object.assign({}, window.dacMapArea)")
    assert area["shape"] == "area" and "approximative" in area["caption"]
    assert re.search(r"Zone atteignable en \d+ min en voiture", area["caption"])
    view = frame.evaluate(_MARKERS_IN_VIEW)
    assert view["total"] == 8 and view["inside"] == 8 and view["zoom"] <= 13
    # a marker at the search centre
    assert frame.evaluate("""() => { var n = 0; window.map.eachLayer(function (l) {
        if (l.getTooltip && l.getTooltip() && !l.feature && l instanceof L.CircleMarker) { n += 1; } });
        return n; }""") >= 1
    # the map and the first rows of the list are visible together, with time next to the name
    headers = page.locator("[data-testid='stDataFrame'] [role='columnheader']")
    headers.first.wait_for(timeout=TIMEOUT, state="attached")
    names = [h.strip() for h in headers.all_inner_texts()]
    assert names[names.index("Nom") + 1: names.index("Nom") + 3] == ["Durée (min)", "Distance (km)"]
    iframe = page.locator("iframe[title='streamlit_folium.st_folium']").bounding_box()
    grid = page.locator("[data-testid='stDataFrame']").first.bounding_box()
    assert iframe["y"] >= 0 and iframe["y"] + iframe["height"] * 0.75 <= 768
    assert grid["y"] + 35 * 4 <= 768, grid  # header + first three rows above the fold
    assert "durées en voiture par la route" in page.inner_text("body")
    page.screenshot(path=str(OUTPUT / "e2e_plus_proches_1366x768.png"))
    assert page.errors == []


def test_row_selection_pans_without_zooming_in(laptop, net_app):
    page = laptop
    page.goto(f"{net_app}/?dac=DAC-46&autour=46042&famille=pa_hebergement&n=10")
    frame = area_frame(page)
    frame.wait_for_function("() => window.__dacmapFitted === window.dacMap.version", timeout=TIMEOUT)
    page.wait_for_timeout(1500)
    before = frame.evaluate(_MARKERS_IN_VIEW)
    grid = page.locator("[data-testid='stDataFrame']").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 * 3 + 17)  # check box of the third row
    frame.wait_for_function("() => window.dacMap.rings === 1", timeout=TIMEOUT)
    page.wait_for_function("() => location.search.includes('etab=')", timeout=TIMEOUT)
    finess = re.search(r"etab=(\w+)", page.url).group(1)
    frame.wait_for_function("""(finess) => { var found = null;
        window.map.eachLayer(function (l) { if (l.feature && l.feature.properties
            && l.feature.properties.f === finess) { found = l; } });
        if (!found) { return false; }
        var p = window.map.latLngToContainerPoint(found.getLatLng()), c = window.map.getSize();
        return Math.abs(p.x - c.x / 2) <= 2 && Math.abs(p.y - c.y / 2) <= 2; }""",
                            arg=finess, timeout=TIMEOUT)
    after = frame.evaluate(_MARKERS_IN_VIEW)
    assert after["zoom"] == before["zoom"] <= 13  # panned, not zoomed in to street level
    assert after["total"] == before["total"] == 10  # the other results stay on the map
    page.screenshot(path=str(OUTPUT / "e2e_selection_1366x768.png"))


def test_radius_mode_draws_the_circle_straight_line(laptop, net_app):
    page = laptop
    page.goto(f"{net_app}/?dac=DAC-80&autour=80001&rayon=10")
    frame = area_frame(page)
    frame.wait_for_function("() => window.dacMapArea.shape === 'circle'", timeout=TIMEOUT)
    caption = frame.evaluate("() => window.dacMapArea.caption")
    assert caption == "Rayon de 10 km (à vol d'oiseau)"
    assert "distances à vol d'oiseau" in page.inner_text("body")
    headers = page.locator("[data-testid='stDataFrame'] [role='columnheader']")
    headers.first.wait_for(timeout=TIMEOUT, state="attached")
    names = [h.strip() for h in headers.all_inner_texts()]
    assert "Distance (km)" in names and "Durée (min)" not in names  # DAC-80: no road network
