"""Coverage by intervention zones (FINESS+): for each commune, how many services authorised to
intervene there, per activity type; a commune no service of a type covers is a white zone for
that type. This replaces the straight-line distance for zone-based (home) services: a closer
service that does not have the commune in its zone does not serve it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from dac_map.query.catalogue import Catalogue
from dac_map.query.errors import QueryError


def zone_types(catalogue: Catalogue) -> pd.DataFrame:
    """Activity types that have an intervention zone in the store (zone-based services):
    ``type_code, type_label, establishments``, by decreasing number of establishments."""
    fp = getattr(catalogue, "finess_plus", None)
    if fp is None:
        raise QueryError("activités FINESS+ non chargées / FINESS+ activities are not loaded")
    a = fp.activities[fp.act_active & (fp.act_row >= 0) & fp.activities["zone_activity_id"].notna().to_numpy()]
    g = a.groupby("type_code").agg(type_label=("type_label", "first"), establishments=("row", "nunique"))
    return g.reset_index().sort_values(["establishments", "type_label"], ascending=[False, True]).reset_index(drop=True)


def zone_coverage(catalogue: Catalogue, communes: Iterable[str], types: Iterable[str] | None = None
                  ) -> pd.DataFrame:
    """Per commune (INSEE codes ``communes``) and activity type (TRE_R392 codes, default every
    zone-based type): ``commune, commune_name, type_code, type_label, services`` (number of
    distinct open establishments whose active activity of that type has the commune in its
    zone) and ``white`` (no service)."""
    fp = getattr(catalogue, "finess_plus", None)
    if fp is None:
        raise QueryError("activités FINESS+ non chargées / FINESS+ activities are not loaded")
    communes = list(dict.fromkeys(communes))
    ztypes = zone_types(catalogue)
    wanted = list(types) if types is not None else list(ztypes["type_code"])
    labels = dict(zip(ztypes["type_code"], ztypes["type_label"]))
    a = fp.activities
    open_rows = catalogue.status.mask(["ouvert"])
    keep = fp.act_active & (fp.act_row >= 0) & a["zone_activity_id"].notna().to_numpy() \
        & a["type_code"].isin(wanted).to_numpy()
    keep &= open_rows[np.where(fp.act_row >= 0, fp.act_row, 0)]
    link = pd.DataFrame({"zone_activity_id": a.loc[keep, "zone_activity_id"].to_numpy(),
                         "type_code": a.loc[keep, "type_code"].to_numpy(), "row": fp.act_row[keep]})
    pairs = link.merge(fp.zones[["activity_id", "commune"]], left_on="zone_activity_id", right_on="activity_id")
    pairs = pairs[pairs["commune"].isin(communes)].drop_duplicates(["commune", "type_code", "row"])
    counts = pairs.groupby(["commune", "type_code"]).size()
    grid = pd.MultiIndex.from_product([communes, wanted], names=["commune", "type_code"])
    out = counts.reindex(grid, fill_value=0).rename("services").reset_index()
    out["commune_name"] = out["commune"].map(lambda c: catalogue.commune_name(c) or c)
    out["type_label"] = out["type_code"].map(labels).fillna(out["type_code"])
    out["white"] = out["services"] == 0
    return out[["commune", "commune_name", "type_code", "type_label", "services", "white"]]
