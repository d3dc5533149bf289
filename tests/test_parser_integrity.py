"""Corruption stays local: property tests of the parser on damaged real-layout extracts.

The base extract is written by the synthetic generator in the real cs1100507 layout (UTF-8,
quoted names with ``;`` and doubled quotes, one name over two lines). Each example damages ONE
physical line (stray quote, truncation, extra or missing separator, bytes invalid in UTF-8) on
any line, header and last ``structureet`` line included; every other establishment must come
out field for field as in the clean parse, and the damaged line must be reported. Expectations
come from the clean parse of the undamaged file and from the raw lines, never from the damaged
parse itself.
"""

from __future__ import annotations

import csv
import functools
import io
import tempfile
from pathlib import Path
from unittest.mock import patch

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings as hsettings, strategies as st

from dac_map.etl.layouts import STRUCTUREET
from dac_map.etl.parser import parse_establishments_text
from dac_map.etl import rawtext
from dac_map.etl.rawtext import _high_bytes, byte_offsets, decode
from dac_map.etl.sections import _line_offsets, _Lines
from dac_map.testing.synthetic import write_establishments_extract

MULTILINE_NAME = "FOYER DES ÉTANGS\nSUR DEUX LIGNES"
QUOTED_NAME = 'CH "SAINT-JEAN" ; ÉTÉ'


