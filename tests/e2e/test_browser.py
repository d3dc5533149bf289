"""The app in headless chromium: loads offline without console errors, filters change the
markers drawn and the list, a typo search finds a known establishment, an export downloads,
hostile names show as text, a marker click opens its detail panel."""

from __future__ import annotations

import re

import pytest
from conftest import OUTPUT
from pages import TIMEOUT, list_cells, map_frame, map_state, result_count, wait_count_change, wait_map_change
from ui_store import KNOWN_FINESS, KNOWN_NAME, NASTY

pytestmark = pytest.mark.e2e


def open_app(page, url: str) -> dict:
    page.goto(url)
    return map_state(page)


def test_page_loads_offline_without_errors(page, app_url):
    state = open_app(page, f"{app_url}/?dac=DAC-80")
    assert state["mode"] == "points" and state["markers"] == 915
    assert result_count(page) == 915
    page.wait_for_timeout(500)
    page.screenshot(path=str(OUTPUT / "e2e_accueil.png"), full_page=True)
    rec = page.recorder
    assert rec.external == [], f"requests to other hosts: {rec.external}"
    assert rec.console_errors == [] and rec.page_errors == []
    assert any(u.endswith("/app/static/vendor/leaflet-1.9.4/leaflet.js") for u in rec.requests)
    body = page.inner_text("body")
    assert "extraites le 08/01/2021" in body and "FICTIVES" in body  # data date, demo label
    assert "?dac=DAC-80" in page.url


def test_family_filter_changes_markers_and_list(page, app_url):
    before = open_app(page, f"{app_url}/?dac=DAC-80")
    n0 = result_count(page)
    legend = "() => { var d = document.querySelector('.dacmap-legend details'); " \
             "return [d.open, d.textContent]; }"
    is_open, text = map_frame(page).evaluate(legend)
    assert not is_open and text.startswith("Familles (15)")  # long legend: closed
    box = page.locator("[data-testid='stMultiSelect']").filter(has_text="Familles")
    box.locator("input").click()
    box.locator("input").fill("Personnes âgées — héb")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    after = wait_map_change(page, before["version"])
    n1 = wait_count_change(page, n0)
    assert 0 < n1 < n0
    assert after["markers"] == n1 < before["markers"]
    is_open, text = map_frame(page).evaluate(legend)
    assert is_open and text == f"Familles (1)Personnes âgées — hébergement {n1}"
    cells = list_cells(page)
    assert any("EHPAD" in c for c in cells)
    assert "famille=pa_hebergement" in page.url
    page.screenshot(path=str(OUTPUT / "e2e_filtre_famille.png"), full_page=True)
    assert page.recorder.external == [] and page.recorder.console_errors == []


def test_typo_search_finds_a_known_establishment(page, app_url):
    before = open_app(page, f"{app_url}/?dac=DAC-80")
    n0 = result_count(page)
    field = page.get_by_label("Recherche par nom, commune ou n° FINESS")
    field.fill("ch abevile")
    field.press("Enter")
    wait_map_change(page, before["version"])
    n1 = wait_count_change(page, n0)
    assert 1 <= n1 < 50
    assert KNOWN_NAME in list_cells(page)
    assert "q=ch+abevile" in page.url or "q=ch%20abevile" in page.url


def test_csv_export_downloads(page, app_url):
    open_app(page, f"{app_url}/?dac=DAC-80&famille=pa_hebergement")
    n = result_count(page)
    with page.expect_download(timeout=TIMEOUT) as info:
        page.get_by_role("button", name=re.compile("Liste CSV")).click()
    download = info.value
    assert download.suggested_filename.startswith("dac-map_DAC-80_") and \
        download.suggested_filename.endswith(".csv")
    target = OUTPUT / "e2e_export.csv"
    download.save_as(str(target))
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0].startswith("N° FINESS;Nom;")
    assert len([x for x in lines if x]) == n + 1


def test_hostile_names_are_shown_as_text(page, app_url):
    open_app(page, f"{app_url}/?dac=DAC-80&etab=800999991")
    detail = page.locator(".st-key-detail")
    detail.wait_for(timeout=TIMEOUT)
    assert NASTY["800999991"] in detail.inner_text()
    frame = map_frame(page)
    texts = frame.evaluate("""(wanted) => {
        var out = {}, groups = [];
        window.map.eachLayer(function (g) {
            if (g.getTooltip && g.getTooltip() && g.eachLayer) { groups.push(g); }
        });
        groups.forEach(function (g) {
            g.eachLayer(function (l) {
                var f = l.feature && l.feature.properties && l.feature.properties.f;
                if (f && wanted.indexOf(f) >= 0) {
                    l.fire("mouseover", {latlng: l.getLatLng()}, true);  // as a hover does
                    var tip = document.querySelector('.leaflet-tooltip');
                    out[f] = {text: tip.textContent,
                              elements: tip.querySelectorAll('script, img').length};
                    g.closeTooltip();
                }
            });
        });
        return out;
    }""", list(NASTY))
    for finess, name in NASTY.items():
        assert texts[finess]["elements"] == 0
        assert texts[finess]["text"].startswith(name)
        assert f"N° FINESS {finess}" in texts[finess]["text"]
    field = page.get_by_label("Recherche par nom, commune ou n° FINESS")
    field.fill("alert")
    field.press("Enter")
    page.wait_for_function("() => document.body.innerText.includes('Recherche : « alert »')",
                           timeout=TIMEOUT)
    # the list is redrawn after the summary: wait for its rows
    page.wait_for_function("""(name) => Array.from(document.querySelectorAll(
        "[data-testid='stDataFrame'] [role='gridcell']")).some((c) => c.innerText === name)""",
                           arg=NASTY["800999992"], timeout=TIMEOUT)
    cells = list_cells(page)
    assert NASTY["800999991"] in cells and NASTY["800999992"] in cells
    assert page.locator("img[src='x']").count() == 0
    assert frame.locator("img[src='x']").count() == 0
    page.screenshot(path=str(OUTPUT / "e2e_noms_hostiles.png"), full_page=True)
    rec = page.recorder
    assert rec.dialogs == [] and rec.page_errors == [] and rec.external == []


