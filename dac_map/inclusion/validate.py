"""Validation of data·inclusion records with the official models (``data-inclusion-schema``).

Two modes:

* **tolerant** (default): a record keeps what is valid. An invalid optional value is removed
  (one element of a list, or the whole field), an unknown field is left out, a record in the
  2024 field set is converted (:mod:`dac_map.inclusion.legacy`); a record whose *required*
  fields (``id``, ``nom``, ``source``, ``date_maj``, ``description``, ``structure_id``) are
  missing or invalid is rejected. Everything is counted in the :class:`DeviationReport`.
A service without a valid ``score_qualite`` (0 to 1) gets the one data·inclusion computes, with
the package's own criteria (:mod:`data_inclusion.schema.v1.score_qualite`).

* **strict**: any deviation rejects the record, and the import refuses the file (nothing is
  written) when one record was rejected.

The e-mail field is validated by the package's own ``EmailStr`` validator, with one shortcut
for speed: an address made only of the conservative ASCII subset :data:`SIMPLE_EMAIL` is
accepted without calling it (a property test checks that the official validator accepts every
such address).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import pydantic
from data_inclusion.schema import v1

from dac_map.inclusion import legacy

REQUIRED = {"service": frozenset({"source", "structure_id", "id", "nom", "description", "date_maj"}),
            "structure": frozenset({"source", "id", "nom", "date_maj"})}
MODELS = {"service": v1.Service, "structure": v1.Structure}
#: fields accepted beside the v1 ones (kept, not validated by the model)
EXTENSIONS = frozenset({"contact_public", "score_qualite", "structure", "_di_surrogate_id", "finess",
                        "doublons", "extra", "_extra", "commentaire_dac", "fictif"})
SIMPLE_EMAIL = re.compile(r"^[a-z0-9][a-z0-9_+-]*(?:\.[a-z0-9_+-]+)*@"
                          r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24})$", re.IGNORECASE)
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Deviation:
    """One deviation: where (file, record index, JSON path or line), which field, what."""

    path: str
    index: int
    where: str
    field: str
    kind: str
    message: str
    action: str  # "rejeté" (record dropped), "retiré" (value dropped), "converti", "ignoré"

    def __str__(self) -> str:
        return (f"{self.path}, enregistrement {self.index} ({self.where}), champ '{self.field}' : "
                f"{self.message} ({self.action})")


@dataclass
class DeviationReport:
    """Counts per kind of deviation and the first examples of each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[Deviation]] = field(default_factory=dict)
    records: int = 0
    kept: int = 0
    rejected: int = 0
    converted: int = 0

    def add(self, dev: Deviation) -> None:
        key = f"{dev.kind} : {dev.field}"
        self.counts[key] += 1
        ex = self.examples.setdefault(key, [])
        if len(ex) < MAX_EXAMPLES:
            ex.append(dev)

    @property
    def clean(self) -> bool:
        return not self.counts and not self.rejected

    def lines(self, limit: int = 40) -> list[str]:
        """The report as French text lines (most frequent kinds first)."""
        out = [f"{self.records} enregistrements lus, {self.kept} retenus, {self.rejected} rejetés"
               + (f", {self.converted} convertis depuis l'ancien format (2024)" if self.converted else "")]
        for key, n in self.counts.most_common(limit):
            out.append(f"  {n:>7} × {key}")
            for dev in self.examples[key][:2]:
                out.append(f"            ex. {dev}")
        if len(self.counts) > limit:
            out.append(f"  … et {len(self.counts) - limit} autres sortes d'écarts")
        return out

    def as_dict(self) -> dict:
        return {"records": self.records, "kept": self.kept, "rejected": self.rejected,
                "converted": self.converted, "counts": dict(self.counts.most_common()),
                "examples": {k: [vars(d) for d in v] for k, v in self.examples.items()}}


@lru_cache(maxsize=1)
def _email_adapter() -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(v1.Service.model_fields["courriel"].annotation)


@lru_cache(maxsize=1)
def _special_use() -> frozenset[str]:
    import email_validator

    return frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)


@lru_cache(maxsize=65536)
def email_error(value: str) -> str | None:
    """``None`` when the official validator accepts ``value``, else its message."""
    m = SIMPLE_EMAIL.match(value)
    if (m and len(value) <= 254 and value.index("@") <= 64 and "-." not in value and ".-" not in value
            and m.group(1).lower() not in _special_use()):
        return None
    try:
        _email_adapter().validate_python(value)
    except pydantic.ValidationError as exc:
        return exc.errors()[0]["msg"]
    return None


