"""md() on web and e-mail addresses: escaped Markdown that no GFM autolink literal can match
(Streamlit's Markdown links bare ``http://``, ``https://``, ``www.`` and e-mail addresses found
in the text once the escapes are resolved), while a reader sees the same letters; and the
establishment sheet of the app (AppTest) for a name holding web addresses. The oracle is
the pair of regular expressions of mdast-util-gfm-autolink-literal as shipped in Streamlit's
frontend bundle (without their extra checks, so stricter), applied to the resolved text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dac_map.testing.apptest import markdown_text, run_app, unescape
from dac_map.ui.text import WORD_JOINER, mailto_href, md, plain

#: ``/(https?:\/\/|www(?=\.))([-.\w]+)([^ \t\r\n]*)/gi`` and
#: ``/(?<=^|\s|\p{P}|\p{S})([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)/gu`` (the look-behind left out:
#: every match counts). JavaScript's ``\w`` is ASCII.
GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE | re.ASCII)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)
#: Characters md() escapes (Markdown, HTML, Streamlit directives).
SPECIAL = set("\\`*_{}[]()#+-.!|<>~:$&=\"'/^%@")


def resolved(markdown: str) -> str:
    """The text remark-gfm searches for autolink literals: escapes resolved, joiners kept."""
    return re.sub(r"\\(.)", r"\1", markdown)


def autolinks(markdown: str) -> list[str]:
    text = resolved(markdown)
    return [m.group(0) for m in GFM_URL.finditer(text)] + [m.group(0) for m in GFM_EMAIL.finditer(text)]


def fully_escaped(markdown: str) -> bool:
    """Every special character of ``markdown`` is escaped, and only those are."""
    i = 0
    while i < len(markdown):
        if markdown[i] == "\\":
            if i + 1 >= len(markdown) or markdown[i + 1] not in SPECIAL:
                return False
            i += 2
        elif markdown[i] in SPECIAL:
            return False
        else:
            i += 1
    return True


@pytest.mark.parametrize("name", [
    "Voir http://exemple.fr/aide pour l'épicerie",
    "Épicerie https://exemple.org/colis?x=1&y=(2)",
    "Restaurant solidaire www.exemple.fr et WWW.EXEMPLE.COM",
    "Écrire à accueil.epicerie@exemple.fr ou <contact@exemple.fr>",
    "HTTP://WWW.EXEMPLE.FR", "http://www.exemple.fr", "wwww.exemple.fr", "mailto:a@b.fr",
    "[lien](http://evil.example) :red[alimentaire]",
])
def test_addresses_are_not_autolinks_and_read_the_same(name):
    assert autolinks(md(name).replace(WORD_JOINER, ""))  # the oracle sees what md() must break
    out = md(name)
    assert autolinks(out) == []
    assert unescape(out) == name
    assert fully_escaped(out.replace(WORD_JOINER, ""))


def test_joiners_only_where_a_literal_would_start():
    assert md("EHPAD LES TILLEULS") == "EHPAD LES TILLEULS"
    assert md("Centre: 12 rue du Bois, Amiens") == r"Centre\: 12 rue du Bois, Amiens"
    assert md("https://x.fr") == "https\\:" + WORD_JOINER + r"\/\/x\.fr"
    assert md("WwW.x.fr") == "WwW" + WORD_JOINER + r"\.x\.fr"
    assert md("a@b") == "a\\@" + WORD_JOINER + "b"
    assert md("x" + WORD_JOINER + "y") == "x y"  # joiners typed in the input are not kept


PIECES = ["http://", "https://", "HTTPS://", "Http:", "//", "www.", "WwW.", "www", "@", ".", "/",
          ":", "-", "_", "+", " ", "\\", WORD_JOINER, "\u200b", "é", "e\u0301", "exemple", "fr",
          "a", "1", "\n", "<", ">", "(", ")", "[", "]", "*", "`"]


@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=30).map("".join))
def test_md_never_autolinks_and_reads_the_same(text):
    out = md(text)
    assert autolinks(out) == []
    assert unescape(out) == plain(text)  # a reader sees the same letters
    assert fully_escaped(out.replace(WORD_JOINER, ""))  # the escaping guarantee is kept
    assert "\n" not in out


def test_establishment_sheet_with_an_address_in_its_name(ui_store, app_store):
    """The app: the FICTITIOUS establishment whose name holds ``http://evil.example`` (twice),
    its sheet's title and Markdown carry no autolink literal and read as the name."""
    from e2e.ui_store import NASTY

    app_store(ui_store, "DAC-80")
    name = NASTY["800999993"]
    assert len(GFM_URL.findall(name)) == 2
    at = run_app({"dac": "DAC-80", "etab": "800999993"})
    titles = [h.value for h in at.subheader]
    assert name in [unescape(t) for t in titles]
    assert [t for t in titles if autolinks(t)] == []
    assert autolinks(markdown_text(at)) == []


@pytest.mark.parametrize(("value", "expected"), [
    ("accueil@exemple.fr", "mailto:accueil@exemple.fr"),
    ("  Accueil.Social+80@mairie-amiens.fr ", "mailto:Accueil.Social+80@mairie-amiens.fr"),
    ("accueil@exemple", None),                       # no top-level domain
    ("écrire à accueil@exemple.fr", None),           # more than one address
    ("a@b.fr, c@d.fr", None),
    ("x@y.fr)](javascript:alert(1)", None),          # would break out of the link target
    ("<x@y.fr>", None),
    ("", None),
    (None, None),
])
def test_mailto_only_for_one_plain_address(value, expected):
    assert mailto_href(value) == expected
