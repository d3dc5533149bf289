"""From drivable ways to a directed, weighted road graph (travel time in seconds).

Graph nodes are OSM nodes where the network branches: way ends, nodes shared by two ways (or
twice by one), plus intermediate nodes so that no edge is longer than ``max_edge_m`` metres
(places along a long rural road then snap close to where they are). Each edge carries the
travel time (seconds) of the road between two consecutive graph nodes of a way: the sum of
its segments' great-circle lengths (metres, WGS84 haversine) divided by the way's speed.
One-way ways give one directed edge; when two ways join the same nodes the fastest edge is
kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dac_map.network.osm import DrivableWays

EARTH_RADIUS_M = 6_371_008.8
#: Smallest edge time (s): two OSM nodes at the same place still make a (zero-length) edge,
#: and sparse graph routines drop explicit zeros.
MIN_EDGE_S = 1e-3


def haversine_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance (metres) between WGS84 points given in degrees."""
    lon1, lat1, lon2, lat2 = (np.radians(a) for a in (lon1, lat1, lon2, lat2))
    h = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


@dataclass(frozen=True)
class EdgeList:
    """Directed edges ``src -> dst`` (graph node indices) with ``time_s`` (seconds) and
    ``length_m`` (metres); node arrays ``osm_id``, ``lon``/``lat`` (WGS84 degrees)."""

    src: np.ndarray
    dst: np.ndarray
    time_s: np.ndarray
    length_m: np.ndarray
    osm_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.osm_id)


def build_edges(ways: DrivableWays, *, max_edge_m: float) -> EdgeList:
    """Compress the ways into a directed edge list (see the module docstring)."""
    n = len(ways.node_id)
    way_of = np.repeat(np.arange(ways.n_ways), np.diff(ways.start))
    first = np.zeros(n, dtype=bool)
    first[ways.start[:-1]] = True
    last = np.zeros(n, dtype=bool)
    last[ways.start[1:] - 1] = True

    # length of the segment ending at each vertex (0 at a way's first vertex)
    seg = np.zeros(n)
    seg[1:] = haversine_m(ways.lon[:-1], ways.lat[:-1], ways.lon[1:], ways.lat[1:])
    seg[first] = 0.0
    cum = np.cumsum(seg)  # along the concatenated ways; differences within a way are lengths

    uniq, inverse, counts = np.unique(ways.node_id, return_inverse=True, return_counts=True)
    keep = first | last | (counts[inverse] > 1)
    if max_edge_m > 0:
        # break long stretches between kept vertices: a new node each time the length since the
        # last kept vertex passes a multiple of max_edge_m
        group = np.cumsum(keep) - 1
        group_start_cum = cum[np.flatnonzero(keep)][group]
        step = np.floor((cum - group_start_cum) / max_edge_m).astype(np.int64)
        prev_step = np.concatenate(([0], step[:-1]))
        keep |= (step > prev_step) & ~first
    kept = np.flatnonzero(keep)
    node_of_vertex = inverse  # index into uniq
    used, node_index = np.unique(node_of_vertex[kept], return_inverse=True)

    # consecutive kept vertices of the same way make an edge
    a, b = kept[:-1], kept[1:]
    same_way = way_of[a] == way_of[b]
    a, b = a[same_way], b[same_way]
    ia, ib = node_index[:-1][same_way], node_index[1:][same_way]
    length = cum[b] - cum[a]
    speed_ms = ways.speed_kmh[way_of[a]] / 3.6
    time = np.maximum(length / speed_ms, MIN_EDGE_S)
    direction = ways.oneway[way_of[a]]
    fwd = direction >= 0
    bwd = direction <= 0
    src = np.concatenate((ia[fwd], ib[bwd]))
    dst = np.concatenate((ib[fwd], ia[bwd]))
    time = np.concatenate((time[fwd], time[bwd]))
    length = np.concatenate((length[fwd], length[bwd]))
    loop = src == dst
    src, dst, time, length = src[~loop], dst[~loop], time[~loop], length[~loop]
    # fastest edge per (src, dst)
    order = np.lexsort((time, dst, src))
    src, dst, time, length = src[order], dst[order], time[order], length[order]
    first_of_pair = np.ones(len(src), dtype=bool)
    first_of_pair[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])

    # node coordinates: those of any vertex of the node
    vertex_of_node = np.empty(len(uniq), dtype=np.int64)
    vertex_of_node[node_of_vertex] = np.arange(n)
    v = vertex_of_node[used]
    return EdgeList(src=src[first_of_pair].astype(np.int32), dst=dst[first_of_pair].astype(np.int32),
                    time_s=time[first_of_pair], length_m=length[first_of_pair],
                    osm_id=uniq[used], lon=ways.lon[v], lat=ways.lat[v])
