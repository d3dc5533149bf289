"""Text folding and the fuzzy name index of the query layer.

:func:`fold_text` turns any string into lowercase ASCII-ish words separated by single spaces:
case folding, NFKD decomposition with the combining marks removed (``é`` -> ``e``), a few
ligatures spelled out (``œ`` -> ``oe``), every character that is not a letter or a digit
turned into a space, then the abbreviations of FINESS names expanded word by word
(``st`` -> ``saint``, ``ch`` -> ``centre hospitalier``...: see :data:`ABBREVIATIONS`).

The folding is done character by character through a cached translation table, so folding a
whole string and folding its characters one by one then joining agree: the same function
serves the index (built once at load) and the queries.

:class:`TextIndex` is the prepared index: a sorted vocabulary of the words of the searchable
fields (name, long name, name complement, commune, keywords of the category), an inverted
index word -> establishment rows, and the FINESS numbers (geographic and legal entity) kept
apart for exact and prefix look-ups. :meth:`TextIndex.score` scores every establishment
against a query in [0, 100] with rapidfuzz.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from dac_map.codes import is_finess

#: Word-level expansions applied after folding (keys and values are folded words).
ABBREVIATIONS: dict[str, str] = {
    "st": "saint",
    "ste": "sainte",
    "sts": "saints",
    "stes": "saintes",
    "ch": "centre hospitalier",
    "chu": "centre hospitalier universitaire",
    "chr": "centre hospitalier regional",
    "chs": "centre hospitalier specialise",
    "hop": "hopital",
    "res": "residence",
    "fv": "foyer de vie",
}

#: Words ignored in queries and in the index (articles, prepositions, ``cedex``).
STOP_WORDS: frozenset[str] = frozenset({
    "a", "au", "aux", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les", "pour",
    "par", "sur", "sous", "cedex",
})

#: Extra searchable words per FINESS category code (folded), on top of the acronym found in
#: the category label, e.g. ``(S.S.I.A.D)`` -> ``ssiad``.
CATEGORY_KEYWORDS: dict[str, str] = {
    "101": "hopital chu",
    "106": "hopital local",
    "114": "hopital",
    "122": "clinique",
    "128": "clinique",
    "129": "clinique",
    "292": "hopital psychiatrique chs",
    "355": "hopital",
    "362": "usld",
    "365": "clinique",
    "500": "ehpad maison retraite",
    "202": "residence autonomie",
}

#: Longest query kept (characters) and most query words scored: bounds the work per query.
MAX_QUERY_CHARS = 300
MAX_QUERY_WORDS = 12

_LIGATURES = {"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ı": "i",
              "ŧ": "t", "ð": "d", "þ": "th", "ß": "ss"}


def _fold_char(ch: str) -> str:
    """Fold one character: NFKD, casefold, NFKD again (``𝓐`` -> ``a``, ``İ`` -> ``i``), drop
    combining marks, spell ligatures, and map anything not a letter or digit to a space."""
    s = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", ch).casefold())
    out = []
    for c in s:
        if unicodedata.combining(c):
            continue
        c = _LIGATURES.get(c, c)
        out.append(c if c.isalnum() else " ")
    return "".join(out)


class _FoldTable(dict):
    """Translation table for :meth:`str.translate`, filled lazily one character at a time."""

    def __missing__(self, code: int) -> str:
        value = _fold_char(chr(code))
        self[code] = value
        return value


_TABLE = _FoldTable()
for _c in range(256):  # Latin-1 filled up front
    _TABLE[_c] = _fold_char(chr(_c))

# Byte-level fast path for Latin-1 text (most FINESS names): every Latin-1 character whose
# fold is one ASCII character is translated by :meth:`bytes.translate`; a text holding any
# other character goes through the general table. Both give the same result.
_LATIN1_FAST = bytes(ord(_TABLE[_c]) if len(_TABLE[_c]) == 1 and _TABLE[_c].isascii() else 0
                     for _c in range(256))
_LATIN1_SLOW = re.compile("[" + "".join(re.escape(chr(_c)) for _c in range(256)
                                        if _LATIN1_FAST[_c] == 0) + "\u0100-\U0010ffff]")


_ABBREVIATED = frozenset(ABBREVIATIONS)


def fold_words(text: object) -> list[str]:
    """The folded words of ``text`` (abbreviations expanded, stop words kept)."""
    if text is None:
        return []
    if not isinstance(text, str):
        if isinstance(text, float) and text != text:  # NaN
            return []
        text = str(text)
    if _LATIN1_SLOW.search(text) is None:
        words = text.encode("latin-1").translate(_LATIN1_FAST).decode("ascii").split()
    else:
        words = text.translate(_TABLE).split()
    if _ABBREVIATED.isdisjoint(words):
        return words
    out: list[str] = []
    for w in words:
        exp = ABBREVIATIONS.get(w)
        if exp is None:
            out.append(w)
        else:
            out.extend(exp.split())
    return out


def fold_text(text: object) -> str:
    """Accent-, case- and punctuation-insensitive form of ``text`` for searching.

    ``"EHPAD St-Quentin"`` -> ``"ehpad saint quentin"``; ``"Hôpital  d'Abbeville"`` ->
    ``"hopital d abbeville"``; ``None`` or NaN -> ``""``. Never raises.
    """
    return " ".join(fold_words(text))


def category_keywords(category: str, label: object) -> str:
    """Searchable words of a category: its acronym in parentheses and :data:`CATEGORY_KEYWORDS`."""
    words = [CATEGORY_KEYWORDS.get(str(category), "")]
    if isinstance(label, str):
        for m in re.finditer(r"\(([A-Za-z][A-Za-z.\s&]*)\)", label):
            acronym = re.sub(r"[^A-Za-z]", "", m.group(1))
            if 2 <= len(acronym) <= 8:
                words.append(acronym.lower())
    return " ".join(w for w in words if w)


# --------------------------------------------------------------------------- the index

#: Minimum rapidfuzz ``ratio`` for a query word of 4+ letters to match a vocabulary word.
WORD_CUTOFF = 75.0
#: Shortest query word matched as a prefix of a vocabulary word (digits: of a FINESS number).
MIN_PREFIX = 3
MIN_CODE_PREFIX = 5


@dataclass(frozen=True)
class TextMatch:
    """Scores of every establishment against one query.

    ``scores`` (float64, [0, 100]): mean over the query words of the best similarity of the
    word with a word of the establishment (100 exact, 90-100 prefix, rapidfuzz ratio >= 75
    for typos, else 0). ``exact``: the query is this establishment's FINESS number.
    ``tiebreak``: rapidfuzz ``token_sort_ratio`` of the whole folded query against the folded
    name (closest whole name first), computed for the rows at or above the minimum score only.
    ``active``: False when the query has no searchable word (then every score is 0).
    """

    scores: np.ndarray
    exact: np.ndarray
    tiebreak: np.ndarray
    active: bool
    words: tuple[str, ...]


@dataclass(frozen=True)
class TextIndex:
    """Prepared fuzzy index of the establishments (see the module docstring)."""

    n: int
    vocab: list[str]               # sorted unique words
    vocab_index: dict[str, int]
    indptr: np.ndarray             # int64, len(vocab) + 1
    rows: np.ndarray               # int32 posting rows, grouped by word
    names: np.ndarray              # object: folded name + long name per row
    finess: np.ndarray             # object: sorted (uppercase) FINESS numbers
    finess_rows: np.ndarray        # int64: row of each entry of ``finess``
    finess_ej: np.ndarray          # object: sorted (uppercase) legal-entity numbers
    finess_ej_rows: np.ndarray

    @classmethod
    def build(cls, fields: Sequence[Sequence[object]], folded_names: Sequence[str],
              finess: Sequence[object], finess_ej: Sequence[object],
              cache: dict[str, list[str]] | None = None) -> TextIndex:
        """Index ``n`` rows. ``fields`` are columns (each of length ``n``) of searchable text
        (None/NaN allowed); ``folded_names`` the folded display names used for tie-breaks;
        ``finess``/``finess_ej`` the FINESS numbers; ``cache``: folded words already computed
        (value -> words), e.g. by :func:`fold_column`."""
        n = len(folded_names)
        words_cache = cache if cache is not None else {}
        empty = np.empty(0, dtype=np.int64)

        # Distinct strings over every field, each folded once.
        string_id: dict[str, int] = {}
        field_codes: list[tuple[np.ndarray, np.ndarray]] = []
        for column in fields:
            if len(column) != n:
                raise ValueError("every field must have one value per row")
            codes, uniques = pd.factorize(pd.Series(column, dtype="object"), use_na_sentinel=True)
            sids = np.array([string_id.setdefault(u, len(string_id)) if isinstance(u, str) else -1
                             for u in uniques] + [-1], dtype=np.int64)
            field_codes.append((np.asarray(codes, dtype=np.int64), sids))
        get = words_cache.get
        per_string = [get(v) or fold_words(v) for v in string_id]
        lens = np.array([len(ws) for ws in per_string] + [0], dtype=np.int64)  # last: missing
        starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
        flat_words = np.array(list(itertools.chain.from_iterable(per_string)), dtype=object)
        word_codes, vocab_arr = pd.factorize(flat_words, sort=True)
        flat = np.asarray(word_codes, dtype=np.int64)
        # Stop words are indexed nowhere: drop them from the vocabulary and the postings.
        keep_word = np.array([v not in STOP_WORDS for v in vocab_arr], dtype=bool)
        new_id = np.cumsum(keep_word) - 1
        flat = np.where(keep_word[flat], new_id[flat], -1) if len(flat) else flat
        vocab = [str(v) for v, k in zip(vocab_arr, keep_word) if k]
        position = {w: i for i, w in enumerate(vocab)}

        post_rows: list[np.ndarray] = []
        post_words: list[np.ndarray] = []
        for codes, sids in field_codes:
            sid = sids[codes]                       # -1 (missing) -> last slot of lens/starts
            row_lens = lens[sid]
            total = int(row_lens.sum())
            if not total:
                continue
            offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(row_lens) - row_lens, row_lens)
            post_words.append(flat[np.repeat(starts[sid], row_lens) + offs])
            post_rows.append(np.repeat(np.arange(n, dtype=np.int64), row_lens))

        # Sort postings by (word, row) and dedupe.
        if post_rows:
            base = max(n, 1)
            pw, pr = np.concatenate(post_words), np.concatenate(post_rows)
            ok = pw >= 0
            key = np.sort(pw[ok] * base + pr[ok])
            if len(key):
                key = key[np.concatenate(([True], key[1:] != key[:-1]))]
            w, r = key // base, key % base
        else:
            w = r = empty
        indptr = np.searchsorted(w, np.arange(len(vocab) + 1)).astype(np.int64)

        def sorted_codes(values: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
            # FINESS numbers are stored uppercase (``[0-9][0-9A-Z][0-9]{7}``): no case folding.
            arr = np.asarray(values, dtype=object).copy()
            arr[pd.isna(arr)] = ""
            o = np.argsort(arr, kind="stable")
            return arr[o], o.astype(np.int64)

        fin, fin_rows = sorted_codes(finess)
        ej, ej_rows = sorted_codes(finess_ej)
        return cls(n=n, vocab=vocab, vocab_index=position, indptr=indptr,
                   rows=r.astype(np.int32), names=np.asarray(folded_names, dtype=object),
                   finess=fin, finess_rows=fin_rows, finess_ej=ej, finess_ej_rows=ej_rows)

    # ----------------------------------------------------------------- querying

    @staticmethod
    def _fuzzy_word(word: str) -> bool:
        """Whether a query word is matched with typos (4+ characters, no digit)."""
        return len(word) >= 4 and not any(c.isdigit() for c in word)

    def _word_scores(self, word: str, fuzzy: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(vocabulary ids, similarity) of the vocabulary words matching one query word;
        ``fuzzy`` is its rapidfuzz ratio against the vocabulary (0 below the cut-off)."""
        ids: list[np.ndarray] = []
        sims: list[np.ndarray] = []
        exact = self.vocab_index.get(word)
        if exact is not None:
            ids.append(np.array([exact]))
            sims.append(np.array([100.0]))
        has_digit = any(c.isdigit() for c in word)
        if len(word) >= MIN_PREFIX and not has_digit:
            lo = bisect.bisect_left(self.vocab, word)
            hi = bisect.bisect_left(self.vocab, word + "\U0010ffff")
            if hi > lo:
                pid = np.arange(lo, hi)
                plen = np.array([len(self.vocab[i]) for i in range(lo, hi)], dtype=float)
                ids.append(pid)
                sims.append(90.0 + 10.0 * len(word) / plen)
        if fuzzy is not None:
            hit = np.flatnonzero(fuzzy)
            ids.append(hit)
            sims.append(fuzzy[hit].astype(float))
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return np.concatenate(ids).astype(np.int64), np.concatenate(sims)

    def _code_rows(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, similarity) of the establishments whose FINESS (or legal entity) number
        equals (100) or starts with (90-100) a query word of digits."""
        word = word.upper()
        rows: list[np.ndarray] = []
        sims: list[np.ndarray] = []
        for arr, where in ((self.finess, self.finess_rows), (self.finess_ej, self.finess_ej_rows)):
            lo = int(np.searchsorted(arr, word, side="left"))
            if len(word) >= MIN_CODE_PREFIX:
                hi = int(np.searchsorted(arr, word + "\U0010ffff", side="left"))
            else:
                hi = int(np.searchsorted(arr, word, side="right"))
            if hi > lo:
                lens = np.array([len(s) for s in arr[lo:hi]], dtype=float)
                rows.append(where[lo:hi])
                sims.append(np.where(lens == len(word), 100.0, 90.0 + 10.0 * len(word) / lens))
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return np.concatenate(rows), np.concatenate(sims)

    def score(self, query: object, min_score: float = 0.0) -> TextMatch:
        """Score every row against ``query`` (any object; never raises). The tie-break score
        is computed for the rows scoring at least ``min_score`` (and above 0)."""
        text = query if isinstance(query, str) else ("" if query is None else str(query))
        text = text[:MAX_QUERY_CHARS]
        n = self.n
        exact = np.zeros(n, dtype=bool)
        compact = re.sub(r"[\s.\-_/]", "", text).upper()
        if is_finess(compact):
            i = int(np.searchsorted(self.finess, compact))
            while i < len(self.finess) and self.finess[i] == compact:
                exact[self.finess_rows[i]] = True
                i += 1
        words = [w for w in fold_words(text) if w not in STOP_WORDS]
        if not words:  # only stop words: score them rather than nothing
            words = fold_words(text)
        words = list(dict.fromkeys(w[:60] for w in words))[:MAX_QUERY_WORDS]
        if not words:
            z = np.zeros(n)
            z[exact] = 100.0
            return TextMatch(z, exact, np.zeros(n), bool(exact.any()), ())
        # One rapidfuzz call for every typo-tolerant word: the vocabulary is prepared once.
        fuzzy_words = [w for w in words if self._fuzzy_word(w)]
        fuzzy_rows: dict[str, np.ndarray] = {}
        if fuzzy_words and self.vocab:
            matrix = process.cdist(fuzzy_words, self.vocab, scorer=fuzz.ratio,
                                   score_cutoff=WORD_CUTOFF, dtype=np.float32, workers=1)
            fuzzy_rows = dict(zip(fuzzy_words, matrix))
        total = np.zeros(n, dtype=np.float64)
        for word in words:
            best = np.zeros(n, dtype=np.float64)
            ids, sims = self._word_scores(word, fuzzy_rows.get(word))
            if len(ids):
                starts = self.indptr[ids]
                lens = self.indptr[ids + 1] - starts
                count = int(lens.sum())
                if count:
                    offs = np.arange(count, dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
                    rows = self.rows[np.repeat(starts, lens) + offs]
                    np.maximum.at(best, rows, np.repeat(sims, lens))
            if any(c.isdigit() for c in word):
                rows, sims = self._code_rows(word)
                if len(rows):
                    np.maximum.at(best, rows, sims)
            total += best
        scores = np.clip(total / len(words), 0.0, 100.0)
        scores[exact] = 100.0
        tiebreak = np.zeros(n)
        hit = np.flatnonzero((scores > 0) & ((scores >= min_score) | exact))
        if len(hit):
            q = " ".join(words)
            tiebreak[hit] = process.cdist([q], self.names[hit].tolist(), scorer=fuzz.token_sort_ratio,
                                          dtype=np.float32, workers=1)[0]
        return TextMatch(np.round(scores, 1), exact, tiebreak, True, tuple(words))


def fold_column(values: Sequence[object], cache: dict[str, list[str]] | None = None) -> np.ndarray:
    """:func:`fold_text` of each value (object array), folding each distinct value once.
    ``cache`` (value -> folded words) is filled and reused when given."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    if cache is None:
        cache = {}
    folded = []
    for u in uniques:
        ws = fold_words(u)
        if isinstance(u, str):
            cache[u] = ws
        folded.append(" ".join(ws))
    folded = np.array(folded + [""], dtype=object)
    return folded[np.asarray(codes, dtype=np.int64)]
