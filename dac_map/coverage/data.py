"""The tables the coverage indicators need, read once from the GeoPackage store.

Geometry conventions: ``communes.geometry`` is the commune outline in EPSG:4326 (WGS84,
degrees); ``x_m``/``y_m`` are metres in the CRS named by ``epsg_m`` (Lambert-93 EPSG:2154 in
metropolitan France, the local metric CRS of :data:`dac_map.settings.LOCAL_METRIC_CRS`
overseas) — for establishments as written by the ETL, for communes the centroid of the
outline computed in that metric CRS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from dac_map import settings, store
from dac_map.errors import StoreError, ValidationError

#: Columns of the ``etablissements`` layer read by the coverage package (no geometry needed:
#: metric coordinates are already in the layer).
ESTABLISHMENT_COLUMNS = (
    "finess", "name", "category", "category_label", "family", "family_label", "commune",
    "department", "city", "x_m", "y_m", "epsg_m", "dac_id", "capacity_installed",
    "capacity_authorised", "geo_precision",
)

_OVERSEAS_DEP = re.compile(r"^(97[0-9]|98[0-9])")


def commune_department(codes: pd.Series) -> pd.Series:
    """INSEE department code of INSEE commune codes: ``80021`` -> ``80``, ``2A004`` -> ``2A``,
    ``97105`` -> ``971``."""
    codes = codes.astype("str")
    overseas = codes.str.match(_OVERSEAS_DEP)
    return codes.str[:2].where(~overseas, codes.str[:3])


def metric_epsg(departments: pd.Series) -> pd.Series:
    """Metric CRS (EPSG code) used for distances, per INSEE department code: the local CRS of
    :data:`~dac_map.settings.LOCAL_METRIC_CRS` overseas, Lambert-93 (2154) in metropolitan
    France, ``0`` (no distance computed) for other overseas codes (98x...)."""
    deps = departments.astype("str")
    local = deps.map(settings.LOCAL_METRIC_CRS)
    default = np.where(deps.str.match(_OVERSEAS_DEP), 0, 2154)
    return local.fillna(pd.Series(default, index=deps.index)).astype("int64")


def commune_centroids_m(communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Centroids of commune outlines, in metres, each in its metric CRS.

    Args:
        communes: ``code`` + polygon ``geometry`` in any CRS (EPSG:4326 in the store).

    Returns:
        A frame aligned with ``communes`` with ``code``, ``department``, ``x_m``, ``y_m``
        (metres) and ``epsg_m``. Communes whose department has no metric CRS (``epsg_m`` 0)
        get NaN coordinates: they are left out of distances (see ``coverage`` notes).
    """
    if communes.crs is None:
        raise ValidationError("commune outlines have no CRS")
    out = pd.DataFrame({"code": communes["code"].astype("str").to_numpy()}, index=communes.index)
    out["department"] = commune_department(out["code"])
    out["epsg_m"] = metric_epsg(out["department"])
    out["x_m"] = np.nan
    out["y_m"] = np.nan
    for epsg in out["epsg_m"].unique():
        if epsg == 0:
            continue
        sel = (out["epsg_m"] == epsg).to_numpy()
        cen = communes.geometry[sel].to_crs(int(epsg)).centroid
        out.loc[sel, "x_m"] = cen.x.to_numpy()
        out.loc[sel, "y_m"] = cen.y.to_numpy()
    return out


