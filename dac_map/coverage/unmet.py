"""The unmet-need log ("besoins non couverts"): record, list, filter, export, delete.

When a coordinator's search finds no suitable resource, one click records it: when (UTC), for
which DAC territory and commune, with which search filters (JSON + the French label shown to
the user), of which type, with a free comment. The log is what the ARS report counts.

**No patient data.** Every free-text field (the comment, the filters label, the role, every
text value of the filters) is checked by :func:`detect_personal_data` and the record is
REFUSED with :class:`PersonalDataError` (a French message naming what was detected) when it
looks like it holds a French social security number (NIR: 13 to 15 digits starting with 1 or
2, grouped or not, Corsican 2A/2B; a 14-digit SIRET is refused too), a date of birth or any
full date (``12/03/1938``, ``1938-03-12``, ``3 mars 1938``, "né(e) le", "date de naissance",
"DDN"), a phone number, an e-mail address or a person's name (a civility followed by a name:
"Mme Dupont", "mme dupont", "M. Jean Martin", "monsieur X", "Dr Leroy"; a common first name
from :mod:`~dac_map.coverage.firstnames` followed by a capitalised word: "Jean Martin",
"Marie-Thérèse Lefebvre"; a surname in capitals followed by a first name: "DUPONT Marie").
Names right after a place or institution word ("EHPAD Jean Jaurès", "rue Victor Hugo") are
not names of persons. The checks are heuristics that err on the side of refusing: a refused
user rewords the comment. Public names of the store (establishments, communes) can be exempted
from the name check of the fields the app generates (:func:`allowed_name_pairs`).

Storage: a SQLite file (default :data:`dac_map.settings.UNMET_NEEDS_DB`) separate from the
GeoPackage, so that refreshing the FINESS data never erases the log. Table ``unmet_needs``:

==================  =======  =============================================================
``id``              INTEGER  primary key
``recorded_at``     TEXT     ISO 8601 UTC, seconds (``2024-03-01T09:15:00+00:00``)
``dac_id``          TEXT     DAC territory id (``DAC-80``)
``commune``         TEXT     INSEE commune code of the need, or NULL
``resource_type``   TEXT     French label of the kind of resource looked for
``filters_json``    TEXT     the search criteria, versioned JSON (:mod:`dac_map.query.spec`:
                             ``{"v": 1, "famille": [...], ...}``)
``filters_label``   TEXT     the search filters, French text
``comment``         TEXT     free comment (checked: no patient data)
``recorded_by_role`` TEXT    optional role of the person recording (``coordinatrice``...)
``legacy_filters_json`` TEXT criteria as first stored by schema 1 (rows migrated), else NULL
==================  =======  =============================================================

Schema version in ``PRAGMA user_version`` (:data:`SCHEMA_VERSION`); an older log is migrated
when opened (:func:`_migrate`), in one transaction.

Errors: every validation problem raises :class:`UnmetNeedError` (or its subclass
:class:`PersonalDataError`); a database that cannot be opened or written raises
:class:`~dac_map.errors.StoreError`.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from dac_map.codes import is_commune
from dac_map import settings
from dac_map.coverage import criteria
from dac_map.coverage.firstnames import FIRST_NAMES
from dac_map.errors import StoreError, ValidationError
from dac_map.query.errors import QueryError
from dac_map.query.spec import SearchSpec

SCHEMA_VERSION = 2
TABLE = "unmet_needs"

#: Maximum lengths (characters) of the text fields.
MAX_COMMENT = 2000
MAX_LABEL = 2000
MAX_ROLE = 80
MAX_FILTERS_JSON = 20000

#: Resource type recorded when none is given and none can be read from the filters.
UNSPECIFIED_TYPE = "non précisé"

#: Columns of the list/export frames, with their French CSV headers.
EXPORT_HEADERS: dict[str, str] = {
    "id": "id",
    "recorded_at": "date_utc",
    "dac_id": "territoire",
    "commune": "commune",
    "commune_name": "nom_commune",
    "resource_type": "type_de_ressource",
    "filters_label": "criteres",
    "comment": "commentaire",
    "recorded_by_role": "role",
    "filters_json": "criteres_json",
}


class UnmetNeedError(ValidationError):
    """An unmet-need record was refused (invalid field). ``field`` names the field."""


class PersonalDataError(UnmetNeedError):
    """A field looks like it holds patient-identifying data; ``kinds`` says which kinds
    (``nir``, ``date``, ``phone``, ``email``, ``name``)."""

    def __init__(self, message: str, *, kinds: tuple[str, ...], field: str | None = None) -> None:
        self.kinds = kinds
        super().__init__(message, field=field)


# --------------------------------------------------------------------------- detection

#: French wording of each kind of personal data.
KIND_LABELS: dict[str, str] = {
    "nir": "un numéro de sécurité sociale (NIR)",
    "date": "une date complète ou une date de naissance",
    "phone": "un numéro de téléphone",
    "email": "une adresse électronique",
    "name": "un nom de personne",
}

#: French wording of the checked fields.
FIELD_LABELS: dict[str, str] = {
    "comment": "commentaire",
    "filters_label": "critères de recherche",
    "filters_json": "critères de recherche",
    "recorded_by_role": "rôle",
    "resource_type": "type de ressource",
}

_SEP = r"[ .\-]?"
_NIR = [
    # grouped as on the card: 1 85 05 78 006 084 36 (Corsica 2A/2B in the department)
    re.compile(rf"(?<![\w])[12]{_SEP}[0-9]{{2}}{_SEP}[0-9]{{2}}{_SEP}(?:[0-9]{{2}}|2[AB]){_SEP}"
               rf"[0-9]{{3}}{_SEP}[0-9]{{3}}(?:{_SEP}[0-9]{{2}})?(?![\w])", re.IGNORECASE),
    # 13 to 15 digits in a row
    re.compile(r"(?<![\w])[12][0-9]{12,14}(?![\w])"),
]
_MONTHS = ("janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|"
           "novembre|décembre|decembre|janv|févr|fevr|avr|juil|sept|oct|nov|déc|dec")
_DATES = [
    re.compile(r"(?<![0-9])(?:0?[1-9]|[12][0-9]|3[01])\s?[/.\-]\s?(?:0?[1-9]|1[0-2])\s?[/.\-]\s?"
               r"(?:[0-9]{4}|[0-9]{2})(?![0-9])"),
    re.compile(r"(?<![0-9])(?:1[89]|20)[0-9]{2}[/.\-](?:0?[1-9]|1[0-2])[/.\-](?:0?[1-9]|[12][0-9]|3[01])"
               r"(?![0-9])"),
    re.compile(rf"(?<![\w])(?:1er|0?[1-9]|[12][0-9]|3[01])\s+(?:{_MONTHS})\.?\s+[0-9]{{2,4}}(?![0-9])",
               re.IGNORECASE),
    re.compile(r"(?<![\w])(?:née?s?|nee|né\s?\(e\)|né\.e|n[ée]e?\(e\))\s+(?:le|en|à|a)(?![\w])",
               re.IGNORECASE),
    re.compile(r"(?<![\w])(?:date\s+de\s+naissance|DDN|naissance\s*:)", re.IGNORECASE),
]
_PHONE = [
    re.compile(r"(?<![\w+])(?:(?:\+|00)\s?33\s?(?:\(0\)\s?)?[1-9]|0[1-9])(?:[ .\-]?[0-9]{2}){4}"
               r"(?![0-9])"),
    re.compile(r"(?<![\w+])\+[1-9][0-9]{0,2}(?:[ .\-]?[0-9]){8,12}(?![0-9])"),
]
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")

_UP = "A-ZÀ-ÖØ-Þ"
_LOW = "a-zß-öø-ÿ"
_CAP_WORD = rf"(?:[{_UP}][{_LOW}'’]+(?:-[{_UP}][{_LOW}'’]+)*|[{_UP}]{{2,}}(?:-[{_UP}]{{2,}})*)"
_CIVILITY = re.compile(
    rf"(?<![\w])(?:M\.|Mr\.?|MM\.|(?i:mme|mmes|mlle|melle|mle)\.?|(?i:monsieur|madame|mademoiselle|"
    rf"messieurs|mesdames)|Dr\.?|(?i:docteur)|Pr\.?|(?i:professeur))"
    rf"\s+(?:[{_UP}]\.?\s*)?(?:[{_UP}]|(?:d[e'’]|du|le|la)\s*[{_UP}])")
#: Abbreviated civility followed by a word in lower case ("mme dupont"): a name unless the word
#: is one of the :data:`_AFTER_CIVILITY` common words ("mme souhaite rester à domicile").
_SHORT_CIVILITY = re.compile(rf"(?<![\w])(?i:mme|mmes|mlle|melle|mle|mr)\.?\s+([{_LOW}][{_LOW}'’\-]*)")
_AFTER_CIVILITY = frozenset("""
a ai as avait aura aurait est etait sera serait sont vit vivait habite habitait reste restait
souhaite souhaitait veut voulait voudrait peut pourrait doit devrait refuse refusait accepte
demande demandait attend attendait sort sortira rentre rentrera revient part est-elle
et ou ni mais donc car ne n se s sa son ses lui elle il y en le la les l un une des du de
pas plus tres aussi deja encore toujours seule seul avec sans chez pour par sur dans
presente presentait beneficie beneficiait
""".split())
_WORD = re.compile(rf"[{_UP}{_LOW}]+(?:-[{_UP}{_LOW}]+)*")

#: Words that, right before a "Prénom Nom", mean it names a place or an institution
#: ("EHPAD Jean Jaurès", "rue Victor Hugo", "Centre hospitalier Pierre Janet"), not a person.
_PLACE_WORDS = frozenset("""
ehpad ehpa residence hopital hospitalier hospitaliere clinique centre ch chu chr chs chi
foyer maison institut ime esat fam mas ssiad saad spasad sessad camsp cmpp cmp cattp csapa
caarud ssr smr usld had uhr pasa puv chrs cada mecs itep savs samsah ccas clic mdph msp cds
pmi pole unite service pavillon batiment site groupe groupement etablissement structure
fondation association college lycee ecole universite faculte rue avenue av bd boulevard
place allee chemin impasse quai route square cours passage rond-point voie parc jardin
jardins domaine villa residences pharmacie laboratoire cabinet espace accueil dispensaire
saint sainte st ste hameau quartier cite lotissement salle stade gymnase mediatheque
fv fh pf ea lbm marpa atelier propharmacie relais relai serv trav
""".split())
_PARTICLES = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "dit", "dite"})
_ACRONYMS = frozenset(w.upper() for w in _PLACE_WORDS if len(w) <= 6) | frozenset(
    {"DAC", "ARS", "CPAM", "MSA", "CARSAT", "APA", "PCH", "AAH", "GIR", "HDJ", "EMG", "EMSP", "USP",
     "LISP", "UCC", "UVP", "GCS", "CPTS", "PTA", "MAIA", "CLIC", "SAMU", "SMUR", "URG", "UMG",
     "SSIAD", "SAAD", "PA", "PH", "PHV", "TSA", "TED", "TND", "UE", "HAS", "CNSA", "FINESS",
     "INSEE", "SIRET", "RSA", "CMU", "CSS", "AME", "ALD", "IDE", "IDEL", "AS", "ASG", "AVS",
     "AMP", "AES", "ESA", "ESAD", "PFR", "EMPP", "EMPPA", "CSA", "CH", "CHU", "IME"})


def _fold(text: str) -> str:
    """Lower case without accents."""
    nfkd = unicodedata.normalize("NFKD", text)
    return "".join(c for c in nfkd if not unicodedata.combining(c)).lower()


_FOLDED_FIRST_NAMES = frozenset(_fold(n) for n in FIRST_NAMES)


def _is_first_name(word: str) -> bool:
    """A (possibly compound: Jean-Pierre) common first name, capitalised or in capitals."""
    parts = word.split("-")
    return all(_fold(p) in _FOLDED_FIRST_NAMES for p in parts) and (
        word[:1].isupper())


def _is_capitalised(word: str) -> bool:
    return bool(re.fullmatch(_CAP_WORD, word))


def _preceded_by_place(text: str, start: int) -> bool:
    """True when the word before ``start`` (skipping particles such as "de") names a place or
    an institution, with no punctuation in between."""
    before = text[:start]
    for _ in range(3):
        stripped = before.rstrip()
        if not stripped or not (stripped[-1].isalnum() or stripped[-1] in "'’"):
            return False
        m = re.search(r"([\w'’\-]+)$", stripped)
        if not m:
            return False
        word = _fold(m.group(1)).strip("'’")
        word = re.sub(r"^[ld]['’]", "", word)
        if word in _PLACE_WORDS:
            return True
        if word not in _PARTICLES:
            return False
        before = stripped[: m.start()]
    return False


def allowed_name_pairs(names: Iterable[str]) -> frozenset[str]:
    """Pairs of consecutive words (folded: lower case, no accents) of public names — establishment
    and commune names of the store — that the name check of *generated* fields (filters label
    and JSON) must not mistake for a person ("CHRS LOUISE MICHEL", "FH GEORGES COUTHON")."""
    pairs: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            continue
        words = [_fold(w) for w in _WORD.findall(unicodedata.normalize("NFKC", name))]
        pairs.update(f"{a} {b}" for a, b in zip(words, words[1:]))
    return frozenset(pairs)


def _pair(a: str, b: str) -> str:
    return f"{_fold(a)} {_fold(b)}"


def _person_names(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    for m in _SHORT_CIVILITY.finditer(text):
        word = re.sub(r"^[ldns]['’]", "", _fold(m.group(1)))
        if word not in _AFTER_CIVILITY and not _preceded_by_place(text, m.start()):
            return True
    for m in _CIVILITY.finditer(text):
        if _preceded_by_place(text, m.start()):
            continue
        w = _WORD.findall(text[m.start():m.end() + 40])
        if allowed and len(w) >= 2 and _pair(w[0], w[1]) in allowed:
            continue
        return True
    words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
    for (w1, s1, e1), (w2, s2, _e2) in zip(words, words[1:]):
        gap = text[e1:s2]
        if not gap or not gap.isspace() or "\n" in gap:
            continue
        if s1 > 0 and text[s1 - 1] in "-'’":
            continue  # Saint-Jean, d'Anne...
        first_last = _is_first_name(w1) and _is_capitalised(w2)
        last_first = (w1.isupper() and len(w1) >= 2 and w1 not in _ACRONYMS
                      and _fold(w1) not in _PLACE_WORDS and _is_first_name(w2)
                      and not _is_first_name(w1))
        if not (first_last or last_first) or _preceded_by_place(text, s1):
            continue
        if allowed and _pair(w1, w2) in allowed:
            continue
        return True
    return False


def detect_personal_data(text: str, allowed_names: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Kinds of patient-identifying data that ``text`` looks like it contains, in the order
    ``nir``, ``date``, ``phone``, ``email``, ``name`` (empty tuple: nothing detected).

    The text is NFKC-normalised first (full-width digits, non-breaking spaces...).
    ``allowed_names`` (see :func:`allowed_name_pairs`) exempts known public names from the
    person-name check only.
    """
    t = unicodedata.normalize("NFKC", text)
    found = []
    if any(p.search(t) for p in _NIR):
        found.append("nir")
    if any(p.search(t) for p in _DATES):
        found.append("date")
    if any(p.search(t) for p in _PHONE):
        found.append("phone")
    if _EMAIL.search(t):
        found.append("email")
    if _person_names(t, allowed_names):
        found.append("name")
    return tuple(found)


