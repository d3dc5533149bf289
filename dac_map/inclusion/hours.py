"""Opening hours in OpenStreetMap syntax (``Mo-Fr 08:30-12:30; PH off``) shown in French.

The common subset is translated rule by rule: day ranges and lists (``Mo-Fr``, ``Mo,We``),
time ranges (``08:30-12:30,14:00-17:00``), ``off``/``closed``, ``PH`` (jours fériés),
``24/7``, month/week selectors are kept as written. A rule this module does not understand is
shown as written, so nothing is lost (:func:`french_hours` never raises).
"""

from __future__ import annotations

import re
from functools import lru_cache

DAYS = {"Mo": "lundi", "Tu": "mardi", "We": "mercredi", "Th": "jeudi", "Fr": "vendredi",
        "Sa": "samedi", "Su": "dimanche", "PH": "jours fériés", "SH": "vacances scolaires"}
_ORDER = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
_DAY_SPEC = re.compile(r"^(?:(?:Mo|Tu|We|Th|Fr|Sa|Su|PH|SH)(?:-(?:Mo|Tu|We|Th|Fr|Sa|Su))?)"
                       r"(?:,(?:(?:Mo|Tu|We|Th|Fr|Sa|Su|PH|SH)(?:-(?:Mo|Tu|We|Th|Fr|Sa|Su))?))*$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})(\+)?$")


def _hhmm(h: str, m: str) -> str:
    return f"{int(h)} h" if m == "00" else f"{int(h)} h {m}"


def _days(spec: str) -> str:
    parts = []
    for item in spec.split(","):
        if "-" in item:
            a, b = item.split("-")
            parts.append(f"du {DAYS[a]} au {DAYS[b]}")
        else:
            parts.append(DAYS[item])
    return ", ".join(parts)


def _times(spec: str) -> str | None:
    out = []
    for item in spec.split(","):
        m = _TIME.match(item.strip())
        if not m:
            return None
        h1, m1, h2, m2, plus = m.groups()
        if (h1, m1, h2, m2) in (("00", "00", "23", "59"), ("0", "00", "24", "00"), ("00", "00", "24", "00")):
            out.append("toute la journée")
        else:
            out.append(f"de {_hhmm(h1, m1)} à {_hhmm(h2, m2)}" + (" (et au-delà)" if plus else ""))
    return " et ".join(out)


def _rule(rule: str) -> str:
    rule = rule.strip()
    if rule == "24/7":
        return "24 h sur 24, 7 jours sur 7"
    tokens = rule.split()
    if not tokens:
        return ""
    days = None
    if _DAY_SPEC.match(tokens[0]):
        days = _days(tokens[0])
        tokens = tokens[1:]
    rest = " ".join(tokens)
    if rest in ("off", "closed"):
        what = "fermé"
    elif not rest:
        what = "ouvert"
    else:
        what = _times(rest)
        if what is None:
            return rule  # not understood: as written
    return f"{days[0].upper()}{days[1:]} : {what}" if days else what[0].upper() + what[1:]


@lru_cache(maxsize=4096)
def french_hours(osm: str | None) -> str:
    """The opening hours in French, one rule per line (``""`` when blank)."""
    if not osm or not str(osm).strip():
        return ""
    rules = [r for r in re.split(r"\s*;\s*", str(osm).strip()) if r]
    # collapse "Mo 00:00-23:59;Tu 00:00-23:59;...;Su 00:00-23:59"
    if len(rules) == 7 and all(r.split()[0] == d and " ".join(r.split()[1:]) in ("00:00-23:59", "00:00-24:00")
                              for r, d in zip(rules, _ORDER) if len(r.split()) > 1):
        return "Tous les jours : toute la journée"
    return "\n".join(_rule(r) for r in rules)
