"""Shortest travel times on a built road network (scipy.sparse.csgraph Dijkstra).

A :class:`RoadNetwork` holds the directed graph twice as CSR matrices (forward and reversed,
weights in seconds), the node coordinates (WGS84 degrees and metres in ``epsg``) and a
KD-tree of the nodes of the largest strongly connected component, on which every place and
resource is snapped: a point snapped there can reach, and be reached from, every other
snapped point (dead ends of one-way streets at the border of the extract are not used).

Direction (:data:`TO_RESOURCE`, :data:`FROM_RESOURCE`): the time "to_resource" is the drive
from the place (patient, commune) to the resource; "from_resource" is the drive from the
resource to the place (a home service going to the patient). One-way streets make them
differ. Travel times are in seconds, network time only: the snap distance (metres, straight
line from the point to its node) is reported beside, never silently added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from dac_map import settings

TO_RESOURCE = "to_resource"
FROM_RESOURCE = "from_resource"
DIRECTIONS = (TO_RESOURCE, FROM_RESOURCE)

#: Successive search limits (seconds) of :meth:`RoadNetwork.nearest`: a Dijkstra bounded by
#: the first limit that reaches enough resources visits only that part of the graph.
NEAREST_LIMITS_S = (600.0, 1800.0, 3600.0, 3 * 3600.0, np.inf)


def choose_metric_epsg(lon: np.ndarray, lat: np.ndarray) -> int:
    """Lambert-93 (EPSG:2154) for metropolitan France, else the UTM zone of the centroid."""
    lon0, lat0 = float(np.nanmedian(lon)), float(np.nanmedian(lat))
    if -5.5 <= lon0 <= 10.0 and 41.0 <= lat0 <= 51.5:
        return 2154
    zone = int((lon0 + 180) // 6) % 60 + 1
    return (32600 if lat0 >= 0 else 32700) + zone


@dataclass(frozen=True)
class Snap:
    """Points snapped to the network: ``node`` (index, -1 when ``off_network``), ``distance_m``
    (metres from the point to the node, NaN for points without coordinates) and
    ``off_network`` (farther than the snap limit, or no coordinates)."""

    node: np.ndarray
    distance_m: np.ndarray
    off_network: np.ndarray


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A routable road network (see the module docstring). Arrays are read-only.

    ``lon``/``lat``: node coordinates (WGS84 degrees); ``x``/``y``: metres in ``epsg``;
    ``osm_id``: OSM node id of each node; ``main``: True for the nodes of the largest strongly
    connected component; ``src``/``dst``/``time_s``: the directed edges (seconds).
    """

    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    osm_id: np.ndarray
    main: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    time_s: np.ndarray
    epsg: int
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.lon)

    @property
    def n_edges(self) -> int:
        return len(self.src)

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        """(lon_min, lat_min, lon_max, lat_max) of the nodes, WGS84 degrees."""
        return (float(self.lon.min()), float(self.lat.min()), float(self.lon.max()),
                float(self.lat.max()))

    @property
    def source_name(self) -> str:
        """File name of the extract the network was built from."""
        return str((self.meta.get("source") or {}).get("name") or "")

    @cached_property
    def forward(self):
        """CSR matrix of the edges (row = from node), seconds."""
        from scipy.sparse import csr_matrix

        return csr_matrix((self.time_s, (self.src, self.dst)), shape=(self.n_nodes, self.n_nodes))

    @cached_property
    def backward(self):
        """CSR matrix of the reversed edges (row = to node), seconds."""
        from scipy.sparse import csr_matrix

        return csr_matrix((self.time_s, (self.dst, self.src)), shape=(self.n_nodes, self.n_nodes))

    @cached_property
    def _tree(self):
        from scipy.spatial import cKDTree

        idx = np.flatnonzero(self.main)
        return cKDTree(np.column_stack((self.x[idx], self.y[idx]))), idx

    @cached_property
    def _to_metric(self):
        from pyproj import Transformer

        return Transformer.from_crs(4326, self.epsg, always_xy=True)

    @cached_property
    def _to_wgs84(self):
        from pyproj import Transformer

        return Transformer.from_crs(self.epsg, 4326, always_xy=True)

    def warm(self) -> RoadNetwork:
        """Build the matrices, KD-tree and transformers now (not at the first query)."""
        _ = self.forward, self.backward, self._tree, self._to_metric, self._to_wgs84
        return self

    # ------------------------------------------------------------------ snapping
    def snap(self, lon: np.ndarray, lat: np.ndarray, *, max_snap_m: float | None = None) -> Snap:
        """Snap WGS84 points (degrees) to the nearest node of the main component.

        A point farther than ``max_snap_m`` metres (default: setting ``NETWORK_MAX_SNAP_M``) or
        without coordinates is ``off_network`` (node -1); its distance is still reported.
        """
        lon = np.atleast_1d(np.asarray(lon, dtype=float))
        lat = np.atleast_1d(np.asarray(lat, dtype=float))
        limit = settings.NETWORK_MAX_SNAP_M if max_snap_m is None else max_snap_m
        ok = np.isfinite(lon) & np.isfinite(lat)
        node = np.full(len(lon), -1, dtype=np.int64)
        dist = np.full(len(lon), np.nan)
        if ok.any():
            x, y = self._to_metric.transform(lon[ok], lat[ok])
            tree, idx = self._tree
            d, i = tree.query(np.column_stack((x, y)))
            node[ok] = idx[i]
            dist[ok] = d
        off = ~ok | ~(dist <= limit)
        node[off] = -1
        return Snap(node=node, distance_m=dist, off_network=off)

    # ------------------------------------------------------------------ shortest paths
    def _matrix(self, direction: str, *, from_place: bool):
        """The graph to run a Dijkstra on: from a place (single source) or from resources."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        forward = (direction == TO_RESOURCE) == from_place
        return self.forward if forward else self.backward

    def times_from_node(self, node: int, *, direction: str = TO_RESOURCE,
                        limit_s: float = np.inf) -> np.ndarray:
        """Seconds between node ``node`` (the place) and every node (inf beyond ``limit_s``
        or unreachable), in ``direction``."""
        from scipy.sparse.csgraph import dijkstra

        return dijkstra(self._matrix(direction, from_place=True), directed=True,
                        indices=int(node), limit=limit_s)

    def travel_times(self, place: tuple[float, float], lon: np.ndarray, lat: np.ndarray, *,
                     direction: str = TO_RESOURCE, limit_s: float = np.inf) -> tuple[np.ndarray, Snap, Snap]:
        """Seconds from the place (WGS84 lon, lat) to each target point (or back, see
        ``direction``); NaN for targets off the network or unreachable within ``limit_s``.
        Returns ``(seconds, place_snap, target_snap)``."""
        place_snap = self.snap([place[0]], [place[1]])
        targets = self.snap(lon, lat)
        seconds = np.full(len(targets.node), np.nan)
        if place_snap.off_network[0]:
            return seconds, place_snap, targets
        dist = self.times_from_node(place_snap.node[0], direction=direction, limit_s=limit_s)
        on = ~targets.off_network
        t = dist[targets.node[on]]
        seconds[on] = np.where(np.isfinite(t), t, np.nan)
        return seconds, place_snap, targets

    def nearest(self, place: tuple[float, float], lon: np.ndarray, lat: np.ndarray, n: int, *,
                direction: str = TO_RESOURCE, max_s: float = np.inf,
                targets: Snap | None = None) -> tuple[np.ndarray, np.ndarray, Snap]:
        """The ``n`` targets nearest by time from the place (WGS84 lon, lat).

        Returns ``(order, seconds, place_snap)``: ``order`` indexes the targets, nearest first
        (ties by index), at most ``n``, only reachable ones within ``max_s``; ``seconds`` is
        the time of every target (NaN when off the network, unreachable or not reached by the
        bounded search). ``targets`` may be a snap computed beforehand.
        """
        from scipy.sparse.csgraph import dijkstra

        place_snap = self.snap([place[0]], [place[1]])
        targets = targets or self.snap(lon, lat)
        seconds = np.full(len(targets.node), np.nan)
        if place_snap.off_network[0] or n <= 0:
            return np.empty(0, dtype=np.int64), seconds, place_snap
        on = np.flatnonzero(~targets.off_network)
        graph = self._matrix(direction, from_place=True)
        for limit in NEAREST_LIMITS_S:
            limit = min(limit, max_s)
            dist = dijkstra(graph, directed=True, indices=int(place_snap.node[0]), limit=limit)
            t = dist[targets.node[on]]
            if np.isfinite(t).sum() >= n or limit >= max_s:
                break
        seconds[on] = np.where(np.isfinite(t), t, np.nan)
        reach = np.flatnonzero(np.isfinite(seconds))
        order = reach[np.lexsort((reach, seconds[reach]))][:n]
        return order, seconds, place_snap

    def nearest_source_times(self, source_nodes: np.ndarray, query_nodes: np.ndarray, *,
                             direction: str = TO_RESOURCE) -> tuple[np.ndarray, np.ndarray]:
        """For each query node (commune, place), the time (s) to its nearest source (resource)
        and that source's position in ``source_nodes`` (-1 / inf when unreachable).

        One multi-source Dijkstra from all sources at once: on the reversed graph for
        ``to_resource`` (the drive from each place to the resource), forward otherwise.
        """
        from scipy.sparse.csgraph import dijkstra

        query_nodes = np.asarray(query_nodes, dtype=np.int64)
        source_nodes = np.asarray(source_nodes, dtype=np.int64)
        out_t = np.full(len(query_nodes), np.inf)
        out_s = np.full(len(query_nodes), -1, dtype=np.int64)
        if len(source_nodes) == 0 or len(query_nodes) == 0:
            return out_t, out_s
        unique_sources, first = np.unique(source_nodes, return_index=True)
        dist, _, nearest = dijkstra(self._matrix(direction, from_place=False), directed=True,
                                    indices=unique_sources, min_only=True,
                                    return_predecessors=True)
        out_t = dist[query_nodes]
        src_node = nearest[query_nodes]
        reach = np.isfinite(out_t) & (src_node >= 0)
        pos = np.searchsorted(unique_sources, src_node[reach])
        out_s[reach] = first[pos]
        return out_t, out_s

    # ------------------------------------------------------------------ reachable area
    def reachable_area(self, place: tuple[float, float], seconds: float, *,
                       direction: str = TO_RESOURCE, buffer_m: float | None = None):
        """Approximate area reachable from the place within ``seconds`` (or from which the place
        is reached, for ``from_resource``): a concave hull of the reached nodes, buffered by
        ``buffer_m`` metres (setting ``NETWORK_HULL_BUFFER_M``). Shapely polygon in WGS84
        degrees, or None when the place is off the network."""
        import shapely

        place_snap = self.snap([place[0]], [place[1]])
        if place_snap.off_network[0]:
            return None
        dist = self.times_from_node(place_snap.node[0], direction=direction, limit_s=seconds)
        reached = np.flatnonzero(np.isfinite(dist))
        if len(reached) > 20_000:  # the hull's outline does not need every node
            reached = reached[np.linspace(0, len(reached) - 1, 20_000).astype(np.int64)]
        pts = shapely.multipoints(np.column_stack((self.x[reached], self.y[reached])))
        hull = shapely.concave_hull(pts, ratio=0.25) if len(reached) >= 3 else pts
        buffer_m = settings.NETWORK_HULL_BUFFER_M if buffer_m is None else buffer_m
        area = shapely.buffer(hull, buffer_m)
        return shapely.transform(area, lambda xy: np.column_stack(
            self._to_wgs84.transform(xy[:, 0], xy[:, 1])))

    # ------------------------------------------------------------------ arrays for the cache
    def arrays(self) -> dict[str, np.ndarray]:
        return {"lon": self.lon, "lat": self.lat, "x": self.x, "y": self.y, "osm_id": self.osm_id,
                "main": self.main, "src": self.src, "dst": self.dst, "time_s": self.time_s,
                "epsg": np.array(self.epsg)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, object]) -> RoadNetwork:
        ro = {}
        for key in ("lon", "lat", "x", "y", "osm_id", "main", "src", "dst", "time_s"):
            a = np.ascontiguousarray(arrays[key])
            a.flags.writeable = False
            ro[key] = a
        return cls(**ro, epsg=int(arrays["epsg"]), meta=meta)
