"""The search: filters applied in order, stable ordering, pagination, counts by family.

>>> cat = load_catalogue("data/build/dac_map.gpkg")               # doctest: +SKIP
>>> res = search(cat, [TerritoryFilter(dac_id="DAC-80"), FamilyFilter(["pa_hebergement"]),
...                    DistanceFilter(10, commune="80021")])      # doctest: +SKIP
>>> res.total, res.labels, res.records[["name", "distance_km"]]   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from dac_map.query.catalogue import Catalogue
from dac_map.query.distance import DistanceFilter
from dac_map.query.errors import QueryError
from dac_map.query.filters import QueryFilter, StatusFilter, TextFilter
from dac_map.query.nearest import NearestFilter, Ranking
from dac_map.query.specialty import CapacityFilter, SpecialtyFilter, specialty_capacity
from dac_map.query.text import TextMatch

#: Accepted values of ``sort`` (``None`` picks distance, then score, then name).
SORTS: tuple[str, ...] = ("distance", "score", "name", "finess", "capacity", "time")

#: Largest page size accepted (``page_size=None`` returns everything on one page).
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class SearchResult:
    """One page of results and what was asked.

    ``records``: GeoDataFrame (WGS84 points) of the page, columns
    :data:`~dac_map.query.catalogue.RECORD_COLUMNS` plus ``distance_km`` (with a
    DistanceFilter), ``score`` (0-100) and ``exact_finess`` (with a TextFilter),
    ``specialty_installed``/``specialty_authorised`` (places on the equipment lines matching
    the SpecialtyFilter, when one is given). ``total``: number of matching establishments;
    ``pages``: number of pages (0 when nothing matched); ``counts_by_family``: matches per
    family id, in the family display order, families without a match left out; ``labels``:
    French labels of the filters applied, in order; ``emptied_by``: label of the first filter
    that brought the count to zero, or None.
    """

    records: gpd.GeoDataFrame
    total: int
    page: int
    page_size: int
    pages: int
    counts_by_family: dict[str, int]
    labels: list[str]
    emptied_by: str | None
    sort: str
    data_date: str | None = None
    equipment_illustrative: bool = False
    family_labels: dict[str, str] = field(default_factory=dict)
    # ---- proximity (issue 12): centre of the search, straight line or road network
    #: (lon, lat) WGS84 degrees of the search centre, and its name (None without a centre)
    centre: tuple[float, float] | None = None
    centre_label: str | None = None
    #: True when ``travel_min`` comes from a road network (else distances are straight-line)
    by_road: bool = False
    #: metres from the centre to the road it was snapped to (None without a network)
    centre_snap_m: float | None = None
    #: FINESS numbers matching the filters but off the road network (no travel time)
    unreachable: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    @property
    def message(self) -> str:
        """French one-line summary: counts and page, or which filter emptied the result."""
        if self.total == 0:
            if self.emptied_by:
                return f"Aucun établissement — sélection vidée par le critère : {self.emptied_by}"
            return "Aucun établissement dans ce GeoPackage."
        plural = "s" if self.total > 1 else ""
        return (f"{self.total} établissement{plural} trouvé{plural} — page {self.page}/{self.pages}")

    def to_dicts(self) -> list[dict[str, object]]:
        """The page as JSON-friendly dicts (no geometry: ``lon``/``lat`` are there; NaN -> None,
        dates -> ISO strings)."""
        frame = pd.DataFrame(self.records.drop(columns="geometry"))
        out = []
        for rec in frame.to_dict(orient="records"):
            out.append({k: plain_value(v) for k, v in rec.items()})
        return out


def plain_value(value: object) -> object:
    """A JSON/Excel-friendly Python value: None for missing values (None, NaN, NaT, NA, ±inf),
    an ISO date for timestamps, numpy scalars unwrapped; anything else unchanged."""
    if value is None:
        return None
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        ts = pd.Timestamp(value)
        return None if pd.isna(ts) else ts.date().isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _first(filters: Sequence[QueryFilter], kind: type) -> QueryFilter | None:
    return next((f for f in filters if isinstance(f, kind)), None)


def search(catalogue: Catalogue, filters: Iterable[QueryFilter] = (), sort: str | None = None,
           page: int = 1, page_size: int | None = 50, network=None) -> SearchResult:
    """Apply ``filters`` (all combined with AND, in order) and return one page of results.

    Open establishments only unless a :class:`StatusFilter` is given (the default one is
    applied first). Order: ``sort`` if given, else by distance when a DistanceFilter is present,
    else by text score (exact FINESS number first) when a TextFilter is present, else by name;
    ties are always broken by name then FINESS number, so the order is stable across pages.
    A :class:`~dac_map.query.nearest.NearestFilter` keeps the N nearest of the rows matching
    the other filters, ordered by travel time when ``network`` (a
    :class:`~dac_map.network.RoadNetwork`) is given, else by straight-line distance; with a
    network and a DistanceFilter, rows also get their travel time (``travel_min``).
    ``page`` starts at 1; a page past the end is empty. ``page_size=None``: everything.
    Raises :class:`~dac_map.query.errors.QueryError` for bad arguments or unknown codes.
    """
    flist = list(filters)
    for f in flist:
        if not isinstance(f, QueryFilter):
            raise QueryError(f"filtre inconnu / not a filter: {f!r}")
    if not any(isinstance(f, StatusFilter) for f in flist):
        flist.insert(0, StatusFilter())
    if isinstance(page, bool) or not isinstance(page, (int, np.integer)) or page < 1:
        raise QueryError(f"numéro de page invalide (≥ 1) / invalid page: {page!r}")
    if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, (int, np.integer))
                                  or not 1 <= page_size <= MAX_PAGE_SIZE):
        raise QueryError(f"taille de page invalide (1-{MAX_PAGE_SIZE}) / invalid page size: {page_size!r}")
    if sort is not None and sort not in SORTS:
        raise QueryError(f"tri inconnu / unknown sort: {sort!r} (valeurs : {', '.join(SORTS)})")

    n = len(catalogue)
    mask = np.ones(n, dtype=bool)
    count = n
    emptied_by: str | None = None
    distance: np.ndarray | None = None
    match: TextMatch | None = None
    nearest: NearestFilter | None = None
    for f in flist:
        if isinstance(f, DistanceFilter):
            d = f.distances_km(catalogue)
            m = np.less_equal(d, f.radius_km)
            if distance is None:
                distance = d
        elif isinstance(f, NearestFilter):
            nearest = f
            continue  # ranked once every other filter is applied
        elif isinstance(f, TextFilter):
            tm = f.match(catalogue)
            m = f.mask_of(tm)
            if match is None:
                match = tm
        else:
            m = f.mask(catalogue)
        mask &= m
        new = int(np.count_nonzero(mask))
        if new == 0 and count > 0 and emptied_by is None:
            emptied_by = f.describe(catalogue)
        count = new
    labels = [f.describe(catalogue, by_time=network is not None) if isinstance(f, NearestFilter)
              else f.describe(catalogue) for f in flist]

    idx = np.flatnonzero(mask)
    # ---- proximity (issue 12): nearest N, travel times
    proximity = _proximity(catalogue, flist, nearest, mask, idx, network)
    if nearest is not None:
        idx = proximity.rows
        distance = proximity.distance_km
        if len(idx) == 0 and count > 0 and emptied_by is None:
            emptied_by = labels[flist.index(nearest)]
    travel = proximity.travel_min if proximity is not None else None
    specialty = _first(flist, SpecialtyFilter)
    cap_filter = _first(flist, CapacityFilter)
    if specialty is None and cap_filter is not None:
        specialty = cap_filter.specialty
    if sort is None and nearest is not None:
        sort = "time" if travel is not None else "distance"
    if sort is None:
        sort = ("distance" if distance is not None
                else "score" if match is not None and match.active else "name")
    if sort == "distance" and distance is None:
        raise QueryError("tri par distance sans critère de distance / sort by distance needs a "
                         "distance filter")
    if sort == "time" and travel is None:
        raise QueryError("tri par durée sans réseau routier / sort by time needs a road network "
                         "and a centre")
    if sort == "score" and match is None:
        raise QueryError("tri par score sans recherche texte / sort by score needs a text search")

    name_rank = catalogue.name_rank[idx]
    if sort == "time":
        order = np.lexsort((name_rank, travel[idx]))
    elif sort == "distance":
        order = np.lexsort((name_rank, distance[idx]))
    elif sort == "score":
        order = np.lexsort((name_rank, -match.tiebreak[idx], -match.scores[idx], ~match.exact[idx]))
    elif sort == "capacity":
        cap = (cap_filter.values(catalogue) if cap_filter is not None else catalogue.capacity_installed)[idx]
        order = np.lexsort((name_rank, np.isnan(cap), -np.nan_to_num(cap, nan=0.0)))
    elif sort == "finess":
        order = np.argsort(np.array([str(x) for x in catalogue.records_base["finess"].to_numpy()[idx]],
                                    dtype=object), kind="stable")
    else:
        order = np.argsort(name_rank, kind="stable")
    idx = idx[order]

    total = len(idx)
    size = page_size if page_size is not None else max(total, 1)
    pages = math.ceil(total / size) if total else 0
    page_idx = idx[(page - 1) * size: page * size]

    fam = catalogue.family
    counts = np.bincount(fam.codes[idx][fam.codes[idx] >= 0], minlength=len(fam.values))
    by_id = {str(fam.values[i]): int(c) for i, c in enumerate(counts) if c}
    ordered = [f for f in catalogue.family_order() if f in by_id] + sorted(set(by_id) - set(catalogue.family_order()))
    counts_by_family = {f: by_id[f] for f in ordered}

    records = catalogue.records_base.iloc[page_idx].copy()
    pos = records.columns.get_loc("capacity_summary") + 1
    if specialty is not None and specialty.equipment_kinds:
        records.insert(pos, "specialty_installed", specialty_capacity(catalogue, specialty, rows=page_idx))
        records.insert(pos + 1, "specialty_authorised",
                       specialty_capacity(catalogue, specialty, authorised=True, rows=page_idx))
    if distance is not None:
        records.insert(records.columns.get_loc("status"), "distance_km", distance[page_idx])
    if travel is not None:
        records.insert(records.columns.get_loc("status"), "travel_min", travel[page_idx])
    if match is not None:
        records.insert(records.columns.get_loc("status"), "score", match.scores[page_idx])
        records.insert(records.columns.get_loc("status"), "exact_finess", match.exact[page_idx])
    records = records.reset_index(drop=True)

    return SearchResult(
        records=records, total=total, page=int(page), page_size=int(size), pages=pages,
        counts_by_family=counts_by_family, labels=labels, emptied_by=emptied_by, sort=sort,
        data_date=catalogue.data_date, equipment_illustrative=catalogue.equipment_illustrative,
        family_labels={f: catalogue.family_label(f) for f in counts_by_family},
        **_proximity_fields(catalogue, proximity))


# --------------------------------------------------------------------------- proximity (issue 12)

def _proximity(catalogue: Catalogue, flist: Sequence[QueryFilter], nearest: NearestFilter | None,
               mask: np.ndarray, idx: np.ndarray, network) -> Ranking | None:
    """The nearest ranking, or (radius search) the centre and the travel times of ``idx``."""
    if nearest is not None:
        return nearest.rank(catalogue, mask, network)
    radius = _first(flist, DistanceFilter)
    if radius is None:
        return None
    finder = NearestFilter(point=radius.point, commune=radius.commune, finess=radius.finess,
                           n=None, max_km=radius.radius_km)
    if network is None:
        centre, c = finder.centre_lonlat(catalogue)
        return Ranking(rows=idx, distance_km=np.full(len(catalogue), np.nan), travel_min=None,
                       centre=centre, centre_label=c.name)
    only = np.zeros(len(catalogue), dtype=bool)
    only[idx] = True
    return finder.rank(catalogue, only, network)


def _proximity_fields(catalogue: Catalogue, proximity: Ranking | None) -> dict[str, object]:
    if proximity is None:
        return {}
    unreachable = ()
    if len(proximity.unreachable):
        finess = catalogue.records_base["finess"].iloc[proximity.unreachable]
        unreachable = tuple(str(f) for f in finess)
    return {"centre": proximity.centre, "centre_label": proximity.centre_label,
            "by_road": proximity.travel_min is not None,
            "centre_snap_m": proximity.centre_snap_m, "unreachable": unreachable}
