"""``dac-map inclusion import``: data·inclusion files + the steward table -> the store.

Stages (one function each): :func:`read_sources` (stream, validate, map to resources),
:func:`link_finess` (deduplication against the catalogue's FINESS establishments),
:func:`changes` (what changed since the store's previous social resources) and
:func:`write` (the tables into the store, atomically). :func:`run_import` chains them.

Bad input never reaches the store: reading and validating finish before anything is written,
a strict import with one rejected record, or a tolerant one rejecting more than
``settings.MAX_REJECT_SHARE`` of its records (and at least ``settings.MIN_REJECTS_TO_ABORT``),
raises :class:`~dac_map.errors.ValidationError` and the served store is left as it was.
"""

from __future__ import annotations

import gc
import math
import operator
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dac_map import codes, settings, store as store_mod
from dac_map.errors import ValidationError
from dac_map.memory import use_arrow_pool
from dac_map.inclusion import resources as res_mod
from dac_map.inclusion.dedup import (Match, Overrides, apply_matches, match_finess, matches_frame,
                                     read_overrides)
from dac_map.inclusion.reader import ReadIssue, iter_records
from dac_map.inclusion.resources import COLUMNS, ORIGIN_DI, ORIGIN_LOCAL, build_resource
from dac_map.inclusion.steward import LocalTable, read_table
from dac_map.inclusion.validate import DeviationReport, Validator
from dac_map.inclusion.zones import ZoneExpander

CHANGES_LAYER = "changements_ressources_sociales"
_COMPARED = ("name", "address", "commune", "phone", "email", "hours_osm", "zone_codes", "thematics",
             "publics", "fee", "quality", "updated", "finess")
_STRUCTURE_KEEP = ("id", "nom", "siret", "adresse", "code_postal", "commune", "code_insee",
                   "longitude", "latitude", "telephone", "courriel", "site_web", "lien_source",
                   "horaires_accueil")


@dataclass
class ImportResult:
    """Everything an import found and built."""

    table: object  # pandas DataFrame of resources (COLUMNS)
    zones: object  # pandas DataFrame (resource_id, code, kind)
    services_report: DeviationReport = field(default_factory=DeviationReport)
    structures_report: DeviationReport = field(default_factory=DeviationReport)
    local_report: DeviationReport = field(default_factory=DeviationReport)
    read_issues: list[ReadIssue] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    changes: dict = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    change_frame: object = None  # pandas DataFrame (resource_id, name, change)
    overrides: Overrides | None = None  # the stewards' decisions applied

    def lines(self) -> list[str]:
        out = ["Services data·inclusion :"] + self.services_report.lines()
        if self.structures_report.records:
            out += ["Structures :"] + self.structures_report.lines()
        if self.local_report.records:
            out += ["Ressources locales (table du DAC) :"] + self.local_report.lines()
        if self.read_issues:
            out.append(f"Enregistrements illisibles : {len(self.read_issues)}")
            out += [f"  {i}" for i in self.read_issues[:10]]
        linked = [m for m in self.matches if m.decision == "lié"]
        by = {}
        for m in linked:
            by[m.method] = by.get(m.method, 0) + 1
        out.append(f"Doublons FINESS : {len(linked)} ressources liées à un établissement "
                   + ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
                   + (f" ; {len(self.matches) - len(linked)} séparées par le référent"
                      if len(self.matches) > len(linked) else ""))
        if self.overrides is not None and self.overrides.decisions:
            applied = self.applied_overrides()
            idle = len(self.overrides.decisions) - len(applied)
            out.append(f"Décisions du référent ({self.overrides.source}) : {len(applied)} appliquées "
                       f"({sum(d == 'lier' for d in applied.values())} liens imposés, "
                       f"{sum(d == 'separer' for d in applied.values())} séparations)"
                       + (f" ; {idle} sans effet (ressource absente ou paire non proposée)" if idle else ""))
        if self.changes:
            c = self.changes
            out.append(f"Changements : {c['added']} ajoutées, {c['removed']} retirées, "
                       f"{c['modified']} modifiées, {c['unchanged']} inchangées")
        return out


    def applied_overrides(self) -> dict[tuple[str, str], str]:
        """The stewards' decisions that changed a match: a forced link of a present resource,
        a separation of a pair the matching had proposed."""
        if self.overrides is None:
            return {}
        by_pair = {(m.resource_id, m.finess): m for m in self.matches}
        out = {}
        for key, decision in self.overrides.decisions.items():
            m = by_pair.get(key)
            if m is not None and ((decision == "lier" and m.method == "manuel")
                                  or (decision == "separer" and m.decision != "lié")):
                out[key] = decision
        return out


