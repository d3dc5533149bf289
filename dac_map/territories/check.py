"""Checks of a territory table against the commune reference: overlaps (communes claimed by two
territories), gaps (communes of a department in no territory), unknown codes (with their
successor when the COG moves table is available) and DACs missing from the directory; and the
one rule that picks the DAC of a commune.

Pure functions on plain data: the communes come as a ``code -> name`` mapping (from the store's
``communes`` layer or the boundary files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dac_map.codes import department_of
from dac_map.territories.model import Territory
from dac_map.territories.vintages import Successors


@dataclass(frozen=True)
class CommuneReference:
    """The communes known to exist (INSEE code -> name), grouped by department."""

    names: Mapping[str, str]
    vintage: str = ""

    @property
    def by_department(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for code in sorted(self.names):
            out.setdefault(department_of(code), []).append(code)
        return out


@dataclass(frozen=True)
class Overlap:
    commune: str
    name: str
    territories: tuple[str, ...]


@dataclass(frozen=True)
class Gap:
    department: str
    commune: str
    name: str


@dataclass(frozen=True)
class UnknownCode:
    territory: str
    code: str
    kind: str  # "commune" | "departement"
    successors: tuple[str, ...] = ()
    successor_names: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        what = "commune" if self.kind == "commune" else "département"
        if self.successors:
            repl = ", ".join(f"{c} {n}".strip() for c, n in zip(self.successors, self.successor_names))
            return (f"{self.territory} : {what} {self.code} n'existe plus ; remplacée par {repl} / "
                    f"code no longer exists, replaced by {', '.join(self.successors)}")
        return (f"{self.territory} : {what} {self.code} inconnu(e) du référentiel des communes ; "
                "successeur inconnu / unknown code, successor unknown")


@dataclass
class CheckReport:
    """Everything :func:`check_territories` found. ``departments_without_reference``: departments
    whose communes are unknown (no gap check possible there)."""

    overlaps: list[Overlap] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    unknown: list[UnknownCode] = field(default_factory=list)
    missing_dacs: list[tuple[str, str]] = field(default_factory=list)
    departments_without_reference: list[str] = field(default_factory=list)
    moves_available: bool = False

    @property
    def ok(self) -> bool:
        return not (self.overlaps or self.gaps or self.unknown or self.missing_dacs)

    def lines(self) -> list[str]:
        """French summary, one finding per line."""
        out = []
        for o in self.overlaps:
            out.append(f"Chevauchement : {o.commune} {o.name} est revendiquée par "
                       f"{' et '.join(o.territories)}")
        by_dep: dict[str, list[Gap]] = {}
        for g in self.gaps:
            by_dep.setdefault(g.department, []).append(g)
        for dep, gaps in by_dep.items():
            sample = ", ".join(f"{g.commune} {g.name}" for g in gaps[:8])
            more = f" (+{len(gaps) - 8})" if len(gaps) > 8 else ""
            out.append(f"Trou : {len(gaps)} commune(s) du département {dep} dans aucun territoire : "
                       f"{sample}{more}")
        out.extend(u.message for u in self.unknown)
        for tid, finess in self.missing_dacs:
            out.append(f"{tid} : le DAC FINESS {finess} n'est pas dans l'annuaire (catégorie 606) "
                       "des données chargées")
        if self.departments_without_reference:
            deps = self.departments_without_reference
            out.append(f"{len(deps)} département(s) sans limites de communes chargées, trous non "
                       f"vérifiés : {', '.join(deps[:12])}{' ...' if len(deps) > 12 else ''}")
        if self.unknown and not self.moves_available:
            out.append("Table INSEE des mouvements de communes non fournie (réglage COMMUNE_MOVES) : "
                       "les successeurs des codes disparus ne peuvent pas être indiqués.")
        return out


def claims(territories: Iterable[Territory], reference: CommuneReference | None = None
           ) -> dict[str, list[tuple[str, bool]]]:
    """Commune -> territories claiming it, as ``(territory id, explicit)`` (``explicit`` = the
    commune is listed; otherwise it comes from a listed department)."""
    by_dep = reference.by_department if reference is not None else {}
    out: dict[str, list[tuple[str, bool]]] = {}
    for t in territories:
        for c in t.communes:
            out.setdefault(c, []).append((t.id, True))
        for d in t.departments:
            for c in by_dep.get(d, ()):
                if c not in t.communes:
                    out.setdefault(c, []).append((t.id, False))
    return out


def primary_dac(commune: str, territories: Iterable[Territory]) -> list[str]:
    """Ids of the territories covering ``commune``, the one that answers first: a territory
    listing the commune wins over one listing its department; ties keep the table order."""
    explicit, by_department = [], []
    dep = department_of(commune)
    for t in territories:
        if commune in t.communes:
            explicit.append(t.id)
        elif dep in t.departments:
            by_department.append(t.id)
    return explicit + by_department


def check_territories(territories: list[Territory], reference: CommuneReference,
                      moves: Successors | None = None, directory_finess: Iterable[str] | None = None,
                      departments: Iterable[str] | None = None) -> CheckReport:
    """Overlaps, gaps, unknown codes, DACs absent from the directory.

    Gaps are looked for in ``departments`` (default: every department a territory touches).
    ``directory_finess``: FINESS numbers of the DAC directory (None = not checked)."""
    report = CheckReport(moves_available=bool(moves))
    names = reference.names
    by_dep = reference.by_department
    for code, who in sorted(claims(territories, reference).items()):
        ids = tuple(dict.fromkeys(t for t, _ in who))
        if len(ids) > 1:
            report.overlaps.append(Overlap(code, names.get(code, ""), ids))
    covered = set(claims(territories, reference))
    touched = set(departments) if departments is not None else (
        {d for t in territories for d in t.departments}
        | {department_of(c) for t in territories for c in t.communes})
    for dep in sorted(touched):
        if dep not in by_dep:
            report.departments_without_reference.append(dep)
            continue
        for code in by_dep[dep]:
            if code not in covered:
                report.gaps.append(Gap(dep, code, names.get(code, "")))
    current = set(names)
    for t in territories:
        for c in t.communes:
            if c not in current and department_of(c) in by_dep:
                succ = tuple(moves.latest(c, current)) if moves else ()
                report.unknown.append(UnknownCode(
                    t.id, c, "commune", succ,
                    tuple(names.get(s) or (moves.names.get(s, "") if moves else "") for s in succ)))
    if directory_finess is not None:
        known = set(directory_finess)
        report.missing_dacs = [(t.id, t.finess) for t in territories if t.finess and t.finess not in known]
    return report
