"""Slow-drip servers: a total deadline and a minimum throughput bound every download, tested
against a local server (127.0.0.1, free port) that drips a few bytes at a time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dac_map.errors import InputMissingError
from dac_map.refresh.config import KIND_FINESS_ESTABLISHMENTS, DownloadSettings, Source, parse_config
from dac_map.refresh.download import fetch
from dac_map.testing.refresh import LocalServer, extract_bytes, sample_rows

BODY = extract_bytes(sample_rows(20))
OLD = b"finess;etalab;00;2020-01-01\nstructureet;the last good file\n"


def _src(url: str) -> Source:
    return Source("establishments", url, KIND_FINESS_ESTABLISHMENTS, "establishments.csv")


@pytest.fixture()
def dest(tmp_path: Path) -> Path:
    path = tmp_path / "raw" / "establishments.csv"
    path.parent.mkdir()
    path.write_bytes(OLD)
    return path


def _drip(tmp_path: Path, dest: Path, **limits) -> tuple[InputMissingError, float, int]:
    """Fetch from a server sending 4 bytes every 0.1 s (a 5 s read timeout never trips):
    the error, the seconds it took and the number of requests."""
    policy = DownloadSettings(raw_dir=tmp_path, timeout_s=5, backoff_s=0.01, backoff_max_s=0.01,
                              min_bytes=10, **limits)
    with LocalServer() as srv:
        url = srv.route("/slow.csv", BODY, mode="drip", drip_bytes=4, drip_interval_s=0.1)
        t0 = time.monotonic()
        with pytest.raises(InputMissingError) as exc:
            fetch(_src(url), dest, policy)
        return exc.value, time.monotonic() - t0, srv.routes["/slow.csv"].hits


def test_a_slow_drip_hits_the_total_deadline(tmp_path, dest):
    """No minimum throughput: the 1.5 s deadline stops the transfer (the body, ~2.5 KB, would
    take a minute)."""
    err, elapsed, _hits = _drip(tmp_path, dest, retries=3, deadline_s=1.5, min_bytes_per_s=0,
                                rate_window_s=60)
    assert 1.4 <= elapsed < 4.0
    assert "deadline" in str(err) and "deadline_s" in str(err)
    assert dest.read_bytes() == OLD  # the last good file is untouched


def test_a_slow_drip_is_abandoned_below_the_minimum_throughput(tmp_path, dest):
    """40 bytes/s < 1000 bytes/s over a 0.5 s window: each attempt is abandoned early."""
    err, elapsed, hits = _drip(tmp_path, dest, retries=2, deadline_s=30, min_bytes_per_s=1000,
                               rate_window_s=0.5)
    assert "too slow" in str(err) and "3 attempt(s)" in str(err)
    assert hits == 3 and elapsed < 6.0
    assert dest.read_bytes() == OLD


def test_a_fast_server_is_unaffected(tmp_path, dest):
    policy = DownloadSettings(raw_dir=tmp_path, timeout_s=5, retries=0, min_bytes=10,
                              deadline_s=10, min_bytes_per_s=1000, rate_window_s=0.2)
    with LocalServer() as srv:
        url = srv.route("/ok.csv", BODY)
        got = fetch(_src(url), dest, policy)
    assert dest.read_bytes() == BODY and got.size == len(BODY)


def test_deadline_and_throughput_are_configuration_keys(tmp_path):
    cfg = tmp_path / "refresh.toml"
    data = {"sources": {"establishments": "https://example.invalid/e.csv",
                        "departments": "https://example.invalid/d.geojson"},
            "download": {"deadline_s": 90, "min_bytes_per_s": 512, "rate_window_s": 15}}
    conf = parse_config(data, cfg)
    assert (conf.download.deadline_s, conf.download.min_bytes_per_s,
            conf.download.rate_window_s) == (90.0, 512.0, 15.0)
    default = parse_config({"sources": data["sources"]}, cfg).download
    assert default.deadline_s == 1800 and default.min_bytes_per_s == 2048
