"""View state <-> URL query parameters, and state -> query-layer filters (dac_map.ui.state)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dac_map import settings
from dac_map.query import (
    CapacityFilter,
    CategoryFilter,
    DistanceFilter,
    FamilyFilter,
    NearestFilter,
    QueryError,
    SpecialtyFilter,
    StatusFilter,
    TerritoryFilter,
    TextFilter,
)
from dac_map.ui import state as ustate
from dac_map.ui.state import NATIONAL, Near, ViewState


def test_default_state_url_names_only_the_territory():
    assert ustate.to_query_params(ViewState(dac="DAC-80")) == {"dac": "DAC-80"}
    assert ustate.from_query_params({"dac": "DAC-80"}) == (ViewState(dac="DAC-80"), [])


def test_full_state_to_url_and_back():
    state = ViewState(dac="DAC-80", families=("pa_hebergement", "domicile"), categories=("500",),
                      disciplines=("924",), clienteles=("436",), activity_types=("21",),
                      min_capacity=30, text="ehpad l'abbaye", near="80021", radius_km=12.5,
                      outline=True, include_closed=True, sort="capacity", page=3,
                      focus="800000011")
    params = ustate.to_query_params(state)
    assert params == {
        "dac": "DAC-80", "famille": "pa_hebergement,domicile", "categorie": "500",
        "discipline": "924", "clientele": "436", "activite": "21", "capacite": "30",
        "q": "ehpad l'abbaye", "autour": "80021", "rayon": "12.5", "contour": "1", "fermes": "1",
        "tri": "capacity", "page": "3", "etab": "800000011"}
    assert ustate.from_query_params(params) == (state, [])


def test_bad_url_values_are_dropped_with_french_warnings():
    state, warnings = ustate.from_query_params({
        "dac": "<script>", "famille": "<b>,;", "capacite": "beaucoup", "rayon": "-3",
        "tri": "random", "page": "0", "etab": "12", "inconnu": "x"})
    assert state == ViewState()
    assert warnings == [
        "Territoire du lien illisible : territoire par défaut.",
        "Paramètre « famille » illisible : ignoré.",
        "Capacité minimale illisible : ignorée.",
        "Rayon invalide : rayon par défaut.",
        "Tri inconnu « random » : tri par défaut.",
        "N° FINESS du lien illisible : ignoré.",
    ]


def test_url_lists_and_clamping():
    state, warnings = ustate.from_query_params({
        "dac": "FRANCE", "famille": ["ignored", "hopitaux, domicile,hopitaux"],
        "capacite": "999999", "rayon": "1e9", "q": "x" * 500})
    assert ustate.from_query_params({"rayon": "0.01"})[0].radius_km == ustate.MIN_RADIUS_KM
    assert warnings == []
    assert state == ViewState(dac=NATIONAL, families=("hopitaux", "domicile"),
                              min_capacity=ustate.MAX_CAPACITY, radius_km=ustate.MAX_RADIUS_KM,
                              text="x" * ustate.MAX_TEXT)


# ---- issue 12: the N nearest by default around a place; a radius in the link is explicit
@pytest.mark.parametrize("params, expected, warnings", [
    ({"autour": "46128"}, ViewState(near="46128"), []),
    ({"autour": "46128", "rayon": "10"}, ViewState(near="46128", radius_km=10.0), []),
    ({"autour": "46128", "n": "3", "minutes": "20"},
     ViewState(near="46128", nearest_n=3, max_minutes=20.0), []),
    ({"autour": "46128", "n": "9999", "minutes": "1e6"},
     ViewState(near="46128", nearest_n=ustate.MAX_NEAREST, max_minutes=ustate.MAX_MINUTES), []),
    ({"autour": "46128", "n": "zéro", "minutes": "-5"}, ViewState(near="46128"),
     ["Nombre de résultats illisible : nombre par défaut.", "Durée maximale illisible : ignorée."]),
])
def test_nearest_mode_in_the_url(params, expected, warnings):
    assert ustate.from_query_params(params) == (expected, warnings)
    assert ustate.from_query_params(ustate.to_query_params(expected))[0] == expected


def test_nearest_filters_and_time_without_network(tiny_cat):
    state = ViewState(dac="DAC-80", near="80021", nearest_n=3, max_minutes=20.0)
    filters, warnings = ustate.build_filters(state, tiny_cat, ["80"])
    assert filters == [TerritoryFilter(dac_id="DAC-80"), NearestFilter(commune="80021", n=3)]
    assert warnings == ["Durée maximale ignorée : pas de réseau routier pour ce territoire "
                        "(distances à vol d'oiseau)."]
    filters, warnings = ustate.build_filters(state, tiny_cat, ["80"], has_network=True)
    assert filters[-1] == NearestFilter(commune="80021", n=3, max_minutes=20.0) and warnings == []
    assert ustate.effective_sort(ViewState(sort="time"), filters, has_network=False) is None
    assert ustate.effective_sort(ViewState(sort="time"), filters, has_network=True) == "time"
    assert ustate.effective_sort(ViewState(sort="distance"), filters) == "distance"


_codes = st.lists(st.from_regex(r"[0-9a-z_]{1,12}", fullmatch=True), max_size=4, unique=True).map(tuple)


@hsettings(max_examples=150, deadline=None)
@given(st.builds(
    ViewState,
    dac=st.one_of(st.just(NATIONAL), st.from_regex(r"DAC-[0-9A-Z]{2,3}", fullmatch=True)),
    families=_codes, categories=_codes, disciplines=_codes, clienteles=_codes,
    activity_types=_codes,
    min_capacity=st.integers(0, ustate.MAX_CAPACITY),
    text=st.text(max_size=ustate.MAX_TEXT).filter(lambda s: s.strip() == s and s.strip() != "" or s == ""),
    near=st.one_of(st.just(""), st.from_regex(r"[0-9]{5}", fullmatch=True)),
    radius_km=st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.5, 10.0, 35.0, 200.0])),
    outline=st.booleans(), include_closed=st.booleans(),
    nearest_n=st.integers(1, ustate.MAX_NEAREST), max_minutes=st.sampled_from([0.0, 5.0, 17.5, 240.0]),
    sort=st.sampled_from(list(ustate.SORT_LABELS)), page=st.integers(1, 500),
    focus=st.one_of(st.none(), st.from_regex(r"[0-9]{2}[0-9]{7}", fullmatch=True)),
))
def test_url_round_trip(state: ViewState):
    if not state.near:  # without a centre, outline is meaningless and not kept in the URL
        state = ViewState(**{**state.__dict__, "outline": False})
    if state.radius_km is None:  # issue 12: "contour" only goes with a radius
        state = ViewState(**{**state.__dict__, "outline": False})
    back, warnings = ustate.from_query_params(ustate.to_query_params(state))
    assert warnings == []
    assert back == state


def test_sanitize_against_the_catalogue(tiny_cat):
    state = ViewState(dac="DAC-99", families=("hopitaux", "nope"), categories=("500", "999"),
                      focus="800999999")
    clean, warnings = ustate.sanitize(state, tiny_cat, default_dac="DAC-80")
    assert clean == ViewState(dac="DAC-80", families=("hopitaux",), categories=("500",))
    assert warnings == [
        "Territoire inconnu « DAC-99 » : territoire par défaut.",
        "Famille(s) inconnue(s) ignorée(s) : nope",
        "Catégorie(s) inconnue(s) ignorée(s) : 999",
        "Établissement 800999999 introuvable : fiche non affichée.",
    ]
    assert ustate.sanitize(ViewState(), tiny_cat, default_dac="missing")[0].dac == "DAC-80"
    assert ustate.sanitize(ViewState(dac=NATIONAL), tiny_cat)[0].dac == (
        NATIONAL if settings.UI_NATIONAL_VIEW else "DAC-80")


def test_build_filters_whole_list(tiny_cat):
    state = ViewState(dac="DAC-80", families=("pa_hebergement",), categories=("500",),
                      clienteles=("436",), min_capacity=5, text="tilleul", near="Amiens",
                      radius_km=15, outline=True, include_closed=True)
    filters, warnings = ustate.build_filters(state, tiny_cat, ["80"])
    spec = SpecialtyFilter(clienteles=("436",))
    assert filters == [
        StatusFilter(open_only=False),
        TerritoryFilter(dac_id="DAC-80"),
        FamilyFilter(("pa_hebergement",)),
        CategoryFilter(categories=("500",)),
        spec,
        CapacityFilter(min_places=5, specialty=spec),
        TextFilter("tilleul"),
        DistanceFilter(15.0, commune="80021", outline=True),
    ]
    assert warnings == []


def test_build_filters_national_and_bad_centre(tiny_cat):
    filters, warnings = ustate.build_filters(ViewState(dac=NATIONAL, near="Nulle-Part"), tiny_cat)
    assert filters == []
    assert warnings == [("« Nulle-Part » : ni commune connue, ni code INSEE, ni n° FINESS, ni "
                        "coordonnées « lat, lon » (degrés WGS84, latitude d'abord, ex. 49.894, 2.296).")]
    filters, warnings = ustate.build_filters(ViewState(dac="DAC-80", near="80999"), tiny_cat)
    assert filters == [TerritoryFilter(dac_id="DAC-80")]
    assert len(warnings) == 1 and "80999" in warnings[0]


@pytest.mark.parametrize("text, expected", [
    ("80021", Near("commune", commune="80021")),
    (" 2a004 ", Near("commune", commune="2A004")),
    ("800000045", Near("finess", finess="800000045")),
    ("Abbeville (80001)", Near("commune", commune="80001")),
    ("abbeville", Near("commune", commune="80001")),
    ("49.89, 2.30", Near("point", point=(49.89, 2.3))),  # lat, lon as copied from map sites
    ("49,89; 2,30", Near("point", point=(49.89, 2.3))),
    ("49.89 2.3", Near("point", point=(49.89, 2.3))),
    ("", None),
])
def test_resolve_near(tiny_cat, text, expected):
    assert ustate.resolve_near(text, tiny_cat, ["80"]) == expected


def test_resolve_near_unknown(tiny_cat):
    with pytest.raises(QueryError):
        ustate.resolve_near("<script>", tiny_cat)
    with pytest.raises(QueryError, match="lat, lon"):
        ustate.resolve_near("100.5, 2.3", tiny_cat)  # not a latitude first


@pytest.mark.parametrize("near", ["2.30, 49.89", "10, 10"])
def test_point_outside_france_is_a_warning_naming_the_order(tiny_cat, near):
    """One coordinate order, "lat, lon": longitude first lands outside France, and the
    message says which order is expected."""
    filters, warnings = ustate.build_filters(ViewState(dac=NATIONAL, near=near), tiny_cat)
    assert filters == []
    lat, lon = (float(v) for v in near.split(","))
    assert warnings == [f"point hors de France / point outside France: lat {lat}, lon {lon} "
                        "(« lat, lon », latitude d'abord / latitude first)"]


def test_effective_sort():
    assert ustate.effective_sort(ViewState(sort="distance"), [TextFilter("x")]) is None
    assert ustate.effective_sort(ViewState(sort="score"), [TextFilter("x")]) == "score"
    assert ustate.effective_sort(ViewState(sort="score"), []) is None
    assert ustate.effective_sort(ViewState(sort="name"), []) == "name"
    assert ustate.effective_sort(ViewState(), []) is None
