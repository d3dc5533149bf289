"""« Les plus proches » and travel times in the query layer, the coverage and the CLI (issue 12).

Straight-line expectations are brute force on coordinates projected here with pyproj from the
raw WGS84 positions; travel times are compared with networkx's Dijkstra on the same graph,
with the snapping redone by brute force.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from pyproj import Transformer
from typer.testing import CliRunner

from dac_map import settings
from dac_map import query as q
from dac_map.cli import app
from dac_map.coverage import ResourceType, commune_coverage

L93 = Transformer.from_crs(4326, 2154, always_xy=True)
runner = CliRunner()


@pytest.fixture(scope="module")
def cat(demo_catalogue):
    return demo_catalogue


def brute_nearest_km(cat, mask, lon, lat, n):
    """The n smallest Lambert-93 distances (km) from (lon, lat) to the rows of ``mask``."""
    rows = np.flatnonzero(mask & np.isfinite(cat.lon))
    x, y = L93.transform(cat.lon[rows], cat.lat[rows])
    cx, cy = L93.transform(lon, lat)
    d = np.hypot(np.asarray(x) - cx, np.asarray(y) - cy) / 1000.0
    return sorted(d)[:n]


# ------------------------------------------------------------------ straight line


@pytest.mark.parametrize("centre, family, n", [
    ({"commune": "46128"}, "addictologie", 10),   # Gramat: the CSAPA the coordinator looked for
    ({"commune": "80021"}, "pa_hebergement", 5),
    ({"point": (1.44, 44.45)}, None, 30),
    ({"finess": "460780539"}, "pa_hebergement", 3),
])
def test_nearest_straight_line_matches_brute_force(cat, centre, family, n):
    filters = [q.FamilyFilter([family])] if family else []
    res = q.search(cat, [*filters, q.NearestFilter(**centre, n=n)], page_size=None)
    mask = np.ones(len(cat), bool) if family is None else cat.family.mask([family])
    mask &= cat.status.mask(["ouvert"])
    if "finess" in centre:
        mask[cat.finess_row[centre["finess"]]] = False
        lon, lat = cat.lon[cat.finess_row[centre["finess"]]], cat.lat[cat.finess_row[centre["finess"]]]
    elif "point" in centre:
        lon, lat = centre["point"]
    else:
        lon, lat = res.centre
    assert list(res.records["distance_km"]) == pytest.approx(brute_nearest_km(cat, mask, lon, lat, n),
                                                             abs=1e-6)
    assert res.sort == "distance" and not res.by_road and "travel_min" not in res.records
    assert res.labels[-1].endswith("(à vol d'oiseau)")


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lon=st.floats(0.9, 2.3), lat=st.floats(44.1, 45.1), n=st.integers(1, 40),
       max_km=st.one_of(st.none(), st.floats(1, 80)),
       families=st.sets(st.sampled_from(["pa_hebergement", "hopitaux", "domicile", "addictologie",
                                         "sante_mentale"]), max_size=2))
def test_nearest_property(cat, lon, lat, n, max_km, families):
    filters = [q.FamilyFilter(sorted(families))] if families else []
    res = q.search(cat, [*filters, q.NearestFilter(point=(lon, lat), n=n, max_km=max_km)],
                   page_size=None)
    mask = cat.status.mask(["ouvert"]) & (cat.family.mask(families) if families else True)
    want = brute_nearest_km(cat, mask, lon, lat, n)
    if max_km is not None:
        want = [d for d in want if d <= max_km]
    assert list(res.records["distance_km"]) == pytest.approx(want, abs=1e-6)


def test_nearest_bad_arguments():
    for kw in ({"commune": "46128", "n": 0}, {"commune": "46128", "n": None},
               {"commune": "46128", "max_km": -1}, {"commune": "46128", "point": (1, 44)},
               {"commune": "4612"}, {"commune": "46128", "max_minutes": 1e9}):
        with pytest.raises(q.QueryError):
            q.NearestFilter(**kw)


def test_max_minutes_without_network_is_refused(cat):
    with pytest.raises(q.QueryError, match="réseau routier"):
        q.search(cat, [q.NearestFilter(commune="46128", max_minutes=20)])


# ------------------------------------------------------------------ by road


def reference_graph(net) -> nx.DiGraph:
    g = nx.DiGraph()
    for a, b, t in zip(net.src.tolist(), net.dst.tolist(), net.time_s.tolist()):
        g.add_edge(a, b, weight=t)
    return g


def brute_snap(net, lon, lat) -> tuple[int, float]:
    tr = Transformer.from_crs(4326, net.epsg, always_xy=True)
    x, y = tr.transform(lon, lat)
    main = np.flatnonzero(net.main)
    d = np.hypot(net.x[main] - x, net.y[main] - y)
    return int(main[d.argmin()]), float(d.min())


@pytest.mark.parametrize("family", ["pa_hebergement", "domicile", "sante_mentale"])
def test_travel_times_match_networkx(cat, lot_network, family):
    _, net = lot_network
    g = reference_graph(net)
    res = q.search(cat, [q.FamilyFilter([family]), q.NearestFilter(commune="46128", n=8)],
                   page_size=None, network=net)
    assert res.by_road and res.sort == "time" and res.labels[-1].endswith("(temps de trajet en voiture)")
    place, _ = brute_snap(net, *res.centre)
    # home services: from the resource to the place; the others: from the place to the resource
    home = family in settings.NETWORK_HOME_FAMILIES
    times = nx.single_source_dijkstra_path_length(g.reverse(copy=False) if home else g, place)
    rows = np.flatnonzero(cat.family.mask([family]) & cat.status.mask(["ouvert"]) & np.isfinite(cat.lon))
    expected = []
    for r in rows:
        node, dist = brute_snap(net, cat.lon[r], cat.lat[r])
        if dist <= settings.NETWORK_MAX_SNAP_M:
            expected.append((times[node] / 60.0, str(cat.records_base["finess"].iat[r])))
    expected.sort()
    got = list(zip(res.records["travel_min"], res.records["finess"]))
    assert len(got) == min(8, len(expected))
    for (t, _), (want, _) in zip(got, expected):
        assert abs(t - want) * 60 < 1.0  # to the second
    assert list(res.records["travel_min"]) == sorted(res.records["travel_min"])


def test_max_minutes_keeps_exactly_those_within(cat, lot_network):
    _, net = lot_network
    all_ = q.search(cat, [q.FamilyFilter(["pa_hebergement"]), q.NearestFilter(commune="46102", n=500)],
                    page_size=None, network=net).records
    within = q.search(cat, [q.FamilyFilter(["pa_hebergement"]),
                            q.NearestFilter(commune="46102", n=None, max_minutes=25)],
                      page_size=None, network=net).records
    assert list(within["finess"]) == list(all_.loc[all_["travel_min"] <= 25, "finess"])
    assert 0 < len(within) < len(all_)


def test_radius_search_gets_travel_times_and_time_sort(cat, lot_network):
    _, net = lot_network
    res = q.search(cat, [q.DistanceFilter(15, commune="46042")], sort="time", page_size=None,
                   network=net)
    assert res.by_road and (res.records["distance_km"] <= 15).all()
    t = res.records["travel_min"]
    assert t.notna().all() and list(t) == sorted(t)
    with pytest.raises(q.QueryError, match="durée"):
        q.search(cat, [q.DistanceFilter(15, commune="46042")], sort="time")


def test_off_network_resources_are_listed_never_zero(cat, lot_network, monkeypatch):
    _, net = lot_network
    monkeypatch.setattr(settings, "NETWORK_MAX_SNAP_M", 150.0)  # most places are farther
    node, _ = brute_snap(net, 1.44, 44.45)  # a road node in Cahors: the centre is on the network
    res = q.search(cat, [q.TerritoryFilter(dac_id="DAC-46"), q.FamilyFilter(["pa_hebergement"]),
                         q.NearestFilter(point=(float(net.lon[node]), float(net.lat[node])), n=200)],
                   page_size=None, network=net)
    assert res.by_road
    rows = np.flatnonzero(cat.family.mask(["pa_hebergement"]) & cat.status.mask(["ouvert"])
                          & (cat.records_base["dac_id"] == "DAC-46").to_numpy())
    far = {str(cat.records_base["finess"].iat[r]) for r in rows
           if brute_snap(net, cat.lon[r], cat.lat[r])[1] > 150.0}
    assert far and set(res.unreachable) == far
    assert not far & set(res.records["finess"])
    assert (res.records["travel_min"] > 0).all()


# ------------------------------------------------------------------ coverage by road


def test_coverage_travel_time_matches_networkx_multi_source(cat, lot_network):
    _, net = lot_network
    cov = commune_coverage(cat, "DAC-46", ResourceType.family("addictologie"), 20.0,
                           network=net, threshold_min=45)
    g = reference_graph(net)
    # the resources: open establishments of the family, positions from the raw Lambert-93 metres
    res_rows = np.flatnonzero(cat.family.mask(["addictologie"]) & cat.status.mask(["ouvert"])
                              & (cat.epsg_m == 2154))
    lon, lat = Transformer.from_crs(2154, 4326, always_xy=True).transform(
        cat.x_m[res_rows], cat.y_m[res_rows])
    sources = set()
    for a, b in zip(lon, lat):
        node, dist = brute_snap(net, a, b)
        if dist <= settings.NETWORK_MAX_SNAP_M:
            sources.add(node)
    # from each commune TO the nearest resource: multi-source Dijkstra on the reversed graph
    times = nx.multi_source_dijkstra_path_length(g.reverse(copy=False), sources)
    t = cov.table
    checked = 0
    for code, geom, got in zip(t["code"], t.geometry, t["travel_min"]):
        node, dist = brute_snap(net, geom.centroid.x, geom.centroid.y)
        if dist > settings.NETWORK_MAX_SNAP_M:
            assert np.isnan(got)
            continue
        assert abs(got - times[node] / 60.0) * 60 < 1.0, code
        checked += 1
    assert checked == len(t) > 300
    assert list(t["white_zone_time"]) == list(t["travel_min"] > 45)
    s = cov.summary()
    assert s["white_zones_time"] == int((t["travel_min"] > 45).sum()) and cov.by_road


# ------------------------------------------------------------------ CLI


def test_cli_search_nearest_by_default(demo_store):
    res = runner.invoke(app, ["search", "--store", str(demo_store), "--near-commune", "46128",
                              "--family", "addictologie", "--nearest", "3", "--format", "csv",
                              "--straight-line"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 4 and "Distance (km)" in lines[0]


def test_cli_search_with_network(demo_store, lot_network, monkeypatch):
    base, _ = lot_network
    monkeypatch.setattr(settings, "NETWORK_DIR", base)
    res = runner.invoke(app, ["search", "--store", str(demo_store), "--dac", "DAC-46",
                              "--near-commune", "46128", "--family", "addictologie",
                              "--max-minutes", "200", "--format", "csv"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    header = res.stdout.splitlines()[0].split(";")
    assert "Durée en voiture (min)" in header
    res = runner.invoke(app, ["search", "--store", str(demo_store), "--near-commune", "46128",
                              "--max-minutes", "20"], env={"COLUMNS": "200"})
    assert res.exit_code == 2 and "réseau routier" in res.output


def test_cli_network_build_errors(demo_store, osm_extracts, tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "NETWORK_DIR", tmp_path)
    bad = tmp_path / "x.osm.pbf"
    bad.write_text("not a pbf")
    res = runner.invoke(app, ["network", "build", str(bad), "--dac", "DAC-46",
                              "--store", str(demo_store)])
    assert res.exit_code == 4 and "x.osm.pbf" in res.output and "PBF" in res.output
    res = runner.invoke(app, ["network", "build", str(osm_extracts["helsinki"]), "--dac", "DAC-46",
                              "--store", str(demo_store)])
    assert res.exit_code == 5 and "ne couvre pas le territoire" in " ".join(res.output.split())
    assert not (tmp_path / "DAC-46" / "network.npz").exists()
    res = runner.invoke(app, ["network", "build", str(osm_extracts["helsinki"]), "--dac", "H",
                              "--no-check"])
    assert res.exit_code == 0 and (tmp_path / "H" / "network.npz").exists()
    res = runner.invoke(app, ["network", "info", "--dac", "H"])
    assert res.exit_code == 0 and "Helsinki.osm.pbf" in res.output


def test_centre_far_from_every_road_falls_back_to_straight_line(cat, lot_network):
    _, net = lot_network
    # Amiens (Somme): the Lot network is hundreds of km away
    res = q.search(cat, [q.FamilyFilter(["pa_hebergement"]), q.NearestFilter(commune="80021", n=5)],
                   page_size=None, network=net)
    assert not res.by_road and "travel_min" not in res.records
    assert res.centre_snap_m > 300_000
    mask = cat.family.mask(["pa_hebergement"]) & cat.status.mask(["ouvert"])
    assert list(res.records["distance_km"]) == pytest.approx(
        brute_nearest_km(cat, mask, *res.centre, 5), abs=1e-6)
    with pytest.raises(q.QueryError, match="route la plus proche"):
        q.search(cat, [q.NearestFilter(commune="80021", n=None, max_minutes=30)], network=net)


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lon=st.floats(0.9, 2.3), lat=st.floats(44.1, 45.1), n=st.integers(1, 60),
       family=st.sampled_from([None, "pa_hebergement", "addictologie"]))
def test_kd_tree_path_is_the_brute_force_answer(cat, monkeypatch, lon, lat, n, family):
    from dac_map.query import nearest

    monkeypatch.setattr(nearest, "KD_MIN_ROWS", 0)  # the KD-tree even for a few rows
    filters = [q.FamilyFilter([family])] if family else []
    res = q.search(cat, [*filters, q.NearestFilter(point=(lon, lat), n=n)], page_size=None)
    mask = cat.status.mask(["ouvert"]) & (cat.family.mask([family]) if family else True)
    assert list(res.records["distance_km"]) == pytest.approx(brute_nearest_km(cat, mask, lon, lat, n),
                                                             abs=1e-6)
