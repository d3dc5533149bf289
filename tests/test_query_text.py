"""Text folding and the fuzzy index of the query layer (no GeoPackage needed)."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dac_map.query import fold_text
from dac_map.query.filters import clean_for_display
from dac_map.query.text import TextIndex, category_keywords, fold_column, fold_words


@pytest.mark.parametrize("raw, folded", [
    ("EHPAD St-Quentin", "ehpad saint quentin"),
    ("Hôpital  d'Abbeville", "hopital d abbeville"),
    ("CH ABBEVILLE", "centre hospitalier abbeville"),
    ("CHU Amiens-Picardie", "centre hospitalier universitaire amiens picardie"),
    ("Ste-Marie / STE ANNE", "sainte marie sainte anne"),
    ("FOYER D’ACCUEIL MÉDICALISÉ « LES CHÊNES »", "foyer d accueil medicalise les chenes"),
    ("Œuvre Cœur ß", "oeuvre coeur ss"),
    ("ﬁnance Ⅻ ２０", "finance xii 20"),
    ("chemin", "chemin"),
    ("\x00\x1b[31m<script>alert(1)</script>", "31m script alert 1 script"),
    ("", ""),
    (None, ""),
    (float("nan"), ""),
    (12, "12"),
])
def test_fold_text(raw: object, folded: str) -> None:
    assert fold_text(raw) == folded


def test_category_keywords() -> None:
    assert category_keywords("354", "Service de Soins Infirmiers A Domicile (S.S.I.A.D)") == "ssiad"
    assert category_keywords("500", "Etablissement d'hébergement pour personnes âgées dépendantes") == (
        "ehpad maison retraite")
    assert category_keywords("603", "Maison de santé (L.6223-3)") == ""


def test_fold_column_folds_each_distinct_value_once() -> None:
    cache: dict[str, list[str]] = {}
    out = fold_column(["St Jean", None, "St Jean", "Ste Anne"], cache)
    assert list(out) == ["saint jean", "", "saint jean", "sainte anne"]
    assert cache == {"St Jean": ["saint", "jean"], "Ste Anne": ["sainte", "anne"]}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fold_text_is_idempotent_and_normalised(text: str) -> None:
    folded = fold_text(text)
    assert fold_text(folded) == folded
    assert folded == folded.strip() and "  " not in folded
    assert folded == folded.casefold()
    assert fold_text(unicodedata.normalize("NFC", text)) == fold_text(unicodedata.normalize("NFD", text))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_display_cleaning_is_printable_and_short(text: str) -> None:
    shown = clean_for_display(text)
    assert all(c.isprintable() for c in shown) and len(shown) <= 60


NAMES = ["EHPAD SAINT-QUENTIN", "CH ABBEVILLE", "PHARMACIE CENTRALE", "EHPAD LES TILLEULS"]
COMMUNES = ["Saint-Quentin", "Abbeville", "Abbeville", "Amiens"]
FINESS = ["020000001", "800000143", "800003550", "800009999"]
FINESS_EJ = ["020000000", "800000028", None, "800000028"]


def small_index() -> TextIndex:
    return TextIndex.build([NAMES, COMMUNES], folded_names=fold_column(NAMES), finess=FINESS,
                           finess_ej=FINESS_EJ)


@pytest.mark.parametrize("query, ranking", [
    ("ehpad st quentin", [0, 3]),
    ("hopitl abevile", [1, 2]),  # typos: "hopitl" matches nothing, "abevile" ~ "abbeville"
    ("pharma", [2]),  # prefix: 90 + 10 * 6/9
    ("800000143", [1]),
    ("800000028", [1, 3]),  # legal entity number
    ("8000001", [1]),  # FINESS prefix
    ("abbevile tilleuls", [3, 1, 2]),  # one exact word (50) beats one typo (47)
])
def test_index_scores_match_an_independent_scorer(query, ranking, reference_text_score) -> None:
    """Scores == a brute-force computation with rapidfuzz on the folded words; the rows with
    a score, best first, are the expected ranking."""
    m = small_index().score(query)
    expected = [reference_text_score(query, [n, c], [f, e])
                for n, c, f, e in zip(NAMES, COMMUNES, FINESS, FINESS_EJ)]
    assert list(m.scores) == expected
    got = sorted((i for i in range(4) if m.scores[i] > 0), key=lambda i: (-m.scores[i], i))
    assert got == ranking


def test_index_exact_finess_and_stop_words() -> None:
    idx = small_index()
    m = idx.score("800000143")
    assert list(m.exact) == [False, True, False, False]
    assert idx.score("   ").active is False
    assert list(idx.score("de la").words) == ["de", "la"]


def test_index_on_no_rows() -> None:
    idx = TextIndex.build([[]], folded_names=np.array([], dtype=object), finess=[], finess_ej=[])
    m = idx.score("anything")
    assert len(m.scores) == 0 and m.active


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.text(min_size=500, max_size=3000), st.none(), st.integers()))
def test_index_scores_any_query_within_bounds(query: object) -> None:
    m = small_index().score(query, 70)
    assert m.scores.shape == (4,) and np.all((m.scores >= 0) & (m.scores <= 100))
    assert np.all((m.tiebreak >= 0) & (m.tiebreak <= 100))


def _general_fold(text: str) -> list[str]:
    """fold_words through the general translation table only (no Latin-1 byte fast path)."""
    from dac_map.query.text import _TABLE, ABBREVIATIONS
    return [x for w in text.translate(_TABLE).split() for x in ABBREVIATIONS.get(w, w).split()]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(st.characters(max_codepoint=0x17F)), st.text()))
def test_latin1_fast_path_agrees_with_the_general_fold(text: str) -> None:
    assert fold_words(text) == _general_fold(text)


def test_latin1_fast_path_every_character() -> None:
    for code in range(256):
        text = f"a{chr(code)}b {chr(code)}"
        assert fold_words(text) == _general_fold(text), code
