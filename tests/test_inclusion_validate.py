"""Validation with the official models: tolerant keeps what is valid and reports the rest,
strict refuses; the 2024 field set is recognised, converted and reported."""

from __future__ import annotations

from pathlib import Path

import json

import pydantic
import pytest
from data_inclusion.schema import v1
from hypothesis import given, settings, strategies as st

from dac_map.inclusion import legacy, vocab
from dac_map.inclusion.validate import SIMPLE_EMAIL, Validator, email_error

INCLUSION_SAMPLE_2024 = Path(__file__).parent / "fixtures" / "data_inclusion" / "api-response-search-services-2024.json"


def _v(kind="service", **kw):
    return Validator(kind, **kw)


def test_v1_fixtures_are_clean(inclusion_v1):
    structures, services = inclusion_v1
    for kind, records in (("structure", structures), ("service", services)):
        v = _v(kind, strict=True)
        for i, r in enumerate(records):
            assert v.validate(r, path="f", index=i, where=f"$[{i}]") is not None
        assert v.report.clean, v.report.lines()


@pytest.mark.parametrize("change,field,kind,action", [
    ({"thematiques": ["sante--addictions", "pas-une-thematique"]}, "thematiques", "valeur invalide", "retiré"),
    ({"courriel": "pas un courriel"}, "courriel", "valeur invalide", "retiré"),
    ({"courriel": "x@exemple.invalid"}, "courriel", "valeur invalide", "retiré"),
    ({"longitude": "est"}, "longitude", "valeur invalide", "retiré"),
    ({"date_maj": "2999-01-01"}, "date_maj", "champ requis invalide", "rejeté"),
    ({"description": None}, "description", "champ requis absent", "rejeté"),
    ({"nom": "ab"}, "nom", "champ requis invalide", "rejeté"),
    ({"champ_maison": "x"}, "champ_maison", "champ hors schéma v1", "ignoré"),
])
def test_one_deviation_each(inclusion_v1, change, field, kind, action):
    _, services = inclusion_v1
    rec = {**services[0], **change}
    v = _v()
    out = v.validate(rec, path="f.json", index=7, where="$[7]")
    key = f"{kind} : {field}"
    assert v.report.counts == {key: 1}
    dev = v.report.examples[key][0]
    assert (dev.path, dev.index, dev.where, dev.field, dev.action) == ("f.json", 7, "$[7]", field, action)
    if action == "rejeté":
        assert out is None and v.report.rejected == 1
    else:
        assert out is not None and v.report.kept == 1
        if field == "thematiques":
            assert out["thematiques"] == ["sante--addictions"]
        elif field != "champ_maison":
            assert field not in out
    strict = _v(strict=True)
    assert strict.validate(rec, path="f.json", index=7, where="$[7]") is None


def test_unknown_values_counted_per_kind(inclusion_v1):
    _, services = inclusion_v1
    v = _v()
    for i in range(4):
        v.validate({**services[1], "publics": ["seniors", f"inconnu-{i}"]}, path="f", index=i, where="x")
    assert v.report.counts["valeur invalide : publics"] == 4
    assert len(v.report.examples["valeur invalide : publics"]) == 4
    assert "4 × valeur invalide : publics" in "\n".join(v.report.lines())


def test_quality_score_computed_by_the_package_when_absent(inclusion_v1):
    _, services = inclusion_v1
    out = _v().validate(services[2], path="f", index=0, where="x")
    from data_inclusion.schema.v1 import score_qualite

    expected = score_qualite.score(v1.Service.model_validate(services[2]))[0]
    assert out["score_qualite"] == expected
    given_score = _v().validate({**services[2], "score_qualite": 0.42}, path="f", index=0, where="x")
    assert given_score["score_qualite"] == 0.42


