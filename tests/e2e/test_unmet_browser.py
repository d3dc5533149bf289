"""What a coordinator does with the unmet-need log, in headless chromium: choose a coded reason,
see obfuscated personal data refused (without the data being repeated), record a clean need,
then export the log without the comments by default and with them when the box is ticked.

Its own app server, with the log in a temporary file (never the checkout's data/)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import pytest
from conftest import OUTPUT, _require_browser
from pages import reveal
from server import free_port, start_streamlit, stop
from ui_store import build_ui_store

pytestmark = pytest.mark.e2e

TIMEOUT = 30_000


@pytest.fixture(scope="module")
def unmet_app(tmp_path_factory) -> Iterator[tuple[str, object]]:
    _require_browser()
    base = tmp_path_factory.mktemp("unmet_e2e")
    store = build_ui_store(tmp_path_factory.getbasetemp() / "ui_store" / "store.gpkg")
    db = base / "unmet.sqlite"
    port = free_port()
    proc = start_streamlit(store, port, base / "streamlit.log",
                           extra_env={"DAC_MAP_UNMET_NEEDS_DB": str(db)})
    try:
        yield f"http://127.0.0.1:{port}", db
    finally:
        stop(proc)


@pytest.fixture()
def unmet_page(browser):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True,
                                  locale="fr-FR")
    try:
        yield context.new_page()
    finally:
        context.close()


def _export(page, name: str) -> str:
    with page.expect_download(timeout=TIMEOUT) as info:
        page.get_by_role("button", name="Exporter en CSV").click()
    target = OUTPUT / name
    info.value.save_as(str(target))
    return target.read_bytes().decode("utf-8-sig")


def test_record_refuse_and_export_without_comments(unmet_page, unmet_app):
    url, db = unmet_app
    page = unmet_page
    page.goto(f"{url}/?dac=DAC-80&famille=pa_hebergement")
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=TIMEOUT)  # results are in
    reason = page.get_by_role("combobox", name="Motif")
    header = page.get_by_text("Aucune ressource adaptée ? Signaler un besoin non couvert")
    reveal(page, header, reason, timeout=5000, pause=0)
    assert reason.input_value() == "Autre motif"  # the default reason
    reason.click()
    reason.fill("trop éloignée")
    page.get_by_role("option", name="Ressource trop éloignée").click()
    page.wait_for_function("() => [...document.querySelectorAll('input[role=combobox]')]"
                           ".some(e => e.value === 'Ressource trop éloignée')", timeout=TIMEOUT)
    comment = page.locator(".st-key-unmet_comment textarea")
    submit = page.get_by_role("button", name="Enregistrer : aucune ressource adaptée trouvée")

    comment.fill("famille GIRARD, rappeler le 06.12.34.56.78")
    submit.click()
    error = page.get_by_text(re.compile("Enregistrement refusé"))
    error.wait_for(timeout=TIMEOUT)
    assert "06.12" not in error.inner_text() and "GIRARD" not in error.inner_text()
    assert not db.exists() or sqlite3.connect(db).execute(
        "SELECT COUNT(*) FROM unmet_needs").fetchone()[0] == 0

    comment.fill("Liste d'attente de 6 mois sur le secteur")
    submit.click()
    page.get_by_text(re.compile("Besoin non couvert enregistré")).wait_for(timeout=TIMEOUT)
    con = sqlite3.connect(db)
    assert con.execute("SELECT reason, comment FROM unmet_needs").fetchall() == [
        ("too_far", "Liste d'attente de 6 mois sur le secteur")]
    con.close()

    page.get_by_role("link", name="Besoins non couverts").click()
    page.get_by_role("button", name="Exporter en CSV").wait_for(timeout=TIMEOUT)
    text = _export(page, "e2e_besoins_sans_commentaires.csv")
    header = text.splitlines()[0].split(";")
    assert "motif" in header and "commentaire" not in header
    assert "Ressource trop éloignée" in text and "Liste d'attente" not in text

    page.get_by_text("Inclure les commentaires dans l'export").click()
    page.wait_for_timeout(1500)  # the rerun rebuilds the download with the comments
    text = _export(page, "e2e_besoins_avec_commentaires.csv")
    assert "commentaire" in text.splitlines()[0].split(";")
    assert "Liste d'attente de 6 mois sur le secteur" in text
