"""What changed in the FINESS+ activities between two versions of the store (for the refresh
change report, :mod:`dac_map.refresh.diff`, which holds their French labels): per establishment
activity (``activity_id``),

==========================  ================================================================
``activity_opened``         active in the new version, absent or inactive in the previous one
``activity_closed``         active in the previous version, absent or inactive in the new one
``zone_extended``           communes added to its intervention zone
``zone_reduced``            communes removed from its intervention zone
``activity_capacity``       installed or authorised places of the activity changed
==========================  ================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dac_map.errors import StoreError
from dac_map.finess_plus.model import AUTHORISED_STATUSES, INSTALLED_STATUSES, PLACE_UNITS

_ACT_COLS = ["activity_id", "level", "finess", "type_label", "active", "zone_activity_id"]


@dataclass(frozen=True)
class ActivityChange:
    """One change of one activity of an establishment (``finess``)."""

    finess: str
    change: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Snapshot:
    activities: pd.DataFrame  # establishment-level, indexed by activity_id
    zones: dict[str, frozenset[str]]  # activity_id -> communes (own or inherited)
    places: dict[str, tuple[float | None, float | None]]  # activity_id -> (installed, authorised)


def has_activities(path) -> bool:
    """Whether a store (path or :class:`~dac_map.store.Store`) has the FINESS+ ``activites``
    layer."""
    from dac_map.store import open_store

    try:
        return open_store(path).has_layer("activites")
    except StoreError:  # an unreadable store: the establishments comparison reports it
        return False


def snapshot(path) -> Snapshot:
    """The establishment-level activities of a store (path or Store), their zones and places."""
    from dac_map.store import open_store

    st = open_store(path)
    acts = st.read_layer("activites", columns=_ACT_COLS, read_geometry=False)
    acts = acts[acts["level"] == "etablissement"].drop_duplicates("activity_id").set_index("activity_id")
    acts["active"] = acts["active"].fillna(False).astype(bool)
    zones_t = st.read_layer("zones_intervention", columns=["activity_id", "commune"], read_geometry=False)
    by_zone = zones_t.groupby("activity_id")["commune"].agg(frozenset).to_dict()
    zones = {aid: by_zone.get(z, frozenset()) for aid, z in acts["zone_activity_id"].dropna().items()}
    caps = st.read_layer("capacites", columns=["activity_id", "number", "status", "unit"], read_geometry=False)
    caps = caps[caps["unit"].isin(PLACE_UNITS) & caps["activity_id"].isin(acts.index)]
    per = caps.groupby(["activity_id", "status", "unit"])["number"].max().reset_index()
    inst = per[per["status"].isin(INSTALLED_STATUSES)].groupby("activity_id")["number"].sum()
    aut = per[per["status"].isin(AUTHORISED_STATUSES)].groupby("activity_id")["number"].sum()
    places = {aid: (inst.get(aid), aut.get(aid)) for aid in set(inst.index) | set(aut.index)}
    return Snapshot(acts, zones, places)


def _places_text(label: str, p: tuple[float | None, float | None] | None) -> str:
    if p is None:
        return f"{label} : capacité non renseignée"
    parts = []
    if p[0] is not None:
        parts.append(f"{int(p[0])} installées")
    if p[1] is not None:
        parts.append(f"{int(p[1])} autorisées")
    return f"{label} : " + " · ".join(parts) + " places"


def _communes(codes: frozenset[str], limit: int = 12) -> str:
    s = sorted(codes)
    return ", ".join(s[:limit]) + (f"… ({len(s)})" if len(s) > limit else "")


def compare_activities(previous, current) -> list[ActivityChange]:
    """Activity changes of ``current`` against ``previous`` (both stores with activities)."""
    old, new = snapshot(previous), snapshot(current)
    out: list[ActivityChange] = []
    o, n = old.activities, new.activities
    was = set(o.index[o["active"]])
    now = set(n.index[n["active"]])
    for aid in sorted(now - was):
        out.append(ActivityChange(str(n.at[aid, "finess"]), "activity_opened", None, str(n.at[aid, "type_label"])))
    for aid in sorted(was - now):
        fin = n.at[aid, "finess"] if aid in n.index else o.at[aid, "finess"]
        out.append(ActivityChange(str(fin), "activity_closed", str(o.at[aid, "type_label"]), None))
    for aid in sorted(was & now):
        label = str(n.at[aid, "type_label"])
        fin = str(n.at[aid, "finess"])
        zo, zn = old.zones.get(aid, frozenset()), new.zones.get(aid, frozenset())
        if zn - zo:
            out.append(ActivityChange(fin, "zone_extended", f"{label} : {len(zo)} communes",
                                      f"{len(zn)} communes (+ {_communes(zn - zo)})"))
        if zo - zn:
            out.append(ActivityChange(fin, "zone_reduced", f"{label} : {len(zo)} communes",
                                      f"{len(zn)} communes (− {_communes(zo - zn)})"))
        po, pn = old.places.get(aid), new.places.get(aid)
        if po != pn:
            out.append(ActivityChange(fin, "activity_capacity", _places_text(label, po), _places_text(label, pn)))
    return out