def personal_data_message(kinds: tuple[str, ...], field: str) -> str:
    """The French refusal message for ``kinds`` found in ``field``."""
    what = ", ".join(KIND_LABELS[k] for k in kinds)
    return (f"Enregistrement refusé : le champ « {FIELD_LABELS.get(field, field)} » semble contenir "
            f"{what}. Le journal des besoins non couverts ne doit contenir aucune donnée permettant "
            "d'identifier un patient (nom, date de naissance, n° de sécurité sociale, téléphone, "
            "courriel) : reformulez sans ces informations.")


_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_text(value: str | None, field: str, max_length: int,
               allowed_names: frozenset[str] = frozenset()) -> str:
    """Validate one free-text field: returns it stripped, or raises :class:`UnmetNeedError`
    (bad type, too long, control or unpaired surrogate characters) or
    :class:`PersonalDataError`."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UnmetNeedError(f"le champ « {FIELD_LABELS.get(field, field)} » doit être un texte",
                             field=field)
    if _INVALID_CHARS.search(value):
        raise UnmetNeedError(f"le champ « {FIELD_LABELS.get(field, field)} » contient des "
                             "caractères non valides", field=field)
    value = value.strip()
    if len(value) > max_length:
        raise UnmetNeedError(f"le champ « {FIELD_LABELS.get(field, field)} » dépasse "
                             f"{max_length} caractères", field=field)
    kinds = detect_personal_data(value, allowed_names)
    if kinds:
        raise PersonalDataError(personal_data_message(kinds, field), kinds=kinds, field=field)
    return value


def _text_leaves(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield str(k)
            yield from _text_leaves(v)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            yield from _text_leaves(v)


def _filters(filters_json: SearchSpec | Mapping[str, Any] | list | str | None,
             allowed_names: frozenset[str] = frozenset()) -> tuple[str, dict[str, Any]]:
    """The criteria in their stored, versioned form (:mod:`dac_map.coverage.criteria`) and
    its text, checked for length, characters and personal data."""
    try:
        obj = criteria.normalise(filters_json)
    except (ValueError, QueryError) as exc:  # not JSON text, or an invalid versioned dict
        raise UnmetNeedError(f"les critères de recherche ne sont pas valides : {exc}",
                             field="filters_json") from exc
    text = criteria.dumps(obj)
    if len(text) > MAX_FILTERS_JSON:
        raise UnmetNeedError("les critères de recherche sont trop longs", field="filters_json")
    if _INVALID_CHARS.search(text):
        raise UnmetNeedError("les critères de recherche contiennent des caractères non valides",
                             field="filters_json")
    for leaf in _text_leaves(obj):
        kinds = detect_personal_data(leaf, allowed_names)
        if kinds:
            raise PersonalDataError(personal_data_message(kinds, "filters_json"), kinds=kinds,
                                    field="filters_json")
    return text, obj


_DAC_ID = re.compile(r"[A-Za-z0-9_.\-]{1,40}")


@dataclass(frozen=True)
class UnmetNeed:
    """One validated record of the log (``id`` is None before it is stored)."""

    dac_id: str
    commune: str | None
    resource_type: str
    filters_json: str
    filters_label: str
    comment: str
    recorded_by_role: str | None
    recorded_at: str
    id: int | None = None


def validate_unmet_need(dac_id: str, commune: str | None,
                        filters_json: SearchSpec | Mapping[str, Any] | list | str | None,
                        filters_label: str, comment: str = "", recorded_by_role: str | None = None,
                        resource_type: str | None = None, recorded_at: datetime | None = None,
                        allowed_names: frozenset[str] = frozenset()) -> UnmetNeed:
    """Check every field and return the record to store. Raises only :class:`UnmetNeedError`
    (including its subclass :class:`PersonalDataError`).

    ``allowed_names`` (:func:`allowed_name_pairs` of the store's establishment and commune
    names) exempts those public names from the person-name check of the fields the app
    generates (filters label, filters JSON, resource type) — never of the comment or role,
    which the user types."""
    if not isinstance(dac_id, str) or not _DAC_ID.fullmatch(dac_id.strip()):
        raise UnmetNeedError("identifiant de territoire DAC invalide", field="dac_id")
    if commune is not None and not isinstance(commune, str):
        raise UnmetNeedError("code commune invalide", field="commune")
    commune = (commune or "").strip().upper() or None
    if commune is not None and not is_commune(commune):
        raise UnmetNeedError("code commune INSEE invalide (5 caractères, ex. 80410)",
                             field="commune")
    if not isinstance(allowed_names, frozenset):
        allowed_names = frozenset(allowed_names or ())
    fj, obj = _filters(filters_json, allowed_names)
    label = check_text(filters_label, "filters_label", MAX_LABEL, allowed_names)
    text = check_text(comment, "comment", MAX_COMMENT)
    role = check_text(recorded_by_role, "recorded_by_role", MAX_ROLE) or None
    rtype = check_text(resource_type, "resource_type", MAX_LABEL, allowed_names) if resource_type else ""
    rtype = rtype or criteria.resource_type_of(obj) or UNSPECIFIED_TYPE
    if not label and not text:
        raise UnmetNeedError("indiquez au moins les critères de recherche ou un commentaire",
                             field="comment")
    when = recorded_at or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    stamp = when.astimezone(timezone.utc).isoformat(timespec="seconds")
    return UnmetNeed(dac_id=dac_id.strip(), commune=commune, resource_type=rtype, filters_json=fj,
                     filters_label=label, comment=text, recorded_by_role=role, recorded_at=stamp)


# --------------------------------------------------------------------------- storage

_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    dac_id TEXT NOT NULL,
    commune TEXT,
    resource_type TEXT NOT NULL,
    filters_json TEXT NOT NULL,
    filters_label TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    recorded_by_role TEXT,
    legacy_filters_json TEXT
);
CREATE INDEX IF NOT EXISTS {TABLE}_when ON {TABLE} (recorded_at);
CREATE INDEX IF NOT EXISTS {TABLE}_dac ON {TABLE} (dac_id, commune);
"""


