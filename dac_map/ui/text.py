"""Text helpers of the UI: escaping for Markdown and HTML, French formatting of phones, dates,
positions and data sources. Pure Python.

Untrusted text (names and addresses from the FINESS files, what the user types) is displayed
either by widgets that render plain text (``st.dataframe``, widget labels of values), or through
:func:`md` (Markdown) / :func:`html.escape` (HTML), never raw.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

import pandas as pd

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=\"'/^%@])")
#: U+2060 WORD JOINER: invisible, zero width, no line break; :func:`md` puts one where a GFM
#: autolink literal would start.
WORD_JOINER = "\u2060"
#: Where GFM autolink literals (``https?://``, ``www.``, ``local@domain``; any case) would be
#: recognised: between ``:`` and ``//``, between ``www`` and ``.``, after every ``@``.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?i:(?<=www))(?=\.)|(?<=@)")

#: Labels of ``geo_precision``.
PRECISION_LABELS = {
    "adresse": "à l'adresse (coordonnées FINESS)",
    "commune": "au centre de la commune (position approchée)",
    "aucune": "non localisé",
}


def text_or_empty(value: object) -> str:
    """``str(value)``, or ``""`` for None, NaN and pandas' missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def plain(value: object) -> str:
    """``value`` as one line of text: None/NaN -> ``""``, control and invisible characters
    replaced by spaces, whitespace collapsed."""
    return " ".join(_CONTROL.sub(" ", text_or_empty(value)).split())


def md(value: object) -> str:
    """``value`` as literal Markdown text: every Markdown / HTML / Streamlit-directive
    punctuation is backslash-escaped, so names such as ``<script>``, ``[x](http://…)``,
    ``![img](…)`` or ``:red[…]`` show as typed and never become markup, links or images.

    Bare web and e-mail addresses (``Voir http://exemple.fr``, ``www.exemple.fr``,
    ``accueil@exemple.fr``) do not become links either: Streamlit's Markdown (remark-gfm)
    finds GFM autolink literals in the text *after* the escapes are resolved, so escaping
    cannot stop them. :data:`WORD_JOINER` (U+2060, invisible and zero-width, not a line-break
    opportunity) is put where such a literal would start — between ``:`` and ``//``, between
    ``www`` and ``.``, after ``@`` — and the patterns (``https?://``, ``www(?=\\.)``,
    ``…@domain``) no longer match: the reader sees the same letters, as plain text (checked in chromium by
    ``tests/e2e/test_autolink_browser.py``). Copying the text copies the invisible joiner
    too; input joiners and other invisible characters are dropped first (:func:`plain`)."""
    return _MD_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, plain(value)))


def phone_digits(value: object) -> str:
    """Digits of a phone number (``"03 22-33.39 39"`` -> ``"0322333939"``)."""
    return re.sub(r"\D", "", plain(value))


def format_phone(value: object) -> str:
    """French display of a phone number: ``0322333939`` -> ``03 22 33 39 39`` (other lengths
    are left as digits)."""
    d = phone_digits(value)
    if len(d) == 10:
        return " ".join(d[i:i + 2] for i in range(0, 10, 2))
    return d


def tel_href(value: object) -> str | None:
    """``tel:`` URL of a phone number (digits only), or None when there is none."""
    d = phone_digits(value)
    return f"tel:{d}" if len(d) >= 3 else None


#: One plain e-mail address, nothing else (letters, digits and ``._%+-`` only: safe in a
#: Markdown link target as it is).
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def mailto_href(value: object) -> str | None:
    """``mailto:`` URL of a field holding exactly one e-mail address (a resource's public contact),
    or None (anything else stays plain text, see :func:`md`)."""
    text = plain(value)
    return f"mailto:{text}" if _EMAIL.fullmatch(text) else None


def format_date(value: object) -> str:
    """``2021-01-08`` (or a date/Timestamp) -> ``08/01/2021``; ``""`` when unknown."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date, pd.Timestamp)):
        try:
            return "" if pd.isna(value) else value.strftime("%d/%m/%Y")
        except (TypeError, ValueError):
            return ""
    s = plain(value)
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", s)
    return f"{m.group(3)}/{m.group(2)}/{m.group(1)}" if m else s


def format_places(value: object) -> str:
    """``12.0`` -> ``"12"``; ``""`` when unknown."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(v) else str(round(v))


def format_km(value: object) -> str:
    """``2.345`` -> ``"2,3 km"``; ``""`` when unknown."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(v) else f"{v:.1f} km".replace(".", ",")


def precision_label(value: object) -> str:
    """French label of a ``geo_precision`` value."""
    return PRECISION_LABELS.get(plain(value), plain(value) or "inconnue")


def demo_flags(metadata: dict[str, object]) -> list[str]:
    """French warnings about demonstration / illustrative data in the store metadata."""
    flags: list[str] = []
    name = str(metadata.get("establishments_file") or "")
    upper = name.upper()
    if "DEMO" in upper or "FICTI" in upper or "SYNTH" in upper:
        flags.append("Établissements : données de démonstration ou synthétiques, pas la réalité.")
    elif "RECONSTRUCTED" in upper:
        flags.append("Établissements : extrait FINESS réel reconstruit pour la démonstration "
                     "(janvier 2021), pas le fichier officiel à jour.")
    if metadata.get("equipment_illustrative"):
        flags.append("Capacités et disciplines FICTIVES (illustration) : ne pas s'en servir pour "
                     "orienter un patient.")
    return flags


def sources_line(metadata: dict[str, object]) -> str:
    """One French line naming the data sources and the date of the FINESS extract (plain
    text; pass it through :func:`md` for Markdown)."""
    date_ = format_date(metadata.get("source_date")) or "date inconnue"
    parts = [f"Données FINESS (DREES, Licence Ouverte / Etalab) extraites le {date_}"]
    if not metadata.get("establishments_file") and metadata.get("finess_plus_structures_file"):
        parts = []  # FINESS+ flows only (issue 11): their own line below names them and their dates
    if metadata.get("equipment_source_date") or metadata.get("equipment_file"):
        eq = "fictives" if metadata.get("equipment_illustrative") else (
            format_date(metadata.get("equipment_source_date")) or "date inconnue")
        parts.append(f"capacités : {eq}")
    from dac_map.ui.finess_plus_view import flows_line  # FINESS+ flows (issue 11)

    flows = flows_line(metadata)
    if flows:
        parts.append(flows)
    parts.append("limites administratives : IGN Admin Express / INSEE COG")
    etl = format_date(metadata.get("etl_time"))
    if etl:
        parts.append(f"base construite le {etl}")
    return " · ".join(parts)


__all__ = [
    "PRECISION_LABELS",
    "WORD_JOINER",
    "demo_flags",
    "format_date",
    "format_km",
    "format_phone",
    "format_places",
    "md",
    "phone_digits",
    "plain",
    "precision_label",
    "sources_line",
    "tel_href",
]


def format_minutes(value: object) -> str:
    """``"25 min"``, ``"1 h 05"`` (car travel time in minutes); empty when unknown."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(v):
        return ""
    m = int(round(v))
    return f"{m} min" if m < 60 else f"{m // 60} h {m % 60:02d}"
