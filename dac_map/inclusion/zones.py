"""Intervention areas: ``zone_eligibilite`` codes (v1) or ``zone_diffusion`` (2024) as INSEE
commune codes, the form the "Intervient à <commune>" filter understands.

A zone code is a commune (5 characters), a department (2-3), an EPCI (9-digit SIREN), a
country (``99xxx``) or ``france``. :class:`ZoneExpander` turns a list of codes into the set of
commune codes it covers, with the communes table of the catalogue (commune -> department). An
EPCI is expanded with the EPCI -> communes table (:func:`epci_table`: the file of the setting
``INCLUSION_EPCI_TABLE``, by default the official DGCL composition shipped for the demo
departments, ``data/geo/epci_communes_01_46_80.csv``; ``dac-map inclusion epci-table`` rebuilds
it from a newer official file, :mod:`dac_map.inclusion.epci`); an EPCI missing from the table is
kept as an unexpanded code and reported. ``france`` / ``99100`` means everywhere
(:attr:`Zone.national`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: INSEE regions (2016 map) -> departments (Code officiel géographique, public data).
REGION_DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "01": ("971",), "02": ("972",), "03": ("973",), "04": ("974",), "06": ("976",),
    "11": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "24": ("18", "28", "36", "37", "41", "45"),
    "27": ("21", "25", "39", "58", "70", "71", "89", "90"),
    "28": ("14", "27", "50", "61", "76"),
    "32": ("02", "59", "60", "62", "80"),
    "44": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),
    "52": ("44", "49", "53", "72", "85"),
    "53": ("22", "29", "35", "56"),
    "75": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),
    "76": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    "84": ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),
    "93": ("04", "05", "06", "13", "83", "84"),
    "94": ("2A", "2B"),
}

_COMMUNE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_DEPARTMENT = re.compile(r"^(\d{2}|2[AB]|97\d)$")
_EPCI = re.compile(r"^\d{9}$")
_COUNTRY = re.compile(r"^99\d{3}$")


def code_kind(code: str) -> str:
    """``commune``, ``departement``, ``epci``, ``pays``, ``france`` or ``inconnu``."""
    if code == "france" or code == "99100":
        return "france"
    if _COUNTRY.match(code):
        return "pays"
    if _COMMUNE.match(code):
        return "commune"
    if _DEPARTMENT.match(code):
        return "departement"
    if _EPCI.match(code):
        return "epci"
    return "inconnu"


@dataclass(frozen=True)
class Zone:
    """What a list of zone codes covers: ``communes`` (INSEE codes, departments and known EPCIs
    expanded), ``national`` (everywhere), ``unexpanded`` (EPCI codes with no composition
    known, unknown codes) and a French ``label``."""

    communes: frozenset[str] = frozenset()
    national: bool = False
    unexpanded: tuple[str, ...] = ()
    label: str = ""


@dataclass
class ZoneExpander:
    """Zone codes -> communes and French labels.

    Args:
        commune_departments: commune code -> department code (the catalogue's communes).
        epci_communes: EPCI SIREN -> commune codes (optional).
        commune_names / department_names / epci_names: for the French label of a zone.
    """

    commune_departments: Mapping[str, str] = field(default_factory=dict)
    epci_communes: Mapping[str, Iterable[str]] = field(default_factory=dict)
    commune_names: Mapping[str, str] = field(default_factory=dict)
    department_names: Mapping[str, str] = field(default_factory=dict)
    epci_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_dep: dict[str, set[str]] = {}
        for c, d in self.commune_departments.items():
            by_dep.setdefault(d, set()).add(c)
        self._by_department = {d: frozenset(cs) for d, cs in by_dep.items()}
        self._labels: dict[tuple[str, ...], Zone] = {}

    def describe(self, codes: Iterable[str] | None) -> Zone:
        """The zone without its commune set (label, national, unexpanded): cheap, cached."""
        key = tuple(codes or ())
        zone = self._labels.get(key)
        if zone is None:
            full = self.expand(key)
            zone = Zone(frozenset(), full.national, full.unexpanded, full.label)
            if len(self._labels) < 100_000:
                self._labels[key] = zone
        return zone

    def expand(self, codes: Iterable[str] | None) -> Zone:
        """The communes the codes cover (departments and known EPCIs expanded)."""
        communes: set[str] = set()
        unexpanded: list[str] = []
        labels: list[str] = []
        national = False
        for code in codes or ():
            kind = code_kind(code)
            if kind == "france":
                national = True
                labels.append("France entière")
            elif kind == "commune":
                communes.add(code)
                labels.append(self.commune_names.get(code, f"commune {code}"))
            elif kind == "departement":
                communes |= self._by_department.get(code, frozenset())
                name = self.department_names.get(code)
                labels.append(f"{name} ({code})" if name else f"département {code}")
            elif kind == "epci":
                members = self.epci_communes.get(code)
                if members is None:
                    unexpanded.append(code)
                    labels.append(f"EPCI {code} (communes non connues)")
                else:
                    communes.update(members)
                    name = self.epci_names.get(code)
                    labels.append(f"{name} (EPCI {code})" if name else f"EPCI {code}")
            else:
                unexpanded.append(code)
                labels.append(code)
        return Zone(frozenset(communes), national, tuple(unexpanded), ", ".join(labels))


def epci_table(path: str | Path | None = None):
    """The EPCI -> communes table of ``path`` (default: the setting ``INCLUSION_EPCI_TABLE``;
    none when it is empty), read once per file version. See :func:`dac_map.inclusion.epci.read_epci_table`."""
    from dac_map import settings
    from dac_map.inclusion.epci import EpciTable, read_epci_table

    path = settings.INCLUSION_EPCI_TABLE if path is None else path
    if not str(path):
        return EpciTable.empty()
    return read_epci_table(path)
