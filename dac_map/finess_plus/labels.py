"""Labels of the FINESS+ codes from the ANS code tables (TRE) shipped in
``data/nomenclatures/ans_tre/`` (see ``data/README.md`` for their sources and versions).

TRE_R392 (activity types) is only partial there. An activity type is the combination of its
nature and coded components (e.g. ``AMSR/358/16/700`` = social activity 358 "Soins infirmiers à
domicile", operating mode 16, public 700), so where R392 has no entry for a code its label is
built from the activity's own components and marked as *derived*.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from dac_map import settings

#: Folder of the shipped ANS code tables.
TRE_DIR = settings.DATA_DIR / "nomenclatures" / "ans_tre"

TRE_FILES: dict[str, str] = {
    "R241": "TRE_R241_AideFinanciere.csv",
    "R274": "TRE_R274_ActiviteSanitaireRegulee.csv",
    "R275": "TRE_R275_ModaliteActivite.csv",
    "R276": "TRE_R276_FormeActivite.csv",
    "R329": "TRE_R329_NatureCapacite.csv",
    "R330": "TRE_R330_TypeStatutCapacite.csv",
    "R347": "TRE_R347_activite-sanitaire-diverse-regulee.csv",
    "R392": "TRE_R392_type-act-smsse-regulee_PARTIEL.csv",
    "R397": "TRE_R397_categorie-entite-geographique-exercice.csv",
    "R401": "TRE_R401_activite-sociale-regulee.csv",
    "R403": "TRE_R403_public-activite-smsse-regulee.csv",
    "R404": "TRE_R404_mode-fonctionnement-activite-smsse-regulee.csv",
}

#: Natures of activity (``codeNature``; the data also say ``ASMR`` for ``AMSR``) with the
#: keys of their coded components in ``caracteristiquesSpecifiques.typeActivite<X>`` and the
#: TRE table of each (None: table not shipped, code kept without label). Order = R392 order.
NATURE_COMPONENTS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "ASR": (("activiteSanitaireRegulee", "R274"), ("modaliteActivite", "R275"), ("formeActivite", "R276")),
    "AASA": (("activiteSanitaireRegulee", "R274"), ("modaliteActivite", "R275"), ("formeActivite", "R276")),
    "AMF": (("activiteAMF", "R274"), ("modaliteActivite", "R275"), ("formeActivite", "R276")),
    "ASDR": (("activiteSanitaireDiverseRegulee", "R347"), ("modeFonctionnement", "R404"), ("public", "R403")),
    "ASOCR": (("activiteSocialeRegulee", "R401"), ("modeFonctionnement", "R404"), ("public", "R403")),
    "AMSR": (("activiteSocialeRegulee", "R401"), ("modeFonctionnement", "R404"), ("public", "R403")),
    "AER": (("activiteEnseignementRegulee", None), ("modeFonctionnement", "R404"), ("public", "R403")),
    "AMM": (("activiteAMM", None), ("modaliteAMM", None), ("mentionAMM", None), ("ptsAMM", None),
            ("declarationAMM", None)),
    "EML": (("typeEml", None),),
}

#: French names of the natures.
NATURE_LABELS: dict[str, str] = {
    "ASR": "Activité de soins soumise à autorisation",
    "AASA": "Autre activité de soins soumise à autorisation",
    "AMF": "Activité de soins (réforme des autorisations)",
    "ASDR": "Activité sanitaire diverse régulée",
    "ASOCR": "Activité sociale régulée",
    "AMSR": "Activité médico-sociale régulée",
    "AER": "Activité d'enseignement régulée",
    "AMM": "Activité de matériel médical lourd",
    "EML": "Équipement matériel lourd",
}

#: Nature aliases found in real files -> the schema's code.
NATURE_ALIASES = {"ASMR": "AMSR"}

#: Prefix of a nature in TRE_R392 labels (``AMF`` activities are ``AS/...`` there).
R392_PREFIX = {"AMF": "AS"}

#: Labels of the object states (TRE_R386 macro-states, as used by the flows).
STATE_LABELS = {"A": "actif", "I": "inactif"}

#: Component codes that mean "none" and are left out of a composed label.
_NONE_LABELS = ("pas de modalite", "pas de modalité", "pas de forme")


@dataclass(frozen=True)
class CodeTable:
    """One TRE table: code -> label, and the codes whose status is not ``active``."""

    name: str
    labels: dict[str, str]
    inactive: frozenset[str]

    def label(self, code: str | None) -> str | None:
        return None if code is None else self.labels.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self.labels


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f, delimiter=";")]


@dataclass(frozen=True)
class Labels:
    """Every shipped TRE table, plus TRE_R392 as code -> (nature, components)."""

    tables: dict[str, CodeTable]
    r392: dict[str, tuple[str, tuple[str, ...]]]

    def table(self, name: str) -> CodeTable:
        return self.tables[name]

    def component_label(self, table: str | None, code: str | None) -> str | None:
        """Label of a component code in its table (None when unknown or no table)."""
        if table is None or code is None or table not in self.tables:
            return None
        return self.tables[table].label(code)

    def type_label(self, nature: str, components: tuple[str | None, ...]) -> str:
        """Readable French label of an activity type from its nature and component codes:
        the labels of the components joined by `` · `` (``code X`` for an unknown one)."""
        spec = NATURE_COMPONENTS.get(nature, ())
        parts = []
        for i, code in enumerate(components):
            if code is None:
                continue
            table = spec[i][1] if i < len(spec) else None
            lab = self.component_label(table, code)
            if lab is not None and lab.lower().startswith(_NONE_LABELS):
                continue
            parts.append(lab if lab else f"code {code}")
        resolved = [c for i, c in enumerate(components) if c is not None
                    and self.component_label(spec[i][1] if i < len(spec) else None, c)]
        if not resolved:  # no shipped table for these components (AMM, EML...)
            codes = "/".join(c for c in components if c)
            return f"{NATURE_LABELS.get(nature, nature)} ({codes})" if codes else NATURE_LABELS.get(nature, nature)
        return " · ".join(parts)


def r392_key(nature: str, components: tuple[str | None, ...]) -> str:
    """The R392-style code path of an activity: ``AMSR/358/16/700``, ``AS/18/67/15`` (AMF)."""
    return "/".join([R392_PREFIX.get(nature, nature), *[c or "" for c in components]])


@functools.lru_cache(maxsize=4)
def load_labels(folder: str | None = None) -> Labels:
    """Read the TRE tables of ``folder`` (default :data:`TRE_DIR`). Cached."""
    base = Path(folder) if folder else TRE_DIR
    tables: dict[str, CodeTable] = {}
    r392: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, file in TRE_FILES.items():
        rows = _read(base / file)
        if name == "R392":
            for r in rows:
                comps = tuple(r.get(f"composante_{i}", "") for i in range(1, 6))
                while comps and not comps[-1]:
                    comps = comps[:-1]
                r392[r["code"]] = (r.get("nature", ""), comps)
            tables[name] = CodeTable(name, {r["code"]: r["libelle"] for r in rows}, frozenset())
            continue
        tables[name] = CodeTable(name, {r["code"]: r["libelle"] for r in rows},
                                 frozenset(r["code"] for r in rows if r.get("statut", "active") != "active"))
    return Labels(tables, r392)
