"""Coordinators' notes per resource: what the registry does not say and coordinators learn by
phone (opening hours, a contact person's ROLE, admission criteria, usual waiting time, "vérifié
le" date and author).

One interface, :class:`~dac_map.notes.store.NoteStore`, two back-ends: SQLite in embedded mode
(:class:`~dac_map.notes.store.SqliteNoteStore`, file :func:`dac_map.server.config.notes_db`) and
PostgreSQL in server mode (:class:`~dac_map.notes.store.PostgresNoteStore`, table
``dac_map.notes``). :func:`open_notes` picks the one of the current mode.

Notes are keyed by FINESS number (establishment), never by the catalogue row: they survive
every refresh, a move or a renaming; :meth:`NoteStore.orphans` lists the notes whose FINESS
number is no longer in the catalogue (closed establishment). Every write and read goes through
:func:`dac_map.server.auth.authorize`: a coordinator reads the notes of their DACs and the notes
other DACs shared, writes the notes of their DACs; visitors and the ARS never see a note.
Every text field is checked for personal data (same detector as the unmet-need log) and
refused with :class:`NotePersonalDataError`.
"""

from dac_map.notes.model import (FIELDS, Note, NoteConflictError, NoteError, NoteInput,
                                 NotePersonalDataError,
                                 validate_note)
from dac_map.notes.store import NoteStore, PostgresNoteStore, SqliteNoteStore, open_notes

__all__ = ["FIELDS", "Note", "NoteConflictError", "NoteError", "NoteInput", "NotePersonalDataError", "NoteStore",
           "PostgresNoteStore", "SqliteNoteStore", "open_notes", "validate_note"]
