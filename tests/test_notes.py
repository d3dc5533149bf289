"""Coordinators' notes: one interface, SQLite (embedded) and PostgreSQL (server) back-ends,
the same rules on both: authorisation, visibility, personal-data refusal, idempotent writes,
search, FINESS-keyed survival across catalogue versions, orphans."""

from __future__ import annotations

from datetime import date, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dac_map import store
from dac_map.errors import ForbiddenError
from dac_map.notes import (FIELDS, NoteConflictError, NoteError, NoteInput, NotePersonalDataError,
                           PostgresNoteStore, SqliteNoteStore, open_notes)
from dac_map.server import auth, versions
from dac_map.ui import exports

C80 = auth.Principal("coord80", frozenset({auth.COORDINATOR}), frozenset({"DAC-80"}), True)
C46 = auth.Principal("coord46", frozenset({auth.COORDINATOR}), frozenset({"DAC-46"}), True)
ARS = auth.Principal("ars", frozenset({auth.ARS}), frozenset(), True)
STEWARD = auth.Principal("ref", frozenset({auth.DATA_STEWARD}), frozenset(), True)
F1, F2 = "800000018", "460000011"


@pytest.fixture(params=["sqlite", "postgres"])
def notes(request, tmp_path):
    if request.param == "sqlite":
        return SqliteNoteStore(tmp_path / "notes.sqlite")
    return PostgresNoteStore(request.getfixturevalue("pg_url"))


def test_open_notes_picks_the_backend_of_the_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("DAC_MAP_DATABASE_URL", raising=False)
    monkeypatch.setenv("DAC_MAP_NOTES_DB", str(tmp_path / "n.sqlite"))
    assert isinstance(open_notes(), SqliteNoteStore) and open_notes().path == tmp_path / "n.sqlite"
    monkeypatch.setenv("DAC_MAP_DATABASE_URL", "postgresql://u@127.0.0.1:1/x")
    assert isinstance(open_notes(), PostgresNoteStore)


def test_visibility_follows_the_dacs_and_sharing(notes):
    private = notes.add(NoteInput(F1, "DAC-80", opening_hours="lun-ven 9h-17h"), C80)
    shared = notes.add(NoteInput(F1, "DAC-46", waiting_time="3 semaines", shared=True), C46)
    other = notes.add(NoteInput(F2, "DAC-46", contact_role="cadre de santé"), C46)
    assert [n.id for n in notes.for_resource(F1, C80)] == [private.id, shared.id]
    assert [n.id for n in notes.for_resource(F1, C46)] == [shared.id]
    assert {n.id for n in notes.visible(auth.LOCAL)} == {private.id, shared.id, other.id}
    assert {n.id for n in notes.visible(C46)} == {shared.id, other.id}
    for who in (auth.ANONYMOUS, ARS, STEWARD):  # never a note for them, even shared ones
        with pytest.raises(ForbiddenError):
            notes.for_resource(F1, who)
        with pytest.raises(ForbiddenError):
            notes.search("semaines", who)
    assert private.author == "coord80" and shared.author == "coord46"


def test_writes_are_authorised_by_the_store_itself(notes):
    note = notes.add(NoteInput(F1, "DAC-80", other="accueil de jour le mardi"), C80)
    for who in (auth.ANONYMOUS, ARS, STEWARD, C46):  # a forged submission of any of them
        with pytest.raises(ForbiddenError):
            notes.add(NoteInput(F1, "DAC-80", other="forgé"), who)
        with pytest.raises(ForbiddenError):
            notes.update(note.id, NoteInput(F1, "DAC-80", other="forgé"), who)
        with pytest.raises(ForbiddenError):
            notes.delete(note.id, who)
    with pytest.raises(ForbiddenError):  # moving a note to another DAC needs both
        notes.update(note.id, NoteInput(F1, "DAC-46", other="x"), C80)
    assert [n.other for n in notes.visible(auth.LOCAL)] == ["accueil de jour le mardi"]
    changed = notes.update(note.id, NoteInput(F1, "DAC-80", other="accueil le jeudi",
                                              verified_on=date(2024, 5, 2)), C80)
    assert (changed.other, changed.verified_on, changed.id) == ("accueil le jeudi",
                                                                date(2024, 5, 2), note.id)
    assert notes.delete(note.id, C80) and not notes.delete(note.id, C80)


