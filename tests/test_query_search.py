"""Query layer on a small GeoPackage built by the real ETL from hand-written raw extracts.

The fixture extracts (``tests/fixtures/query/``) are in the real etalab layouts: 14
establishments of the Somme and the Lot (Lambert-93 coordinates), nasty rows included (a
quoted name with doubled quotes and rich markup, a ``;`` and ``<script>`` in a name, accents,
a double space, an establishment without coordinates placed at its commune centroid) and 13
equipment lines (one removed, one for an unknown establishment, rejected by the ETL).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dac_map import settings as dac_settings
from dac_map.errors import DacMapError
from dac_map.query import (
    CapacityFilter,
    Catalogue,
    CategoryFilter,
    DistanceFilter,
    FamilyFilter,
    QueryError,
    SpecialtyFilter,
    StatusFilter,
    TerritoryFilter,
    TextFilter,
    load_catalogue,
    search,
    to_french_table,
    to_geojson,
)

@pytest.fixture(scope="session")
def store_path(query_store: Path) -> Path:
    return query_store


@pytest.fixture(scope="session")
def cat(store_path: Path) -> Catalogue:
    return load_catalogue(store_path)


def finess_list(result) -> list[str]:
    return list(result.records["finess"])


def with_distance(result) -> list[tuple[str, float]]:
    return [(f, round(float(d), 1)) for f, d in zip(result.records["finess"], result.records["distance_km"])]


def with_score(result) -> list[tuple[str, float]]:
    return [(f, float(s)) for f, s in zip(result.records["finess"], result.records["score"])]


OPEN = "Établissements ouverts uniquement"


# --------------------------------------------------------------------------- catalogue

def test_catalogue_load(cat: Catalogue) -> None:
    assert len(cat) == 14
    assert len(cat.equipment) == 13
    assert cat.equipment_illustrative is True
    assert cat.data_date == "2021-01-08"
    assert cat.x_m.flags.writeable is False
    assert cat.family_order()[0] == "hopitaux"
    ssr = cat.finess_row["800000150"]
    assert cat.establishments["geo_precision"].iat[ssr] == "commune"


def test_load_missing_store_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(DacMapError) as info:
        load_catalogue(tmp_path / "absent.gpkg")
    assert info.value.exit_code == 6


def test_no_filter_sorted_by_name_then_finess_with_pagination(cat: Catalogue) -> None:
    everything = search(cat, page_size=None)
    assert everything.total == 14
    assert everything.labels == [OPEN]
    assert finess_list(everything) == [
        "800000143", "460000110", "800000192", "800005340", "800004244", "800003998",
        "800004251", "800009999", "460005374", "800000010", "800004269", "800003550",
        "800000325", "800000150"]
    pages = [search(cat, page=p, page_size=5) for p in (1, 2, 3)]
    assert [p.pages for p in pages] == [3, 3, 3]
    assert sum((finess_list(p) for p in pages), []) == finess_list(everything)
    past = search(cat, page=4, page_size=5)
    assert (past.total, len(past.records), past.emptied_by) == (14, 0, None)
    assert everything.counts_by_family == {
        "hopitaux": 4, "pa_hebergement": 5, "domicile": 1, "handicap_adultes": 2,
        "prevention": 1, "pharmacie_biologie": 1}


# --------------------------------------------------------------------------- territory

def test_territory_dac(cat: Catalogue) -> None:
    res = search(cat, [TerritoryFilter(dac_id="DAC-80")])
    assert res.total == 12
    assert "460000110" not in finess_list(res)
    assert res.labels == [OPEN, "Territoire DAC : DAC Somme (démonstration) (DAC-80)"]


def test_territory_commune_is_spatial_for_address_points(cat: Catalogue) -> None:
    # 800005340 has the Amiens code but its point lies outside the Amiens outline.
    res = search(cat, [TerritoryFilter(communes=["80021"])])
    assert finess_list(res) == ["800000192", "800004251", "800009999"]
    assert res.labels == [OPEN, "Commune : Amiens (80021)"]


def test_territory_commune_centroid_rows_count_by_code(cat: Catalogue) -> None:
    res = search(cat, [TerritoryFilter(communes="80016")])
    assert [(f, p) for f, p in zip(res.records["finess"], res.records["geo_precision"])] == [
        ("800004269", "adresse"), ("800000150", "commune")]


def test_territory_union_of_departments_and_communes(cat: Catalogue) -> None:
    res = search(cat, [TerritoryFilter(departments=["46"], communes=["80016"])])
    assert finess_list(res) == ["460000110", "460005374", "800004269", "800000150"]
    assert res.labels[1] == "Département : Lot (46) ; Commune : Albert (80016)"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"dac_id": "DAC-99"}, "unknown DAC id"),
    ({"communes": ["80999"]}, "unknown commune"),
    ({"departments": ["975"]}, "unknown department"),
])
def test_territory_unknown_codes(cat: Catalogue, kwargs: dict, fragment: str) -> None:
    with pytest.raises(QueryError, match=fragment):
        search(cat, [TerritoryFilter(**kwargs)])


@pytest.mark.parametrize("kwargs", [{}, {"departments": ["8"]}, {"communes": ["ABCDE"]}])
def test_territory_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(QueryError) as info:
        TerritoryFilter(**kwargs)
    assert info.value.exit_code == 2
    assert isinstance(info.value, DacMapError)


# --------------------------------------------------------------------------- type

def test_family_and_category_filters(cat: Catalogue) -> None:
    res = search(cat, [FamilyFilter(["Handicap adultes"])])
    assert finess_list(res) == ["800000010", "800004269"]
    assert res.labels == [OPEN, "Famille : Handicap adultes"]
    res = search(cat, [CategoryFilter(["355"], ["4401"])])
    assert finess_list(res) == ["800000143", "460000110", "800004244", "800003998", "800004251",
                                "800009999", "460005374"]
    assert res.labels[1] == ("Catégorie FINESS : 355 (Centre Hospitalier (C.H.)) ; Agrégat de "
                             "catégories : 4401 (Etablissements d'Hébergement pour Personnes Âgées)")
    assert CategoryFilter(["500", "202"]).label == "Catégories FINESS : 500, 202"


def test_type_errors(cat: Catalogue) -> None:
    with pytest.raises(QueryError, match="unknown family"):
        search(cat, [FamilyFilter(["licornes"])])
    with pytest.raises(QueryError, match="3 digits"):
        CategoryFilter(["12"])
    with pytest.raises(QueryError, match="unknown FINESS category"):
        search(cat, [CategoryFilter(["998"])])


# --------------------------------------------------------------------------- specialty, capacity

def test_specialty_same_line_semantics(cat: Catalogue) -> None:
    alz = search(cat, [SpecialtyFilter(clienteles=["alzheim"])])
    assert [(f, int(c)) for f, c in zip(alz.records["finess"], alz.records["specialty_installed"])] == [
        ("800004244", 6), ("800003998", 14), ("800004251", 12)]
    day = search(cat, [SpecialtyFilter(clienteles=["Alzheimer"], activity_types=["accueil de jour"])])
    assert finess_list(day) == ["800004244", "800004251"]
    assert day.labels == [OPEN, "Type d'activité : Accueil de Jour ; Clientèle : Personnes Alzheimer "
                                "ou maladies apparentées"]


def test_specialty_codes_aliases_and_removed_lines(cat: Catalogue) -> None:
    assert finess_list(search(cat, [SpecialtyFilter(activity_types=["domicile"])])) == ["800000325"]
    res = search(cat, [SpecialtyFilter(disciplines=["936"])])
    assert finess_list(res) == ["800000010"]
    assert res.labels[1] == "Discipline : Accueil en Foyer de Vie pour Adultes Handicapés"
    # The only accueil temporaire line (800003998) is flagged removed: nothing left.
    res = search(cat, [SpecialtyFilter(activity_types=["accueil temporaire"])])
    assert (res.total, res.emptied_by) == (0, "Type d'activité : Accueil temporaire avec hébergement")
    assert SpecialtyFilter(clienteles=["handicap psychique"]).label == "Clientèle : handicap psychique"


def test_specialty_errors(cat: Catalogue) -> None:
    with pytest.raises(QueryError, match="unknown clientele"):
        search(cat, [SpecialtyFilter(clienteles=["zzz inconnue"])])
    with pytest.raises(QueryError, match="care activities are not loaded"):
        search(cat, [SpecialtyFilter(care_activities=["QA001"])])
    with pytest.raises(QueryError):
        SpecialtyFilter()


def test_capacity_total_authorised_and_per_specialty(cat: Catalogue) -> None:
    inst = search(cat, [CapacityFilter(min_places=50)], sort="capacity")
    assert [(f, int(c)) for f, c in zip(inst.records["finess"], inst.records["capacity_installed"])] == [
        ("800003998", 94), ("460005374", 90), ("800004244", 73), ("800004251", 57)]
    assert inst.labels[1] == "Capacité installée ≥ 50 places"
    assert CapacityFilter(1).label == "Capacité installée ≥ 1 place"
    aut = search(cat, [CapacityFilter(60, authorised=True)])
    assert finess_list(aut) == ["800004244", "800003998", "800004251", "460005374"]
    assert aut.labels[1] == "Capacité autorisée ≥ 60 places"
    spec = SpecialtyFilter(clienteles=["alzheimer"])
    res = search(cat, [CapacityFilter(10, specialty=spec)])
    assert finess_list(res) == ["800003998", "800004251"]
    assert res.labels[1] == ("Capacité installée ≥ 10 places (Clientèle : Personnes Alzheimer ou "
                             "maladies apparentées)")
    assert list(res.records["capacity_summary"]) == ["94 places installées · 94 autorisées",
                                                     "57 places installées · 62 autorisées"]
    with pytest.raises(QueryError):
        CapacityFilter(-1)


def test_no_free_places_wording(cat: Catalogue) -> None:
    res = search(cat, [CapacityFilter(0)], page_size=None)
    words = " ".join(res.labels) + " ".join(res.records["capacity_summary"])
    words += " ".join(to_french_table(res.records).columns)
    assert "libre" not in words.lower()
    assert "places installées" in words


# --------------------------------------------------------------------------- distance

def test_distance_commune_centroid_and_outline(cat: Catalogue) -> None:
    centre = search(cat, [DistanceFilter(3, commune="80021")])
    assert with_distance(centre) == [("800000192", 0.8), ("800004251", 1.0), ("800009999", 1.4)]
    assert centre.labels[1] == "À moins de 3 km du centre de la commune Amiens (80021)"
    outline = search(cat, [DistanceFilter(3, commune="80021", outline=True)])
    assert with_distance(outline) == [("800000192", 0.0), ("800004251", 0.0), ("800009999", 0.0),
                                      ("800005340", 1.6)]
    assert outline.labels[1] == "À moins de 3 km de tout point de la commune Amiens (80021)"


def test_distance_around_establishment_and_point(cat: Catalogue) -> None:
    res = search(cat, [DistanceFilter(20, finess="800000192")])
    assert with_distance(res) == [("800000192", 0.0), ("800004251", 1.1), ("800009999", 2.1),
                                  ("800005340", 6.6)]
    assert res.labels[1] == ("À moins de 20 km de l'établissement CHU AMIENS-PICARDIE SITE NORD "
                             "(800000192)")
    res = search(cat, [DistanceFilter(2.5, point=(1.44, 44.45))])
    assert with_distance(res) == [("460000110", 0.7), ("460005374", 0.7)]
    assert res.labels[1] == "À moins de 2,5 km du point (lat 44.45000, lon 1.44000)"


def test_distance_combined_with_family_and_sorted_by_distance(cat: Catalogue) -> None:
    res = search(cat, [DistanceFilter(5, commune="80001"), FamilyFilter(["pa_hebergement"])])
    assert with_distance(res) == [("800004244", 0.4), ("800003998", 0.7)]
    assert res.sort == "distance"


def test_distance_overseas_point_excludes_metropolitan_rows(cat: Catalogue) -> None:
    res = search(cat, [DistanceFilter(50, point=(-61.53, 16.24))])  # Guadeloupe, EPSG:5490
    assert (res.total, res.emptied_by) == (0, "À moins de 50 km du point (lat 16.24000, lon -61.53000)")


def test_distance_rows_in_another_metric_crs_are_excluded(cat: Catalogue) -> None:
    est = cat.establishments.copy()
    i = int(np.flatnonzero(est["finess"] == "800004251")[0])
    est.loc[i, "epsg_m"] = 5490
    other = Catalogue.from_frames(est, cat.equipment, cat.territories, cat.communes, cat.departments,
                                  cat.families, cat.categories, cat.disciplines, None, cat.metadata)
    res = search(other, [DistanceFilter(3, commune="80021")])
    assert finess_list(res) == ["800000192", "800009999"]


@pytest.mark.parametrize("kwargs, fragment", [
    ({"radius_km": 0, "commune": "80021"}, "invalid radius"),
    ({"radius_km": float("nan"), "commune": "80021"}, "invalid radius"),
    ({"radius_km": 5}, "exactly one centre"),
    ({"radius_km": 5, "commune": "80021", "finess": "800000192"}, "exactly one centre"),
    ({"radius_km": 5, "point": (200.0, 10.0)}, "bad point"),
    ({"radius_km": 5, "point": ("a", "b")}, "bad point"),
    ({"radius_km": 5, "point": (2.3, 48.8), "outline": True}, "outline mode needs a commune"),
    ({"radius_km": 5, "finess": "12"}, "invalid FINESS"),
])
def test_distance_bad_arguments(kwargs: dict, fragment: str) -> None:
    with pytest.raises(QueryError, match=fragment):
        DistanceFilter(**kwargs)


def test_distance_unknown_centres(cat: Catalogue) -> None:
    with pytest.raises(QueryError, match="unknown commune"):
        search(cat, [DistanceFilter(5, commune="46999")])  # no outline, no establishment
    # issue 10: a commune without outline (Lot outlines not loaded) is placed at its
    # establishments instead of failing
    assert search(cat, [DistanceFilter(5, commune="46042")], page_size=None).total > 0
    with pytest.raises(QueryError, match="unknown FINESS"):
        search(cat, [DistanceFilter(5, finess="800000002")])
    with pytest.raises(QueryError, match="outside France"):
        search(cat, [DistanceFilter(5, point=(0.0, 0.0))])


# --------------------------------------------------------------------------- text

def _reference_hits(cat: Catalogue, query: str, score, min_score: float = 70.0) -> set[tuple[str, float]]:
    """(FINESS, score) of every open establishment scoring at least ``min_score`` by the
    independent scorer, over its searchable fields."""
    from dac_map.query.text import category_keywords

    labels = dict(zip(cat.categories["category"].astype(str), cat.categories["category_label"].astype(str)))
    rec = cat.records_base
    est = cat.establishments
    out = set()
    for i in range(len(cat)):
        cat_code = str(est["category"].iat[i])
        fields = [est["name"].iat[i], est["long_name"].iat[i] if "long_name" in est else None,
                  est["name_complement"].iat[i] if "name_complement" in est else None,
                  rec["commune_name"].iat[i], est["city"].iat[i],
                  category_keywords(cat_code, labels.get(cat_code))]
        s = score(query, fields, [est["finess"].iat[i], est["finess_ej"].iat[i]])
        if s >= min_score and est["status"].iat[i] == "ouvert":
            out.add((str(est["finess"].iat[i]), s))
    return out


@pytest.mark.parametrize("query, first", [
    ("hopital abevile", "800000143"),  # CH d'Abbeville: two typos
    ("ehpad leon burkel", "800004251"),
    ("CONSULTATION CALMETTE", "800005340"),
])
def test_text_typos_and_scores(cat: Catalogue, reference_text_score, query: str, first: str) -> None:
    """Scores and matches == an independent scorer (rapidfuzz on the folded words); the
    expected establishment comes first."""
    got = with_score(search(cat, [TextFilter(query)]))
    assert set(got) == _reference_hits(cat, query, reference_text_score)
    assert got[0][0] == first
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)


def test_text_no_match_and_commune_name(cat: Catalogue) -> None:
    assert finess_list(search(cat, [TextFilter("ehpad st riquier")])) == []
    assert finess_list(search(cat, [TextFilter("Crecy en Ponthieu")])) == ["800000325"]


def test_text_exact_finess_first_then_legal_entity(cat: Catalogue) -> None:
    res = search(cat, [TextFilter("800 004 251")])
    assert (finess_list(res), list(res.records["exact_finess"])) == (["800004251"], [True])
    res = search(cat, [TextFilter("800000028")])  # legal entity of the CH and its EHPAD
    assert with_score(res) == [("800000143", 100.0), ("800003998", 100.0)]
    res = search(cat, [TextFilter("8000042")])  # prefix of three FINESS numbers
    assert finess_list(res) == ["800004244", "800004251", "800004269"]


def test_text_nasty_names_are_plain_data(cat: Catalogue) -> None:
    assert finess_list(search(cat, [TextFilter("<script>alert(1)</script>")])) == ["800009999"]
    sql = search(cat, [TextFilter("'; DROP TABLE etablissements; --")])
    assert sql.total == 0
    assert sql.emptied_by == "Recherche : « '; DROP TABLE etablissements; -- »"
    blank = search(cat, [TextFilter(" ;;; ")])
    assert (blank.total, blank.sort) == (14, "name")


# --------------------------------------------------------------------------- combined, results

def test_combined_labels_and_emptied_by(cat: Catalogue) -> None:
    filters = [FamilyFilter(["pa_hebergement"]), TerritoryFilter(communes=["80001"]),
               CapacityFilter(100), TextFilter("ehpad")]
    res = search(cat, filters)
    assert res.labels == [OPEN, "Famille : Personnes âgées — hébergement", "Commune : Abbeville (80001)",
                          "Capacité installée ≥ 100 places", "Recherche : « ehpad »"]
    assert (res.total, res.pages, res.counts_by_family) == (0, 0, {})
    assert res.emptied_by == "Capacité installée ≥ 100 places"
    assert res.message == ("Aucun établissement — sélection vidée par le critère : Capacité "
                           "installée ≥ 100 places")
    assert [f.label for f in filters][:3] == ["Famille : pa_hebergement", "Commune : 80001",
                                              "Capacité installée ≥ 100 places"]


def test_record_columns_and_exports(cat: Catalogue) -> None:
    res = search(cat, [DistanceFilter(3, commune="80021"), SpecialtyFilter(clienteles=["alzheimer"]),
                       TextFilter("ehpad")])
    assert list(res.records.columns) == [
        "finess", "finess_ej", "name", "long_name", "category", "category_label", "aggregate",
        "aggregate_label", "family", "family_label", "address", "address_complement", "postcode",
        "city", "commune", "commune_name", "department", "dac_id", "phone", "capacity_installed",
        "capacity_authorised", "capacity_summary", "specialty_installed", "specialty_authorised",
        "distance_km", "score", "exact_finess", "status", "opened", "updated", "geo_precision",
        "lon", "lat", "x_m", "y_m", "epsg_m", "data_date", "geometry"]
    assert isinstance(res.records, gpd.GeoDataFrame) and res.records.crs.to_epsg() == 4326
    [rec] = res.to_dicts()
    assert {k: rec[k] for k in ("finess", "name", "phone", "commune_name", "capacity_installed",
                                "specialty_installed", "data_date", "updated")} == {
        "finess": "800004251", "name": "EHPAD LÉON BURCKEL", "phone": "0322450000",
        "commune_name": "Amiens", "capacity_installed": 57.0, "specialty_installed": 12.0,
        "data_date": "2021-01-08", "updated": "2018-01-01"}
    json.dumps(res.to_dicts())
    gj = to_geojson(res.records)
    assert gj["type"] == "FeatureCollection"
    [feat] = gj["features"]
    assert feat["geometry"]["coordinates"] == [pytest.approx(rec["lon"]), pytest.approx(rec["lat"])]
    assert 2.2 < rec["lon"] < 2.4 and 49.8 < rec["lat"] < 50.0
    table = to_french_table(res.records)
    assert list(table.columns[:3]) == ["N° FINESS", "Nom", "Raison sociale longue"]
    assert "Distance (km)" in table.columns and "Score de recherche" in table.columns


def test_status_filter_on_a_closed_establishment(cat: Catalogue) -> None:
    est = cat.establishments.copy()
    est.loc[est["finess"] == "800004251", "status"] = "fermé"
    other = Catalogue.from_frames(est, cat.equipment, cat.territories, cat.communes, cat.departments,
                                  cat.families, cat.categories, cat.disciplines, None, cat.metadata)
    assert "800004251" not in finess_list(search(other, page_size=None))
    res = search(other, [StatusFilter(open_only=False), TextFilter("burckel")])
    assert finess_list(res) == ["800004251"]
    assert res.labels == ["Établissements ouverts et fermés", "Recherche : « burckel »"]


def test_search_argument_errors(cat: Catalogue) -> None:
    with pytest.raises(QueryError):
        search(cat, page=0)
    with pytest.raises(QueryError):
        search(cat, page_size=0)
    with pytest.raises(QueryError, match="unknown sort"):
        search(cat, sort="random")
    with pytest.raises(QueryError, match="distance filter"):
        search(cat, sort="distance")
    with pytest.raises(QueryError, match="not a filter"):
        search(cat, ["80021"])  # type: ignore[list-item]


# --------------------------------------------------------------------------- hypothesis

NASTY = st.sampled_from([
    "' OR 1=1 --", "\"; DROP TABLE etablissements; --", "<img src=x onerror=alert(1)>",
    "<script>alert('x')</script>", "[bold red]x[/]", "%s%n%x", "{{7*7}}", "${jndi:ldap://x}",
    "../../etc/passwd", "\x00\x01\x1b[31m", "NaN", "None", "ﬁnance ǅ İ ß ŉ", "🏥 hôpital",
    "\u202etxet", "800000143", "2A0000014", "a" * 5000, " ", ""])

HYPO = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check_text_search(cat: Catalogue, text: str) -> None:
    f = TextFilter(text)
    res = search(cat, [f], page_size=None)
    scores = res.records["score"].to_numpy(dtype=float) if "score" in res.records else np.array([])
    assert np.all((scores >= 0) & (scores <= 100))
    match = f.match(cat)
    assert np.all((match.scores >= 0) & (match.scores <= 100))
    assert res.total == int(f.mask(cat).sum())
    label = f.label
    assert all(ch.isprintable() for ch in label) and len(label) < 100


@HYPO
@given(text=st.text())
def test_text_search_never_raises_on_any_text(cat: Catalogue, text: str) -> None:
    _check_text_search(cat, text)


@HYPO
@given(text=st.text(st.characters(categories=["Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp", "Mn"]),
                    max_size=50))
def test_text_search_never_raises_on_control_characters(cat: Catalogue, text: str) -> None:
    _check_text_search(cat, text)


@HYPO
@given(text=st.builds(lambda a, b, c: a + b + c, st.text(max_size=20), NASTY, st.text(max_size=20)))
def test_text_search_never_raises_on_sql_html_like_text(cat: Catalogue, text: str) -> None:
    _check_text_search(cat, text)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=2000, max_size=20000))
def test_text_search_never_raises_on_very_long_text(cat: Catalogue, text: str) -> None:
    _check_text_search(cat, text)


def test_catalogue_from_minimal_frames(cat: Catalogue) -> None:
    empty = Catalogue.from_frames(cat.establishments.iloc[:0])
    res = search(empty, [TextFilter("ehpad")])
    assert (res.total, res.pages, res.emptied_by, res.message) == (
        0, 0, None, "Aucun établissement dans ce GeoPackage.")
    bare = Catalogue.from_frames(cat.establishments)  # no equipment, outlines or reference tables
    assert finess_list(search(bare, [TextFilter("burckel")])) == ["800004251"]
    assert search(bare, [DistanceFilter(1.2, finess="800000192")]).total == 2
    with pytest.raises(QueryError, match="no equipment data"):
        search(bare, [SpecialtyFilter(clienteles=["alzheimer"])])
