"""Roles and the central authorisation check; the app refuses to start in server mode without
sign-in; a visitor's forged unmet-need submission is refused by the write path (AppTest, real
PostgreSQL)."""

from __future__ import annotations

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from dac_map.errors import ForbiddenError
from dac_map.server import auth

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]

C80 = auth.Principal("c80", frozenset({auth.COORDINATOR}), frozenset({"DAC-80"}), True)
C_BOTH = auth.Principal("cb", frozenset({auth.COORDINATOR}), frozenset({"DAC-80", "DAC-46"}), True)
STEWARD = auth.Principal("r", frozenset({auth.DATA_STEWARD}), frozenset(), True)
ARS = auth.Principal("a", frozenset({auth.ARS}), frozenset(), True)

# The role table, written out independently of dac_map.server.auth.ACTIONS:
# (principal, action, dac) -> allowed
EXPECTED = {
    # visitor: public map, read only, no log, no notes
    (auth.ANONYMOUS, "map.read", None): True,
    (auth.ANONYMOUS, "unmet.write_dac", "DAC-80"): False,
    (auth.ANONYMOUS, "unmet.read_dac", None): False,
    (auth.ANONYMOUS, "notes.read_dac", None): False,
    (auth.ANONYMOUS, "notes.write_dac", "DAC-80"): False,
    (auth.ANONYMOUS, "report.aggregates", None): False,
    (auth.ANONYMOUS, "territories.write", None): False,
    (auth.ANONYMOUS, "coverage.read", None): False,
    # coordinator of DAC-80: unmet needs, notes, exports for their DAC only
    (C80, "map.read", None): True,
    (C80, "unmet.write_dac", "DAC-80"): True,
    (C80, "unmet.write_dac", "DAC-46"): False,
    (C80, "unmet.export_dac", "DAC-80"): True,
    (C80, "unmet.export_dac", "DAC-46"): False,
    (C80, "notes.write_dac", "DAC-80"): True,
    (C80, "notes.write_dac", "DAC-46"): False,
    (C80, "notes.read_dac", None): True,
    (C80, "territories.write", None): False,
    (C80, "refresh.status", None): False,
    (C80, "catalogue.publish", None): False,
    (C_BOTH, "unmet.write_dac", "DAC-46"): True,
    (C_BOTH, "notes.write_dac", "DAC-80"): True,
    # data steward: territories, refresh status; no log, no notes
    (STEWARD, "territories.write", None): True,
    (STEWARD, "refresh.status", None): True,
    (STEWARD, "catalogue.publish", None): True,
    (STEWARD, "unmet.read_dac", None): False,
    (STEWARD, "notes.read_dac", None): False,
    (STEWARD, "unmet.write_dac", "DAC-80"): False,
    (STEWARD, "users.read", None): True,  # the role assignments, read only
    (C80, "users.read", None): False,
    (ARS, "users.read", None): False,
    (auth.ANONYMOUS, "users.read", None): False,
    # ARS: reports, aggregates only, never comments (the log lists comments) nor notes
    (ARS, "report.aggregates", None): True,
    (ARS, "unmet.read_dac", None): False,
    (ARS, "unmet.export_dac", "DAC-80"): False,
    (ARS, "notes.read_dac", None): False,
    (ARS, "territories.write", None): False,
    # embedded mode: the one local user does everything
    (auth.LOCAL, "unmet.write_dac", "DAC-46"): True,
    (auth.LOCAL, "notes.write_dac", "national"): True,
    (auth.LOCAL, "territories.write", None): True,
}


@pytest.mark.parametrize("key", list(EXPECTED), ids=lambda k: f"{k[0].subject}-{k[1]}-{k[2]}")
def test_authorize_matches_the_role_table(key):
    principal, action, dac = key
    if EXPECTED[key]:
        auth.authorize(principal, action, dac)
    else:
        with pytest.raises(ForbiddenError):
            auth.authorize(principal, action, dac)
    assert principal.may(action, dac) is EXPECTED[key]


def test_unknown_action_is_refused():
    with pytest.raises(ForbiddenError):
        auth.authorize(auth.LOCAL, "everything")


@pytest.mark.parametrize("values,roles,dacs", [
    (["coordinateur:DAC-80"], {"coordinateur"}, {"DAC-80"}),
    (["coordinateur:DAC-80,DAC-46", "ARS"], {"coordinateur", "ars"}, {"DAC-80", "DAC-46"}),
    (["coordinateur"], {"visiteur"}, set()),  # a coordinator of no DAC is a visitor
    (["admin", "superuser:all"], {"visiteur"}, set()),  # other applications' roles ignored
    (["referent_donnees"], {"referent_donnees"}, set()),
    (["coordinateur:DAC 80; DROP"], {"visiteur"}, set()),
    ([], {"visiteur"}, set()),
])
def test_role_claim_values(values, roles, dacs):
    assert auth.parse_role_values(values) == (frozenset(roles), frozenset(dacs))


