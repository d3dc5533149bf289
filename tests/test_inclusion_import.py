"""The import into a store (CLI and function): tables written, privacy rule, bad input leaves the
served store untouched, change report, the demo's fictitious local table; the steward table
(versioned saves, export in schema v1)."""

from __future__ import annotations

from pathlib import Path

import json
import shutil

import pandas as pd
import pytest
from data_inclusion.schema import v1
from typer.testing import CliRunner

from dac_map import settings, store
from dac_map.cli import app
from dac_map.errors import InputFormatError, ValidationError
from dac_map.files import sha256_file
from dac_map.inclusion import steward
from dac_map.privacy import PersonalDataError
from dac_map.inclusion.catalogue import load_social
from dac_map.inclusion.filters import ServesCommuneFilter, search_social
from dac_map.inclusion.importer import run_import
from dac_map.inclusion.resources import MATCHES_LAYER, RESOURCES_LAYER, ZONES_LAYER

INCLUSION_SAMPLE_2024 = Path(__file__).parent / "fixtures" / "data_inclusion" / "api-response-search-services-2024.json"

DEMO_LOCAL = settings.DATA_DIR / "inclusion" / "DEMO-FICTIF_ressources_locales_80_46.csv"
TEMPLATE = settings.DATA_DIR / "inclusion" / "modele_ressources_locales.csv"


@pytest.fixture
def store_copy(demo_store, tmp_path):
    path = tmp_path / "copy.gpkg"
    shutil.copyfile(demo_store, path)
    return path


def test_import_v1_files(store_copy, inclusion_files, inclusion_v1):
    structures, services = inclusion_v1
    result = run_import([inclusion_files["json"]], [inclusion_files["structures"]], store=store_copy,
                        local_table=DEMO_LOCAL)
    st = store.open_store(store_copy)
    assert {RESOURCES_LAYER, ZONES_LAYER, MATCHES_LAYER} <= set(st.layers())
    assert store.ESTABLISHMENTS in st.layers()  # the FINESS layers are kept
    table = st.read_layer(RESOURCES_LAYER, read_geometry=False)
    assert len(table) == len(services) + 8
    by_id = table.set_index("resource_id")
    # privacy: v1 has no "contact public" mark -> no contact name, no service e-mail
    assert by_id.loc["di:dora--aide-alim", "contact_name"] is None or pd.isna(by_id.loc["di:dora--aide-alim", "contact_name"])
    assert by_id.loc["di:dora--aide-alim", "email"] == "ccas@amiens.fr"  # the structure's address
    assert "jeanne" not in json.dumps(table.astype(str).to_dict("records"))
    # the steward marked the demo contact public
    assert by_id.loc["local:demo-80-diab", "contact_name"] == "Camille Exemple"
    assert by_id.loc["di:dora--aide-alim", "hours_fr"] == "Du lundi au vendredi : de 9 h à 12 h"
    assert by_id.loc["di:soliguide--repas", "structure_name"] == 'Restos "du cœur"; antenne de Cahors'
    assert bool(by_id.loc["local:demo-46-alz", "fictitious"]) is True
    assert result.changes["added"] == len(table)


def test_serves_commune_on_the_imported_store(store_copy, inclusion_files, inclusion_v1, epci_members_raw,
                                             serves_raw):
    _, services = inclusion_v1
    run_import([inclusion_files["json"]], store=store_copy, local_table=None)
    cat = load_social(store_copy)
    communes = set(store.open_store(store_copy).read_layer(store.COMMUNES, read_geometry=False)["code"])
    for commune in sorted(communes) + ["80001", "2A004", "97411"]:
        got = set(search_social(cat, [ServesCommuneFilter(commune)])["service_id"])
        want = {s["id"] for s in services
                if serves_raw(s.get("zone_eligibilite") or [s.get("code_insee")], commune, epci_members_raw)}
        assert got == want, commune
    # the EPCI zone (CA Amiens Métropole) reaches Amiens through the shipped table
    assert "dora--epci" in set(search_social(cat, [ServesCommuneFilter("80021")])["service_id"])


def test_same_result_from_every_shape(tmp_path, demo_store, inclusion_files):
    tables = {}
    for shape in ("json", "gz", "jsonl", "csv", "page"):
        res = run_import([inclusion_files[shape]], [inclusion_files["structures"]] if shape != "page" else [],
                         store=demo_store, dry_run=True)
        tables[shape] = res.table.drop(columns=["lon", "lat", "located_by", "quality"]).astype(str)
    for shape, t in tables.items():
        pd.testing.assert_frame_equal(t, tables["json"], obj=shape)