def _csv_line(values: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\n").writerow(values)
    return buf.getvalue().encode("utf-8")


@functools.lru_cache(maxsize=1)
def base_extract() -> bytes:
    """A clean UTF-8 cs1100507 extract of 40 establishments with two nasty names."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "base.csv"
        write_establishments_extract(path, 40, seed=3, encoding="utf-8")
        lines = path.read_bytes().decode("utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        values = next(csv.reader([line], delimiter=";"))
        if i in (5, 9):
            values[3] = MULTILINE_NAME if i == 5 else QUOTED_NAME
        out.append(_csv_line(values))
    return b"".join(out)


def _parse(data: bytes, engine: str = "arrow", as_bytes: bool = False):
    decoded = decode(data, "damaged.csv")
    return parse_establishments_text(decoded.body if as_bytes else decoded.text, "damaged.csv",
                                     decoded.encoding, decoded.notes, engine=engine)


@functools.lru_cache(maxsize=1)
def clean_parse():
    return _parse(base_extract())


def _record_spans() -> list[tuple[int, int, str | None]]:
    """(first line, last line, FINESS number or None for the header) of every record of the
    base, from the clean parse's start lines (records are contiguous, no blank line)."""
    clean = clean_parse()
    starts = {1: None}
    starts.update(zip(clean.structures["line"], clean.structures["nofinesset"]))
    starts.update(zip(clean.geolocations["line"], clean.geolocations["nofinesset"]))
    n_lines = base_extract().count(b"\n")
    ordered = sorted(starts)
    return [(s, (ordered[i + 1] - 1) if i + 1 < len(ordered) else n_lines, starts[s])
            for i, s in enumerate(ordered)]


def test_base_extract_is_clean_and_has_its_nasty_names():
    clean = clean_parse()
    assert clean.issues == [] and clean.encoding == "utf-8"
    assert len(clean.structures) == len(clean.geolocations) == 40
    names = set(clean.structures["rs"])
    assert {MULTILINE_NAME, QUOTED_NAME} <= names
    spans = _record_spans()
    assert sum(1 for first, last, _ in spans if last > first) == 1  # the two-line name


def _outside_quotes(line: bytes, inside: bool) -> list[int]:
    """Positions of ``line`` (a clean, plainly quoted line) not inside a quoted value;
    ``inside`` is the state at its start (True on the second line of a two-line value)."""
    out = []
    for i, b in enumerate(line):
        if b == 0x22:
            inside = not inside
        elif not inside:
            out.append(i)
    return out + ([len(line)] if not inside else [])


def _damage(line: bytes, kind: str, data: st.DataObject, inside: bool) -> bytes:
    if kind == "quote":
        p = data.draw(st.integers(0, len(line)))
        return line[:p] + b'"' + line[p:]
    if kind == "truncate":
        p = data.draw(st.integers(0, line.rindex(b";")))
        return line[:p]
    if kind == "extra_separator":
        p = data.draw(st.sampled_from(_outside_quotes(line, inside)))
        return line[:p] + b";" + line[p:]
    if kind == "missing_separator":
        seps = [i for i in _outside_quotes(line, inside) if i < len(line) and line[i] == 0x3B]
        p = data.draw(st.sampled_from(seps))
        return line[:p] + line[p + 1:]
    junk = data.draw(st.binary(min_size=1, max_size=4).map(lambda b: bytes(0x80 | c for c in b)))
    p = data.draw(st.integers(0, len(line)))
    damaged = line[:p] + junk + line[p:]
    try:
        damaged.decode("utf-8")
    except UnicodeDecodeError:
        return damaged
    assume(False)  # the junk happened to be valid UTF-8: a different value, not damage
    return damaged


def _rows(frame: pd.DataFrame, keep: set[str]) -> dict[str, tuple]:
    out = {}
    for row in frame.itertuples(index=False):
        record = row._asdict()
        if record["nofinesset"] in keep:
            out[record["nofinesset"]] = tuple(None if pd.isna(v) else v for v in record.values())
    return out


KINDS = ("quote", "truncate", "extra_separator", "missing_separator", "garbage")


@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_one_damaged_line_only_affects_its_own_record(data, kind):
    base = base_extract()
    lines = base.split(b"\n")[:-1]
    spans = _record_spans()
    last_structure = max(s for s, _, f in spans if f is not None
                         and s in set(clean_parse().structures["line"]))
    k = data.draw(st.one_of(st.integers(1, len(lines)), st.sampled_from([1, last_structure])))
    first, last, finess = next((a, b, f) for a, b, f in spans if a <= k <= b)
    inside = sum(ln.count(b'"') for ln in lines[first - 1:k - 1]) % 2 == 1
    damaged_line = _damage(lines[k - 1], kind, data, inside)
    damaged = lines[:k - 1] + [damaged_line] + lines[k:]
    result = _parse(b"\n".join(damaged) + b"\n")

    clean = clean_parse()
    others = set(clean.structures["nofinesset"]) - {finess}
    assert set(result.structures["nofinesset"]) <= set(clean.structures["nofinesset"])
    assert _rows(result.structures, others) == _rows(clean.structures, others)
    assert _rows(result.geolocations, others) == _rows(clean.geolocations, others)
    reported = [i for i in result.issues if first <= i.line <= last]
    assert reported, f"damaged line {k} ({kind}) not reported: {result.issues}"
    assert all(i.path == "damaged.csv" and i.field for i in result.issues)

    # The csv fallback reads the damaged file exactly as the Arrow fast path does, and so does
    # the ETL's route (the decoded UTF-8 bytes, no file-sized string).
    for other in (_parse(b"\n".join(damaged) + b"\n", engine="csv"),
                  _parse(b"\n".join(damaged) + b"\n", as_bytes=True)):
        pd.testing.assert_frame_equal(other.structures, result.structures)
        pd.testing.assert_frame_equal(other.geolocations, result.geolocations)
        assert other.issues == result.issues


def test_stray_quote_on_last_structure_line_keeps_every_geolocation():
    """The case of the trial: one quote on the last structureet line used to detach the whole
    geolocalisation section."""
    lines = base_extract().split(b"\n")[:-1]
    clean = clean_parse()
    k = int(clean.structures["line"].max())
    values = lines[k - 1].split(b";")
    values[3] = b'"' + values[3]
    lines[k - 1] = b";".join(values)
    result = _parse(b"\n".join(lines) + b"\n")
    assert len(result.geolocations) == len(clean.geolocations) == 40
    assert result.structures["rs"].str.len().max() < 200
    (issue,) = result.issues
    assert (issue.line, issue.field, issue.action) == (k, "rs", "kept")
    assert "unbalanced double quote" in issue.reason


def test_unbalanced_quote_cannot_exceed_the_record_limits(monkeypatch):
    """A quote opened on a line followed by lines that do not start a record: joined within the
    limits only (here 2 lines), else reported and the lines read on their own."""
    from dac_map import settings

    monkeypatch.setattr(settings, "PARSER_MAX_RECORD_LINES", 2)
    lines = base_extract().decode("utf-8").split("\n")[:-1]
    k = 3
    values = next(csv.reader([lines[k - 1]], delimiter=";"))
    broken = ";".join(values[:3]) + ';"OPEN' + "\n" + "CONTINUES\nAND CONTINUES\n" + ";".join(values[4:])
    text = "\n".join(lines[:k - 1] + [broken] + lines[k:]) + "\n"
    result = parse_establishments_text(text, "limits.csv")
    got = [(i.line, i.field) for i in result.issues if i.line in (k, k + 1, k + 2, k + 3)]
    assert got == [(k, "rs"), (k + 1, "section"), (k + 2, "section"), (k + 3, "section")]
    assert "within 2 lines" in result.issues[0].reason
    assert len(result.structures) == 39


# --------------------------------------------------------------------------- encodings

def test_utf8_file_with_one_latin1_byte_stays_utf8():
    lines = base_extract().split(b"\n")[:-1]
    clean = clean_parse()
    k = int(clean.structures["line"].iloc[20])
    values = lines[k - 1].split(b";")
    values[4] = values[4] + " ÉTÉ".encode("latin-1")
    lines[k - 1] = b";".join(values)
    result = _parse(b"\n".join(lines) + b"\n")
    assert result.encoding == "utf-8"
    issue = next(i for i in result.issues if i.line == k)
    assert (issue.field, issue.action) == ("rslongue", "kept")
    assert "read as cp1252" in issue.reason
    st_ = result.structures.set_index("nofinesset")
    fin = clean.structures["nofinesset"].iloc[20]
    assert st_.loc[fin, "rslongue"].endswith(" ÉTÉ")
    # every accented name elsewhere is intact
    others = set(clean.structures["nofinesset"]) - {fin}
    assert _rows(result.structures, others) == _rows(clean.structures, others)


def test_latin1_file_with_one_utf8_line_keeps_its_other_lines():
    text = base_extract().decode("utf-8")
    lines = text.split("\n")[:-1]
    k = int(clean_parse().structures["line"].iloc[7])
    raw = [ln.encode("cp1252") for ln in lines]
    raw[k - 1] = lines[k - 1].replace(";;", "; RÉSIDENCE;", 1).encode("utf-8")
    raw.append("structureet;".encode() + ";".join(["X"] * 31).encode())  # nothing to do with it
    data = b"\n".join(raw[:-1]) + b"\n"
    result = _parse(data)
    assert result.encoding == "cp1252"
    assert [(i.line, "utf-8" in i.reason) for i in result.issues] == [(k, True)]
    assert set(result.structures["rs"]) == set(clean_parse().structures["rs"])


@hsettings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 64))
def test_high_bytes_chunked_scan_equals_the_whole_file_mask(data, step):
    # the chunked scan (a MiB at a time in the ETL) against numpy's one-pass answer,
    # with steps small enough to cut the data at every position
    import numpy as np

    arr = np.frombuffer(data, dtype=np.uint8)
    expected = [i for i, b in enumerate(data) if b >= 0x80]
    assert _high_bytes(arr, step).tolist() == expected == np.flatnonzero(arr >= 0x80).tolist()


