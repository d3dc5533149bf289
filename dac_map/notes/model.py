"""The note record, its validation (lengths, characters, personal data) and its search."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone

from dac_map.errors import ValidationError
from dac_map.privacy import INVALID_CHARS, KIND_LABELS, find_personal_data

#: Free-text fields: name -> (French label, maximum length in characters).
FIELDS: dict[str, tuple[str, int]] = {
    "opening_hours": ("horaires d'ouverture", 500),
    "contact_role": ("fonction de la personne à contacter", 120),
    "admission_criteria": ("critères d'admission", 2000),
    "waiting_time": ("délai d'attente habituel", 200),
    "other": ("autres informations", 2000),
}

_FINESS = re.compile(r"[0-9][0-9AB][0-9]{7}")
_DAC = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


class NoteError(ValidationError):
    """A note was refused (invalid field); ``field`` names it."""


class NotePersonalDataError(NoteError):
    """A note's field looks like it holds personal data; ``kinds`` says which."""

    def __init__(self, message: str, *, kinds: tuple[str, ...], field: str | None = None) -> None:
        self.kinds = kinds
        super().__init__(message, field=field)


class NoteConflictError(NoteError):
    """The note changed (or was deleted) since the editor read it: nothing was written.
    ``current`` is the stored note (None when deleted)."""

    def __init__(self, message: str, *, current: "Note | None" = None) -> None:
        self.current = current
        super().__init__(message, field="id")


@dataclass(frozen=True)
class NoteInput:
    """What a coordinator types (``verified_on``: the "vérifié le" date)."""

    finess: str
    dac_id: str
    opening_hours: str = ""
    contact_role: str = ""
    admission_criteria: str = ""
    waiting_time: str = ""
    other: str = ""
    verified_on: date | None = None
    shared: bool = False


@dataclass(frozen=True)
class Note(NoteInput):
    """A stored note: ``id``, ``author`` (account of the writer), ``created_at`` and
    ``updated_at`` (ISO 8601 UTC, seconds)."""

    id: int = 0
    author: str = ""
    created_at: str = ""
    updated_at: str = ""

    def text(self) -> str:
        """All the free text, for searching."""
        return " ".join(getattr(self, f) for f in FIELDS)


def now_utc() -> str:
    """The current time, ISO 8601 UTC, seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _message(kinds: tuple[str, ...], label: str) -> str:
    what = ", ".join(KIND_LABELS[k] for k in kinds)
    return (f"Note refusée : le champ « {label} » semble contenir {what}. Les notes décrivent la "
            "ressource (horaires, fonction d'un contact, critères, délais), jamais une personne : "
            "indiquez une fonction (« infirmière coordinatrice ») plutôt qu'un nom, et aucun "
            "numéro de téléphone ou adresse personnels.")


def validate_note(note: NoteInput, allowed_names: frozenset[str] = frozenset()) -> NoteInput:
    """The note with stripped texts, or raise :class:`NoteError` /
    :class:`NotePersonalDataError` naming the field. ``allowed_names``: public names exempt
    from the person-name check (the establishment's own name)."""
    if not isinstance(note.finess, str) or not _FINESS.fullmatch(note.finess.strip()):
        raise NoteError(f"numéro FINESS invalide : {note.finess!r}", field="finess")
    if not isinstance(note.dac_id, str) or not _DAC.fullmatch(note.dac_id.strip()):
        raise NoteError(f"identifiant de DAC invalide : {note.dac_id!r}", field="dac_id")
    if note.verified_on is not None:
        if not isinstance(note.verified_on, date):
            raise NoteError("date « vérifié le » invalide", field="verified_on")
        if note.verified_on > datetime.now(timezone.utc).date():
            raise NoteError("la date « vérifié le » est dans le futur", field="verified_on")
    values = {}
    for name, (label, limit) in FIELDS.items():
        value = getattr(note, name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise NoteError(f"le champ « {label} » doit être un texte", field=name)
        if INVALID_CHARS.search(value):
            raise NoteError(f"le champ « {label} » contient des caractères non valides", field=name)
        value = value.strip()
        if len(value) > limit:
            raise NoteError(f"le champ « {label} » dépasse {limit} caractères", field=name)
        kinds = tuple(dict.fromkeys(f.kind for f in find_personal_data(value, allowed_names)))
        if kinds:
            raise NotePersonalDataError(_message(kinds, label), kinds=kinds, field=name)
        values[name] = value
    if not any(values.values()):
        raise NoteError("la note est vide", field="other")
    return NoteInput(finess=note.finess.strip(), dac_id=note.dac_id.strip(),
                     verified_on=note.verified_on, shared=bool(note.shared), **values)


def fold(text: str) -> str:
    """Lower case without accents (search)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold())
                   if not unicodedata.combining(c))


def matches(note: Note, query: str) -> bool:
    """True when every word of ``query`` is in the note's text (case and accents ignored)."""
    hay = fold(note.text())
    return all(w in hay for w in fold(query).split())
