"""Social resources in the one search (issue 16): scope, shared and social criteria, distances,
and ``dac-map search`` (CSV, GeoJSON, table, errors). Expectations come from the raw test table
(:mod:`csv`), the store read with :mod:`sqlite3` / pyogrio and geodesic distances (pyproj.Geod),
never from our own search."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pyogrio
import pytest
from pyproj import Geod
from typer.testing import CliRunner

from dac_map.cli import app
from dac_map.query import load_catalogue
from dac_map.query import social as qs
from dac_map.query.errors import QueryError
from dac_map.query.spec import SearchSpec

runner = CliRunner()
FOOD = "equipement-et-alimentation"  # every thematic of this category is « Aide alimentaire et matérielle »


def _food(r: dict[str, str]) -> bool:
    return any(t.startswith(FOOD + "--") for t in r["thematiques"].split("|"))


def _territory_departments(store) -> set[str]:
    with sqlite3.connect(store) as con:
        (deps,) = con.execute("SELECT departments FROM territoires WHERE dac_id = 'DAC-80'").fetchone()
    return set(deps.split())


@pytest.fixture(scope="module")
def catalogue(social_ui_store):
    return load_catalogue(social_ui_store)


@pytest.mark.parametrize("kwargs, expected", [
    ({}, (True, False)),
    ({"social_families": ("aide_alimentaire",)}, (False, True)),
    ({"social_fee": "gratuit"}, (False, True)),
    ({"social_families": ("aide_alimentaire",), "categories": ("500",)}, (True, True)),
    ({"social_min_quality": 0.5, "min_capacity": 10}, (True, True)),
    ({"resources": "sociales"}, (False, True)),
    ({"resources": "toutes"}, (True, True)),
    ({"resources": "finess", "categories": ("500",)}, (True, False)),
    ({"serves": "80021"}, (True, False)),
    ({"text": "épicerie"}, (True, False)),
])
def test_scope(kwargs, expected):
    got = qs.scope(SearchSpec(**kwargs))
    assert (got.finess, got.social) == expected


def test_family_in_territory_matches_the_raw_table(catalogue, social_ui_store, social_raw):
    deps = _territory_departments(social_ui_store)
    res = qs.search_social_spec(SearchSpec(dac="DAC-80", social_families=("aide_alimentaire",)), catalogue)
    expected = {r["nom"] for r in social_raw if _food(r) and r["code_insee"][:2] in deps}
    assert set(res.records["name"]) == expected and len(expected) == 2
    assert res.labels[0].startswith("Territoire DAC") and "Aide alimentaire" in res.labels[1]
    everywhere = qs.search_social_spec(SearchSpec(social_families=("aide_alimentaire",)), catalogue)
    assert set(everywhere.records["name"]) == {r["nom"] for r in social_raw if _food(r)}


@pytest.mark.parametrize("commune", ["80001", "80021", "46042", "80016"])
def test_serves_commune_matches_the_raw_zones(catalogue, social_raw, commune):
    res = qs.search_social_spec(SearchSpec(serves=commune, resources="sociales"), catalogue)
    expected = {r["nom"] for r in social_raw
                if commune in r["zone_eligibilite"].split("|") or commune[:2] in r["zone_eligibilite"].split("|")}
    assert set(res.records["name"]) == expected


def test_fee_public_quality_match_the_raw_table(catalogue, social_ui_store, social_raw):
    got = qs.search_social_spec(SearchSpec(social_fee="payant"), catalogue)
    assert set(got.records["name"]) == {r["nom"] for r in social_raw if r["frais"] == "payant"}
    got = qs.search_social_spec(SearchSpec(social_publics=("seniors",)), catalogue)
    assert set(got.records["name"]) == {r["nom"] for r in social_raw
                                        if {"seniors", "tous-publics"} & set(r["publics"].split("|"))}
    with sqlite3.connect(social_ui_store) as con:
        quality = dict(con.execute("SELECT name, quality FROM ressources_sociales").fetchall())
    threshold = sorted(quality.values())[2]
    got = qs.search_social_spec(SearchSpec(social_min_quality=threshold), catalogue)
    assert set(got.records["name"]) == {n for n, q in quality.items() if q >= threshold}
    assert list(got.records["quality"]) == sorted(got.records["quality"], reverse=True)  # best first


def test_nearest_social_resources_by_geodesic_distance(catalogue, social_ui_store, social_raw):
    com = pyogrio.read_dataframe(social_ui_store, layer="communes", where="code = '80021'")
    c = com.to_crs(2154).geometry.centroid.to_crs(4326).iloc[0]
    geod = Geod(ellps="GRS80")
    dist = {r["nom"]: geod.inv(c.x, c.y, float(r["longitude"]), float(r["latitude"]))[2] / 1000
            for r in social_raw}
    res = qs.search_social_spec(SearchSpec(near="80021", nearest_n=3, resources="sociales"), catalogue)
    assert list(res.records["name"]) == sorted(dist, key=dist.get)[:3]
    for name, d in zip(res.records["name"], res.records["distance_km"]):
        assert d == pytest.approx(dist[name], rel=0.005, abs=0.02)
    inside = qs.search_social_spec(SearchSpec(near="80021", radius_km=40.0, resources="sociales"), catalogue)
    assert set(inside.records["name"]) == {n for n, d in dist.items() if d <= 40.0}


def test_unknown_values_are_refused_clearly():
    with pytest.raises(QueryError, match="frais inconnus"):
        qs.check_spec(SearchSpec(social_fee="gratuuit"))
    with pytest.raises(QueryError, match="famille"):
        qs.check_spec(SearchSpec(social_families=("cantine",)))
    with pytest.raises(QueryError, match="FINESS"):
        qs.check_spec(SearchSpec(resources="finess", social_fee="gratuit"))
    assert qs.social_family_key("Aide alimentaire") == "aide_alimentaire"
    assert qs.social_family_key("acces aux DROITS") == "acces_droits"
    with pytest.raises(QueryError, match="besoin social inconnu"):
        qs.social_family_key("Santé")  # « Santé — accès aux soins » or « Santé mentale »: ambiguous


# --------------------------------------------------------------------------- dac-map search

def run(*args: str):
    return runner.invoke(app, ["search", *args], catch_exceptions=False, env={"COLUMNS": "200"})


def test_cli_social_only_csv(social_ui_store, social_raw):
    res = run("--store", str(social_ui_store), "--dac", "DAC-80", "--social-family", "Aide alimentaire",
              "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout), delimiter=";"))
    assert {r["Type de ressource"] for r in rows} == {"Ressource sociale"}
    assert {r["Nom"].lstrip("'") for r in rows} == {r["nom"] for r in social_raw
                                                    if _food(r) and r["code_insee"].startswith("80")}
    amiens = next(r for r in rows if r["Identifiant"] == "local:t-alim-amiens")
    assert amiens["Horaires"] == "Du lundi au vendredi : de 9 h à 12 h et de 14 h à 17 h ; Jours fériés : fermé"
    assert amiens["Mis à jour le"] == "2025-10-02" and amiens["Exemple fictif"] == "oui"
    assert amiens["Besoin social"] == "Aide alimentaire et matérielle"


def test_cli_both_kinds_have_a_type_column(social_ui_store):
    res = run("--store", str(social_ui_store), "--near-commune", "80001", "--nearest", "2",
              "--resources", "toutes", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout), delimiter=";"))
    kinds = [r["Type de ressource"] for r in rows]
    assert kinds == ["Établissement (FINESS)"] * 2 + ["Ressource sociale"] * 2
    merged = [r for r in rows if r.get("N° FINESS") == "800000143" and r["Type de ressource"] == "Ressource sociale"]
    assert merged and "FINESS 800000143" in merged[0]["Source"]  # both sources named


def test_cli_geojson_and_table(social_ui_store, social_raw):
    res = run("--store", str(social_ui_store), "--fee", "payant", "--format", "geojson")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    paying = [r for r in social_raw if r["frais"] == "payant"]
    assert [f["properties"]["Nom"] for f in data["features"]] == [r["nom"] for r in paying]
    assert data["features"][0]["geometry"]["coordinates"] == [float(paying[0]["longitude"]),
                                                              float(paying[0]["latitude"])]
    table = run("--store", str(social_ui_store), "--fee", "payant")
    assert table.exit_code == 0
    assert "<img src=x onerror=alert(3)> Banque [lien](http://evil.example)" in table.stdout  # verbatim
    assert "EXEMPLE FICTIF" in table.stdout and "Ressources sociales : 1" in table.stdout


@pytest.mark.parametrize("args, message", [
    (("--fee", "gratuuit"), "frais inconnus"),
    (("--social-family", "cantine"), "besoin social inconnu"),
    (("--resources", "finess", "--fee", "gratuit"), "critères sociaux"),
    (("--min-quality", "1.5"), "0 à 1"),
    (("--resources", "quelques"), "ressources inconnues"),
])
def test_cli_errors(social_ui_store, args, message):
    res = run("--store", str(social_ui_store), *args)
    assert res.exit_code != 0 and message in res.output


def test_cli_without_social_resources_says_so(social_ui_store):
    plain = social_ui_store.parent / "base" / "store.gpkg"  # the same store before the import
    with sqlite3.connect(plain) as con:
        assert not con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = 'ressources_sociales'").fetchall()
    res = run("--store", str(plain), "--social-family", "aide_alimentaire")
    assert res.exit_code != 0 and "aucune ressource sociale" in res.output


# --------------------------------------------------------------------------- coverage / ARS report figures

def test_social_counts_per_territory_match_the_raw_table(catalogue, social_ui_store, social_raw):
    from dac_map.coverage.social import social_resources_by_family, social_total
    from dac_map.inclusion.vocab import FAMILIES, family_of

    deps = _territory_departments(social_ui_store)
    inside = [r for r in social_raw if r["code_insee"][:2] in deps]
    expected: dict[str, int] = {}
    for r in inside:
        for fam in {family_of(t) for t in r["thematiques"].split("|")}:
            expected[FAMILIES[fam]] = expected.get(FAMILIES[fam], 0) + 1
    got = social_resources_by_family(catalogue, "DAC-80")
    assert dict(zip(got["family"], got["resources"])) == expected
    assert list(got["fictitious"]) == list(got["resources"])  # every test row is fictitious
    assert social_total(catalogue, "DAC-80") == len(inside)
    assert social_total(catalogue, "DAC-99") == 0


def test_needs_by_social_family_counts_each_family():
    import pandas as pd

    from dac_map.coverage.social import needs_by_social_family

    logged = [SearchSpec(social_families=("logement", "mobilite")), SearchSpec(categories=("500",)),
              SearchSpec(social_families=("logement",), serves="80021")]
    frame = pd.DataFrame({"filters_json": [json.dumps(s.to_json()) for s in logged] + ["pas du JSON", None]})
    got = needs_by_social_family(frame)
    assert list(zip(got["family"], got["needs"])) == [("Logement", 2), ("Mobilité", 1)]


def test_ars_report_counts_social_needs_and_resources(catalogue, social_raw, tmp_path):
    from datetime import datetime, timezone

    from dac_map.coverage import ResourceType, build_report, record_unmet_need, render_csv, render_html

    db = tmp_path / "besoins.sqlite"
    when = datetime(2026, 11, 10, tzinfo=timezone.utc)
    for spec in (SearchSpec(dac="DAC-80", social_families=("aide_alimentaire",), serves="80016"),
                 SearchSpec(dac="DAC-80", social_families=("aide_alimentaire", "logement")),
                 SearchSpec(dac="DAC-80", categories=("500",))):
        record_unmet_need("DAC-80", "80016", spec, "besoin", db_path=db, recorded_at=when)
    rep = build_report(catalogue, "DAC-80", ResourceType.family("pa_hebergement"), 25.0, None, 15.0, db,
                       generated_at=datetime(2026, 11, 20, tzinfo=timezone.utc))
    assert list(zip(rep.unmet_by_social_family["family"], rep.unmet_by_social_family["needs"])) == \
        [("Aide alimentaire et matérielle", 2), ("Logement", 1)]
    html = render_html(rep)
    assert "Besoin social recherché" in html and "Ressources sociales (data·inclusion" in html
    n_somme = sum(r["code_insee"].startswith("80") for r in social_raw)
    assert f"{n_somme} ressource(s) sociale(s) comptée(s) ci-dessus sont des EXEMPLES FICTIFS" in html
    rows = list(csv.reader(io.StringIO(render_csv(rep).decode("utf-8-sig")), delimiter=";"))
    assert ["besoins_famille_sociale", "", "Aide alimentaire et matérielle", "signalements", "2"] in rows
    food = sum(r["code_insee"].startswith("80") and r["thematiques"].startswith("equipement-et-alimentation")
               for r in social_raw)
    assert ["ressources_sociales", "DAC-80", "Aide alimentaire et matérielle", "ressources", str(food)] in rows