@settings(max_examples=300, deadline=None)
@given(st.from_regex(SIMPLE_EMAIL, fullmatch=True))
def test_email_shortcut_never_accepts_what_the_package_refuses(address):
    adapter = pydantic.TypeAdapter(v1.Service.model_fields["courriel"].annotation)
    if email_error(address) is None:
        adapter.validate_python(address)  # raises if the official validator disagrees


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_email_check_agrees_with_the_package(text):
    adapter = pydantic.TypeAdapter(v1.Service.model_fields["courriel"].annotation)
    try:
        adapter.validate_python(text)
        official = True
    except pydantic.ValidationError:
        official = False
    assert (email_error(text) is None) == official


# --------------------------------------------------------------------------- the 2024 field set

def _raw_items():
    return [it["service"] for it in json.loads(INCLUSION_SAMPLE_2024.read_text(encoding="utf-8"))["items"]]


def test_real_2024_sample_is_recognised_and_converted():
    items = _raw_items()
    v = _v()
    outs = [v.validate(s, path="p", index=i, where=f"$.items[{i}].service") for i, s in enumerate(items)]
    assert v.report.converted == len(items) == 77
    # expected from the raw file: a service is kept when it has a description (resume or detail)
    has_text = [bool((s.get("presentation_detail") or "").strip() or (s.get("presentation_resume") or "").strip())
                for s in items]
    assert [o is not None for o in outs] == [h and s["date_maj"] <= "2026-12-01" for h, s in zip(has_text, items)]
    # thematics outside the v1 list: counted one by one, as in the raw file
    v1_list = {t.value for t in v1.Thematique}
    outside = sum(1 for s in items for t in s.get("thematiques") or () if t not in v1_list)
    assert v.report.counts["valeur 2024 sans équivalent v1 : thematiques"] == outside
    kept = [t for s, o in zip(items, outs) if o for t in (o.get("thematiques") or [])]
    assert set(kept) <= v1_list


def test_2024_strict_refuses():
    items = _raw_items()
    v = _v(strict=True)
    assert all(v.validate(s, path="p", index=i, where="x") is None for i, s in enumerate(items))
    assert v.report.rejected == 77


def test_2024_conversion_table():
    rec = {"id": "x", "source": "s", "structure_id": "t", "nom": "Nom du service", "date_maj": "2024-01-01",
           "presentation_resume": "Résumé", "presentation_detail": "Détail complet",
           "profils": ["demandeurs-demploi", "adultes", "seniors-65"], "frais": ["gratuit-sous-conditions"],
           "types": ["numerique", "atelier"], "zone_diffusion_type": "region", "zone_diffusion_code": "32",
           "modes_orientation_beneficiaire": ["telephoner", "autre"], "contact_public": True,
           "pre_requis": ["Être inscrit"], "justificatifs": []}
    out, losses = legacy.convert_service(rec)
    assert out["description"] == "Détail complet"
    assert out["publics"] == ["demandeurs-emploi", "seniors"]
    assert out["frais"] == "gratuit" and out["frais_precisions"] == "gratuit-sous-conditions"
    assert out["type"] == "atelier"
    assert out["zone_eligibilite"] == ["02", "59", "60", "62", "80"]
    assert out["modes_mobilisation"] == ["telephoner"] and out["mobilisable_par"] == ["usagers"]
    assert out["conditions_acces"] == "Être inscrit"
    assert out["contact_public"] is True
    assert sorted((l.field, l.value) for l in losses) == [
        ("modes_orientation_beneficiaire", "autre"), ("profils", "adultes"), ("types", "numerique")]


def test_every_v1_thematic_has_a_family():
    for t in v1.Thematique:
        fam = vocab.family_of(t.value)
        assert fam in vocab.FAMILIES
    assert vocab.family_of("sante--sante-mentale") == "sante_mentale"
    assert vocab.family_of("sante--addictions") == "addictions"
    assert vocab.family_of("equipement-et-alimentation--alimentation") == "aide_alimentaire"
    assert vocab.family_of("logement-hebergement--louer-un-logement") == "logement"
    assert vocab.family_of("mobilite--preparer-un-permis") == "mobilite"
    assert vocab.families_of([]) == ["autres"]
