"""Straight-line distance filter (:class:`DistanceFilter`) and the centre of a commune the
store has no outline for (:func:`commune_point_centre`). Distance maths live in
:mod:`dac_map.query.geometry`; same contract as :mod:`dac_map.query.filters`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dac_map.codes import is_commune, is_finess
from dac_map.query.catalogue import Catalogue
from dac_map.query.errors import QueryError
from dac_map.query.filters import QueryFilter, _number, clean_for_display
from dac_map.query.geometry import Centre, area_centre, distances_km, point_centre

# --------------------------------------------------------------------------- distance

@dataclass(frozen=True)
class DistanceFilter(QueryFilter):
    """Establishments within ``radius_km`` kilometres of a centre, which is exactly one of:

    * ``point``: (longitude, latitude) in WGS84 degrees (EPSG:4326);
    * ``commune``: an INSEE commune code, measured from the centroid of its outline, or with
      ``outline=True`` from any part of the commune (0 km inside it);
    * ``finess``: the FINESS number of a located establishment.

    Distances are straight-line, computed in metres in the metric CRS of the centre
    (EPSG:2154 Lambert-93 in metropolitan France, the local UTM CRS overseas) from the rows'
    ``x_m``/``y_m``; rows in another metric CRS or without coordinates are excluded.
    :meth:`distances_km` returns them in kilometres.
    """

    radius_km: float
    point: tuple[float, float] | None = None
    commune: str | None = None
    finess: str | None = None
    outline: bool = False

    def __post_init__(self) -> None:
        r = self.radius_km
        if isinstance(r, bool) or not isinstance(r, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(r)) or not 0 < float(r) <= 1000:
            raise QueryError(f"rayon invalide (0 < km ≤ 1000) / invalid radius: {r!r}")
        object.__setattr__(self, "radius_km", float(r))
        given = [x is not None for x in (self.point, self.commune, self.finess)]
        if sum(given) != 1:
            raise QueryError("donner exactement un centre : point, commune ou FINESS / "
                             "give exactly one centre: point, commune or FINESS number")
        if self.point is not None:
            try:
                lon, lat = (float(v) for v in self.point)
            except (TypeError, ValueError):
                raise QueryError(f"point invalide / bad point: {self.point!r}") from None
            if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
                raise QueryError(f"point invalide / bad point: « {lat:g}, {lon:g} » (lat, lon en "
                                 "degrés WGS84 : latitude entre -90 et 90, longitude entre -180 et 180)")
            object.__setattr__(self, "point", (lon, lat))
        if self.commune is not None:
            c = str(self.commune).strip().upper()
            if not is_commune(c):
                raise QueryError(f"code INSEE de commune invalide / invalid commune INSEE code: {c!r}")
            object.__setattr__(self, "commune", c)
        if self.finess is not None:
            f = str(self.finess).strip().upper()
            if not is_finess(f):
                raise QueryError(f"numéro FINESS invalide / invalid FINESS number: {f!r}")
            object.__setattr__(self, "finess", f)
        if self.outline and self.commune is None:
            raise QueryError("le mode contour ne vaut que pour une commune / outline mode needs a commune")

    @property
    def label(self) -> str:
        return self._text(None)

    def describe(self, catalogue: Catalogue) -> str:
        name = None
        if self.commune is not None:
            name = catalogue.commune_name(self.commune)
        elif self.finess is not None:
            i = catalogue.finess_row.get(self.finess)
            if i is not None:
                name = clean_for_display(str(catalogue.establishments["name"].iat[i]))
        return self._text(name)

    def _text(self, name: str | None) -> str:
        head = f"À moins de {_number(self.radius_km)} km"
        if self.point is not None:
            return f"{head} du point (lat {self.point[1]:.5f}, lon {self.point[0]:.5f})"
        if self.commune is not None:
            what = f"{name} ({self.commune})" if name else self.commune
            if self.outline:
                return f"{head} de tout point de la commune {what}"
            return f"{head} du centre de la commune {what}"
        what = f"{name} ({self.finess})" if name else self.finess
        return f"{head} de l'établissement {what}"

    def centre(self, catalogue: Catalogue) -> Centre:
        """The centre in metres in its metric CRS. Raises QueryError for an unknown commune or
        FINESS number, or an establishment without coordinates."""
        if self.point is not None:
            return point_centre(*self.point, self.label)
        if self.commune is not None:
            i = catalogue.commune_row.get(self.commune)
            if i is None:
                return commune_point_centre(catalogue, self.commune)
            return area_centre(self.commune, catalogue.communes.geometry.iat[i],
                               str(catalogue.communes["name"].iat[i]), keep_area=self.outline)
        i = catalogue.finess_row.get(self.finess)
        if i is None:
            raise QueryError(f"numéro FINESS inconnu / unknown FINESS number: {self.finess!r}")
        x, y = catalogue.x_m[i], catalogue.y_m[i]
        if not (np.isfinite(x) and np.isfinite(y)):
            raise QueryError(f"l'établissement {self.finess} n'a pas de coordonnées / "
                             "this establishment has no coordinates")
        return Centre(int(catalogue.epsg_m[i]), float(x), float(y), None,
                      str(catalogue.establishments["name"].iat[i]))

    def distances_km(self, catalogue: Catalogue) -> np.ndarray:
        """Distance of each row to the centre in km; NaN when not computed (no coordinates,
        another metric CRS, or, in outline mode, certainly beyond the radius)."""
        return distances_km(self.centre(catalogue), catalogue.x_m, catalogue.y_m,
                            catalogue.epsg_m, self.radius_km)

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        return np.less_equal(self.distances_km(catalogue), self.radius_km)


# --- commune without outline (issue 10): a point from its establishments ---------------------

#: Communes with municipal arrondissements: FINESS files code establishments by arrondissement.
ARRONDISSEMENTS: dict[str, tuple[str, ...]] = {
    "75056": tuple(f"751{k:02d}" for k in range(1, 21)),   # Paris
    "13055": tuple(f"132{k:02d}" for k in range(1, 17)),   # Marseille
    "69123": tuple(f"6938{k}" for k in range(1, 10)),      # Lyon
}


def commune_point_centre(catalogue: Catalogue, commune: str) -> Centre:
    """Centre of a commune the store has no outline for: the median position of its located
    establishments (by commune code; Paris, Lyon and Marseille through their arrondissements),
    in the metric CRS of the first of them. Raises :class:`QueryError` with a plain French
    explanation when none is located."""
    codes_ = (commune, *ARRONDISSEMENTS.get(commune, ()))
    est = catalogue.establishments
    if "commune" not in est:
        rows = np.zeros(len(catalogue), dtype=bool)
    else:
        rows = est["commune"].astype(str).isin(codes_).to_numpy() & catalogue.has_point
    if not rows.any():
        raise QueryError(
            f"commune inconnue ou sans contour dans ce GeoPackage / unknown commune or commune "
            f"without outline: {commune!r} — aucun établissement localisé n'en donne le centre : "
            "indiquez plutôt un point « lat, lon » ou le n° FINESS d'un établissement proche.")
    lon = float(np.median(catalogue.lon[rows]))
    lat = float(np.median(catalogue.lat[rows]))
    return point_centre(lon, lat, f"commune {commune} (centre approché d'après {int(rows.sum())} "
                                  "établissement(s))")


__all__ = ["DistanceFilter"]