def test_bad_input_leaves_the_store_untouched(store_copy, tmp_path, inclusion_v1):
    _, services = inclusion_v1
    run_import([], store=store_copy, local_table=DEMO_LOCAL)
    before = sha256_file(store_copy)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**s, "date_maj": "2999-01-01"} for s in services] * 3), encoding="utf-8")
    with pytest.raises(ValidationError, match="rejected"):
        run_import([bad], store=store_copy, local_table=None)
    one_bad = tmp_path / "one.json"
    one_bad.write_text(json.dumps([{**services[0], "thematiques": ["inconnue"]}, *services[1:]]), encoding="utf-8")
    with pytest.raises(ValidationError, match="strict"):
        run_import([one_bad], store=store_copy, local_table=None, strict=True)
    assert sha256_file(store_copy) == before


def test_change_report(store_copy, inclusion_files, inclusion_v1, tmp_path):
    _, services = inclusion_v1
    run_import([inclusion_files["json"]], store=store_copy, local_table=None)
    changed = [dict(s) for s in services[1:]]
    changed[0]["nom"] = "Permanence d'accès aux droits (nouveau nom)"
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    result = run_import([path], store=store_copy, local_table=None)
    assert result.changes == {"added": 0, "removed": 1, "modified": 1, "unchanged": len(services) - 2}
    frame = store.open_store(store_copy).read_layer("changements_ressources_sociales", read_geometry=False)
    assert sorted(zip(frame["resource_id"], frame["change"])) == [
        ("di:dora--aide-alim", "retrait"), ("di:dora--droits", "modification")]


def test_cli_check_and_import(store_copy, inclusion_files):
    runner = CliRunner()
    r = runner.invoke(app, ["inclusion", "check", str(INCLUSION_SAMPLE_2024)])
    assert r.exit_code == 0, r.output
    assert "77 enregistrements lus" in r.output and "convertis depuis l'ancien format (2024)" in r.output
    r = runner.invoke(app, ["inclusion", "check", "--strict", str(INCLUSION_SAMPLE_2024)])
    assert r.exit_code == 5
    r = runner.invoke(app, ["inclusion", "check", "--json", str(inclusion_files["gz"])])
    assert r.exit_code == 0 and json.loads(r.output)["kept"] == 5
    r = runner.invoke(app, ["inclusion", "import", "--services", str(inclusion_files["page"]),
                            "--store", str(store_copy), "--no-local"])
    assert r.exit_code == 0, r.output
    assert "5 ressources sociales écrites" in r.output
    r = runner.invoke(app, ["inclusion", "import", "--services", str(store_copy.parent / "absent.json"),
                            "--store", str(store_copy)])
    assert r.exit_code == 3 and "absent.json" in r.output


def test_real_2024_sample_contacts_only_where_public(store_copy):
    raw = [it["service"] for it in json.loads(INCLUSION_SAMPLE_2024.read_text(encoding="utf-8"))["items"]]
    result = run_import([INCLUSION_SAMPLE_2024], store=store_copy, local_table=None)
    t = result.table.set_index("service_id")
    for s in raw:
        if s["id"] not in t.index:
            continue
        name = t.loc[s["id"], "contact_name"]
        if s.get("contact_public") is True:
            assert name == s.get("contact_nom_prenom")
        else:
            assert name is None or pd.isna(name)


# --------------------------------------------------------------------------- steward table

def test_demo_and_template_tables_are_valid():
    for path in (DEMO_LOCAL, TEMPLATE):
        t = steward.read_table(path, strict=True)
        assert t.issues == [] and t.report.rejected == 0 and t.services
        assert list(pd.read_csv(path, sep=";", dtype=str).columns) == list(steward.TABLE_COLUMNS)
    demo = steward.read_table(DEMO_LOCAL)
    assert all(s["fictif"] and "FICTIF" in s["nom"] for s in demo.services)
    assert {s["code_insee"][:2] for s in demo.services} == {"80", "46"}


def test_save_is_versioned_and_journaled(tmp_path):
    path = tmp_path / "locales.csv"
    shutil.copyfile(DEMO_LOCAL, path)
    rows = steward.read_table(path).rows
    rows[0] = {**rows[0], "nom": "Groupe de parole (nouvel horaire, EXEMPLE FICTIF)"}
    new = {**rows[1], "id": "demo-80-nouveau", "nom": "=1+1 nouvelle ressource"}
    actions = steward.save_table(path, [*rows[:-1], new], author="Référente A", comment="mise à jour")
    assert actions == ["modification demo-80-alz", "ajout demo-80-nouveau", "suppression demo-46-mobilite"]
    journal = steward.read_journal(path)
    assert [(j["auteur"], j["action"], j["id"]) for j in journal] == [
        ("Référente A", "modification", "demo-80-alz"), ("Référente A", "ajout", "demo-80-nouveau"),
        ("Référente A", "suppression", "demo-46-mobilite")]
    assert journal[0]["champs"] == "nom"
    versions = list((tmp_path / "locales.csv.versions").iterdir())
    assert len(versions) == 1 and versions[0].read_bytes() == DEMO_LOCAL.read_bytes()
    raw = path.read_text(encoding="utf-8-sig")
    assert ";'=1+1 nouvelle ressource;" in raw  # neutralised in the file
    again = steward.read_table(path)
    assert again.services[-1]["id"] == "demo-80-nouveau"
    assert again.services[-1]["nom"] == "=1+1 nouvelle ressource"  # as the steward typed it
    assert steward.save_table(path, again.rows, author="Référente A") == []  # nothing changed


