"""Deduplication between FINESS establishments and data·inclusion / local resources.

The same CCAS or CSAPA can be in both registers. A resource is linked to one FINESS
establishment by, in order:

1. **SIRET**: the structure's SIRET equals the establishment's (14 digits);
2. **FINESS number**: the record carries a ``finess`` number (steward table, extension field)
   that exists in the catalogue;
3. **name + address**: in the same INSEE commune, rapidfuzz similarity of the folded names
   (``token_set_ratio`` against the short and the long FINESS name, best kept) and of the
   folded addresses (``token_sort_ratio``): linked when name >= :data:`NAME_MIN` and
   address >= :data:`ADDRESS_MIN`, or name >= :data:`NAME_ALONE` when either side has no
   address. Among several candidates the best combined score wins.

Comparisons are blocked by commune (one ``rapidfuzz.process.cdist`` per commune), so a
national FINESS catalogue (100,000 establishments) and 200,000 services take seconds, not the
hours of an all-pairs comparison. Each decision is a :class:`Match` (reported in the
``correspondances_finess`` table and by ``dac-map inclusion import``); a steward's overrides
(``lier`` forces a link, ``separer`` forbids one) are applied last. The overrides are a
versioned steward table (:data:`MATCH_DECISIONS`, :mod:`dac_map.inclusion.tables`: the CSV of
``INCLUSION_OVERRIDES`` in embedded mode, PostgreSQL in server mode), edited on the stewards'
page with a reason (:func:`save_decisions`) and read by every import (:func:`current_overrides`).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dac_map import codes, settings
from dac_map.errors import InputFormatError
from dac_map.inclusion.tables import Snapshot, StewardTable, TableSpec, open_table
from dac_map.query.text import fold_column
from dac_map.server import auth

NAME_MIN = 85.0
ADDRESS_MIN = 80.0
NAME_ALONE = 95.0

METHOD_LABELS = {"siret": "SIRET identique", "finess": "numéro FINESS", "nom_adresse":
                 "nom et adresse proches", "manuel": "décision du référent"}


@dataclass(frozen=True)
class Match:
    """One decision: resource ``resource_id`` <-> establishment ``finess``."""

    resource_id: str
    finess: str
    method: str  # siret | finess | nom_adresse | manuel
    name_score: float
    address_score: float
    decision: str  # "lié" | "séparé (référent)"


DECISIONS = ("lier", "separer")
#: Columns of the stewards' decisions table.
DECISION_COLUMNS = ("resource_id", "finess", "decision", "motif")


def _decision_rows(path: Path) -> tuple[list[dict], list[str]]:
    """Rows of a decisions CSV and the problems of its bad lines (file, line, field)."""
    rows, problems = [], []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=";")
        missing = [c for c in ("resource_id", "finess", "decision") if c not in (reader.fieldnames or [])]
        if missing:
            return [], [str(InputFormatError("colonne manquante / missing column", path=str(path), line=1,
                                             field=missing[0]))]
        for row in reader:
            n = reader.line_num
            decision = (row.get("decision") or "").strip().lower()
            if decision not in DECISIONS:
                problems.append(str(InputFormatError(f"decision must be 'lier' or 'separer', not {decision!r}",
                                                     path=str(path), line=n, field="decision")))
                continue
            rows.append({"resource_id": (row.get("resource_id") or "").strip(),
                         "finess": (row.get("finess") or "").strip(), "decision": decision,
                         "motif": (row.get("motif") or "").strip() or None})
    return rows, problems


#: The stewards' match decisions as a versioned steward table (key resource + FINESS number).
MATCH_DECISIONS = TableSpec("correspondances", DECISION_COLUMNS, ("resource_id", "finess"), "matches.write",
                            _decision_rows, lambda: Path(settings.INCLUSION_OVERRIDES), comment_column="motif")


def decisions_store(location: str | Path | None = None) -> StewardTable:
    """The decisions table of the current mode (PostgreSQL in server mode, else the CSV file
    ``location`` or ``INCLUSION_OVERRIDES``)."""
    return open_table(MATCH_DECISIONS, location)


def read_overrides(path: str | Path) -> dict[tuple[str, str], str]:
    """The decisions of a CSV file: (resource_id, finess) -> ``lier`` / ``separer``. A bad line
    raises :class:`InputFormatError` naming file, line and field."""
    path = Path(path)
    if not path.exists():
        return {}
    rows, problems = _decision_rows(path)
    if problems:
        raise InputFormatError(problems[0])
    return {(r["resource_id"], r["finess"]): r["decision"] for r in rows}


@dataclass(frozen=True)
class Overrides:
    """The decisions an import applies: (resource_id, finess) -> decision, and for the report
    the reason, author and time of each."""

    decisions: Mapping[tuple[str, str], str]
    reasons: Mapping[tuple[str, str], tuple[str, str, str]]  # motif, who, when
    source: str = ""


def current_overrides(location: str | Path | None = None) -> Overrides:
    """The decisions of the current mode's table (see :func:`decisions_store`); a CSV with a
    bad line raises :class:`InputFormatError` naming it (the import stops rather than ignore
    a steward's decision)."""
    table = decisions_store(location)
    snap = table.snapshot()
    if snap.problems:
        raise InputFormatError(snap.problems[0])
    decisions, reasons = {}, {}
    for r in snap.rows:
        key = (r["resource_id"], r["finess"])
        decisions[key] = r["decision"]
        who, when = snap.updated.get(MATCH_DECISIONS.key(r), ("", ""))
        reasons[key] = (r.get("motif") or "", who, when)
    return Overrides(decisions, reasons, table.label)


def save_decisions(table: StewardTable, base: Snapshot, rows: Sequence[Mapping[str, object]],
                   principal: auth.Principal, *, author: str | None = None) -> list[str]:
    """Save the stewards' decisions (the edit of ``base`` into ``rows``). Each added or changed
    decision needs a resource id, a FINESS number, ``lier`` / ``separer`` and a reason
    (privacy-checked: no patient data); role checked, optimistic version check (see
    :mod:`dac_map.inclusion.tables`). Returns the actions; :class:`InputFormatError` names the
    line and field of a bad row (header = line 1), nothing written."""
    from dac_map import privacy
    from dac_map.inclusion.tables import plan

    auth.authorize(principal, MATCH_DECISIONS.action)
    clean = []
    for raw in rows:
        row = MATCH_DECISIONS.clean(raw)
        if row["decision"] is not None:
            row["decision"] = str(row["decision"]).strip().lower()
        clean.append(row)
    line = {MATCH_DECISIONS.key(r): n for n, r in enumerate(clean, start=2)}
    changes = plan(MATCH_DECISIONS, base, clean)
    for ch in changes:
        if ch.row is None:
            continue
        row, n = ch.row, line[ch.key]
        if not row["resource_id"]:
            raise InputFormatError("ressource manquante / missing resource id", path=table.location, line=n,
                                   field="resource_id")
        if not codes.is_finess(str(row["finess"] or "")):
            raise InputFormatError(f"numéro FINESS invalide / invalid FINESS number: {row['finess']!r}",
                                   path=table.location, line=n, field="finess")
        if row["decision"] not in DECISIONS:
            raise InputFormatError(f"décision 'lier' ou 'separer' / decision must be 'lier' or 'separer', "
                                   f"not {row['decision']!r}", path=table.location, line=n, field="decision")
        row["motif"] = privacy.check_free_text(str(row["motif"] or ""), field="motif", max_length=300) or None
        if not row["motif"]:
            raise InputFormatError("un motif est demandé pour chaque décision / a reason is required",
                                   path=table.location, line=n, field="motif")
    done = table.commit(changes, principal, author=author, comment="décision retirée")
    return [f"{c.action} {c.key}" for c in done]


def _pairs_in_block(res_names: np.ndarray, res_addr: np.ndarray, est_names: np.ndarray,
                    est_long: np.ndarray, est_addr: np.ndarray) -> list[tuple[int, int, float, float]]:
    from rapidfuzz import fuzz, process

    name = process.cdist(res_names, est_names, scorer=fuzz.token_set_ratio, dtype=np.float32)
    name = np.maximum(name, process.cdist(res_names, est_long, scorer=fuzz.token_set_ratio,
                                          dtype=np.float32))
    addr = process.cdist(res_addr, est_addr, scorer=fuzz.token_sort_ratio, dtype=np.float32)
    has_addr = (np.char.str_len(res_addr.astype(str)) > 0)[:, None] & \
               (np.char.str_len(est_addr.astype(str)) > 0)[None, :]
    ok = np.where(has_addr, (name >= NAME_MIN) & (addr >= ADDRESS_MIN), name >= NAME_ALONE)
    out = []
    for i in np.flatnonzero(ok.any(axis=1)):
        combined = np.where(ok[i], name[i] + np.where(has_addr[i], addr[i], name[i]), -1)
        j = int(np.argmax(combined))
        out.append((int(i), j, float(name[i, j]), float(addr[i, j]) if has_addr[i, j] else float("nan")))
    return out


def match_finess(resources: pd.DataFrame, establishments: pd.DataFrame,
                 overrides: Mapping[tuple[str, str], str] | None = None) -> list[Match]:
    """Link resources to FINESS establishments (see the module doc).

    Args:
        resources: ``resource_id``, ``siret``, ``finess`` (may be empty), ``name``,
            ``structure_name``, ``address``, ``commune`` (INSEE code).
        establishments: ``finess``, ``siret``, ``name``, ``long_name``, ``address``, ``commune``.
        overrides: (resource_id, finess) -> ``lier`` / ``separer``.
    """
    overrides = overrides or {}
    matches: dict[str, Match] = {}
    est = establishments.reset_index(drop=True)
    res = resources.reset_index(drop=True)

    def strings(frame: pd.DataFrame, col: str) -> pd.Series:
        if col not in frame:
            return pd.Series([None] * len(frame), dtype=object)
        return frame[col].astype(object).where(frame[col].notna(), None)

    # 1. SIRET
    est_siret = strings(est, "siret")
    by_siret = dict(zip(est_siret[est_siret.notna()], est["finess"][est_siret.notna()]))
    for rid, siret in zip(res["resource_id"], strings(res, "siret")):
        f = by_siret.get(siret) if siret else None
        if f:
            matches[rid] = Match(rid, f, "siret", 100.0, float("nan"), "lié")
    # 2. FINESS number carried by the record
    known = set(est["finess"])
    for rid, f in zip(res["resource_id"], strings(res, "finess")):
        if rid not in matches and f and f in known:
            matches[rid] = Match(rid, f, "finess", float("nan"), float("nan"), "lié")
    # 3. name + address within the commune
    todo = res[~res["resource_id"].isin(list(matches))]
    if len(todo) and len(est):
        name_col = strings(todo, "structure_name").fillna(strings(todo, "name"))
        r_name = fold_column(name_col.to_numpy(dtype=object))
        r_svc = fold_column(strings(todo, "name").to_numpy(dtype=object))
        r_addr = fold_column(strings(todo, "address").to_numpy(dtype=object))
        e_name = fold_column(strings(est, "name").to_numpy(dtype=object))
        e_long = fold_column(strings(est, "long_name").fillna(strings(est, "name")).to_numpy(dtype=object))
        e_addr = fold_column(strings(est, "address").to_numpy(dtype=object))
        e_groups = est.groupby(strings(est, "commune"), sort=False).indices
        r_ids = todo["resource_id"].to_numpy(dtype=object)
        for commune, r_idx in todo.groupby(strings(todo, "commune").to_numpy(), sort=False).indices.items():
            e_idx = e_groups.get(commune)
            if e_idx is None:
                continue
            for names in (r_name, r_svc):
                for i, j, ns, ad in _pairs_in_block(names[r_idx], r_addr[r_idx], e_name[e_idx],
                                                    e_long[e_idx], e_addr[e_idx]):
                    rid = r_ids[r_idx[i]]
                    if rid not in matches:
                        matches[rid] = Match(rid, str(est["finess"].iat[e_idx[j]]), "nom_adresse",
                                             round(ns, 1), round(ad, 1), "lié")
    # 4. steward overrides
    for (rid, f), decision in overrides.items():
        current = matches.get(rid)
        if decision == "lier":
            matches[rid] = Match(rid, f, "manuel", float("nan"), float("nan"), "lié")
        elif current is not None and current.finess == f:
            matches[rid] = Match(rid, f, current.method, current.name_score, current.address_score,
                                 "séparé (référent)")
    return sorted(matches.values(), key=lambda m: m.resource_id)


def matches_frame(matches: list[Match]) -> pd.DataFrame:
    """The ``correspondances_finess`` table (French method label included)."""
    return pd.DataFrame({
        "resource_id": [m.resource_id for m in matches],
        "finess": [m.finess for m in matches],
        "method": [m.method for m in matches],
        "method_label": [METHOD_LABELS[m.method] for m in matches],
        "name_score": [m.name_score for m in matches],
        "address_score": [m.address_score for m in matches],
        "decision": [m.decision for m in matches],
    }, columns=["resource_id", "finess", "method", "method_label", "name_score", "address_score",
                "decision"])


def apply_matches(table: pd.DataFrame, matches: list[Match]) -> pd.DataFrame:
    """``table`` (resources) with ``finess`` set and ``sources_label`` naming both sources for
    the linked resources (decisions ``lié`` only)."""
    linked = {m.resource_id: m.finess for m in matches if m.decision == "lié"}
    out = table.copy()
    fin = out["resource_id"].map(linked).astype(object)
    has = fin.notna().to_numpy()
    if has.any():
        out["finess"] = out["finess"].astype(object).where(~has, fin)
        labels = out["sources_label"].astype(object).to_numpy().copy()
        labels[has] = [f"{a} + FINESS {b}" for a, b in zip(labels[has], fin[has])]
        out["sources_label"] = labels
    return out


def _joined(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    """Per row, the non-blank values of ``cols`` joined by spaces (an address line)."""
    values = zip(*(frame[c].tolist() for c in cols)) if cols else ([] for _ in range(len(frame)))
    return [" ".join(str(v).strip() for v in vs if isinstance(v, str) and v.strip()) for vs in values]


def decision_table(st, snapshot: Snapshot) -> pd.DataFrame:
    """The match decisions for the stewards' page: every decision of the last import (layer
    ``correspondances_finess`` of the store ``st``) and every steward decision of ``snapshot``,
    with both sides' names and addresses. Columns: ``resource_id, resource_name,
    resource_address, finess, establishment_name, establishment_address, method_label,
    name_score, address_score, decision`` (of the last import), ``steward_decision, motif,
    decided_by, decided_at``."""
    from dac_map import store as store_mod
    from dac_map.inclusion.resources import MATCHES_LAYER, RESOURCES_LAYER

    cols = ["resource_id", "resource_name", "resource_address", "finess", "establishment_name",
            "establishment_address", "method_label", "name_score", "address_score", "decision",
            "steward_decision", "motif", "decided_by", "decided_at"]
    has = st is not None and st.exists()
    matches = st.read_layer(MATCHES_LAYER, read_geometry=False) if has and st.has_layer(MATCHES_LAYER) else \
        pd.DataFrame(columns=["resource_id", "finess", "method_label", "name_score", "address_score", "decision"])
    steward = pd.DataFrame([{"resource_id": r["resource_id"], "finess": r["finess"], "steward_decision": r["decision"],
                             "motif": r.get("motif") or "",
                             "decided_by": snapshot.updated.get(MATCH_DECISIONS.key(r), ("", ""))[0],
                             "decided_at": snapshot.updated.get(MATCH_DECISIONS.key(r), ("", ""))[1]}
                            for r in snapshot.rows],
                           columns=["resource_id", "finess", "steward_decision", "motif", "decided_by", "decided_at"])
    keys = {"resource_id": object, "finess": object}
    out = matches[["resource_id", "finess", "method_label", "name_score", "address_score", "decision"]].astype(
        keys).merge(steward.astype(keys), on=["resource_id", "finess"], how="outer")
    if has and st.has_layer(RESOURCES_LAYER):
        res = st.read_layer(RESOURCES_LAYER, columns=["resource_id", "name", "address", "postcode", "city"],
                            read_geometry=False)
        res["where"] = _joined(res, ["address", "postcode", "city"])
        out = out.merge(res.rename(columns={"name": "resource_name", "where": "resource_address"})
                        [["resource_id", "resource_name", "resource_address"]].astype({"resource_id": object}),
                        on="resource_id", how="left")
    if has and st.has_layer(store_mod.ESTABLISHMENTS):
        fields = st.fields(store_mod.ESTABLISHMENTS)
        parts = [c for c in ("address", "postcode", "city") if c in fields]
        est = st.read_layer(store_mod.ESTABLISHMENTS, columns=["finess", "name", *parts], read_geometry=False)
        est = est[est["finess"].isin(set(out["finess"]))].copy()
        est["where"] = _joined(est, parts)
        out = out.merge(est.rename(columns={"name": "establishment_name", "where": "establishment_address"})
                        [["finess", "establishment_name", "establishment_address"]].astype({"finess": object}),
                        on="finess", how="left")
    for c in cols:
        if c not in out:
            out[c] = None
    out["method_label"] = out["method_label"].fillna("(pas proposé par l'import)")
    for c in ("steward_decision", "motif", "decided_by", "decided_at", "decision"):
        out[c] = out[c].astype(object).where(out[c].notna(), "")
    return out[cols].sort_values(["resource_id", "finess"], kind="stable").reset_index(drop=True)
