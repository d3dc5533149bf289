"""Server mode end to end for the social side's steward tables (issue 16): the data steward ref1
signs in (local OpenID Connect provider), opens « Ressources locales (référents) », where the
author is the signed-in account (no name to type), and records a FINESS link decision with a
reason; it lands in PostgreSQL (versioned row, history, audit entry), never in a file."""

from __future__ import annotations

import psycopg
import pytest
from server import sign_in

from dac_map import store
from dac_map.store import open_store

pytestmark = pytest.mark.e2e
TIMEOUT = 60000


def test_steward_records_a_match_decision_in_postgresql(page, deployment, demo_store, tmp_path):
    url = deployment.start_app({"DAC_MAP_INCLUSION_OVERRIDES": str(tmp_path / "never-written.csv")})
    est = open_store(demo_store).read_layer(store.ESTABLISHMENTS, read_geometry=False)
    finess = str(est.loc[est["department"] == "80", "finess"].iloc[0])
    sign_in(page, url, "ref1")
    page.goto(f"{url}/ressources-locales")
    page.get_by_text("Enregistré au nom de : ref1").first.wait_for(timeout=TIMEOUT)
    assert not page.get_by_label("Votre nom (référent)").count()  # the account is the author
    page.get_by_role("tab", name="Correspondances FINESS ↔ data·inclusion").click()
    form = page.locator(".st-key-dec_form")
    form.get_by_label("Ressource (identifiant, ex. local:demo-80-diab)").fill("local:demo-80-alz")
    form.get_by_label("N° FINESS de l'établissement").fill(finess)
    form.get_by_text("Lier (même structure)").click()
    form.get_by_label("Motif (obligatoire pour lier ou séparer)").fill("même association, antenne locale")
    form.get_by_label("Motif (obligatoire pour lier ou séparer)").press("Enter")
    form.get_by_text("Enregistrer la décision").click()
    page.get_by_text("appliqué au prochain import").wait_for(timeout=TIMEOUT)
    with psycopg.connect(deployment.db) as con:
        rows = con.execute("SELECT key, version, data, updated_by FROM dac_map.steward_rows "
                           "WHERE kind = 'correspondances'").fetchall()
        history = con.execute("SELECT action, author, comment FROM dac_map.steward_row_history "
                              "WHERE kind = 'correspondances'").fetchall()
        audit = con.execute("SELECT actor, details FROM dac_map.audit_log "
                            "WHERE action = 'correspondances.save'").fetchall()
    assert rows == [(f"local:demo-80-alz|{finess}", 1, {"resource_id": "local:demo-80-alz", "finess": finess,
                                                       "decision": "lier", "motif": "même association, antenne locale"},
                     "ref1")]
    assert history == [("ajout", "ref1", "même association, antenne locale")]
    assert audit[0][0] == "ref1" and audit[0][1]["ajout"] == 1
    assert "antenne" not in str(audit)  # the reason stays out of the audit log
    assert not (tmp_path / "never-written.csv").exists()
