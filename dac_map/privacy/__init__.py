"""Personal-data detection in free text: the one check every free-text field of dac-map uses
(the unmet-need log, the coordinators' notes, any future comment box).

Public API:

* :func:`find_personal_data` — the :class:`Finding` (kind + span in the ORIGINAL text) of every
  piece of personal data found;
* :func:`check_free_text` — validate a field: returns it stripped, or raises
  :class:`PersonalDataError` (a French message naming what was found, never the data itself)
  or :class:`FreeTextError` (too long, invalid characters);
* :func:`dac_map.privacy.text.normalise` — the normalised text detection works on, with the
  map back to the original positions;
* :func:`allowed_name_pairs` — public names (establishments, communes) the name check of
  *generated* fields may ignore.

The detectors: :mod:`~dac_map.privacy.text` (normalisation, name lists),
:mod:`~dac_map.privacy.identifiers` (NIR, phones, dates, e-mails), :mod:`~dac_map.privacy.names`
(persons' names).

Kinds: ``nir`` (French social security number, 13 or 15 characters, Corsican 2A/2B),
``date`` (a full date — day, month and year — or a birth date / birth year marker),
``phone`` (French numbers in any grouping, +33 / 0033, international numbers),
``email`` (with or without a top-level domain, ``@``, ``(at)``, ``[at]``, `` arobase ``,
``(dot)``, `` point ``...), ``name`` (a person's name: civility + name, context words such as
*famille*, *patient(e)*, *née*, *veuve*; a common first name next to a capitalised word; a
surname of the shipped list, alone or in capitals; an unknown word in capitals).

Normalisation before detection: Unicode NFKC (full-width digits, ``＠``...), every decimal
digit to ASCII, Cyrillic and Greek look-alikes to Latin letters, format
characters (zero-width spaces and joiners, soft hyphen, BOM, bidi marks) and combining marks
removed, control characters and every kind of space turned into one space, dashes unified.
Digits are then read as *chains*: digit groups separated by at most three separator characters
(space, ``.``, ``/``, ``_``, ``-``, parentheses), so ``1_85_05/78 006.084-36`` and
``0 6 1 2 3 4 5 6 7 8`` are read as the numbers they spell.

Name lists: ``dac_map/resources/prenoms_fr.txt`` (first names) and
``dac_map/resources/noms_famille_fr.txt`` (the 400 French surnames of Faker's fr_FR provider,
MIT licence; see ``data/README.md``). They ship inside the package so that the check works in
any installation.

Doctors: "Dr Leroy" names a professional, not the patient, but it still names a person and
narrows down who the patient is; it is refused as a name ("le médecin traitant" is fine).

The checks are heuristics that err on the side of refusing: a refused user rewords. Their
recall and false-positive rate are measured on a hand-labelled corpus by
``benchmarks/bench_privacy.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dac_map.errors import ValidationError
from dac_map.privacy.identifiers import DATE_TEXT, EMAIL, EMAIL_WORD, number_findings
from dac_map.privacy.names import WORD, name_spans
from dac_map.privacy.text import fold, normalise

#: Kinds of personal data, in report order.
KINDS = ("nir", "date", "phone", "email", "name")

#: French wording of each kind.
KIND_LABELS: dict[str, str] = {
    "nir": "un numéro de sécurité sociale (NIR)",
    "date": "une date complète ou une date de naissance",
    "phone": "un numéro de téléphone",
    "email": "une adresse électronique",
    "name": "un nom de personne",
}


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind and its span ``[start, end)`` in the original
    text. The matched text itself is not kept (it is personal data)."""

    kind: str
    start: int
    end: int


class FreeTextError(ValidationError):
    """A free-text field was refused (not text, too long, invalid characters)."""


class PersonalDataError(FreeTextError):
    """A free-text field looks like it holds personal data; ``kinds`` says which kinds."""

    def __init__(self, message: str, *, kinds: tuple[str, ...], field: str | None = None,
                 findings: tuple[Finding, ...] = ()) -> None:
        self.kinds = kinds
        self.findings = findings
        super().__init__(message, field=field)


