"""Plain words -> resource types: the table behind the « Je cherche » box.

Callers do not say « Etablissement d'hébergement pour personnes âgées dépendantes (500) »; they
say « un EHPAD », « une aide à domicile », « le CSAPA ». The synonyms table
(``data/reference/synonymes.csv``, setting ``SYNONYMS_PATH``; documented in data/README.md and
edited by data stewards) maps those words to the codes the query layer understands.

Layout: UTF-8, ``;``-separated, one header line
``terme;variantes;libelle;categories;disciplines;activites;clienteles;note``:

* ``terme``: the word people use (an acronym or a common phrase), shown in suggestions;
* ``variantes``: other ways of saying it, separated by ``|`` (optional);
* ``libelle``: the plain French label of the resource type (``Addictologie (CSAPA)``), used by
  the unmet-need log and the ARS report instead of codes;
* ``categories`` (FINESS establishment categories), ``disciplines`` (equipment disciplines),
  ``activites`` (activity types), ``clienteles`` (clientèles): codes separated by spaces. Codes
  of one column are alternatives (OR); filled columns combine (AND), as the search filters do;
* ``note``: free text for stewards (why these codes).

Matching works on whole words, accent- and case-insensitive, dotted acronyms collapsed
(``S.S.I.A.D.`` = ``ssiad``), a final plural ``s`` ignored: « EHPAD » never selects EHPA
(502), « ssiad » never offers loose matches. See :func:`match`.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dac_map import settings
from dac_map.query.errors import QueryError

if TYPE_CHECKING:  # pragma: no cover
    from dac_map.query.spec import SearchSpec

#: The header of the synonyms table, in order.
COLUMNS = ("terme", "variantes", "libelle", "categories", "disciplines", "activites",
           "clienteles", "note")

_CODE = re.compile(r"[0-9A-Za-z]{1,10}")
_DOTTED = re.compile(r"\b(?:[^\W\d_]\.){2,}(?:[^\W\d_]\b\.?)?")
_STOP = frozenset({"a", "au", "aux", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les",
                   "pour", "un", "une", "un", "cherche", "je", "qu", "que", "avec"})


@functools.lru_cache(maxsize=8192)
def words(text: str) -> tuple[str, ...]:
    """Folded words of ``text``: case and accents removed, dotted acronyms collapsed
    (``C.S.A.P.A.`` -> ``csapa``), punctuation as spaces, small words (de, la, un...) dropped,
    a final plural ``s`` removed from words of four letters or more."""
    t = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), str(text or ""))
    t = unicodedata.normalize("NFKD", t.casefold())
    t = "".join(ch for ch in t if not unicodedata.combining(ch)).replace("œ", "oe").replace("æ", "ae")
    out: list[str] = []
    for w in re.split(r"[^0-9a-z]+", t):
        if not w or w in _STOP:
            continue
        if len(w) >= 4 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return tuple(out)


@dataclass(frozen=True)
class Synonym:
    """One line of the table: what it says (``term``, ``variants``), its plain ``label``, and
    the codes it selects (tuples of code strings; empty = that criterion unused)."""

    term: str
    label: str
    variants: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    disciplines: tuple[str, ...] = ()
    activity_types: tuple[str, ...] = ()
    clienteles: tuple[str, ...] = ()
    note: str = ""
    line: int = 0  # line of the table (0 = not from the table, e.g. a FINESS category label)

    @property
    def phrases(self) -> tuple[tuple[str, ...], ...]:
        """Folded words of the term and of each variant."""
        return tuple(p for p in (words(x) for x in (self.term, *self.variants)) if p)

    def apply(self, spec: SearchSpec) -> SearchSpec:
        """``spec`` with its resource-type criteria replaced by this entry's (family and
        aggregate cleared: they would narrow the selection further); place, text, capacity
        and territory kept."""
        return replace(spec, families=(), aggregates=(), categories=self.categories,
                       disciplines=self.disciplines, activity_types=self.activity_types,
                       clienteles=self.clienteles)

    def matches_spec(self, spec: SearchSpec) -> bool:
        """True when ``spec`` selects exactly this entry's resource type."""
        return (not spec.families and not spec.aggregates
                and set(spec.categories) == set(self.categories)
                and set(spec.disciplines) == set(self.disciplines)
                and set(spec.activity_types) == set(self.activity_types)
                and set(spec.clienteles) == set(self.clienteles))


def _codes(raw: str, path: Path, line: int, column: str) -> tuple[str, ...]:
    out: list[str] = []
    for code in (raw or "").split():
        if not _CODE.fullmatch(code):
            raise QueryError(f"{path.name}, ligne {line}, champ « {column} » : code illisible "
                             f"« {code[:20]} » / unreadable code")
        if code not in out:
            out.append(code)
    return tuple(out)


