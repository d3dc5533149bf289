"""Coordinators' notes in the app: on the detail panel of a resource, and the "Notes" page
(search, orphans). Reads and writes go through :class:`dac_map.notes.NoteStore`, which checks
the principal's roles itself; untrusted text is shown through :func:`~dac_map.ui.text.md`."""

from __future__ import annotations

import uuid
from datetime import date

import streamlit as st

from dac_map.errors import DacMapError
from dac_map.notes import FIELDS, Note, NoteError, NoteInput, open_notes
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


def render_resource_notes(finess: str, name: str, resource_dac: str | None,
                          principal: auth.Principal) -> None:
    """Notes of establishment ``finess`` and the form to add one (coordinators only; nothing
    at all for the other roles)."""
    if not principal.may("notes.read_dac"):
        return
    store = open_notes()
    try:
        notes = store.for_resource(finess, principal)
    except DacMapError as exc:
        st.error(f"Notes indisponibles : {exc}")
        return
    st.markdown(f"**Notes des coordinateurs** ({len(notes)})")
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
    mine = sorted(principal.dacs - {auth.ALL_DACS}) or ([resource_dac] if resource_dac else [])
    if not mine:
        return
    form_key = f"note_form_{finess}"
    ck_key = f"{form_key}_client_key"
    st.session_state.setdefault(ck_key, uuid.uuid4().hex)
    with st.expander("Ajouter une note (horaires, contact, critères, délais)"):
        with st.form(form_key, clear_on_submit=True):
            st.caption("Aucune donnée sur un patient ; pour un contact, indiquer sa FONCTION "
                       "(« cadre de santé »), pas son nom.")
            dac = st.selectbox("DAC", mine, key=f"{form_key}_dac")
            values = {f: st.text_input(label.capitalize(), max_chars=limit, key=f"{form_key}_{f}")
                      if limit <= 500 else
                      st.text_area(label.capitalize(), max_chars=limit, key=f"{form_key}_{f}")
                      for f, (label, limit) in FIELDS.items()}
            verified = st.date_input("Vérifié le", value=date.today(), max_value=date.today(),
                                     format="DD/MM/YYYY", key=f"{form_key}_verified")
            shared = st.checkbox("Partager avec les coordinateurs des autres DAC",
                                 key=f"{form_key}_shared")
            submitted = st.form_submit_button("Enregistrer la note")
    if not submitted:
        return
    try:
        store.add(NoteInput(finess=finess, dac_id=dac, verified_on=verified, shared=shared,
                            **values), principal, client_key=st.session_state[ck_key],
                  allowed_names=allowed_name_pairs([name]))
    except NoteError as exc:
        st.error(exc.message)
        return
    except DacMapError as exc:
        st.error(f"Note non enregistrée : {exc}")
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
    try:
        notes = store.search(query, principal) if query.strip() else store.visible(principal)
        orphans = store.orphans(known_finess, principal)
    except DacMapError as exc:
        st.error(f"Notes indisponibles : {exc}")
        return
    st.caption(f"{len(notes)} note(s)")
    for note in notes[:200]:
        title = names.get(note.finess) or "établissement absent du catalogue"
        with st.container(border=True):
            st.markdown(f"**{md(title)}** — FINESS {md(note.finess)}  \n"
                        + _note_markdown(note, note.dac_id in principal.dacs
                                         or auth.ALL_DACS in principal.dacs))
    if orphans:
        st.warning(f"{len(orphans)} note(s) portent sur un établissement qui n'est plus dans "
                   "le répertoire FINESS (fermé ou supprimé) : " + md(", ".join(
                       sorted({n.finess for n in orphans}))))