def test_editing_a_note_updates_date_and_author_and_detects_conflicts(notes):
    """Editing: another coordinator of the same DAC edits; "vérifié le" and the author become
    theirs, ``updated_at`` moves, ``created_at`` stays; personal data is refused on edit as on
    creation (nothing written); an edit over someone else's newer edit, or over a deleted
    note, is a conflict and writes nothing."""
    other80 = auth.Principal("coord80-bis", frozenset({auth.COORDINATOR}), frozenset({"DAC-80"}), True)
    note = notes.add(NoteInput(F1, "DAC-80", opening_hours="lun-ven 9h-17h",
                               verified_on=date(2024, 1, 10)), C80)
    read_by_a = notes.for_resource(F1, C80)[0]
    read_by_b = notes.for_resource(F1, other80)[0]
    assert read_by_a == read_by_b == note
    with pytest.raises(NotePersonalDataError) as err:
        notes.update(note.id, NoteInput(F1, "DAC-80", contact_role="Mme Dupont"), other80,
                     expected=read_by_b)
    assert err.value.field == "contact_role"
    assert notes.for_resource(F1, C80) == [note]
    edited = notes.update(note.id, NoteInput(F1, "DAC-80", opening_hours="lun-sam 8h-18h",
                                             verified_on=date.today()), other80,
                          expected=read_by_b)
    assert (edited.opening_hours, edited.verified_on, edited.author) == (
        "lun-sam 8h-18h", date.today(), "coord80-bis")
    assert edited.created_at == note.created_at and edited.id == note.id
    with pytest.raises(NoteConflictError) as err:  # A's form was opened before B's edit
        notes.update(note.id, NoteInput(F1, "DAC-80", waiting_time="2 mois"), C80,
                     expected=read_by_a)
    assert err.value.current == notes.for_resource(F1, C80)[0]
    assert notes.for_resource(F1, C80)[0].waiting_time == ""  # nothing of A's edit was written
    assert notes.delete(note.id, C80)
    with pytest.raises(NoteConflictError):
        notes.update(note.id, NoteInput(F1, "DAC-80", other="x"), other80, expected=edited)
    assert notes.visible(C80) == []


@pytest.mark.parametrize("field,text,kind", [
    ("contact_role", "Mme Dupont", "name"),
    ("other", "patient M. Jean Martin, voir avec sa fille", "name"),
    ("contact_role", "Marie-Thérèse Lefebvre", "name"),
    ("other", "appeler le 06 12 34 56 78", "phone"),
    ("admission_criteria", "écrire à jean.dupont@gmail.com", "email"),
    ("other", "NIR 1 85 05 78 006 084 36", "nir"),
    ("other", "née le 12/03/1938", "date"),
])
def test_personal_data_is_refused_in_every_field(notes, field, text, kind):
    with pytest.raises(NotePersonalDataError) as err:
        notes.add(NoteInput(F1, "DAC-80", **{field: text}), C80)
    assert kind in err.value.kinds and err.value.field == field
    assert FIELDS[field][0] in err.value.message
    assert notes.visible(auth.LOCAL) == []


@pytest.mark.parametrize("values", [
    {"contact_role": "infirmière coordinatrice"},
    {"opening_hours": "lun-ven 9h-17h, sam 9h-12h"},
    {"admission_criteria": "GIR 1 à 4, pas de troubles du comportement sévères"},
    {"waiting_time": "2 à 3 mois"},
])
def test_descriptions_of_a_resource_are_accepted(notes, values):
    note = notes.add(NoteInput(F1, "DAC-80", **values), C80)
    assert all(getattr(note, k) == v for k, v in values.items())


