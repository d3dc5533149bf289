"""Downloads against a local HTTP server (127.0.0.1 only): complete and checked, or nothing."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from dac_map.errors import InputFormatError, InputMissingError
from dac_map.refresh.config import (
    KIND_BOUNDARIES,
    KIND_FINESS_EQUIPMENT,
    KIND_FINESS_ESTABLISHMENTS,
    KIND_TABLE,
    DownloadSettings,
    Source,
)
from dac_map.refresh.download import fetch
from dac_map.testing.refresh import LocalServer, equipment_bytes, extract_bytes, sample_rows

BODY = extract_bytes(sample_rows(60))  # ~30 KB
OLD = b"finess;etalab;00;2020-01-01\nstructureet;the last good file\n"
HTML = (b"<!DOCTYPE html>\n<html><head><title>Erreur 503</title></head>"
        b"<body>Service indisponible</body></html>\n")


def _policy(tmp_path: Path, retries: int = 3) -> DownloadSettings:
    return DownloadSettings(raw_dir=tmp_path, timeout_s=5, retries=retries, backoff_s=0.001,
                            backoff_max_s=0.01, min_bytes=10)


def _src(location: str, kind: str = KIND_FINESS_ESTABLISHMENTS) -> Source:
    return Source("establishments", location, kind, "establishments.csv")


@pytest.fixture()
def server():
    with LocalServer() as srv:
        yield srv


@pytest.fixture()
def dest(tmp_path):
    path = tmp_path / "raw" / "establishments.csv"
    path.parent.mkdir()
    path.write_bytes(OLD)
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "establishments.csv")


def test_full_download_replaces_the_last_good_file(server, dest, tmp_path):
    url = server.route("/cs1100507.csv", BODY)
    got = fetch(_src(url), dest, _policy(tmp_path))
    assert dest.read_bytes() == BODY
    assert (got.size, got.sha256, got.attempts, got.resumed) == (
        len(BODY), hashlib.sha256(BODY).hexdigest(), 1, False)
    assert _leftovers(dest.parent) == []
    assert server.requests[0][1]["User-Agent"].startswith("dac-map/")


def test_interrupted_download_resumes_with_range(server, dest, tmp_path):
    url = server.route("/cs1100507.csv", BODY, mode="drop_once")
    got = fetch(_src(url), dest, _policy(tmp_path))
    assert dest.read_bytes() == BODY
    assert got.attempts == 2 and got.resumed
    first, second = server.requests
    assert "Range" not in first[1]
    assert second[1]["Range"] == f"bytes={len(BODY) // 2}-"
    assert second[1]["If-Range"] == '"v1"'
    assert _leftovers(dest.parent) == []


def test_interrupted_download_resumes_on_the_next_run(server, dest, tmp_path):
    url = server.route("/cs1100507.csv", BODY, mode="drop_once")
    with pytest.raises(InputMissingError, match="incomplete download"):
        fetch(_src(url), dest, _policy(tmp_path, retries=0))
    assert dest.read_bytes() == OLD  # the last good file is untouched
    part = dest.with_name("establishments.csv.part")
    assert part.read_bytes() == BODY[:len(BODY) // 2]  # kept: the server accepts ranges
    got = fetch(_src(url), dest, _policy(tmp_path, retries=0))
    assert got.resumed and dest.read_bytes() == BODY
    assert server.requests[-1][1]["Range"] == f"bytes={len(BODY) // 2}-"
    assert _leftovers(dest.parent) == []


def test_truncated_body_fails_and_keeps_the_last_good_file(server, dest, tmp_path):
    url = server.route("/cs1100507.csv", BODY, mode="truncated")
    with pytest.raises(InputMissingError) as info:
        fetch(_src(url), dest, _policy(tmp_path, retries=2))
    assert "after 3 attempt(s)" in str(info.value) and f"of {len(BODY)} bytes" in str(info.value)
    assert info.value.exit_code == 3
    assert len(server.requests) == 3
    assert dest.read_bytes() == OLD
    assert _leftovers(dest.parent) == []  # no ranges: nothing worth keeping


def test_server_errors_are_retried_then_succeed(server, dest, tmp_path):
    url = server.route("/cs1100507.csv", BODY, mode="fail_then", status=503, fail_times=2,
                       content_type="text/plain")
    got = fetch(_src(url), dest, _policy(tmp_path))
    assert got.attempts == 3 and dest.read_bytes() == BODY


def test_not_found_is_not_retried(server, dest, tmp_path):
    with pytest.raises(InputMissingError, match="HTTP 404"):
        fetch(_src(server.url("/missing.csv")), dest, _policy(tmp_path))
    assert len(server.requests) == 1 and dest.read_bytes() == OLD


@pytest.mark.parametrize("body,ctype,match", [
    (HTML, "text/html; charset=utf-8", "HTML page"),  # error page with status 200
    (HTML, "text/csv", "HTML/XML page"),  # HTML body behind a CSV content type
    (b"PK\x03\x04" + b"\x00" * 200, "application/zip", "ZIP archive"),
    (b"code;libelle\n101;Centre Hospitalier\n", "text/csv", "not the FINESS header"),
    ("\ufefffiness;etalab;00;2021-01-08\n".encode("utf-16"), "text/csv", "UTF-16"),
    (b"finess;etalab;00;2021-01-08\nequipementsocial;800000010;924\n", "text/csv",
     "another FINESS extract"),
], ids=["html-content-type", "html-body", "zip", "other-csv", "utf16", "equipment-for-establishments"])
def test_wrong_content_is_refused(server, dest, tmp_path, body, ctype, match):
    url = server.route("/file", body, content_type=ctype)
    with pytest.raises(InputFormatError, match=match) as info:
        fetch(_src(url), dest, _policy(tmp_path))
    assert info.value.exit_code == 4
    assert len(server.requests) == 1  # not retried
    assert dest.read_bytes() == OLD and _leftovers(dest.parent) == []


def test_a_real_zip_of_the_extract_is_refused(server, dest, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("etalab-cs1100507.csv", BODY)
    url = server.route("/file.zip", buf.getvalue(), content_type="application/octet-stream")
    with pytest.raises(InputFormatError, match="ZIP"):
        fetch(_src(url), dest, _policy(tmp_path))
    assert dest.read_bytes() == OLD


def test_size_below_minimum_is_refused(server, dest, tmp_path):
    url = server.route("/tiny", b"finess;etalab;00;2021-01-08\n")
    policy = DownloadSettings(raw_dir=tmp_path, retries=0, min_bytes=1000)
    with pytest.raises(InputFormatError, match="fewer than the minimum"):
        fetch(_src(url), dest, policy)
    assert dest.read_bytes() == OLD


def test_local_files_are_checked_the_same_way(tmp_path, dest):
    good = tmp_path / "good.csv"
    good.write_bytes(BODY)
    got = fetch(_src(str(good)), dest, _policy(tmp_path))
    assert dest.read_bytes() == BODY and got.sha256 == hashlib.sha256(BODY).hexdigest()

    dest.write_bytes(OLD)
    truncated = tmp_path / "truncated.csv"
    truncated.write_bytes(BODY[:len(BODY) // 2 - 7])  # cut mid-line
    with pytest.raises(InputFormatError, match="does not end with a line break"):
        fetch(_src(str(truncated)), dest, _policy(tmp_path))
    header_only = tmp_path / "header.csv"
    header_only.write_bytes(b"finess;etalab;00;2021-01-08\n" + b" " * 20 + b"\n")
    with pytest.raises(InputFormatError, match="no data line"):
        fetch(_src(str(header_only)), dest, _policy(tmp_path))
    with pytest.raises(InputMissingError, match="not found"):
        fetch(_src(str(tmp_path / "absent.csv")), dest, _policy(tmp_path))
    assert dest.read_bytes() == OLD and _leftovers(dest.parent) == []


def test_gzipped_extract_is_accepted_and_a_truncated_one_refused(tmp_path, dest):
    gz = tmp_path / "x.csv.gz"
    gz.write_bytes(gzip.compress(BODY))
    fetch(_src(str(gz)), dest, _policy(tmp_path))
    assert gzip.decompress(dest.read_bytes()) == BODY
    dest.write_bytes(OLD)
    gz.write_bytes(gzip.compress(BODY)[:-100])
    with pytest.raises(InputFormatError, match="gzip"):
        fetch(_src(str(gz)), dest, _policy(tmp_path))
    assert dest.read_bytes() == OLD


def test_equipment_boundaries_and_tables(server, tmp_path):
    raw = tmp_path / "raw"
    eq = equipment_bytes([("800000010", "936", 15, 15)])
    src = Source("equipment", server.route("/eq.csv", eq), KIND_FINESS_EQUIPMENT, "equipment.csv")
    assert fetch(src, raw / "equipment.csv", _policy(tmp_path)).size == len(eq)

    geo = b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"80"},' \
          b'"geometry":{"type":"Point","coordinates":[2.3,49.9]}}]}'
    src = Source("departments", server.route("/d.geojson", geo, content_type="application/json"),
                 KIND_BOUNDARIES, "departments.geojson")
    fetch(src, raw / "departments.geojson", _policy(tmp_path))
    bad = Source("departments", server.route("/bad.geojson", b'{"type": "nothing"}\n' * 5,
                                             content_type="application/json"),
                 KIND_BOUNDARIES, "departments.geojson")
    with pytest.raises(InputFormatError, match="boundary file"):
        fetch(bad, raw / "departments.geojson", _policy(tmp_path))
    html = Source("departments", server.route("/h", HTML, content_type="text/plain"),
                  KIND_BOUNDARIES, "departments.geojson")
    with pytest.raises(InputFormatError, match="HTML"):
        fetch(html, raw / "departments.geojson", _policy(tmp_path))
    assert (raw / "departments.geojson").read_bytes() == geo

    table = Source("territories", server.route("/t.csv", b"id;nom\nDAC-80;Somme\n"), KIND_TABLE,
                   "territories.csv")
    fetch(table, raw / "territories.csv", _policy(tmp_path))
    not_table = Source("territories", server.route("/n.csv", b"just words\nand more\n"),
                       KIND_TABLE, "territories.csv")
    with pytest.raises(InputFormatError, match="no ';'"):
        fetch(not_table, raw / "territories.csv", _policy(tmp_path))
