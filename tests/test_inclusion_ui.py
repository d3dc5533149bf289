"""The social-resources pages with AppTest, and the sheet's Markdown (escaping, privacy)."""

from __future__ import annotations

import csv
import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dac_map import settings
from dac_map.inclusion.importer import run_import
from dac_map.ui.social_view import sheet_markdown

DEMO_LOCAL = settings.DATA_DIR / "inclusion" / "DEMO-FICTIF_ressources_locales_80_46.csv"


@pytest.fixture(scope="module")
def social_store(demo_store, tmp_path_factory):
    path = tmp_path_factory.mktemp("social") / "store.gpkg"
    shutil.copyfile(demo_store, path)
    run_import([], store=path, local_table=DEMO_LOCAL)
    return path


def _social_app(store: str) -> None:
    from pathlib import Path

    from dac_map.ui.social_view import render_social_page

    render_social_page(Path(store))


def _steward_app(table: str) -> None:
    from pathlib import Path

    from dac_map.ui.social_view import render_steward_page

    render_steward_page(Path(table))


def _caption_count(at: AppTest) -> int:
    for c in at.caption:
        if "ressource(s)" in c.value:
            return int(c.value.split(" ")[0])
    raise AssertionError("no count")


def test_social_page_filters(social_store):
    at = AppTest.from_function(_social_app, args=(str(social_store),), default_timeout=60)
    at.run()
    assert not at.exception
    assert any("EXEMPLES FICTIFS" in w.value for w in at.warning)
    with open(DEMO_LOCAL, encoding="utf-8-sig", newline="") as f:
        raw = list(csv.DictReader(f, delimiter=";"))
    assert _caption_count(at) == len(raw)
    at.multiselect(key="soc_families").set_value(["aidants_famille"]).run()
    caregivers = {"famille--soutien-aidants", "famille--prise-en-charge-personne-dependante"}
    assert _caption_count(at) == sum(bool(caregivers & set(r["thematiques"].split("|"))) for r in raw)
    at.multiselect(key="soc_families").set_value([]).run()
    at.selectbox(key="soc_commune").set_value("80001").run()  # Abbeville

    def serves(r):
        zone = r["zone_eligibilite"].split("|")
        return "80001" in zone or "80" in zone
    assert _caption_count(at) == sum(serves(r) for r in raw)
    assert any("Intervient à" in c.value for c in at.caption)
    at.selectbox(key="soc_fee").set_value("payant").run()
    assert _caption_count(at) == sum(serves(r) and r["frais"] == "payant" for r in raw)


def test_empty_store_says_how_to_import(demo_store):
    at = AppTest.from_function(_social_app, args=(str(demo_store),), default_timeout=60)
    at.run()
    assert not at.exception and "dac-map inclusion import" in at.info[0].value


def test_steward_page_save_needs_a_name(tmp_path):
    table = tmp_path / "DEMO-FICTIF_locales.csv"
    shutil.copyfile(DEMO_LOCAL, table)
    at = AppTest.from_function(_steward_app, args=(str(table),), default_timeout=60)
    at.run()
    assert not at.exception
    at.button(key="stw_save").click().run()
    assert "auteur" in at.error[0].value
    at.text_input(key="stw_author").set_value("Référente A").run()
    at.button(key="stw_save").click().run()
    assert at.success[0].value == "Aucun changement."
    assert table.read_bytes() == DEMO_LOCAL.read_bytes()


def test_sheet_escapes_and_shows_source():
    row = pd.Series({"name": "x", "structure_name": "<script>alert(1)</script> [lien](http://x)",
                     "families": ["social_sante_mentale"], "thematics": ["sante--sante-mentale"],
                     "description": "**gras** :red[rouge]", "publics": ["seniors"], "fee": "payant",
                     "fee_details": "5 €", "zone_label": "Somme (80)", "phone": "0322000000", "email": None,
                     "contact_name": None, "hours_fr": "Du lundi au vendredi : de 9 h à 12 h\nJours fériés : fermé",
                     "quality": 0.75, "sources_label": "data·inclusion (dora) + FINESS 800000001",
                     "updated": "2025-03-01", "fictitious": True, "mobilisation": ["Téléphoner"]})
    text = sheet_markdown(row)
    assert "<script>" not in text and "\\<script\\>" in text and "\\[lien\\]" in text
    assert "\\*\\*gras\\*\\*" in text and "\\:red\\[rouge\\]" in text
    assert "EXEMPLE FICTIF" in text
    assert "**Famille :** Santé mentale" in text and "**Publics :** Séniors" in text
    assert "**Frais :** Payant — 5 €" in text
    assert "**Horaires :** Du lundi au vendredi \\: de 9 h à 12 h ; Jours fériés \\: fermé" in text
    assert "**Score de qualité data·inclusion :** 0,75 / 1" in text
    assert text.endswith("**Source :** data·inclusion \\(dora\\) \\+ FINESS 800000001 · mis à jour le 01\\/03\\/2025")
    assert "Contact" not in text


