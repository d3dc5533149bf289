"""The data·inclusion API's older field set (2024) converted to schema v1.

The API page kept in ``tests/fixtures/data_inclusion/`` (and every file exported before
schema v1) uses ``presentation_resume/detail``, ``profils``, ``types``, list-valued ``frais``,
``modes_orientation_*`` and ``zone_diffusion_type/code``. :func:`is_legacy` recognises it and
:func:`convert_service` / :func:`convert_structure` map it to v1 field by field; each value
that has no v1 equivalent is returned as a :class:`Loss` so the deviation report can say what
was not carried over. Strict validation refuses this field set (it is not v1).
"""

from __future__ import annotations

from dataclasses import dataclass

from dac_map.inclusion.vocab import THEMATICS
from dac_map.inclusion.zones import REGION_DEPARTMENTS

#: keys only the 2024 field set has (one is enough to recognise it)
LEGACY_SERVICE_KEYS = frozenset({
    "presentation_resume", "presentation_detail", "profils", "types", "zone_diffusion_type",
    "modes_orientation_beneficiaire", "modes_orientation_accompagnateur", "frais_autres",
})
LEGACY_STRUCTURE_KEYS = frozenset({"typologie", "horaires_ouverture", "presentation_resume",
                                   "labels_nationaux", "antenne", "rna"})

PROFILS_TO_PUBLICS = {
    "tous-publics": "tous-publics",
    "demandeurs-demploi": "demandeurs-emploi",
    "beneficiaires-rsa": "beneficiaires-des-minimas-sociaux",
    "femmes": "femmes",
    "jeunes": "jeunes",
    "jeunes-16-26": "jeunes",
    "seniors-65": "seniors",
    "retraites": "seniors",
    "familles-enfants": "familles",
    "personnes-handicapees": "personnes-en-situation-de-handicap",
    "personnes-en-situation-de-handicap": "personnes-en-situation-de-handicap",
    "salaries": "actifs",
    "alternants": "actifs",
    "etudiants": "etudiants",
    "sans-domicile-fixe": "personnes-en-situation-durgence",
    "victimes": "personnes-en-situation-durgence",
    "personnes-de-nationalite-etrangere": "personnes-exilees",
    "public-langues-etrangeres": "personnes-exilees",
    "sortants-de-detention": "personnes-en-situation-juridique-specifique",
    "habitants-qpv": "residents-qpv-frr",
    "habitants-zrr": "residents-qpv-frr",
}
MODES_TO_V1 = {
    "telephoner": "telephoner",
    "envoyer-un-mail": "envoyer-un-courriel",
    "envoyer-un-mail-avec-une-fiche-de-prescription": "envoyer-un-courriel",
    "se-presenter": "se-presenter",
    "completer-le-formulaire-dadhesion": "utiliser-lien-mobilisation",
}
V1_TYPES = ("accompagnement", "aide-financiere", "aide-materielle", "atelier", "formation",
            "information")
PAYING_FEES = frozenset({"payant", "adhesion", "pass-numerique"})
#: 2024 keys with no v1 equivalent, dropped (reported once per key)
DROPPED = frozenset({"cumulable", "date_creation", "date_suspension", "recurrence", "page_web",
                     "prise_rdv", "zone_diffusion_nom", "typologie", "antenne", "rna",
                     "labels_autres", "thematiques_structure"})


@dataclass(frozen=True)
class Loss:
    """A 2024 value not carried over to v1: ``field`` and the value(s)."""

    field: str
    value: str


def is_legacy(record: dict, kind: str = "service") -> bool:
    """Whether ``record`` uses the 2024 field set."""
    keys = LEGACY_SERVICE_KEYS if kind == "service" else LEGACY_STRUCTURE_KEYS
    return not keys.isdisjoint(record)


def _joined(*parts: object) -> str | None:
    texts = []
    for p in parts:
        if isinstance(p, list):
            p = ", ".join(str(x) for x in p if x)
        if isinstance(p, str) and p.strip():
            texts.append(p.strip())
    return "\n\n".join(texts) or None