@contextmanager
def connect(db_path: str | Path | None = None) -> Iterator[sqlite3.Connection]:
    """Open (creating it and its folder when needed) the unmet-need database; commits on
    success, rolls back on error, always closes. Raises :class:`StoreError`. Default:
    :data:`~dac_map.settings.UNMET_NEEDS_DB`, read at call time."""
    path = Path(settings.UNMET_NEEDS_DB if db_path is None else db_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=10)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"impossible d'ouvrir le journal des besoins non couverts : {exc}",
                         path=str(path)) from exc
    try:
        con.row_factory = sqlite3.Row
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"journal créé par une version plus récente (schéma {version})",
                             path=str(path))
        con.executescript(_DDL)
        if version < SCHEMA_VERSION:
            _migrate(con)
        yield con
        con.commit()
    except sqlite3.Error as exc:
        con.rollback()
        raise StoreError(f"journal des besoins non couverts illisible ou non modifiable : {exc}",
                         path=str(path)) from exc
    finally:
        con.close()


def _migrate(con: sqlite3.Connection) -> None:
    """Bring a log of an older schema to :data:`SCHEMA_VERSION`, in one transaction (all or
    nothing). Schema 1 -> 2: criteria rewritten in the versioned JSON form
    (:func:`dac_map.coverage.criteria.migrate_text`), the original text kept in
    ``legacy_filters_json``."""
    con.commit()
    level = con.isolation_level
    con.isolation_level = None  # explicit transaction: ALTER TABLE included
    try:
        con.execute("BEGIN IMMEDIATE")
        columns = {r[1] for r in con.execute(f"PRAGMA table_info({TABLE})")}
        if "legacy_filters_json" not in columns:
            con.execute(f"ALTER TABLE {TABLE} ADD COLUMN legacy_filters_json TEXT")
        for rid, text in con.execute(f"SELECT id, filters_json FROM {TABLE}").fetchall():
            new = criteria.migrate_text(text)
            if new is not None:
                con.execute(f"UPDATE {TABLE} SET filters_json = ?, legacy_filters_json = ? "
                            "WHERE id = ?", (new, text, rid))
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.isolation_level = level


