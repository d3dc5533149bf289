"""``dac-map search`` with social criteria reads only what the search needs (the filter columns,
the intervention areas when « Intervient à » is asked, the text of the rows left, the rows shown)
and gives the same CSV / GeoJSON as when it reads the whole social table.

Expectations are computed by brute force over the store's raw tables read with :mod:`sqlite3`
(JSON list columns decoded with :mod:`json`, the shipped EPCI table with :mod:`csv`, distances
with pyproj in Lambert-93, accents folded with :mod:`unicodedata`), never from our search. Each
search runs twice: rows read one by one (the default for a result up to
``SOCIAL_ROWS_READ_MAX`` rows) and the whole table read (the setting at 0).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import unicodedata

import pytest
from pyproj import Transformer
from typer.testing import CliRunner

from dac_map import settings
from dac_map.cli import app

runner = CliRunner()
EPCI_TABLE = settings.DATA_DIR / "geo" / "epci_communes_01_46_80.csv"
TO_L93 = Transformer.from_crs(4326, 2154, always_xy=True)


@pytest.fixture(scope="module")
def raw(social_national_store) -> dict[str, object]:
    """The store's social tables as sqlite3 reads them."""
    with sqlite3.connect(social_national_store) as con:
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM ressources_sociales ORDER BY fid")]
        zones = con.execute("SELECT resource_id, code FROM zones_ressources_sociales").fetchall()
        deps, communes = con.execute("SELECT departments, communes FROM territoires WHERE dac_id = 'DAC-80'").fetchone()
        amiens = con.execute("SELECT 1 FROM communes WHERE code = '80021'").fetchone()
    for r in rows:
        for c in ("families", "publics"):
            r[c] = json.loads(r[c]) if r[c] else []
    areas: dict[str, set[str]] = {}
    for rid, code in zones:
        areas.setdefault(rid, set()).add(code)
    with open(EPCI_TABLE, encoding="utf-8-sig", newline="") as f:
        epci = list(csv.DictReader(f, delimiter=";"))
    assert amiens and len(rows) > 1400 and len({r["resource_id"] for r in rows}) == len(rows)
    return {"rows": rows, "areas": areas, "epci": epci, "dac80": (set(deps.split()), set((communes or "").split()))}


def _department(commune: object) -> str | None:
    if not isinstance(commune, str) or len(commune) != 5:
        return None
    return commune[:3] if commune.startswith("97") else commune[:2]


def _fold(text: object) -> str:
    t = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(ch for ch in t if not unicodedata.combining(ch)).lower()


def _metres(lon: float, lat: float) -> tuple[float, float]:
    return TO_L93.transform(lon, lat)


def _dist_km(r: dict, centre: tuple[float, float]) -> float:
    if r["lon"] is None or r["lat"] is None:
        return math.nan
    x, y = _metres(r["lon"], r["lat"])
    return math.hypot(x - centre[0], y - centre[1]) / 1000.0


def _by_quality(rows: list[dict]) -> list[dict]:
    """Best quality first (no score last), then by name; ties keep the table order."""
    return sorted(rows, key=lambda r: (-(r["quality"] if r["quality"] is not None else -1.0), r["name"]))


def _serves(raw: dict, commune: str) -> set[str]:
    keys = {commune, _department(commune), "france", "99100",
            *(e["epci"] for e in raw["epci"] if e["commune"] == commune)}
    return {rid for rid, codes in raw["areas"].items() if codes & keys}


