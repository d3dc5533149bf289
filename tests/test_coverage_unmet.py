"""The unmet-need log: refusal of patient-identifying data, storage, filters, export, and
survival across a rebuild of the GeoPackage."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from dac_map.cli import DEMO_COMMUNES, DEMO_DEPARTMENTS, DEMO_ESTABLISHMENTS
from dac_map.coverage.unmet import (
    SCHEMA_VERSION,
    delete_unmet_need,
    export_unmet_needs_csv,
    list_unmet_needs,
    record_unmet_need,
    unmet_needs_csv,
    unmet_needs_summary,
)
from dac_map.coverage.unmet_model import PersonalDataError, UnmetNeedError, validate_unmet_need
from dac_map import settings
from dac_map.coverage.criteria import commune_of
from dac_map.errors import StoreError, ValidationError
from dac_map.privacy import allowed_name_pairs
from dac_map.privacy import personal_data_kinds as detect_personal_data
from dac_map.query.spec import SearchSpec
from dac_map.etl import EtlInputs, run_etl

FILTERS = {"v": 1, "famille": ["pa_hebergement"], "autour": "80410", "rayon": 30}
LABEL = "Famille : Personnes âgées — hébergement ; à moins de 30 km du centre de la commune Ham (80410)"



@pytest.fixture(autouse=True)
def _keep_old_records(monkeypatch):
    """Several records here are dated 2024: the retention purge (24 months by default, tested in
    test_unmet_privacy.py) must not delete them."""
    monkeypatch.setattr(settings, "UNMET_RETENTION_MONTHS", 0)

@pytest.mark.parametrize("text, kind", [
    ("Patient NIR 1 85 05 78 006 084 36", "nir"),
    ("sécu 185057800608436", "nir"),
    ("n° 2850578006084", "nir"),
    ("NIR corse 2 85 05 2A 006 084 12", "nir"),
    ("né le 12/03/1938, vit seul", "date"),
    ("née le 3 mars 1941", "date"),
    ("né(e) le 1er janvier 1940", "date"),
    ("date de naissance 1938-03-12", "date"),
    ("DDN 12.03.38", "date"),
    ("dossier du 05/11/2024", "date"),
    ("rappeler le 06 12 34 56 78", "phone"),
    ("tél. 0322853535", "phone"),
    ("+33 6 12 34 56 78", "phone"),
    ("écrire à jean.dupont@example.fr", "email"),
    ("Mme Dupont attend depuis 3 mois", "name"),
    ("M. Jean Martin, 87 ans", "name"),
    ("monsieur X refuse l'entrée en EHPAD", "name"),
    ("Madame L. a besoin d'un SSIAD", "name"),
    ("Jean Martin a besoin d'une place", "name"),
    ("demande pour DUPONT Marie", "name"),
    ("Pour Marie-Thérèse Lefebvre, aucun accueil de jour", "name"),
    ("mademoiselle de La Tour", "name"),
    ("vu avec le Dr Leroy", "name"),
    ("mme dupont refuse", "name"),
    ("Mr leclerc, 90 ans", "name"),
])
def test_patient_data_is_refused(tmp_path, text, kind):
    assert kind in detect_personal_data(text)
    with pytest.raises(PersonalDataError) as exc:
        record_unmet_need("DAC-80", "80410", FILTERS, LABEL, text, db_path=tmp_path / "u.sqlite")
    assert kind in exc.value.kinds
    assert "Enregistrement refusé" in exc.value.message and "commentaire" in exc.value.message
    assert isinstance(exc.value, ValidationError)  # exit code 5 in the CLI
    assert not list_unmet_needs(tmp_path / "u.sqlite").shape[0]


@pytest.mark.parametrize("text", [
    "Pas d'EHPAD avec unité Alzheimer à moins de 30 km de Ham",
    "Aucun SSIAD disponible sur le secteur de Saint-Pierre-de-Varengeville avant 3 mois",
    "Liste d'attente de 6 mois à l'EHPAD Jean Jaurès ; 12 places pour 15 demandes",
    "Le CH Pierre Janet ne prend plus de patients hors secteur",
    "France Alzheimer propose un accueil mais à 45 km",
    "Résidence Louise Michel complète, rue Victor Hugo",
    "Patiente de 87 ans, GIR 2, vit seule, aidant épuisé",
    "Madame vit seule sans aidant, monsieur est hospitalisé",
    "Mme souhaite rester à domicile ; mme n'a pas d'aidant",
    "Besoin d'un accueil de jour le mardi et le jeudi en 2024",
    "Délai de 15 jours ; FINESS 800000010 ; code postal 80400",
    "Pas de place en USLD Marie Curie, appel à 14h30",
    "",
])
def test_legitimate_comments_pass(tmp_path, text):
    assert detect_personal_data(text) == ()
    need = record_unmet_need("DAC-80", "80410", FILTERS, LABEL, text, "Infirmier·ère",
                             db_path=tmp_path / "u.sqlite")
    assert need.id == 1 and need.comment == text


def test_personal_data_in_filters_and_role_is_refused(tmp_path):
    db = tmp_path / "u.sqlite"
    with pytest.raises(PersonalDataError) as exc:
        record_unmet_need("DAC-80", None, {"query": "Mme Durand"}, "Recherche : « Mme Durand »",
                          db_path=db)
    assert exc.value.field == "filters_json"
    with pytest.raises(PersonalDataError) as exc:
        record_unmet_need("DAC-80", None, {}, LABEL, "", "Jean Martin", db_path=db)
    assert exc.value.field == "recorded_by_role"


def test_known_public_names_pass_in_generated_fields_only(tmp_path):
    db = tmp_path / "u.sqlite"
    allowed = allowed_name_pairs(["CHRS LOUISE MICHEL COALLIA AMIENS", "Albert"])
    label = "à moins de 10 km de l'établissement CHRS LOUISE MICHEL COALLIA AMIENS"
    need = record_unmet_need("DAC-80", None, {"near": "CHRS LOUISE MICHEL COALLIA AMIENS"}, label,
                             db_path=db, allowed_names=allowed)
    assert need.id == 1
    with pytest.raises(PersonalDataError):  # the comment is typed by the user: no exemption
        record_unmet_need("DAC-80", None, {}, LABEL, "Contacté Louise Michel", db_path=db,
                          allowed_names=allowed)


@pytest.mark.parametrize("kwargs, field", [
    ({"dac_id": ""}, "dac_id"),
    ({"dac_id": "DAC 80 ; DROP TABLE"}, "dac_id"),
    ({"commune": "8041"}, "commune"),
    ({"filters_json": "{not json"}, "filters_json"),
    ({"comment": "x" * 2001}, "comment"),
    ({"comment": "bad\x00char"}, "comment"),
    ({"filters_label": "", "comment": ""}, "comment"),
])
def test_invalid_fields_are_refused(tmp_path, kwargs, field):
    args = {"dac_id": "DAC-80", "commune": "80410", "filters_json": FILTERS,
            "filters_label": LABEL, "comment": "ok"}
    args.update(kwargs)
    with pytest.raises(UnmetNeedError) as exc:
        record_unmet_need(**args, db_path=tmp_path / "u.sqlite")
    assert exc.value.field == field


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(comment=st.text(max_size=300), label=st.text(max_size=80),
       role=st.one_of(st.none(), st.text(max_size=40)),
       commune=st.one_of(st.none(), st.text(max_size=6)))
def test_validation_only_raises_the_documented_error(comment, label, role, commune):
    try:
        need = validate_unmet_need("DAC-80", commune, {"v": 1, "q": label}, label, comment, role)
    except UnmetNeedError:
        return
    assert need.comment == comment.strip()


@hsettings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200))
def test_whatever_passes_validation_can_be_stored_and_read_back(tmp_path_factory, comment):
    db = tmp_path_factory.getbasetemp() / "hypothesis_unmet.sqlite"
    try:
        need = record_unmet_need("DAC-46", "46042", {}, "Recherche libre", comment, db_path=db)
    except UnmetNeedError:
        return
    rows = list_unmet_needs(db)
    assert rows.loc[rows["id"] == need.id, "comment"].iat[0] == comment.strip()


def _fill(db: Path) -> None:
    when = [datetime(2024, 1, 10, 9, tzinfo=timezone.utc), datetime(2024, 2, 1, 23, 59, tzinfo=timezone.utc),
            datetime(2024, 3, 5, 12, tzinfo=timezone.utc)]
    record_unmet_need("DAC-80", "80410", FILTERS, LABEL, "a", db_path=db, recorded_at=when[0])
    record_unmet_need("DAC-80", "80021", {"families": ["domicile"]}, "SSIAD", "b",
                      resource_type="SSIAD", db_path=db, recorded_at=when[1])
    record_unmet_need("DAC-46", "46042", {}, "HAD", "=HYPERLINK(\"x\")", resource_type="HAD",
                      db_path=db, recorded_at=when[2])


def test_list_filter_summary_export_delete(tmp_path):
    db = tmp_path / "log" / "u.sqlite"
    _fill(db)
    everything = list_unmet_needs(db, commune_names={"80410": "Ham"})
    assert list(everything["id"]) == [3, 2, 1]  # newest first
    assert everything.loc[everything["id"] == 1, "commune_name"].iat[0] == "Ham"
    assert everything.loc[everything["id"] == 1, "resource_type"].iat[0] == "pa_hebergement"
    assert list(list_unmet_needs(db, dac_id="DAC-80")["id"]) == [2, 1]
    assert list(list_unmet_needs(db, commune="46042")["id"]) == [3]
    assert list(list_unmet_needs(db, resource_type="SSIAD")["id"]) == [2]
    # a date bound covers the whole UTC day
    assert list(list_unmet_needs(db, start=date(2024, 1, 10), end=date(2024, 2, 1))["id"]) == [2, 1]
    assert list(list_unmet_needs(db, start="2024-02-02")["id"]) == [3]
    with pytest.raises(UnmetNeedError):
        list_unmet_needs(db, start="hier")
    by_type, by_commune = unmet_needs_summary(everything)
    assert dict(zip(by_type["resource_type"], by_type["needs"])) == {"HAD": 1, "SSIAD": 1, "pa_hebergement": 1}
    assert set(by_commune["commune"]) == {"80410", "80021", "46042"}

    plain = list(csv.reader(io.StringIO(unmet_needs_csv(everything).decode("utf-8-sig")),
                            delimiter=";"))
    assert "commentaire" not in plain[0] and len(plain) == 4  # comments only when asked
    data = unmet_needs_csv(everything, include_comments=True)
    assert data.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["id", "date_utc", "territoire", "commune"]
    assert len(rows) == 4
    assert "'=HYPERLINK(\"x\")" in [c for r in rows for c in r]  # formula neutralised
    out = export_unmet_needs_csv(tmp_path / "export.csv", db, dac_id="DAC-46")
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 2

    assert delete_unmet_need(2, db) and not delete_unmet_need(2, db)
    assert list(list_unmet_needs(db)["id"]) == [3, 1]


def test_missing_log_is_empty_and_garbage_file_is_a_store_error(tmp_path):
    assert list_unmet_needs(tmp_path / "none.sqlite").empty
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        record_unmet_need("DAC-80", None, {}, LABEL, db_path=bad)


def test_log_survives_a_rebuild_of_the_store(tmp_path):
    store = tmp_path / "build" / "dac_map.gpkg"
    db = tmp_path / "unmet_needs.sqlite"
    inputs = EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS,
                       communes=list(DEMO_COMMUNES))
    run_etl(inputs, store)
    record_unmet_need("DAC-80", "80410", FILTERS, LABEL, "Pas d'EHPAD à moins de 30 km de Ham",
                      db_path=db)
    run_etl(inputs, store)  # a refresh atomically replaces the GeoPackage
    assert list(list_unmet_needs(db)["comment"]) == ["Pas d'EHPAD à moins de 30 km de Ham"]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


def test_search_spec_is_stored_in_the_versioned_form(tmp_path):
    db = tmp_path / "u.sqlite"
    spec = SearchSpec(dac="DAC-80", families=("pa_hebergement",), near="80410", radius_km=30,
                      min_capacity=20)
    need = record_unmet_need("DAC-80", None, spec, "EHPAD autour de Ham", db_path=db)
    assert need.resource_type == "pa_hebergement"
    stored = json.loads(list_unmet_needs(db)["filters_json"].iat[0])
    assert stored == {"v": 2, "dac": "DAC-80", "famille": ["pa_hebergement"], "capacite": 20,
                      "autour": "80410", "rayon": 30}
    assert SearchSpec.from_json(stored) == spec
    assert commune_of(stored) == "80410"


@pytest.mark.parametrize("criteria, field", [
    ({"v": 5, "famille": ["x"]}, "filters_json"),  # unknown version (3 = FINESS+, 4 = social keys)
    ({"v": 2, "intervient": "01451"}, "filters_json"),  # a FINESS+ key needs version 3
    ({"v": 1, "families": ["x"]}, "filters_json"),  # Python field names are not the format
    ({"v": 1, "capacite": "beaucoup"}, "filters_json"),
])
def test_invalid_versioned_criteria_are_refused(tmp_path, criteria, field):
    with pytest.raises(UnmetNeedError) as exc:
        record_unmet_need("DAC-80", None, criteria, LABEL, db_path=tmp_path / "u.sqlite")
    assert exc.value.field == field


# Rows as written by schema 1 (the query filters serialised with their class and field names).
_OLD_DDL = """
CREATE TABLE unmet_needs (id INTEGER PRIMARY KEY AUTOINCREMENT, recorded_at TEXT NOT NULL,
    dac_id TEXT NOT NULL, commune TEXT, resource_type TEXT NOT NULL, filters_json TEXT NOT NULL,
    filters_label TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '', recorded_by_role TEXT);
