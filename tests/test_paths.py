"""Paths from users and configurations never leave their folder: dac_map.paths, and refresh
versions addressed by validated identifiers only (``refresh --rollback ../../x``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from dac_map.paths import UnsafePathError, is_within, safe_join, safe_name
from dac_map.refresh.config import parse_config
from dac_map.refresh.pipeline import rollback
from dac_map.refresh.versions import VERSION_ID, new_version_id


@pytest.mark.parametrize("part", [
    "../x", "../../x.gpkg", "a/../../x", "/etc/passwd", "..", "a/..\\..\\x", "C:\\x", "C:x",
    "\\\\server\\share", "x\x00y", "",
])
def test_safe_join_refuses_escapes(tmp_path, part):
    with pytest.raises(UnsafePathError):
        safe_join(tmp_path / "base", part)


def test_safe_join_accepts_inside_and_follows_links(tmp_path):
    base = tmp_path / "base"
    (base / "sub").mkdir(parents=True)
    assert safe_join(base, "sub", "f.txt") == base / "sub" / "f.txt"
    outside = tmp_path / "outside.gpkg"
    outside.write_bytes(b"x")
    os.symlink(outside, base / "link.gpkg")
    with pytest.raises(UnsafePathError):  # a link inside the folder that points out of it
        safe_join(base, "link.gpkg")


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab./\\:~\x00 ", min_size=1, max_size=8), min_size=1, max_size=3))
def test_safe_join_result_is_always_inside(tmp_path_factory, parts):
    base = tmp_path_factory.getbasetemp() / "prop-base"
    try:
        target = safe_join(base, *parts)
    except UnsafePathError:
        return
    assert is_within(target, base)
    assert Path(os.path.normpath(target)).is_relative_to(os.path.normpath(base))


@pytest.mark.parametrize("name", ["a/b", "..", ".", "a\\b", "c:x", " x", "x\n"])
def test_safe_name_refuses(name):
    with pytest.raises(UnsafePathError):
        safe_name(name)


def test_version_ids_are_what_the_pipeline_creates(tmp_path):
    vid = new_version_id(tmp_path)
    assert VERSION_ID.fullmatch(vid)
    (tmp_path / f"{vid}.gpkg").write_bytes(b"")
    assert VERSION_ID.fullmatch(new_version_id(tmp_path))  # with the _01 suffix
    for bad in ("../../x", "dac_map-20240101T000000Z/../../x", "dac_map-x", "x.gpkg"):
        assert not VERSION_ID.fullmatch(bad)


@pytest.fixture()
def config(tmp_path):
    build = tmp_path / "build"
    (build / "versions").mkdir(parents=True)
    current = build / "dac_map.gpkg"
    current.write_bytes(b"the served store")
    data = {"sources": {"establishments": "https://example.invalid/e.csv",
                        "departments": "https://example.invalid/d.geojson"},
            "store": {"current": str(current), "versions_dir": str(build / "versions")}}
    return parse_config(data, tmp_path / "refresh.toml")


@pytest.mark.parametrize("version", [
    "../../x", "../outside", "../outside.gpkg", "/tmp/outside.gpkg",
    "dac_map-20240101T000000Z/../../../outside", "..", "dac_map-20240101T000000Z\x00",
])
def test_rollback_refuses_paths_outside_the_versions_folder(tmp_path, config, version):
    (tmp_path / "outside.gpkg").write_bytes(b"hostile")
    (tmp_path / "build" / "outside.gpkg").write_bytes(b"hostile")
    result = rollback(config, version)
    assert result.exit_code == 2 and result.status == "failed"
    assert "version" in result.error["message"]
    assert config.store.current.read_bytes() == b"the served store"


def test_rollback_refuses_a_version_that_is_a_link_out_of_the_folder(tmp_path, config):
    (tmp_path / "outside.gpkg").write_bytes(b"hostile")
    os.symlink(tmp_path / "outside.gpkg",
               config.store.versions_dir / "dac_map-20240101T000000Z.gpkg")
    result = rollback(config, "dac_map-20240101T000000Z")
    assert result.exit_code == 2
    assert config.store.current.read_bytes() == b"the served store"



def test_cli_rollback_traversal_exits_2(tmp_path, config):
    from typer.testing import CliRunner

    from dac_map.cli import app

    cfg = tmp_path / "refresh.toml"
    cfg.write_text(f'''[sources]
establishments = "https://example.invalid/e.csv"
departments = "https://example.invalid/d.geojson"
[store]
current = "{config.store.current}"
versions_dir = "{config.store.versions_dir}"
''', encoding="utf-8")
    (tmp_path / "x.gpkg").write_bytes(b"hostile")
    res = CliRunner().invoke(app, ["refresh", "--config", str(cfg), "--rollback", "../../x"])
    assert res.exit_code == 2, res.output
    assert config.store.current.read_bytes() == b"the served store"
