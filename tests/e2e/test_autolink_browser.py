"""Web and e-mail addresses inside untrusted text stay text in headless chromium: names,
structures and addresses of social resources holding ``http://``, ``https://``, ``www.`` or an
e-mail address show as typed (same letters to a reader) in the sheet, the list and the map
tooltips, and never become links (Streamlit's Markdown turns bare URLs into links on its own,
GFM autolink literals, even when every punctuation is escaped). Expected texts come from the
raw test table."""

from __future__ import annotations

import csv
import unicodedata

import pytest
from conftest import OUTPUT, _require_browser
from pages import TIMEOUT, map_frame, open_page
from server import serve_app
from ui_store import LINKS_TABLE, build_social_ui_store

pytestmark = pytest.mark.e2e

#: Characters a reader does not see (the word joiner md() may insert, zero-width spaces...).
INVISIBLE = dict.fromkeys(map(ord, "\u2060\u200b\u200c\u200d\ufeff"))


def _raw() -> list[dict[str, str]]:
    with open(LINKS_TABLE, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _seen(text: str) -> str:
    """What a reader sees: NFC, invisible characters dropped, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text.translate(INVISIBLE)).split())


@pytest.fixture(scope="module")
def links_url(tmp_path_factory):
    _require_browser()
    base = tmp_path_factory.mktemp("autolink_e2e")
    with serve_app(build_social_ui_store(base / "store.gpkg", LINKS_TABLE), base / "streamlit.log") as url:
        yield url


def _links(locator) -> list[str]:
    return locator.evaluate_all("els => els.map(a => a.getAttribute('href') + ' ' + a.innerText)")


@pytest.mark.parametrize("row", _raw(), ids=lambda r: r["id"])
def test_addresses_in_names_are_not_links(browser, links_url, row):
    assert any(k in row["nom"].lower() for k in ("http://", "https://", "www.", "@"))
    with open_page(browser, viewport={"width": 1440, "height": 1000}) as page:
        page.goto(f"{links_url}/?dac=DAC-80&famille_sociale=aide_alimentaire&ressource=local:{row['id']}")
        sheet = page.locator(".st-key-social_detail")
        sheet.wait_for(timeout=90_000)  # first load: slow on a loaded machine
        heading = sheet.locator("[data-testid='stHeading']").first
        heading.wait_for(timeout=TIMEOUT)
        # the only links of the sheet are the ones the app makes: the phone's tel: and the
        # e-mail field's mailto: (that field holds one checked address), never one from a name
        # or an address
        made = [f"mailto:{row['courriel']} {row['courriel']}"] if row["courriel"] else []
        assert [_seen(h) for h in _links(sheet.locator("a")) if not h.startswith("tel:")] == \
            [_seen(h) for h in made]
        assert _seen(heading.inner_text()) == _seen(row["nom"])
        text = _seen(sheet.inner_text())
        assert _seen(row["structure_nom"]) in text and _seen(row["adresse"]) in text
        if row["courriel"]:
            assert _seen(row["courriel"]) in text

        # the list (a data grid: plain text cells) and the whole page: no link to the addresses
        page.wait_for_function("""() => [...document.querySelectorAll(
            "[data-testid='stDataFrame'] [role='gridcell']")].some(c => c.innerText.trim())""",
                               timeout=TIMEOUT)  # the grid's accessible table is filled
        grid = page.locator("[data-testid='stDataFrame']").first
        cells = [_seen(c) for c in grid.locator("[role='gridcell']").all_inner_texts()]
        assert _seen(row["nom"]) in cells
        assert _links(grid.locator("a")) == []
        assert [h for h in _links(page.locator("a")) if ("exemple" in h or "structure" in h)
                and _seen(h) not in [_seen(m) for m in made]] == []

        # map tooltips (bound to the social layer, built with textContent): each marker's, opened
        # as a hover does
        frame = map_frame(page, "window.dacMapSocial")
        tips = frame.evaluate("""() => {
            var out = [];
            window.map.eachLayer(function (l) {
                if (l.feature && l.feature.properties && l.feature.properties.r) {
                    var group = Object.values(l._eventParents || {})[0];
                    l.fire("mouseover", {latlng: l.getLatLng()}, true);
                    var el = group.getTooltip().getElement();
                    out.push({text: el.innerText, links: el.querySelectorAll('a').length});
                }
            });
            return out;
        }""")
        assert tips and all(t["links"] == 0 for t in tips)
        assert any(_seen(row["nom"]) in _seen(t["text"]) for t in tips)
        page.screenshot(path=str(OUTPUT / f"e2e_liens_{row['id']}.png"), full_page=True)
        assert page.errors == []  # type: ignore[attr-defined]
