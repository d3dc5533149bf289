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
(:func:`read_overrides`: ``lier`` forces a link, ``separer`` forbids one) are applied last.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dac_map.errors import InputFormatError
from dac_map.query.text import fold_column

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


def read_overrides(path: str | Path) -> dict[tuple[str, str], str]:
    """The steward's decisions: CSV ``resource_id;finess;decision`` (``lier`` / ``separer``)."""
    path = Path(path)
    out: dict[tuple[str, str], str] = {}
    if not path.exists():
        return out
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=";")
        for n, row in enumerate(reader, start=2):
            decision = (row.get("decision") or "").strip().lower()
            if decision not in ("lier", "separer"):
                raise InputFormatError(f"decision must be 'lier' or 'separer', not {decision!r}",
                                       path=str(path), line=n, field="decision")
            out[(row["resource_id"].strip(), row["finess"].strip())] = decision
    return out


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
