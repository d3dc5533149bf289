"""data·inclusion import and FINESS deduplication benchmark, against naive baselines.

Usage::

    python benchmarks/bench_inclusion.py [--services 200000] [--establishments 100000] [--runs 3]

Generates (once, cached in ``benchmarks/output/``) a synthetic national ``services.json`` and
``structures.json`` in the real shape (schema v1 open-data files, :mod:`dac_map.testing.inclusion`;
1 % deviating records; 5 % of the structures copy a FINESS establishment) and a synthetic national
FINESS extract (:mod:`dac_map.testing.synthetic`). Then, each run in a fresh Python process:

* ``import``: :func:`dac_map.inclusion.importer.read_sources` + checks + change report (streamed
  reading, official-model validation, legacy conversion, mapping to resources, zones), no store;
* ``import-naive``: ``json.load`` of the whole files, ``v1.Service.model_validate`` per record
  (the official models, e-mail included), ``pandas.DataFrame`` of the dumps;
* ``dedup``: :func:`dac_map.inclusion.dedup.match_finess` of every imported resource against the
  100,000 establishments (SIRET, then name + address blocked by commune);
* ``dedup-naive``: all-pairs rapidfuzz (name and address of each resource against every
  establishment) on a sample of resources, extrapolated to all of them;
* ``serving``: the one « Intervient à » filter (:class:`dac_map.query.serving.ServesCommuneFilter`)
  on the imported resources (zones: communes, departments, EPCIs of the shipped table,
  ``france``), milliseconds per commune over 500 communes; ``serving-naive``: each resource's
  zone codes scanned for the commune, its department, its EPCIs (same answers, checked).

In-process figures: wall time around the work (imports excluded) and peak resident memory of
the process. Whole-process figures: ``dac-map inclusion import --dry-run`` timed from the shell's
point of view (start-up and imports included). Medians over the runs, baseline in the same run.
The issue's targets (200,000 services imported in <= 20 s and <= 1.5 GiB; deduplication
against the national FINESS catalogue, 100,000 establishments, in <= 10 s) are printed with the
figures they apply to (scaled linearly when a smaller size is run).
"""

from __future__ import annotations

import argparse
import csv
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
NAIVE_DEDUP_SAMPLE = 40


def _paths(n_svc: int, n_est: int) -> dict[str, Path]:
    return {"services": OUT / f"di-services-{n_svc}.json", "structures": OUT / f"di-structures-{n_svc}.json",
            "finess": OUT / f"synthetic-cs1100507-{n_est}.csv"}


def _establishments(path: Path):
    """The FINESS establishments of a synthetic extract (finess, siret, name, long_name, address,
    commune) as the store's layer holds them."""
    import pandas as pd

    from dac_map.etl.build import commune_codes
    from dac_map.etl.layouts import STRUCTUREET

    rows = []
    with open(path, encoding="latin-1", newline="") as f:
        for r in csv.reader(f, delimiter=";"):
            if r and r[0] == "structureet":
                rows.append(r[1:len(STRUCTUREET.fields) + 1])
    st = pd.DataFrame(rows, columns=list(STRUCTUREET.fields))
    _, commune = commune_codes(st["departement"], st["commune"])
    address = (st["numvoie"] + " " + st["typvoie"] + " " + st["voie"]).str.strip()
    return pd.DataFrame({"finess": st["nofinesset"], "siret": st["siret"].where(st["siret"] != "", None),
                         "name": st["rs"], "long_name": st["rslongue"].where(st["rslongue"] != "", None),
                         "address": address, "commune": commune.astype(object)})


