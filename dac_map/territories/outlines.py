"""Territory outlines: the union of the department and commune outlines a territory lists
(EPSG:4326, WGS84 degrees). Used by the ETL (the ``territoires`` layer) and by the catalogue
(territories edited since the ETL)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from dac_map import settings
from dac_map.errors import KEPT, RowIssue


def territory_outlines(territories: pd.DataFrame, departments: gpd.GeoDataFrame,
                      communes: gpd.GeoDataFrame | None, path: str = "territoires"
                      ) -> tuple[gpd.GeoDataFrame, list[RowIssue]]:
    """DAC territory polygons (EPSG:4326): union of their departments' and communes' outlines.

    A code with no outline is reported; a territory with no outline at all keeps an empty
    geometry (and is reported) so that it still lists its codes.
    """
    dep_geom = departments.set_index("code").geometry
    com_geom = communes.set_index("code").geometry if communes is not None and len(communes) else None
    geoms, issues = [], []
    for i, row in enumerate(territories.itertuples(index=False), start=2):
        parts = []
        for d in row.departments:
            if d in dep_geom.index:
                parts.append(dep_geom[d])
            else:
                issues.append(RowIssue(path, i, "departements",
                                       f"no outline for department {d} of {row.dac_id}", KEPT))
        missing = []
        for c in row.communes:
            if com_geom is not None and c in com_geom.index:
                parts.append(com_geom[c])
            else:
                missing.append(c)
        if missing:
            issues.append(RowIssue(path, i, "communes",
                                   f"no outline for {len(missing)} commune(s) of {row.dac_id}: "
                                   f"{', '.join(missing[:5])}", KEPT))
        geoms.append(None if not parts else parts[0] if len(parts) == 1 else shapely.union_all(parts))
    out = territories.copy()
    out["departments"] = out["departments"].map(" ".join)
    out["communes"] = out["communes"].map(" ".join)
    return gpd.GeoDataFrame(out, geometry=geoms, crs=settings.CRS_DISPLAY), issues
