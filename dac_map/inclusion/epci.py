"""EPCI -> communes: the table that expands a data·inclusion ``zone_diffusion`` of type EPCI.

An EPCI (établissement public de coopération intercommunale à fiscalité propre: communauté de
communes, d'agglomération, urbaine, métropole) is named by its 9-digit SIREN. Its member
communes come from the official composition files:

* DGCL « Liste et composition des EPCI à fiscalité propre » (``epcicom<AAAA>.xlsx``, one row per
  member: ``siren``, ``raison_sociale``, ``nature_juridique``, ``insee``, ``nom_membre``; the
  source of BANATIC and of the shipped table);
* INSEE « Intercommunalités au 1er janvier » (``Intercommunalite_Metropole_au_01-01-AAAA.xlsx``,
  sheet ``Composition_communale``: ``CODGEO``, ``LIBGEO``, ``EPCI``, ``LIBEPCI``);
* geo.api.gouv.fr ``/communes?fields=code,nom,codeEpci,epci`` (JSON list of communes).

The table dac-map reads (:func:`read_epci_table`, setting ``INCLUSION_EPCI_TABLE``) is a CSV,
``;``-separated, UTF-8, one row per member commune::

    epci;nom_epci;nature;commune;nom_commune;absorbee_par

``absorbee_par`` is empty for a member; a row with a value there lists a commune code of an
older vintage (the boundaries shipped in ``data/geo`` are the 2018 COG) that has since merged
into the member ``absorbee_par`` (INSEE COG « mouvements des communes »): « Intervient à »
that old code then finds the EPCI of the commune that absorbed it. :func:`build_table` writes
it from an official file (``dac-map inclusion epci-table``), :func:`check_table` lists the
codes that do not match a set of communes (another vintage, another department).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dac_map import codes
from dac_map.errors import InputFormatError

#: Columns of the table dac-map reads and writes.
COLUMNS: tuple[str, ...] = ("epci", "nom_epci", "nature", "commune", "nom_commune", "absorbee_par")
_REQUIRED = ("epci", "commune")


def is_siren(text: str) -> bool:
    """Whether ``text`` is a 9-digit SIREN."""
    return len(text) == 9 and text.isdigit()


@dataclass(frozen=True)
class EpciTable:
    """EPCI SIREN -> member commune codes (older absorbed codes included), names, natures."""

    communes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    natures: Mapping[str, str] = field(default_factory=dict)
    #: older commune code -> the member commune that absorbed it
    absorbed: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def empty(cls) -> EpciTable:
        return cls()

    def __len__(self) -> int:
        return len(self.communes)

    def members(self) -> set[str]:
        """Every commune code of the table that is a current member (absorbed codes excluded)."""
        return {c for cs in self.communes.values() for c in cs} - set(self.absorbed)


def _check(epci: str, commune: str, name: str, line: int, fields: tuple[str, str]) -> None:
    """A SIREN and a commune code, or :class:`InputFormatError` naming file, line and field."""
    if not is_siren(epci):
        raise InputFormatError(f"SIREN d'EPCI invalide / invalid EPCI SIREN: {epci!r} (9 chiffres)",
                               path=name, line=line, field=fields[0])
    if not codes.is_commune(commune):
        raise InputFormatError(f"code INSEE de commune invalide / invalid commune code: {commune!r}",
                               path=name, line=line, field=fields[1])


_CACHE: dict[tuple[str, int, int, int], EpciTable] = {}


def read_epci_table(path: str | Path) -> EpciTable:
    """Read the table (see the module doc), once per file version (path, inode, size, mtime).

    Raises:
        InputMissingError: no such file.
        InputFormatError: a missing column, a SIREN that is not 9 digits, a malformed commune
            code, an empty name: the message names the file, the line and the field (a bad
            reference table is refused whole rather than half used).
    """
    from dac_map.errors import InputMissingError

    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise InputMissingError(f"table des EPCI introuvable / EPCI table not found ({exc.strerror})",
                                path=str(p)) from None
    key = (str(p.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    table = _CACHE.get(key)
    if table is None:
        table = _parse(p.read_bytes(), str(p))
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[key] = table
    return table


def _parse(data: bytes, name: str) -> EpciTable:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputFormatError("la table des EPCI doit être en UTF-8 / the EPCI table must be UTF-8",
                               path=name, line=line) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InputFormatError("fichier vide / empty file", path=name, line=1) from None
    except csv.Error as exc:
        raise InputFormatError(f"CSV illisible / unreadable CSV: {exc}", path=name, line=1) from None
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputFormatError(f"colonne manquante / missing column (attendu / expected: {';'.join(COLUMNS)})",
                               path=name, line=1, field=missing[0])
    col = {c: header.index(c) for c in COLUMNS if c in header}
    members: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    natures: dict[str, str] = {}
    absorbed: dict[str, str] = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(v.strip() for v in row):
                continue
            if len(row) != len(header):
                raise InputFormatError(f"{len(row)} champs au lieu de {len(header)} / {len(row)} fields "
                                       f"instead of {len(header)}", path=name, line=line)
            get = {c: row[i].strip() for c, i in col.items()}
            epci, commune = get["epci"], get["commune"].upper()
            _check(epci, commune, name, line, ("epci", "commune"))
            into = get.get("absorbee_par", "").upper()
            if into and not codes.is_commune(into):
                raise InputFormatError(f"code INSEE de commune invalide / invalid commune code: {into!r}",
                                       path=name, line=line, field="absorbee_par")
            members.setdefault(epci, []).append(commune)
            if get.get("nom_epci"):
                names.setdefault(epci, get["nom_epci"])
            if get.get("nature"):
                natures.setdefault(epci, get["nature"])
            if into:
                absorbed[commune] = into
    except csv.Error as exc:
        raise InputFormatError(f"CSV illisible / unreadable CSV: {exc}", path=name, line=reader.line_num) from None
    return EpciTable({e: tuple(dict.fromkeys(cs)) for e, cs in members.items()}, names, natures, absorbed,
                     source=Path(name).name)


# --------------------------------------------------------------------------- building from official files

@dataclass(frozen=True)
class Member:
    """One (EPCI, member commune) pair of an official file."""

    epci: str
    nom_epci: str
    nature: str
    commune: str
    nom_commune: str


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


#: Column names of the official layouts -> ours (lower-cased header -> field).
_LAYOUTS: tuple[dict[str, str], ...] = (
    {"siren": "epci", "raison_sociale": "nom_epci", "nature_juridique": "nature", "insee": "commune",
     "nom_membre": "nom_commune"},                                                      # DGCL epcicom
    {"epci": "epci", "libepci": "nom_epci", "nature_epci": "nature", "codgeo": "commune",
     "libgeo": "nom_commune"},                                                          # INSEE
    {"epci": "epci", "nom_epci": "nom_epci", "nature": "nature", "commune": "commune",
     "nom_commune": "nom_commune"},                                                     # ours
)


def _rows_to_members(header: list[str], rows: Iterable[list[object]], name: str, first_line: int
                     ) -> Iterator[Member]:
    low = [h.strip().lower() for h in header]
    for layout in _LAYOUTS:
        keys = [k for k, v in layout.items() if v in ("epci", "commune")]
        if all(k in low for k in keys):
            break
    else:
        raise InputFormatError("colonnes non reconnues / unrecognised columns: ni le fichier DGCL (siren, insee), "
                               "ni le fichier INSEE (EPCI, CODGEO), ni la table dac-map (epci, commune)",
                               path=name, line=first_line)
    pos = {v: low.index(k) for k, v in layout.items() if k in low}
    for n, row in enumerate(rows, start=first_line + 1):
        cells = [_cell(v) for v in row]
        if not any(cells):
            continue
        get = {f: (cells[i] if i < len(cells) else "") for f, i in pos.items()}
        if get["epci"] in ("", "ZZZZZZZZZ"):  # INSEE: commune in no EPCI (islands)
            continue
        epci = get["epci"].zfill(9) if get["epci"].isdigit() else get["epci"]
        commune = get["commune"].upper()
        if commune.isdigit() and len(commune) == 4:  # spreadsheet ate the leading zero (01xxx -> 1xxx)
            commune = commune.zfill(5)
        _check(epci, commune, name, n, ("siren/EPCI", "insee/CODGEO"))
        yield Member(epci, get.get("nom_epci", ""), get.get("nature", ""), commune, get.get("nom_commune", ""))


def read_official(path: str | Path) -> list[Member]:
    """The (EPCI, commune) pairs of an official file: DGCL ``epcicom`` (XLSX or CSV), INSEE
    « Intercommunalités » (XLSX: sheet ``Composition_communale``, header found below the title
    lines), geo.api.gouv.fr communes JSON, or a dac-map table."""
    p = Path(path)
    name = str(p)
    if not p.exists():
        from dac_map.errors import InputMissingError

        raise InputMissingError("fichier introuvable / file not found", path=name)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return _read_geo_api(p)
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
            raise InputFormatError(f"classeur XLSX illisible / unreadable XLSX: {exc}", path=name) from None
        sheet = wb["Composition_communale"] if "Composition_communale" in wb.sheetnames else wb.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        for i, row in enumerate(rows, start=1):  # INSEE files have a few title lines first
            low = {_cell(v).lower() for v in row}
            if {"siren", "insee"} <= low or {"epci", "codgeo"} <= low or {"epci", "commune"} <= low:
                return list(_rows_to_members([_cell(v) for v in row], rows, f"{name} [{sheet.title}]", i))
            if i > 30:
                break
        raise InputFormatError("en-tête introuvable / header not found (siren+insee ou EPCI+CODGEO)",
                               path=f"{name} [{sheet.title}]", line=1)
    from dac_map.etl.parser import read_text

    text, _ = read_text(p)
    lines = text.lstrip("\ufeff").splitlines()
    if not lines:
        raise InputFormatError("fichier vide / empty file", path=name, line=1)
    sep = ";" if lines[0].count(";") >= lines[0].count(",") else ","
    reader = csv.reader(lines, delimiter=sep)
    header = next(reader)
    return list(_rows_to_members(header, reader, name, 1))


def _read_geo_api(p: Path) -> list[Member]:
    name = str(p)
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFormatError(f"JSON illisible / unreadable JSON: {exc}", path=name) from None
    if not isinstance(data, list):
        raise InputFormatError("liste de communes attendue / expected a list of communes", path=name)
    out = []
    for i, c in enumerate(data):
        where = f"{name} $[{i}]"
        if not isinstance(c, dict):
            raise InputFormatError("objet commune attendu / expected a commune object", path=where)
        epci = str(c.get("codeEpci") or "")
        if not epci:
            continue
        code = str(c.get("code") or "").upper()
        if not is_siren(epci):
            raise InputFormatError(f"SIREN d'EPCI invalide / invalid EPCI SIREN: {epci!r}", path=where, field="codeEpci")
        if not codes.is_commune(code):
            raise InputFormatError(f"code INSEE invalide / invalid commune code: {code!r}", path=where, field="code")
        e = c.get("epci") if isinstance(c.get("epci"), dict) else {}
        out.append(Member(epci, str(e.get("nom") or ""), str(e.get("type") or ""), code, str(c.get("nom") or "")))
    return out


def select(members: Iterable[Member], departments: Iterable[str]) -> list[Member]:
    """Every member of the EPCIs that have at least one commune in ``departments`` (EPCIs
    straddling a border keep their communes of the neighbouring department)."""
    members = list(members)
    deps = set(departments)
    wanted = {m.epci for m in members if codes.department_of(m.commune) in deps} if deps else {m.epci for m in members}
    return [m for m in members if m.epci in wanted]


def bridge(members: list[Member], known: Iterable[str], successors) -> list[tuple[Member, str]]:
    """Rows for the ``known`` commune codes (an older vintage, e.g. the shipped boundaries) that
    are no member: those the INSEE moves table (:class:`dac_map.territories.vintages.Successors`)
    says were absorbed by a member -> ``(member row with the old code, absorbing member)``."""
    by_commune: dict[str, list[Member]] = {}
    for m in members:
        by_commune.setdefault(m.commune, []).append(m)
    out = []
    for old in sorted(set(known) - set(by_commune)):
        for new in successors.latest(old, set(by_commune)):
            for m in by_commune.get(new, ()):
                out.append((Member(m.epci, m.nom_epci, m.nature, old, successors.names.get(old, "")), new))
    return out


def build_table(members: list[Member], bridged: list[tuple[Member, str]], target: str | Path) -> Path:
    """Write the table (through :mod:`dac_map.tabular`, atomically), sorted by EPCI then commune."""
    from dac_map import tabular

    rows = [(m.epci, m.nom_epci, m.nature, m.commune, m.nom_commune, "") for m in members]
    rows += [(m.epci, m.nom_epci, m.nature, m.commune, m.nom_commune, new) for m, new in bridged]
    rows = sorted(set(rows), key=lambda r: (r[0], r[5] != "", r[3]))
    return tabular.write_csv(target, rows, header=list(COLUMNS))


@dataclass(frozen=True)
class TableCheck:
    """How a table matches a set of commune codes (e.g. the catalogue's, 2018 vintage)."""

    epcis: int
    members: int
    #: members in the departments of ``communes`` that ``communes`` does not know (vintage gap)
    unknown_in_departments: tuple[str, ...]
    #: members in other departments (EPCIs straddling a border)
    outside_departments: int
    #: ``communes`` in no EPCI of the table (and not bridged)
    communes_without_epci: tuple[str, ...]
    bridged: int

    def lines(self) -> list[str]:
        """French summary lines."""
        out = [f"{self.epcis} EPCI, {self.members} communes membres ; {self.bridged} anciens codes "
               f"rattachés à la commune qui les a absorbés."]
        if self.outside_departments:
            out.append(f"{self.outside_departments} communes membres hors des départements du catalogue "
                       f"(EPCI d'autres départements, ou à cheval sur deux départements) : non vérifiées.")
        if self.unknown_in_departments:
            out.append(f"{len(self.unknown_in_departments)} codes membres inconnus des contours (millésime "
                       f"différent) : {', '.join(self.unknown_in_departments[:20])}")
        if self.communes_without_epci:
            out.append(f"{len(self.communes_without_epci)} communes des contours dans aucun EPCI de la table : "
                       f"{', '.join(self.communes_without_epci[:20])}")
        return out


def check_table(table: EpciTable, communes: Iterable[str]) -> TableCheck:
    """Compare the table with commune codes (e.g. the store's boundaries)."""
    known = set(communes)
    deps = {codes.department_of(c) for c in known}
    members = table.members()
    listed = {c for cs in table.communes.values() for c in cs}
    return TableCheck(
        epcis=len(table), members=len(members),
        unknown_in_departments=tuple(sorted(c for c in members - known if codes.department_of(c) in deps)),
        outside_departments=sum(1 for c in members if codes.department_of(c) not in deps),
        communes_without_epci=tuple(sorted(known - listed)),
        bridged=len(table.absorbed))
