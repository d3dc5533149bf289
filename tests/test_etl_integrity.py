"""ETL integrity: boundaries in an undeclared CRS, mass moves to centroids, implausible
capacities, leftovers of a crashed write, GeoPackage conformance (checked by GDAL itself)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pyogrio
import pytest
from typer.testing import CliRunner

from dac_map import settings, store
from dac_map.cli import DEMO_ESTABLISHMENTS, app
from dac_map.errors import InputFormatError
from dac_map.etl.parser import parse_equipment_text
from dac_map.etl.reference import read_boundaries
from dac_map.store import open_store
from dac_map.store.geopackage import clean_leftovers

FIX = Path(__file__).parent / "fixtures" / "finess"
DEPS = settings.DATA_DIR / "geo" / "departements.geojson"
SOMME = settings.DATA_DIR / "geo" / "communes-80-somme.geojson"
NASTY = FIX / "cs1100507_nasty.csv"


@pytest.fixture(scope="module")
def lambert_no_crs(tmp_path_factory) -> Path:
    """The department outlines in Lambert-93 metres, in a GeoJSON with no ``crs`` member."""
    folder = tmp_path_factory.mktemp("l93")
    frame = pyogrio.read_dataframe(DEPS).to_crs(2154)
    declared = folder / "declared.geojson"
    pyogrio.write_dataframe(frame, declared, driver="GeoJSON")
    doc = json.loads(declared.read_text(encoding="utf-8"))
    assert "crs" in doc  # GDAL declares it: we remove it, as in the trial's file
    del doc["crs"]
    out = folder / "departements-l93-sans-crs.geojson"
    out.write_text(json.dumps(doc), encoding="utf-8")
    return out


def _etl(tmp_path: Path, *extra: str, establishments: Path = NASTY, deps: Path = DEPS):
    return CliRunner().invoke(app, ["etl", "-e", str(establishments), "-d", str(deps),
                                    "-o", str(tmp_path / "s.gpkg"), *extra])


def test_lambert93_boundaries_without_crs_are_refused(tmp_path, lambert_no_crs):
    res = _etl(tmp_path, deps=lambert_no_crs)
    assert res.exit_code == 4, res.output
    assert "cannot be degrees" in res.output and "--boundaries-crs EPSG:2154" in res.output
    assert str(lambert_no_crs.name) in res.output
    assert not (tmp_path / "s.gpkg").exists()


def test_explicit_boundaries_crs_is_honoured(tmp_path, lambert_no_crs):
    res = _etl(tmp_path, "--boundaries-crs", "EPSG:2154", deps=lambert_no_crs)
    assert res.exit_code == 0, res.output
    good = _etl(tmp_path / "ref")
    assert good.exit_code == 0
    a = open_store(tmp_path / "s.gpkg").read_layer(store.ESTABLISHMENTS, read_geometry=False)
    b = open_store(tmp_path / "ref" / "s.gpkg").read_layer(store.ESTABLISHMENTS,
                                                      read_geometry=False)
    assert a["geo_precision"].tolist() == b["geo_precision"].tolist()
    assert (a["geo_precision"] == "adresse").sum() >= 10


def test_degrees_declared_as_metres_are_refused():
    with pytest.raises(InputFormatError) as exc:
        read_boundaries(DEPS, crs="EPSG:2154")
    assert "look like degrees" in str(exc.value)
    with pytest.raises(InputFormatError, match="unknown CRS"):
        read_boundaries(DEPS, crs="EPSG:999999")


def _swap_xy(text: str, how_many: int | None) -> tuple[str, list[str]]:
    """Swap x and y of the first ``how_many`` geolocalisation lines (all when None)."""
    out, swapped = [], []
    for line in text.split("\n"):
        parts = line.split(";")
        if parts[0] == "geolocalisation" and parts[2] and (how_many is None or len(swapped) < how_many):
            parts[2], parts[3] = parts[3], parts[2]
            swapped.append(parts[1])
        out.append(";".join(parts))
    return "\n".join(out), swapped


def test_run_moving_many_positions_to_centroids_fails_validation(tmp_path):
    text = DEMO_ESTABLISHMENTS.read_bytes().decode("cp1252")
    damaged, swapped = _swap_xy(text, None)
    src = tmp_path / "swapped.csv"
    src.write_bytes(damaged.encode("cp1252"))
    res = _etl(tmp_path, establishments=src)
    assert res.exit_code == 5, res.output
    assert "outside their department" in res.output and swapped[0] in res.output
    assert not (tmp_path / "s.gpkg").exists()


def test_a_few_moved_positions_are_reported_not_fatal(tmp_path):
    text = DEMO_ESTABLISHMENTS.read_bytes().decode("cp1252")
    damaged, swapped = _swap_xy(text, 3)
    src = tmp_path / "three.csv"
    src.write_bytes(damaged.encode("cp1252"))
    res = _etl(tmp_path, establishments=src)
    assert res.exit_code == 0, res.output
    meta = open_store(tmp_path / "s.gpkg").read_metadata()
    assert meta["counts"]["positions_moved_to_centroid"] == 3
    est = open_store(tmp_path / "s.gpkg").read_layer(store.ESTABLISHMENTS, read_geometry=False)
    moved = set(est.loc[est["geo_precision"] != "adresse", "finess"])
    assert set(swapped) <= moved


# --------------------------------------------------------------------------- capacities

def _equipment_text(capacities: list[tuple[str, str]]) -> str:
    lines = NASTY.read_bytes().decode("cp1252").split("\n")[:1]
    template = (FIX / "cs1100505_small.csv").read_bytes().decode("cp1252").split("\n")[1]
    for de, cap in capacities:
        values = template.split(";")
        values[2], values[10], values[19] = de, cap, cap
        lines.append(";".join(values))
    return "\n".join(lines) + "\n"


def test_implausible_capacities_are_blanked_flagged_and_reported():
    text = _equipment_text([("924", "80"), ("358", "1000000000"), ("924", "2000"),
                            ("924", "1400"), ("358", "4000")])
    ext = parse_equipment_text(text, "eq.csv")
    eq = ext.equipment
    assert eq["capinstot"].tolist() == [80, None, None, 1400, 4000] or \
        [None if v is eq["capinstot"].dtype.na_value else v for v in eq["capinstot"]] == \
        [80, None, None, 1400, 4000]
    assert eq["capacity_implausible"].tolist() == [False, True, True, False, False]
    got = [(i.line, i.field, i.action) for i in ext.issues]
    assert got == [(3, "capinstot", "kept"), (3, "capautot", "kept"),
                   (4, "capinstot", "kept"), (4, "capautot", "kept")]
    assert "1,000,000,000 places" in ext.issues[0].reason
    assert "more than 1,500 for discipline 924" in ext.issues[2].reason


def test_capacity_bounds_are_settings(monkeypatch):
    monkeypatch.setattr(settings, "CAPACITY_MAX_PLACES", 100)
    monkeypatch.setattr(settings, "CAPACITY_MAX_BY_DISCIPLINE", {"358": 20})
    ext = parse_equipment_text(_equipment_text([("924", "150"), ("358", "30"), ("924", "90")]), "e")
    assert ext.equipment["capacity_implausible"].tolist() == [True, True, False]


# --------------------------------------------------------------------------- leftovers

_CRASH = textwrap.dedent("""
    import os, sys
    import pandas as pd
    from dac_map.store.geopackage import GeoPackageStore
    real = GeoPackageStore._write_layer
    def crash(frame, path, layer):
        real(frame, path, layer)
        os._exit(9)   # killed in the middle of the write: no clean-up code runs
    GeoPackageStore._write_layer = staticmethod(crash)
    GeoPackageStore(sys.argv[1]).write({"t": pd.DataFrame({"a": [1, 2]})}, {})
