"""Issue 15 / 10 in headless chromium: « Je cherche » understands ehpad / ssiad / csapa (map
and list), the FINESS category box picks EHPAD on Enter, Escape in « Autour de » clears the
URL too, the list never shows "None", the page is French; and the screenshots of
docs/guide-coordinateur.md, taken here on the demo data so that they stay current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from server import ROOT
from pages import list_cells, map_frame, map_state, result_count, wait_count_change, wait_map_change
from ui_store import build_ui_store

from dac_map.query import load_catalogue

pytestmark = pytest.mark.e2e

GUIDE_IMG = ROOT / "docs" / "img"
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def ui_catalogue(tmp_path_factory):
    return load_catalogue(build_ui_store(tmp_path_factory.getbasetemp() / "ui_store" / "store.gpkg"))


def expected(cat, category: str) -> tuple[int, set[str], set[str]]:
    """Count and names of the DAC-80 establishments of ``category``, and every name."""
    est = cat.establishments
    sel = (est["category"].astype(str) == category) & (est["dac_id"].astype(str) == "DAC-80")
    return int(sel.sum()), set(est.loc[sel, "name"].astype(str)), set(est["name"].astype(str))


def je_cherche(page, words: str) -> None:
    field = page.get_by_role("textbox", name="Je cherche")
    field.fill(words)
    field.press("Enter")


@pytest.mark.parametrize("said, category", [("ehpad", "500"), ("ssiad", "354"), ("csapa", "197")])
def test_je_cherche_on_the_map_and_in_the_list(page, app_url, ui_catalogue, said, category):
    page.goto(f"{app_url}/?dac=DAC-80")
    before = map_state(page)
    n0 = result_count(page)
    je_cherche(page, said)
    after = wait_map_change(page, before["version"])
    n, names, every_name = expected(ui_catalogue, category)
    assert wait_count_change(page, n0) == n
    assert after["markers"] == n  # every one located in the test store
    cells = list_cells(page)
    shown = {c for c in cells if c in every_name}  # the names of the list's visible rows
    assert shown and shown <= names
    assert f"categorie={category}" in page.url
    assert "None" not in cells and "empty" not in cells


def test_category_box_enter_picks_ehpad_not_ehpa(page, app_url):
    page.goto(f"{app_url}/?dac=DAC-80")
    before = map_state(page)
    box = page.locator("[data-testid='stMultiSelect']").filter(has_text="Catégories FINESS")
    box.locator("input").click()
    box.locator("input").fill("SSIAD")
    page.wait_for_timeout(500)
    options = page.get_by_role("option").all_inner_texts()
    assert len(options) == 1 and options[0].startswith("SSIAD — "), options  # no loose matches
    assert not any("Select" in o for o in options)  # no English « Select all » entry
    box.locator("input").fill("EHPAD")
    page.wait_for_timeout(500)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_map_change(page, before["version"])
    page.wait_for_url(re.compile(r"categorie="), timeout=TIMEOUT)
    assert re.search(r"categorie=500(&|$)", page.url), page.url  # not 502 (EHPA), not 292


def test_escape_in_autour_de_clears_the_url(page, app_url):
    page.goto(f"{app_url}/?dac=DAC-80&autour=80021")
    map_frame(page)
    assert page.evaluate("document.documentElement.lang") == "fr"
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="Commune, n° FINESS")
    box.locator("input").click()
    page.keyboard.press("Escape")
    page.wait_for_url(lambda u: "autour=" not in u, timeout=TIMEOUT)
    assert box.locator("input").input_value() == ""


def test_empty_result_empties_the_legend(page, app_url):
    page.goto(f"{app_url}/?dac=DAC-80")
    before = map_state(page)
    field = page.get_by_label("Recherche par nom, commune ou n° FINESS")
    field.fill("qwxzqwxz")
    field.press("Enter")
    wait_map_change(page, before["version"])
    text = map_frame(page).evaluate("() => document.querySelector('.dacmap-legend').textContent")
    assert text.startswith("Familles (0)") and "Aucune ressource" in text


# --------------------------------------------------------------------------- the guide's screenshots

def shot(page, name: str) -> None:
    GUIDE_IMG.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(600)
    page.screenshot(path=str(GUIDE_IMG / name), full_page=False)


def test_guide_screenshots(page, app_url):
    page.set_viewport_size({"width": 1366, "height": 900})
    # 1. « Qui peut venir au domicile de ce patient, à Ham ? » : SSIAD autour de Ham
    page.goto(f"{app_url}/?dac=DAC-80&autour=80410&rayon=15")
    before = map_state(page)
    je_cherche(page, "ssiad")
    wait_map_change(page, before["version"])
    assert "categorie=354" in page.url and "autour=80410" in page.url
    shot(page, "appel-1-domicile.png")
    # 2. « Un EHPAD avec unité Alzheimer près d'Abbeville ? »
    page.goto(f"{app_url}/?dac=DAC-80&categorie=500&clientele=436&autour=80001&rayon=20&tri=distance")
    map_frame(page)
    assert result_count(page) > 0
    shot(page, "appel-2-ehpad-alzheimer.png")
    # 3. « Où est le CSAPA le plus proche de Péronne ? »
    page.goto(f"{app_url}/?dac=DAC-80&autour=80620&rayon=60&tri=distance")
    before = map_state(page)
    je_cherche(page, "csapa")
    wait_map_change(page, before["version"])
    assert result_count(page) > 0
    shot(page, "appel-3-csapa.png")
    # 4. « Pouvez-vous m'envoyer la liste ? » : cocher des lignes, fiche A4 PDF
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 38 + 28)  # check box of the first row
    pdf = page.get_by_role("button", name=re.compile(r"Fiche A4 PDF \(1\)"))
    pdf.wait_for(timeout=TIMEOUT)
    pdf.scroll_into_view_if_needed()
    shot(page, "appel-4-fiche.png")
    # 5. « Rien ne convient » : signaler un besoin non couvert
    exp = page.get_by_text("Aucune ressource adaptée ? Signaler un besoin non couvert")
    exp.scroll_into_view_if_needed()
    exp.click()
    page.wait_for_timeout(800)
    shot(page, "appel-5-besoin.png")
    # the guide page of the app shows them
    page.goto(f"{app_url}/guide")
    page.get_by_text("Les cinq appels les plus fréquents").first.wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid='stImage'] img, [data-testid='stImageContainer'] img").count() >= 5
    for name in ("appel-1-domicile.png", "appel-2-ehpad-alzheimer.png", "appel-3-csapa.png",
                 "appel-4-fiche.png", "appel-5-besoin.png"):
        assert (GUIDE_IMG / name).stat().st_size > 10_000
        assert f"img/{name}" in (ROOT / "docs" / "guide-coordinateur.md").read_text(encoding="utf-8")
    assert Path(ROOT / "README.md").read_text(encoding="utf-8").count("docs/guide-coordinateur.md") >= 1
