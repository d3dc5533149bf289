"""What the coverage indicators count, read from the one :class:`~dac_map.query.Catalogue`.

* :class:`ResourceType` — a kind of resource, selected with the query layer's own filters
  (:class:`~dac_map.query.FamilyFilter`, :class:`~dac_map.query.CategoryFilter`,
  :class:`~dac_map.query.SpecialtyFilter`, open establishments only): the coverage page, the
  map and ``dac-map search`` select the same establishments for the same criteria;
* :func:`commune_table` — the commune outlines (EPSG:4326) with their department, centroid
  in metres in their metric CRS and primary DAC territory
  (:func:`dac_map.codes.assign_territory`, the ETL's rule);
* :func:`territory_communes` — the communes of one territory.

Geometry conventions: ``x_m``/``y_m`` are metres in the CRS named by ``epsg_m`` (Lambert-93
EPSG:2154 in metropolitan France, the local metric CRS of
:data:`dac_map.settings.LOCAL_METRIC_CRS` overseas): for establishments as written by the ETL,
for communes the centroid of the outline computed in that CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from dac_map import settings
from dac_map.codes import assign_territory, departments_of, metric_epsgs
from dac_map.errors import StoreError, ValidationError
from dac_map.query import (
    Catalogue,
    CategoryFilter,
    FamilyFilter,
    QueryFilter,
    SpecialtyFilter,
    StatusFilter,
)
from dac_map.query.specialty import specialty_capacity

# --------------------------------------------------------------------------- resource types


@dataclass(frozen=True)
class ResourceType:
    """A kind of resource: open establishments of families, FINESS categories and/or offering
    equipment disciplines (:func:`~dac_map.query.equipment.offered_lines`).

    Within a criterion the codes are alternatives (OR); between criteria they must all hold
    (AND). An empty selector matches every open establishment. ``label`` is the French text
    shown to users; when empty, :meth:`describe` builds one.
    """

    families: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    disciplines: tuple[str, ...] = ()
    label: str = ""

    @classmethod
    def family(cls, family: str, label: str = "") -> ResourceType:
        """Shortcut: every establishment of one family."""
        return cls(families=(family,), label=label)

    def key(self) -> str:
        """A stable text id, used in report snapshots (``famille=a+b;categorie=500``)."""
        parts = []
        for name, codes in (("famille", self.families), ("categorie", self.categories),
                            ("discipline", self.disciplines)):
            if codes:
                parts.append(f"{name}={'+'.join(sorted(codes))}")
        return ";".join(parts) or "tout"

    @classmethod
    def from_key(cls, key: str, label: str = "") -> ResourceType:
        """Inverse of :meth:`key`."""
        kw: dict[str, tuple[str, ...]] = {}
        names = {"famille": "families", "categorie": "categories", "discipline": "disciplines"}
        for part in (key or "").split(";"):
            if "=" in part:
                name, codes = part.split("=", 1)
                if name in names:
                    kw[names[name]] = tuple(c for c in codes.split("+") if c)
        return cls(label=label, **kw)

    def filters(self) -> list[QueryFilter]:
        """The query-layer filters selecting this kind (open establishments only)."""
        out: list[QueryFilter] = [StatusFilter(open_only=True)]
        if self.families:
            out.append(FamilyFilter(self.families))
        if self.categories:
            out.append(CategoryFilter(categories=self.categories))
        if self.disciplines:
            out.append(self.specialty())
        return out

    def specialty(self) -> SpecialtyFilter:
        """The discipline criterion (raises QueryError when there is none)."""
        return SpecialtyFilter(disciplines=self.disciplines)

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        """Boolean array over the catalogue's establishment rows: which are of this kind.
        Raises :class:`~dac_map.query.QueryError` for an unknown family or category, or a
        discipline criterion on a store without equipment data."""
        m = np.ones(len(catalogue), dtype=bool)
        for f in self.filters():
            m &= f.mask(catalogue)
        return m

    def places(self, catalogue: Catalogue) -> np.ndarray:
        """Installed places of each establishment row for this kind (0 when unknown or not of
        this kind): with a discipline criterion, the installed places of the offered lines of
        the discipline; otherwise the establishment's total (lines flagged removed excluded)."""
        m = self.mask(catalogue)
        if self.disciplines:
            cap = specialty_capacity(catalogue, self.specialty())
        else:
            cap = catalogue.capacity_installed
        return np.where(m, np.nan_to_num(cap, nan=0.0), 0.0)

    def for_elderly(self, catalogue: Catalogue) -> bool:
        """True when every open establishment of this kind belongs to a family meant for the
        elderly (:data:`~dac_map.settings.COVERAGE_ELDERLY_FAMILIES`, read now): only then is
        a ratio per 1,000 people aged 75+ meaningful."""
        elderly = set(str(settings.COVERAGE_ELDERLY_FAMILIES).split())
        if self.families:
            return set(self.families) <= elderly
        m = self.mask(catalogue)
        if not m.any():
            return False
        fam = catalogue.establishments["family"].to_numpy()[m]
        return set(map(str, fam)) <= elderly

    def describe(self, catalogue: Catalogue | None = None) -> str:
        """French label: :attr:`label`, or one built from the family/category/discipline
        labels of ``catalogue``."""
        if self.label:
            return self.label
        parts = []
        if self.families:
            labels = dict(catalogue.family_labels) if catalogue is not None else {}
            parts.append(" ou ".join(labels.get(f, f) for f in self.families))
        if self.categories:
            cat: dict[str, str] = {}
            if catalogue is not None:
                c = catalogue.categories
                cat = dict(zip(c["category"].astype(str), c["category_label"].astype(str)))
            parts.append("catégorie " + " ou ".join(cat.get(c, c) for c in self.categories))
        if self.disciplines:
            dis = dict(catalogue.equipment_arrays.labels["discipline"]) if catalogue is not None else {}
            parts.append("discipline " + " ou ".join(dis.get(d) or d for d in self.disciplines))
        return " — ".join(parts) or "Toutes ressources"


