"""Coverage indicators of a DAC territory: counts, capacities, distances, white zones, ratios.

Units and CRS:

* every distance is computed in **metres** in a metric CRS — Lambert-93 (EPSG:2154) in
  metropolitan France, the local CRS of :data:`dac_map.settings.LOCAL_METRIC_CRS` overseas —
  between points of the same CRS only, and reported in **kilometres** (straight line, "à vol
  d'oiseau", not road distance);
* a commune is represented by the centroid of its outline computed in that metric CRS
  (:func:`dac_map.coverage.resources.commune_centroids_m`);
* establishments are their ``x_m``/``y_m`` (metres, EPSG ``epsg_m``) from the catalogue
  (:class:`~dac_map.query.Catalogue`, the store as loaded once for the whole app).

Lambert-93 is conformal: its scale error stays within about -0.1 % / +0.3 % over mainland
France, so a straight-line Lambert-93 distance is within a few metres per kilometre of the
geodesic (ellipsoidal) distance.

The distances to the nearest resource and the white zones are computed in
:mod:`dac_map.coverage.distances`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dac_map import settings
from dac_map.coverage.distances import nearest_resources, xy_epsg
from dac_map.coverage.resources import (
    ResourceType,
    commune_names,
    territory_communes,
    territory_label,
)
from dac_map.query import Catalogue, StatusFilter
from dac_map.query.equipment import offered_in


# --------------------------------------------------------------------------- counts


def _group_key(by: str) -> str:
    if by not in ("dac_id", "commune", "department"):
        raise ValueError("by must be 'dac_id', 'commune' or 'department'")
    return by


def family_indicators(establishments: pd.DataFrame, by: str = "dac_id",
                      families: pd.DataFrame | None = None) -> pd.DataFrame:
    """Establishments and installed places per family, per territory/commune/department.

    Returns columns ``<by>``, ``family``, ``family_label``, ``establishments`` (count),
    ``capacity_installed`` (sum of the establishments' installed places, lines flagged removed
    excluded; establishments with no equipment line count 0) and ``with_capacity`` (how many
    of them have a known capacity). Sorted by group then family order.
    """
    key = _group_key(by)
    est = establishments
    cap = pd.to_numeric(est["capacity_installed"], errors="coerce")
    frame = pd.DataFrame({key: est[key].astype("object").fillna("?"), "family": est["family"],
                          "cap": cap.fillna(0.0), "known": cap.notna()})
    out = (frame.groupby([key, "family"], sort=False)
           .agg(establishments=("family", "size"), capacity_installed=("cap", "sum"),
                with_capacity=("known", "sum"))
           .reset_index())
    labels = dict(zip(est["family"], est["family_label"]))
    order: dict[str, int] = {}
    if families is not None and len(families):
        labels = {**labels, **dict(zip(families["family"], families["family_label"]))}
        order = dict(zip(families["family"], families["order"]))
    out.insert(2, "family_label", out["family"].map(labels))
    out["_o"] = out["family"].map(order).fillna(999)
    out = out.sort_values([key, "_o", "family"], kind="stable").drop(columns="_o")
    out["establishments"] = out["establishments"].astype("int64")
    out["with_capacity"] = out["with_capacity"].astype("int64")
    return out.reset_index(drop=True)


def discipline_indicators(establishments: pd.DataFrame, equipment: pd.DataFrame,
                          by: str = "dac_id") -> pd.DataFrame:
    """Establishments and installed places per equipment discipline, per group.

    Only offered lines count (:func:`~dac_map.query.equipment.offered_lines`: installation
    not flagged removed, installed capacity not zero). Returns columns
    ``<by>``, ``discipline``, ``discipline_label``, ``establishments`` (distinct FINESS with a
    line of the discipline), ``capacity_installed`` (places).
    """
    key = _group_key(by)
    cols = [key, "discipline", "discipline_label", "establishments", "capacity_installed"]
    if not len(equipment):
        return pd.DataFrame(columns=cols)
    eq = equipment
    eq = eq[offered_in(eq)]
    where = establishments.drop_duplicates("finess").set_index("finess")[key]
    frame = pd.DataFrame({key: eq["finess"].map(where), "discipline": eq["discipline"],
                          "finess": eq["finess"],
                          "cap": pd.to_numeric(eq["capacity_installed"], errors="coerce").fillna(0)})
    frame = frame[frame[key].notna()]
    out = (frame.groupby([key, "discipline"], sort=True)
           .agg(establishments=("finess", "nunique"), capacity_installed=("cap", "sum"))
           .reset_index())
    labels = dict(zip(equipment["discipline"], equipment.get("discipline_label", equipment["discipline"])))
    out.insert(2, "discipline_label", out["discipline"].map(labels))
    out["establishments"] = out["establishments"].astype("int64")
    return out[cols]


# --------------------------------------------------------------------------- population


def places_per_1000(communes: pd.DataFrame, establishments: pd.DataFrame, places: np.ndarray,
                    population_75: pd.Series, radius_km: float = 0.0) -> pd.DataFrame:
    """Installed places per 1,000 inhabitants aged 75 or more, for each commune.

    Args:
        communes: ``code`` + centroid ``x_m``/``y_m``/``epsg_m`` (metres) or outlines.
        establishments: ``commune`` (INSEE code) and ``x_m``/``y_m``/``epsg_m`` (metres).
        places: installed places per establishment (aligned; 0 for other kinds), e.g.
            :meth:`ResourceType.places`.
        population_75: people aged 75+ per commune code (see :mod:`~dac_map.coverage.population`).
        radius_km: 0 = places located in the commune / its own 75+ population; ``R`` > 0 = a
            catchment ratio: places of the establishments within ``R`` km of the centroid /
            75+ population of the communes whose centroid is within ``R`` km (same CRS).
            Communes absent from ``communes`` do not add population to a catchment.

    Returns ``code``-indexed ``pop_75plus`` (of the commune), ``places`` and ``pop_75plus_area``
    (numerator and denominator of the ratio) and ``places_per_1000`` (NaN when the
    denominator is 0 or unknown).
    """
    places = np.asarray(places, dtype=float)
    codes = communes["code"].astype("str").to_numpy()
    pop = pd.to_numeric(population_75.reindex(codes), errors="coerce").to_numpy(dtype=float)
    if radius_km <= 0:
        per = pd.Series(places).groupby(establishments["commune"].astype("object").to_numpy()).sum()
        num = pd.Series(codes).map(per).fillna(0).to_numpy(dtype=float)
        den = pop.copy()
    else:
        cx, cy, ce = xy_epsg(communes, "communes")
        ex, ey, ee = xy_epsg(establishments, "establishments")
        r = radius_km * 1000.0
        num = np.zeros(len(codes))
        den = np.zeros(len(codes))
        known = np.zeros(len(codes), dtype=bool)
        for epsg in np.unique(ce[ce > 0]):
            q = np.flatnonzero((ce == epsg) & np.isfinite(cx) & np.isfinite(cy))
            qpts = shapely.points(cx[q], cy[q])
            t = np.flatnonzero((ee == epsg) & (places > 0) & np.isfinite(ex) & np.isfinite(ey))
            if len(t):
                tree = shapely.STRtree(shapely.points(ex[t], ey[t]))
                iq, it = tree.query(qpts, predicate="dwithin", distance=r)
                num[q] = np.bincount(iq, weights=places[t[it]], minlength=len(q))
            tree = shapely.STRtree(qpts)
            iq, ic = tree.query(qpts, predicate="dwithin", distance=r)
            pc = pop[q][ic]
            ok = np.isfinite(pc)
            den[q] = np.bincount(iq[ok], weights=pc[ok], minlength=len(q))
            known[q] = np.bincount(iq[ok], minlength=len(q)) > 0
        den = np.where(known, den, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(den > 0, num / den * 1000.0, np.nan)
    return pd.DataFrame({"pop_75plus": pop, "places": num, "pop_75plus_area": den,
                         "places_per_1000": ratio}, index=pd.Index(codes, name="code"))


# --------------------------------------------------------------------------- per territory


@dataclass
class CommuneCoverage:
    """Per-commune coverage of a territory for one kind of resource.

    ``table`` (GeoDataFrame, outlines in EPSG:4326) has, per commune: ``code``, ``name``,
    ``department``, ``distance_km`` (km to the nearest resource, straight line from the
    centroid), ``nearest_finess``, ``nearest_name``, ``nearest_commune``, ``resources``
    (resources of the kind located in the commune), ``places`` (their installed places),
    ``white_zone`` (distance > threshold), and — with a population table — ``pop_75plus``,
    ``places_area``, ``pop_75plus_area``, ``places_per_1000``.
    """

    dac_id: str
    territory_name: str
    resource: ResourceType
    resource_label: str
    threshold_km: float
    radius_km: float
    table: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)
    has_population: bool = False
    has_capacity: bool = True
    #: white-zone threshold by car (minutes) when a road network was used, else None
    threshold_min: float | None = None

    @property
    def by_road(self) -> bool:
        """True when the table has car travel times (``travel_min``, ``white_zone_time``)."""
        return self.threshold_min is not None

    @property
    def white_zones_by_time(self) -> pd.DataFrame:
        """Communes beyond the time threshold (or reaching no resource), longest first."""
        if not self.by_road:
            return pd.DataFrame()
        cols = ["code", "name", "travel_min", "travel_nearest_name", "distance_km", "snap_m"]
        wz = self.table.loc[self.table["white_zone_time"], cols]
        return pd.DataFrame(wz).sort_values("travel_min", ascending=False, kind="stable",
                                            na_position="first")

    @property
    def white_zones(self) -> pd.DataFrame:
        """The white-zone communes, farthest first (no geometry)."""
        cols = [c for c in ("code", "name", "distance_km", "nearest_name", "nearest_commune",
                            "pop_75plus") if c in self.table]
        wz = self.table.loc[self.table["white_zone"], cols]
        return pd.DataFrame(wz).sort_values("distance_km", ascending=False, kind="stable")

    def summary(self) -> dict[str, float | int | str | None]:
        """Territory-level figures (counts, distances in km, places per 1,000 aged 75+)."""
        t = self.table
        d = t["distance_km"].replace([np.inf], np.nan)
        out: dict[str, float | int | str | None] = {
            "communes": int(len(t)),
            "white_zones": int(t["white_zone"].sum()),
            "communes_without_resource": int(np.isinf(t["distance_km"]).sum()),
            "resources": int(t["resources"].sum()),
            "places": float(t["places"].sum()),
            "distance_mean_km": _r(d.mean()),
            "distance_median_km": _r(d.median()),
            "distance_max_km": _r(d.max()),
        }
        if self.has_population:
            pop = t["pop_75plus"].fillna(0)
            total = float(pop.sum())
            out["pop_75plus"] = total
            out["pop_75plus_white_zones"] = float(pop[t["white_zone"]].sum())
            out["places_per_1000_75plus"] = (_r(float(t["places"].sum()) / total * 1000)
                                             if total and self.has_capacity else None)
            w = pop[np.isfinite(t["distance_km"])]
            out["distance_mean_75plus_km"] = _r(float((d[w.index] * w).sum() / w.sum())) if w.sum() else None
        if self.by_road:
            m = t["travel_min"]
            out["white_zones_time"] = int(t["white_zone_time"].sum())
            out["travel_median_min"] = _r(m.median(), 1)
            out["travel_max_min"] = _r(m.max(), 1)
            out["communes_off_network"] = int((t["road"] == "hors réseau").sum())
        return out


def _r(v: float | None, nd: int = 2) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return round(float(v), nd)


def commune_coverage(catalogue: Catalogue, dac_id: str, resource: ResourceType,
                     threshold_km: float, population_75: pd.Series | None = None,
                     radius_km: float = 0.0, network=None,
                     threshold_min: float | None = None) -> CommuneCoverage:
    """Per-commune coverage of territory ``dac_id`` for ``resource``.

    Distances look at every establishment of the store (a resource across the territory's
    border counts); ``resources``/``places`` count those located in the commune.
    ``threshold_km`` (km) defines white zones; ``radius_km`` (km) the catchment of the
    places-per-1,000 ratio (0 = the commune itself), computed when ``population_75`` is given.
    With a road ``network`` (:class:`~dac_map.network.RoadNetwork`), the table also has the car
    travel time to the nearest resource (``travel_min``...) and ``white_zone_time`` (more than
    ``threshold_min`` minutes, setting ``COVERAGE_WHITE_ZONE_MIN`` by default): see
    :mod:`dac_map.network.coverage`.
    """
    communes = territory_communes(catalogue, dac_id)
    est = catalogue.establishments
    mask = resource.mask(catalogue)
    places = resource.places(catalogue)
    near = nearest_resources(communes, est, mask)
    t = near.table
    idx = t["nearest_index"].to_numpy()
    has = idx >= 0
    pick = np.maximum(idx, 0)
    names = commune_names(catalogue)
    table = gpd.GeoDataFrame({
        "code": communes["code"].to_numpy(),
        "name": communes["name"].to_numpy(),
        "department": communes["department"].to_numpy(),
        "distance_km": t["distance_km"].to_numpy(),
        "nearest_finess": np.where(has, est["finess"].to_numpy()[pick], None),
        "nearest_name": np.where(has, est["name"].to_numpy()[pick], None),
        "nearest_commune": np.where(
            has, [names.get(c, c) for c in est["commune"].astype("object").to_numpy()[pick]], None),
    }, geometry=communes.geometry.to_numpy(), crs=communes.crs)
    in_com = pd.DataFrame({"commune": est["commune"].to_numpy()[mask], "places": places[mask]})
    per = in_com.groupby("commune")["places"].agg(["size", "sum"])
    table["resources"] = table["code"].map(per["size"]).fillna(0).astype("int64")
    table["places"] = table["code"].map(per["sum"]).fillna(0.0)
    table["white_zone"] = np.asarray(table["distance_km"] > threshold_km)
    has_pop = population_75 is not None
    has_capacity = bool(places[mask].sum() > 0)
    if has_pop:
        ratio = places_per_1000(communes, est, places, population_75, radius_km)
        table["pop_75plus"] = ratio["pop_75plus"].to_numpy()
        table["places_area"] = ratio["places"].to_numpy()
        table["pop_75plus_area"] = ratio["pop_75plus_area"].to_numpy()
        # No installed place known for this kind at all: a ratio of 0 would be misleading.
        table["places_per_1000"] = ratio["places_per_1000"].to_numpy() if has_capacity else np.nan
    notes = list(near.notes)
    if not mask.any():
        notes.append("aucune ressource de ce type dans les données chargées")
    elif has_pop and not has_capacity:
        notes.append("aucune capacité (places installées) connue pour ce type de ressource : "
                     "ratio par habitant non calculé")
    # ---- road network (issue 12): travel time per commune, white zones by time
    travel_threshold = None
    if network is not None:
        from dac_map.network.coverage import (add_travel_columns, commune_points, direction_for,
                                              travel_coverage)

        travel_threshold = float(threshold_min if threshold_min is not None
                                 else settings.COVERAGE_WHITE_ZONE_MIN)
        lon, lat = commune_points(communes)
        travel = travel_coverage(network, communes["code"].to_numpy(), lon, lat,
                                 np.asarray(catalogue.lon), np.asarray(catalogue.lat), mask,
                                 direction=direction_for(resource.families))
        add_travel_columns(table, travel, travel_threshold, est["finess"].to_numpy(),
                           est["name"].to_numpy())
        if travel.off_network:
            notes.append(f"{len(travel.off_network)} commune(s) à plus de "
                         f"{settings.NETWORK_MAX_SNAP_M / 1000:g} km d'une route du réseau chargé : "
                         f"sans durée ({', '.join(travel.off_network[:10])})")
        if len(travel.resources_off_network):
            notes.append(f"{len(travel.resources_off_network)} ressource(s) hors du réseau routier "
                         "chargé, ignorées pour les durées")
    deps = set(catalogue.department.values)
    return CommuneCoverage(dac_id=dac_id, territory_name=territory_label(catalogue, dac_id),
                           resource=resource, resource_label=resource.describe(catalogue),
                           threshold_km=float(threshold_km), radius_km=float(radius_km),
                           table=table, notes=notes + _border_note(communes, deps),
                           has_population=has_pop, has_capacity=has_capacity,
                           threshold_min=travel_threshold)


def _border_note(communes: pd.DataFrame, loaded_departments: Iterable[str]) -> list[str]:
    """A note when the store only holds some departments: resources just across the border of
    the territory may be missing, so distances near the border can be overestimated."""
    loaded = set(loaded_departments)
    if len(loaded) >= 90:
        return []
    return [f"Données chargées pour {len(loaded)} département(s) seulement "
            f"({', '.join(sorted(loaded))}) : les ressources des départements voisins ne sont pas "
            "prises en compte, les distances près des limites peuvent être surestimées."]


def _open_establishments(catalogue: Catalogue, rows: np.ndarray) -> pd.DataFrame:
    """The open establishments among ``rows`` (boolean over the catalogue rows)."""
    keep = rows & StatusFilter(open_only=True).mask(catalogue)
    est = catalogue.establishments
    return pd.DataFrame(est[keep].drop(columns=est.geometry.name))


def territory_indicators(catalogue: Catalogue, dac_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-family and per-discipline indicators of one territory (open establishments whose
    primary DAC is ``dac_id``): ``(families, disciplines)`` frames without the group column."""
    dac = catalogue.establishments["dac_id"].to_numpy(dtype=object, na_value=None) == dac_id
    est = _open_establishments(catalogue, dac)
    fam = family_indicators(est, "dac_id", catalogue.families).drop(columns="dac_id")
    dis = discipline_indicators(est, catalogue.equipment, "dac_id").drop(columns="dac_id")
    return fam.reset_index(drop=True), dis.reset_index(drop=True)


def commune_indicators(catalogue: Catalogue, dac_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-family and per-discipline indicators per commune of a territory (``commune`` column =
    INSEE code, ``commune_name`` added)."""
    codes = territory_communes(catalogue, dac_id)["code"].astype(str)
    est = _open_establishments(catalogue, catalogue.commune.mask(codes))
    names = commune_names(catalogue)
    fam = family_indicators(est, "commune", catalogue.families)
    dis = discipline_indicators(est, catalogue.equipment, "commune")
    fam.insert(1, "commune_name", fam["commune"].map(names))
    dis.insert(1, "commune_name", dis["commune"].map(names))
    return fam, dis