def _valid_score(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0


def _score(model: v1.Service) -> float:
    """data·inclusion's quality score of a service (the package's own criteria)."""
    from data_inclusion.schema.v1 import score_qualite

    return score_qualite.score(model)[0]


def _short(err: dict) -> str:
    if err["type"] == "enum":
        return f"valeur hors liste du schéma v1 : {err.get('input')!r}"
    if err["type"] == "missing":
        return "champ requis absent"
    msg = err["msg"]
    return f"{msg} : {str(err.get('input'))[:60]!r}" if "input" in err else msg


class Validator:
    """Validates records of one kind (``service`` or ``structure``) into plain dicts."""

    def __init__(self, kind: str, *, strict: bool = False, report: DeviationReport | None = None,
                 score: bool = True) -> None:
        self.score = score
        self.kind = kind
        self.strict = strict
        self.model = MODELS[kind]
        self.fields = frozenset(self.model.model_fields)
        self.required = REQUIRED[kind]
        self.report = report if report is not None else DeviationReport()

    def validate(self, record: dict, *, path: str, index: int, where: str) -> dict | None:
        """The record's v1 fields that passed the model (as read: JSON types, ``None`` values
        dropped; extensions kept) or ``None`` when rejected; deviations go to :attr:`report`."""
        rep = self.report
        rep.records += 1
        devs: list[Deviation] = []

        def dev(fld: str, kind: str, message: str, action: str) -> None:
            devs.append(Deviation(path, index, where, fld, kind, message, action))

        rec = record
        if legacy.is_legacy(rec, self.kind):
            conv = legacy.convert_service if self.kind == "service" else legacy.convert_structure
            rec, losses = conv(rec)
            rep.converted += 1
            dev("*", "ancien format (API 2024)", "enregistrement converti vers le schéma v1",
                "converti")
            for loss in losses:
                dev(loss.field, "valeur 2024 sans équivalent v1", repr(loss.value)[:80], "ignoré")
        extras = {}
        data = {}
        for k, v in rec.items():
            if k in self.fields:
                if v is not None:
                    data[k] = v
            elif k in EXTENSIONS:
                extras[k] = v
            elif v not in (None, "", []):
                dev(k, "champ hors schéma v1", "champ ignoré", "ignoré")
        email = data.pop("courriel", None)
        if email is not None:
            msg = email_error(email) if isinstance(email, str) else "pas une chaîne"
            if msg is not None:
                dev("courriel", "valeur invalide", f"{msg} : {str(email)[:60]!r}", "retiré")
                email = None
        result = None
        for _attempt in range(3):
            try:
                model = self.model.model_validate(data)
            except pydantic.ValidationError as exc:
                fatal = False
                drops: dict[str, set[int] | None] = {}
                for err in exc.errors():
                    loc = err["loc"]
                    fld = str(loc[0]) if loc else "*"
                    if fld in self.required:
                        dev(fld, "champ requis invalide" if err["type"] != "missing"
                            else "champ requis absent", _short(err), "rejeté")
                        fatal = True
                        continue
                    if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data.get(fld), list | set | tuple):
                        if drops.get(fld, set()) is not None:
                            if loc[1] not in drops.setdefault(fld, set()):
                                dev(fld, "valeur invalide", _short(err), "retiré")
                            drops[fld].add(loc[1])
                    else:
                        if fld not in drops or drops[fld] is not None:
                            dev(fld, "valeur invalide", _short(err), "retiré")
                        drops[fld] = None
                if fatal:
                    break
                for fld, idx in drops.items():
                    if idx is None or not isinstance(data.get(fld), list | tuple | set):
                        data.pop(fld, None)
                    else:
                        kept = [v for i, v in enumerate(data[fld]) if i not in idx]
                        if kept:
                            data[fld] = kept
                        else:
                            data.pop(fld)
                continue
            # the values as read (already JSON types): the model has checked them, and a dump
            # would cost as much as the validation itself
            result = data
            if self.kind == "service" and self.score and not _valid_score(extras.get("score_qualite")):
                if email is not None:
                    model.courriel = email  # the criteria look at the e-mail too
                extras["score_qualite"] = _score(model)
            break
        for d in devs:
            rep.add(d)
        reject = result is None or (self.strict and devs)
        if reject:
            rep.rejected += 1
            return None
        if email is not None:
            result["courriel"] = email
        result.update(extras)
        rep.kept += 1
        return result
