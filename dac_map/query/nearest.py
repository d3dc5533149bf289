"""« Les plus proches »: the N resources nearest to a place, by road time or straight line.

:class:`NearestFilter` keeps, among the establishments matching the other filters, the ``n``
nearest to a centre (a point, a commune, an establishment), with no radius to guess; an
optional maximum distance (km) or car travel time (minutes) bounds them (``n=None``: every
resource within the bound, "à moins de 20 minutes").

Without a road network the ranking is by straight-line distance ("à vol d'oiseau"): metres
in the metric CRS of the centre (Lambert-93 in metropolitan France) from the rows'
``x_m``/``y_m``, numpy-vectorised over the filtered rows. With a
:class:`~dac_map.network.RoadNetwork` it is by car travel time (minutes, see
:mod:`dac_map.network.router` for the direction): rows off the network or unreachable get no
time and are listed in :attr:`Ranking.unreachable`, never ranked with a time of 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dac_map import settings
from dac_map.query.catalogue import Catalogue
from dac_map.query.distance import DistanceFilter
from dac_map.query.errors import QueryError
from dac_map.query.filters import QueryFilter, _number, clean_for_display
from dac_map.query.geometry import to_metric


@dataclass(frozen=True)
class Ranking:
    """Outcome of a nearest search over the filtered rows.

    ``rows``: catalogue rows kept, nearest first. ``distance_km``/``travel_min``: one value
    per catalogue row (NaN where not computed; ``travel_min`` is None without a network).
    ``centre``: (lon, lat) WGS84 degrees and ``centre_label``. ``centre_snap_m``: metres from
    the centre to the road it was snapped to (None without a network). ``unreachable``: rows
    matching the other filters that got no travel time (off the network or unreachable).
    """

    rows: np.ndarray
    distance_km: np.ndarray
    travel_min: np.ndarray | None
    centre: tuple[float, float]
    centre_label: str
    centre_snap_m: float | None = None
    unreachable: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    snap_m: np.ndarray | None = None


@dataclass(frozen=True)
class NearestFilter(QueryFilter):
    """The ``n`` resources nearest to a centre among those matching the other filters.

    Exactly one centre: ``point`` (lon, lat, WGS84 degrees), ``commune`` (INSEE code, its
    outline's centroid) or ``finess`` (a located establishment). ``n``: how many (default:
    setting ``NEAREST_N``; None = no count limit); ``max_km``: straight-line bound (km);
    ``max_minutes``: travel-time bound (minutes, needs a road network). The ranking itself
    happens in :func:`~dac_map.query.search.search`, which owns the network.
    """

    point: tuple[float, float] | None = None
    commune: str | None = None
    finess: str | None = None
    n: int | None = -1
    max_km: float | None = None
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        n = settings.NEAREST_N if self.n == -1 else self.n
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))
                              or not 1 <= n <= 10_000):
            raise QueryError(f"nombre de résultats invalide (1-10000) / invalid count: {n!r}")
        object.__setattr__(self, "n", None if n is None else int(n))
        for name, top in (("max_km", 1000.0), ("max_minutes", 600.0)):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(float(v)) or not 0 < float(v) <= top:
                raise QueryError(f"borne invalide (0 < {name} ≤ {top:g}) / invalid bound: {v!r}")
            object.__setattr__(self, name, float(v))
        if self.n is None and self.max_km is None and self.max_minutes is None:
            raise QueryError("sans nombre de résultats, donner une distance ou une durée maximale "
                             "/ without a count, give a maximum distance or time")
        # validates the centre (exactly one, well-formed) the same way as the radius filter
        object.__setattr__(self, "_centre_filter", DistanceFilter(
            1000.0, point=self.point, commune=self.commune, finess=self.finess))
        object.__setattr__(self, "point", self._centre_filter.point)
        object.__setattr__(self, "commune", self._centre_filter.commune)
        object.__setattr__(self, "finess", self._centre_filter.finess)

    # ----------------------------------------------------------------- labels
    def _text(self, centre: str, *, by_time: bool | None = None) -> str:
        parts = []
        if self.n is not None:
            parts.append(f"Les {self.n} plus proches" if self.n > 1 else "Le plus proche")
        if self.max_minutes is not None:
            parts.append(f"à moins de {_number(self.max_minutes)} minutes en voiture")
        if self.max_km is not None:
            parts.append(f"à moins de {_number(self.max_km)} km")
        how = {True: " (temps de trajet en voiture)", False: " (à vol d'oiseau)", None: ""}[by_time]
        head = " ".join(parts).replace("proches à", "proches, à")
        return f"{head} {'du' if centre.startswith('point') else 'de'} {centre}{how}"

    def _centre_text(self, name: str | None) -> str:
        if self.point is not None:
            return f"point (lat {self.point[1]:.5f}, lon {self.point[0]:.5f})"
        if self.commune is not None:
            return f"la commune {name} ({self.commune})" if name else f"la commune {self.commune}"
        return f"l'établissement {name} ({self.finess})" if name else f"l'établissement {self.finess}"

    @property
    def label(self) -> str:
        return self._text(self._centre_text(None))

    def describe(self, catalogue: Catalogue, *, by_time: bool | None = None) -> str:
        name = None
        if self.commune is not None:
            name = catalogue.commune_name(self.commune)
        elif self.finess is not None and self.finess in catalogue.finess_row:
            name = clean_for_display(str(
                catalogue.establishments["name"].iat[catalogue.finess_row[self.finess]]))
        return self._text(self._centre_text(name), by_time=by_time)

    def mask(self, catalogue: Catalogue) -> np.ndarray:
        """Every row: the nearest ones are chosen after the other filters (see :meth:`rank`)."""
        return np.ones(len(catalogue), dtype=bool)

    # ----------------------------------------------------------------- ranking
    def centre_lonlat(self, catalogue: Catalogue) -> tuple[tuple[float, float], object]:
        """The centre as WGS84 (lon, lat) degrees, and its metric :class:`Centre`."""
        c = self._centre_filter.centre(catalogue)
        if self.point is not None:
            return self.point, c
        if self.finess is not None:
            i = catalogue.finess_row[self.finess]
            return (float(catalogue.lon[i]), float(catalogue.lat[i])), c
        lon, lat = to_metric(c.epsg).transform(c.x, c.y, direction="INVERSE")
        return (float(lon), float(lat)), c

    def rank(self, catalogue: Catalogue, mask: np.ndarray, network=None) -> Ranking:
        """The nearest rows among ``mask`` (see the class docstring). ``network``: a
        :class:`~dac_map.network.RoadNetwork` for travel times, or None (straight line)."""
        (lon, lat), c = self.centre_lonlat(catalogue)
        if self.finess is not None:
            mask = mask.copy()
            mask[catalogue.finess_row[self.finess]] = False  # not the centre itself
        dist = np.full(len(catalogue), np.nan)
        if network is None and self.n is not None and np.count_nonzero(mask) > KD_MIN_ROWS:
            # many candidates: a KD-tree of the metric positions finds the nearest directly
            cand, d = _kd_candidates(catalogue, c, mask, self.n)
        else:
            cand = np.flatnonzero(mask)
            cand = cand[(catalogue.epsg_m[cand] == c.epsg) & np.isfinite(catalogue.x_m[cand])]
            d = np.hypot(catalogue.x_m[cand] - c.x, catalogue.y_m[cand] - c.y)
        dist[cand] = d / 1000.0
        if self.max_km is not None:
            cand = cand[dist[cand] <= self.max_km]
        if network is None:
            if self.max_minutes is not None:
                raise QueryError("une durée maximale demande un réseau routier (dac-map network "
                                 "build) / a maximum time needs a road network")
            return Ranking(rows=_n_smallest(cand, dist, catalogue.name_rank, self.n),
                           distance_km=dist, travel_min=None, centre=(lon, lat),
                           centre_label=c.name)
        place = network.snap([lon], [lat])
        if place.off_network[0]:
            # a centre far from every road of the extract: straight line, and say why
            if self.max_minutes is not None:
                raise QueryError(
                    f"le centre de la recherche est à {place.distance_m[0] / 1000:.1f} km de la "
                    "route la plus proche du réseau chargé : pas de durée en voiture / the "
                    "centre is off the road network")
            return Ranking(rows=_n_smallest(cand, dist, catalogue.name_rank, self.n),
                           distance_km=dist, travel_min=None, centre=(lon, lat),
                           centre_label=c.name, centre_snap_m=float(place.distance_m[0]))
        return self._rank_by_time(catalogue, cand, dist, (lon, lat), c.name, network)

    def _rank_by_time(self, catalogue, cand, dist, centre, name, network) -> Ranking:
        from dac_map.network.router import FROM_RESOURCE, TO_RESOURCE

        snap = network_snap(catalogue, network)
        minutes = np.full(len(catalogue), np.nan)
        max_s = np.inf if self.max_minutes is None else self.max_minutes * 60.0
        home = home_rows(catalogue)
        place_snap_m = None
        for direction, rows in ((TO_RESOURCE, cand[~home[cand]]), (FROM_RESOURCE, cand[home[cand]])):
            if not len(rows):
                continue
            sub = _sub_snap(snap, rows)
            n = len(rows) if self.n is None else self.n
            _, seconds, place = network.nearest(centre, None, None, n, direction=direction,
                                                max_s=max_s, targets=sub)
            place_snap_m = float(place.distance_m[0])
            minutes[rows] = seconds / 60.0
        reached = cand[np.isfinite(minutes[cand])]
        if self.max_minutes is not None:
            reached = reached[minutes[reached] <= self.max_minutes]
        order = _n_smallest(reached, minutes, catalogue.name_rank, self.n)
        # off the network but inside the extract's area (rows far outside are simply not covered)
        w, s_, e, n_ = network.bbox
        inside = ((catalogue.lon[cand] >= w) & (catalogue.lon[cand] <= e)
                  & (catalogue.lat[cand] >= s_) & (catalogue.lat[cand] <= n_))
        unreachable = cand[snap.off_network[cand] & inside]
        return Ranking(rows=order, distance_km=dist, travel_min=minutes, centre=centre,
                       centre_label=name, centre_snap_m=place_snap_m, unreachable=unreachable,
                       snap_m=snap.distance_m)


#: Above this many candidate rows, the straight-line nearest uses a KD-tree (scipy cKDTree of the
#: metric positions, built once per catalogue and CRS) instead of computing every distance.
KD_MIN_ROWS = 20_000


def _kd_candidates(catalogue: Catalogue, centre, mask: np.ndarray, n: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``mask`` among which the ``n`` nearest to ``centre`` (a metric
    :class:`~dac_map.query.geometry.Centre`) are sure to be, and their distances (metres).

    Asks the tree for the k nearest rows of the CRS, k growing until ``n`` of them are in
    ``mask`` strictly nearer than the k-th (so that no row left out ties or beats them)."""
    from scipy.spatial import cKDTree

    def build():
        rows = np.flatnonzero((catalogue.epsg_m == centre.epsg) & np.isfinite(catalogue.x_m)
                              & np.isfinite(catalogue.y_m))
        return cKDTree(np.column_stack((catalogue.x_m[rows], catalogue.y_m[rows]))), rows

    tree, rows = catalogue.cached(("kdtree", int(centre.epsg)), build)
    k = min(len(rows), max(4 * n, 64))
    while True:
        d, i = tree.query([centre.x, centre.y], k=k)
        d, i = np.atleast_1d(d), np.atleast_1d(i)
        ok = mask[rows[i]]
        if k >= len(rows) or (ok.sum() >= n and np.partition(d[ok], n - 1)[n - 1] < d[-1]):
            return rows[i[ok]], d[ok]
        k = min(len(rows), 4 * k)


