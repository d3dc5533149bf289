"""Text as personal-data detection reads it: :func:`normalise` (Unicode NFKC, ASCII digits,
look-alike letters, format characters and combining marks removed, spaces and dashes unified,
with the map back to the original positions), :func:`fold` (lower case without accents), and
the name lists the package ships (:func:`first_names`, :func:`surnames`).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from importlib import resources

# --------------------------------------------------------------------------- normalisation

#: Cyrillic and Greek letters that look like Latin ones ("Мme Dupоnt" typed to dodge a filter).
_HOMOGLYPHS = str.maketrans(
    "АВЕКМНОРСТХУаеорсухіјѕԁɡΑΒΕΖΗΙΚΜΝΟΡΤΥΧαεικνορτυχ",
    "ABEKMHOPCTXYaeopcyxijsdgABEZHIKMNOPTYXaeikvoptux")
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_QUOTES = dict.fromkeys(map(ord, "\u2018\u2019\u201b\u02bc\u00b4\u0060"), "'")
_UNIFY = {**_DASHES, **_QUOTES, **_HOMOGLYPHS}


def normalise(text: str) -> tuple[str, list[int]]:
    """The text detection works on, and for each of its characters the index of the original
    character it comes from (see the module docstring for what is changed)."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if " " < ch < "`" or "`" < ch < "\x7f":  # printable ASCII but space and backquote: as is
            out.append(ch)
            index.append(i)
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cf", "Mn", "Me"):
            continue  # zero-width, soft hyphen, BOM, bidi marks, combining accents
        if cat in ("Cc", "Zs", "Zl", "Zp") or ch.isspace():
            if out and out[-1] == " ":
                continue
            out.append(" ")
            index.append(i)
            continue
        for c in unicodedata.normalize("NFKC", ch).translate(_UNIFY):
            if unicodedata.category(c) in ("Mn", "Me"):
                continue
            if c.isdecimal() and not c.isascii():
                c = str(unicodedata.decimal(c))  # Arabic-Indic, Devanagari... digits
            out.append(c)
            index.append(i)
    return "".join(out), index


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without accents."""
    nfkd = unicodedata.normalize("NFKD", text)
    return "".join(c for c in nfkd if not unicodedata.combining(c)).lower()


# --------------------------------------------------------------------------- name lists

def _read_list(name: str) -> frozenset[str]:
    text = resources.files("dac_map.resources").joinpath(name).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Folded common French first names (``dac_map/resources/prenoms_fr.txt``)."""
    return frozenset(fold(n) for n in _read_list("prenoms_fr.txt"))


@lru_cache(maxsize=1)
def surnames() -> tuple[frozenset[str], frozenset[str]]:
    """Folded French surnames (``dac_map/resources/noms_famille_fr.txt``): one-word ones and
    two-word ones ("le goff", "da silva")."""
    names = [fold(n) for n in _read_list("noms_famille_fr.txt")]
    return (frozenset(n for n in names if " " not in n), frozenset(n for n in names if " " in n))


__all__ = ["normalise", "fold", "first_names", "surnames"]
