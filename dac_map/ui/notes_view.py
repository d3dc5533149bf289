"""Coordinators' notes in the app: on the detail panel of a resource, and the "Notes" page
(search, orphans). Reads and writes go through :class:`dac_map.notes.NoteStore`, which checks
the principal's roles itself; untrusted text is shown through :func:`~dac_map.ui.text.md`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

import streamlit as st

from dac_map.errors import DacMapError
from dac_map.notes import FIELDS, Note, NoteConflictError, NoteError, NoteInput, NoteStore, open_notes
from dac_map.privacy import allowed_name_pairs
from dac_map.server import auth
from dac_map.ui.text import format_date, md


def _note_markdown(note: Note, own: bool) -> str:
    lines = [f"**{md(FIELDS[f][0]).capitalize()}** : {md(getattr(note, f))}"
             for f in FIELDS if getattr(note, f)]
    who = (f"vérifié le {format_date(note.verified_on.isoformat())}" if note.verified_on
           else "date de vérification non renseignée")
    lines.append(f"*{md(who)} · {md(note.author)} · {md(note.dac_id)}"
                 + (" · partagée avec les autres DAC" if note.shared else "")
                 + ("" if own else " · note d'un autre DAC") + "*")
    return "  \n".join(lines)


def _note_fields(key: str, note: Note | None) -> tuple[dict[str, str], date, bool]:
    """The note's inputs inside an open form (empty for a new note, the note's values to edit
    one): (texts by field, "vérifié le", shared). The date defaults to today: saving a note
    says it was checked today unless the coordinator says otherwise."""
    st.caption("Aucune donnée sur un patient ; pour un contact, indiquer sa FONCTION "
               "(« cadre de santé »), pas son nom.")
    values = {f: (st.text_input if limit <= 500 else st.text_area)(
        label.capitalize(), value=getattr(note, f) if note else "", max_chars=limit,
        key=f"{key}_{f}") for f, (label, limit) in FIELDS.items()}
    verified = st.date_input("Vérifié le", value=date.today(), max_value=date.today(),
                             format="DD/MM/YYYY", key=f"{key}_verified")
    shared = st.checkbox("Partager avec les coordinateurs des autres DAC",
                         value=bool(note and note.shared), key=f"{key}_shared")
    return values, verified, shared


def _edit_note(store: NoteStore, note: Note, name: str, principal: auth.Principal) -> None:
    """« Modifier cette note »: the note's fields in a form; saving re-checks them (personal
    data), sets "vérifié le" and the author, and is refused if someone changed the note since
    the form showed it (the store checks the role and the version itself).

    The form shows the version it started from (kept in the session); an untouched form
    follows the stored note. After a conflict the coordinator's typing stays in the form and
    the note above shows the other version: saving again replaces it, « Abandonner » reloads."""
    key = f"note_edit_{note.id}"
    base_key, expected_key = f"{key}_base", f"{key}_expected"
    base: Note = st.session_state.setdefault(base_key, note)
    pristine = all(st.session_state.get(f"{key}_{f}", getattr(base, f)) == getattr(base, f)
                   for f in FIELDS)
    if base != note and pristine and expected_key not in st.session_state:
        _forget_form(key)  # nobody typed: show the stored version
        base = st.session_state[base_key] = note
    with st.expander("Modifier cette note", expanded=expected_key in st.session_state):
        with st.form(key):
            values, verified, shared = _note_fields(key, base)
            submitted = st.form_submit_button("Enregistrer les modifications")
        if expected_key in st.session_state and st.button("Abandonner mes modifications",
                                                          key=f"{key}_abandon"):
            _forget_form(key)
            st.rerun()
    if not submitted:
        return
    try:
        ok = _write_note(lambda: store.update(
            note.id, NoteInput(finess=note.finess, dac_id=note.dac_id, verified_on=verified,
                               shared=shared, **values),
            principal, expected=st.session_state.get(expected_key, base),
            allowed_names=allowed_name_pairs([name])), "Note non modifiée")
    except NoteConflictError as exc:
        if exc.current is None:
            st.error(exc.message)
            return
        st.session_state[expected_key] = exc.current
        st.error(f"{exc.message}. Sa version est affichée ci-dessus ; vos modifications sont "
                 "encore dans le formulaire : « Enregistrer les modifications » de nouveau "
                 "remplace sa version par la vôtre.")
        return
    if not ok:
        return
    _forget_form(key)  # the form shows the stored note again
    st.session_state["_note_flash"] = "Note modifiée."
    st.rerun()


def _write_note(write: Callable[[], Note], failure: str) -> bool:
    """Run a note write; on a refusal (invalid field, personal data, role, database) show it
    in French and return False. A :class:`NoteConflictError` is left to the caller."""
    try:
        write()
    except NoteConflictError:
        raise
    except DacMapError as exc:  # a NoteError names the field and says why
        st.error(exc.message if isinstance(exc, NoteError) else f"{failure} : {exc}")
        return False
    return True


def _read_notes(read: Callable[[], tuple[list[Note], list[Note]]]) -> tuple[list[Note], list[Note]] | None:
    """Run a note read (the store checks the role); on a refusal or a database error show it
    in French and return None."""
    try:
        return read()
    except DacMapError as exc:
        st.error(f"Notes indisponibles : {exc}")
        return None


def _show_flash() -> None:
    """Show (once) the message a write left for the next run (« Note modifiée. »...)."""
    flash = st.session_state.pop("_note_flash", None)
    if flash:
        st.success(flash)


def _forget_form(key: str) -> None:
    for k in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"{key}_")]:
        del st.session_state[k]


def render_resource_notes(finess: str, name: str, resource_dac: str | None,
                          principal: auth.Principal) -> None:
    """Notes of establishment ``finess`` and the form to add one (coordinators only; nothing
    at all for the other roles)."""
    if not principal.may("notes.read_dac"):
        return
    store = open_notes()
    found = _read_notes(lambda: (store.for_resource(finess, principal), []))
    if found is None:
        return
    notes, _ = found
    st.markdown(f"**Notes des coordinateurs** ({len(notes)})")
    _show_flash()
    for note in notes:
        own = auth.ALL_DACS in principal.dacs or note.dac_id in principal.dacs
        with st.container(border=True):
            st.markdown(_note_markdown(note, own))
            if own and st.button("Supprimer cette note", key=f"note_del_{note.id}"):
                try:
                    store.delete(note.id, principal)
                except DacMapError as exc:
                    st.error(f"Suppression impossible : {exc}")
                else:
                    st.rerun()
            if own:
                _edit_note(store, note, name, principal)
    mine = sorted(principal.dacs - {auth.ALL_DACS}) or ([resource_dac] if resource_dac else [])
    if not mine:
        return
    form_key = f"note_form_{finess}"
    ck_key = f"{form_key}_client_key"
    st.session_state.setdefault(ck_key, uuid.uuid4().hex)
    with st.expander("Ajouter une note (horaires, contact, critères, délais)"):
        with st.form(form_key, clear_on_submit=True):
            dac = st.selectbox("DAC", mine, key=f"{form_key}_dac")
            values, verified, shared = _note_fields(form_key, None)
            submitted = st.form_submit_button("Enregistrer la note")
    if not submitted:
        return
    if not _write_note(lambda: store.add(
            NoteInput(finess=finess, dac_id=dac, verified_on=verified, shared=shared, **values),
            principal, client_key=st.session_state[ck_key],
            allowed_names=allowed_name_pairs([name])), "Note non enregistrée"):
        return
    st.session_state[ck_key] = uuid.uuid4().hex  # the next note is a new one
    st.success("Note enregistrée.")
    st.rerun()


def render_notes_page(known_finess: set[str], names: dict[str, str],
                      principal: auth.Principal) -> None:
    """Search the notes the principal may read; list the orphans (establishment no longer in
    the catalogue: closed or removed from FINESS)."""
    store = open_notes()
    st.subheader("Notes des coordinateurs")
    query = st.text_input("Rechercher dans les notes", key="notes_query",
                          placeholder="Ex. : sans rendez-vous, délai, samedi")
    found = _read_notes(lambda: (
        store.search(query, principal) if query.strip() else store.visible(principal),
        store.orphans(known_finess, principal)))
    if found is None:
        return
    notes, orphans = found
    st.caption(f"{len(notes)} note(s)")
    _show_flash()
    for note in notes[:200]:
        title = names.get(note.finess) or "établissement absent du catalogue"
        own = note.dac_id in principal.dacs or auth.ALL_DACS in principal.dacs
        with st.container(border=True):
            st.markdown(f"**{md(title)}** — FINESS {md(note.finess)}  \n"
                        + _note_markdown(note, own))
            if own:
                _edit_note(store, note, names.get(note.finess, ""), principal)
    if orphans:
        st.warning(f"{len(orphans)} note(s) portent sur un établissement qui n'est plus dans "
                   "le répertoire FINESS (fermé ou supprimé) : " + md(", ".join(
                       sorted({n.finess for n in orphans}))))