def test_save_refuses_an_invalid_row_and_keeps_the_file(tmp_path):
    path = tmp_path / "locales.csv"
    shutil.copyfile(DEMO_LOCAL, path)
    rows = steward.read_table(path).rows
    before = path.read_bytes()
    with pytest.raises(InputFormatError) as exc:
        steward.save_table(path, [*rows, {**rows[0], "id": "x", "description": ""}], author="A")
    assert "line 10" in str(exc.value) and "description" in str(exc.value)
    with pytest.raises(InputFormatError, match="duplicate"):
        steward.save_table(path, [*rows, rows[0]], author="A")
    with pytest.raises(InputFormatError, match="auteur"):
        steward.save_table(path, rows, author=" ")
    assert path.read_bytes() == before and not steward.journal_path(path).exists()


def test_export_in_schema_v1(tmp_path):
    paths = steward.export_schema(steward.read_table(DEMO_LOCAL), tmp_path)
    services = json.loads(paths["services"].read_text(encoding="utf-8"))
    structures = json.loads(paths["structures"].read_text(encoding="utf-8"))
    assert len(services) == len(structures) == 8
    for s in services:
        v1.Service.model_validate(s, strict=False)
        assert set(s) <= set(v1.Service.model_fields)
    for s in structures:
        v1.Structure.model_validate(s)
    diab = next(s for s in services if s["id"] == "demo-80-diab")
    assert diab["contact_nom_prenom"] == "Camille Exemple"  # marked public by the steward
    assert all("contact_nom_prenom" not in s for s in services if s["id"] != "demo-80-diab")


def test_cli_search(store_copy, inclusion_files):
    run_import([inclusion_files["json"]], store=store_copy, local_table=DEMO_LOCAL)
    runner = CliRunner()
    r = runner.invoke(app, ["inclusion", "search", "--store", str(store_copy), "--intervient", "46042",
                            "--famille", "aide_alimentaire"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("1 ressource(s) — Famille : Aide alimentaire et matérielle ; Intervient à Cahors (46042)")
    assert 'Repas "chauds"; le soir' in r.output
    r = runner.invoke(app, ["inclusion", "search", "--store", str(store_copy), "--frais", "gratis"])
    assert r.exit_code != 0 and "gratis" in r.output


def test_cli_reports(store_copy, tmp_path):
    """The match decisions and changes are reported; a FINESS establishment of the demo found
    again by name and address in the local table (expected from the raw extract)."""
    from dac_map.cli import DEMO_ESTABLISHMENTS

    raw = next(line.split(";") for line in DEMO_ESTABLISHMENTS.read_text(encoding="latin-1").splitlines()
               if line.startswith("structureet;") and line.split(";")[13] == "80")
    finess, name = raw[1], raw[3]
    address = " ".join(x for x in (raw[7], raw[8], raw[9]) if x)
    commune = raw[13] + raw[12]
    table = tmp_path / "locales.csv"
    shutil.copyfile(DEMO_LOCAL, table)
    rows = steward.read_table(table).rows
    rows.append({**rows[0], "id": "copie-finess", "structure_nom": name.title(), "adresse": address.lower(),
                 "code_insee": commune, "structure_siret": None})
    steward.save_table(table, rows, author="Test")
    r = CliRunner().invoke(app, ["inclusion", "import", "--store", str(store_copy), "--local-table", str(table),
                                 "--rapport", str(tmp_path / "rapports")])
    assert r.exit_code == 0, r.output
    lines = (tmp_path / "rapports" / "correspondances_finess.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == ("ressource;nom;finess;methode;score_nom;score_adresse;decision;motif_referent;decide_par;"
                        "decide_le")
    assert any(l.startswith(f"local:copie-finess;") and f";{finess};nom et adresse proches;" in l for l in lines)
    changes = (tmp_path / "rapports" / "changements.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(changes) == 1 + 9 and all(l.endswith(";ajout") for l in changes[1:])
    t = store.open_store(store_copy).read_layer(RESOURCES_LAYER, read_geometry=False).set_index("resource_id")
    assert t.loc["local:copie-finess", "sources_label"] == f"ressource locale (DAC) (dac-local) + FINESS {finess}"


def test_save_reason_refuses_patient_data(tmp_path):
    path = tmp_path / "locales.csv"
    shutil.copyfile(DEMO_LOCAL, path)
    rows = steward.read_table(path).rows
    rows[0] = {**rows[0], "nom": "Autre nom (EXEMPLE FICTIF)"}
    before = path.read_bytes()
    with pytest.raises(PersonalDataError) as exc:
        steward.save_table(path, rows, author="A", comment="suite à l'appel de Mme Martine Dupont née le 12/03/1941")
    assert "motif" in str(exc.value)
    assert path.read_bytes() == before and not steward.journal_path(path).exists()