def convert_service(rec: dict) -> tuple[dict, list[Loss]]:
    """A 2024 service as a v1 record (extension fields ``contact_public`` and ``score_qualite``
    kept) and what could not be carried over."""
    out: dict = {}
    losses: list[Loss] = []
    passthrough = ("source", "structure_id", "id", "nom", "lien_source", "date_maj",
                   "frais_precisions", "commune", "code_postal", "code_insee", "adresse",
                   "complement_adresse", "longitude", "latitude", "telephone", "courriel",
                   "modes_accueil", "contact_nom_prenom", "contact_public", "score_qualite",
                   "publics_precisions", "conditions_acces", "horaires_accueil")
    for k in passthrough:
        if rec.get(k) is not None:
            out[k] = rec[k]
    out["description"] = _joined(rec.get("presentation_detail")) or _joined(rec.get("presentation_resume"))
    themes = []
    for t in rec.get("thematiques") or ():
        (themes.append(t) if t in THEMATICS else losses.append(Loss("thematiques", t)))
    out["thematiques"] = themes or None
    publics = []
    for p in rec.get("profils") or ():
        v = PROFILS_TO_PUBLICS.get(p)
        (publics.append(v) if v else losses.append(Loss("profils", p)))
    publics = sorted(set(publics))
    if "tous-publics" in publics and len(publics) > 1:
        publics.remove("tous-publics")
    out["publics"] = publics or None
    if rec.get("profils_precisions"):
        out["publics_precisions"] = rec["profils_precisions"]
    fees = rec.get("frais") or []
    if isinstance(fees, str):
        fees = [f.strip() for f in fees.replace("|", ",").strip("[]{}").split(",") if f.strip()]
    if fees:
        out["frais"] = "payant" if PAYING_FEES.intersection(fees) else "gratuit"
        extra = [f for f in fees if f not in ("gratuit", "payant")]
        out["frais_precisions"] = _joined(rec.get("frais_autres"), extra)
    types = list(rec.get("types") or ())
    v1_types = [t for t in types if t in V1_TYPES]
    if v1_types:
        out["type"] = v1_types[0]
    losses += [Loss("types", t) for t in types if t not in v1_types[:1]]
    modes: set[str] = set()
    for key in ("modes_orientation_beneficiaire", "modes_orientation_accompagnateur"):
        for m in rec.get(key) or ():
            v = MODES_TO_V1.get(m)
            (modes.add(v) if v else losses.append(Loss(key, m)))
    out["modes_mobilisation"] = sorted(modes) or None
    by = [who for key, who in (("modes_orientation_beneficiaire", "usagers"),
                               ("modes_orientation_accompagnateur", "professionnels"))
          if rec.get(key)]
    out["mobilisable_par"] = by or None
    out["mobilisation_precisions"] = _joined(rec.get("modes_orientation_beneficiaire_autres"),
                                             rec.get("modes_orientation_accompagnateur_autres"))
    out["lien_mobilisation"] = rec.get("formulaire_en_ligne") or rec.get("prise_rdv")
    out["conditions_acces"] = _joined(rec.get("conditions_acces"), rec.get("pre_requis"),
                                      rec.get("justificatifs"))
    zone, zone_loss = _zone(rec.get("zone_diffusion_type"), rec.get("zone_diffusion_code"))
    out["zone_eligibilite"] = zone
    losses += zone_loss
    for k in DROPPED.intersection(rec):
        if rec[k] not in (None, [], ""):
            losses.append(Loss(k, str(rec[k])))
    return {k: v for k, v in out.items() if v is not None}, losses


def _zone(kind: object, code: object) -> tuple[list[str] | None, list[Loss]]:
    if kind == "pays":
        return ["france"], []
    if not kind:
        return None, []
    if not isinstance(code, str) or not code:
        return None, [Loss("zone_diffusion_code", f"{kind} sans code")]
    if kind == "region":
        deps = REGION_DEPARTMENTS.get(code)
        if deps is None:
            return None, [Loss("zone_diffusion_code", f"région inconnue {code}")]
        return list(deps), []
    if kind in ("commune", "epci", "departement"):
        return [code], []
    return None, [Loss("zone_diffusion_type", str(kind))]


def convert_structure(rec: dict) -> tuple[dict, list[Loss]]:
    """A 2024 structure as a v1 record (and what could not be carried over)."""
    out = {k: rec[k] for k in ("source", "id", "nom", "date_maj", "lien_source", "siret",
                               "commune", "code_postal", "code_insee", "adresse",
                               "complement_adresse", "longitude", "latitude", "telephone",
                               "courriel", "site_web", "horaires_accueil", "accessibilite_lieu")
           if rec.get(k) is not None}
    losses: list[Loss] = []
    desc = _joined(rec.get("presentation_detail")) or _joined(rec.get("presentation_resume"))
    if desc:
        out["description"] = desc
    if rec.get("horaires_ouverture"):
        out["horaires_accueil"] = rec["horaires_ouverture"]
    if rec.get("accessibilite"):
        out["accessibilite_lieu"] = rec["accessibilite"]
    for k in DROPPED.intersection(rec):
        if rec[k] not in (None, [], ""):
            losses.append(Loss(k, str(rec[k])))
    losses += [Loss("labels_nationaux", v) for v in rec.get("labels_nationaux") or ()]
    return out, losses