def _n_smallest(rows: np.ndarray, value: np.ndarray, name_rank: np.ndarray, n: int | None
                ) -> np.ndarray:
    """The ``n`` rows with the smallest ``value`` (ties by name), in order; all when ``n`` is
    None. A partial selection first, so that the sort is over about ``n`` rows only."""
    v = value[rows]
    if n is not None and len(rows) > n:
        kth = np.partition(v, n - 1)[n - 1]
        keep = v <= kth
        rows, v = rows[keep], v[keep]
    order = rows[np.lexsort((name_rank[rows], v))]
    return order if n is None else order[:n]


def home_rows(catalogue: Catalogue) -> np.ndarray:
    """True for the rows whose resource goes to the patient's home (setting
    ``NETWORK_HOME_FAMILIES``): their travel time is from the resource to the place."""
    families = tuple(settings.NETWORK_HOME_FAMILIES)
    return catalogue.cached(("home_rows", families), lambda: catalogue.family.mask(families))


def network_snap(catalogue: Catalogue, network):
    """Every catalogue row snapped to ``network`` (computed once per catalogue and network)."""
    key = ("network_snap", id(network), network.meta.get("source", {}).get("sha256"),
           settings.NETWORK_MAX_SNAP_M)
    return catalogue.cached(key, lambda: network.snap(catalogue.lon, catalogue.lat))


def _sub_snap(snap, rows: np.ndarray):
    from dac_map.network.router import Snap

    return Snap(node=snap.node[rows], distance_m=snap.distance_m[rows],
                off_network=snap.off_network[rows])
