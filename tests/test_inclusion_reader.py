"""Streaming readers of data·inclusion files: every shape gives the records json/csv give,
whatever the chunk size; a broken record spoils only itself and is reported."""

from __future__ import annotations

from pathlib import Path

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dac_map.errors import InputFormatError, InputMissingError
from dac_map.inclusion import reader
from dac_map.inclusion.reader import iter_records, split_list

INCLUSION_SAMPLE_2024 = Path(__file__).parent / "fixtures" / "data_inclusion" / "api-response-search-services-2024.json"


def _read(path, fmt=None):
    issues = []
    return [loc.record for loc in iter_records(path, issues, fmt)], issues


@pytest.mark.parametrize("shape", ["json", "gz", "jsonl", "page"])
def test_json_shapes_give_the_records(inclusion_files, inclusion_v1, shape):
    _, services = inclusion_v1
    records, issues = _read(inclusion_files[shape])
    assert issues == []
    if shape == "page":
        records = [{k: v for k, v in r.items() if k != "structure"} for r in records]
    assert records == services


def test_csv_gives_the_records(inclusion_files, inclusion_v1):
    _, services = inclusion_v1
    records, issues = _read(inclusion_files["csv"])
    assert issues == []
    assert len(records) == len(services)
    for got, want in zip(records, services):
        for k, v in want.items():
            if isinstance(v, float):
                assert float(got[k]) == v
            else:
                assert got[k] == v, k


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096])
def test_real_sample_any_chunk_size(monkeypatch, chunk):
    """The real 2024 API page read in tiny chunks equals json.load of the raw file."""
    monkeypatch.setattr(reader, "CHUNK_CHARS", chunk)
    raw = json.loads(INCLUSION_SAMPLE_2024.read_text(encoding="utf-8"))
    records, issues = _read(INCLUSION_SAMPLE_2024)
    assert issues == []
    assert records == [item["service"] for item in raw["items"]]


def test_where_is_the_json_path(inclusion_files):
    issues = []
    locs = list(iter_records(inclusion_files["page"], issues))
    assert [loc.where for loc in locs] == [f"$.items[{i}].service" for i in range(len(locs))]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(victim=st.integers(0, 4), garbage=st.sampled_from(['"nom": ', '{{', '"x": tru', ',,', '"\\q"']))
def test_one_broken_element_spoils_only_itself(tmp_path_factory, inclusion_v1, victim, garbage):
    _, services = inclusion_v1
    parts = [json.dumps(s, ensure_ascii=False) for s in services]
    parts[victim] = parts[victim][:-1] + ", " + garbage + "}"
    path = tmp_path_factory.mktemp("broken") / "services.json"
    path.write_text("[\n" + ",\n".join(parts) + "\n]\n", encoding="utf-8")
    records, issues = _read(path)
    assert [i.index for i in issues] == [victim]
    assert issues[0].where == f"$[{victim}]"
    assert issues[0].line == victim + 2
    # every other record read intact (a stray fragment may only add non-records)
    good = [s for i, s in enumerate(services) if i != victim]
    assert [r for r in records if r in good] == good


def test_truncated_array_is_an_error(tmp_path, inclusion_v1):
    _, services = inclusion_v1
    path = tmp_path / "cut.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps(services)[:-1])
    with pytest.raises(InputFormatError) as exc:
        _read(path)
    assert "truncated" in str(exc.value) and str(path) in str(exc.value)


@pytest.mark.parametrize("text,message", [
    ("", "expected a JSON array"), ('{"total": 3}', "without an 'items' array"), ("42", "expected a JSON array")])
def test_not_a_data_inclusion_file(tmp_path, text, message):
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFormatError, match=message):
        _read(path)


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(InputMissingError):
        _read(tmp_path / "absent.json")
    with pytest.raises(InputFormatError, match="unknown file type"):
        reader.detect_format(tmp_path / "x.xlsx")


def test_csv_stray_quote_loses_only_its_line(tmp_path):
    lines = ["id;nom;thematiques"] + [f"s{i};Service {i};sante--addictions|sante--sante-mentale" for i in range(6)]
    lines[3] = 's2;Service "2 sans fin;sante--addictions'  # stray quote
    path = tmp_path / "s.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records, issues = _read(path)
    assert [r["id"] for r in records] == ["s0", "s1", "s3", "s4", "s5"]
    assert len(issues) == 1 and issues[0].line == 4 and issues[0].where == "ligne 4"
    assert records[0]["thematiques"] == ["sante--addictions", "sante--sante-mentale"]


def test_csv_quoted_multiline_cell_is_one_record(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text('id;description\na;"ligne 1\nligne 2; suite"\nb;x\n', encoding="utf-8-sig")
    records, issues = _read(path)
    assert issues == [] and records == [{"id": "a", "description": "ligne 1\nligne 2; suite"},
                                        {"id": "b", "description": "x"}]


@pytest.mark.parametrize("cell,expected", [
    ("", None), ('["a", "b"]', ["a", "b"]), ("{a,b}", ["a", "b"]), ("a|b", ["a", "b"]),
    ("a, b", ["a", "b"]), ("['a', 'b']", ["a", "b"]), ("a", ["a"])])
def test_split_list(cell, expected):
    assert split_list(cell) == expected


@pytest.mark.parametrize("chunk", [1, 5, 17, 256])
def test_broken_element_small_chunks(tmp_path, monkeypatch, inclusion_v1, chunk):
    monkeypatch.setattr(reader, "CHUNK_CHARS", chunk)
    _, services = inclusion_v1
    parts = [json.dumps(s, ensure_ascii=False) for s in services]
    parts[2] = parts[2].replace('"nom":', '"nom" ', 1)
    path = tmp_path / "services.json"
    path.write_text("[" + ", ".join(parts) + "]", encoding="utf-8")
    records, issues = _read(path)
    assert [i.index for i in issues] == [2]
    assert records == [s for i, s in enumerate(services) if i != 2]
