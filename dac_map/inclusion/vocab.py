"""Plain-French vocabulary of the data·inclusion schema v1, as the DAC coordinators see it.

The reference lists come from the official package (``data-inclusion-schema``,
:mod:`data_inclusion.schema.v1`): thematics, publics, fees, reception modes. This module only
adds what a DAC needs on top: *families* of social resources in plain French (a thematic
belongs to one family, e.g. ``sante--sante-mentale`` -> "Santé mentale"), and the labels of
the filters.
"""

from __future__ import annotations

from functools import cache

from data_inclusion.schema import v1

#: family key -> French label, in display order. Every v1 thematic maps to exactly one family
#: (:func:`family_of`): most to the family of their category, the health ones split.
FAMILIES: dict[str, str] = {
    "acces_droits": "Accès aux droits",
    "aide_alimentaire": "Aide alimentaire et matérielle",
    "mobilite": "Mobilité",
    "logement": "Logement",
    "sante_soins": "Santé — accès aux soins",
    "sante_mentale": "Santé mentale",
    "addictions": "Addictions",
    "handicap": "Handicap — dossier MDPH",
    "aidants_famille": "Famille et aidants",
    "budget": "Difficultés financières",
    "numerique": "Numérique",
    "lien_social": "Lien social et bien-être",
    "langue": "Français, lecture, calcul",
    "emploi_formation": "Emploi et formation",
    "autres": "Autres services sociaux",
    "associations_patients": "Associations de patients et d'aidants",
}

#: Prefix of the family codes in the catalogue (kept apart from FINESS families).
FAMILY_PREFIX = "social_"

_BY_THEMATIC = {
    "sante--acces-aux-soins": "sante_soins",
    "sante--sante-sexuelle": "sante_soins",
    "sante--sante-mentale": "sante_mentale",
    "sante--addictions": "addictions",
    "sante--constituer-un-dossier-mdph-invalidite": "handicap",
    "equipement-et-alimentation--alimentation": "aide_alimentaire",
    "famille--soutien-aidants": "aidants_famille",
    "famille--prise-en-charge-personne-dependante": "aidants_famille",
    "remobilisation--lien-social": "lien_social",
    "remobilisation--bien-etre-confiance-en-soi": "lien_social",
}

_BY_CATEGORY = {
    "difficultes-administratives-ou-juridiques": "acces_droits",
    "difficultes-financieres": "budget",
    "equipement-et-alimentation": "aide_alimentaire",
    "famille": "aidants_famille",
    "logement-hebergement": "logement",
    "mobilite": "mobilite",
    "numerique": "numerique",
    "remobilisation": "lien_social",
    "lecture-ecriture-calcul": "langue",
    "sante": "sante_soins",
    "choisir-un-metier": "emploi_formation",
    "creer-une-entreprise": "emploi_formation",
    "preparer-sa-candidature": "emploi_formation",
    "se-former": "emploi_formation",
    "souvrir-a-linternational": "emploi_formation",
    "trouver-un-emploi": "emploi_formation",
}

#: The thematic codes of schema v1 (official list).
THEMATICS: frozenset[str] = frozenset(t.value for t in v1.Thematique)
PUBLICS: dict[str, str] = {p.value: p.label for p in v1.Public}
FEES: dict[str, str] = {f.value: f.label for f in v1.Frais}
RECEPTION_MODES: dict[str, str] = {m.value: m.label for m in v1.ModeAccueil}
MOBILISATION_MODES: dict[str, str] = {m.value: m.label for m in v1.ModeMobilisation}
SERVICE_TYPES: dict[str, str] = {t.value: t.label for t in v1.TypeService}


@cache
def thematic_label(code: str) -> str:
    """French label of a v1 thematic (``code`` itself when unknown)."""
    try:
        return v1.Thematique(code).label
    except ValueError:
        return code


def family_of(thematic: str) -> str:
    """Family key of a thematic code (``autres`` for an unknown one)."""
    fam = _BY_THEMATIC.get(thematic)
    if fam is None:
        fam = _BY_CATEGORY.get(thematic.split("--", 1)[0], "autres")
    return fam


def families_of(thematics: list[str] | tuple[str, ...] | None) -> list[str]:
    """Distinct family keys of some thematics, in :data:`FAMILIES` order (``autres`` when none)."""
    found = {family_of(t) for t in thematics or ()}
    if not found:
        return ["autres"]
    return [f for f in FAMILIES if f in found]


def family_label(key: str) -> str:
    """French label of a family key (with or without :data:`FAMILY_PREFIX`)."""
    return FAMILIES.get(key.removeprefix(FAMILY_PREFIX), key)
