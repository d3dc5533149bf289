"""Load benchmark of server mode (bounded, loopback only).

Set-up (all local): a PostgreSQL + PostGIS database (``DAC_MAP_TEST_DATABASE_URL``'s cluster, or
a throw-away cluster started with ``scripts/pg-test-cluster``), the demo catalogue published
into it (``dac-map db publish``), the local OpenID Connect test provider, and TWO app processes
(``streamlit run app.py``) in server mode reading the same served version.

Load, for ``--duration`` seconds (default 120):

* ``--sessions`` (default 8) concurrent headless-chromium sessions (Playwright async API, one
  Debian chromium), spread over the two app processes, each filtering the public map again and
  again (a family picked in the sidebar, then removed); the filter time is from the key press to
  the new markers drawn (two animation frames after the map reports its new version);
* ``--writers`` (default 4) processes writing unmet needs and coordinators' notes into
  PostgreSQL as fast as they can, each write with a unique idempotency key and every tenth one
  submitted twice (a retry).

Baseline, in the same run and first: the same sessions against two EMBEDDED app processes
(GeoPackage, no sign-in, no writers); the report gives the server/embedded ratios.

Checks and figures: errors (sessions, writers, app logs), lost writes (a key acknowledged but
absent) and duplicated writes (a key stored twice, or a retry stored as a new row), p50/p95
filter times per app process, and the peak resident memory (RSS) of each app process, sampled
every second. Results go to ``benchmarks/output/server/bench_server.json``.

Run: ``.venv/bin/python benchmarks/bench_server.py`` (about 3 minutes; ``--duration 20`` for a
quick run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "output" / "server"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from server import (CHROMIUM, CHROMIUM_ARGS, free_port, start_oidc_provider,  # noqa: E402
                    start_streamlit, stop, write_secrets)

FAMILY_TYPED = "Personnes âgées — héb"
TIMEOUT_MS = 120_000


# --------------------------------------------------------------------------- database

def database(tmp: Path) -> tuple[str, callable]:
    """(URL of a fresh migrated database, cleanup)."""
    import psycopg

    from dac_map.server import migrate

    admin = os.environ.get("DAC_MAP_TEST_DATABASE_URL")
    cluster_dir = None
    if not admin:
        out = subprocess.run([str(ROOT / "scripts" / "pg-test-cluster"), "start"], check=True,
                             capture_output=True, text=True).stdout
        env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
        admin, cluster_dir = env["DAC_MAP_TEST_DATABASE_URL"], env["DAC_MAP_TEST_PG_DIR"]
    base, _, template = admin.rpartition("/")
    name = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = f"{base}/{name}"
    migrate.upgrade(url)

    def cleanup() -> None:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if cluster_dir:
            subprocess.run([str(ROOT / "scripts" / "pg-test-cluster"), "stop", cluster_dir],
                           check=False)
    return url, cleanup


def demo_store() -> Path:
    from dac_map.cli import DEMO_COMMUNES, DEMO_DEPARTMENTS, DEMO_EQUIPMENT, DEMO_ESTABLISHMENTS
    from dac_map.etl import EtlInputs, run_etl

    path = OUT / "demo.gpkg"
    if not path.exists():
        run_etl(EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS,
                          equipment=DEMO_EQUIPMENT, communes=list(DEMO_COMMUNES)), path)
    return path


# --------------------------------------------------------------------------- writers

def writer(url: str, worker: int, go, end, finess: list[str], out: mp.Queue) -> None:
    """Once ``go`` is set, write unmet needs and notes until ``end.value`` (epoch seconds);
    report (kind, key, id) and errors."""
    from dac_map.notes import NoteInput, PostgresNoteStore
    from dac_map.server import auth
    from dac_map.server.unmet import UnmetLog

    go.wait()
    stop_at = end.value

    who = auth.Principal(f"bench-writer-{worker}", frozenset({auth.COORDINATOR}),
                         frozenset({"DAC-80"}), True)
    log, notes = UnmetLog(url), PostgresNoteStore(url)
    done, errors, k = [], [], 0
    while time.time() < stop_at:
        key = f"w{worker}-{k}"
        try:
            for attempt in range(2 if k % 10 == 0 else 1):  # every tenth write is retried
                if k % 2:
                    row = notes.add(NoteInput(finess[k % len(finess)], "DAC-80",
                                              other=f"note de charge {key}"), who, client_key=key)
                else:
                    row = log.record(who, "DAC-80", "80021", {"family": "pa_hebergement"},
                                     "Personnes âgées", f"besoin de charge {key}", client_key=key)
            done.append(("note" if k % 2 else "need", key, row.id))
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
        k += 1
    out.put((worker, done, errors))


def check_writes(url: str, results: list) -> dict[str, int]:
    import psycopg

    acked = {(kind, key): rid for _, done, _ in results for kind, key, rid in done}
    with psycopg.connect(url) as con:
        needs = con.execute("SELECT client_key, id, comment FROM dac_map.unmet_needs "
                            "WHERE client_key IS NOT NULL").fetchall()
        notes = con.execute("SELECT client_key, id, other FROM dac_map.notes "
                            "WHERE client_key IS NOT NULL").fetchall()
    stored = {("need", k): (i, c) for k, i, c in needs} | {("note", k): (i, c) for k, i, c in notes}
    lost = sum(1 for k, rid in acked.items() if k not in stored or stored[k][0] != rid)
    texts = [c for _, c in stored.values()]
    duplicated = (len(needs) + len(notes) - len(set(stored))) + (len(texts) - len(set(texts)))
    unacked = len(set(stored) - set(acked))  # stored but never acknowledged (a write cut short)
    return {"acknowledged": len(acked), "stored": len(stored), "lost": lost,
            "duplicated": duplicated, "stored_not_acknowledged": unacked,
            "needs": len(needs), "notes": len(notes)}


# --------------------------------------------------------------------------- browser sessions

async def browser_session(browser, url: str, start, times: list, errors: list,
                          retried: list) -> None:
    """One session: opens the map (not timed), waits for every session to be ready
    (``start``: awaitable returning the end time of the load), then filters until then."""
    ctx = await browser.new_context(viewport={"width": 1440, "height": 1000})
    page = await ctx.new_page()
    try:
        await page.goto(url)
        version = await _map_version(page, None)
        box = page.locator("[data-testid='stMultiSelect']").filter(has_text="Familles")
        picked = False
        stop_at = await start()
        while time.time() < stop_at:
            tags = box.locator("[data-tag]")
            for attempt in range(3):  # an input the browser dropped is redone, not timed twice
                await box.locator("input").click(timeout=TIMEOUT_MS)
                if not picked:  # type the family in the list and pick it, as a person does
                    await box.locator("input").fill(FAMILY_TYPED, timeout=TIMEOUT_MS)
                    await page.wait_for_timeout(200)
                    t0 = await page.evaluate("Date.now()")
                    await page.keyboard.press("Enter")
                else:  # remove it (Backspace in the empty input removes the last chosen value)
                    t0 = await page.evaluate("Date.now()")
                    await page.keyboard.press("Backspace")
                await page.keyboard.press("Escape")
                want = not picked  # a tag shown once the family is picked, none once removed
                for _ in range(50):
                    if (await tags.count() > 0) == want:
                        break
                    await page.wait_for_timeout(100)
                if (await tags.count() > 0) == want:
                    break
                retried[0] += 1
            version, drawn = await _map_version(page, version)
            times.append(drawn - t0)
            picked = not picked
            await page.wait_for_timeout(300)  # a person reads the map before the next change
    except Exception as exc:  # noqa: BLE001
        errors.append(f"{url}: {type(exc).__name__}: {exc}")
    finally:
        await ctx.close()


async def _map_version(page, old):
    """Wait for the map to show a version different from ``old``; (version, draw time ms)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "streamlit_folium" not in frame.url:
                continue
            try:
                v = await frame.evaluate("() => window.dacMap && window.dacMap.markers > 0 ? "
                                         "window.dacMap.version : null")
                if v is not None and v != old:
                    drawn = await frame.evaluate(
                        "() => new Promise(r => requestAnimationFrame(() => "
                        "requestAnimationFrame(() => r(Date.now()))))")
                    return (v, drawn) if old is not None else (v, drawn)
            except Exception:  # noqa: BLE001 - frame navigating
                continue
        await asyncio.sleep(0.015)
    raise TimeoutError("map not redrawn in time")


