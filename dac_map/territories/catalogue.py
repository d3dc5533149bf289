"""The steward table in the query layer: the territories of a loaded catalogue come from the
steward table (not from the copy the ETL wrote), so an edit shows at the next load without a
new ETL run; and the cached "which DAC for this commune" lookup of a catalogue.

Geometries: EPSG:4326 (WGS84 degrees), unions of the department and commune outlines of the
store.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from dac_map.territories import (
    MAIN_SET,
    DacLookup,
    Territory,
    current_territories,
    dac_directory,
    territory_frame,
)

#: Value of the store metadata ``territories_source`` when the ETL read the steward table.
STEWARD_SOURCE = "steward"


def steward_layers(metadata: dict, territories: gpd.GeoDataFrame | None,
                   departments: gpd.GeoDataFrame | None, communes: gpd.GeoDataFrame | None,
                   establishments: pd.DataFrame, set_name: str = MAIN_SET,
                   ) -> tuple[gpd.GeoDataFrame | None, pd.Series | None]:
    """The ``territoires`` layer rebuilt from the steward table, and the establishments'
    ``dac_id`` reassigned with it, when the store was built from the steward table
    (``metadata['territories_source'] == 'steward'``); ``(territories, None)`` otherwise (a
    store built from an explicit territory file keeps it)."""
    if metadata.get("territories_source") != STEWARD_SOURCE or departments is None:
        return territories, None
    from dac_map.codes import assign_territory
    from dac_map.territories.outlines import territory_outlines as build_territories

    frame = territory_frame(current_territories(set_name))
    layer = _reuse_or_build(frame, territories, departments, communes, build_territories)
    dac_id = None
    if "department" in establishments and "commune" in establishments:
        dac_id = assign_territory(establishments["department"], establishments["commune"], frame)
        counts = dac_id.value_counts()
        layer["establishments"] = layer["dac_id"].map(counts).fillna(0).astype("int64")
    return layer, dac_id


def _reuse_or_build(frame: pd.DataFrame, stored: gpd.GeoDataFrame | None,
                    departments: gpd.GeoDataFrame, communes: gpd.GeoDataFrame | None,
                    build) -> gpd.GeoDataFrame:
    """The territory layer of ``frame``: outlines the ETL already unioned for the same code
    lists are reused; only territories edited since are unioned again."""
    if not len(frame):
        return build(frame, departments, communes)[0]
    known: dict[str, object] = {}
    if stored is not None and len(stored) and {"dac_id", "departments", "communes"} <= set(stored.columns):
        for tid, deps, coms, geom in zip(stored["dac_id"], stored["departments"], stored["communes"],
                                         stored.geometry):
            known[f"{tid}|{deps or ''}|{coms or ''}"] = geom
    keys = [f"{t}|{' '.join(d)}|{' '.join(c)}" for t, d, c in
            zip(frame["dac_id"], frame["departments"], frame["communes"])]
    todo = [i for i, k in enumerate(keys) if k not in known]
    built = build(frame.iloc[todo], departments, communes)[0] if todo else None
    geoms = [known.get(k) for k in keys]
    for j, i in enumerate(todo):
        geoms[i] = built.geometry.iat[j]
    out = frame.copy()
    out["departments"] = out["departments"].map(" ".join)
    out["communes"] = out["communes"].map(" ".join)
    return gpd.GeoDataFrame(out, geometry=geoms, crs=departments.crs)


def territories_of(layer: pd.DataFrame) -> list[Territory]:
    """The territories of a ``territoires`` layer (codes stored space-separated)."""
    def text(row: dict, key: str) -> str:
        v = row.get(key)
        return "" if v is None or (isinstance(v, float) and v != v) else str(v)

    out = []
    for row in layer.drop(columns="geometry", errors="ignore").to_dict("records"):
        out.append(Territory(id=text(row, "dac_id"), name=text(row, "name"),
                             departments=tuple(text(row, "departments").split()),
                             communes=tuple(text(row, "communes").split()),
                             finess=text(row, "finess"), phone=text(row, "phone"),
                             website=text(row, "website"), note=text(row, "note")))
    return out


def dac_lookup(catalogue) -> DacLookup:
    """The catalogue's "which DAC for this commune" lookup (built once per catalogue): its
    territories and its DAC directory (establishments of category 606/801)."""
    return catalogue.cached(("territories", "dac_lookup"), lambda: DacLookup(
        territories_of(catalogue.territories), dac_directory(catalogue.establishments)))


def directory(catalogue) -> pd.DataFrame:
    """The DAC directory of a catalogue (cached)."""
    return catalogue.cached(("territories", "directory"),
                            lambda: dac_directory(catalogue.establishments))


__all__ = ["STEWARD_SOURCE", "dac_lookup", "directory", "steward_layers", "territories_of"]
