"""FINESS <-> data·inclusion deduplication: hand-made cases, steward overrides, and the
blocked/vectorised matcher against a per-pair brute force."""

from __future__ import annotations


import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from dac_map.inclusion.dedup import (ADDRESS_MIN, NAME_MIN, apply_matches, match_finess,
                                     read_overrides)
from dac_map.query.text import fold_text

EST = pd.DataFrame({
    "finess": ["800000001", "800000002", "460000003", "800000004"],
    "siret": ["21800021700019", None, None, None],
    "name": ["CCAS AMIENS", "CSAPA LE MAIL", "CENTRE SOCIAL DE CAHORS", "EHPAD LES TILLEULS"],
    "long_name": ["CENTRE COMMUNAL D'ACTION SOCIALE D'AMIENS", "CSAPA LE MAIL - ADDICTOLOGIE", None, None],
    "address": ["12 RUE DES JACOBINS", "4 RUE DU MAIL", "1 PLACE ROUSSEAU", "2 RUE DES TILLEULS"],
    "commune": ["80021", "80021", "46042", "80001"],
})


def _res(rows):
    return pd.DataFrame(rows, columns=["resource_id", "siret", "finess", "name", "structure_name", "address", "commune"])


def test_methods_in_order():
    res = _res([
        ("di:a", "21800021700019", None, "Aide alimentaire", "Autre nom", "ailleurs", "80021"),  # SIRET
        ("local:b", None, "800000004", "Halte répit", "Association X", None, "80001"),  # FINESS number
        ("di:c", None, None, "Consultations", "Csapa Le Mail", "4, rue du Mail", "80021"),  # name+address
        ("di:d", None, None, "Accueil", "Centre social de Cahors", "1 place Rousseau", "80021"),  # other commune
        ("di:e", None, None, "Accueil", "Centre social", "99 avenue Nulle part", "46042"),  # too different
    ])
    matches = {m.resource_id: (m.finess, m.method, m.decision) for m in match_finess(res, EST)}
    assert matches == {"di:a": ("800000001", "siret", "lié"), "local:b": ("800000004", "finess", "lié"),
                       "di:c": ("800000002", "nom_adresse", "lié")}


def test_overrides_and_both_sources_shown(tmp_path):
    res = _res([("di:c", None, None, "Consultations", "Csapa Le Mail", "4 rue du Mail", "80021"),
                ("di:x", None, None, "Accueil", "Inconnu", None, "46042")])
    path = tmp_path / "correspondances.csv"
    path.write_text("resource_id;finess;decision\ndi:c;800000002;separer\ndi:x;460000003;lier\n", encoding="utf-8")
    matches = match_finess(res, EST, read_overrides(path))
    assert [(m.resource_id, m.finess, m.method, m.decision) for m in matches] == [
        ("di:c", "800000002", "nom_adresse", "séparé (référent)"), ("di:x", "460000003", "manuel", "lié")]
    table = res.assign(sources_label="data·inclusion (dora)")
    out = apply_matches(table, matches)
    assert out["sources_label"].tolist() == ["data·inclusion (dora)", "data·inclusion (dora) + FINESS 460000003"]
    assert out["finess"].tolist()[1] == "460000003" and pd.isna(out["finess"].tolist()[0])
    bad = tmp_path / "bad.csv"
    bad.write_text("resource_id;finess;decision\ndi:c;1;peut-etre\n", encoding="utf-8")
    try:
        read_overrides(bad)
    except Exception as exc:  # noqa: BLE001
        assert "line 2" in str(exc) and "decision" in str(exc)
    else:
        raise AssertionError("an invalid decision must be refused")


def test_blocked_matcher_equals_brute_force():
    rng = np.random.default_rng(3)
    communes = ["80021", "80001", "46042"]
    words = ["CCAS", "CENTRE", "SOCIAL", "CSAPA", "MAISON", "SOLIDARITE", "LE", "MAIL", "DES", "AIDANTS"]
    streets = ["RUE DU MAIL", "PLACE ROUSSEAU", "AVENUE FOCH"]
    est = pd.DataFrame({
        "finess": [f"80{i:07d}" for i in range(40)], "siret": None,
        "name": [" ".join(rng.choice(words, 3)) for _ in range(40)], "long_name": None,
        "address": [f"{rng.integers(1, 5)} {rng.choice(streets)}" for _ in range(40)],
        "commune": [rng.choice(communes) for _ in range(40)]})
    res = _res([(f"di:{i}", None, None, "Service", " ".join(rng.choice(words, 3)).title(),
                 f"{rng.integers(1, 5)} {rng.choice(streets).lower()}", rng.choice(communes)) for i in range(60)])
    got = {m.resource_id: m.finess for m in match_finess(res, est)}

    def best_in_commune(r, name: str) -> str | None:
        best, best_score = None, -1.0
        for e in est.itertuples():
            if e.commune != r.commune:
                continue
            n = fuzz.token_set_ratio(fold_text(name), fold_text(e.name))
            a = fuzz.token_sort_ratio(fold_text(r.address), fold_text(e.address))
            if n >= NAME_MIN and a >= ADDRESS_MIN and n + a > best_score:
                best, best_score = e.finess, n + a
        return best

    expected = {}
    for r in res.itertuples():
        # the structure's name first, then the service's own name
        best = best_in_commune(r, r.structure_name) or best_in_commune(r, r.name)
        if best is not None:
            expected[r.resource_id] = best
    assert got == expected
    assert len(expected) > 5  # the case is not empty