def _stewards_app(table: str, decisions: str, store: str) -> None:
    from pathlib import Path

    from dac_map.ui.social_view import render_steward_page

    render_steward_page(Path(table), Path(decisions), Path(store))


def test_match_decision_section(duplicate_store, tmp_path):
    """A steward separates the proposed pair with a reason (saved, journaled); a reason with
    patient data is refused; another steward's save of the same pair meanwhile is a conflict
    that writes nothing and offers to reload."""
    from dac_map.inclusion import dedup
    from dac_map.inclusion.tables import CsvTable
    from dac_map.server import auth

    store_path, local, proposed, _ = duplicate_store
    run_import([], store=store_path, local_table=local)
    decisions = tmp_path / "decisions.csv"
    at = AppTest.from_function(_stewards_app, args=(str(local), str(decisions), str(store_path)), default_timeout=60)
    at.run()
    assert not at.exception
    pair = f"local:copie-finess|{proposed}"
    labels = at.selectbox(key="dec_pair_1").options
    assert len(labels) == 2 and f"(FINESS {proposed}) — nom et adresse proches — lié" in labels[0]
    table = next(d.value for d in at.dataframe if "N° FINESS" in d.value.columns)
    assert {"Nom (ressource sociale)", "Nom (FINESS)", "Adresse (FINESS)", "Méthode", "Score nom"} <= set(table.columns)
    at.selectbox(key="dec_pair_1").set_value(pair).run()
    at.radio(key=f"dec_choice_1_{pair}").set_value("separer").run()
    at.text_input(key=f"dec_motif_1_{pair}").set_value("Mme Martine Dupont née le 12/03/1941").run()
    at.text_input(key="dec_author").set_value("Référente A").run()
    at.button(key="dec_save").click().run()
    assert any("Non enregistré" in e.value and "motif" in e.value for e in at.error)
    assert not decisions.exists()
    at.text_input(key=f"dec_motif_1_{pair}").set_value("antenne distincte du même nom").run()
    at.button(key="dec_save").click().run()
    assert not at.exception
    assert any(s.value.startswith(f"Enregistré : ajout {pair}") for s in at.success)
    with open(decisions, encoding="utf-8-sig", newline="") as f:
        saved = list(csv.DictReader(f, delimiter=";"))
    assert saved == [{"resource_id": "local:copie-finess", "finess": proposed, "decision": "separer",
                      "motif": "antenne distincte du même nom"}]
    assert "Journal des décisions" in [h.value for h in at.subheader]
    # someone else changes the same pair meanwhile: this page's save is refused, nothing written
    other = CsvTable(dedup.MATCH_DECISIONS, decisions)
    dedup.save_decisions(other, other.snapshot(), [{**saved[0], "motif": "autre motif"}], auth.LOCAL,
                         author="Référent B")
    before = decisions.read_bytes()
    gen = 2
    at.radio(key=f"dec_choice_{gen}_{pair}").set_value("lier").run()
    at.text_input(key=f"dec_motif_{gen}_{pair}").set_value("finalement la même structure").run()
    at.button(key="dec_save").click().run()
    assert any("quelqu'un d'autre" in e.value.replace("\\", "") and pair in e.value.replace("\\", "")
               for e in at.error)
    assert decisions.read_bytes() == before
    at.button(key="dec_base_reload").click().run()
    assert not at.exception and at.selectbox(key="dec_pair_3").value is not None


def test_coverage_by_area_matches_brute_force(social_store, epci_members_raw, serves_raw):
    """White zones of the social page: communes of the Somme where no resource of a family
    (access to care: one Somme resource serving two communes) intervenes, against the raw demo
    table's zones."""
    from dac_map import store
    from dac_map.inclusion.catalogue import load_social
    from dac_map.inclusion.filters import SocialFamilyFilter, coverage_by_area

    with open(DEMO_LOCAL, encoding="utf-8-sig", newline="") as f:
        raw = list(csv.DictReader(f, delimiter=";"))
    communes = store.open_store(social_store).read_layer(store.COMMUNES, read_geometry=False)
    somme = sorted(c for c in communes["code"] if c.startswith("80"))
    rows = [r for r in raw if "sante--acces-aux-soins" in r["thematiques"].split("|")]
    want = {c: sum(serves_raw(r["zone_eligibilite"].split("|"), c, epci_members_raw) for r in rows) for c in somme}
    cat = load_social(social_store)
    got = coverage_by_area(cat, [SocialFamilyFilter(("sante_soins",))], ["80"])
    assert dict(zip(got["commune"], got["resources"])) == want
    assert 0 < sum(v == 0 for v in want.values()) < len(somme)  # some white zones, not all

    at = AppTest.from_function(_social_app, args=(str(social_store),), default_timeout=60)
    at.run()
    at.multiselect(key="soc_families").set_value(["sante_soins"]).run()
    at.multiselect(key="soc_cov_deps").set_value(["80"]).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Zones blanches"] == str(sum(v == 0 for v in want.values()))
    assert metrics["Communes couvertes"] == f"{sum(v > 0 for v in want.values())} / {len(somme)}"
