"""The DAC's own table of local resources (patient associations, caregiver groups, local
social services no national source lists), kept by its data stewards.

The table is a CSV in the data·inclusion schema v1 (services), with a few extra columns for
what a local resource needs (see ``data/inclusion/modele_ressources_locales.csv`` and
``data/README.md``): ``structure_nom``, ``structure_siret`` (the structure's name and SIRET),
``contact_public`` (``oui`` to show the contact person and e-mail), ``finess`` (the FINESS
number when the resource is also an establishment), ``fictif`` (``oui`` for demo entries).

It lives outside the catalogue, so a refresh of the national sources never touches it; each
import reads it again (:func:`current_table`). It is a versioned steward table
(:mod:`dac_map.inclusion.tables`, :data:`LOCAL_RESOURCES`): in embedded mode the CSV file of the
setting ``INCLUSION_LOCAL_TABLE`` (previous file kept in ``<table>.versions/``, one journal line
per changed resource in ``<table>.journal.csv``: when, who, what, why); in server mode rows of
PostgreSQL with their versions, history and audit entries. :func:`save_rows` validates an edit
then saves it (optimistic version check, role ``referent_donnees``). :func:`export_schema`
writes it back as schema v1 ``services`` and ``structures`` JSON, so it can be contributed to
data·inclusion.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dac_map import settings
from dac_map.errors import InputFormatError
from dac_map.inclusion.reader import LIST_FIELDS, Located, ReadIssue, iter_csv, split_list
from dac_map.inclusion.tables import Snapshot, StewardTable, TableSpec, open_table
from dac_map.inclusion.validate import DeviationReport, Validator
from dac_map.server import auth

#: Columns of the steward table, in order (v1 service fields first).
TABLE_COLUMNS: tuple[str, ...] = (
    "id", "source", "structure_id", "structure_nom", "structure_siret", "nom", "description",
    "date_maj", "type", "thematiques", "frais", "frais_precisions", "publics",
    "publics_precisions", "conditions_acces", "adresse", "complement_adresse", "code_postal",
    "commune", "code_insee", "longitude", "latitude", "telephone", "courriel",
    "contact_nom_prenom", "contact_public", "modes_accueil", "zone_eligibilite",
    "modes_mobilisation", "mobilisable_par", "lien_mobilisation", "lien_source",
    "horaires_accueil", "finess", "fictif",
)
_TRUE = {"oui", "true", "1", "vrai", "yes", "o"}
_EXTRA = ("structure_nom", "structure_siret", "contact_public", "finess", "fictif")


@dataclass
class LocalTable:
    """The rows of the steward table (raw CSV values) and their validated forms; ``path`` names
    where they come from (the CSV file, or the PostgreSQL table)."""

    path: Path | str
    rows: list[dict]
    services: list[dict]
    structures: dict[str, dict]
    report: DeviationReport
    issues: list[ReadIssue]


def _bool(v: object) -> bool:
    return isinstance(v, str) and v.strip().lower() in _TRUE or v is True


def _unneutralised(v: object) -> object:
    """A cell as the steward typed it (the ``'`` the CSV writer put before a formula-like text
    removed: :func:`dac_map.tabular.neutralise` is undone exactly)."""
    from dac_map.tabular import neutralise

    if isinstance(v, str) and v[:1] == "'" and neutralise(v[1:]) == v:
        return v[1:]
    return v


def _record(row: dict) -> tuple[dict, dict]:
    """One table row -> (v1 service with extensions, v1 structure)."""
    row = {k: _unneutralised(v) for k, v in row.items()}
    svc = {k: v for k, v in row.items() if k not in _EXTRA and v not in (None, "")}
    svc.setdefault("source", "dac-local")
    svc.setdefault("structure_id", svc.get("id"))
    svc["contact_public"] = _bool(row.get("contact_public"))
    svc["fictif"] = _bool(row.get("fictif"))
    if row.get("finess"):
        svc["finess"] = str(row["finess"]).strip()
    struct = {"source": svc["source"], "id": svc["structure_id"],
              "nom": row.get("structure_nom") or svc.get("nom"), "date_maj": svc.get("date_maj"),
              "siret": row.get("structure_siret") or None}
    for k in ("adresse", "complement_adresse", "code_postal", "commune", "code_insee", "longitude",
              "latitude", "telephone"):
        if row.get(k):
            struct[k] = row[k]
    return svc, {k: v for k, v in struct.items() if v not in (None, "")}


def read_table(path: str | Path, *, strict: bool = False) -> LocalTable:
    """Read and validate the steward table's CSV file (tolerant unless ``strict``)."""
    issues: list[ReadIssue] = []
    return _validated(Path(path), iter_csv(path, issues), issues, strict=strict)


def _validated(path: Path | str, records, issues: list[ReadIssue], *, strict: bool) -> LocalTable:
    report = DeviationReport()
    sv = Validator("service", strict=strict, report=report)
    stv = Validator("structure", strict=strict, report=DeviationReport())
    rows, services, structures = [], [], {}
    for loc in records:
        rows.append(loc.record)
        svc, struct = _record(loc.record)
        ok = sv.validate(svc, path=str(path), index=loc.index, where=loc.where)
        if ok is None:
            continue
        if ok.get("finess") is None and svc.get("finess"):
            ok["finess"] = svc["finess"]
        services.append(ok)
        st = stv.validate(struct, path=str(path), index=loc.index, where=loc.where)
        if st is not None:
            structures[st["id"]] = st
    return LocalTable(path, rows, services, structures, report, issues)