# --------------------------------------------------------------------------- communes


def commune_centroids_m(communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Centroids of commune outlines, in metres, each in its metric CRS.

    Args:
        communes: ``code`` + polygon ``geometry`` in any CRS (EPSG:4326 in the store).

    Returns:
        A frame aligned with ``communes`` with ``code``, ``department``, ``x_m``, ``y_m``
        (metres) and ``epsg_m``. Communes whose department has no metric CRS (``epsg_m`` 0)
        get NaN coordinates: they are left out of distances.
    """
    if communes.crs is None:
        raise ValidationError("commune outlines have no CRS")
    out = pd.DataFrame({"code": communes["code"].astype("str").to_numpy()}, index=communes.index)
    out["department"] = departments_of(out["code"])
    out["epsg_m"] = metric_epsgs(out["department"])
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


def commune_table(catalogue: Catalogue) -> gpd.GeoDataFrame:
    """The catalogue's communes (outlines in EPSG:4326) with ``department``, centroid
    ``x_m``/``y_m``/``epsg_m`` (metres) and primary territory ``dac_id``; computed once per
    catalogue. Raises :class:`~dac_map.errors.StoreError` when the store has no commune
    outlines."""
    def compute() -> gpd.GeoDataFrame:
        communes = catalogue.communes
        if not len(communes):
            raise StoreError("no 'communes' layer: coverage indicators need commune outlines "
                             "(dac-map etl --communes ...)",
                             path=str(catalogue.path) if catalogue.path else None)
        cen = commune_centroids_m(communes)
        dac = assign_territory(cen["department"], cen["code"], catalogue.territories)
        return communes.assign(department=cen["department"], x_m=cen["x_m"], y_m=cen["y_m"],
                               epsg_m=cen["epsg_m"], dac_id=dac)

    return catalogue.cached(("coverage", "communes"), compute)


def territory_communes(catalogue: Catalogue, dac_id: str) -> gpd.GeoDataFrame:
    """The communes whose primary territory is ``dac_id`` (see :func:`commune_table`)."""
    if dac_id not in catalogue.territory_row:
        raise ValidationError(f"territoire DAC inconnu : {dac_id!r}")
    table = commune_table(catalogue)
    return table[(table["dac_id"] == dac_id).to_numpy()].reset_index(drop=True)


def commune_names(catalogue: Catalogue) -> dict[str, str]:
    """Commune code -> name."""
    return dict(zip(catalogue.communes["code"].astype(str), catalogue.communes["name"].astype(str)))


def territory_label(catalogue: Catalogue, dac_id: str) -> str:
    """French display name of a territory (its id when unknown)."""
    return catalogue.territory_name(dac_id) or str(dac_id)


__all__ = ["ResourceType", "commune_centroids_m", "commune_names", "commune_table",
           "territory_communes", "territory_label"]
