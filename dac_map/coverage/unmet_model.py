"""What an unmet-need record is and may hold (:class:`UnmetNeed`, :func:`validate_unmet_need`):
field checks, the reason codes (:data:`REASONS`), and the refusal of personal data in every
free-text field and every text value of the criteria (:func:`dac_map.privacy.check_free_text`,
:class:`PersonalDataError`). The same rules in both modes: the SQLite log
(:mod:`dac_map.coverage.unmet`) and the PostgreSQL one (:mod:`dac_map.server.unmet`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

from dac_map import privacy, settings
from dac_map.codes import is_commune
from dac_map.coverage import criteria
from dac_map.errors import ValidationError
from dac_map.query.errors import QueryError
from dac_map.query.spec import SearchSpec

#: Resource type recorded when none is given and none can be read from the filters.
UNSPECIFIED_TYPE = "non précisé"

#: Reason codes of an unmet need, with their French labels (order of the form).
REASONS: dict[str, str] = {
    "no_resource": "Aucune ressource de ce type",
    "no_capacity": "Pas de place disponible",
    "too_far": "Ressource trop éloignée",
    "waiting_time": "Délai d'attente trop long",
    "refused_admission": "Admission refusée",
    "other": "Autre motif",
}
#: Reason of the records written before reasons existed.
DEFAULT_REASON = "other"


class UnmetNeedError(ValidationError):
    """An unmet-need record was refused (invalid field). ``field`` names the field."""


class PersonalDataError(UnmetNeedError, privacy.PersonalDataError):
    """A field looks like it holds personal data; ``kinds`` says which kinds (``nir``,
    ``date``, ``phone``, ``email``, ``name``, see :mod:`dac_map.privacy`)."""


# --------------------------------------------------------------------------- free text

class TextField(NamedTuple):
    """A text field of the record, as it is checked."""

    #: French wording, in error messages.
    label: str
    #: Maximum length (characters); None: the setting
    #: :data:`~dac_map.settings.UNMET_COMMENT_MAX_CHARS`, read at call time.
    max_chars: int | None


#: The text fields of a record (each checked for length, characters and personal data).
TEXT_FIELDS: dict[str, TextField] = {
    "comment": TextField("commentaire", None),
    "filters_label": TextField("critères de recherche", 2000),
    "filters_json": TextField("critères de recherche", 20000),
    "recorded_by_role": TextField("rôle", 80),
    "resource_type": TextField("type de ressource", 2000),
}


def check_text(value: str | None, field: str, allowed_names: frozenset[str] = frozenset()) -> str:
    """Validate the free-text field ``field`` (one of :data:`TEXT_FIELDS`) with
    :func:`dac_map.privacy.check_free_text`: returns it stripped, or raises
    :class:`UnmetNeedError` (bad type, too long, control or unpaired surrogate characters) or
    :class:`PersonalDataError`."""
    label, max_chars = TEXT_FIELDS[field]
    max_chars = settings.UNMET_COMMENT_MAX_CHARS if max_chars is None else max_chars
    try:
        return privacy.check_free_text(value, field=label, max_length=max_chars,
                                       allowed_names=allowed_names)
    except privacy.PersonalDataError as exc:
        raise PersonalDataError(privacy.personal_data_message(exc.kinds, label), kinds=exc.kinds,
                                field=field, findings=exc.findings) from None
    except privacy.FreeTextError as exc:
        raise UnmetNeedError(exc.message, field=field) from None


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
    if len(text) > TEXT_FIELDS["filters_json"].max_chars:
        raise UnmetNeedError("les critères de recherche sont trop longs", field="filters_json")
    if privacy.INVALID_CHARS.search(text):
        raise UnmetNeedError("les critères de recherche contiennent des caractères non valides",
                             field="filters_json")
    for leaf in _text_leaves(obj):
        kinds = privacy.personal_data_kinds(leaf, allowed_names)
        if kinds:
            raise PersonalDataError(privacy.personal_data_message(kinds, TEXT_FIELDS["filters_json"].label),
                                    kinds=kinds, field="filters_json")
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
    reason: str = DEFAULT_REASON


def validate_unmet_need(dac_id: str, commune: str | None,
                        filters_json: SearchSpec | Mapping[str, Any] | list | str | None,
                        filters_label: str, comment: str = "", recorded_by_role: str | None = None,
                        resource_type: str | None = None, recorded_at: datetime | None = None,
                        allowed_names: frozenset[str] = frozenset(),
                        reason: str = DEFAULT_REASON) -> UnmetNeed:
    """Check every field and return the record to store. Raises only :class:`UnmetNeedError`
    (including its subclass :class:`PersonalDataError`).

    ``allowed_names`` (:func:`dac_map.privacy.allowed_name_pairs` of the store's establishment and commune
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
    label = check_text(filters_label, "filters_label", allowed_names)
    if reason not in REASONS:
        raise UnmetNeedError(f"motif inconnu : {reason!r} (attendu : {', '.join(REASONS)})",
                             field="reason")
    text = check_text(comment, "comment")
    role = check_text(recorded_by_role, "recorded_by_role") or None
    rtype = check_text(resource_type, "resource_type", allowed_names) if resource_type else ""
    rtype = rtype or criteria.resource_type_of(obj) or UNSPECIFIED_TYPE
    if not label and not text:
        raise UnmetNeedError("indiquez au moins les critères de recherche ou un commentaire",
                             field="comment")
    when = recorded_at or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    stamp = when.astimezone(timezone.utc).isoformat(timespec="seconds")
    return UnmetNeed(dac_id=dac_id.strip(), commune=commune, resource_type=rtype, filters_json=fj,
                     filters_label=label, comment=text, recorded_by_role=role, recorded_at=stamp,
                     reason=reason)
