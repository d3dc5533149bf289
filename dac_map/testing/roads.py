"""A FICTITIOUS road network written as a real ``.osm.pbf`` (pyosmium), for the benchmark,
the demo and the browser tests: a jittered grid of streets over a WGS84 bounding box.

Every ``arterial_every``-th row and column is a ``primary`` (else ``secondary``/``tertiary``)
road kept whole; the other streets are ``residential``/``unclassified`` with each grid segment
kept with probability ``keep``, and a share ``oneway_share`` of them one-way (half of those
tagged ``oneway=-1``). Node and way ids start at 1. Nothing here is real OpenStreetMap data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_grid_pbf(path: Path | str, bbox: tuple[float, float, float, float], nx: int, ny: int, *,
                   keep: float = 0.65, oneway_share: float = 0.05, arterial_every: int = 20,
                   seed: int = 0) -> dict[str, int]:
    """Write the grid (``nx`` × ``ny`` nodes over ``bbox`` = lon_min, lat_min, lon_max,
    lat_max in WGS84 degrees) to ``path``; returns counts (nodes, ways, segments)."""
    import osmium

    rng = np.random.default_rng(seed)
    lon0, lat0, lon1, lat1 = bbox
    dx, dy = (lon1 - lon0) / (nx - 1), (lat1 - lat0) / (ny - 1)
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="xy")
    lon = lon0 + (gx + rng.uniform(-0.3, 0.3, gx.shape)) * dx
    lat = lat0 + (gy + rng.uniform(-0.3, 0.3, gy.shape)) * dy
    node_id = (gy * nx + gx + 1).astype(np.int64)
    ways: list[tuple[list[int], dict[str, str]]] = []

    def add_line(ids: np.ndarray, arterial: bool, major: int) -> None:
        if arterial:
            cls = "primary" if major % 3 == 0 else ("secondary" if major % 3 == 1 else "tertiary")
            ways.append(([int(i) for i in ids], {"highway": cls, "name": "Route fictive"}))
            return
        kept = rng.random(len(ids) - 1) < keep
        run: list[int] = []
        for k, ok in enumerate(kept):
            if ok:
                run = run or [int(ids[k])]
                run.append(int(ids[k + 1]))
            if (not ok or k == len(kept) - 1) and len(run) >= 2:
                tags = {"highway": "residential" if rng.random() < 0.7 else "unclassified"}
                r = rng.random()
                if r < oneway_share / 2:
                    tags["oneway"] = "yes"
                elif r < oneway_share:
                    tags["oneway"] = "-1"
                ways.append((run, tags))
                run = []
            elif not ok:
                run = []

    for j in range(ny):
        add_line(node_id[j, :], j % arterial_every == 0, j // arterial_every)
    for i in range(nx):
        add_line(node_id[:, i], i % arterial_every == 0, i // arterial_every + 1)
    used = np.zeros(nx * ny + 1, dtype=bool)
    for refs, _ in ways:
        used[refs] = True
    path = Path(path)
    path.unlink(missing_ok=True)
    flat_lon, flat_lat, flat_id = lon.ravel(), lat.ravel(), node_id.ravel()
    with osmium.SimpleWriter(str(path)) as writer:
        for k in np.flatnonzero(used[flat_id]):
            writer.add_node(osmium.osm.mutable.Node(
                id=int(flat_id[k]), location=(float(flat_lon[k]), float(flat_lat[k]))))
        for w, (refs, tags) in enumerate(ways, start=1):
            writer.add_way(osmium.osm.mutable.Way(id=w, nodes=refs, tags=tags))
    return {"nodes": int(used.sum()), "ways": len(ways),
            "segments": int(sum(len(r) - 1 for r, _ in ways))}
