"""Numbers, dates and e-mail addresses in normalised text (:mod:`dac_map.privacy.text`): NIR,
phone numbers and numeric dates read from digit *chains* (:func:`number_findings`), dates
written in words and birth markers (:data:`DATE_TEXT`), e-mail addresses plain or obfuscated
(:data:`EMAIL`, :data:`EMAIL_WORD`).
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- numbers

_SEP = r"[ ./_\-()]{1,3}"
_GROUP = r"\d+(?:[ABab](?![^\W\d_])\d*)?"
_CHAIN = re.compile(rf"{_GROUP}(?:{_SEP}{_GROUP})*")
_NIR = re.compile(r"[1-478]\d{4}(?:\d\d|2[AB])\d{6}(?:\d\d)?")
_PHONE_FR = re.compile(r"(?:0|\+33|\+330|0033|00330)[1-9]\d{8}")
_PHONE_INTL = re.compile(r"\+[1-9]\d{7,13}")
_DATE_SEPS = set("/.-_")
#: Words that announce a social security number: then 7 digits or more are refused as a NIR
#: (a partial or mistyped number is still one).
_NIR_WORDS = re.compile(r"(?:\bnir|s[ée]cu(?:rit[ée] sociale)?|\bn°?\s?ss\b|\bnss|carte vitale|"
                        r"immatriculation|\bINS\b)\W{0,12}$", re.IGNORECASE)
#: Words that announce a phone number: then 9 digits without the leading 0 are one too.
_PHONE_WORDS = re.compile(r"(?:t[ée]l[ée]?(?:phone)?|portable|mobile|fixe|joignable|appeler|"
                          r"rappeler|num[ée]ro|n°|gsm|sms)\W{0,6}$", re.IGNORECASE)


def _valid_dmy(d: str, m: str, y: str) -> bool:
    if not (len(d) <= 2 and len(m) <= 2 and len(y) in (2, 4)):
        return False
    if len(y) == 4 and not 1890 <= int(y) <= 2099:
        return False
    return 1 <= int(d) <= 31 and 1 <= int(m) <= 12


def _date_window(groups: list[str], seps: list[str]) -> bool:
    """Three digit groups that read as a full date (d/m/y or y/m/d), or more groups whose digits
    spell ddmmyyyy / ddmmyy with at least two date separators ("1 2 / 0 3 / 1 9 3 8")."""
    if any(not g.isdigit() for g in groups):
        return False
    if len(groups) > 3:
        digits = "".join(groups)
        symbols = sum(any(ch in _DATE_SEPS for ch in s) for s in seps)
        return symbols >= 2 and (_single_group_date(digits) or (
            len(digits) == 6 and _valid_dmy(digits[:2], digits[2:4], digits[4:])))
    if len(groups) != 3:
        return False
    a, b, c = groups
    marked = [any(ch in _DATE_SEPS for ch in s) for s in seps]
    if any(marked) and not all(marked):
        return False  # "1/01 30": a date's separators are all symbols or all spaces
    symbol = all(marked)
    if _valid_dmy(a, b, c):
        return symbol or len(c) == 4
    if len(a) == 4 and 1890 <= int(a) <= 2099 and len(c) <= 2:
        return 1 <= int(b) <= 12 and 1 <= int(c) <= 31
    return False


def _single_group_date(g: str) -> bool:
    """Eight digits ddmmyyyy with a plausible year."""
    return len(g) == 8 and g.isdigit() and _valid_dmy(g[:2], g[2:4], g[4:]) and 1900 <= int(g[4:]) <= 2030


def number_findings(t: str) -> list[tuple[str, int, int]]:
    """NIR, phones and numeric dates in the digit chains of ``t``. Every window of consecutive
    groups is tried, longest first; a NIR takes its groups from every other reading, whereas a
    phone and a date may overlap ("01/01/1900 17" is reported as both: refusing is what counts),
    and a number with an international prefix (+33, 0033) is a phone first."""
    found: list[tuple[str, int, int]] = []
    for chain in _CHAIN.finditer(t):
        groups = [(m.group(0).upper(), chain.start() + m.start(), chain.start() + m.end())
                  for m in re.finditer(_GROUP, chain.group(0))]
        n = len(groups)
        used = {"nir": [False] * n, "phone": [False] * n, "date": [False] * n}
        plus = chain.start() > 0 and t[chain.start() - 1] == "+"
        announced = bool(_PHONE_WORDS.search(t[max(0, chain.start() - 30):chain.start()]))
        if _NIR_WORDS.search(t[max(0, chain.start() - 40):chain.start()]) and \
                sum(c.isdigit() for c in chain.group(0)) >= 7:
            found.append(("nir", chain.start(), chain.end()))
            continue
        windows = sorted(((i, j) for i in range(n) for j in range(i, min(n, i + 16))),
                         key=lambda w: (-(sum(len(groups[k][0]) for k in range(w[0], w[1] + 1))), w[0]))
        # an international prefix (+33, 0033) makes a phone before anything else
        for i, j in windows:
            text = "".join(g for g, _s, _e in groups[i:j + 1])
            lead = "+" if (i == 0 and plus) else ""
            if (lead or text.startswith("00")) and text.isdigit() and not any(used["nir"][i:j + 1]) \
                    and (_PHONE_FR.fullmatch(lead + text) or (lead and _PHONE_INTL.fullmatch(lead + text))):
                for k in range(i, j + 1):
                    used["nir"][k] = used["phone"][k] = True
                found.append(("phone", groups[i][1] - (1 if lead else 0), groups[j][2]))
        for i, j in windows:
            if any(used["nir"][i:j + 1]):
                continue
            text = "".join(g for g, _s, _e in groups[i:j + 1])
            lead = "+" if (i == 0 and plus) else ""
            kinds = []
            if _NIR.fullmatch(text) and not lead:  # "+33..." is a phone, never a NIR
                kinds.append("nir")
            else:
                if text.isdigit() and (_PHONE_FR.fullmatch(lead + text)
                                       or (lead and _PHONE_INTL.fullmatch(lead + text))
                                       or (announced and i == 0 and re.fullmatch(r"[1-9]\d{8}", text))):
                    kinds.append("phone")
                if _date_window([g for g, _s, _e in groups[i:j + 1]],
                                [t[groups[k][2]:groups[k + 1][1]] for k in range(i, j)]) \
                        or (i == j and _single_group_date(text)):
                    kinds.append("date")
            for kind in kinds:
                if any(used[kind][i:j + 1]):
                    continue
                for k in range(i, j + 1):
                    used[kind][k] = True
                found.append((kind, groups[i][1] - (1 if lead and kind == "phone" else 0),
                              groups[j][2]))
    return found


_MONTHS = (r"janvier|janv|jan|f[ée]vrier|f[ée]vr|f[ée]v|mars|avril|avr|mai|juin|juillet|juil|"
           r"ao[uû]t|septembre|sept|sep|octobre|oct|novembre|nov|d[ée]cembre|d[ée]c")
_DS = r"[ ./_\-]{0,3}"
DATE_TEXT = [
    # 3 mars 1938, 1er avril 1930, 12-mars-38, 7 janv. 1929
    re.compile(rf"(?<![\w])(?:1er|[0-3]?\d){_DS}(?:{_MONTHS})\.?{_DS}(?:\d{{4}}|'?\d{{2}})(?!\d)",
               re.IGNORECASE),
    # a month and an old year: "février 1935" (a birth month), not "janvier 2024"
    re.compile(rf"(?<![\w])(?:{_MONTHS})\.?{_DS}(?:18\d\d|19\d\d|200[0-5])(?!\d)", re.IGNORECASE),
    # birth markers: né(e) le / en, date de naissance, DDN, naissance :
    re.compile(r"(?<![\w])(?:(?:n[ée]e?s?|n[ée]\.e|n[ée]-e)\s|n[ée]\s?\(e\)\s?)(?:le|en|l')(?![\w])",
               re.IGNORECASE),
    re.compile(r"(?<![\w])(?:date\s?de\s?naissance|date\s?naiss\.?|naissance\s?:|DDN|D\.D\.N\.?|DN\s?:?\s?(?=\d))",
               re.IGNORECASE),
]


# --------------------------------------------------------------------------- e-mails

_LOCAL = r"[\w.+\-]*\w"
_AT = (r"(?:\s?@\s?|\s?[(\[{<]\s?(?:at|a|@|arobase|arrobase)\s?[)\]}>]\s?"
       r"|\s(?:arobase|arrobase)\s)")
_AT_WORD = r"\s(?:at|chez)\s"
_DOT = r"(?:\s?\.\s?|\s?[(\[{<]\s?(?:dot|point)\s?[)\]}>]\s?|\s(?:dot|point)\s)"
EMAIL = re.compile(rf"{_LOCAL}{_AT}[\w\-]+(?:{_DOT}[\w\-]+)*", re.IGNORECASE)
#: " at " / " chez " only count with a dotted domain ("jean at gmail dot com").
EMAIL_WORD = re.compile(rf"{_LOCAL}{_AT_WORD}[\w\-]+(?:{_DOT}(?:com|fr|net|org|eu|info|be|ch))",
                         re.IGNORECASE)


__all__ = ["DATE_TEXT", "EMAIL", "EMAIL_WORD", "number_findings"]