def test_claims_and_the_users_table(pg_url, monkeypatch):
    monkeypatch.setenv("DAC_MAP_ROLES_CLAIM", "roles_dac")
    p = auth.principal_from_claims({"sub": "s1", "roles_dac": ["coordinateur:DAC-46"]}, pg_url)
    assert (p.roles, p.dacs, p.signed_in) == ({"coordinateur"}, {"DAC-46"}, True)
    p = auth.principal_from_claims({"sub": "s1", "roles_dac": "ars"}, pg_url)
    assert p.roles == {"ars"}
    auth.set_user("s1", ["referent_donnees"], actor="test", url=pg_url)  # the table wins
    p = auth.principal_from_claims({"sub": "s1", "roles_dac": ["coordinateur:DAC-46"]}, pg_url)
    assert (p.roles, p.dacs) == ({"referent_donnees"}, frozenset())
    assert auth.principal_from_claims({}, pg_url) == auth.ANONYMOUS
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT actor, action, target FROM dac_map.audit_log").fetchall() == [
            ("test", "users.set", "s1")]


def test_server_mode_refuses_to_start_without_sign_in(pg_url, demo_store, monkeypatch):
    monkeypatch.setenv("DAC_MAP_DATABASE_URL", pg_url)
    monkeypatch.setenv("DAC_MAP_STORE", str(demo_store))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert any("refuse de démarrer sans connexion" in e.value for e in at.error)
    assert not at.get("iframe") and not at.sidebar.button  # nothing of the app was drawn


def _forged_unmet_form(db_path: str) -> None:
    from dac_map.ui import unmet_view

    # The map never shows this form to a visitor; here it is drawn anyway, as a forged
    # submission would be: the write path itself must refuse it.
    unmet_view.render_unmet_need_button("EHPAD", {"family": "pa_hebergement"}, "DAC-80",
                                        "80021", db_path=db_path, store_path=None)


def test_a_visitors_forged_unmet_need_is_refused_server_side(pg_url, monkeypatch):
    monkeypatch.setenv("DAC_MAP_DATABASE_URL", pg_url)
    at = AppTest.from_function(_forged_unmet_form, args=(pg_url,), default_timeout=60)
    at.run()
    at.text_area[0].input("aucune place à moins de 30 km")
    at.button[0].click()
    at.run()
    assert any("Enregistrement refusé" in e.value and "visiteur" in e.value for e in at.error)
    assert not at.success
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT count(*) FROM dac_map.unmet_needs").fetchone()[0] == 0


def test_the_local_user_still_records_in_embedded_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("DAC_MAP_DATABASE_URL", raising=False)
    db = str(tmp_path / "log.sqlite")
    at = AppTest.from_function(_forged_unmet_form, args=(db,), default_timeout=60)
    at.run()
    at.button[0].click()
    at.run()
    assert at.success and not at.error
    from dac_map.coverage.unmet import list_unmet_needs
    assert list(list_unmet_needs(db)["dac_id"]) == ["DAC-80"]


def _role_page(url: str, roles: str) -> None:
    import os

    from dac_map.server import auth as auth_
    from dac_map.ui import server_pages

    os.environ["DAC_MAP_DATABASE_URL"] = url
    who = auth_.Principal("someone", frozenset(roles.split(",")), frozenset({"DAC-80"}), True)
    server_pages.render_role_assignments(who)


@pytest.mark.parametrize("roles,sees", [("referent_donnees", True), ("coordinateur", False),
                                        ("ars", False), ("visiteur", False)])
def test_role_assignments_page_is_for_data_stewards_only(pg_url, monkeypatch, roles, sees):
    """The read-only list of role assignments mirrors the users table (rows written here with
    `set_user`); the read itself refuses anyone but a data steward."""
    monkeypatch.setenv("DAC_MAP_DATABASE_URL", pg_url)
    auth.set_user("coord@dac80.fr", ["coordinateur"], ["DAC-80", "DAC-46"], actor="t", url=pg_url,
                  label="infirmière coordinatrice")
    auth.set_user("ref@ars.fr", ["referent_donnees", "ars"], actor="t", url=pg_url)
    at = AppTest.from_function(_role_page, args=(pg_url, roles), default_timeout=60)
    at.run()
    assert not at.exception
    if not sees:
        assert not at.dataframe and any("refusée" in e.value for e in at.error)
        return
    table = at.dataframe[0].value
    assert table.to_dict("records") == [
        {"Compte": "coord@dac80.fr", "Rôles": "coordinateur·rice", "DAC": "DAC-46, DAC-80",
         "Fonction": "infirmière coordinatrice"},
        {"Compte": "ref@ars.fr", "Rôles": "référent·e données, ARS", "DAC": "", "Fonction": ""}]