def record_unmet_need(dac_id: str, commune: str | None,
                      filters_json: SearchSpec | Mapping[str, Any] | list | str | None,
                      filters_label: str,
                      comment: str = "", recorded_by_role: str | None = None,
                      resource_type: str | None = None, *,
                      db_path: str | Path | None = None,
                      recorded_at: datetime | None = None,
                      allowed_names: frozenset[str] = frozenset()) -> UnmetNeed:
    """Validate and store one unmet need; returns it with its ``id``.

    Args:
        dac_id: DAC territory id (``DAC-80``).
        commune: INSEE code of the commune the need is about, or None.
        filters_json: the search criteria: a :class:`~dac_map.query.spec.SearchSpec`, its
            JSON form (dict or text), or a former form (converted,
            :func:`dac_map.coverage.criteria.normalise`).
        filters_label: the filters as French text (as shown to the user).
        comment: free comment — no patient data (checked).
        recorded_by_role: optional role of the person recording (no name).
        resource_type: French label of the kind looked for; read from the filters when None.
        db_path: the SQLite file (created when missing).
        recorded_at: timestamp (default now, UTC).
        allowed_names: public names exempt from the name check of the generated fields
            (see :func:`validate_unmet_need`).

    Raises :class:`PersonalDataError` when a field looks like patient-identifying data,
    :class:`UnmetNeedError` for other invalid fields, :class:`StoreError` if the database
    cannot be written.
    """
    need = validate_unmet_need(dac_id, commune, filters_json, filters_label, comment,
                               recorded_by_role, resource_type, recorded_at, allowed_names)
    with connect(db_path) as con:
        cur = con.execute(
            f"INSERT INTO {TABLE} (recorded_at, dac_id, commune, resource_type, filters_json, "
            "filters_label, comment, recorded_by_role) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (need.recorded_at, need.dac_id, need.commune, need.resource_type, need.filters_json,
             need.filters_label, need.comment, need.recorded_by_role))
        new_id = int(cur.lastrowid)
    return UnmetNeed(**{**need.__dict__, "id": new_id})