def test_marker_click_opens_the_detail_panel(page, app_url):
    open_app(page, f"{app_url}/?dac=DAC-80&q=abbeville")
    frame = map_frame(page)
    point = frame.evaluate("""(finess) => {
        var found = null;
        window.map.eachLayer(function (l) {
            if (l.feature && l.feature.properties && l.feature.properties.f === finess) { found = l; }
        });
        found.bringToFront();  // another establishment may share its address
        window.map.setView(found.getLatLng(), 15, {animate: false});
        var p = window.map.latLngToContainerPoint(found.getLatLng());
        return {x: p.x, y: p.y};
    }""", KNOWN_FINESS)
    page.wait_for_timeout(300)
    frame.locator("#map_div").click(position={"x": point["x"], "y": point["y"]})
    detail = page.locator(".st-key-detail")
    detail.wait_for(timeout=TIMEOUT)
    assert KNOWN_NAME in detail.inner_text()
    assert detail.locator("a[href^='tel:']").first.get_attribute("href") == "tel:0322255200"
    page.wait_for_function(f"() => location.search.includes('etab={KNOWN_FINESS}')", timeout=TIMEOUT)
    page.wait_for_timeout(500)
    assert map_state(page).get("rings") == 1  # the shown resource is circled
    page.screenshot(path=str(OUTPUT / "e2e_fiche.png"), full_page=True)


def test_row_selection_centres_and_circles_the_marker(page, app_url):
    before = open_app(page, f"{app_url}/?dac=DAC-80&q=abbeville")
    frame = map_frame(page)
    zoom0 = frame.evaluate("() => window.map.getZoom()")
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    first_name = list_cells(page)[0]
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # check box of the first row
    detail = page.locator(".st-key-detail")
    detail.wait_for(timeout=TIMEOUT)
    assert first_name in detail.inner_text()
    frame.wait_for_function("() => window.dacMap.rings === 1", timeout=TIMEOUT)
    state = map_state(page)
    assert state["version"] == before["version"]  # same results, only the selection changed
    # issue 12: the map pans to the marker but keeps its zoom (no street level)
    assert frame.evaluate("() => window.map.getZoom()") == zoom0
    finess = re.search(r"etab=(\w+)", page.url).group(1)
    frame.wait_for_function("""(finess) => {
        var found = null;
        window.map.eachLayer(function (l) {
            if (l.feature && l.feature.properties && l.feature.properties.f === finess) { found = l; }
        });
        var p = window.map.latLngToContainerPoint(found.getLatLng()), c = window.map.getSize();
        return Math.abs(p.x - c.x / 2) <= 2 && Math.abs(p.y - c.y / 2) <= 2;  // centred (pixels)
    }""", arg=finess, timeout=TIMEOUT)
    assert "Fiche A4 PDF (1)" in page.get_by_role("button", name=re.compile("Fiche A4 PDF")).inner_text()


def test_coverage_page_draws_offline(page, app_url):
    """The coverage page (choropleth of the territory's communes) needs no other host either."""
    open_app(page, f"{app_url}/?dac=DAC-80")
    page.get_by_role("link", name="Couverture et zones blanches").click()
    page.wait_for_url(re.compile("/couverture"), timeout=TIMEOUT)
    page.get_by_text("Zones blanches").first.wait_for(timeout=TIMEOUT)
    page.wait_for_selector("iframe[title='streamlit_folium.st_folium']", timeout=TIMEOUT)
    page.get_by_text(re.compile("commune", re.I)).first.wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(OUTPUT / "e2e_couverture.png"), full_page=True)
    rec = page.recorder
    assert rec.external == [], f"requests to other hosts: {rec.external}"
    assert rec.console_errors == [] and rec.page_errors == []
    frames = [f for f in page.frames if "streamlit_folium" in f.url]
    drawn = [f.evaluate("() => document.querySelectorAll('path.leaflet-interactive, canvas')"
                        ".length") for f in frames]
    assert max(drawn) > 0, drawn  # commune polygons (SVG paths or canvas)
    assert "Zones blanches" in page.inner_text("body")
