"""The synonyms table behind « Je cherche » (dac_map.query.synonyms).

Expectations come from the raw nomenclature files, not from the table: each entry is listed
here with the *labels* it must select, written by hand from the FINESS category nomenclature,
the ANS discipline table TRE-R280 and the activity-type / clientèle labels of the raw
cs1100505 file; the codes are then looked up by label in those raw files.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dac_map.query import search
from dac_map.query.errors import QueryError
from dac_map.query.spec import SearchSpec
from dac_map.query.synonyms import best_match, label_of, load_synonyms, match, read_synonyms, words

DATA = Path(__file__).resolve().parents[1] / "data"
NOMENCLATURE = DATA / "nomenclatures" / "finess_nomenclature_categories_etablissement_avec_agregats_20211214.csv"
DISCIPLINES = DATA / "nomenclatures" / "TRE_R280_DisciplineEquipementSocial_v20231215.csv"
EQUIPMENT = DATA / "finess" / "DEMO-FICTIF_etalab-cs1100505-equipements_80_46.csv"
ESTABLISHMENTS = DATA / "finess" / "RECONSTRUCTED_etalab-cs1100507-stock-20210108_dep80_dep46.csv"


def _raw_categories() -> dict[str, str]:
    with NOMENCLATURE.open(encoding="utf-8", errors="replace") as fh:
        return {r["libelle"].strip(): r["code"] for r in csv.DictReader(fh, delimiter=";")
                if not r["datefin"] or r["datefin"] > "2021"}


def _raw_disciplines() -> dict[str, str]:
    with DISCIPLINES.open(encoding="utf-8") as fh:
        return {r["libelle"].strip(): r["code"] for r in csv.DictReader(fh, delimiter=";")}


def _raw_equipment_labels(code_col: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in EQUIPMENT.read_text(encoding="latin-1").splitlines():
        f = line.split(";")
        if f[0] == "equipementsocial":
            out[f[code_col + 1].strip()] = f[code_col]
    return out


# term -> (category labels, discipline labels, activity-type labels, clientèle labels)
EXPECTED: dict[str, tuple[set[str], set[str], set[str], set[str]]] = {
    "EHPAD": ({"Etablissement d'hébergement pour personnes âgées dépendantes"}, set(), set(), set()),
    "EHPA": ({"EHPA percevant des crédits d'assurance maladie",
              "EHPA ne percevant pas des crédits d'assurance maladie"}, set(), set(), set()),
    "maison de retraite": ({"Etablissement d'hébergement pour personnes âgées dépendantes",
                            "EHPA percevant des crédits d'assurance maladie",
                            "EHPA ne percevant pas des crédits d'assurance maladie"}, set(), set(), set()),
    "résidence autonomie": ({"Résidences autonomie"}, set(), set(), set()),
    "USLD": ({"Etablissement de Soins Longue Durée"}, set(), set(), set()),
    "SSIAD": ({"Service de Soins Infirmiers A Domicile (S.S.I.A.D)"}, set(), set(), set()),
    "soins infirmiers": ({"Service de Soins Infirmiers A Domicile (S.S.I.A.D)",
                          "Service Polyvalent Aide et Soins A Domicile (S.P.A.S.A.D.)"}, set(), set(), set()),
    "SAAD": ({"Service d'Aide et d'Accompagnement à Domicile (S.A.A.D.)"}, set(), set(), set()),
    "aide à domicile": ({"Service d'Aide et d'Accompagnement à Domicile (S.A.A.D.)",
                         "Service Polyvalent Aide et Soins A Domicile (S.P.A.S.A.D.)"}, set(), set(), set()),
    "SPASAD": ({"Service Polyvalent Aide et Soins A Domicile (S.P.A.S.A.D.)"}, set(), set(), set()),
    "SAAS": ({"Service Polyvalent Aide et Soins A Domicile (S.P.A.S.A.D.)"}, set(), set(), set()),
    "HAD": ({"Hospitalisation à Domicile"}, set(), set(), set()),
    "SMR": ({"Etablissement de santé privé autorisé en SSR"}, set(), set(), set()),
    "CSAPA": ({"Centre soins accompagnement prévention addictologie (CSAPA)"}, set(), set(), set()),
    "CAARUD": ({"Ctre.Accueil/ Accomp.Réduc.Risq.Usag. Drogues (C.A.A.R.U.D.)"}, set(), set(), set()),
    "addictologie": ({"Centre soins accompagnement prévention addictologie (CSAPA)",
                      "Ctre.Accueil/ Accomp.Réduc.Risq.Usag. Drogues (C.A.A.R.U.D.)"}, set(), set(), set()),
    "CMP": ({"Centre Médico-Psychologique (C.M.P.)"}, set(), set(), set()),
    "CMPP": ({"Centre Médico-Psycho-Pédagogique (C.M.P.P.)"}, set(), set(), set()),
    "CATTP": ({"Centre d'Accueil Thérapeutique à temps partiel (C.A.T.T.P.)"}, set(), set(), set()),
    "PMI": ({"Protection Maternelle et Infantile (P.M.I.)"}, set(), set(), set()),
    "IME": ({"Institut Médico-Educatif (I.M.E.)"}, set(), set(), set()),
    "ITEP": ({"Institut Thérapeutique Éducatif et Pédagogique (I.T.E.P.)"}, set(), set(), set()),
    "CAMSP": ({"Centre Action Médico-Sociale Précoce (C.A.M.S.P.)"}, set(), set(), set()),
    "ESAT": ({"Etablissement et Service d'Aide par le Travail (E.S.A.T.)"}, set(), set(), set()),
    "FAM": ({"Foyer d'Accueil Médicalisé pour Adultes Handicapés (F.A.M.)",
             "Etab.Acc.Médicalisé en tout ou partie personnes handicapées"}, set(), set(), set()),
    "MAS": ({"Maison d'Accueil Spécialisée (M.A.S.)"}, set(), set(), set()),
    "foyer de vie": ({"Foyer de Vie pour Adultes Handicapés"}, set(), set(), set()),
    "SAMSAH": ({"Service d'accompagnement médico-social adultes handicapés"}, set(), set(), set()),
    "SAVS": ({"Service d'Accompagnement à la Vie Sociale (S.A.V.S.)"}, set(), set(), set()),
    "SESSAD": ({"Service d'Éducation Spéciale et de Soins à Domicile"}, set(), set(), set()),
    "CHRS": ({"Centre Hébergement & Réinsertion Sociale (C.H.R.S.)"}, set(), set(), set()),
    "LHSS": ({"Lits Halte Soins Santé (L.H.S.S.)"}, set(), set(), set()),
    "LAM": ({"Lits d'Accueil Médicalisés (L.A.M.)"}, set(), set(), set()),
    "ACT": ({"Appartement de Coordination Thérapeutique (A.C.T.)"}, set(), set(), set()),
    "CLIC": ({"Centres Locaux Information Coordination P.A .(C.L.I.C.)"}, set(), set(), set()),
    "CPTS": ({"Communautés professionnelles territoriales de santé (CPTS)"}, set(), set(), set()),
    "maison de santé": ({"Maison de santé (L.6223-3)"}, set(), set(), set()),
    "centre de santé": ({"Centre de Santé"}, set(), set(), set()),
    "dialyse": ({"Centre de dialyse", "Structure d'Alternative à la dialyse en centre"}, set(), set(), set()),
    "plateforme de répit": (set(), {"Plateforme d'accompagnement et de répit des aidants (PFR)"}, set(), set()),
    "accueil de jour": (set(), set(), {"Accueil de Jour"}, set()),
    "hébergement temporaire": (set(), set(), {"Accueil temporaire avec hébergement"}, set()),
    "unité Alzheimer": (set(), set(), set(), {"Personnes Alzheimer ou maladies apparentées"}),
    "PASA": (set(), {"Pôles d'activité et de soins adaptés"}, set(), set()),
    "UHR": (set(), {"Unités d'hébergement renforcées"}, set(), set()),
    "autisme": (set(), set(), set(), {"Troubles du spectre de l'autisme"}),
    "handicap psychique": (set(), set(), set(), {"Handicap psychique"}),
    "pharmacie": ({"Pharmacie d'Officine"}, set(), set(), set()),
}


@pytest.fixture(scope="module")
def table():
    return load_synonyms()


def test_every_entry_is_expected_and_documented(table):
    assert sorted(s.term for s in table) == sorted(EXPECTED)
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "synonymes.csv" in readme


@pytest.mark.parametrize("term", sorted(EXPECTED))
def test_entry_selects_exactly_the_raw_labels(table, term):
    cats, discs, acts, clts = EXPECTED[term]
    raw_cat, raw_disc = _raw_categories(), _raw_disciplines()
    raw_act, raw_clt = _raw_equipment_labels(4), _raw_equipment_labels(6)
    syn = next(s for s in table if s.term == term)
    assert set(syn.categories) == {raw_cat[x] for x in cats}
    assert set(syn.disciplines) == {raw_disc[x] for x in discs}
    assert set(syn.activity_types) == {raw_act[x] for x in acts}
    assert set(syn.clienteles) == {raw_clt[x] for x in clts}


@pytest.mark.parametrize("term", sorted(EXPECTED))
def test_term_and_every_variant_name_their_entry(table, term):
    syn = next(s for s in table if s.term == term)
    for said in (syn.term, syn.term.lower(), syn.term.upper(), *syn.variants):
        got = best_match(said, table)
        assert got is not None and got.term == term, (said, got and got.term)


def test_acronyms_match_whole_words_only(table):
    ehpad = best_match("EHPAD", table)
    assert ehpad.categories == ("500",)  # not 502 (EHPA) nor 292 (CHS)
    assert best_match("ehpa", table).categories == ("501", "502")
    assert best_match("S.S.I.A.D.", table).categories == ("354",)
    # "ssiad" offers its own entry and the broader one naming it, no loose matches
    assert [s.term for s in match("ssiad", table)] == ["SSIAD", "soins infirmiers"]
    assert [s.term for s in match("csapa", table)] == ["CSAPA", "addictologie"]
    assert match("zzz", table) == []
    assert best_match("ehpad à amiens", table).term == "EHPAD"


def test_category_labels_are_a_whole_word_fallback(table):
    names = {"172": "Pouponnière à Caractère Social", "500": "EHPAD", "175": "Foyer de l'Enfance"}
    assert [s.categories for s in match("pouponniere", table, names)] == [("172",)]
    assert match("pou", table, names) == []  # a part of a word is not a word
    assert match("enfance", table, names)[0].categories == ("175",)


def test_words_folding():
    assert words("C.S.A.P.A. d'Amiens") == ("csapa", "amien")
    assert words("Maisons de Retraite") == ("maison", "retraite")
    assert words("  ") == ()


def test_ehpad_search_on_the_demo_data_equals_the_raw_file(demo_catalogue, table):
    syn = best_match("ehpad", table)
    res = search(demo_catalogue, syn.apply(SearchSpec()).to_filters(demo_catalogue), page_size=None)
    raw = {f[1] for f in (line.split(";") for line in
                          ESTABLISHMENTS.read_text(encoding="latin-1").splitlines())
           if f[0] == "structureet" and f[18] == "500"}
    assert len(raw) > 50
    assert set(res.records["finess"]) == raw


def test_label_of_a_search(table):
    assert label_of(SearchSpec(categories=("197",)), table) == "Addictologie (CSAPA)"
    assert label_of(SearchSpec(categories=("178", "197")), table) == "Addictologie (CSAPA, CAARUD)"
    assert label_of(SearchSpec(categories=("197",), families=("x",)), table) is None
    assert label_of(SearchSpec(categories=("999",)), table) is None


@pytest.mark.parametrize("content, where", [
    ("a;b\n", "ligne 1"),
    ("terme;variantes;libelle;categories;disciplines;activites;clienteles;note\n"
     "EHPAD;;Maison;5x0!;;;;\n", "ligne 2, champ « categories »"),
    ("terme;variantes;libelle;categories;disciplines;activites;clienteles;note\n"
     "EHPAD;;;500;;;;\n", "ligne 2, champ « libelle »"),
    ("terme;variantes;libelle;categories;disciplines;activites;clienteles;note\n\n"
     "EHPAD;;Maison;;;;;\n", "ligne 3 : aucun code"),
    ("terme;variantes;libelle;categories;disciplines;activites;clienteles;note\n"
     "EHPAD;;Maison;500;;;\n", "ligne 2 : 7 champs"),
])
def test_bad_tables_name_file_line_and_field(tmp_path, content, where):
    p = tmp_path / "syn.csv"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(QueryError) as exc:
        read_synonyms(p)
    assert "syn.csv" in str(exc.value) and where in str(exc.value)