_COLUMNS = ("id", "recorded_at", "dac_id", "commune", "resource_type", "filters_json",
            "filters_label", "comment", "recorded_by_role")


def _bound(value: date | datetime | str | None, end: bool) -> str | None:
    """ISO UTC text bound of a period: a date covers the whole day (UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError as exc:
            raise UnmetNeedError(f"date invalide : {value!r} (attendu AAAA-MM-JJ)",
                                 field="recorded_at") from exc
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        dt = datetime.combine(value, time.max if end else time.min, tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def list_unmet_needs(db_path: str | Path | None = None, *,
                     start: date | datetime | str | None = None,
                     end: date | datetime | str | None = None, dac_id: str | None = None,
                     commune: str | None = None, resource_type: str | None = None,
                     commune_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The recorded needs, newest first, filtered by period (``start``/``end`` inclusive; a
    date means the whole UTC day), territory, commune code and resource type.

    Columns: ``id``, ``recorded_at``, ``dac_id``, ``commune``, ``commune_name`` (from
    ``commune_names`` when given), ``resource_type``, ``filters_label``, ``comment``,
    ``recorded_by_role``, ``filters_json``. A missing database file is an empty log.
    """
    cols = list(EXPORT_HEADERS)
    db_path = settings.UNMET_NEEDS_DB if db_path is None else db_path
    if str(db_path).startswith(("postgresql://", "postgres://")):  # server mode (issue 14)
        from dac_map.server.unmet import list_pg

        return list_pg(str(db_path), start=start, end=end, dac_id=dac_id, commune=commune,
                       resource_type=resource_type, commune_names=commune_names)
    if not Path(db_path).exists():
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    sql, args = list_query(TABLE, start=start, end=end, dac_id=dac_id, commune=commune,
                           resource_type=resource_type)
    with connect(db_path) as con:
        rows = [tuple(r) for r in con.execute(sql, args).fetchall()]
    return log_frame(rows, commune_names)


