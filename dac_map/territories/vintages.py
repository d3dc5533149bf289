"""Commune vintages: successors of INSEE commune codes that no longer exist.

Communes merge every year (``communes nouvelles``); a territory saved with an old code must say
which commune replaced it. INSEE publishes the changes as the COG table "mouvements des
communes" (``mvtcommune_AAAA.csv``: ``MOD, DATE_EFF, TYPECOM_AV, COM_AV, TNCC_AV, NCC_AV,
NCCENR_AV, LIBELLE_AV, TYPECOM_AP, COM_AP, ..., LIBELLE_AP``). No open Python package was found
that ships this table, so dac-map ships none: point the setting ``COMMUNE_MOVES`` at a
downloaded copy to get successors; without it an unknown code is reported as unknown.

:func:`read_moves` reads that layout; :class:`Successors` follows chains (A merged into B, B
into C -> C) and keeps every successor of a split.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from dac_map.codes import COMMUNE_RE
from dac_map.errors import InputFormatError
from dac_map.etl.parser import read_text

#: COG change codes that end a commune code in favour of another one: 21 rétablissement (split),
#: 30-34 fusions / communes nouvelles, 41 change of code (department change), 50 change of
#: code (commune nouvelle), 70 transfer of chef-lieu. Name changes (10) keep the code.
ENDING_MODS = frozenset({"21", "30", "31", "32", "33", "34", "41", "50", "70"})
_REQUIRED = ("MOD", "DATE_EFF", "TYPECOM_AV", "COM_AV", "TYPECOM_AP", "COM_AP")


@dataclass
class Successors:
    """Old commune code -> codes that replaced it (direct moves), with names and dates."""

    moves: dict[str, set[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    dates: dict[tuple[str, str], str] = field(default_factory=dict)
    source: str = ""

    def __bool__(self) -> bool:
        return bool(self.moves)

    def latest(self, code: str, current: set[str] | None = None) -> list[str]:
        """Codes that replace ``code`` today (chains followed, cycles cut). With ``current``
        (the codes known to exist), stop at the first known code."""
        out: set[str] = set()
        seen = {code}
        todo = list(self.moves.get(code, ()))
        while todo:
            c = todo.pop()
            if c in seen:
                continue
            seen.add(c)
            nxt = set() if current is not None and c in current else self.moves.get(c, set()) - seen
            if nxt:
                todo.extend(nxt)
            else:
                out.add(c)
        return sorted(out)


def read_moves(path: str | Path) -> Successors:
    """Read an INSEE ``mvtcommune`` CSV (``,`` or ``;``). Missing columns raise
    :class:`InputFormatError`; unusable rows are skipped."""
    text, _ = read_text(path)
    lines = text.lstrip("\ufeff").splitlines()
    if not lines:
        raise InputFormatError("fichier vide / empty file", path=str(path), line=1)
    sep = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.DictReader(lines, delimiter=sep)
    header = [h.strip().upper() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputFormatError(f"colonne(s) manquante(s) / missing column(s): {', '.join(missing)}",
                               path=str(path), line=1, field=missing[0])
    out = Successors(source=Path(path).name)
    for row in reader:
        mod = (row.get("MOD") or "").strip()
        av, ap = (row.get("COM_AV") or "").strip(), (row.get("COM_AP") or "").strip()
        if (row.get("TYPECOM_AV") or "").strip() != "COM" or (row.get("TYPECOM_AP") or "").strip() != "COM":
            continue
        if not (COMMUNE_RE.fullmatch(av) and COMMUNE_RE.fullmatch(ap)):
            continue
        out.names.setdefault(ap, (row.get("LIBELLE_AP") or "").strip())
        out.names.setdefault(av, (row.get("LIBELLE_AV") or "").strip())
        if av == ap or mod not in ENDING_MODS:
            continue
        out.moves.setdefault(av, set()).add(ap)
        out.dates[(av, ap)] = (row.get("DATE_EFF") or "").strip()
    return out


def load_moves(path: str | Path | None) -> Successors:
    """The moves table at ``path`` (the ``COMMUNE_MOVES`` setting), or an empty one."""
    if not path or not Path(path).exists():
        return Successors()
    return read_moves(path)