def _case(raw: dict, name: str) -> tuple[list[str], list[dict], dict | None]:
    """(CLI arguments, expected rows in order, centre info or None) of each search."""
    rows = raw["rows"]
    deps, communes = raw["dac80"]
    if name == "family+territory":
        keep = [r for r in rows if "social_aide_alimentaire" in r["families"]
                and (_department(r["commune"]) in deps or r["commune"] in communes)]
        return ["--dac", "DAC-80", "--social-family", "Aide alimentaire"], _by_quality(keep), None
    if name == "serves+fee":
        served = _serves(raw, "80021")
        keep = [r for r in rows if r["resource_id"] in served and r["fee"] == "gratuit"]
        return ["--serves-commune", "80021", "--resources", "sociales", "--fee", "gratuit"], _by_quality(keep), None
    if name == "public+quality":
        keep = [r for r in rows if {"seniors", "tous-publics"} & set(r["publics"])
                and r["quality"] is not None and r["quality"] >= 0.6 - 1e-9]
        return ["--social-public", "seniors", "--min-quality", "0.6"], _by_quality(keep), None
    if name == "text+department":
        keep = [r for r in rows if _department(r["commune"]) == "80" and "epicerie" in _fold(
            f"{r['name'] or ''} {r['structure_name'] or ''} {(r['description'] or '')[:400]}")]
        return ["--text", "Épicerie", "--resources", "sociales", "--department", "80"], _by_quality(keep), None
    if name == "family+radius":
        centre = _metres(2.27, 49.88)
        d = {r["resource_id"]: _dist_km(r, centre) for r in rows}
        keep = [r for r in rows if "social_aide_alimentaire" in r["families"] and d[r["resource_id"]] <= 3.0]
        keep.sort(key=lambda r: (d[r["resource_id"]], r["name"]))
        return (["--social-family", "aide_alimentaire", "--near-point", "49.88, 2.27", "--radius-km", "3"],
                keep, {"distances": d})
    if name == "national":
        keep = [r for r in rows if r["quality"] is not None and r["quality"] >= 0.9 - 1e-9]
        return ["--resources", "sociales", "--min-quality", "0.9"], _by_quality(keep), None
    raise AssertionError(name)


CASES = ["family+territory", "serves+fee", "public+quality", "text+department", "family+radius", "national"]