def read_synonyms(path: str | Path | None = None) -> tuple[Synonym, ...]:
    """Read the synonyms table (``settings.SYNONYMS_PATH`` by default). Raises
    :class:`QueryError` naming the file, the line and the field for a bad header, a missing
    term or label, an unreadable code or a line selecting nothing."""
    path = Path(settings.SYNONYMS_PATH if path is None else path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise QueryError(f"{path} : table des synonymes illisible / unreadable synonyms "
                         f"table ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise QueryError(f"{path.name} : encodage UTF-8 attendu / UTF-8 expected") from exc
    reader = csv.reader(text.splitlines(), delimiter=";")
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise QueryError(f"{path.name}, ligne 1 : en-tête attendu / expected header "
                         f"« {';'.join(COLUMNS)} »")
    out: list[Synonym] = []
    for line, row in enumerate(reader, start=2):
        if not row or not "".join(row).strip() or row[0].startswith("#"):
            continue
        if len(row) != len(COLUMNS):
            raise QueryError(f"{path.name}, ligne {line} : {len(row)} champs au lieu de "
                             f"{len(COLUMNS)} / {len(row)} fields instead of {len(COLUMNS)}")
        f = dict(zip(COLUMNS, (x.strip() for x in row)))
        for col in ("terme", "libelle"):
            if not f[col]:
                raise QueryError(f"{path.name}, ligne {line}, champ « {col} » : vide / empty")
        if not words(f["terme"]):
            raise QueryError(f"{path.name}, ligne {line}, champ « terme » : aucun mot / no word")
        syn = Synonym(
            term=f["terme"], label=f["libelle"],
            variants=tuple(v.strip() for v in f["variantes"].split("|") if v.strip()),
            categories=_codes(f["categories"], path, line, "categories"),
            disciplines=_codes(f["disciplines"], path, line, "disciplines"),
            activity_types=_codes(f["activites"], path, line, "activites"),
            clienteles=_codes(f["clienteles"], path, line, "clienteles"),
            note=f["note"], line=line)
        if not (syn.categories or syn.disciplines or syn.activity_types or syn.clienteles):
            raise QueryError(f"{path.name}, ligne {line} : aucun code (categories, disciplines, "
                             "activites ou clienteles) / no code")
        out.append(syn)
    return tuple(out)


_CACHE: dict[tuple[str, float], tuple[Synonym, ...]] = {}


def load_synonyms(path: str | Path | None = None) -> tuple[Synonym, ...]:
    """:func:`read_synonyms`, cached per file and modification time (an edit is seen at once)."""
    path = Path(settings.SYNONYMS_PATH if path is None else path)
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return read_synonyms(path)  # raises the French error
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = read_synonyms(path)
    return _CACHE[key]


def _contains(seq: Sequence[str], part: Sequence[str]) -> bool:
    n = len(part)
    return n > 0 and any(tuple(seq[i:i + n]) == tuple(part) for i in range(len(seq) - n + 1))


def score(query: Sequence[str], syn: Synonym) -> float:
    """How well the folded ``query`` words name ``syn`` (0 = not at all): 3 the query is the
    term or a variant; 2 + a little per word: a term or variant appears in the query as whole
    words (« ehpad amiens »); 1: the query is a whole-word part of a term, a variant or the
    label (« retraite »); 0.5: same with the last word typed as a prefix of four letters or
    more (« addicto »)."""
    q = tuple(query)
    if not q:
        return 0.0
    best = 0.0
    for p in syn.phrases:
        if p == q:
            return 3.0
        if _contains(q, p):
            best = max(best, 2.0 + len(p) / 100)
        elif _contains(p, q):
            best = max(best, 1.0)
    if best:
        return best
    for p in (*syn.phrases, words(syn.label)):
        if _contains(p, q):
            return 1.0
    last = q[-1]
    if len(last) >= 4:
        for p in (*syn.phrases, words(syn.label)):
            for i in range(len(p) - len(q) + 1):
                if p[i:i + len(q) - 1] == q[:-1] and p[i + len(q) - 1].startswith(last):
                    return 0.5
    return 0.0


def match(query: str, synonyms: Iterable[Synonym] | None = None,
          categories: Mapping[str, str] | None = None, limit: int = 8) -> list[Synonym]:
    """Entries that ``query`` names, best first (ties in table order). When no entry matches,
    FINESS categories whose label (``categories``: code -> label, long or short) holds every
    query word as a whole word are offered as entries of their own (``line`` 0)."""
    q = words(query)
    if not q:
        return []
    table = load_synonyms() if synonyms is None else tuple(synonyms)
    scored = [(score(q, s), k, s) for k, s in enumerate(table)]
    hits = [(-sc, k, s) for sc, k, s in scored if sc > 0]
    hits.sort(key=lambda t: (t[0], t[1]))
    out = [s for _, _, s in hits]
    if not out and categories:
        for code, label in categories.items():
            if _contains(words(label), q) or set(q) <= set(words(label)):
                out.append(Synonym(term=str(label), label=str(label), categories=(str(code),)))
    return out[:limit]


def best_match(query: str, synonyms: Iterable[Synonym] | None = None,
               categories: Mapping[str, str] | None = None) -> Synonym | None:
    """The one entry ``query`` names without doubt: the only match, or a match scoring above
    every other (an exact term or variant, a phrase found in the query); None otherwise."""
    q = words(query)
    table = load_synonyms() if synonyms is None else tuple(synonyms)
    found = match(query, table, categories, limit=len(table) + 50)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        a, b = score(q, found[0]), score(q, found[1])
        if a >= 2 and a > b:
            return found[0]
    return None


def label_of(spec: SearchSpec, synonyms: Iterable[Synonym] | None = None) -> str | None:
    """The plain label of the resource type ``spec`` selects (« Addictologie (CSAPA) »), when
    an entry of the table selects exactly that; None otherwise."""
    try:
        table = load_synonyms() if synonyms is None else tuple(synonyms)
    except QueryError:
        return None
    for s in table:
        if s.matches_spec(spec):
            return s.label
    return None


__all__ = ["COLUMNS", "Synonym", "best_match", "label_of", "load_synonyms", "match",
           "read_synonyms", "score", "words"]