def allowed_name_pairs(names: Iterable[str]) -> frozenset[str]:
    """Pairs of consecutive words (folded) of public names — establishment and commune names
    of the store — that the name check of *generated* fields (filters label and JSON) must not
    mistake for a person ("CHRS LOUISE MICHEL", "FH GEORGES COUTHON")."""
    pairs: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            continue
        words = [fold(m.group(0)) for m in WORD.finditer(normalise(name)[0])]
        pairs.update(f"{a} {b}" for a, b in zip(words, words[1:]))
        pairs.update(f"{w} {w}" for w in words)  # a lone word of a public name
    return frozenset(pairs)


# --------------------------------------------------------------------------- API

def find_personal_data(text: str, allowed_names: frozenset[str] = frozenset()) -> list[Finding]:
    """Every piece of personal data found in ``text``: :class:`Finding` (kind, span in the
    original text), sorted by position. ``allowed_names`` (:func:`allowed_name_pairs`) exempts
    known public names from the name check only."""
    if not text:
        return []
    t, index = normalise(text)
    raw: list[tuple[str, int, int]] = []
    raw.extend(number_findings(t))
    for p in DATE_TEXT:
        raw.extend(("date", m.start(), m.end()) for m in p.finditer(t))
    for p in (EMAIL, EMAIL_WORD):
        raw.extend(("email", m.start(), m.end()) for m in p.finditer(t))
    emails = [(s, e) for k, s, e in raw if k == "email"]
    for s, e in name_spans(t, allowed_names):
        if not any(es <= s and e <= ee for es, ee in emails):
            raw.append(("name", s, e))
    merged: list[list] = []  # overlapping findings of one kind become one
    for kind, s, e in sorted((r for r in raw if r[2] > r[1]), key=lambda r: (r[0], r[1], r[2])):
        if merged and merged[-1][0] == kind and s <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], e)
        else:
            merged.append([kind, s, e])
    out = [Finding(kind, index[s], index[e - 1] + 1) for kind, s, e in merged]
    return sorted(out, key=lambda f: (f.start, f.end, KINDS.index(f.kind)))


def personal_data_kinds(text: str, allowed_names: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The kinds found in ``text`` (:data:`KINDS` order; empty tuple: nothing found)."""
    kinds = {f.kind for f in find_personal_data(text, allowed_names)}
    return tuple(k for k in KINDS if k in kinds)


def personal_data_message(kinds: tuple[str, ...], field_label: str,
                          what: str = "Enregistrement refusé") -> str:
    """The French refusal message for ``kinds`` found in the field labelled ``field_label``."""
    found = ", ".join(KIND_LABELS[k] for k in kinds)
    return (f"{what} : le champ « {field_label} » semble contenir {found}. Aucune donnée "
            "permettant d'identifier une personne (nom, date de naissance, n° de sécurité sociale, "
            "téléphone, courriel) ne doit être saisie : reformulez sans ces informations "
            "(par exemple « la patiente », « son médecin traitant »).")


#: Characters no free-text field may hold: C0 controls (but tab and line ends), DEL, lone surrogates.
INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_free_text(text: str | None, *, field: str = "commentaire", max_length: int | None = None,
                    allowed_names: frozenset[str] = frozenset()) -> str:
    """Validate one free-text field typed by a user: returns it stripped ("" for None).

    Raises :class:`FreeTextError` (not text, control or unpaired surrogate characters, longer
    than ``max_length`` characters) or :class:`PersonalDataError` (French message naming the
    field and the kinds found; ``.kinds`` and ``.findings`` for programs). ``field`` is the
    French label of the field, used in the messages and as the error's ``field``."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise FreeTextError(f"le champ « {field} » doit être un texte", field=field)
    if INVALID_CHARS.search(text):
        raise FreeTextError(f"le champ « {field} » contient des caractères non valides", field=field)
    value = text.strip()
    if max_length is not None and len(value) > max_length:
        raise FreeTextError(f"le champ « {field} » dépasse {max_length} caractères "
                            f"({len(value)})", field=field)
    findings = tuple(find_personal_data(value, allowed_names))
    if findings:
        kinds = tuple(k for k in KINDS if any(f.kind == k for f in findings))
        raise PersonalDataError(personal_data_message(kinds, field), kinds=kinds, field=field,
                                findings=findings)
    return value


__all__ = [
    "INVALID_CHARS", "KINDS", "KIND_LABELS", "Finding", "FreeTextError", "PersonalDataError",
    "allowed_name_pairs", "check_free_text", "find_personal_data", "personal_data_kinds",
    "personal_data_message",
]
