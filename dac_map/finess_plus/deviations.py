"""The deviation report of a FINESS+ read: what in a file departs from its published schema
or from what dac-map can use, counted per kind, with the first examples and their JSON path.

Nothing here raises: a deviation is either *kept* (the value was repaired, normalised or
blanked and the object loaded) or *skipped* (the object, e.g. one capacity or one activity, was
left out). File-level problems are exceptions (:class:`~dac_map.errors.InputFormatError`),
not deviations.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dac_map.errors import KEPT, SKIPPED, RowIssue

#: French description of each kind of deviation (the report lists unknown kinds as they are).
KINDS: dict[str, str] = {
    "explicit_null": "valeur null explicite là où le schéma attend une chaîne (traitée comme absente)",
    "extra_field": "champ absent du schéma (ignoré)",
    "nature_asmr": "codeNature « ASMR » dans les données, « AMSR » dans le schéma (normalisé en AMSR)",
    "metadata_missing": "objet « metadata » de premier niveau absent (exigé par le schéma)",
    "coordinates_swapped": "Lambert-93 : coordonneeX porte l'ordonnée et coordonneeY l'abscisse (inversées, "
                           "vérifié par directionLatitude/Longitude)",
    "coordinates_disagree": "Lambert-93 et latitude/longitude en désaccord (latitude/longitude retenues)",
    "coordinates_unverified": "Lambert-93 sans latitude/longitude pour vérifier l'ordre des axes",
    "coordinates_missing": "adresse sans coordonnées (placée au centre de sa commune si connu)",
    "coordinates_invalid": "coordonnée non numérique ou hors de France (ignorée)",
    "activity_id_missing": "activité sans activiteAeId (identifiant construit à partir de sa position)",
    "unknown_code": "code absent de sa table de nomenclature (gardé sans libellé)",
    "type_derived": "type d'activité (TRE_R392) absent de la table partielle : libellé construit à partir des "
                    "composantes de l'activité",
    "type_mismatch": "composantes de l'activité différentes de celles de son type TRE_R392",
    "invalid_finess": "numéro FINESS mal formé",
    "invalid_date": "date invalide (ignorée)",
    "invalid_number": "capacité non numérique (capacité ignorée)",
    "invalid_commune": "code commune mal formé dans une zone d'intervention (ignoré)",
    "unknown_commune": "code commune inconnu des limites chargées pour son département (ignoré)",
    "duplicate_commune": "commune répétée dans une zone d'intervention (gardée une fois)",
    "duplicate_finess": "numéro FINESS déjà vu dans le flux (première occurrence gardée)",
    "unknown_state": "état (etatObjet) inconnu (gardé tel quel)",
    "unknown_establishment": "établissement des Activités absent du flux Structures (ajouté sans position)",
    "establishment_moved_entity": "établissement rattaché à une autre entité juridique que dans Structures",
    "not_an_object": "élément qui n'est pas un objet JSON (ignoré)",
    "missing_field": "champ obligatoire absent (objet ignoré)",
    "schema": "non conforme au schéma publié (mode strict)",
    "source_difference": "FINESS+ et l'extrait etalab diffèrent (FINESS+ retenu)",
    "zone_without_establishment": "zone d'intervention d'une autorisation exercée par aucun établissement connu",
}


@dataclass(frozen=True)
class Deviation:
    """One deviation: its kind, the file, the JSON path of the value, a message, what was done."""

    kind: str
    file: str
    path: str
    message: str
    action: str = KEPT

    def as_row_issue(self) -> RowIssue:
        """The deviation as an ETL :class:`~dac_map.errors.RowIssue` (``field`` = JSON path)."""
        return RowIssue(self.file, 0, self.path, f"{self.kind}: {self.message}", self.action)

    def __str__(self) -> str:
        return f"{self.file}, {self.path}: {self.message} ({self.action})"


@dataclass
class DeviationReport:
    """Counts per kind (and per action), the first ``max_examples`` examples of each kind, and
    every skipped object up to ``max_skipped``."""

    max_examples: int = 5
    max_skipped: int = 10_000
    counts: Counter = field(default_factory=Counter)
    skipped_counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[Deviation]] = field(default_factory=dict)
    skipped: list[Deviation] = field(default_factory=list)
    #: facts about each file read: flow, schema version, generation time, item counts
    files: dict[str, dict[str, object]] = field(default_factory=dict)
    #: kinds whose examples are complete (hot paths then only count)
    full: set[str] = field(default_factory=set)

    def add(self, kind: str, file: str, path: str, message: str, action: str = KEPT,
            count: int = 1) -> None:
        """Record ``count`` deviations of ``kind`` (one example kept)."""
        self.counts[kind] += count
        ex = self.examples.setdefault(kind, [])
        dev = None
        if len(ex) < self.max_examples:
            dev = Deviation(kind, file, path, message, action)
            ex.append(dev)
            if len(ex) >= self.max_examples:
                self.full.add(kind)
        if action == SKIPPED:
            self.skipped_counts[kind] += count
            if len(self.skipped) < self.max_skipped:
                self.skipped.append(dev or Deviation(kind, file, path, message, action))

    def wants(self, kind: str) -> bool:
        """Whether an example of ``kind`` would still be kept (callers skip building messages
        otherwise and only :meth:`count`)."""
        return kind not in self.full

    def count(self, kind: str, n: int = 1) -> None:
        """Count ``n`` kept deviations of ``kind`` without an example."""
        self.counts[kind] += n

    def merge(self, other: DeviationReport) -> None:
        """Add the counts, examples and skipped objects of ``other``."""
        for kind, n in other.counts.items():
            self.counts[kind] += n
            ex = self.examples.setdefault(kind, [])
            ex.extend(other.examples.get(kind, [])[: max(0, self.max_examples - len(ex))])
        self.skipped_counts.update(other.skipped_counts)
        self.skipped.extend(other.skipped[: max(0, self.max_skipped - len(self.skipped))])
        self.files.update(other.files)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: ``files``, ``counts`` (kind -> {count, skipped, description}),
        ``examples`` (kind -> list of {file, path, message, action})."""
        return {
            "files": self.files,
            "counts": {k: {"count": n, "skipped": self.skipped_counts.get(k, 0),
                           "description": KINDS.get(k, k)}
                       for k, n in sorted(self.counts.items())},
            "examples": {k: [{"file": d.file, "path": d.path, "message": d.message, "action": d.action}
                             for d in v] for k, v in sorted(self.examples.items())},
            "skipped": [{"kind": d.kind, "file": d.file, "path": d.path, "message": d.message}
                        for d in self.skipped],
        }

    def write(self, path: str | Path) -> Path:
        """Write the report as JSON (UTF-8) to ``path`` (through a temporary file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)
        return path

    def summary_lines(self) -> list[str]:
        """One French line per kind: ``"12 × explicit_null : ... (3 ignorés)"``."""
        lines = []
        for kind, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            sk = self.skipped_counts.get(kind, 0)
            extra = f" ({sk} ignoré{'s' if sk > 1 else ''})" if sk else ""
            ex = self.examples.get(kind)
            where = f" — ex. {ex[0].path}" if ex else ""
            lines.append(f"{n} × {kind} : {KINDS.get(kind, kind)}{extra}{where}")
        return lines