def generate(n_svc: int, n_est: int) -> dict[str, Path]:
    from dac_map.testing.inclusion import synthetic_records, write_json
    from dac_map.testing.synthetic import write_establishments_extract

    p = _paths(n_svc, n_est)
    OUT.mkdir(parents=True, exist_ok=True)
    if not p["finess"].exists():  # written beside then renamed: an interrupted run leaves nothing
        tmp = p["finess"].with_suffix(".tmp")
        write_establishments_extract(tmp, n_est, seed=0)
        tmp.replace(p["finess"])
    if not p["services"].exists():
        est = _establishments(p["finess"])
        like = est.sample(n=min(len(est), n_svc // 60), random_state=0).to_dict("records")
        services, structures = synthetic_records(n_svc, seed=1, finess_like=like)
        write_json(p["structures"].with_suffix(".tmp"), structures).replace(p["structures"])
        write_json(p["services"].with_suffix(".tmp"), services).replace(p["services"])
    return p


# --------------------------------------------------------------------------- one run (child)

def run_import(p: dict[str, Path]) -> dict:
    from dac_map.inclusion.importer import changes, check, read_sources

    t, c = time.perf_counter(), time.process_time()
    result = read_sources([p["services"]], [p["structures"]])
    check(result, strict=False)
    changes(result, None)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the hand-over below
    result.table.to_pickle(OUT / "di-resources.pkl")  # for the dedup and serving runs
    result.zones.to_pickle(OUT / "di-zones.pkl")
    return {"seconds": seconds, "cpu_s": cpu, "peak_mib": peak, "resources": len(result.table), "rejected": result.services_report.rejected}


def run_import_naive(p: dict[str, Path]) -> dict:
    import pandas as pd
    import pydantic
    from data_inclusion.schema import v1

    t, c = time.perf_counter(), time.process_time()
    kept = []
    for model, path in ((v1.Structure, p["structures"]), (v1.Service, p["services"])):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for rec in data:
            try:
                kept.append(model.model_validate(rec).model_dump(mode="json"))
            except pydantic.ValidationError:
                pass
        del data
    frame = pd.DataFrame(kept)
    return {"seconds": time.perf_counter() - t, "cpu_s": time.process_time() - c, "resources": len(frame)}


def run_dedup(p: dict[str, Path]) -> dict:
    import pandas as pd

    from dac_map.inclusion.dedup import match_finess

    table = pd.read_pickle(OUT / "di-resources.pkl")
    est = _establishments(p["finess"])
    t, c = time.perf_counter(), time.process_time()
    matches = match_finess(table, est)
    by = {}
    for m in matches:
        by[m.method] = by.get(m.method, 0) + 1
    return {"seconds": time.perf_counter() - t, "cpu_s": time.process_time() - c, "matches": len(matches), "by_method": by,
            "resources": len(table), "establishments": len(est)}


def run_dedup_naive(p: dict[str, Path]) -> dict:
    import pandas as pd
    from rapidfuzz import fuzz

    from dac_map.query.text import fold_text

    table = pd.read_pickle(OUT / "di-resources.pkl")
    est = _establishments(p["finess"])
    sample = table.sample(n=min(NAIVE_DEDUP_SAMPLE, len(table)), random_state=0)
    e_names = [fold_text(x) for x in est["name"]]
    e_addr = [fold_text(x) for x in est["address"]]
    t, c = time.perf_counter(), time.process_time()
    for name, addr in zip(sample["structure_name"].fillna(sample["name"]), sample["address"]):
        n, a = fold_text(name), fold_text(addr)
        for en, ea in zip(e_names, e_addr):
            if fuzz.token_set_ratio(n, en) >= 85 and fuzz.token_sort_ratio(a, ea) >= 80:
                pass
    per_resource = (time.perf_counter() - t) / len(sample)
    per_resource_cpu = (time.process_time() - c) / len(sample)
    return {"seconds": per_resource * len(table), "cpu_s": per_resource_cpu * len(table),
            "sample": len(sample), "extrapolated": True}


def _social():
    import pandas as pd

    from dac_map.inclusion.catalogue import SocialCatalogue
    from dac_map.inclusion.zones import epci_table

    table, zones = pd.read_pickle(OUT / "di-resources.pkl"), pd.read_pickle(OUT / "di-zones.pkl")
    epci = epci_table().communes
    cat = SocialCatalogue.from_frames(table, zones, epci_communes=epci)
    import numpy as np

    communes = sorted({c for c in zones["code"] if len(c) == 5} | {c for cs in epci.values() for c in cs})
    pick = np.random.default_rng(0).choice(communes, size=min(500, len(communes)), replace=False)
    return cat, zones, epci, list(pick)


def run_serving(p: dict[str, Path]) -> dict:
    from dac_map.query.serving import ServesCommuneFilter

    cat, _, _, communes = _social()
    times, hits = [], 0
    for c in communes:
        t = time.perf_counter()
        rows = ServesCommuneFilter(c).mask(cat)
        times.append(time.perf_counter() - t)
        hits += int(rows.sum())
    return {"seconds": statistics.median(times) * 1000, "cpu_s": float("nan"), "p95_ms": sorted(times)[int(len(times) * .95)] * 1000,
            "communes": len(communes), "hits": hits, "unit": "ms/commune"}


def run_serving_naive(p: dict[str, Path]) -> dict:
    from dac_map import codes

    cat, zones, epci, communes = _social()
    by_resource: dict[str, list[str]] = {}
    for rid, code in zip(zones["resource_id"], zones["code"]):
        by_resource.setdefault(rid, []).append(code)
    ids = list(cat.table["resource_id"])
    lists = [by_resource.get(r, []) for r in ids]
    sample = communes[:20]
    times, hits = [], 0
    for c in sample:
        t = time.perf_counter()
        keys = {c, codes.department_of(c), "france", "99100", *(e for e, m in epci.items() if c in m)}
        hits += sum(1 for z in lists if any(k in keys for k in z))
        times.append(time.perf_counter() - t)
    ours = [int(__import__("dac_map.query.serving", fromlist=["x"]).ServesCommuneFilter(c).mask(cat).sum())
            for c in sample]
    assert hits == sum(ours), (hits, sum(ours))  # same answers
    return {"seconds": statistics.median(times) * 1000, "cpu_s": float("nan"), "communes": len(sample),
            "unit": "ms/commune"}


RUNNERS = {"import": run_import, "import-naive": run_import_naive, "dedup": run_dedup,
           "dedup-naive": run_dedup_naive, "serving": run_serving, "serving-naive": run_serving_naive}
TARGET_IMPORT_S, TARGET_IMPORT_MIB, TARGET_DEDUP_S = 20.0, 1536.0, 10.0
TARGET_SERVICES, TARGET_ESTABLISHMENTS = 200_000, 100_000


def _child(kind: str, n_svc: int, n_est: int) -> None:
    result = RUNNERS[kind](_paths(n_svc, n_est))
    result.setdefault("peak_mib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result, default=str))


def _once(kind: str, n_svc: int, n_est: int) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--services", str(n_svc), "--establishments", str(n_est)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _whole_process(p: dict[str, Path]) -> dict:
    """``dac-map inclusion import --dry-run`` as a user runs it (start-up included)."""
    exe = Path(sys.executable).with_name("dac-map")
    cmd = [str(exe), "inclusion", "import", "--dry-run", "--no-local", "--store", str(OUT / "absent.gpkg"),
           "--services", str(p["services"]), "--structures", str(p["structures"])]
    # a fresh wrapper whose only child is dac-map: its children's peak RSS is dac-map's
    wrapper = ("import json, resource, subprocess, sys, time\n"
               "t = time.perf_counter()\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "s = time.perf_counter() - t\n"
               "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "print(json.dumps({'rc': p.returncode, 'seconds': s, 'cpu_s': u.ru_utime + u.ru_stime,"
               " 'peak_mib': u.ru_maxrss / 1024, 'err': p.stderr[-2000:]}))\n")
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=False)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out.pop("rc"):
        raise SystemExit(f"whole process failed:\n{out['err']}")
    out.pop("err")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--services", type=int, default=200_000)
    ap.add_argument("--establishments", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", choices=sorted(RUNNERS))
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.services, args.establishments)
        return
    p = generate(args.services, args.establishments)
    print(f"services: {args.services:,} ({p['services'].stat().st_size / 2**20:.0f} MiB JSON), "
          f"FINESS establishments: {args.establishments:,}")
    results: dict[str, list[dict]] = {k: [] for k in (*RUNNERS, "whole-process")}
    for _ in range(args.runs):  # A B A B...: machine drift affects both alike
        for kind in ("import", "import-naive", "dedup", "dedup-naive", "serving", "serving-naive"):
            results[kind].append(_once(kind, args.services, args.establishments))
        results["whole-process"].append(_whole_process(p))

    def med(kind: str, key: str = "seconds") -> float:
        return statistics.median(r[key] for r in results[kind])

    print(f"\n{'':24}{'median s':>10}{'CPU s':>10}{'peak MiB':>10}")
    for kind in ("import", "import-naive", "whole-process", "dedup", "dedup-naive"):
        print(f"{kind:24}{med(kind):>10.2f}{med(kind, 'cpu_s'):>10.2f}{med(kind, 'peak_mib'):>10.0f}")
    print("(import, import-naive, dedup, dedup-naive: in process, imports excluded; whole-process: "
          "`dac-map inclusion import --dry-run` with start-up and imports)")
    print(f"(load average at the end: {', '.join(f'{x:.1f}' for x in __import__('os').getloadavg())} "
          "on this machine's cores; CPU seconds are less sensitive to other processes)")
    ratios = [n["seconds"] / o["seconds"] for o, n in zip(results["import"], results["import-naive"])]
    dratios = [n["seconds"] / o["seconds"] for o, n in zip(results["dedup"], results["dedup-naive"])]
    sratios = [n["seconds"] / o["seconds"] for o, n in zip(results["serving"], results["serving-naive"])]
    last = results["import"][-1]
    d = results["dedup"][-1]
    print(f"\nimport: {last['resources']:,} resources kept, {last['rejected']:,} rejected; "
          f"naive/ours {statistics.median(ratios):.2f}x (median of pairs)")
    print(f"dedup: {d['matches']:,} matches {d['by_method']} against {d['establishments']:,} establishments; "
          f"naive (all pairs, {results['dedup-naive'][-1]['sample']} sampled resources, extrapolated)/ours "
          f"{statistics.median(dratios):.0f}x")
    print(f"« Intervient à » (social resources): median {med('serving'):.3f} ms per commune "
          f"(p95 {statistics.median(r['p95_ms'] for r in results['serving']):.3f} ms, "
          f"{results['serving'][-1]['communes']} communes); naive scan {med('serving-naive'):.1f} ms, "
          f"{statistics.median(sratios):.0f}x")
    full = args.services >= TARGET_SERVICES and args.establishments >= TARGET_ESTABLISHMENTS
    print(f"\nTargets (issue 16: {TARGET_SERVICES:,} services, {TARGET_ESTABLISHMENTS:,} FINESS establishments)"
          + ("" if full else f" — NOT CHECKED by this smaller run ({args.services:,} / {args.establishments:,}): "
                             "run with the defaults; per-service rates shown against the per-service budget"))
    rows = [("import in process, wall", med("import"), TARGET_IMPORT_S, "s"),
            ("import in process, CPU", med("import", "cpu_s"), TARGET_IMPORT_S, "s"),
            ("import whole process, wall", med("whole-process"), TARGET_IMPORT_S, "s"),
            ("import whole process, CPU", med("whole-process", "cpu_s"), TARGET_IMPORT_S, "s"),
            ("import peak memory, whole process", med("whole-process", "peak_mib"), TARGET_IMPORT_MIB, "MiB"),
            ("import peak memory, in process", med("import", "peak_mib"), TARGET_IMPORT_MIB, "MiB"),
            ("dedup vs FINESS, wall", med("dedup"), TARGET_DEDUP_S, "s"),
            ("dedup vs FINESS, CPU", med("dedup", "cpu_s"), TARGET_DEDUP_S, "s")]
    for label, value, target, unit in rows:
        if full:
            verdict = "met" if value <= target else "NOT MET"
            print(f"  {label:36}{value:>10.2f} {unit:4} target <= {target:,.0f} {unit}: {verdict}")
        elif unit == "s":
            n = args.services
            budget = target / TARGET_SERVICES * 1e6
            print(f"  {label:36}{value / n * 1e6:>10.1f} µs/service  (budget {budget:.0f} µs/service)")
        else:
            print(f"  {label:36}{value:>10.0f} {unit}  (target <= {target:,.0f} {unit} at full size)")


if __name__ == "__main__":
    main()