@hsettings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([0x0A, 0x22, 0x3B]))
def test_byte_offsets_are_every_position_of_the_byte(data, value):
    expected = [i for i, b in enumerate(data) if b == value]
    assert byte_offsets(data, value).tolist() == expected


@hsettings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "é", "€", '"', ";", "\n", " ", "\U0001f600"]),
               max_size=60))
def test_lines_of_the_bytes_are_the_lines_of_the_text(text):
    # the sections are split on the UTF-8 bytes: the same lines as str.split("\n") (without the
    # empty piece after a final newline), each decoded back to the same text
    expected = text.split("\n")
    if expected and expected[-1] == "":
        expected.pop()
    body = text.encode("utf-8")
    starts, ends = _line_offsets(body)
    lines = _Lines(body, starts, ends)
    assert len(lines) == len(expected)
    assert [lines[i] for i in range(len(lines))] == expected
    assert lines[:] == expected
    assert [lines.raw(i) for i in range(len(lines))] == [e.encode("utf-8") for e in expected]


@hsettings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.integers(1, 7))
def test_chunked_utf8_check_is_bytes_decode(data, chunk):
    # chunks as small as one byte cut every multi-byte sequence somewhere
    try:
        data.decode("utf-8")
        expected = True
    except UnicodeDecodeError:
        expected = False
    with patch.object(rawtext, "_CHUNK", chunk):
        assert rawtext._utf8_valid(data) is expected


def _one_line_utf8(latin: bytes, utf8: bytes, k: int) -> bytes:
    lines = latin.split(b"\n")
    lines[k] = utf8.split(b"\n")[k]
    return b"\n".join(lines)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("variant", ["utf-8", "utf-8-sig", "cp1252", "cp1252 + one UTF-8 line",
                                     "utf-8 + one cp1252 byte"])
