"""The social criteria in the one :class:`SearchSpec` (issue 16): URL keys and JSON version 4
(hypothesis round trips), warnings for unusable URL values, the unmet-need log (old rows of
versions 1-3 and legacy rows still read, a version-4 row refused where it claims an older
version) and the labels the ARS report counts by."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dac_map.coverage.criteria import commune_of, migrate_text, resource_type_of
from dac_map.coverage.labels import need_type_label
from dac_map.coverage.unmet import list_unmet_needs, record_unmet_need
from dac_map.inclusion import vocab
from dac_map.query.errors import QueryError
from dac_map.query.spec import SOCIAL_KEYS, SearchSpec

_social = st.builds(
    SearchSpec,
    dac=st.one_of(st.none(), st.from_regex(r"DAC-[0-9]{2}", fullmatch=True)),
    categories=st.lists(st.sampled_from(["500", "354", "197"]), max_size=2, unique=True).map(tuple),
    serves=st.sampled_from(["", "80021", "2A004"]),
    near=st.sampled_from(["", "80001", "49.89, 2.3"]),
    social_families=st.lists(st.sampled_from(list(vocab.FAMILIES)), max_size=4, unique=True).map(tuple),
    social_publics=st.lists(st.sampled_from(list(vocab.PUBLICS)), max_size=3, unique=True).map(tuple),
    social_fee=st.sampled_from(["", "gratuit", "payant"]),
    social_min_quality=st.sampled_from([0.0, 0.05, 0.5, 0.75, 1.0]) | st.floats(0.01, 1).map(lambda v: round(v, 3)),
    resources=st.sampled_from(["", "finess", "sociales", "toutes"]),
)


@hsettings(max_examples=300, deadline=None)
@given(_social)
def test_social_specs_round_trip_through_url_and_json(spec):
    back, warnings = SearchSpec.from_params(spec.to_params())
    assert warnings == [] and back == spec
    as_json = spec.to_json()
    assert SearchSpec.from_json(json.loads(json.dumps(as_json))) == spec
    social = any(k in as_json for k in SOCIAL_KEYS)
    assert (as_json["v"] == 4) == social  # version 4 exactly when a social key is written
    if not social:
        assert as_json["v"] in (2, 3)  # older readers keep reading what has no social key


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(SOCIAL_KEYS) + ["intervient"]), st.text(max_size=40)))
def test_any_social_url_parses_with_french_warnings(params):
    spec, warnings = SearchSpec.from_params(params)
    assert all(isinstance(w, str) and w for w in warnings)
    assert set(spec.social_families) <= set(vocab.FAMILIES) and set(spec.social_publics) <= set(vocab.PUBLICS)
    assert spec.social_fee in ("", "gratuit", "payant") and 0.0 <= spec.social_min_quality <= 1.0
    again, more = SearchSpec.from_params(spec.to_params())
    assert more == [] and again == spec


@pytest.mark.parametrize("params, field, value, warning", [
    ({"famille_sociale": "aide_alimentaire,cantine"}, "social_families", ("aide_alimentaire",), "cantine"),
    ({"famille_sociale": "social_logement"}, "social_families", ("logement",), None),
    ({"frais": "PAYANT"}, "social_fee", "payant", None),
    ({"frais": "cher"}, "social_fee", "", "Frais"),
    ({"qualite": "0,6"}, "social_min_quality", 0.6, None),
    ({"qualite": "3"}, "social_min_quality", 0.0, "qualité"),
    ({"ressources": "toutes"}, "resources", "toutes", None),
    ({"ressources": "tout"}, "resources", "", "Ressources affichées"),
])
def test_url_values(params, field, value, warning):
    spec, warnings = SearchSpec.from_params(params)
    assert getattr(spec, field) == value
    assert (warnings == []) if warning is None else (len(warnings) == 1 and warning in warnings[0])


@pytest.mark.parametrize("obj, message", [
    ({"v": 3, "famille_sociale": ["aide_alimentaire"]}, "clé inconnue « famille_sociale »"),
    ({"v": 2, "frais": "gratuit"}, "clé inconnue « frais »"),
    ({"v": 4, "famille_sociale": ["cantine"]}, "valeur invalide pour « famille_sociale »"),
    ({"v": 4, "frais": "cher"}, "valeur invalide pour « frais »"),
    ({"v": 4, "qualite": 2}, "valeur invalide pour « qualite »"),
    ({"v": 4, "qualite": "0.5"}, "valeur invalide pour « qualite »"),
    ({"v": 4, "ressources": "aucune"}, "valeur invalide pour « ressources »"),
])
def test_json_refuses_social_keys_out_of_version_4(obj, message):
    with pytest.raises(QueryError, match=message):
        SearchSpec.from_json(obj)


# --------------------------------------------------------------------------- the unmet-need log

#: Rows as older versions wrote them, each with the spec it must still mean.
_OLD = [
    ('{"v": 1, "dac": "DAC-80", "famille": ["domicile"], "autour": "80021", "rayon": 10}',
     SearchSpec(dac="DAC-80", families=("domicile",), near="80021", radius_km=10.0)),
    ('{"v": 2, "categorie": ["500"], "autour": "80001", "n": 5}',
     SearchSpec(categories=("500",), near="80001", nearest_n=5)),
    ('{"v": 3, "intervient": "80016", "activite_fp": ["R392-1"]}',
     SearchSpec(serves="80016", fp_types=("R392-1",))),
    ('[{"filter": "FamilyFilter", "families": ["pa_hebergement"]}]', SearchSpec(families=("pa_hebergement",))),
]


def test_old_rows_keep_their_meaning_beside_social_ones(tmp_path):
    db = tmp_path / "besoins.sqlite"
    record_unmet_need("DAC-80", "80001", SearchSpec(families=("domicile",)), "x", db_path=db)
    with sqlite3.connect(db) as con:
        for i, (text, _) in enumerate(_OLD):
            con.execute("INSERT INTO unmet_needs (recorded_at, dac_id, commune, resource_type, filters_json, "
                        "filters_label, comment) VALUES (?, 'DAC-80', NULL, 'x', ?, 'critères', '')",
                        ((datetime.now(timezone.utc) - timedelta(days=i + 1)).isoformat(), text))
        con.execute("PRAGMA user_version = 1")  # as a log written before the migration step
    con.close()
    social = SearchSpec(dac="DAC-80", serves="80016", social_families=("aide_alimentaire",), social_fee="payant")
    record_unmet_need("DAC-80", commune_of(social.to_json()), social, "Aide alimentaire payante", db_path=db)
    rows = list_unmet_needs(db).sort_values("recorded_at")
    specs = [SearchSpec.from_json(json.loads(t)) for t in rows["filters_json"]]
    for _, expected in _OLD:
        assert expected in specs
    assert specs.count(social) == 1
    logged = rows[rows["filters_json"].str.contains("famille_sociale")].iloc[0]
    assert json.loads(logged["filters_json"])["v"] == 4 and logged["commune"] == "80016"
    assert logged["resource_type"] == "social_aide_alimentaire"
    assert migrate_text(logged["filters_json"]) is None  # version 4 is current: never rewritten


def test_need_labels_name_the_social_family():
    text = json.dumps(SearchSpec(social_families=("aide_alimentaire", "mobilite")).to_json())
    assert need_type_label("social_aide_alimentaire", text) == \
        "Aide alimentaire et matérielle ou Mobilité (ressource sociale)"
    both = json.dumps(SearchSpec(families=("domicile",), social_families=("logement",)).to_json())
    assert need_type_label("domicile", both).endswith("Logement (ressource sociale)")
    assert resource_type_of({"v": 4, "categorie": ["500"], "famille_sociale": ["logement"]}) == \
        "500, social_logement"
    assert commune_of({"v": 4, "intervient": "2a004"}) == "2A004"


# --------------------------------------------------------------------------- list columns of the store

_cells = st.one_of(
    st.none(), st.just(float("nan")),
    st.lists(st.text(max_size=12), max_size=4).map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.lists(st.text(max_size=12), max_size=4),
    st.text(max_size=10),  # not JSON at all, or a broken array
    st.just('["a", "b"'), st.just("[1, 2.5, null]"),
)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(_cells, max_size=30))
def test_list_column_parses_like_cell_by_cell(cells):
    import pandas as pd

    from dac_map.inclusion.catalogue import _list, _list_column

    got = _list_column(pd.Series(cells, dtype=object))
    assert list(got) == [_list(c) for c in cells]  # one json.loads for the column, same result


@pytest.mark.parametrize("cells", [
    ['["a"], ["b"', '["c"]'],  # a broken cell cannot borrow its neighbour's brackets
    ['["a"], ["b"]'],           # two arrays in one cell: not a list
    ['["x],["y"]', '["z"]'],
])
def test_list_column_keeps_a_broken_cell_local(cells):
    import pandas as pd

    from dac_map.inclusion.catalogue import _list, _list_column

    assert list(_list_column(pd.Series(cells, dtype=object))) == [_list(c) for c in cells]


@hsettings(max_examples=200, deadline=None)
@given(st.lists(_cells, max_size=30), st.sets(st.text(max_size=12), max_size=3))
def test_list_column_mask_is_a_row_by_row_membership(cells, wanted):
    """The family / public masks (one test per DISTINCT cell) equal a row-by-row test of the
    cell's values, for JSON texts, Python lists (a loaded table) and broken cells alike."""
    import pandas as pd

    from dac_map.inclusion.catalogue import _list, _ListColumn

    got = _ListColumn.build(pd.Series(cells, dtype=object)).mask(len(cells), wanted)
    assert list(got) == [bool(set(_list(c)) & wanted) for c in cells]
