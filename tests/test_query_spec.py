"""SearchSpec (dac_map.query.spec): one registry for the URL, the JSON form, the filters and the
French description. Tables of whole inputs and whole outputs, compared with ``==``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dac_map import query as q
from dac_map.query.criteria import CRITERIA
from dac_map.query.near import parse_point
from dac_map.query.params import PARAMS
from dac_map.query.spec import SearchSpec


# --------------------------------------------------------------------------- URL and JSON

SPEC_FORMS = [
    # spec, URL parameters, JSON form
    (SearchSpec(), {}, {"v": 2}),
    (SearchSpec(dac="france"), {"dac": "france"}, {"v": 2, "dac": "france"}),
    (SearchSpec(dac="DAC-80", families=("pa_hebergement", "domicile"), min_capacity=30),
     {"dac": "DAC-80", "famille": "pa_hebergement,domicile", "capacite": "30"},
     {"v": 2, "dac": "DAC-80", "famille": ["pa_hebergement", "domicile"], "capacite": 30}),
    (SearchSpec(departments=("80", "46"), communes=("80021",), categories=("500",),
                aggregates=("4401",), disciplines=("924",), clienteles=("436",),
                activity_types=("21",), min_capacity=5, authorised=True),
     {"departement": "80,46", "commune": "80021", "categorie": "500", "agregat": "4401",
      "discipline": "924", "clientele": "436", "activite": "21", "capacite": "5", "autorisee": "1"},
     {"v": 2, "departement": ["80", "46"], "commune": ["80021"], "categorie": ["500"],
      "agregat": ["4401"], "discipline": ["924"], "clientele": ["436"], "activite": ["21"],
      "capacite": 5, "autorisee": True}),
    (SearchSpec(text="ehpad l'abbaye", near="49.894, 2.296", radius_km=12.5, outline=True,
                include_closed=True, sort="distance"),
     {"q": "ehpad l'abbaye", "autour": "49.894, 2.296", "rayon": "12.5", "contour": "1",
      "fermes": "1", "tri": "distance"},
     {"v": 2, "q": "ehpad l'abbaye", "autour": "49.894, 2.296", "rayon": 12.5, "contour": True,
      "fermes": True, "tri": "distance"}),
    # a radius is written when it is the filter; without one, the N nearest (issue 12)
    (SearchSpec(near="80021", radius_km=10), {"autour": "80021", "rayon": "10"},
     {"v": 2, "autour": "80021", "rayon": 10}),
    (SearchSpec(near="80021"), {"autour": "80021"}, {"v": 2, "autour": "80021"}),
    (SearchSpec(near="80021", nearest_n=3, max_minutes=20, max_km=35.5),
     {"autour": "80021", "n": "3", "minutes": "20", "km_max": "35.5"},
     {"v": 2, "autour": "80021", "n": 3, "minutes": 20, "km_max": 35.5}),
    # "contour" only with a centre
    (SearchSpec(radius_km=25, outline=True), {"rayon": "25"}, {"v": 2, "rayon": 25}),
]


@pytest.mark.parametrize("spec, params, as_json", SPEC_FORMS)
def test_spec_forms(spec, params, as_json):
    assert spec.to_params() == params
    assert spec.to_json() == as_json
    # "contour" without a centre means nothing and is not written
    expected = spec if spec.near or not spec.outline else SearchSpec(radius_km=spec.radius_km)
    assert SearchSpec.from_json(as_json) == expected
    assert SearchSpec.from_params(params) == (expected, [])


@pytest.mark.parametrize("params, spec, warnings", [
    ({"dac": "<script>", "famille": "<b>,;", "capacite": "beaucoup", "rayon": "-3", "tri": "x",
      "inconnu": "1"}, SearchSpec(),
     ["Territoire du lien illisible : territoire par défaut.",
      "Paramètre « famille » illisible : ignoré.",
      "Capacité minimale illisible : ignorée.",
      "Rayon invalide : rayon par défaut.",
      "Tri inconnu « x » : tri par défaut."]),
    ({"capacite": "-1", "rayon": "loin"}, SearchSpec(),
     ["Capacité minimale négative : ignorée.", "Rayon illisible : rayon par défaut."]),
    ({"capacite": "99999", "rayon": "0,1", "q": "x" * 300, "famille": ["a", "b,b,c"]},
     SearchSpec(min_capacity=5000, radius_km=0.5, text="x" * 200, families=("b", "c")), []),
    ({"dac": "FRANCE", "fermes": "oui", "contour": "0", "autour": "  Amiens "},
     SearchSpec(dac="france", include_closed=True, near="Amiens"), []),
])
def test_from_params(params, spec, warnings):
    assert SearchSpec.from_params(params) == (spec, warnings)


@pytest.mark.parametrize("obj, message", [
    ({"famille": ["x"]}, "version None inconnue"),
    ({"v": 5}, "version 5 inconnue"),  # 3 = FINESS+ keys (issue 11), 4 = social keys (issue 16)
    ({"v": 1, "n": 3}, "clé inconnue « n »"),  # version 1 had no nearest-N keys
    ({"v": 2, "activite_fp": ["1514"]}, "clé inconnue « activite_fp »"),  # FINESS+ keys need version 3
    ({"v": True}, "version True inconnue"),
    ({"v": 1, "families": ["x"]}, "clé inconnue « families »"),
    ({"v": 1, "famille": "x"}, "valeur invalide pour « famille »"),
    ({"v": 1, "capacite": "30"}, "valeur invalide pour « capacite »"),
    ({"v": 1, "contour": 1}, "valeur invalide pour « contour »"),
    ({"v": 1, "rayon": float("nan")}, "valeur invalide pour « rayon »"),
    (["v", 1], "objet JSON attendu"),
])
def test_from_json_refuses_what_is_not_the_format(obj, message):
    with pytest.raises(q.QueryError, match=message):
        SearchSpec.from_json(obj)


def test_registry_keys_are_unique_and_cover_every_field():
    assert len({p.key for p in PARAMS}) == len(PARAMS)
    assert sorted(p.attr for p in PARAMS) == sorted(SearchSpec.__dataclass_fields__)
    # every key but the sort belongs to exactly one criterion (one filter)
    keys = [k for c in CRITERIA for k in c.keys]
    assert sorted(keys) == sorted(p.key for p in PARAMS if p.key != "tri")


_codes = st.lists(st.from_regex(r"[0-9A-Za-z_\-]{1,12}", fullmatch=True), max_size=3, unique=True)
_specs = st.builds(
    SearchSpec,
    dac=st.one_of(st.none(), st.just("france"), st.from_regex(r"DAC-[0-9]{2}", fullmatch=True)),
    families=_codes.map(tuple), categories=_codes.map(tuple), disciplines=_codes.map(tuple),
    min_capacity=st.integers(0, 5000), authorised=st.booleans(),
    text=st.text(max_size=200).filter(lambda t: t == "" or t.strip() == t and t),
    near=st.text(max_size=50).map(str.strip),
    radius_km=st.one_of(st.none(), st.floats(0.5, 200).map(lambda r: round(r, 2))),
    nearest_n=st.integers(1, 200), max_minutes=st.sampled_from([0.0, 12.5, 240.0]),
    outline=st.booleans(), include_closed=st.booleans(),
    sort=st.sampled_from(["", "name", "distance", "capacity", "score", "finess"]))


@hsettings(max_examples=200, deadline=None)
@given(_specs)
def test_every_spec_round_trips_through_json(spec):
    back = SearchSpec.from_json(spec.to_json())
    expected = (spec if spec.near and spec.radius_km is not None
                else SearchSpec(**{**spec.__dict__, "outline": False}))
    assert back == expected


@hsettings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([p.key for p in PARAMS] + ["x"]), st.text(max_size=30)))
def test_any_url_parses_to_a_spec_that_round_trips(params):
    spec, warnings = SearchSpec.from_params(params)
    assert all(isinstance(w, str) and w for w in warnings)
    again, more = SearchSpec.from_params(spec.to_params())
    assert more == []
    assert again.to_params() == spec.to_params()


# --------------------------------------------------------------------------- points: "lat, lon"

@pytest.mark.parametrize("text, point", [
    ("49.894, 2.296", (49.894, 2.296)),
    ("49.894,2.296", (49.894, 2.296)),
    ("49,894; 2,296", (49.894, 2.296)),
    (" -21.1 55.5 ", (-21.1, 55.5)),
    ("Amiens", None),
    ("49.894", None),
    ("1, 2, 3", None),
])
def test_parse_point(text, point):
    assert parse_point(text) == point


@pytest.mark.parametrize("text", ["100, 2", "49, 200"])
def test_parse_point_names_the_order(text):
    with pytest.raises(q.QueryError, match="« lat, lon »"):
        parse_point(text)


# --------------------------------------------------------------------------- filters and description

SPECIALTY = q.SpecialtyFilter(disciplines=("924",), activity_types=(), clienteles=("436",))


@pytest.mark.parametrize("spec, filters, labels", [
    (SearchSpec(), [], []),
    (SearchSpec(dac="france", include_closed=True), [q.StatusFilter(open_only=False)],
     ["Établissements ouverts et fermés"]),
    (SearchSpec(dac="DAC-80", families=("pa_hebergement",), categories=("500",)),
     [q.TerritoryFilter(dac_id="DAC-80"), q.FamilyFilter(("pa_hebergement",)),
      q.CategoryFilter(categories=("500",))],
     ["Territoire DAC : DAC Somme (DAC-80)", "Famille : Personnes âgées — hébergement",
      "Catégorie FINESS : 500 (EHPAD)"]),
    (SearchSpec(disciplines=("924",), clienteles=("436",), min_capacity=50, authorised=True),
     [SPECIALTY, q.CapacityFilter(50, authorised=True, specialty=SPECIALTY)],
     ["Discipline : Accueil pour Personnes Âgées ; Clientèle : Personnes Alzheimer ou maladies "
      "apparentées",
      "Capacité autorisée ≥ 50 places (Discipline : Accueil pour Personnes Âgées ; Clientèle : "
      "Personnes Alzheimer ou maladies apparentées)"]),
    (SearchSpec(text="tilleuls", near="49.894, 2.296", radius_km=5),
     [q.TextFilter("tilleuls"), q.DistanceFilter(5, point=(2.296, 49.894))],
     ["Recherche : « tilleuls »", "À moins de 5 km du point (lat 49.89400, lon 2.29600)"]),
    (SearchSpec(near="Amiens", outline=True, radius_km=2),
     [q.DistanceFilter(2, commune="80021", outline=True)],
     ["À moins de 2 km de tout point de la commune Amiens (80021)"]),
    (SearchSpec(near="800000011", radius_km=10), [q.DistanceFilter(10, finess="800000011")],
     ["À moins de 10 km de l'établissement EHPAD LES TILLEULS (800000011)"]),
    # issue 12: without a radius, the N nearest
    (SearchSpec(near="800000011", nearest_n=5), [q.NearestFilter(finess="800000011", n=5)],
     ["Les 5 plus proches de l'établissement EHPAD LES TILLEULS (800000011)"]),
])
def test_to_filters_and_describe(tiny_cat, spec, filters, labels):
    assert spec.to_filters(tiny_cat) == filters
    warnings: list[str] = []
    assert spec.to_filters(tiny_cat, warnings=warnings) == filters and warnings == []
    assert spec.describe(tiny_cat) == labels


@pytest.mark.parametrize("spec, warnings", [
    (SearchSpec(near="2.296, 49.894"),  # longitude first: lands in the Indian Ocean
     ["point hors de France / point outside France: lat 2.296, lon 49.894 "
      "(« lat, lon », latitude d'abord / latitude first)"]),
    (SearchSpec(dac="DAC-80", near="80999"),
     ["commune inconnue ou sans contour dans ce GeoPackage / unknown commune or commune without "
      "outline: '80999' — aucun établissement localisé n'en donne le centre : indiquez plutôt un "
      "point « lat, lon » ou le n° FINESS d'un établissement proche."]),
    (SearchSpec(near="800000037", outline=True, radius_km=10),  # "contour" is for communes: ignored by the app
     []),
    (SearchSpec(authorised=True), ["la capacité autorisée s'utilise avec une capacité minimale / "
                                   "authorised needs a minimum capacity"]),
])
def test_lenient_mode_reports_in_french_and_strict_mode_raises(tiny_cat, spec, warnings):
    got: list[str] = []
    spec.to_filters(tiny_cat, warnings=got)
    assert got == warnings
    if warnings:
        with pytest.raises(q.QueryError) as exc:
            spec.to_filters(tiny_cat)
        assert str(exc.value) == warnings[0]
    else:
        with pytest.raises(q.QueryError, match="outline mode needs a commune"):
            spec.to_filters(tiny_cat)