async def run_sessions(urls: list[str], n: int, begin) -> tuple[dict, list]:
    """``n`` sessions over ``urls``; once all have their first map, ``begin()`` (starts the
    writers, returns the end time) is called and the timed load starts."""
    from playwright.async_api import async_playwright

    times = {u: [] for u in urls}
    errors: list[str] = []
    retried = [0]
    ready, go, end = [0], asyncio.Event(), [0.0]

    async def start() -> float:
        ready[0] += 1
        if ready[0] == n - len(errors):
            end[0] = begin()
            go.set()
        await go.wait()
        return end[0]

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        await asyncio.gather(*(browser_session(browser, urls[i % len(urls)], start,
                                               times[urls[i % len(urls)]], errors, retried)
                               for i in range(n)))
        await browser.close()
    times["_retried_inputs"] = retried[0]
    return times, errors


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def start_apps(gpkg: Path, url: str | None, oidc_port: int, tag: str) -> tuple[list, list]:
    """Two app processes: server mode (``url``) or embedded (the GeoPackage, no sign-in)."""
    apps, urls = [], []
    for i in range(2):
        port = free_port()
        if url:
            secrets = write_secrets(OUT / f"secrets_{i}.toml", port, oidc_port)
            env = {"DAC_MAP_DATABASE_URL": url, "DAC_MAP_STORE": str(OUT / "absent.gpkg")}
            extra = ["--secrets.files", str(secrets)]
        else:
            env = {"DAC_MAP_DATABASE_URL": "", "DAC_MAP_NOTES_DB": str(OUT / "notes.sqlite"),
                   "DAC_MAP_UNMET_NEEDS_DB": str(OUT / "unmet.sqlite")}
            extra = []
        apps.append(start_streamlit(gpkg, port, OUT / f"streamlit_{tag}{i}.log", extra_env=env,
                                    extra_args=extra))
        urls.append(f"http://127.0.0.1:{port}")
    return apps, urls


