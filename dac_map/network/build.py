"""Building, checking, caching and loading a territory's road network.

``build_network(pbf, territory)`` reads the extract (:mod:`.osm`), builds the graph
(:mod:`.graph`), finds its largest strongly connected component, projects the nodes to a
metric CRS, checks that the extract covers the territory (when resource points are given),
and only then replaces the cache atomically (:mod:`.cache`). Any failure leaves the previous
network in place.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dac_map import settings
from dac_map.network import cache
from dac_map.network.errors import NetworkAreaError, NetworkCacheError
from dac_map.network.graph import EdgeList, build_edges
from dac_map.network.osm import read_drivable_ways
from dac_map.network.profile import load_speeds
from dac_map.network.router import RoadNetwork, choose_metric_epsg


@dataclass(frozen=True)
class BuildReport:
    """What a build did: cache ``path``, node and edge counts, the share of check points off
    the network, durations (s) and the source fingerprint."""

    path: Path
    n_nodes: int
    n_edges: int
    n_main: int
    n_ways: int
    skipped_vertices: int
    check_points: int
    off_network: int
    timings: dict[str, float]
    source: dict[str, object]


def network_from_edges(edges: EdgeList, *, meta: dict[str, object] | None = None) -> RoadNetwork:
    """A :class:`RoadNetwork` from an edge list: largest strongly connected component and
    metric coordinates computed here."""
    from pyproj import Transformer
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = edges.n_nodes
    graph = csr_matrix((np.ones(len(edges.src), dtype=np.int8), (edges.src, edges.dst)), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="strong")
    main = labels == np.bincount(labels).argmax()
    epsg = choose_metric_epsg(edges.lon, edges.lat)
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(edges.lon, edges.lat)
    return RoadNetwork.from_arrays(
        {"lon": edges.lon, "lat": edges.lat, "x": np.asarray(x), "y": np.asarray(y),
         "osm_id": edges.osm_id, "main": main, "src": edges.src, "dst": edges.dst,
         "time_s": edges.time_s, "epsg": np.array(epsg)}, meta or {})


def check_coverage(network: RoadNetwork, lon: np.ndarray, lat: np.ndarray, *, source: str) -> int:
    """Raise :class:`NetworkAreaError` when more than ``NETWORK_MAX_OFF_SHARE`` of the points
    (WGS84 degrees; those without coordinates are ignored) are farther than
    ``NETWORK_MAX_SNAP_M`` from the network. Returns the number of such points."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return 0
    snap = network.snap(lon[ok], lat[ok])
    off = int(snap.off_network.sum())
    if off > settings.NETWORK_MAX_OFF_SHARE * ok.sum():
        raise NetworkAreaError(
            f"l'extrait ne couvre pas le territoire : {off} ressources sur {int(ok.sum())} à plus "
            f"de {settings.NETWORK_MAX_SNAP_M / 1000:g} km de toute route (médiane "
            f"{np.nanmedian(snap.distance_m) / 1000:.0f} km) ; réseau précédent conservé",
            path=source)
    return off


def build_network(pbf: Path | str, territory: str, *, check_lon: np.ndarray | None = None,
                  check_lat: np.ndarray | None = None, base: Path | None = None,
                  speeds_file: Path | str | None = None) -> BuildReport:
    """Build ``territory``'s road network from an ``.osm.pbf`` extract and cache it.

    ``check_lon``/``check_lat`` (WGS84 degrees): the territory's resources, used to refuse an
    extract of another area. Raises a :class:`~dac_map.network.errors.NetworkError`; the
    previous cache is then untouched.
    """
    pbf = Path(pbf)
    target = cache.cache_path(territory, base)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    speeds = load_speeds(speeds_file)
    ways = read_drivable_ways(pbf, speeds)
    timings["read_s"] = round(time.perf_counter() - t0, 3)
    t1 = time.perf_counter()
    edges = build_edges(ways, max_edge_m=settings.NETWORK_MAX_EDGE_M)
    network = network_from_edges(edges)
    timings["graph_s"] = round(time.perf_counter() - t1, 3)
    off = 0
    n_check = 0
    if check_lon is not None and check_lat is not None:
        n_check = int(np.sum(np.isfinite(np.asarray(check_lon, float))))
        off = check_coverage(network, check_lon, check_lat, source=str(pbf))
    source = cache.file_fingerprint(pbf)
    meta = {"territory": territory, "source": source, "speeds_kmh": speeds,
            "max_edge_m": settings.NETWORK_MAX_EDGE_M,
            "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "n_nodes": network.n_nodes, "n_edges": network.n_edges,
            "n_main": int(network.main.sum()), "epsg": network.epsg}
    t2 = time.perf_counter()
    cache.write_arrays(target, network.arrays(), meta)
    timings["write_s"] = round(time.perf_counter() - t2, 3)
    timings["total_s"] = round(time.perf_counter() - t0, 3)
    return BuildReport(path=target, n_nodes=network.n_nodes, n_edges=network.n_edges,
                       n_main=int(network.main.sum()), n_ways=ways.n_ways,
                       skipped_vertices=ways.skipped_vertices, check_points=n_check,
                       off_network=off, timings=timings, source=source)


_LOADED: dict[str, tuple[tuple[float, int], RoadNetwork]] = {}


def load_network(territory: str, *, base: Path | None = None) -> RoadNetwork:
    """The cached network of ``territory`` (kept in memory until the file changes).

    Raises :class:`NetworkCacheError` when there is none or it is unreadable."""
    path = cache.cache_path(territory, base)
    try:
        stat = path.stat()
    except OSError as exc:
        raise NetworkCacheError("aucun réseau routier construit pour ce territoire "
                                "(dac-map network build)", path=str(path)) from exc
    key = str(path.resolve())
    stamp = (stat.st_mtime, stat.st_size)
    hit = _LOADED.get(key)
    if hit and hit[0] == stamp:
        return hit[1]
    arrays, meta = cache.read_arrays(path)
    network = RoadNetwork.from_arrays(arrays, meta).warm()
    _LOADED[key] = (stamp, network)
    return network


def try_load_network(territory: str | None, *, base: Path | None = None) -> RoadNetwork | None:
    """:func:`load_network`, or None when the territory has no (readable) network."""
    if not territory:
        return None
    try:
        return load_network(territory, base=base)
    except NetworkCacheError:
        return None


def needs_rebuild(pbf: Path | str, territory: str, *, base: Path | None = None) -> bool:
    """True when the cache is missing, unreadable, or built from another version of ``pbf``
    (different size or SHA-256), or with other speeds."""
    meta = cache.read_meta(cache.cache_path(territory, base))
    if not meta or meta.get("format_version") != cache.FORMAT_VERSION:
        return True
    if meta.get("speeds_kmh") != load_speeds():
        return True
    source = meta.get("source") or {}
    if source.get("size") != os.path.getsize(pbf):
        return True
    return source.get("sha256") != cache.file_fingerprint(Path(pbf))["sha256"]
