"""FINESS+ benchmark: synthetic national flows in the real shape, our streaming readers against
a naive ``json.load`` + pandas normalisation of the same files, in the same run.

Usage::

    python benchmarks/bench_finess_plus.py [--scale 1.0] [--runs 3] [--no-naive]

Generates once (cached in ``benchmarks/output/``) with :mod:`dac_map.testing.finess_plus`
(**fictitious** data) a Structures flow (60,000 legal entities, 100,000 establishments) and an
Activités flow (600,000 activities, 800,000 capacities, 40,000 zones averaging 25 communes),
pretty-printed with CRLF like the ANS files, then measures, each in a fresh process:

* ``activites``: read (streaming, tolerant, deviation report) + labelled layers + GeoPackage
  write of ``activites``, ``capacites``, ``zones_intervention``;
* ``structures``: read + positions (axis check, projections) + ``etablissements`` layer write;
* ``naive-*``: ``json.load`` of the whole file + ``pandas.json_normalize`` of the same tables +
  the same GeoPackage write (address space limited to 12 GiB: a failure is reported as such);
* ``serves``: a national catalogue built from both flows, then ``ServesCommuneFilter`` on 500
  zone communes (median), against a pandas filter of the zone table joined to the activities.

Whole-process figures include the interpreter start-up and imports; in-process figures time the
work only. Peak memory is the process's maximum resident set size. Targets (issue 11, 2 cores):
Activités ≤ 30 s and ≤ 1.5 GiB, Structures ≤ 10 s, ServesCommuneFilter ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "output"
ROOT = HERE.parent
DEPARTMENTS = ROOT / "data" / "geo" / "departements.geojson"
NAIVE_LIMIT = 12 << 30


def paths(scale: float) -> tuple[Path, Path]:
    d = OUT / f"finess_plus-{scale:g}"
    return d / "structures.json", d / "activites.json"


def generate(scale: float) -> tuple[Path, Path]:
    from dac_map.testing.finess_plus import Sizes, write_activites, write_structures

    s, a = paths(scale)
    sizes = Sizes().scaled(scale)
    if not s.exists():
        print(f"génération {s} …", flush=True)
        write_structures(s.with_suffix(".tmp"), sizes).rename(s)
    if not a.exists():
        print(f"génération {a} …", flush=True)
        write_activites(a.with_suffix(".tmp"), sizes).rename(a)
    return s, a


# --------------------------------------------------------------------------- children (one process each)

def _ours(path: Path, out: Path, flow: str) -> dict:
    """Read + build layers + GeoPackage write of one flow, timed (in-process wall and CPU)."""
    t0 = time.perf_counter()
    from dac_map.finess_plus import DeviationReport, read_activites, read_structures
    from dac_map.finess_plus.model import build_activity_layers, build_establishments
    from dac_map.store import GeoPackageStore

    t1 = time.perf_counter()
    c1 = time.process_time()
    report = DeviationReport()
    tables = (read_activites if flow == "activites" else read_structures)(path, report)
    t2 = time.perf_counter()
    if flow == "activites":
        acts, caps, zones = build_activity_layers(tables, report)
        layers = {"activites": acts, "capacites": caps, "zones_intervention": zones}
    else:
        layers = {"etablissements": build_establishments(tables, report)}
    t3 = time.perf_counter()
    GeoPackageStore(out).write(layers, {"bench": "1"})
    t4 = time.perf_counter()
    return {"cpu": time.process_time() - c1, "imports": t1 - t0, "read": t2 - t1, "layers": t3 - t2,
            "write": t4 - t3, "work": t4 - t1, "rows": [len(v) for v in layers.values()]}


def child_ours_activites(path: Path, out: Path) -> dict:
    return _ours(path, out, "activites")


def child_ours_structures(path: Path, out: Path) -> dict:
    return _ours(path, out, "structures")


def child_naive_activites(path: Path, out: Path) -> dict:
    resource.setrlimit(resource.RLIMIT_AS, (NAIVE_LIMIT, NAIVE_LIMIT))
    t0 = time.perf_counter()
    import pandas as pd
    import pyogrio

    t1 = time.perf_counter()
    c1 = time.process_time()
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    pm = doc["pmej"]
    a1 = pd.json_normalize(pm, record_path=["activitesAutorisees"], meta=["numFiness"], errors="ignore")
    a2 = pd.json_normalize(pm, record_path=["ege", "activitesExercees"], meta=["numFiness", ["ege", "numFinessEge"]],
                           errors="ignore")
    acts = pd.concat([a1, a2], ignore_index=True)
    caps = pd.json_normalize(pm, record_path=["activitesAutorisees", "capacite"], errors="ignore")
    caps2 = pd.json_normalize(pm, record_path=["ege", "activitesExercees", "capacite"], errors="ignore")
    caps = pd.concat([caps, caps2], ignore_index=True)
    zoned = acts[acts["zoneIntervention.communeZI"].notna()] if "zoneIntervention.communeZI" in acts else acts.iloc[0:0]
    zones = zoned[["caracteristiquesGeneriques.activiteAeId", "zoneIntervention.communeZI"]].explode(
        "zoneIntervention.communeZI")
    zones["commune"] = zones["zoneIntervention.communeZI"].map(lambda d: d["commune"])
    zones = zones.drop(columns=["zoneIntervention.communeZI"])
    t2 = time.perf_counter()
    keep = [c for c in acts.columns if acts[c].map(lambda v: not isinstance(v, (list, dict))).all()]
    acts = acts[keep].astype(str)
    caps = caps.astype(str)
    for name, frame in (("activites", acts), ("capacites", caps), ("zones_intervention", zones.astype(str))):
        pyogrio.write_dataframe(frame, out, layer=name, driver="GPKG")
    t3 = time.perf_counter()
    return {"cpu": time.process_time() - c1, "imports": t1 - t0, "read": t2 - t1, "write": t3 - t2, "work": t3 - t1,
            "rows": [len(acts), len(caps), len(zones)]}


def child_naive_structures(path: Path, out: Path) -> dict:
    resource.setrlimit(resource.RLIMIT_AS, (NAIVE_LIMIT, NAIVE_LIMIT))
    t0 = time.perf_counter()
    import geopandas as gpd
    import pandas as pd

    t1 = time.perf_counter()
    c1 = time.process_time()
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    est = pd.json_normalize(doc["pmej"], record_path=["ege"], meta=[["informationsGeneralesPMEJ", "numFinessPm"]],
                            errors="ignore")
    adr = pd.json_normalize(est["adresse"].map(lambda v: v[0] if v else {}).tolist())
    est = pd.concat([est.drop(columns=["adresse"]), adr], axis=1)
    x = pd.to_numeric(est.get("coordonneesGeographique.coordonneeY"), errors="coerce")
    y = pd.to_numeric(est.get("coordonneesGeographique.coordonneeX"), errors="coerce")
    keep = [c for c in est.columns if est[c].map(lambda v: not isinstance(v, (list, dict))).all()]
    gdf = gpd.GeoDataFrame(est[keep].astype(str), geometry=gpd.points_from_xy(x, y), crs=2154).to_crs(4326)
    t2 = time.perf_counter()
    gdf.to_file(out, layer="etablissements", driver="GPKG")
    t3 = time.perf_counter()
    return {"cpu": time.process_time() - c1, "imports": t1 - t0, "read": t2 - t1, "write": t3 - t2, "work": t3 - t1, "rows": [len(gdf)]}


def child_serves(structures: Path, activites: Path, out: Path) -> dict:
    import numpy as np

    from dac_map.etl import EtlInputs, run_etl
    from dac_map.query import ServesCommuneFilter, load_catalogue

    if not out.exists():
        run_etl(EtlInputs(establishments=None, departments=DEPARTMENTS, finess_plus_structures=structures,
                          finess_plus_activites=activites), out)
    t0 = time.perf_counter()
    cat = load_catalogue(out)
    load = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    communes = rng.choice(np.array(sorted(cat.finess_plus.areas.by_code)), size=500)
    ours = []
    for c in communes:
        t = time.perf_counter()
        m = ServesCommuneFilter(str(c)).mask(cat)
        ours.append(time.perf_counter() - t)
    # naive: filter the zone table, join to the establishments' activities, isin
    acts = cat.finess_plus.activities
    zones = cat.finess_plus.zones
    naive = []
    for c in communes[:50]:
        t = time.perf_counter()
        z = zones[zones["commune"] == c]
        fins = acts.loc[acts["zone_activity_id"].isin(z["activity_id"]) & acts["active"], "finess"]
        m2 = cat.establishments["finess"].isin(fins).to_numpy()
        naive.append(time.perf_counter() - t)
    assert (m2 == ServesCommuneFilter(str(communes[49])).mask(cat)).all()
    del m
    return {"catalogue_load": load, "ours_ms": 1000 * statistics.median(ours),
            "ours_p95_ms": 1000 * float(np.percentile(ours, 95)), "naive_ms": 1000 * statistics.median(naive),
            "establishments": len(cat)}


CHILDREN = {"ours-activites": child_ours_activites, "ours-structures": child_ours_structures,
            "naive-activites": child_naive_activites, "naive-structures": child_naive_structures}


def run_child(kind: str, *args: Path) -> dict:
    """Run one measurement in a fresh process; whole-process wall time and peak memory added."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", kind, *map(str, args)], capture_output=True,
                          text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"failed": tail[0][:200], "process": wall}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process"] = wall
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "serves":
            res = child_serves(*map(Path, rest))
        else:
            res = CHILDREN[kind](*map(Path, rest))
        res["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(res))
        return
    s, a = generate(args.scale)
    print(f"fichiers : structures {s.stat().st_size / 1e6:.0f} Mo, activités {a.stat().st_size / 1e6:.0f} Mo")
    results: dict[str, list[dict]] = {}
    for run in range(args.runs):
        for flow, path in (("activites", a), ("structures", s)):
            kinds = [f"ours-{flow}"] + ([] if args.no_naive else [f"naive-{flow}"])
            if run % 2:
                kinds.reverse()
            for kind in kinds:
                out = OUT / f"bench-{kind}.gpkg"
                out.unlink(missing_ok=True)
                res = run_child(kind, path, out)
                results.setdefault(kind, []).append(res)
                print(f"run {run + 1} {kind}: {json.dumps(res)}", flush=True)
    serves_store = OUT / f"bench-national-{args.scale:g}.gpkg"
    serves = run_child("serves", s, a, serves_store)
    print(f"serves: {json.dumps(serves)}")

    def med(kind: str, key: str) -> float | None:
        vals = [r[key] for r in results.get(kind, []) if key in r]
        return statistics.median(vals) if vals else None

    print("\n| mesure | ours (médiane) | naïf (médiane) | naïf / ours |")
    print("|---|---|---|---|")
    for flow in ("activites", "structures"):
        for key, label in (("work", "en processus"), ("cpu", "temps CPU en processus"), ("process", "processus entier"),
                           ("maxrss_mib", "mémoire max (Mio)")):
            o, n = med(f"ours-{flow}", key), med(f"naive-{flow}", key)
            failed = [r["failed"] for r in results.get(f"naive-{flow}", []) if "failed" in r]
            ratio = f"{n / o:.1f}×" if o and n else ("échec : " + failed[0][:60] if failed else "—")
            print(f"| {flow} {label} | {o:.2f} | {'' if n is None else f'{n:.2f}'} | {ratio} |" if o is not None
                  else f"| {flow} {label} | — | — | — |")
    if "ours_ms" in serves:
        print(f"| ServesCommuneFilter ({serves['establishments']} établissements) | {serves['ours_ms']:.3f} ms "
              f"(p95 {serves['ours_p95_ms']:.3f}) | {serves['naive_ms']:.1f} ms | "
              f"{serves['naive_ms'] / serves['ours_ms']:.0f}× |")
        print(f"chargement du catalogue national : {serves['catalogue_load']:.2f} s")


if __name__ == "__main__":
    main()