def _csv_rows(path: Path) -> tuple[list[dict], list[str]]:
    """The CSV back-end's reader: rows (list columns split), unreadable lines."""
    issues: list[ReadIssue] = []
    rows = [loc.record for loc in iter_csv(path, issues)]
    return rows, [f"{i.where} : {i.message}" for i in issues]


#: The DAC's local resources as a versioned steward table (key ``id``, role ``referent_donnees``).
LOCAL_RESOURCES = TableSpec("ressources_locales", TABLE_COLUMNS, ("id",), "local_resources.write", _csv_rows,
                            lambda: Path(settings.INCLUSION_LOCAL_TABLE))


def local_store(location: str | Path | None = None) -> StewardTable:
    """The local-resources table of the current mode (PostgreSQL in server mode, else the CSV
    file ``location`` or ``INCLUSION_LOCAL_TABLE``)."""
    return open_table(LOCAL_RESOURCES, location)


def current_table(location: str | Path | None = None, *, strict: bool = False) -> LocalTable | None:
    """The local table as an import reads it (None when there is none yet)."""
    table = local_store(location)
    if isinstance(getattr(table, "path", None), Path):
        return read_table(table.path, strict=strict) if table.path.exists() else None
    snap = table.snapshot()
    if not snap.rows:
        return None
    records = [Located(i, f"ligne {i + 2}", i + 2, _clean_row(r)) for i, r in enumerate(snap.rows)]
    return _validated(f"{table.label} (ressources locales)", records, [], strict=strict)


def _clean_row(row: dict) -> dict:
    """A row as both back-ends store it and the CSV reader returns it: blanks as None, the
    writer's ``'`` undone, list columns as lists (``a|b`` cells split like a CSV's)."""
    out = {}
    for c in TABLE_COLUMNS:
        v = row.get(c)
        if isinstance(v, float) and v != v:
            v = None
        if isinstance(v, str):
            v = _unneutralised(v.strip())
            if c in LIST_FIELDS:
                v = split_list(v)
        out[c] = v if v not in ("", None, []) else None
    return out


def validate_rows(rows: Sequence[dict], where: str = "ressources locales") -> list[dict]:
    """The edited rows, cleaned and validated as a save requires (strict on required fields:
    a row the tolerant validator would reject refuses the whole save, naming line and field;
    an ``id`` missing or given twice too). Line numbers count the header as line 1."""
    new = [_clean_row(r) for r in rows if any(v not in (None, "") for v in r.values())]
    seen: set[str] = set()
    report = DeviationReport()
    validator = Validator("service", report=report)
    for n, row in enumerate(new, start=2):
        rid = row.get("id")
        if not rid:
            raise InputFormatError("every resource needs an 'id'", path=where, line=n, field="id")
        if rid in seen:
            raise InputFormatError(f"duplicate id {rid!r}", path=where, line=n, field="id")
        seen.add(rid)
        svc, _ = _record(row)
        if validator.validate(svc, path=where, index=n - 2, where=f"ligne {n}") is None:
            bad = [d for ds in report.examples.values() for d in ds if d.action == "rejeté"]
            field = bad[-1].field if bad else "*"
            msg = bad[-1].message if bad else "invalid row"
            raise InputFormatError(f"resource {rid!r}: {msg}", path=where, line=n, field=field)
    return new


def save_rows(table: StewardTable, base: Snapshot, rows: Sequence[dict], principal: auth.Principal, *,
              author: str | None = None, comment: str = "") -> list[str]:
    """Save the edit of ``base`` into ``rows``: role checked, rows validated, reason
    privacy-checked, only the rows still as read are written (else ``ConflictError``, nothing
    written). Returns the actions (``"ajout demo-80-x"``...); ``[]`` when nothing changed."""
    auth.authorize(principal, LOCAL_RESOURCES.action)
    new = validate_rows(rows, table.location)
    return [f"{c.action} {c.key}" for c in table.save(base, new, principal, author=author, comment=comment)]


def save_table(path: str | Path, rows: Sequence[dict], *, author: str, comment: str = "") -> list[str]:
    """Embedded shortcut (scripts, tests): replace the CSV table ``path`` by ``rows`` as the
    local user, against the table as it is now (:func:`save_rows`)."""
    table = local_store(Path(path))
    return save_rows(table, table.snapshot(), rows, auth.LOCAL, author=author, comment=comment)


def journal_path(path: str | Path) -> Path:
    """The journal beside a CSV table (``<table>.journal.csv``)."""
    path = Path(path)
    return path.with_name(path.stem + ".journal.csv")


def read_journal(path: str | Path) -> list[dict]:
    """The journal lines of a CSV table (oldest first); ``[]`` when none."""
    return local_store(Path(path)).history(limit=1_000_000)


def export_schema(table: LocalTable, folder: str | Path) -> dict[str, Path]:
    """Write ``services.json`` and ``structures.json`` (schema v1, extension fields removed)
    into ``folder``; returns the paths."""
    from data_inclusion.schema import v1

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    svc_fields = set(v1.Service.model_fields)
    services = []
    for s in table.services:
        out = {k: v for k, v in s.items() if k in svc_fields}
        if s.get("contact_public") is not True:
            out.pop("contact_nom_prenom", None)
            out.pop("courriel", None)
        services.append(out)
    paths = {"services": folder / "services.json", "structures": folder / "structures.json"}
    for key, data in (("services", services), ("structures", list(table.structures.values()))):
        tmp = paths[key].with_name(f".{paths[key].name}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, paths[key])
    return paths