""")


def test_a_crashed_write_leaves_files_that_the_next_run_removes(tmp_path):
    target = tmp_path / "store.gpkg"
    seen = []
    for _ in range(2):  # each crashed run removes the previous crash's file, leaves its own
        proc = subprocess.run([sys.executable, "-c", _CRASH, str(target)], capture_output=True)
        assert proc.returncode == 9, proc.stderr
        left = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp.gpkg")]
        assert len(left) == 1 and left[0] not in seen and not target.exists()
        seen += left
    other = tmp_path / ".other.gpkg.1-0123abcd.tmp.gpkg"   # another target's temporary
    mine = tmp_path / "notes.tmp.gpkg"                       # not a name we write
    other.write_bytes(b"x")
    mine.write_bytes(b"x")
    import pandas as pd
    open_store(target).write({"t": pd.DataFrame({"a": [1]})}, {"k": "v"})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["store.gpkg", other.name, mine.name])


def test_a_temporary_being_written_by_a_live_process_is_kept(tmp_path):
    target = tmp_path / "store.gpkg"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".store.gpkg.{sleeper.pid}-89abcdef.tmp.gpkg"
        journal = live.with_name(live.name + "-journal")
        live.write_bytes(b"being written")
        journal.write_bytes(b"j")
        assert clean_leftovers(target) == []
        old = time.time() - settings.STALE_TEMP_SECONDS - 60  # too old to be a write: pid reused
        os.utime(live, (old, old))
        assert clean_leftovers(target) == [live]
        assert journal.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert clean_leftovers(target) == [journal]  # its writer is gone now


# --------------------------------------------------------------------------- GeoPackage conformance

def _gdal_warnings(path: Path) -> list[str]:
    """Warnings GDAL emits while reading every layer of ``path`` (both pyogrio read paths)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for layer, _ in pyogrio.list_layers(path):
            pyogrio.read_dataframe(path, layer=layer, use_arrow=True)
            pyogrio.read_dataframe(path, layer=layer, use_arrow=False)
    return [str(w.message) for w in caught]


def test_gdal_reads_the_store_without_non_conformant_content(demo_store):
    assert not [w for w in _gdal_warnings(demo_store) if "Non-conformant" in w]
    db = sqlite3.connect(demo_store)
    checked = 0
    for (table,) in db.execute("select table_name from gpkg_contents"):
        for _, col, kind, *_ in db.execute(f'pragma table_info("{table}")'):
            pattern = {"DATE": r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
                       "DATETIME": r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z?"
                       }.get(kind)
            if pattern is None:
                continue
            for (value,) in db.execute(f'select "{col}" from "{table}" where "{col}" is not null'):
                assert re.fullmatch(pattern, value), (table, col, value)
                checked += 1
    assert checked > 1000
    dates = open_store(demo_store).read_layer(store.ESTABLISHMENTS, read_geometry=False)["opened"]
    assert str(dates.dtype).startswith("datetime64")


def test_the_conformance_check_sees_a_datetime_in_a_date_column(tmp_path):
    """Control: GDAL does warn on the defect of the trial, so the test above can fail."""
    import pandas as pd

    path = tmp_path / "bad.gpkg"
    open_store(path).write({"t": pd.DataFrame({"d": pd.to_datetime(["2020-01-02"])})}, {})
    db = sqlite3.connect(path)
    assert db.execute("select type from pragma_table_info('t') where name = 'd'").fetchone() == ("DATE",)
    db.execute("update t set d = '2020-01-02T00:00:00'")
    db.commit()
    db.close()
    assert any("Non-conformant" in w for w in _gdal_warnings(path))
