"""Server mode end to end: PostgreSQL/PostGIS (the cluster of .ci/run), the local OpenID Connect
test provider (oidc-provider-mock), ``streamlit run app.py`` with ``st.login``, and headless
Debian chromium signing in as each role (the ``page`` fixture of conftest.py: one Playwright for
the whole session). Each role sees and may do exactly what it should."""

from __future__ import annotations

import re

import psycopg
import pytest
from pages import reveal
from server import sign_in

from dac_map import store
from dac_map.store import open_store
from dac_map.server import versions

TIMEOUT = 60000


@pytest.fixture(scope="module")
def server_app(deployment):
    """(URL of app process A, database URL)."""
    return deployment.start_app(), deployment.db


@pytest.fixture(scope="module")
def second_app(deployment, server_app):
    """URL of app process B, on the same database."""
    return deployment.start_app()


def _finess(demo_store) -> str:
    est = open_store(demo_store).read_layer(store.ESTABLISHMENTS, read_geometry=False)
    return str(est.loc[est["dac_id"] == "DAC-80", "finess"].iloc[0])


#: Pages every role has, visitors included (public map, social resources, the guide).
PUBLIC = {"Carte des ressources", "Ressources sociales", "Guide du coordinateur"}


def _nav(page, expected: set[str] | None = None) -> list[str]:
    """The page links of the sidebar (waits up to 10 s for ``expected`` to appear)."""
    nav = page.locator("[data-testid='stSidebarNav'] a")
    for _ in range(50):
        found = [t.strip() for t in nav.all_inner_texts()]
        if expected is None or set(found) == expected:
            break
        page.wait_for_timeout(200)
    return found


def _wait_text(page, text: str) -> None:
    page.wait_for_function(f"() => document.body.innerText.includes({text!r})", timeout=TIMEOUT)


def _form(page, submit: str):
    """The form whose submit button is ``submit`` (the add and edit forms share labels)."""
    return page.locator("[data-testid='stForm']").filter(
        has=page.get_by_role("button", name=submit))


def _detail(page, url: str, finess: str) -> None:
    page.goto(f"{url}/?dac=DAC-80&etab={finess}")
    page.locator(".st-key-detail").wait_for(timeout=TIMEOUT)
    # the notes come before these buttons in the panel, the unmet-need form after the exports
    page.get_by_role("button", name="Ajouter à la fiche A4").wait_for(timeout=TIMEOUT)
    _wait_text(page, "Exporter le résultat")
    page.wait_for_timeout(1000)


def test_visitor_sees_the_public_map_only(page, server_app, demo_store):
    url, db = server_app
    page.goto(url)
    _wait_text(page, "Carte publique")
    page.get_by_role("button", name="Se connecter").wait_for(timeout=TIMEOUT)
    assert set(_nav(page, PUBLIC)) == PUBLIC  # the public pages only
    _detail(page, url, _finess(demo_store))
    body = page.inner_text("body")
    assert "Notes des coordinateurs" not in body and "Aucune ressource adaptée" not in body
    page.goto(f"{url}/besoins")  # a page the visitor does not have
    page.wait_for_timeout(1500)
    assert "Besoins non couverts signalés" not in page.inner_text("body")


def test_coordinator_writes_notes_and_unmet_needs_of_their_dac(page, server_app, demo_store):
    url, db = server_app
    finess = _finess(demo_store)
    sign_in(page, url, "coord80")
    expected = PUBLIC | {"Couverture et zones blanches", "Besoins non couverts",
                         "Notes des coordinateurs", "Rapport ARS"}
    assert set(_nav(page, expected)) == expected
    _detail(page, url, finess)
    _wait_text(page, "Notes des coordinateurs (0)")
    add_form, edit_form = _form(page, "Enregistrer la note"), _form(page, "Enregistrer les modifications")
    page.get_by_text("Ajouter une note").click()
    add_form.get_by_label("Horaires d'ouverture").fill("lun-ven 9h-17h")
    add_form.get_by_label("Fonction de la personne à contacter").fill("cadre de santé")
    page.get_by_role("button", name="Enregistrer la note").click()
    _wait_text(page, "Notes des coordinateurs (1)")
    # editing it: the form holds the note; the new hours are stored, by this account, today
    page.get_by_text("Modifier cette note").click()
    field = edit_form.get_by_label("Horaires d'ouverture")
    assert field.input_value() == "lun-ven 9h-17h"
    field.fill("lun-sam 8h-18h")
    page.get_by_role("button", name="Enregistrer les modifications").click()
    _wait_text(page, "Note modifiée.")
    with psycopg.connect(db) as con:
        edited = con.execute("SELECT opening_hours, contact_role, author, verified_on = "
                             "current_date FROM dac_map.notes").fetchall()
    assert edited == [("lun-sam 8h-18h", "cadre de santé", "coord80", True)]
    # a patient's name is refused, in the browser too (new note and edit alike)
    page.get_by_text("Modifier cette note").click()
    edit_form.get_by_label("Fonction de la personne à contacter").fill("Mme Dupont")
    page.get_by_role("button", name="Enregistrer les modifications").click()
    _wait_text(page, "Note refusée")
    page.get_by_text("Ajouter une note").click()
    add_form.get_by_label("Autres informations").fill("demander Mme Dupont")
    page.get_by_role("button", name="Enregistrer la note").click()
    page.wait_for_timeout(1000)
    _wait_text(page, "Note refusée")  # the database check below proves nothing was stored
    header = page.get_by_text("Aucune ressource adaptée ? Signaler")
    submit = page.get_by_role("button", name="Enregistrer : aucune ressource adaptée trouvée")
    reveal(page, header, submit)
    submit.click()
    _wait_text(page, "Besoin non couvert enregistré")
    with psycopg.connect(db) as con:
        notes = con.execute("SELECT finess, dac_id, author, opening_hours, contact_role || other "
                            "FROM dac_map.notes").fetchall()
        needs = con.execute("SELECT dac_id FROM dac_map.unmet_needs").fetchall()
        actions = {r[0] for r in con.execute("SELECT action FROM dac_map.audit_log "
                                             "WHERE actor = 'coord80'")}
    assert notes == [(finess, "DAC-80", "coord80", "lun-sam 8h-18h", "cadre de santé")]  # no Dupont
    assert needs == [("DAC-80",)] and {"notes.add", "notes.update", "unmet.add"} <= actions
    page.goto(f"{url}/besoins")
    _wait_text(page, "Besoins non couverts signalés")