def list_query(table: str, *, start: date | datetime | str | None = None,
               end: date | datetime | str | None = None, dac_id: str | None = None,
               commune: str | None = None, resource_type: str | None = None,
               ids: list[int] | None = None) -> tuple[str, list]:
    """The SELECT of :func:`list_unmet_needs` (``?`` placeholders) and its arguments; shared
    with the PostgreSQL log (:mod:`dac_map.server.unmet`)."""
    where, args = [], []
    lo, hi = _bound(start, False), _bound(end, True)
    if lo:
        where.append("recorded_at >= ?")
        args.append(lo)
    if hi:
        where.append("recorded_at <= ?")
        args.append(hi)
    for col, value in (("dac_id", dac_id), ("commune", commune), ("resource_type", resource_type)):
        if value:
            where.append(f"{col} = ?")
            args.append(value)
    if ids is not None:
        where.append(f"id IN ({', '.join('?' for _ in ids) or 'NULL'})")
        args.extend(int(i) for i in ids)
    sql = f"SELECT {', '.join(_COLUMNS)} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY recorded_at DESC, id DESC", args


def log_frame(rows: list[tuple], commune_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The rows of :func:`list_query` as the list/export frame (columns of
    :data:`EXPORT_HEADERS`)."""
    frame = pd.DataFrame(rows, columns=list(_COLUMNS), dtype="object")
    frame["id"] = frame["id"].astype("int64")
    names = commune_names or {}
    frame["commune_name"] = frame["commune"].map(lambda c: names.get(c) if c else None)
    return frame[list(EXPORT_HEADERS)]


def delete_unmet_need(need_id: int, db_path: str | Path | None = None) -> bool:
    """Delete one record (a correction, or a data-protection request); True if it existed."""
    with connect(db_path) as con:
        return con.execute(f"DELETE FROM {TABLE} WHERE id = ?", (int(need_id),)).rowcount > 0


def _safe_cell(value: object) -> object:
    """Neutralise spreadsheet formulas in exported text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def unmet_needs_csv(frame: pd.DataFrame) -> bytes:
    """A list of needs (:func:`list_unmet_needs`) as CSV bytes: ``;``, UTF-8 with BOM (opens in
    Excel), French headers, formula-looking cells neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    cols = [c for c in EXPORT_HEADERS if c in frame.columns]
    w.writerow([EXPORT_HEADERS[c] for c in cols])
    for row in frame[cols].itertuples(index=False, name=None):
        w.writerow(["" if v is None or (isinstance(v, float) and v != v) else _safe_cell(v)
                    for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def export_unmet_needs_csv(path: str | Path, db_path: str | Path | None = None,
                           **filters: Any) -> Path:
    """Write the (filtered, see :func:`list_unmet_needs`) log to a CSV file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(unmet_needs_csv(list_unmet_needs(db_path, **filters)))
    return path


def unmet_needs_summary(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts of needs by resource type and by commune (``commune``, ``commune_name``):
    ``(by_type, by_commune)``, largest first."""
    if not len(frame):
        return (pd.DataFrame(columns=["resource_type", "needs"]),
                pd.DataFrame(columns=["commune", "commune_name", "needs"]))
    by_type = (frame.groupby("resource_type").size().rename("needs").reset_index()
               .sort_values(["needs", "resource_type"], ascending=[False, True], kind="stable"))
    com = frame.assign(commune=frame["commune"].fillna("(non précisée)"),
                       commune_name=frame["commune_name"].fillna(""))
    by_commune = (com.groupby(["commune", "commune_name"]).size().rename("needs").reset_index()
                  .sort_values(["needs", "commune"], ascending=[False, True], kind="stable"))
    return by_type.reset_index(drop=True), by_commune.reset_index(drop=True)
