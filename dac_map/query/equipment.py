"""Equipment lines (cs1100505) of a loaded catalogue as arrays (:class:`Equipment`) and THE
rule for "this establishment offers this discipline" (:func:`offered_lines`), used by the
search, the map, the CLI, coverage and the detail sheet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dac_map.query.columns import CodeColumn, object_array, read_only
from dac_map.query.text import fold_text


def offered_lines(removed_installed: np.ndarray, installed: np.ndarray) -> np.ndarray:
    """THE rule for "this establishment offers this discipline" (one value per equipment line
    of cs1100505; an establishment offers a discipline when one of its lines does).

    A line counts when its installation is in force: its installed capacity is NOT flagged
    removed (``indsupinst`` = ``O``) and is not zero (unknown counts). A line whose
    installation is removed but whose authorisation remains (``indsupinst`` = ``O``,
    ``indsupaut`` = ``N``) is an authorised activity that is not (or no longer) running: a
    coordinator cannot send anyone there, so it does not count. Likewise an authorisation
    with 0 installed places. The authorisation flag plays no part.

    Used by the search (:class:`~dac_map.query.specialty.SpecialtyFilter`, hence the map and
    ``dac-map search``) and by the coverage indicators (:mod:`dac_map.coverage`).

    Args:
        removed_installed: boolean per line (missing = not removed).
        installed: installed places per line (NaN = unknown).
    """
    removed = np.asarray(removed_installed, dtype=bool)
    places = np.asarray(installed, dtype="float64")
    return ~removed & ~(places == 0)


def offered_in(equipment: pd.DataFrame) -> np.ndarray:
    """:func:`offered_lines` of an equipment table (``removed_installed``, missing = not
    removed, and ``capacity_installed`` columns)."""
    removed = (equipment["removed_installed"].fillna(False).to_numpy(dtype=bool)
               if "removed_installed" in equipment else np.zeros(len(equipment), dtype=bool))
    installed = pd.to_numeric(equipment["capacity_installed"], errors="coerce").to_numpy(dtype="float64")
    return offered_lines(removed, installed)


@dataclass(frozen=True)
class Equipment:
    """Equipment lines as arrays. ``row`` is the establishment row of each line; capacities are
    in places (``installed`` is 0 on lines whose installed capacity is flagged removed, likewise
    ``authorised``); ``offered`` is :func:`offered_lines` (the lines that count)."""

    table: pd.DataFrame
    row: np.ndarray
    discipline: CodeColumn
    activity_type: CodeColumn
    clientele: CodeColumn
    installed: np.ndarray
    authorised: np.ndarray
    offered: np.ndarray
    #: kind (``discipline``, ``activity_type``, ``clientele``) -> code -> label, from the lines
    #: (and, for disciplines, the nomenclature)
    labels: Mapping[str, dict[str, str]]
    #: the same labels folded (:func:`~dac_map.query.text.fold_text`), for matching words
    folded_labels: Mapping[str, dict[str, str]] = field(default_factory=dict)


def build_equipment(equipment: pd.DataFrame | None, pos: Mapping[str, int],
                      disciplines: pd.DataFrame | None = None) -> Equipment:
    """Equipment lines as arrays; ``pos`` maps FINESS numbers to establishment rows (lines of
    unknown establishments are dropped); ``disciplines`` adds the nomenclature's labels."""
    cols = ("finess", "discipline", "discipline_label", "activity_type", "activity_type_label",
            "clientele", "clientele_label")
    if equipment is None or not len(equipment):
        table = pd.DataFrame({c: pd.Series(dtype="str") for c in cols})
        table["capacity_installed"] = pd.Series(dtype="float64")
        table["capacity_authorised"] = pd.Series(dtype="float64")
    else:
        table = equipment.reset_index(drop=True)
    # Row of each line: factorize the line FINESS numbers (Arrow), look each distinct one up once.
    f_codes, f_uniques = pd.factorize(table["finess"], use_na_sentinel=True)
    u_rows = np.array([pos.get(u, -1) for u in f_uniques] + [-1], dtype=np.int64)
    row_arr = u_rows[np.asarray(f_codes, dtype=np.int64)]
    keep = row_arr >= 0
    if not keep.all():
        table = table[keep].reset_index(drop=True)
        row_arr = row_arr[keep]
    n = len(table)

    def flag(name: str) -> np.ndarray:
        if name in table:
            return table[name].fillna(False).to_numpy(dtype=bool)
        return np.zeros(n, dtype=bool)

    rem_i, rem_a = flag("removed_installed"), flag("removed_authorised")
    inst = table["capacity_installed"].to_numpy(dtype="float64", na_value=np.nan)
    aut = table["capacity_authorised"].to_numpy(dtype="float64", na_value=np.nan)
    offered = offered_lines(rem_i, inst)
    inst = np.where(rem_i | np.isnan(inst), 0.0, inst)
    aut = np.where(rem_a | np.isnan(aut), 0.0, aut)

    labels: dict[str, dict[str, str]] = {}
    for kind in ("discipline", "activity_type", "clientele"):
        lab_col = f"{kind}_label"
        codes, uniques = pd.factorize(table[kind], use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int64)
        ok = np.flatnonzero(codes >= 0)
        _, first = np.unique(codes[ok], return_index=True)  # first line of each code, in code order
        labs = table[lab_col].iloc[ok[first]].tolist() if lab_col in table else [None] * len(uniques)
        labels[kind] = {str(c): (str(lab) if isinstance(lab, str) else "")
                        for c, lab in zip(uniques, labs)}
    if disciplines is not None and len(disciplines):
        for c, lab in zip(object_array(disciplines["discipline"]),
                          object_array(disciplines["discipline_label"])):
            if isinstance(c, str):
                labels["discipline"].setdefault(c, lab if isinstance(lab, str) else "")
    folded = {kind: {c: fold_text(lab) for c, lab in d.items()} for kind, d in labels.items()}
    return Equipment(table=table, row=read_only(row_arr),
                     discipline=CodeColumn.build(table["discipline"]),
                     activity_type=CodeColumn.build(table["activity_type"]),
                     clientele=CodeColumn.build(table["clientele"]),
                     installed=read_only(inst), authorised=read_only(aut), offered=read_only(offered),
                     labels=labels, folded_labels=folded)


__all__ = ["offered_lines", "offered_in", "Equipment", "build_equipment"]