def load_phase(urls: list[str], apps: list, sessions: int, begin) -> tuple[dict, list, dict]:
    """Run the sessions (and whatever ``begin`` starts); (times, errors, peak RSS MB)."""
    peak = {u: 0.0 for u in urls}
    sampling = [True]

    def sample() -> None:
        while sampling[0]:
            for u, p in zip(urls, apps):
                peak[u] = max(peak[u], rss_mb(p.pid))
            time.sleep(1)
    threading.Thread(target=sample, daemon=True).start()
    times, errors = asyncio.run(run_sessions(urls, sessions, begin))
    sampling[0] = False
    return times, errors, peak


def figures(times: dict, peak: dict, urls: list[str]) -> dict:
    every = [t for v in times.values() for t in v]
    return {"per_process": {f"app{i}": {"filters": len(times[u]), "p50_ms": pct(times[u], 0.5),
                                        "p95_ms": pct(times[u], 0.95),
                                        "peak_rss_mb": round(peak[u], 1)}
                            for i, u in enumerate(urls)},
            "filters": len(every), "p50_ms": pct(every, 0.5), "p95_ms": pct(every, 0.95)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the embedded-mode baseline (same sessions, GeoPackage, no writers)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    from dac_map import store
    from dac_map.server import versions

    gpkg = demo_store()
    url, cleanup = database(OUT)
    procs = []
    report: dict = {"duration_s": args.duration, "sessions": args.sessions,
                    "writers": args.writers}
    try:
        baseline = None
        if not args.no_baseline:
            apps, urls = start_apps(gpkg, None, 0, "embedded")
            procs += apps
            times, errors, peak = load_phase(urls, apps, args.sessions,
                                             lambda: time.time() + args.duration)
            for p in apps:
                stop(p)
            retried = times.pop("_retried_inputs")
            baseline = figures(times, peak, urls) | {"errors": errors, "retried_inputs": retried}
            report["embedded_baseline"] = baseline

        t0 = time.perf_counter()
        versions.publish_geopackage(gpkg, actor="bench", url=url)
        report["publish_s"] = round(time.perf_counter() - t0, 2)
        est = store.open_store(gpkg).read_layer(store.ESTABLISHMENTS, read_geometry=False)
        report["establishments"] = len(est)
        finess = list(est.loc[est["dac_id"] == "DAC-80", "finess"])[:200]
        oidc_port = free_port()
        procs.append(start_oidc_provider(oidc_port, [{"sub": "bench"}], OUT / "oidc.log"))
        apps, urls = start_apps(gpkg, url, oidc_port, "server")
        procs += apps
        ctx = mp.get_context("spawn")
        queue, go, end = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
        writers = [ctx.Process(target=writer, args=(url, w, go, end, finess, queue))
                   for w in range(args.writers)]
        for w in writers:  # started now, they wait for the signal with their imports done
            w.start()

        def begin() -> float:
            # the writers get the same end time as the sessions: the load is both, together
            end.value = time.time() + args.duration
            go.set()
            return end.value

        times, session_errors, peak = load_phase(urls, apps, args.sessions, begin)
        if not go.is_set():  # every session failed before the load
            begin()
        report["retried_inputs"] = times.pop("_retried_inputs")
        results = [queue.get(timeout=300) for _ in writers]
        for w in writers:
            w.join(30)
        writes = check_writes(url, results)
        writer_errors = [e for _, _, errs in results for e in errs]
        log_errors = [line for i in range(2) for line in
                      (OUT / f"streamlit_server{i}.log").read_text(errors="replace").splitlines()
                      if "Traceback" in line or '"level": "error"' in line]
        server = figures(times, peak, urls)
        report["server"] = server
        if baseline and baseline["p50_ms"] and server["p50_ms"]:
            report["server_vs_embedded_p50"] = round(server["p50_ms"] / baseline["p50_ms"], 2)
            report["server_vs_embedded_p95"] = round(server["p95_ms"] / baseline["p95_ms"], 2)
        report["writes"] = writes
        report["writes_per_s"] = round(writes["acknowledged"] / args.duration, 1)
        report["errors"] = {"sessions": session_errors, "writers": writer_errors[:20],
                            "writer_error_count": len(writer_errors), "app_logs": log_errors[:20]}
        (OUT / "bench_server.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(json.dumps(report, indent=2, ensure_ascii=False))
        ok = (not session_errors and not writer_errors and not log_errors
              and writes["lost"] == 0 and writes["duplicated"] == 0 and server["filters"] > 0)
        print("RESULT:", "OK — zero errors, zero lost or duplicated writes" if ok else "FAILED")
        sys.exit(0 if ok else 1)
    finally:
        for p in procs:
            stop(p)
        cleanup()


if __name__ == "__main__":
    main()