class _Columns:
    """Resource rows collected column by column (less memory than one dict per row)."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self._get = operator.itemgetter(*COLUMNS)
        self.zone_ids: list[str] = []
        self.zone_codes: list[str] = []
        self.zone_kinds: list[str] = []

    def add(self, r: res_mod.Resource) -> None:
        self.rows.append(self._get(r.row))
        rid = r.row["resource_id"]
        for code, kind in r.zone:
            self.zone_ids.append(rid)
            self.zone_codes.append(code)
            self.zone_kinds.append(kind)

    def frames(self):
        import pandas as pd

        cols = list(zip(*self.rows)) if self.rows else [() for _ in COLUMNS]
        self.rows = []
        table = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in zip(COLUMNS, cols)},
                             columns=list(COLUMNS))
        for c in ("lon", "lat", "quality"):
            table[c] = pd.to_numeric(table[c], errors="coerce").astype("float64")
        for c in ("zone_national", "fictitious"):
            table[c] = table[c].astype(bool)
        zones = pd.DataFrame({"resource_id": self.zone_ids, "code": self.zone_codes,
                              "kind": self.zone_kinds})
        return table, zones


def expander_from_store(st: store_mod.Store | None) -> tuple[ZoneExpander, dict]:
    """The zone expander and commune centroids (lon, lat degrees) from the store's communes."""
    if st is None or not st.has_layer(store_mod.COMMUNES):
        return ZoneExpander(), {}
    communes = st.read_layer(store_mod.COMMUNES)
    code = communes["code"].astype(str)
    pts = communes.geometry.representative_point()
    centroids = {c: (p.x, p.y) for c, p in zip(code, pts) if p is not None and not p.is_empty}
    dep_names = {}
    if st.has_layer(store_mod.DEPARTMENTS):
        d = st.read_layer(store_mod.DEPARTMENTS, read_geometry=False)
        dep_names = dict(zip(d["code"], d["name"]))
    from dac_map.inclusion.zones import epci_table

    epci = epci_table()
    return ZoneExpander({c: codes.department_of(c) for c in code}, epci.communes,
                        dict(zip(code, communes["name"])), dep_names, epci.names), centroids


