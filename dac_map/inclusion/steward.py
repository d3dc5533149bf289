"""The DAC's own table of local resources (patient associations, caregiver groups, local
social services no national source lists), kept by its data stewards.

The table is a CSV in the data·inclusion schema v1 (services), with a few extra columns for
what a local resource needs (see ``data/inclusion/modele_ressources_locales.csv`` and
``data/README.md``): ``structure_nom``, ``structure_siret`` (the structure's name and SIRET),
``contact_public`` (``oui`` to show the contact person and e-mail), ``finess`` (the FINESS
number when the resource is also an establishment), ``fictif`` (``oui`` for demo entries).

It lives outside the store (setting ``INCLUSION_LOCAL_TABLE``), so a refresh of the national
sources never touches it; each import reads it again. Every save (:func:`save_table`) is
versioned: the previous file is kept in ``<table>.versions/`` and one line per changed
resource is appended to ``<table>.journal.csv`` (when, who, what: added / modified (fields) /
deleted). :func:`export_schema` writes it back as schema v1 ``services`` and ``structures``
JSON, so it can be contributed to data·inclusion.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dac_map.errors import InputFormatError
from dac_map.inclusion.reader import LIST_FIELDS, iter_csv, ReadIssue
from dac_map.inclusion.validate import DeviationReport, Validator

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
JOURNAL_HEADER = ("horodatage_utc", "auteur", "action", "id", "champs", "commentaire")
_TRUE = {"oui", "true", "1", "vrai", "yes", "o"}
_EXTRA = ("structure_nom", "structure_siret", "contact_public", "finess", "fictif")


@dataclass
class LocalTable:
    """The rows of the steward table (raw CSV values) and their validated forms."""

    path: Path
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
    """Read and validate the steward table (tolerant unless ``strict``)."""
    path = Path(path)
    issues: list[ReadIssue] = []
    report = DeviationReport()
    sv = Validator("service", strict=strict, report=report)
    stv = Validator("structure", strict=strict, report=DeviationReport())
    rows, services, structures = [], [], {}
    for loc in iter_csv(path, issues):
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


def _text(value: object) -> object:
    """A cell value for the CSV writer: lists as ``a|b`` (the table's list syntax)."""
    if isinstance(value, (list, tuple, set)):
        return "|".join(str(v) for v in value)
    return value


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """The table's CSV (``;``, UTF-8 with BOM, decimal point as the schema wants) through
    :mod:`dac_map.tabular`, the one writer (formula-like cells neutralised, atomic)."""
    from dac_map.tabular import write_csv as tabular_csv

    tabular_csv(path, [[_text(v) for v in r] for r in rows], header, decimal=".")


def _clean_row(row: dict) -> dict:
    out = {}
    for c in TABLE_COLUMNS:
        v = row.get(c)
        if isinstance(v, float) and v != v:
            v = None
        if isinstance(v, str):
            v = _unneutralised(v.strip())
        out[c] = v if v not in ("", None) else None
    return out


def save_table(path: str | Path, rows: Sequence[dict], *, author: str, comment: str = "") -> list[str]:
    """Replace the steward table by ``rows`` after validating them (strict on required fields:
    a row the tolerant validator would reject refuses the whole save, naming row and field).
    Keeps the previous version and journals the changes; returns the journal lines' actions.

    Raises :class:`~dac_map.errors.InputFormatError` (nothing written) on an invalid row or a
    duplicate ``id``.
    """
    from dac_map import privacy
    from dac_map.tabular import csv_bytes

    path = Path(path)
    author = (author or "").strip()
    if not author:
        raise InputFormatError("a save needs the steward's name (auteur)", path=str(path), field="auteur")
    # the reason goes into the journal: no patient-identifying data there
    comment = privacy.check_free_text(comment, field="motif", max_length=500)
    new = [_clean_row(r) for r in rows if any(v not in (None, "") for v in r.values())]
    seen: set[str] = set()
    report = DeviationReport()
    validator = Validator("service", report=report)
    for n, row in enumerate(new, start=2):
        rid = row.get("id")
        if not rid:
            raise InputFormatError("every resource needs an 'id'", path=str(path), line=n, field="id")
        if rid in seen:
            raise InputFormatError(f"duplicate id {rid!r}", path=str(path), line=n, field="id")
        seen.add(rid)
        svc, _ = _record({k: (v if not isinstance(v, list) else v) for k, v in row.items()})
        for k in LIST_FIELDS.intersection(svc):
            if isinstance(svc[k], str):
                svc[k] = [p.strip() for p in svc[k].replace(",", "|").split("|") if p.strip()]
        if validator.validate(svc, path=str(path), index=n - 2, where=f"ligne {n}") is None:
            bad = [d for ds in report.examples.values() for d in ds if d.action == "rejeté"]
            field = bad[-1].field if bad else "*"
            msg = bad[-1].message if bad else "invalid row"
            raise InputFormatError(f"resource {rid!r}: {msg}", path=str(path), line=n, field=field)
    old = {r.get("id"): _clean_row(r) for r in (read_table(path).rows if path.exists() else [])}
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    journal = []
    for row in new:
        before = old.get(row["id"])
        if before is None:
            journal.append((now, author, "ajout", row["id"], "", comment))
        else:
            changed = [c for c in TABLE_COLUMNS if _norm(before.get(c)) != _norm(row.get(c))]
            if changed:
                journal.append((now, author, "modification", row["id"], ",".join(changed), comment))
    for rid in old:
        if rid not in seen:
            journal.append((now, author, "suppression", rid, "", comment))
    if not journal:
        return []
    if path.exists():
        versions = path.with_name(path.name + ".versions")
        versions.mkdir(exist_ok=True)
        shutil.copy2(path, versions / f"{path.stem}-{now.replace(':', '')}.csv")
    write_csv(path, TABLE_COLUMNS, [[r.get(c) for c in TABLE_COLUMNS] for r in new])
    jpath = journal_path(path)
    payload = csv_bytes(journal, None if jpath.exists() else JOURNAL_HEADER, bom=False,
                                lineterminator="\n")
    with open(jpath, "ab") as f:  # appended: the journal only grows
        f.write(payload)
    return [f"{a} {rid}" for _, _, a, rid, _, _ in journal]


def _norm(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return "|".join(str(x) for x in v)
    return str(v).strip()


def journal_path(path: str | Path) -> Path:
    """The journal beside the table (``<table>.journal.csv``)."""
    path = Path(path)
    return path.with_name(path.stem + ".journal.csv")


def read_journal(path: str | Path) -> list[dict]:
    """The journal lines (oldest first); ``[]`` when none."""
    jpath = journal_path(path)
    if not jpath.exists():
        return []
    with open(jpath, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


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
