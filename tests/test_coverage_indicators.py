"""Coverage indicators on the demo store, with expected values computed independently:
counts and capacities from the raw CSV files with the csv module, distances by brute force
(Lambert-93 coordinates read from the raw file; geodesic distances with pyproj.Geod)."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from dac_map.cli import DEMO_COMMUNES, DEMO_DEPARTMENTS, DEMO_EQUIPMENT, DEMO_ESTABLISHMENTS
from dac_map.coverage import (
    ResourceType,
    commune_coverage,
    discipline_indicators,
    family_indicators,
    nearest_distances,
    nearest_resources,
    places_per_1000,
    read_population,
    territory_communes,
    territory_indicators,
    white_zones,
)
from dac_map.coverage.population import band_columns
from dac_map.errors import InputFormatError, StoreError
from dac_map.etl import EtlInputs, run_etl
from dac_map.query import load_catalogue
from dac_map.settings import DATA_DIR

DEMO_POPULATION = DATA_DIR / "reference" / "DEMO-FICTIF_population_75plus_80_46.csv"
CATEGORY_FAMILIES = DATA_DIR / "reference" / "categories_familles.csv"


@pytest.fixture(scope="module")
def data(demo_catalogue):
    return demo_catalogue


# --------------------------------------------------------------------------- raw files


def _raw_lines(path: Path, section: str) -> list[list[str]]:
    with open(path, encoding="cp1252", newline="") as f:
        return [r for r in csv.reader(f, delimiter=";") if r and r[0] == section]


@pytest.fixture(scope="module")
def raw():
    """Independent reading of the raw demo files: structureet (finess, commune, department,
    category), geolocalisation (Lambert-93 x, y), category -> family."""
    st = _raw_lines(DEMO_ESTABLISHMENTS, "structureet")
    est = pd.DataFrame({"finess": [r[1] for r in st], "dep": [r[13] for r in st],
                        "commune": [r[13] + r[12] for r in st], "category": [r[18] for r in st]})
    geo = _raw_lines(DEMO_ESTABLISHMENTS, "geolocalisation")
    xy = {r[1]: (float(r[2]), float(r[3])) for r in geo}
    est["x"] = est["finess"].map(lambda f: xy[f][0])
    est["y"] = est["finess"].map(lambda f: xy[f][1])
    with open(CATEGORY_FAMILIES, encoding="utf-8-sig", newline="") as f:
        fam = {r["categetab"]: r["famille"] for r in csv.DictReader(f, delimiter=";")}
    est["family"] = est["category"].map(fam).fillna("autres")
    return est


def test_territory_communes_match_the_commune_files(data):
    for dac, path in (("DAC-80", DEMO_COMMUNES[0]), ("DAC-46", DEMO_COMMUNES[1])):
        with open(path, encoding="utf-8") as f:
            codes = {feat["properties"]["code"] for feat in json.load(f)["features"]}
        assert set(territory_communes(data, dac)["code"]) == codes


def test_family_counts_per_territory_match_raw_csv(data, raw):
    fam, _ = territory_indicators(data, "DAC-80")
    expected = Counter(raw.loc[raw["dep"] == "80", "family"])
    assert dict(zip(fam["family"], fam["establishments"])) == dict(expected)
    fam46, _ = territory_indicators(data, "DAC-46")
    assert fam46["establishments"].sum() == (raw["dep"] == "46").sum()


def test_family_counts_per_commune_match_raw_csv(data, raw):
    per = family_indicators(data.establishments, "commune", data.families)
    got = {(c, f): n for c, f, n in per[["commune", "family", "establishments"]].itertuples(index=False)}
    expected = Counter(zip(raw["commune"], raw["family"]))
    assert got == dict(expected)


def test_capacities_match_raw_equipment_csv(data, raw):
    lines = _raw_lines(DEMO_EQUIPMENT, "equipementsocial")
    fam_of = dict(zip(raw["finess"], raw["family"]))
    dep_of = dict(zip(raw["finess"], raw["dep"]))
    by_family: dict[tuple[str, str], float] = defaultdict(float)
    by_disc: dict[tuple[str, str], float] = defaultdict(float)
    for r in lines:
        finess, disc, cap, removed = r[1], r[2], r[10], r[16]
        if removed == "O" or finess not in fam_of:
            continue
        by_family[(dep_of[finess], fam_of[finess])] += float(cap or 0)
        by_disc[(dep_of[finess], disc)] += float(cap or 0)
    fam = family_indicators(data.establishments, "department", data.families)
    got = {(d, f): c for d, f, c in fam[["department", "family", "capacity_installed"]].itertuples(index=False)
           if c}
    assert got == pytest.approx({k: v for k, v in by_family.items() if v})
    dis = discipline_indicators(data.establishments, data.equipment, "department")
    got = {(d, k): c for d, k, c in dis[["department", "discipline", "capacity_installed"]].itertuples(index=False)
           if c}
    assert got == pytest.approx({k: v for k, v in by_disc.items() if v})


# --------------------------------------------------------------------------- distances


def test_nearest_distances_match_brute_force_on_raw_lambert93(data, raw):
    """Our STRtree result == a brute-force Euclidean minimum over the RAW file's Lambert-93
    coordinates (metres), for every commune of both territories and two families."""
    communes = pd.concat([territory_communes(data, "DAC-80"), territory_communes(data, "DAC-46")])
    for family in ("pa_hebergement", "had_palliatif"):
        mask = (data.establishments["family"] == family).to_numpy()
        got = nearest_distances(communes, data.establishments, mask)
        pts = raw.loc[raw["family"] == family, ["x", "y"]].to_numpy()
        c = communes[["x_m", "y_m"]].to_numpy()
        brute = np.sqrt(((c[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)).min(axis=1) / 1000
        np.testing.assert_allclose(got.to_numpy(), brute, atol=2e-4)  # store rounds to 0.1 m


def test_nearest_distances_close_to_geodesic_for_sample_communes(data):
    """Independent path: commune centroid computed here with pyproj, establishments from the
    WGS84 geometry of the store, geodesic distance on the GRS80 ellipsoid (pyproj.Geod)."""
    store_est = gpd.read_file(data.path, layer="etablissements")
    geod = pyproj.Geod(ellps="GRS80")
    fwd = pyproj.Transformer.from_crs(4326, 2154, always_xy=True)
    inv = pyproj.Transformer.from_crs(2154, 4326, always_xy=True)
    communes = pd.concat([territory_communes(data, "DAC-80"), territory_communes(data, "DAC-46")])
    sample = communes.sample(12, random_state=3)
    mask = (data.establishments["family"] == "pa_hebergement").to_numpy()
    ours = nearest_resources(sample, data.establishments, mask)
    target = store_est[store_est["family"] == "pa_hebergement"]
    tlon, tlat = target.geometry.x.to_numpy(), target.geometry.y.to_numpy()
    for code, geom in zip(sample["code"], sample.geometry):
        cen = shapely.transform(geom, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1]))).centroid
        lon, lat = inv.transform(cen.x, cen.y)
        _, _, dist = geod.inv(np.full(len(tlon), lon), np.full(len(tlat), lat), tlon, tlat)
        expected_km = dist.min() / 1000
        got_km = ours.table.at[code, "distance_km"]
        # Lambert-93 scale error is below 0.3 % in these departments.
        assert got_km == pytest.approx(expected_km, rel=3e-3, abs=0.02)
        nearest = ours.table.at[code, "nearest_index"]
        assert data.establishments["finess"].iat[nearest] in set(
            target["finess"].to_numpy()[dist <= dist.min() + 30])


def test_nearest_with_no_resource_and_no_crs():
    communes = pd.DataFrame({"code": ["80001", "97101", "98735"],
                             "x_m": [650000.0, 650000.0, 0.0], "y_m": [6980000.0, 1780000.0, 0.0],
                             "epsg_m": [2154, 5490, 0]})
    est = pd.DataFrame({"x_m": [653000.0, 654000.0], "y_m": [6984000.0, 6980000.0],
                        "epsg_m": [2154, 2154]})
    res = nearest_resources(communes, est)
    d = res.table["distance_km"]
    assert d["80001"] == pytest.approx(4.0)
    assert np.isinf(d["97101"])  # no resource in its CRS zone: never compared across oceans
    assert np.isnan(d["98735"]) and res.excluded == ["98735"] and res.notes
    assert list(white_zones(d, 3.0).index) == ["97101", "80001"]
    assert list(white_zones(d, 5.0).index) == ["97101"]
    with pytest.raises(ValueError):
        white_zones(d, -1)


def test_commune_coverage_white_zones_follow_threshold(data):
    res = ResourceType.family("had_palliatif")
    cov = commune_coverage(data, "DAC-46", res, 25.0)
    t = cov.table
    assert len(t) == 320
    assert set(cov.white_zones["code"]) == set(t.loc[t["distance_km"] > 25, "code"])
    assert cov.summary()["white_zones"] == int((t["distance_km"] > 25).sum())
    assert cov.resource_label == "Hospitalisation à domicile / soins palliatifs"
    # every nearest resource is of the requested family
    fams = data.establishments.set_index("finess")["family"]
    assert set(fams[t["nearest_finess"]]) == {"had_palliatif"}


def test_discipline_resource_type(data):
    """The demo store must hold the demo equipment (an ETL regression that drops it fails
    here); the selection itself is checked against the raw file for every discipline in
    tests/test_discipline_selection.py."""
    lines = _raw_lines(DEMO_EQUIPMENT, "equipementsocial")
    assert len(data.equipment) == len(lines) > 0
    disc = Counter(r[2] for r in lines).most_common(1)[0][0]
    rt = ResourceType(disciplines=(disc,))
    offered = {r[1] for r in lines if r[2] == disc and r[16] != "O" and r[10] not in ("0",)}
    assert set(data.establishments.loc[rt.mask(data), "finess"]) == offered
    assert ResourceType.from_key(rt.key()) == rt


# --------------------------------------------------------------------------- population


def test_demo_population_covers_every_commune_and_says_fictitious(data):
    pop = read_population(DEMO_POPULATION)
    assert pop.fictitious and pop.layout == "insee-tranches-age"
    assert set(pop.table.index) == set(data.communes["code"])
    with open(DEMO_POPULATION, encoding="utf-8") as f:
        first = f.readline()
        rows = list(csv.DictReader(f, delimiter=";"))
    assert "FICTIVES" in first
    assert all("FICTIF" in r["NATURE_DONNEES"] for r in rows)
    expected = {r["CODGEO"]: sum(int(r[c]) for c in r if c.endswith(("AGEQ80075", "AGEQ80080")))
                for r in rows}
    assert pop.pop_75plus.to_dict() == pytest.approx(expected)


def test_population_layouts(tmp_path):
    simple = tmp_path / "simple.csv"
    simple.write_text("code,pop_75plus\n80021,\"1234,5\"\n1001,10\n", encoding="utf-8")
    p = read_population(simple)
    assert p.pop_75plus.to_dict() == {"01001": 10.0, "80021": 1234.5} and not p.fictitious
    iris = tmp_path / "iris.csv"
    iris.write_text("IRIS;COM;P17_POP;P17_POP75P;P19_POP;P19_POP75P\n800210101;80021;100;7;110;8.5\n"
                    "800210102;80021;50;2;60;3\n2A0040000;2A004;40;4;41;5\n", encoding="utf-8")
    p = read_population(iris)
    assert p.layout == "insee-chiffres-cles"
    assert p.pop_75plus.to_dict() == {"2A004": 5.0, "80021": 11.5}  # latest year, IRIS summed
    bands = tmp_path / "bands.csv"
    cols = band_columns(80)
    bands.write_text(";".join(["CODGEO", "LIBGEO", *cols]) + "\n"
                     + ";".join(["46042", "Cahors", *[str(i) for i in range(len(cols))]]) + "\n",
                     encoding="cp1252")
    p = read_population(bands)
    # men 75-79 = 15, men 80+ = 16, women 75-79 = 32, women 80+ = 33
    assert p.pop_75plus["46042"] == 15 + 16 + 32 + 33
    assert p.table.at["46042", "pop_total"] == sum(range(len(cols)))


@pytest.mark.parametrize("content, field", [
    ("CODGEO;SEXE1_AGEQ65000;SEXE1_AGEQ65065\n80021;1;2\n", "SEXE1_AGEQ65065"),  # 65+ straddles 75
    ("CODGEO;pop_75plus\n800;1\n", "CODGEO"),
    ("CODGEO;pop_75plus\n80021;-3\n", "pop_75plus"),
    ("CODGEO;pop_75plus\n80021;abc\n", "pop_75plus"),
    ("CODGEO;autre\n80021;1\n", None),
    ("nom;pop_75plus\nx;1\n", "CODGEO"),
])
def test_population_errors_name_the_field(tmp_path, content, field):
    p = tmp_path / "bad.csv"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(InputFormatError) as exc:
        read_population(p)
    assert exc.value.field == field


def test_places_per_1000_against_manual_computation(data):
    pop = read_population(DEMO_POPULATION).pop_75plus
    communes = territory_communes(data, "DAC-80")
    est = data.establishments
    rt = ResourceType.family("pa_hebergement")
    places = rt.places(data)
    local = places_per_1000(communes, est, places, pop, radius_km=0)
    per_commune = pd.Series(places).groupby(est["commune"].to_numpy()).sum()
    for code in ["80021", "80001", communes["code"].iat[10]]:
        expected = per_commune.get(code, 0.0) / pop[code] * 1000
        assert local.at[code, "places_per_1000"] == pytest.approx(expected)
    area = places_per_1000(communes, est, places, pop, radius_km=15)
    cx, cy = communes["x_m"].to_numpy(), communes["y_m"].to_numpy()
    ex, ey = est["x_m"].to_numpy(), est["y_m"].to_numpy()
    for i in (0, 100, 500):
        d_est = np.hypot(ex - cx[i], ey - cy[i]) <= 15000
        d_com = np.hypot(cx - cx[i], cy - cy[i]) <= 15000
        num = places[d_est & (est["epsg_m"].to_numpy() == 2154)].sum()
        den = pop.reindex(communes["code"][d_com]).sum()
        assert area["places_per_1000"].iat[i] == pytest.approx(num / den * 1000)


def test_coverage_summary_with_population(data):
    pop = read_population(DEMO_POPULATION).pop_75plus
    cov = commune_coverage(data, "DAC-80", ResourceType.family("pa_hebergement"), 8.0, pop, 15)
    s = cov.summary()
    t = cov.table
    assert s["pop_75plus"] == pytest.approx(pop.reindex(t["code"]).sum())
    assert s["pop_75plus_white_zones"] == pytest.approx(pop.reindex(t.loc[t["distance_km"] > 8, "code"]).sum())
    assert s["places_per_1000_75plus"] == pytest.approx(t["places"].sum() / s["pop_75plus"] * 1000, abs=0.01)


def test_store_without_communes_is_a_clear_error(tmp_path):
    target = tmp_path / "nocom.gpkg"
    run_etl(EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS), target)
    with pytest.raises(StoreError, match="communes"):
        commune_coverage(load_catalogue(target), "DAC-80", ResourceType.family("hopitaux"), 10.0)
    with pytest.raises(StoreError):
        load_catalogue(tmp_path / "missing.gpkg")


def test_demo_population_is_reproducible(tmp_path):
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "scripts" / "make_demo_population.py"
    spec = importlib.util.spec_from_file_location("make_demo_population", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "pop.csv"
    assert module.main(["-o", str(out)]) == 0
    assert out.read_bytes() == DEMO_POPULATION.read_bytes()


def test_fictitious_population_only_feeds_demo_stores(monkeypatch, data):
    from dac_map import settings
    from dac_map.coverage.population import default_population, is_demo_store

    monkeypatch.setattr(settings, "POPULATION_PATH", str(DEMO_POPULATION))
    assert is_demo_store(data.metadata)
    assert default_population(data.metadata) is not None
    real = {"establishments_file": "etalab-cs1100507-stock-20240101.csv",
            "equipment_illustrative": False}
    assert default_population(real) is None  # never mix made-up population with real data
    monkeypatch.setattr(settings, "POPULATION_PATH", "none")
    assert default_population(data.metadata) is None
