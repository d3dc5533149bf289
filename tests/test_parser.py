"""Parser tests on fixtures written in the real etalab layouts (nasty rows included)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from dac_map.errors import InputMissingError
from dac_map.etl.parser import (
    decode_bytes,
    parse_equipment,
    parse_establishments,
    parse_establishments_text,
    parse_projection,
)

FIX = Path(__file__).parent / "fixtures" / "finess"
NASTY = FIX / "cs1100507_nasty.csv"


@pytest.fixture(scope="module")
def nasty():
    return parse_establishments(NASTY)


def test_header_layout_and_encoding(nasty):
    assert (nasty.layout, nasty.encoding, nasty.source_date) == ("cs1100507", "cp1252", "2021-01-08")
    assert nasty.section_lines == {"structureet": 17, "geolocalisation": 16}


def test_quoted_fields_with_doubled_quotes_and_semicolons(nasty):
    names = dict(zip(nasty.structures["nofinesset"], nasty.structures["rs"]))
    assert names["800005340"] == 'CONSULTATION "CALMETTE"'
    assert names["800009999"] == "EHPAD LES TILLEULS; SITE <script>alert(1)</script>"
    assert names["2A0000014"] == "CH DE NOTRE DAME DE LA MISÉRICORDE"


def test_issues_name_file_line_field_and_action(nasty):
    got = [(i.line, i.field, i.action) for i in nasty.issues]
    assert got == [
        (13, "dateouv", "kept"),            # 2001-13-45
        (17, "*", "rejected"),              # 31 fields
        (18, "nofinesset", "rejected"),     # duplicate FINESS number
        (19, "section", "rejected"),        # unknown line type
        (32, "coordxet", "kept"),           # 6A8812,3
        (33, "sourcecoordet", "kept"),      # GAUSS_LABORDE
        (35, "nofinesset", "rejected"),     # geolocation of an unknown establishment
    ]
    assert all(i.path == str(NASTY) for i in nasty.issues)
    dup = nasty.issues[2]
    assert "duplicate FINESS number 800000143" in dup.reason
    assert "31 fields on a 'structureet' line, expected 32" in nasty.issues[1].reason


def test_first_occurrence_wins_on_duplicates(nasty):
    st_ = nasty.structures.set_index("nofinesset")
    assert st_.loc["800000143", "rs"] == "CH ABBEVILLE"
    assert len(st_) == 15


def test_geolocations_typed(nasty):
    geo = nasty.geolocations.set_index("nofinesset")
    assert geo.loc["800000143", ["x", "y"]].tolist() == [616283.0, 7000932.9]
    assert geo.loc["9A0000028", "epsg"] == 5490
    assert geo.loc["9B0000034", "epsg"] == 5490       # "EPSG:5490"
    assert geo.loc["2A0000014", "epsg"] == 2154       # bare "2154" as last token
    assert pd.isna(geo.loc["800000150", "x"])          # empty coordinates
    assert pd.isna(geo.loc["800000184", "x"])          # not a number
    assert pd.isna(geo.loc["800000192", "x"])          # unknown projection
    assert pd.isna(geo.loc["800000192", "epsg"])
    assert "899999999" not in geo.index


def test_dates_parsed_bad_date_blanked(nasty):
    st_ = nasty.structures.set_index("nofinesset")
    assert st_.loc["800000143", "dateouv"] == pd.Timestamp("2001-02-03")
    assert pd.isna(st_.loc["800000150", "dateouv"])


def test_utf8_bom_cs1100502_without_geolocation():
    ext = parse_establishments(FIX / "cs1100502_utf8_bom.csv")
    assert (ext.layout, ext.encoding, len(ext.structures), len(ext.geolocations)) == (
        "cs1100502", "utf-8-sig", 3, 0)
    assert ext.structures["rs"].tolist()[1] == 'CONSULTATION "CALMETTE"'


def test_gzip_is_read(tmp_path):
    p = tmp_path / "extract.csv.gz"
    p.write_bytes(gzip.compress(NASTY.read_bytes()))
    assert len(parse_establishments(p).structures) == 15


@pytest.mark.parametrize("source,expected", [
    ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93", 2154),
    ("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,UTM_N20", 5490),
    ("UTM_N22", 2972), ("utm_s40", 2975), ("UTM_S38", 4471), ("UTM_N21", 32621),
    ("EPSG:4471", 4471), ("2975", 2975), ("EPSG:9999", None), ("GAUSS_LABORDE", None), ("", None),
])
def test_parse_projection(source, expected):
    assert parse_projection(source) == expected


def test_equipment_extract():
    ext = parse_equipment(FIX / "cs1100505_small.csv")
    eq = ext.equipment
    assert len(eq) == 6
    assert eq["capinstot"].tolist() == [80, 14, 6, pd.NA, 30, 40]  # "douze" blanked
    assert eq["removed_installed"].tolist() == [False, False, True, False, False, False]
    assert [(i.line, i.field, i.action) for i in ext.issues] == [
        (5, "capinstot", "kept"), (8, "*", "rejected")]


# ------------------------------------------------------------------------- file problems

def test_missing_file(tmp_path):
    with pytest.raises(InputMissingError) as exc:
        parse_establishments(tmp_path / "absent.csv")
    assert "absent.csv" in str(exc.value) and exc.value.exit_code == 3


@pytest.mark.parametrize("content,message", [
    (b"\xff\xfef\x00i\x00", "UTF-16"),
    (b"<!DOCTYPE html><html><body>503</body></html>", "HTML"),
    (b"PK\x03\x04rest", "ZIP"),
    (b"abc\x00def", "NUL"),
    (b"nofinesset;nofinessej;rs\n800000010;800001240;X\n", "not a raw FINESS"),
    (b"finess;etalab;00;2021-01-08\nstructureet;1;2\n", "no valid 'structureet'"),
])
def test_bad_files_are_refused_with_a_clear_message(refused_file, content, message):
    assert message in str(refused_file(parse_establishments, "bad.csv", content))


def test_decode_prefers_utf8_then_cp1252():
    assert decode_bytes("é".encode("utf-8"), "x") == ("é", "utf-8")
    assert decode_bytes("é".encode("latin-1"), "x") == ("é", "cp1252")


# ------------------------------------------------------------------------- property tests

_HEADER = "finess;etalab;00;2021-01-08\n"
_GOOD = NASTY.read_bytes().decode("latin-1").splitlines()[1]


def _accounted_lines(ext) -> set[int]:
    return ({int(n) for n in ext.structures["line"]} | {int(n) for n in ext.geolocations["line"]}
            | {i.line for i in ext.issues})


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                               blacklist_characters='"\r\n\x0b\x0c\x1c\x1d\x1e'
                                               '\x85\u2028\u2029'), max_size=200), max_size=20))
def test_arbitrary_lines_are_parsed_or_reported_and_leave_the_good_line_intact(lines):
    """Every extra non-blank line is an accepted row or an issue naming its line; the valid
    line before them comes back exactly as when alone."""
    alone = parse_establishments_text(_HEADER + _GOOD + "\n", "prop.csv")
    text = _HEADER + _GOOD + "\n" + "\n".join(lines)
    ext = parse_establishments_text(text, "prop.csv")
    first = ext.structures[ext.structures["line"] == 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, alone.structures)
    non_blank = {i + 3 for i, line in enumerate(lines) if line}
    assert non_blank <= _accounted_lines(ext)
    for issue in ext.issues:
        assert issue.path == "prop.csv" and issue.line >= 3 and issue.field


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=15),
                         min_size=1, max_size=40), max_size=10))
def test_structure_like_rows_are_kept_only_when_valid(rows):
    """Rows starting with a real section name but arbitrary values: a row of the right width
    with a valid FINESS number is kept value for value, any other is reported."""
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\n").writerows(["structureet", *r] for r in rows)
    text = _HEADER + _GOOD + "\n" + buf.getvalue()
    ext = parse_establishments_text(text, "prop.csv")
    assert ext.section_lines["structureet"] >= 1
    kept = ext.structures[ext.structures["line"] > 2]
    for line, row in zip(kept["line"], kept.itertuples(index=False)):
        physical = buf.getvalue().split("\n")
        assert line >= 3 and physical[line - 3].startswith("structureet")
    for r in rows:
        if len(r) != 31 or not re.fullmatch(r"[0-9][0-9A-Z][0-9]{7}", r[0].strip()):
            assert r[0].strip() not in set(kept["nofinesset"]) or r[0].strip() == "800000143"


def test_quoted_newline_falls_back_to_exact_line_numbers():
    """A quoted field spanning two lines: the record keeps its text and later lines their numbers."""
    good = _GOOD.split(";")
    multi = list(good)
    multi[1], multi[3] = "800000226", '"FOYER\nSUR DEUX LIGNES"'
    bad = ["structureet", "800000234", "TROP COURT"]
    text = _HEADER + ";".join(multi) + "\n" + ";".join(bad) + "\n" + _GOOD + "\n"
    ext = parse_establishments_text(text, "multi.csv")
    names = dict(zip(ext.structures["nofinesset"], ext.structures["rs"]))
    assert names["800000226"] == "FOYER\nSUR DEUX LIGNES"
    assert dict(zip(ext.structures["nofinesset"], ext.structures["line"])) == {
        "800000226": 2, "800000143": 5}
    assert [(i.line, i.field) for i in ext.issues] == [(4, "*")]


def test_bare_cr_line_endings_use_the_csv_path():
    text = (_HEADER + _GOOD + "\n").replace("\n", "\r")
    ext = parse_establishments_text(text, "mac.csv")
    assert len(ext.structures) == 1 and ext.source_date == "2021-01-08"


def test_interleaved_sections_and_foreign_lines_inside_a_block():
    """Sections not in contiguous blocks are classified line by line, with exact line numbers."""
    lines = NASTY.read_bytes().decode("latin-1").splitlines()
    st_lines = [ln for ln in lines if ln.startswith("structureet;")][:3]
    geo_lines = [ln for ln in lines if ln.startswith("geolocalisation;")][:3]
    body = [lines[0], st_lines[0], geo_lines[0], st_lines[1], "structurepj;1;2", st_lines[2],
            geo_lines[1], geo_lines[2]]
    ext = parse_establishments_text("\n".join(body) + "\n", "mixed.csv")
    assert ext.structures["line"].tolist() == [2, 4, 6]
    assert ext.geolocations["line"].tolist() == [3, 7, 8]
    assert [(i.line, i.field) for i in ext.issues] == [(5, "section")]