def read_sources(services: Sequence[str | Path], structures: Sequence[str | Path] = (),
                 local_table: str | Path | LocalTable | None = None, *, strict: bool = False,
                 expander: ZoneExpander | None = None, centroids: dict | None = None) -> ImportResult:
    """Stream and validate the files, map every kept service to a resource. The cyclic garbage
    collector is paused meanwhile (hundreds of thousands of small acyclic objects: it would
    only re-scan them, a quarter of the time at 20,000 services, more beyond)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_sources(services, structures, local_table, strict=strict, expander=expander,
                             centroids=centroids)
    finally:
        if was_enabled:
            gc.enable()


def _read_sources(services: Sequence[str | Path], structures: Sequence[str | Path],
                  local_table: str | Path | LocalTable | None, *, strict: bool, expander: ZoneExpander | None,
                  centroids: dict | None) -> ImportResult:
    expander = expander or ZoneExpander()
    cols = _Columns()
    issues: list[ReadIssue] = []
    srep, strep = DeviationReport(), DeviationReport()
    sv = Validator("service", strict=strict, report=srep)
    stv = Validator("structure", strict=strict, report=strep)
    structs: dict[str, dict] = {}
    for path in structures:
        for loc in iter_records(path, issues):
            s = stv.validate(loc.record, path=str(path), index=loc.index, where=loc.where)
            if s is not None:
                structs[s["id"]] = {k: s[k] for k in _STRUCTURE_KEEP if k in s}
    seen: set[str] = set()
    for path in services:
        for loc in iter_records(path, issues):
            rec = loc.record
            embedded = rec.get("structure") if isinstance(rec.get("structure"), dict) else None
            if embedded is not None:
                sid = embedded.get("id")
                if sid not in structs:
                    s = stv.validate(embedded, path=str(path), index=loc.index, where=f"{loc.where}.structure")
                    if s is not None:
                        structs[s["id"]] = {k: s[k] for k in _STRUCTURE_KEEP if k in s}
            svc = sv.validate(rec, path=str(path), index=loc.index, where=loc.where)
            if svc is None or svc["id"] in seen:
                continue
            seen.add(svc["id"])
            cols.add(build_resource(svc, structs.get(svc["structure_id"]), expander, origin=ORIGIN_DI,
                                    centroids=centroids))
    lrep = DeviationReport()
    lt = local_table if isinstance(local_table, LocalTable) else \
        read_table(local_table, strict=strict) if local_table is not None and Path(local_table).exists() else None
    if lt is not None:
        lrep = lt.report
        issues += lt.issues
        for svc in lt.services:
            r = build_resource(svc, lt.structures.get(svc.get("structure_id")), expander,
                               origin=ORIGIN_LOCAL, centroids=centroids)
            r.row["finess"] = svc.get("finess")
            cols.add(r)
    table, zones = cols.frames()
    return ImportResult(table, zones, srep, strep, lrep, issues,
                        sources=[str(p) for p in (*services, *structures)]
                        + ([str(lt.path)] if lt is not None else []))


def check(result: ImportResult, *, strict: bool) -> None:
    """Raise :class:`ValidationError` when the import must not be written."""
    for name, rep in (("services", result.services_report), ("structures", result.structures_report),
                      ("ressources locales", result.local_report)):
        if strict and (rep.rejected or result.read_issues):
            first = next((d for ds in rep.examples.values() for d in ds), None)
            where = f" ; premier écart : {first}" if first else ""
            raise ValidationError(f"strict validation: {rep.rejected} {name} rejected, "
                                  f"{len(result.read_issues)} unreadable{where}")
        limit = settings.MAX_REJECT_SHARE
        if rep.records and rep.rejected >= settings.MIN_REJECTS_TO_ABORT and rep.rejected / rep.records > limit:
            raise ValidationError(f"{rep.rejected} of {rep.records} {name} rejected "
                                  f"(more than {limit:.0%}): nothing written")


def link_finess(result: ImportResult, st: store_mod.Store | None,
                overrides: str | Path | Overrides | None = None) -> None:
    """Deduplicate against the store's FINESS establishments (in place), applying the stewards'
    decisions (an :class:`Overrides`, or a decisions CSV file)."""
    if overrides is not None and not isinstance(overrides, Overrides):
        overrides = Overrides(read_overrides(overrides), {}, str(overrides))
    result.overrides = overrides
    if st is None or not st.has_layer(store_mod.ESTABLISHMENTS) or not len(result.table):
        return
    cols = [c for c in ("finess", "siret", "name", "long_name", "address", "commune")
            if c in st.fields(store_mod.ESTABLISHMENTS)]
    est = st.read_layer(store_mod.ESTABLISHMENTS, columns=cols, read_geometry=False)
    result.matches = match_finess(result.table, est, overrides.decisions if overrides is not None else {})
    result.table = apply_matches(result.table, result.matches)


def _fingerprint(row) -> str:
    parts = []
    for c in _COMPARED:
        v = row[c]
        if isinstance(v, float) and math.isnan(v):
            v = None
        parts.append(str(list(v) if isinstance(v, (list, tuple)) else v))
    return "\x1f".join(parts)


def changes(result: ImportResult, st: store_mod.Store | None):
    """Added / removed / modified resources against the store's previous table (a
    ``changements_ressources_sociales`` frame: resource_id, name, change)."""
    import json

    import pandas as pd

    new = result.table
    if st is None or not st.has_layer(res_mod.RESOURCES_LAYER):
        result.changes = {"added": len(new), "removed": 0, "modified": 0, "unchanged": 0}
        return pd.DataFrame({"resource_id": new["resource_id"], "name": new["name"], "change": "ajout"})
    old = st.read_layer(res_mod.RESOURCES_LAYER, read_geometry=False)
    for c in ("zone_codes", "thematics", "publics"):
        if c in old:
            old[c] = old[c].map(lambda v: json.loads(v) if isinstance(v, str) and v.startswith("[") else v)
    old_fp = {rid: _fingerprint(r) for rid, r in zip(old["resource_id"], old.to_dict("records"))}
    rows = []
    unchanged = 0
    for rid, name, r in zip(new["resource_id"], new["name"], new.to_dict("records")):
        fp = old_fp.pop(rid, None)
        if fp is None:
            rows.append((rid, name, "ajout"))
        elif fp != _fingerprint(r):
            rows.append((rid, name, "modification"))
        else:
            unchanged += 1
    old_names = dict(zip(old["resource_id"], old["name"]))
    rows += [(rid, old_names.get(rid), "retrait") for rid in old_fp]
    frame = pd.DataFrame(rows, columns=["resource_id", "name", "change"])
    result.changes = {"added": int((frame["change"] == "ajout").sum()),
                      "removed": int((frame["change"] == "retrait").sum()),
                      "modified": int((frame["change"] == "modification").sum()),
                      "unchanged": unchanged}
    return frame


def write(result: ImportResult, st: store_mod.Store, change_frame) -> None:
    """Write the tables into the store, atomically when the store is a file (a copy is written
    then swapped in); the other layers are kept."""
    import json

    table = result.table.copy()
    for c in table.columns:
        if table[c].map(lambda v: isinstance(v, (list, tuple))).any():
            table[c] = table[c].map(lambda v: json.dumps(list(v), ensure_ascii=False)
                                    if isinstance(v, (list, tuple)) else v)
    tables = {res_mod.RESOURCES_LAYER: table, res_mod.ZONES_LAYER: result.zones,
              res_mod.MATCHES_LAYER: matches_frame(result.matches), CHANGES_LAYER: change_frame}
    meta = {"inclusion_date": date.today().isoformat(), "inclusion_sources": result.sources,
            "inclusion_resources": int(len(table))}
    path = getattr(st, "path", None)
    if isinstance(path, Path):
        from dac_map.store.geopackage import GeoPackageStore

        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.inclusion.gpkg")
        try:
            shutil.copyfile(path, tmp)
            stage = GeoPackageStore(tmp)
            for name, frame in tables.items():
                stage.write_table(name, frame)
            stage.update_metadata(meta)
            st.replace_with(stage)
        finally:
            from dac_map.store.geopackage import remove_files
            remove_files(tmp)
    else:
        for name, frame in tables.items():
            st.write_table(name, frame)
        st.update_metadata(meta)


def _carry_over(result: ImportResult, source: store_mod.Store) -> None:
    """Prepend the data·inclusion resources (and their zones) of ``source`` to ``result``."""
    import json

    import pandas as pd

    if not source.has_layer(res_mod.RESOURCES_LAYER):
        return
    old = source.read_layer(res_mod.RESOURCES_LAYER, read_geometry=False)
    old = old[old["origin"] == ORIGIN_DI]
    for c in ("thematics", "families", "publics", "mobilisation", "zone_codes", "zone_unexpanded"):
        old[c] = old[c].map(lambda v: json.loads(v) if isinstance(v, str) and v.startswith("[") else [])
    old["finess"] = None  # linked again below
    old["sources_label"] = old["origin"] + " (" + old["source"].fillna("") + ")"
    zones = source.read_layer(res_mod.ZONES_LAYER, read_geometry=False) if source.has_layer(res_mod.ZONES_LAYER) else None
    result.table = pd.concat([old[list(COLUMNS)], result.table], ignore_index=True)
    if zones is not None:
        zones = zones[zones["resource_id"].isin(set(old["resource_id"]))]
        result.zones = pd.concat([zones[["resource_id", "code", "kind"]], result.zones], ignore_index=True)


def write_reports(result: ImportResult, folder: str | Path) -> dict[str, Path]:
    """The import's reports for the steward, in ``folder``: ``ecarts.json`` (deviation reports),
    ``correspondances_finess.csv`` (every match decision) and ``changements.csv`` (``;``,
    UTF-8 with BOM, formula-like cells neutralised)."""
    import json

    from dac_map.inclusion.dedup import METHOD_LABELS
    from dac_map.tabular import write_csv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"ecarts": folder / "ecarts.json", "correspondances": folder / "correspondances_finess.csv",
             "changements": folder / "changements.csv"}
    data = {"services": result.services_report.as_dict(), "structures": result.structures_report.as_dict(),
            "ressources_locales": result.local_report.as_dict(),
            "illisibles": [vars(i) for i in result.read_issues]}
    paths["ecarts"].write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    names = dict(zip(result.table["resource_id"], result.table["name"]))
    reasons = result.overrides.reasons if result.overrides is not None else {}
    applied = result.applied_overrides()
    write_csv(paths["correspondances"],
              [(m.resource_id, names.get(m.resource_id), m.finess, METHOD_LABELS[m.method],
                m.name_score, m.address_score, m.decision,
                *(reasons.get((m.resource_id, m.finess), ("", "", "")) if (m.resource_id, m.finess) in applied
                  else ("", "", ""))) for m in result.matches],
              ("ressource", "nom", "finess", "methode", "score_nom", "score_adresse", "decision",
               "motif_referent", "decide_par", "decide_le"))
    frame = result.change_frame if result.change_frame is not None else None
    rows = [] if frame is None else list(zip(frame["resource_id"], frame["name"], frame["change"]))
    write_csv(paths["changements"], rows, ("ressource", "nom", "changement"))
    return paths


def run_import(services: Sequence[str | Path], structures: Sequence[str | Path] = (), *,
               store: str | Path | store_mod.Store | None = None,
               local_table: str | Path | LocalTable | None = None,
               overrides: str | Path | Overrides | None = None, strict: bool = False, dry_run: bool = False,
               keep_from: str | Path | None = None, compare_with: str | Path | None = None
               ) -> ImportResult:
    """Read, validate, deduplicate and (unless ``dry_run``) write into the store.

    Args:
        local_table: the DAC's local resources (a CSV path or a read :class:`LocalTable`, e.g.
            :func:`dac_map.inclusion.steward.current_table`).
        overrides: the stewards' match decisions (:func:`dac_map.inclusion.dedup.current_overrides`
            or a decisions CSV).
        keep_from: a store whose data·inclusion resources are kept (a refresh with no
            data·inclusion source configured carries the served ones over).
        compare_with: the store the change report compares with (default: ``store``).
    """
    use_arrow_pool()
    st = store_mod.open_store(store) if store is not None or not dry_run else None
    live = st if st is not None and st.exists() else None
    expander, centroids = expander_from_store(live)
    result = read_sources(services, structures, local_table, strict=strict, expander=expander,
                          centroids=centroids)
    check(result, strict=strict)
    if keep_from is not None:
        _carry_over(result, store_mod.open_store(keep_from))
    link_finess(result, live, overrides)
    previous = store_mod.open_store(compare_with) if compare_with is not None else live
    change_frame = changes(result, previous if previous is not None and previous.exists() else None)
    result.change_frame = change_frame
    if not dry_run:
        if live is None:
            from dac_map.errors import StoreError
            raise StoreError("no catalogue to import into: build it first (dac-map demo / etl)",
                             path=str(getattr(st, "location", store)))
        write(result, live, change_frame)
    return result
