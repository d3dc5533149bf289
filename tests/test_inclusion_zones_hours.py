"""Intervention areas, the « Intervient à » filter against brute force, opening hours in French."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from dac_map import codes
from dac_map.inclusion.catalogue import SocialCatalogue
from dac_map.inclusion.filters import (FeeFilter, PublicFilter, QualityFilter, ServesCommuneFilter,
                                       SocialFamilyFilter, search_social)
from dac_map.inclusion.hours import french_hours
from dac_map.inclusion.zones import REGION_DEPARTMENTS, ZoneExpander, code_kind
from dac_map.query.errors import QueryError


@pytest.mark.parametrize("code,kind", [
    ("80021", "commune"), ("2A004", "commune"), ("80", "departement"), ("2B", "departement"),
    ("974", "departement"), ("248000531", "epci"), ("france", "france"), ("99100", "france"),
    ("99134", "pays"), ("8002", "inconnu"), ("", "inconnu")])
def test_code_kind(code, kind):
    assert code_kind(code) == kind


def test_regions_cover_every_department_once():
    deps = [d for ds in REGION_DEPARTMENTS.values() for d in ds]
    assert len(deps) == len(set(deps)) == 101


def test_expand():
    z = ZoneExpander({"80021": "80", "80001": "80", "46042": "46"}, {"248000531": ["80001"]},
                     {"80021": "Amiens"}, {"80": "Somme"})
    got = z.expand(["80", "46042", "248000531", "200000000", "xx"])
    assert got.communes == {"80021", "80001", "46042"}
    assert got.unexpanded == ("200000000", "xx")
    assert got.label == ("Somme (80), commune 46042, EPCI 248000531, "
                         "EPCI 200000000 (communes non connues), xx")
    assert z.expand(["france"]).national


ALL_COMMUNES = ["80021", "80001", "80620", "46042", "46102", "2A004", "97411"]
ZONE_CODES = ALL_COMMUNES + ["80", "46", "2A", "974", "france", "248000531"]
EPCI = {"248000531": ["80620", "80001"]}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(ZONE_CODES), max_size=3),
                          st.sampled_from(ALL_COMMUNES)), min_size=1, max_size=12),
       st.sampled_from(ALL_COMMUNES))
def test_serves_commune_matches_brute_force(resources, commune):
    table = pd.DataFrame({"resource_id": [f"r{i}" for i in range(len(resources))],
                          "name": [f"R{i}" for i in range(len(resources))],
                          "commune": [c for _, c in resources],
                          "zone_codes": [z for z, _ in resources]})
    zones = pd.DataFrame([(f"r{i}", c) for i, (z, own) in enumerate(resources) for c in (z or [own])],
                         columns=["resource_id", "code"])
    cat = SocialCatalogue.from_frames(table, zones, epci_communes=EPCI)

    def serves(zone: list[str], own: str) -> bool:  # brute force from the raw codes
        for code in zone or [own]:
            if code == "france" or code == commune or code == codes.department_of(commune):
                return True
            if commune in EPCI.get(code, ()):
                return True
        return False

    expected = [serves(z, own) for z, own in resources]
    assert ServesCommuneFilter(commune).mask(cat).tolist() == expected


def test_other_filters():
    table = pd.DataFrame({
        "resource_id": ["a", "b", "c", "d"], "name": ["A", "B", "C", "D"],
        "families": [["social_aide_alimentaire"], ["social_sante_mentale", "social_addictions"], [], ["social_logement"]],
        "publics": [["tous-publics"], ["seniors"], ["jeunes"], None],
        "fee": ["gratuit", "payant", None, "gratuit"], "quality": [0.9, 0.5, np.nan, 0.7]})
    cat = SocialCatalogue.from_frames(table)
    assert SocialFamilyFilter(["addictions"]).mask(cat).tolist() == [False, True, False, False]
    assert SocialFamilyFilter(["social_aide_alimentaire", "logement"]).mask(cat).tolist() == [True, False, False, True]
    assert PublicFilter(["seniors"]).mask(cat).tolist() == [True, True, False, False]
    assert FeeFilter("gratuit").mask(cat).tolist() == [True, False, False, True]
    assert QualityFilter(0.7).mask(cat).tolist() == [True, False, False, True]
    assert list(search_social(cat, [QualityFilter(0.5)])["resource_id"]) == ["a", "d", "b"]
    assert SocialFamilyFilter(["sante_mentale"]).label == "Famille : Santé mentale"
    assert QualityFilter(0.75).label == "Score de qualité data·inclusion ≥ 0,75"
    for bad in (lambda: SocialFamilyFilter(["x"]), lambda: PublicFilter(["x"]), lambda: FeeFilter("x"),
                lambda: QualityFilter(2), lambda: ServesCommuneFilter("800")):
        with pytest.raises(QueryError):
            bad()


@pytest.mark.parametrize("osm,french", [
    ("Mo-Fr 08:30-12:30,14:00-17:00; PH off",
     "Du lundi au vendredi : de 8 h 30 à 12 h 30 et de 14 h à 17 h\nJours fériés : fermé"),
    ("Mo 00:00-23:59;Tu 00:00-23:59;We 00:00-23:59;Th 00:00-23:59;Fr 00:00-23:59;Sa 00:00-23:59;Su 00:00-23:59",
     "Tous les jours : toute la journée"),
    ("24/7", "24 h sur 24, 7 jours sur 7"),
    ("Mo,We 09:00-12:00", "Lundi, mercredi : de 9 h à 12 h"),
    ("Sa 10:00-12:00; Su off", "Samedi : de 10 h à 12 h\nDimanche : fermé"),
    ("Jan-Mar Mo 10:00-12:00", "Jan-Mar Mo 10:00-12:00"),
    ("", ""), (None, ""),
])
def test_french_hours(osm, french):
    assert french_hours(osm) == french


@given(st.text(max_size=60))
def test_french_hours_never_raises(text):
    assert isinstance(french_hours(text), str)


@pytest.mark.parametrize("params,expected", [
    ({}, []),
    ({"famille": ["aidants_famille"], "intervient": "80021"},
     [SocialFamilyFilter(("aidants_famille",)), ServesCommuneFilter("80021")]),
    ({"frais": "gratuit", "qualite": "0,5", "public": "seniors", "q": " "},
     [PublicFilter(("seniors",)), FeeFilter("gratuit"), QualityFilter(0.5)]),
])
def test_params_registry(params, expected):
    from dac_map.inclusion.filters import filters_from_params

    assert filters_from_params(params) == expected


@pytest.mark.parametrize("params", [{"inconnu": "x"}, {"frais": ["gratuit", "payant"]}, {"qualite": "beaucoup"},
                                    {"intervient": "Amiens"}])
def test_params_registry_refuses(params):
    from dac_map.inclusion.filters import filters_from_params

    with pytest.raises(QueryError):
        filters_from_params(params)
