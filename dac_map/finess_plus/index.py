"""FINESS+ activities, capacities and intervention zones prepared once at catalogue load.

:class:`FinessPlusIndex` maps each commune INSEE code to the establishment rows whose active
activities' intervention zone includes it (``rows_serving``: one dict look-up, no scan), and
keeps per-establishment activities and capacities for the detail sheet and the filters.
Read-only once built; safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dac_map.query.serving import AreaIndex, read_only as _ro
from dac_map.query.text import fold_text

@dataclass(frozen=True)
class FinessPlusIndex:
    """Activities of the establishments of a catalogue (``activities``: establishment-level
    rows with ``row`` = catalogue row, -1 when unknown), their ``capacities`` and ``zones``
    (``activity_id`` -> ``commune``), plus ``areas`` (commune -> sorted establishment rows, the
    :class:`~dac_map.query.serving.AreaIndex` behind « Intervient à ») and ``zone_of_row`` (establishment row -> sorted tuple of communes, for drawing)."""

    activities: pd.DataFrame
    capacities: pd.DataFrame
    zones: pd.DataFrame
    areas: AreaIndex
    zone_of_row: Mapping[int, tuple[str, ...]]
    #: per activity row: catalogue row of its establishment, active flag
    act_row: np.ndarray = field(repr=False)
    act_active: np.ndarray = field(repr=False)
    #: folded searchable text per activity row (type label, activity, public, codes)
    act_text: np.ndarray = field(repr=False)

    @classmethod
    def build(cls, activities: pd.DataFrame | None, capacities: pd.DataFrame | None,
              zones: pd.DataFrame | None, finess_row: Mapping[str, int]) -> FinessPlusIndex | None:
        """Prepare the index; None when the store has no FINESS+ activities."""
        if activities is None or not len(activities):
            return None
        acts = activities[activities["level"] == "etablissement"].reset_index(drop=True)
        fin_codes, fin_uniques = pd.factorize(acts["finess"], use_na_sentinel=True)
        lut = np.array([finess_row.get(f, -1) for f in fin_uniques] + [-1], dtype=np.int64)
        row = lut[np.asarray(fin_codes, dtype=np.int64)]
        active = acts["active"].fillna(False).to_numpy(dtype=bool) if "active" in acts else \
            (acts["state"] == "A").fillna(False).to_numpy(dtype=bool)

        # commune -> rows, through each establishment activity's zone (own or inherited).
        areas = AreaIndex({})
        zone_of_row: dict[int, tuple[str, ...]] = {}
        if zones is not None and len(zones) and "zone_activity_id" in acts:
            link = pd.DataFrame({"zone_activity_id": acts["zone_activity_id"], "row": row})
            link = link[(link["row"] >= 0) & link["zone_activity_id"].notna() & active]
            pairs = link.merge(zones[["activity_id", "commune"]], left_on="zone_activity_id",
                               right_on="activity_id", how="inner")[["commune", "row"]]
            pairs = pairs.drop_duplicates()
            if len(pairs):
                areas = AreaIndex.from_pairs(pairs["commune"].to_numpy(dtype=object),
                                             pairs["row"].to_numpy(dtype=np.int64))
                by_row = pairs.sort_values(["row", "commune"])
                r = by_row["row"].to_numpy()
                cm = by_row["commune"].to_numpy(dtype=object)
                cuts = np.flatnonzero(np.diff(r)) + 1
                starts = np.r_[0, cuts]
                for s, chunk in zip(starts, np.split(cm, cuts)):
                    zone_of_row[int(r[s])] = tuple(chunk)
        # folded label text per activity, computed once per distinct type (a few thousand)
        label_cols = [c for c in ("type_label", "activity_label", "public_label", "mode_label") if c in acts]
        if label_cols and len(acts):
            codes, uniques = pd.MultiIndex.from_frame(acts[label_cols].astype(object)).factorize()
            folded = np.array([fold_text(" ".join(str(c) for c in u if isinstance(c, str))) for u in uniques]
                              + [""], dtype=object)
            texts = folded[np.asarray(codes)]
        else:
            texts = np.full(len(acts), "", dtype=object)
        acts = acts.assign(row=row)
        caps = capacities if capacities is not None else pd.DataFrame(
            columns=["activity_id", "finess", "number", "status", "unit", "active"])
        return cls(acts, caps, zones if zones is not None else pd.DataFrame(columns=["activity_id", "commune"]),
                   areas, zone_of_row, _ro(row), _ro(active), _ro(texts))

    # ----------------------------------------------------------------- look-ups

    def rows_serving(self, commune: str) -> np.ndarray:
        """Catalogue rows of the establishments whose zone includes ``commune`` (sorted): the
        :class:`~dac_map.query.serving.ServingIndex` protocol."""
        return self.areas.rows_serving(commune)

    def zone_communes(self, row: int) -> tuple[str, ...]:
        """INSEE codes of the union of the intervention zones of an establishment row."""
        return self.zone_of_row.get(int(row), ())

    def activity_mask(self, values: tuple[str, ...], publics: tuple[str, ...] = ()) -> np.ndarray:
        """Active activity rows matching any of ``values`` (TRE_R392 type code, the R392-style
        key ``AMSR/358/16/700``, the activity code ``358``, or words of their labels) and, when
        given, any of ``publics`` (TRE_R403 public code or words of its label)."""
        a = self.activities
        hit = np.zeros(len(a), dtype=bool) if values else np.ones(len(a), dtype=bool)
        for v in values:
            fv = fold_text(v)
            hit |= a["type_code"].eq(v).fillna(False).to_numpy(dtype=bool)
            hit |= a["type_key"].eq(v).fillna(False).to_numpy(dtype=bool) if "type_key" in a else False
            hit |= a["component_1"].eq(v).fillna(False).to_numpy(dtype=bool)
            if fv and not v.isdigit():
                hit |= np.array([fv in t for t in self.act_text], dtype=bool)
        if publics:
            pub = np.zeros(len(a), dtype=bool)
            labels = a["public_label"].map(lambda s: fold_text(s) if isinstance(s, str) else "")
            for p in publics:
                fp = fold_text(p)
                pub |= a["public_code"].eq(p).fillna(False).to_numpy(dtype=bool)
                if fp and not p.isdigit():
                    pub |= labels.map(lambda s, fp=fp: fp in s).to_numpy(dtype=bool)
            hit &= pub
        return hit & self.act_active & (self.act_row >= 0)

    def rows_with(self, activity_rows: np.ndarray, n: int) -> np.ndarray:
        """Boolean mask over ``n`` catalogue rows: establishments of the given activity rows."""
        out = np.zeros(n, dtype=bool)
        out[self.act_row[activity_rows]] = True
        return out

    def capacity(self, activity_rows: np.ndarray, n: int, authorised: bool = False) -> np.ndarray:
        """Places per catalogue row over the given activity rows: for each activity, the
        largest capacity line of the status (installed ``08``/``01`` or authorised ``09``) in
        beds or places; NaN where no such line exists."""
        from dac_map.finess_plus.model import AUTHORISED_STATUSES, INSTALLED_STATUSES, PLACE_UNITS

        ids = self.activities.loc[activity_rows, ["activity_id", "row"]]
        c = self.capacities
        statuses = AUTHORISED_STATUSES if authorised else INSTALLED_STATUSES
        c = c[c["activity_id"].isin(ids["activity_id"]) & c["status"].isin(statuses) & c["unit"].isin(PLACE_UNITS)]
        per = c.groupby(["activity_id", "status", "unit"], sort=False)["number"].max().reset_index()
        per = per.merge(ids.drop_duplicates("activity_id"), on="activity_id")
        out = np.full(n, np.nan)
        if len(per):
            sums = per.groupby("row")["number"].sum()
            out[sums.index.to_numpy(dtype=np.int64)] = sums.to_numpy(dtype="float64")
        return out

    def activities_of(self, row: int) -> pd.DataFrame:
        """Activities of one establishment row (active first, then by type label)."""
        a = self.activities[self.activities["row"] == int(row)]
        return a.sort_values(["active", "type_label"], ascending=[False, True], kind="stable")

    def capacities_of(self, activity_ids: list[str]) -> pd.DataFrame:
        """Capacity lines of the given activities."""
        return self.capacities[self.capacities["activity_id"].isin(activity_ids)]

    def activity_types(self) -> pd.DataFrame:
        """Distinct active activity types with their label and number of establishments:
        ``type_code, type_label, type_label_derived, activity_code, establishments``."""
        a = self.activities[self.act_active & (self.act_row >= 0)]
        g = a.groupby("type_code", dropna=True).agg(type_label=("type_label", "first"),
                                                    type_label_derived=("type_label_derived", "first"),
                                                    activity_code=("component_1", "first"),
                                                    establishments=("row", "nunique")).reset_index()
        return g.sort_values("type_label").reset_index(drop=True)