def test_invalid_fields_name_the_field(notes):
    cases = [(NoteInput("12", "DAC-80", other="x"), "finess"),
             (NoteInput(F1, "DAC 80 !", other="x"), "dac_id"),
             (NoteInput(F1, "DAC-80"), "other"),  # empty note
             (NoteInput(F1, "DAC-80", other="x" * 2001), "other"),
             (NoteInput(F1, "DAC-80", other="a\x00b"), "other"),
             (NoteInput(F1, "DAC-80", other="x",
                        verified_on=date.today() + timedelta(days=2)), "verified_on")]
    for note, field in cases:
        with pytest.raises(NoteError) as err:
            notes.add(note, auth.LOCAL)
        assert err.value.field == field


def test_a_retried_submission_is_stored_once(notes):
    a = notes.add(NoteInput(F1, "DAC-80", other="un"), C80, client_key="form-1")
    b = notes.add(NoteInput(F1, "DAC-80", other="un"), C80, client_key="form-1")
    c = notes.add(NoteInput(F1, "DAC-80", other="deux"), C80, client_key="form-2")
    assert a.id == b.id != c.id and len(notes.visible(C80)) == 2


def test_search_ignores_case_and_accents(notes):
    notes.add(NoteInput(F1, "DAC-80", admission_criteria="Pas d'Équipe de nuit"), C80)
    notes.add(NoteInput(F2, "DAC-80", other="équipe mobile gériatrique"), C80)
    assert sorted(n.finess for n in notes.search("EQUIPE", C80)) == sorted([F1, F2])
    assert [n.finess for n in notes.search("equipe nuit", C80)] == [F1]
    assert notes.search("equipe", C46) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_is_stored_verbatim_or_refused_with_a_field(tmp_path, text):
    store_ = SqliteNoteStore(tmp_path / "prop.sqlite")
    before = len(store_.visible(auth.LOCAL))
    try:
        note = store_.add(NoteInput(F1, "DAC-80", other=text), auth.LOCAL)
    except NoteError as exc:
        assert exc.field == "other"
        assert len(store_.visible(auth.LOCAL)) == before  # nothing stored
    else:
        assert note.other == text.strip() and store_.for_resource(F1, auth.LOCAL)[-1] == note


def _catalogue(name: str, lon: float, finess: list[str]) -> dict[str, pd.DataFrame]:
    est = gpd.GeoDataFrame({"finess": finess, "name": [name] * len(finess)},
                           geometry=[shapely.Point(lon, 49.9)] * len(finess), crs="EPSG:4326")
    return {store.ESTABLISHMENTS: est}


def test_notes_survive_renaming_moving_and_report_orphans(pg_url):
    notes = PostgresNoteStore(pg_url)
    versions.publish(_catalogue("EHPAD Les Tilleuls", 2.30, [F1, F2]), {}, actor="t", url=pg_url)
    note = notes.add(NoteInput(F1, "DAC-80", opening_hours="visites 14h-18h"), C80)
    # the next refresh renames and moves the establishment: the note still belongs to it
    versions.publish(_catalogue("EHPAD Résidence du Parc", 2.45, [F1, F2]), {}, actor="t",
                     url=pg_url)
    served = set(versions.read_served(pg_url).layers[store.ESTABLISHMENTS]["finess"])
    assert notes.for_resource(F1, C80) == [note] and notes.orphans(served, C80) == []
    # then it closes (absent from the registry): the note is kept and reported as an orphan
    versions.publish(_catalogue("Autre", 2.45, [F2]), {}, actor="t", url=pg_url)
    served = set(versions.read_served(pg_url).layers[store.ESTABLISHMENTS]["finess"])
    assert notes.orphans(served, C80) == [note] and notes.orphans(served, C46) == []


