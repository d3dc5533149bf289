"""« Interviennent à » in headless chromium on the FINESS+ Ain example: choosing a commune lists
the services whose intervention zone covers it before « À proximité »; selecting one opens its
sheet (activities in plain French) and draws its zone on the map; nothing leaves localhost."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from server import free_port, start_streamlit, stop

pytestmark = pytest.mark.e2e

TIMEOUT = 45_000
LOCAL = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def fp_app(fp_build, browser, tmp_path_factory):
    """The app on the FINESS+ Ain store, in the session's shared chromium (a second
    sync_playwright() in the same run fails once another browser test has started one)."""
    port = free_port()
    proc = start_streamlit(fp_build[1], port, tmp_path_factory.getbasetemp() / "streamlit_fp.log",
                           extra_env={"DAC_MAP_DEFAULT_DAC": "DAC-01"})
    try:
        yield browser, f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def test_interviennent_a_then_zone_on_the_map(fp_app):
    browser, url = fp_app
    context = browser.new_context(viewport={"width": 1440, "height": 1100}, locale="fr-FR")
    page = context.new_page()
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if (urlparse(r.url).hostname or "") not in LOCAL
            and not r.url.startswith(("data:", "blob:", "about:")) else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{url}/?dac=DAC-01&autour=01451")
        head = page.get_by_role("heading", name="Interviennent à Viriat")
        head.wait_for(timeout=TIMEOUT)
        near = page.get_by_role("heading", name="À proximité", exact=True)
        near.wait_for(timeout=TIMEOUT)
        grid = page.locator("[data-testid='stDataFrame']").filter(has_text="010784817").first
        grid.wait_for(timeout=TIMEOUT, state="attached")
        page.wait_for_timeout(500)  # let the page settle before comparing positions
        assert head.bounding_box()["y"] < grid.bounding_box()["y"] < near.bounding_box()["y"]
        cells = grid.locator("[role='gridcell']").all_inner_texts()
        assert "Établissement 010784817 (flux Activités seul)" in cells
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # select the first row
        detail = page.locator(".st-key-detail")
        detail.wait_for(timeout=TIMEOUT)
        assert "010784817" in detail.inner_text()
        page.get_by_text("Zone d'intervention de Établissement 010784817 (flux Activités seul) : 64 communes"
                         ).first.wait_for(timeout=TIMEOUT)
        frame = next(f for f in page.frames if "streamlit_folium" in f.url)
        frame.wait_for_function("""() => { var n = 0; if (!window.map) return false;
            window.map.eachLayer(function (l) { if (l.options && l.options.color === '#d62728' && l.getBounds) n++; });
            return n > 0; }""", timeout=TIMEOUT)
        page.screenshot(path=str(Path(__file__).resolve().parents[1] / "output" / "e2e_interviennent_a.png"),
                        full_page=True)
        assert external == [] and errors == []
    finally:
        context.close()