def test_every_encoding_read_as_bytes_gives_the_clean_tables(variant, newline, monkeypatch):
    # the ETL reads a file as UTF-8 bytes built chunk by chunk (chunks of 7 bytes here, so that
    # they cut lines and characters): same tables as the clean UTF-8 text, same issues as the
    # text route
    monkeypatch.setattr(rawtext, "_CHUNK", 7)
    text = base_extract().decode("utf-8")
    k = next(i for i, ln in enumerate(text.split("\n")) if "É" in ln)
    data = {
        "utf-8": text.encode("utf-8"),
        "utf-8-sig": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "cp1252": text.encode("cp1252"),
        "cp1252 + one UTF-8 line": _one_line_utf8(text.encode("cp1252"), text.encode("utf-8"), k),
        "utf-8 + one cp1252 byte": _one_line_utf8(text.encode("utf-8"), text.encode("cp1252"), k),
    }[variant].replace(b"\n", newline)
    by_bytes, by_text = _parse(data, as_bytes=True), _parse(data)
    clean = clean_parse()
    for got in (by_bytes, by_text):
        pd.testing.assert_frame_equal(got.structures, clean.structures)
        pd.testing.assert_frame_equal(got.geolocations, clean.geolocations)
    assert by_bytes.issues == by_text.issues
    assert [i.line for i in by_bytes.issues] == ([k + 1] if "one" in variant else [])
    assert decode(data, "x.csv").encoding == variant.split(" ")[0]


def test_ascii_and_latin1_files_need_no_repair():
    assert decode("DÉJÀ".encode("cp1252"), "x").encoding == "cp1252"
    assert decode(b"plain", "x").notes == []
    assert decode(b"\xef\xbb\xbfOK", "x").encoding == "utf-8-sig"
    mixed = decode("€ 𝄞 ÉTÉ;".encode() + b"caf\xe9\n", "x")  # 3- and 4-byte sequences weigh too
    assert (mixed.text, mixed.encoding) == ("€ 𝄞 ÉTÉ;café\n", "utf-8")
    assert [(n.line, n.index) for n in mixed.notes] == [(1, 1)]


# --------------------------------------------------------------------------- round trip

_TEXT = st.text(alphabet=st.characters(whitelist_categories=("L", "N", "P", "S"),
                                       whitelist_characters=" ;\"'"), max_size=30)
_DATE = st.one_of(st.just(""), st.dates().map(lambda d: d.isoformat()).filter(
    lambda s: len(s) == 10 and s >= "1900"))


@st.composite
def structure_values(draw) -> dict[str, str]:
    values = {name: draw(_TEXT) for name in STRUCTUREET.fields}
    values["nofinesset"] = draw(st.from_regex(r"[0-9][0-9A-Z][0-9]{7}", fullmatch=True))
    values["departement"] = draw(st.from_regex(r"[0-9]{2}|2[AB]", fullmatch=True))
    for name in ("commune", "categetab"):
        values[name] = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    for name in ("dateouv", "dateautor", "datemaj"):
        values[name] = draw(_DATE)
    return values


@hsettings(max_examples=150, deadline=None)
@given(st.lists(structure_values(), min_size=1, max_size=6, unique_by=lambda v: v["nofinesset"]),
       st.data())
def test_valid_lines_round_trip_and_a_bad_one_is_reported(rows, data):
    """Valid lines written by a CSV writer come back value for value (trimmed, dates typed);
    one line with a value too many or too few is reported with its line number."""
    lines = [_csv_line(["structureet", *(r[f] for f in STRUCTUREET.fields)]) for r in rows]
    bad_at = data.draw(st.integers(0, len(lines)))
    bad_values = ["structureet", "123456789", *(["X"] * data.draw(st.sampled_from([29, 31])))]
    lines.insert(bad_at, _csv_line(bad_values))
    text = ("finess;etalab;00;2021-01-08\n" + b"".join(lines).decode("utf-8"))
    for engine in ("arrow", "csv"):
        ext = parse_establishments_text(text, "rt.csv", engine=engine)
        assert [(i.line, i.field, i.action) for i in ext.issues] == [(bad_at + 2, "*", "rejected")]
        got = ext.structures.set_index("nofinesset")
        assert len(got) == len(rows)
        for pos, r in enumerate(rows):
            row = got.loc[r["nofinesset"]]
            assert row["line"] == pos + 2 + (pos >= bad_at)
            for name in STRUCTUREET.fields[1:]:
                if name.startswith("date"):
                    expected = pd.Timestamp(r[name]) if r[name] else None
                    assert (None if pd.isna(row[name]) else row[name]) == expected
                else:
                    assert row[name] == r[name].strip(), name


def test_a_fully_quoted_export_reads_like_the_plain_file():
    """Every value quoted (some tools export so): same tables and issues as the plain file."""
    raw = (Path(__file__).parent / "fixtures" / "finess" / "cs1100507_nasty.csv").read_bytes()
    text = raw.decode("cp1252")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    plain = parse_establishments_text(text, "x.csv")
    quoted = parse_establishments_text(buf.getvalue(), "x.csv")
    pd.testing.assert_frame_equal(plain.structures, quoted.structures)
    pd.testing.assert_frame_equal(plain.geolocations, quoted.geolocations)
    assert [(i.line, i.field, i.action) for i in plain.issues] == \
        [(i.line, i.field, i.action) for i in quoted.issues]