def _search(args: list[str], fmt: str, rows_read_max: int, monkeypatch) -> str:
    monkeypatch.setattr(settings, "SOCIAL_ROWS_READ_MAX", rows_read_max)
    res = runner.invoke(app, ["search", *args, "--format", fmt], catch_exceptions=False, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.stdout


def _text(v: object) -> str:
    return "" if v is None else str(v)


def _num(cell: str) -> float | None:
    """A number of the French CSV (decimal comma), None when empty."""
    return float(cell.replace(",", ".")) if cell else None


@pytest.mark.parametrize("rows_read_max", [settings.SOCIAL_ROWS_READ_MAX, 0], ids=["rows-read", "whole-table"])
@pytest.mark.parametrize("name", CASES)
def test_csv_matches_the_raw_table(social_national_store, raw, name, rows_read_max, monkeypatch):
    args, expected, near = _case(raw, name)
    assert expected, name  # every case finds something
    out = _search(["--store", str(social_national_store), *args], "csv", rows_read_max, monkeypatch)
    got = list(csv.DictReader(io.StringIO(out), delimiter=";"))
    assert [r["Identifiant"] for r in got] == [r["resource_id"] for r in expected]
    for g, r in zip(got, expected):
        assert g["Type de ressource"] == "Ressource sociale"
        assert g["Nom"].lstrip("'") == _text(r["name"]).lstrip("'")
        assert g["Structure"].lstrip("'") == _text(r["structure_name"]).lstrip("'")
        assert g["Code commune INSEE"] == _text(r["commune"])
        assert g["Horaires"] == _text(r["hours_fr"]).replace("\n", " ; ")
        assert g["Intervient sur"].lstrip("'") == _text(r["zone_label"]).lstrip("'")
        assert g["Source"] == _text(r["sources_label"]) and g["Mis à jour le"] == _text(r["updated"])
        assert _num(g["Score de qualité data·inclusion"]) \
            == r["quality"]
        if r["lon"] is None:
            assert g["Longitude (WGS84)"] == ""
        else:
            assert _num(g["Longitude (WGS84)"]) == pytest.approx(r["lon"], abs=1e-9)
            assert _num(g["Latitude (WGS84)"]) == pytest.approx(r["lat"], abs=1e-9)
        if near is not None:
            assert _num(g["Distance (km)"]) == pytest.approx(near["distances"][r["resource_id"]], abs=0.006)
        else:
            assert g["Distance (km)"] == ""


@pytest.mark.parametrize("rows_read_max", [settings.SOCIAL_ROWS_READ_MAX, 0], ids=["rows-read", "whole-table"])
@pytest.mark.parametrize("name", ["family+territory", "serves+fee", "family+radius"])
def test_geojson_matches_the_raw_table(social_national_store, raw, name, rows_read_max, monkeypatch):
    args, expected, _ = _case(raw, name)
    data = json.loads(_search(["--store", str(social_national_store), *args], "geojson", rows_read_max, monkeypatch))
    assert [f["properties"]["Identifiant"] for f in data["features"]] == [r["resource_id"] for r in expected]
    for f, r in zip(data["features"], expected):
        if r["lon"] is None:
            assert f["geometry"] is None
        else:
            assert f["geometry"]["coordinates"] == [round(r["lon"], 6), round(r["lat"], 6)]


def test_nearest_matches_the_raw_table(social_national_store, raw, monkeypatch):
    """The 7 nearest around a point: the 7 smallest brute-force distances (resources of one
    structure share a position, so which of equally distant ones come is not asked)."""
    centre = _metres(2.2957, 49.8941)
    d = {r["resource_id"]: _dist_km(r, centre) for r in raw["rows"]}
    smallest = sorted(v for v in d.values() if not math.isnan(v))[:7]
    for rows_read_max in (settings.SOCIAL_ROWS_READ_MAX, 0):
        out = _search(["--store", str(social_national_store), "--near-point", "49.8941, 2.2957", "--nearest", "7",
                       "--resources", "sociales"], "csv", rows_read_max, monkeypatch)
        got = list(csv.DictReader(io.StringIO(out), delimiter=";"))
        assert [_num(g["Distance (km)"]) for g in got] == pytest.approx(smallest, abs=0.006)
        for g in got:
            assert _num(g["Distance (km)"]) == pytest.approx(d[g["Identifiant"]], abs=0.006)


def test_rows_read_and_whole_table_give_the_same_bytes(social_national_store, raw, monkeypatch):
    for name in CASES:
        args = ["--store", str(social_national_store), *_case(raw, name)[0]]
        for fmt in ("csv", "geojson"):
            assert _search(args, fmt, settings.SOCIAL_ROWS_READ_MAX, monkeypatch) == _search(args, fmt, 0, monkeypatch)


def test_table_page_counts_every_match(social_national_store, raw, monkeypatch):
    args, expected, _ = _case(raw, "national")
    out = _search(["--store", str(social_national_store), *args, "--page-size", "5", "--page", "2"], "table",
                  settings.SOCIAL_ROWS_READ_MAX, monkeypatch)
    assert f"Ressources sociales : {len(expected)}" in out and "(5 affichées" in out


def test_a_store_changed_between_reads_is_refused(social_national_store, tmp_path):
    """A lazy catalogue reads more later: when the store no longer holds the same resources
    in the same order, it says so instead of mixing two versions."""
    import shutil

    from dac_map.errors import StoreError
    from dac_map.inclusion.catalogue import load_social

    copy = tmp_path / "store.gpkg"
    shutil.copyfile(social_national_store, copy)
    social = load_social(copy, whole=False)
    with sqlite3.connect(copy) as con:
        con.execute("DELETE FROM ressources_sociales WHERE fid = (SELECT MIN(fid) FROM ressources_sociales)")
    with pytest.raises(StoreError, match="changé"):
        social.folded_text()
    with pytest.raises(StoreError, match="changé"):
        social.records([0, 1])