def _split_codes(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [c for c in re.split(r"[\s,|]+", str(value)) if c]


@dataclass
class CoverageData:
    """Everything the coverage indicators read from a store.

    ``establishments`` has the :data:`ESTABLISHMENT_COLUMNS`; ``equipment`` the
    ``equipements`` layer; ``communes`` the commune outlines (EPSG:4326) with their
    ``department`` and centroid ``x_m``/``y_m``/``epsg_m`` (metres); ``territories`` has
    ``dac_id``, ``name``, ``departments`` and ``communes`` as lists of codes.
    """

    establishments: pd.DataFrame
    equipment: pd.DataFrame
    communes: gpd.GeoDataFrame
    territories: pd.DataFrame
    families: pd.DataFrame
    metadata: dict[str, object] = field(default_factory=dict)
    source: Path | None = None

    # ------------------------------------------------------------------ territories

    def territory_name(self, dac_id: str) -> str:
        """French display name of a territory (its id when unknown)."""
        row = self.territories.loc[self.territories["dac_id"] == dac_id, "name"]
        return str(row.iloc[0]) if len(row) else str(dac_id)

    def commune_territory(self) -> pd.Series:
        """Primary DAC id of every commune (index = commune code): a territory listing the
        commune wins over one listing its department (same rule as the ETL)."""
        by_dep: dict[str, str] = {}
        by_com: dict[str, str] = {}
        for dac_id, deps, coms in self.territories[["dac_id", "departments", "communes"]].itertuples(
                index=False, name=None):
            for d in deps:
                by_dep.setdefault(d, dac_id)
            for c in coms:
                by_com.setdefault(c, dac_id)
        codes = self.communes["code"].astype("object")
        explicit = codes.map(by_com).astype("object")
        by_department = self.communes["department"].astype("object").map(by_dep).astype("object")
        result = explicit.where(explicit.notna(), by_department)
        return pd.Series(result.to_numpy(), index=codes.to_numpy(), dtype="object")

    def territory_communes(self, dac_id: str) -> gpd.GeoDataFrame:
        """The communes of a DAC territory (outlines in EPSG:4326, centroids in metres)."""
        if dac_id not in set(self.territories["dac_id"]):
            raise ValidationError(f"territoire DAC inconnu : {dac_id!r}")
        primary = self.commune_territory()
        sel = (primary == dac_id).to_numpy()
        return self.communes[sel].reset_index(drop=True)

    def commune_names(self) -> dict[str, str]:
        """Commune code -> name."""
        return dict(zip(self.communes["code"], self.communes["name"]))

    def family_labels(self) -> dict[str, str]:
        """Family id -> French label."""
        return dict(zip(self.families["family"], self.families["family_label"]))


def load_coverage_data(path: str | Path = settings.STORE_PATH) -> CoverageData:
    """Read the coverage tables of a dac-map GeoPackage.

    Raises :class:`~dac_map.errors.StoreError` when the store or a required layer is missing
    (the ``communes`` layer is required: build the store with ``--communes``).
    """
    path = Path(path)
    layers = set(store.list_store_layers(path)) if path.exists() else set()
    if not path.exists():
        raise StoreError("the GeoPackage does not exist: run `dac-map etl` first", path=str(path))
    if store.COMMUNES not in layers:
        raise StoreError("no 'communes' layer: coverage indicators need commune outlines "
                         "(dac-map etl --communes ...)", path=str(path))
    available = {f for f in pyogrio.read_info(path, layer=store.ESTABLISHMENTS)["fields"]}
    cols = [c for c in ESTABLISHMENT_COLUMNS if c in available]
    est = store.read_layer(path, store.ESTABLISHMENTS, columns=cols, read_geometry=False)
    for c in ESTABLISHMENT_COLUMNS:
        if c not in est.columns:
            est[c] = np.nan
    est = pd.DataFrame(est)
    if store.EQUIPMENT in layers:
        eq = pd.DataFrame(store.read_layer(path, store.EQUIPMENT, read_geometry=False))
    else:
        eq = pd.DataFrame(columns=["finess", "discipline", "discipline_label",
                                   "capacity_installed", "removed_installed"])
    communes = store.read_layer(path, store.COMMUNES)
    communes = gpd.GeoDataFrame(communes, geometry="geometry", crs=communes.crs)
    cen = commune_centroids_m(communes)
    communes = communes.assign(department=cen["department"], x_m=cen["x_m"], y_m=cen["y_m"],
                               epsg_m=cen["epsg_m"])
    meta = store.read_metadata(path)
    if meta.get("territories_source") == "steward":  # issue 13: the stewards' current table
        from dac_map.territories import current_territories, territory_frame

        terr = territory_frame(current_territories())
    else:
        terr = pd.DataFrame(store.read_layer(path, store.TERRITORIES, read_geometry=False))
        terr = terr.assign(departments=terr["departments"].map(_split_codes),
                           communes=terr["communes"].map(_split_codes))
    if store.FAMILIES in layers:
        fam = pd.DataFrame(store.read_layer(path, store.FAMILIES, read_geometry=False))
    else:
        fam = (est[["family", "family_label"]].drop_duplicates("family")
               .assign(color="#777777", order=range(len(est["family"].unique()))))
    return CoverageData(establishments=est, equipment=eq, communes=communes, territories=terr,
                        families=fam, metadata=meta, source=path)
