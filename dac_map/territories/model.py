"""The territory model: a DAC territory is a list of communes (department codes as a shortcut),
linked to a DAC of the directory (its FINESS number) or defined by hand.

Codes are INSEE codes: departments ``01``..``95``, ``2A``, ``2B``, ``971``..``978``; communes
``80021``, ``2A004``, ``97105``. Everything here is pure Python (no I/O).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from dac_map.codes import COMMUNE_RE, DEPARTMENT_RE, FINESS_RE
from dac_map.errors import DacMapError

TERRITORY_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_SPLIT = re.compile(r"[\s,;|]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def _text(value: str | None) -> str:
    """One line of text: invisible characters removed, whitespace collapsed."""
    return " ".join((value or "").translate(_INVISIBLE).split())
_PHONE_OK = re.compile(r"\+?[0-9]{4,15}")
_WEBSITE_OK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)


class TerritoryError(DacMapError, exit_code=4):
    """A territory or a territory table is invalid (names the field, and the line in a file)."""


class ConflictError(DacMapError, exit_code=8):
    """Someone else saved the territory since it was read: nothing was written.

    ``current`` is the stored :class:`Versioned` (None when it was deleted meanwhile)."""

    def __init__(self, message: str, *, current: "Versioned | None" = None, **kw) -> None:
        self.current = current
        super().__init__(message, **kw)


def split_codes(text: str | Iterable[str] | None) -> list[str]:
    """Codes from free text (spaces, commas, semicolons, ``|``, new lines) or an iterable,
    upper-cased, stripped, in the order given, duplicates removed."""
    if text is None:
        return []
    items = _SPLIT.split(text) if isinstance(text, str) else [str(x) for x in text]
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        code = item.strip().upper()
        if code and code not in seen:
            seen.add(code)
            out.append(code)
    return out


def normalise_phone(value: str | None) -> str:
    """Phone number kept as digits (a leading ``+`` kept): ``03 22 45 00 00`` -> ``0322450000``.
    Raises :class:`TerritoryError` for anything that is not a phone number."""
    raw = (value or "").strip()
    if not raw:
        return ""
    digits = ("+" if raw.startswith("+") else "") + re.sub(r"\D", "", raw)
    if not _PHONE_OK.fullmatch(digits) or re.search(r"[^0-9+ .()\-/]", raw):
        raise TerritoryError(f"numéro de téléphone invalide / invalid phone number: {raw!r}",
                             field="telephone")
    return digits


@dataclass(frozen=True)
class Territory:
    """One DAC territory.

    ``finess``: FINESS establishment number of the DAC in the directory ("" = defined by hand).
    ``departments`` cover all their communes; ``communes`` add single communes.
    """

    id: str
    name: str
    departments: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    finess: str = ""
    phone: str = ""
    website: str = ""
    note: str = ""

    @property
    def by_hand(self) -> bool:
        """True when the territory is not linked to a DAC of the directory."""
        return not self.finess

    def covered(self, communes_by_department: dict[str, Iterable[str]] | None = None) -> set[str]:
        """Communes covered: the listed ones plus every commune of the listed departments
        (known from ``communes_by_department``)."""
        out = set(self.communes)
        for d in self.departments:
            out.update((communes_by_department or {}).get(d, ()))
        return out

    def with_communes(self, add: Iterable[str] = (), remove: Iterable[str] = ()) -> "Territory":
        """A copy with communes added and removed (order kept, new ones appended)."""
        drop = set(split_codes(list(remove)))
        kept = [c for c in self.communes if c not in drop]
        for c in split_codes(list(add)):
            if c not in kept and c not in drop:
                kept.append(c)
        return validate(replace(self, communes=tuple(kept)))


def validate(t: Territory) -> Territory:
    """A checked, normalised copy of ``t`` (codes upper-cased, deduplicated, in the order given; phone as
    digits). Raises :class:`TerritoryError` naming the field of the first problem."""
    tid = (t.id or "").strip()
    if not TERRITORY_ID_RE.fullmatch(tid):
        raise TerritoryError(f"identifiant de territoire invalide / invalid territory id: {t.id!r} "
                             "(lettres, chiffres, - _ .)", field="id")
    name = _text(t.name) or tid
    deps = split_codes(t.departments)
    coms = split_codes(t.communes)
    for d in deps:
        if not DEPARTMENT_RE.fullmatch(d):
            raise TerritoryError(f"code de département invalide / invalid department code: {d!r}",
                                 field="departements")
    for c in coms:
        if not COMMUNE_RE.fullmatch(c):
            raise TerritoryError(f"code INSEE de commune invalide / invalid commune code: {c!r}",
                                 field="communes")
    if not deps and not coms:
        raise TerritoryError("un territoire doit lister des communes ou des départements / a "
                             "territory needs communes or departments", field="communes")
    finess = (t.finess or "").strip().upper()
    if finess and not FINESS_RE.fullmatch(finess):
        raise TerritoryError(f"numéro FINESS invalide / invalid FINESS number: {t.finess!r}",
                             field="finess")
    website = (t.website or "").strip()
    if website and not _WEBSITE_OK.fullmatch(website):
        raise TerritoryError(f"site web invalide (http:// ou https://) / invalid website: {website!r}",
                             field="site_web")
    note = _text(t.note)
    if note:
        from dac_map.privacy import FreeTextError, check_free_text

        try:  # a note is free text typed by a person: no personal data in it
            check_free_text(note, field="note", max_length=500)
        except FreeTextError as exc:
            raise TerritoryError(exc.message, field="note") from exc
    return Territory(id=tid, name=name, departments=tuple(deps), communes=tuple(coms), finess=finess, phone=normalise_phone(t.phone),
                     website=website, note=note)


@dataclass(frozen=True)
class Versioned:
    """A stored territory with its version number (1 at creation, +1 per change) and who
    changed it last, when (ISO 8601 UTC)."""

    territory: Territory
    version: int
    updated_by: str = ""
    updated_at: str = ""
    extra: dict = field(default_factory=dict, compare=False)


def changes(before: Territory | None, after: Territory | None) -> dict[str, object]:
    """What changed between two versions: changed fields with old/new values; for the code
    lists, the codes added and removed."""
    out: dict[str, object] = {}
    for name in ("name", "finess", "phone", "website", "note"):
        old = getattr(before, name) if before else ""
        new = getattr(after, name) if after else ""
        if old != new:
            out[name] = {"avant": old, "apres": new}
    for name in ("departments", "communes"):
        old = set(getattr(before, name)) if before else set()
        new = set(getattr(after, name)) if after else set()
        if old != new:
            out[name] = {"ajoutes": sorted(new - old), "retires": sorted(old - new)}
    return out


def describe_changes(diff: dict[str, object]) -> str:
    """One French line summarising :func:`changes`."""
    labels = {"name": "nom", "finess": "FINESS", "phone": "téléphone", "website": "site web",
              "note": "note", "departments": "départements", "communes": "communes"}
    parts = []
    for key, value in diff.items():
        if isinstance(value, dict) and "ajoutes" in value:
            bits = []
            if value["ajoutes"]:
                bits.append(f"+{len(value['ajoutes'])}")
            if value["retires"]:
                bits.append(f"-{len(value['retires'])}")
            parts.append(f"{labels.get(key, key)} {' '.join(bits)}")
        else:
            parts.append(labels.get(key, key))
    return ", ".join(parts) if parts else "aucun changement"