def test_other_dac_ars_and_steward_see_no_note_and_cannot_record(page, server_app, demo_store):
    url, db = server_app
    finess = _finess(demo_store)
    with psycopg.connect(db) as con:  # the previous test's note (or one written now)
        if not con.execute("SELECT 1 FROM dac_map.notes").fetchone():
            con.execute("INSERT INTO dac_map.notes (finess, dac_id, other, author, created_at, "
                        "updated_at) VALUES (%s, 'DAC-80', 'x', 'coord80', 'now', 'now')",
                        (finess,))
    for sub, nav, absent in [
        ("coord46", PUBLIC | {"Couverture et zones blanches",
                              "Besoins non couverts", "Notes des coordinateurs", "Rapport ARS"},
         ["lun-ven 9h-17h", "Aucune ressource adaptée"]),  # DAC-80 is not theirs
        ("ars1", PUBLIC | {"Couverture et zones blanches", "Rapport ARS"},
         ["Notes des coordinateurs", "Aucune ressource adaptée"]),
        ("ref1", PUBLIC | {"Couverture et zones blanches", "Territoires DAC (référents)",
                           "Ressources locales (référents)", "Données et versions"},
         ["Notes des coordinateurs", "Aucune ressource adaptée"]),
        ("nobody", PUBLIC, ["Notes des coordinateurs", "Aucune ressource adaptée"]),
    ]:
        page.context.clear_cookies()
        sign_in(page, url, sub)
        assert set(_nav(page, nav)) == nav, sub
        _detail(page, url, finess)
        body = page.inner_text("body")
        for text in absent:
            assert text not in body, (sub, text)
        if sub == "ref1":  # the data steward's versions page shows the served version
            page.goto(f"{url}/versions")
            _wait_text(page, f"Version servie : {versions.served_stamp(db)[0]}")
            _wait_text(page, "Comptes et rôles (lecture seule)")  # ref1, ref2 of the users table
            _wait_text(page, "2 compte(s) dans la table")


def _pick_territory(page, name: str) -> None:
    page.get_by_text("Territoires DAC — page des référents").wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(500)
    page.get_by_role("combobox", name="Territoire à modifier", exact=True).last.click()
    page.keyboard.type(name)  # the list is long (one DAC per department): filter it
    page.get_by_role("option", name=re.compile(re.escape(name))).first.click()


def test_a_stewards_territory_edit_in_app_a_is_seen_by_app_b(page, browser, server_app,
                                                             second_app):
    """Two app processes on one database: B has loaded its catalogue; a data steward renames
    the DAC-80 territory through A (saved in PostgreSQL, version 2, audited); B's editor shows
    version 2 by its author and B's map names the DAC with its new name (its cached catalogue
    was reloaded although B never saw the edit)."""
    url_a, db = server_app
    new_name = "DAC Somme renomme par A"
    other = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="fr-FR")
    try:
        page_b = other.new_page()
        sign_in(page_b, second_app, "ref2")
        page_b.goto(f"{second_app}/?dac=DAC-80")
        _wait_text(page_b, "Numéro unique du DAC : DAC Somme")
        assert new_name not in page_b.inner_text("body")

        sign_in(page, url_a, "ref1")
        page.goto(f"{url_a}/territoires")
        _pick_territory(page, "DAC-80")
        _wait_text(page, "Version 1 enregistrée")
        page.get_by_label("Nom du DAC").fill(new_name)
        page.get_by_label("Nom du DAC").press("Enter")
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="Enregistrer", exact=True).click()
        _wait_text(page, f"Enregistré : {new_name}, version 2")
        with psycopg.connect(db) as con:
            row = con.execute("SELECT version, data->>'name', updated_by FROM dac_map.territories "
                              "WHERE set_name = 'principal' AND id = 'DAC-80'").fetchone()
            audited = con.execute("SELECT actor, target FROM dac_map.audit_log WHERE action = "
                                  "'territories.modification'").fetchall()
        assert row == (2, new_name, "ref1") and audited == [("ref1", "principal/DAC-80")]

        page_b.goto(f"{second_app}/territoires")
        _pick_territory(page_b, new_name)
        _wait_text(page_b, "Version 2 enregistrée par ref1")
        page_b.goto(f"{second_app}/?dac=DAC-80")
        _wait_text(page_b, f"Numéro unique du DAC : {new_name}")
    finally:
        other.close()