def test_notes_are_printed_escaped_on_the_a4_sheet(tmp_path):
    notes = SqliteNoteStore(tmp_path / "n.sqlite")
    notes.add(NoteInput(F1, "DAC-80", admission_criteria="<b>GIR</b> & <script>x</script>",
                        verified_on=date(2024, 3, 9)), C80)
    notes.add(NoteInput(F2, "DAC-46", other="ne doit pas apparaître"), C46)
    records = pd.DataFrame({"finess": [F1, F2], "name": ["A", "B"], "category_label": ["x", "y"]})
    html = exports.a4_sheet_html(records, exports.SheetContext(title="t"),
                                 notes=notes.for_resources([F1, F2], C80))
    assert "&lt;b&gt;GIR&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>" not in html and "vérifié le 09/03/2024" in html
    assert "ne doit pas apparaître" not in html and "coord80" in html


def _notes_panel(subject: str, dacs: str) -> None:
    from dac_map.server import auth as auth_
    from dac_map.ui import notes_view

    who = auth_.Principal(subject, frozenset({auth_.COORDINATOR}), frozenset(dacs.split(",")), True)
    notes_view.render_resource_notes("800000018", "EHPAD Les Tilleuls", "DAC-80", who)


def test_a_coordinator_edits_their_dacs_note_in_the_app(tmp_path, monkeypatch):
    """AppTest of the detail panel's notes: the edit form holds the note's values; saving
    updates it ("vérifié le" today, the editor as author); a patient's name is refused and
    writes nothing; an edit over a newer one is refused (the form keeps the typing); another
    DAC's shared note has no edit form."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("DAC_MAP_DATABASE_URL", raising=False)
    monkeypatch.setenv("DAC_MAP_NOTES_DB", str(tmp_path / "notes.sqlite"))
    store = SqliteNoteStore(tmp_path / "notes.sqlite")
    mine = store.add(NoteInput(F1, "DAC-80", opening_hours="lun-ven 9h-17h",
                               verified_on=date(2024, 1, 10)), C80)
    theirs = store.add(NoteInput(F1, "DAC-46", waiting_time="3 semaines", shared=True), C46)
    at = AppTest.from_function(_notes_panel, args=("coord80-bis", "DAC-80"), default_timeout=60)
    at.run()
    assert not at.exception
    key = f"note_edit_{mine.id}"
    assert at.text_input(key=f"{key}_opening_hours").value == "lun-ven 9h-17h"
    assert not [w for w in at.text_input if w.key and w.key.startswith(f"note_edit_{theirs.id}_")]

    def save() -> None:
        next(b for b in at.button if b.label == "Enregistrer les modifications").click()
        at.run()

    at.text_input(key=f"{key}_contact_role").input("demander Mme Dupont")
    save()
    assert any("Note refusée" in e.value for e in at.error)
    assert store.for_resource(F1, C80)[0] == mine
    at.text_input(key=f"{key}_contact_role").input("cadre de santé")
    at.text_input(key=f"{key}_opening_hours").input("lun-sam 8h-18h")
    save()
    assert not at.error and any("Note modifiée" in s.value for s in at.success)
    edited = store.for_resource(F1, C80)[0]
    assert (edited.opening_hours, edited.contact_role, edited.author, edited.verified_on) == (
        "lun-sam 8h-18h", "cadre de santé", "coord80-bis", date.today())
    assert at.text_input(key=f"{key}_opening_hours").value == "lun-sam 8h-18h"
    # Someone else edits now; this form still holds the version it showed.
    store.update(mine.id, NoteInput(F1, "DAC-80", opening_hours="fermé en août"), C80)
    at.text_input(key=f"{key}_waiting_time").input("2 mois")
    save()
    assert any("modifiée par coord80 " in e.value for e in at.error)
    assert store.for_resource(F1, C80)[0].opening_hours == "fermé en août"
    assert store.for_resource(F1, C80)[0].waiting_time == ""
    assert at.text_input(key=f"{key}_waiting_time").value == "2 mois"  # the typing is kept
    save()  # saving again, having seen the other version, replaces it
    assert not at.error
    final = store.for_resource(F1, C80)[0]
    assert (final.opening_hours, final.waiting_time, final.author) == (
        "lun-sam 8h-18h", "2 mois", "coord80-bis")
