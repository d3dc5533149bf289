"""``dac-map search``: table, CSV and GeoJSON output, errors and exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dac_map.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def store(query_store: Path) -> str:
    return str(query_store)


def run(*args: str):
    return runner.invoke(app, ["search", *args], catch_exceptions=False, env={"COLUMNS": "200"})


def test_csv_with_french_headers(store: str) -> None:
    res = run("--store", store, "--dac", "DAC-80", "--family", "pa_hebergement",
              "--min-capacity", "50", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.stdout), delimiter=";"))
    assert rows[0][:5] == ["N° FINESS", "Nom", "Raison sociale longue", "Code catégorie", "Catégorie"]
    assert [r[0] for r in rows[1:]] == ["800004244", "800003998", "800004251"]
    header = rows[0]
    assert [r[header.index("Places installées")] for r in rows[1:]] == ["73", "94", "57"]


def test_geojson_is_a_wgs84_feature_collection(store: str) -> None:
    res = run("--store", store, "--near-commune", "80021", "--radius-km", "3", "--outline",
              "--format", "geojson")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["type"] == "FeatureCollection"
    assert [(f["properties"]["finess"], round(f["properties"]["distance_km"], 1))
            for f in data["features"]] == [("800000192", 0.0), ("800004251", 0.0),
                                            ("800009999", 0.0), ("800005340", 1.6)]
    lon, lat = data["features"][0]["geometry"]["coordinates"]
    assert 2.2 < lon < 2.4 and 49.8 < lat < 50.0
    assert data["features"][2]["properties"]["name"] == "EHPAD LES TILLEULS; SITE <script>alert(1)</script>"


def test_table_prints_names_verbatim(store: str) -> None:
    res = run("--store", store, "--dac", "DAC-80", "--text", "consultation calmette",
              "--near-point", "49.90,2.29", "--radius-km", "10")
    assert res.exit_code == 0, res.output
    out = " ".join(res.stdout.split())
    assert 'CONSULTATION "CALMETTE" [bold]PMI[/bold]' in out
    assert ("Critères : Établissements ouverts uniquement · Territoire DAC : DAC Somme "
            "(démonstration) (DAC-80) · Recherche : « consultation calmette » · "
            "À moins de 10 km du point (lat 49.90000, lon 2.29000)") in out
    assert "Capacités illustratives" in out and "libre" not in out
    res = run("--store", store, "--text", "tilleuls")
    assert "<script>alert(1)</script>" in " ".join(res.stdout.split())


def test_specialty_options_and_paging(store: str) -> None:
    res = run("--store", store, "--clientele", "alzheimer", "--activity-type", "accueil de jour",
              "--page-size", "1", "--page", "2", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.stdout), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["800004251"]


def test_empty_result_says_which_filter_emptied_it(store: str) -> None:
    res = run("--store", store, "--commune", "80001", "--min-capacity", "100")
    assert res.exit_code == 0
    assert "sélection vidée par le critère : Capacité installée ≥ 100 places" in " ".join(res.stdout.split())


@pytest.mark.parametrize("args, code, fragment", [
    (["--dac", "DAC-99"], 2, "unknown DAC id"),
    (["--near-commune", "80999"], 2, "unknown commune"),
    (["--near-point", "abc"], 2, "bad point"),
    (["--near-point", "2.3,48.8,1"], 2, "bad point"),
    (["--near-point", "200,10"], 2, "bad point"),
    (["--near-point", "2.29,49.90"], 2, "point outside France: lat 2.29, lon 49.9 (« lat, lon »"),
    (["--near-point", "49.9"], 2, "attendu « lat, lon »"),
    (["--radius-km", "5"], 2, "needs a centre"),
    (["--authorised"], 2, "needs --min-capacity"),
    (["--format", "xml"], 2, "unknown format"),
    (["--clientele", "licornes"], 2, "unknown clientele"),
])
def test_errors_exit_non_zero(store: str, args: list[str], code: int, fragment: str) -> None:
    res = run("--store", store, *args)
    assert res.exit_code == code
    assert fragment in " ".join(res.output.split())


def test_missing_store(tmp_path: Path) -> None:
    res = run("--store", str(tmp_path / "absent.gpkg"))
    assert res.exit_code == 6
