"""The app with the FINESS+ Ain example (AppTest): « Interviennent à <commune> » before
« À proximité », the zone of a selected service drawn on the map, the activities of the detail
panel in plain French, the FINESS+ filters in the URL, the coverage by intervention zones."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from streamlit.testing.v1 import AppTest

from dac_map.testing.apptest import run_app
from dac_map.ui import state as ustate



@pytest.fixture(autouse=True)
def app_settings(fp_build, app_store):
    app_store(fp_build[1], "DAC-01")


@pytest.fixture(scope="module")
def serving(fp_paths) -> dict[str, set[str]]:
    """commune -> FINESS numbers whose zone covers it, brute force on the raw Activités file."""
    doc = json.loads(fp_paths[1].read_text(encoding="utf-8"))
    out: dict[str, set[str]] = defaultdict(set)
    for p in doc["pmej"]:
        zones = {a["caracteristiquesGeneriques"]["typeActiviteSMSSE"]: [c["commune"] for c in a["zoneIntervention"]["communeZI"]]
                 for a in p["activitesAutorisees"] if a["zoneIntervention"]}
        for e in p["ege"]:
            for a in e["activitesExercees"]:
                g = a["caracteristiquesGeneriques"]
                if g["typeActiviteSMSSE"] in zones and g["etatObjet"] == "A":
                    for c in zones[g["typeActiviteSMSSE"]]:
                        out[c].add(e["numFinessEge"])
    return out


def _headers(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("####")]


def test_interviennent_a_lists_the_services_whose_zone_covers_the_commune(serving):
    at = run_app({"dac": "DAC-01", "autour": "01451"})  # Viriat
    heads = _headers(at)
    i = next(k for k, h in enumerate(heads) if h.startswith("#### Interviennent à Viriat"))
    assert heads[i + 1] == "#### À proximité"  # the section comes first
    table = next(d.value for d in at.dataframe if "Activité(s) intervenant ici" in d.value.columns)
    assert set(table["N° FINESS"]) == serving["01451"] == {"010784817"}
    assert table["Zone (communes)"].tolist() == [64]


def test_a_commune_no_zone_covers_says_so():
    at = run_app({"dac": "DAC-01", "autour": "01283"})  # Oyonnax: in no zone of the example
    assert any(h.startswith("#### Interviennent à Oyonnax") for h in _headers(at))
    assert any("Aucun service n'a Oyonnax dans sa zone" in i.value for i in at.info)


def _plain(text: str) -> str:
    return text.replace("\\", "")


def test_focused_service_shows_its_zone_and_activities(serving):
    at = run_app({"dac": "DAC-01", "autour": "01004", "etab": "010006401"})  # SSIAD of Ambérieu
    captions = _plain(" ".join(c.value for c in at.caption))
    n = sum(1 for fins in serving.values() if "010006401" in fins)
    assert n == 9 and f"Zone d'intervention de SSIAD EHPAD FONTELUNE : {n} communes" in captions
    acts = next(d.value for d in at.dataframe if "Places installées" in d.value.columns)
    assert "Soins infirmiers à Domicile · Prestations sur le lieu de vie (non compris placement familial) · " \
           "Personnes Agées (Sans Autre Indication) *" in set(acts["Activité"])  # type 1514: not in R392 (derived)
    assert "Personnes Agées (Sans Autre Indication)" in set(acts["Public"])
    assert "39 places" in set(acts["Places installées"]) and "39 places" in set(acts["Places autorisées"])
    assert "Flux FINESS+ (ANS, Licence Ouverte) : Structures du 09/03/2026, Activités du 01/04/2026" in captions


def test_fp_filters_round_trip_through_the_url(fp_catalogue):
    state, warnings = ustate.from_query_params({"dac": "DAC-01", "activite_fp": "1514,1498", "public": "700",
                                                "places_fp": "40", "places_fp_autorisees": "1"})
    assert warnings == [] and state.fp_types == ("1514", "1498") and state.fp_publics == ("700",)
    assert state.fp_min_places == 40 and state.fp_authorised
    assert ustate.to_query_params(state) == {"dac": "DAC-01", "activite_fp": "1514,1498", "public": "700",
                                             "places_fp": "40", "places_fp_autorisees": "1"}
    assert state.spec().to_json() == {"v": 3, "dac": "DAC-01", "activite_fp": ["1514", "1498"], "public": ["700"],
                                      "places_fp": 40, "places_fp_autorisees": True}
    assert type(state.spec()).from_json(state.spec().to_json()) == state.spec()
    filters, warnings = ustate.build_filters(state, fp_catalogue)
    labels = [f.describe(fp_catalogue) for f in filters]
    assert warnings == [] and labels[-1].startswith("Capacité FINESS+ autorisée ≥ 40 places (Activités : ")
    at = run_app({"dac": "DAC-01", "activite_fp": "1514"})
    text = " ".join(m.value for m in at.markdown)
    assert "Activité \\: Soins infirmiers à Domicile" in text
    assert at.query_params["activite_fp"] == "1514"


def _coverage_app(store: str) -> None:
    from dac_map.query import load_catalogue
    from dac_map.ui.finess_plus_view import render_zone_coverage

    render_zone_coverage(load_catalogue(store))


def test_coverage_by_zones(fp_build, fp_paths, serving):
    at = AppTest.from_function(_coverage_app, kwargs={"store": str(fp_build[1])}, default_timeout=60).run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Couverture par zones d'intervention (FINESS+)"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Communes"] == "407"
    assert at.selectbox[1].value == "1514"  # the type with the most services first
    # brute force for 1514 only
    doc = json.loads(fp_paths[1].read_text(encoding="utf-8"))
    covered = set()
    for p in doc["pmej"]:
        for a in p["activitesAutorisees"]:
            if a["zoneIntervention"] and a["caracteristiquesGeneriques"]["typeActiviteSMSSE"] == "1514" and any(
                    x["caracteristiquesGeneriques"]["typeActiviteSMSSE"] == "1514"
                    and x["caracteristiquesGeneriques"]["etatObjet"] == "A"
                    for e in p["ege"] for x in e["activitesExercees"]):
                covered |= {c["commune"] for c in a["zoneIntervention"]["communeZI"]}
    assert metrics["Zones blanches"] == str(407 - len(covered & set(serving)))