CREATE INDEX unmet_needs_when ON unmet_needs (recorded_at);
PRAGMA user_version = 1;
"""
_OLD_ROWS = [
    ('[{"filter": "TerritoryFilter", "communes": [], "dac_id": "DAC-80", "departments": []}, '
     '{"families": ["pa_hebergement"], "filter": "FamilyFilter"}, '
     '{"filter": "SpecialtyFilter", "disciplines": ["924"], "activity_types": ["21"], '
     '"clienteles": ["436"], "care_activities": []}, '
     '{"authorised": false, "filter": "CapacityFilter", "min_places": 30, "specialty": '
     '{"filter": "SpecialtyFilter", "disciplines": ["924"], "activity_types": ["21"], '
     '"clienteles": ["436"], "care_activities": []}}, '
     '{"filter": "TextFilter", "min_score": 70.0, "query": "ehpad"}, '
     '{"commune": "80410", "filter": "DistanceFilter", "finess": null, "outline": true, '
     '"point": null, "radius_km": 12.5}]',
     {"v": 2, "dac": "DAC-80", "famille": ["pa_hebergement"], "discipline": ["924"],
      "activite": ["21"], "clientele": ["436"], "capacite": 30, "q": "ehpad", "autour": "80410",
      "rayon": 12.5, "contour": True}),
    ('[{"filter": "StatusFilter", "open_only": false}, {"filter": "CategoryFilter", '
     '"categories": ["500"], "aggregates": ["4401"]}, {"commune": null, "filter": "DistanceFilter", '
     '"finess": null, "outline": false, "point": [2.3, 49.89], "radius_km": 10.0}]',
     {"v": 2, "categorie": ["500"], "agregat": ["4401"], "autour": "49.89, 2.3", "rayon": 10,
      "fermes": True}),
    ('{"families": ["domicile"]}', {"v": 2, "famille": ["domicile"]}),
    ("{}", {"v": 2}),
    ('{"unknown": 3}', {"v": 2}),
]


def test_old_log_is_migrated_when_opened(tmp_path):
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as con:
        con.executescript(_OLD_DDL)
        for i, (text, _) in enumerate(_OLD_ROWS):
            con.execute("INSERT INTO unmet_needs (recorded_at, dac_id, commune, resource_type, "
                        "filters_json, filters_label, comment) VALUES (?, 'DAC-80', NULL, 'x', ?, "
                        "'critères', '')", (f"2024-01-0{i + 1}T00:00:00+00:00", text))
    con.close()
    listed = list_unmet_needs(db).sort_values("id")
    assert [json.loads(t) for t in listed["filters_json"]] == [new for _, new in _OLD_ROWS]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        kept = [r[0] for r in con.execute("SELECT legacy_filters_json FROM unmet_needs ORDER BY id")]
    con.close()
    assert kept == [old for old, _ in _OLD_ROWS]  # nothing already stored is lost
    record_unmet_need("DAC-80", None, SearchSpec(families=("had_palliatif",)), "HAD", db_path=db)
    again = list_unmet_needs(db).sort_values("id")
    assert list(again["filters_json"])[:-1] == list(listed["filters_json"])  # migrated once
