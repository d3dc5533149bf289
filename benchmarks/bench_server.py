"""Load benchmark of server mode (bounded, loopback only).

Set-up (all local): a PostgreSQL + PostGIS database (``DAC_MAP_TEST_DATABASE_URL``'s cluster, or
a throw-away cluster started with ``scripts/pg-test-cluster``), the demo catalogue published
into it (``dac-map db publish``), the local OpenID Connect test provider, and TWO app processes
(``streamlit run app.py``) in server mode reading the same served version.

Load, for ``--duration`` seconds (default 120):

* ``--sessions`` (default 8) concurrent headless-chromium sessions (Playwright async API, one
  Debian chromium), spread over the two app processes, opening the map ``--stagger`` seconds
  apart (default 2), then each filtering the public map again and again (a family picked in the sidebar, then removed); the filter time is from the key press to
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

Diagnosis, printed for every phase: each session's outcome (ok, or failed with the step, the
reason and a snapshot of the page: chosen tags, Streamlit's status, the map's state, seconds
since the last websocket frame, websocket closes), the CPU seconds and peak CPU of each app
process, of chromium, PostgreSQL and the writers (``/proc``), and from the app processes' JSON
logs (``DAC_MAP_LOG_LEVEL=debug``): script runs (completed / interrupted, p50/p95 ms),
catalogue loads (a cache miss each) and PostgreSQL connections opened.

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

from dac_map.testing.server_load import (MAP_STATE_JS, PAGE_SNAPSHOT_JS,  # noqa: E402
                                         app_log_figures, check_writes, cpu_seconds, pids_named,
                                         quantile,
                                         write_needs_and_notes)

FAMILY_TYPED = "Personnes âgées — héb"
TIMEOUT_MS = 120_000  # one filter change: key press -> markers drawn
FIRST_MAP_TIMEOUT_MS = 300_000  # opening the page (not timed)
CPU_THROTTLE = [1.0]  # --cpu-throttle
STAGGER_S = [2.0]  # --stagger


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


# --------------------------------------------------------------------------- browser sessions

async def browser_session(browser, sid: int, url: str, start, trace: dict) -> None:
    """One session: opens the map (not timed), waits for every session to be ready
    (``start``: awaitable returning the end time of the load), then filters until then.
    ``trace`` gets its filter times, outcome and, on failure, the step, the reason and a
    snapshot of the page."""
    trace.update(id=sid, app=url, filters=[], status="ok", step="ouverture de la carte",
                 ws_opened=0, ws_closed=0, ws_frames=0, retried_inputs=0)
    last_frame = [time.monotonic()]

    def on_frame(_payload) -> None:
        trace["ws_frames"] += 1
        last_frame[0] = time.monotonic()

    def on_ws(ws) -> None:
        trace["ws_opened"] += 1
        ws.on("framereceived", on_frame)
        ws.on("close", lambda _ws: trace.__setitem__("ws_closed", trace["ws_closed"] + 1))

    ctx = await browser.new_context(viewport={"width": 1440, "height": 1000})
    page = await ctx.new_page()
    page.on("websocket", on_ws)
    if CPU_THROTTLE[0] > 1:  # a slower client machine (Chrome DevTools CPU throttling)
        cdp = await ctx.new_cdp_session(page)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_THROTTLE[0]})
    try:
        await asyncio.sleep(sid * STAGGER_S[0])  # people do not all open the map at once
        t_open = time.monotonic()
        await page.goto(url, timeout=FIRST_MAP_TIMEOUT_MS)
        version = (await _map_version(page, None, FIRST_MAP_TIMEOUT_MS))[0]
        trace["first_map_s"] = round(time.monotonic() - t_open, 1)
        box = page.locator("[data-testid='stMultiSelect']").filter(has_text="Familles")
        picked = False
        stop_at = await start()
        while time.time() < stop_at:
            n = len(trace["filters"]) + 1
            trace["step"] = f"filtre {n} ({'retrait' if picked else 'choix'} de la famille)"
            tags = box.locator("[data-tag]")
            for attempt in range(3):  # an input the browser dropped is redone, not timed twice
                await box.locator("input").click(timeout=TIMEOUT_MS)
                if not picked:  # type the family in the list and pick it, as a person does
                    await box.locator("input").fill(FAMILY_TYPED, timeout=TIMEOUT_MS)
                    option = page.get_by_role("option", name=FAMILY_TYPED)
                    await option.first.wait_for(timeout=TIMEOUT_MS)  # the list is filtered
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
                trace["retried_inputs"] += 1
            else:  # the browser never took the input: say so, do not wait for a redraw
                raise RuntimeError("saisie non prise en compte après 3 essais (tags : "
                                   f"{await tags.all_inner_texts()})")
            trace["step"] += " : attente de la carte redessinée"
            version, drawn = await _map_version(page, version)
            trace["filters"].append(drawn - t0)
            picked = not picked
            await page.wait_for_timeout(300)  # a person reads the map before the next change
        trace["step"] = "terminé"
    except Exception as exc:  # noqa: BLE001 - every failure is reported with its context
        trace["status"] = "failed"
        trace["reason"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        trace["snapshot"] = await _snapshot(page, last_frame[0])
    finally:
        await ctx.close()


async def _snapshot(page, last_frame: float) -> dict:
    """The page's state when a session failed (see ``PAGE_SNAPSHOT_JS``) and the map's."""
    out: dict = {"s_since_last_ws_frame": round(time.monotonic() - last_frame, 1)}
    try:
        out.update(await page.evaluate(PAGE_SNAPSHOT_JS))
        out["maps"] = []
        for frame in page.frames:
            if "streamlit_folium" in frame.url:
                out["maps"].append(await frame.evaluate(MAP_STATE_JS))
    except Exception as exc:  # noqa: BLE001 - the page itself may be gone
        out["snapshot_error"] = f"{type(exc).__name__}: {exc}"[:200]
    return out


async def _map_version(page, old, timeout_ms: int = TIMEOUT_MS):
    """Wait for the map to show a version different from ``old``; (version, draw time ms)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        for frame in page.frames:
            if "streamlit_folium" not in frame.url:
                continue
            try:
                state = await frame.evaluate(MAP_STATE_JS)
                if state and state["markers"] > 0 and state["version"] != old:
                    drawn = await frame.evaluate(
                        "() => new Promise(r => requestAnimationFrame(() => "
                        "requestAnimationFrame(() => r(Date.now()))))")
                    return state["version"], drawn
            except Exception:  # noqa: BLE001 - frame navigating
                continue
        await asyncio.sleep(0.015)
    raise TimeoutError(f"map not redrawn within {timeout_ms // 1000} s")


async def run_sessions(urls: list[str], n: int, begin) -> list[dict]:
    """``n`` sessions over ``urls``; once all have their first map (or failed), ``begin()``
    (starts the writers, returns the end time) is called and the timed load starts. Returns
    one trace per session."""
    from playwright.async_api import async_playwright

    traces: list[dict] = [{} for _ in range(n)]
    ready, go, end = [0], asyncio.Event(), [0.0]

    def maybe_go() -> None:
        failed = sum(1 for t in traces if t.get("status") == "failed")
        if not go.is_set() and ready[0] + failed >= n:
            end[0] = begin()
            go.set()

    async def start() -> float:
        ready[0] += 1
        maybe_go()
        await go.wait()
        return end[0]

    async def one(i: int) -> None:
        await browser_session(browser, i, urls[i % len(urls)], start, traces[i])
        maybe_go()  # a session that failed before the load must not hold the others

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        await asyncio.gather(*(one(i) for i in range(n)))
        await browser.close()
    return traces


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def start_apps(gpkg: Path, url: str | None, oidc_port: int, tag: str) -> tuple[list, list, list]:
    """Two app processes: server mode (``url``) or embedded (the GeoPackage, no sign-in);
    (processes, URLs, log files). Logs are JSON lines at debug level (one per script run)."""
    apps, urls, logs = [], [], []
    for i in range(2):
        port = free_port()
        env = {"DAC_MAP_LOG_FORMAT": "json", "DAC_MAP_LOG_LEVEL": "debug"}
        if url:
            secrets = write_secrets(OUT / f"secrets_{i}.toml", port, oidc_port)
            env |= {"DAC_MAP_DATABASE_URL": url, "DAC_MAP_STORE": str(OUT / "absent.gpkg")}
            extra = ["--secrets.files", str(secrets)]
        else:
            env |= {"DAC_MAP_DATABASE_URL": "", "DAC_MAP_NOTES_DB": str(OUT / "notes.sqlite"),
                    "DAC_MAP_UNMET_NEEDS_DB": str(OUT / "unmet.sqlite")}
            extra = []
        log = OUT / f"streamlit_{tag}{i}.log"
        apps.append(start_streamlit(gpkg, port, log, extra_env=env, extra_args=extra))
        urls.append(f"http://127.0.0.1:{port}")
        logs.append(log)
    return apps, urls, logs


def load_phase(urls: list[str], apps: list, sessions: int, begin,
               writer_pids=lambda: []) -> tuple[list, dict, dict]:
    """Run the sessions (and whatever ``begin`` starts); (traces, peak RSS MB per app,
    CPU figures: seconds and peak % of one core per app process, chromium, PostgreSQL and
    writers, over the phase)."""
    peak = {u: 0.0 for u in urls}
    groups = {**{f"app{i}": (lambda p=p: [p.pid]) for i, p in enumerate(apps)},
              "chromium": lambda: pids_named("chromium"),
              "postgres": lambda: pids_named("postgres"), "writers": writer_pids}
    cpu = {g: {"cpu_s": 0.0, "peak_pct": 0.0} for g in groups}
    seen: dict[int, float] = {}
    sampling = [True]

    def sample() -> None:
        prev = {g: None for g in groups}
        while sampling[0]:
            for u, p in zip(urls, apps):
                peak[u] = max(peak[u], rss_mb(p.pid))
            for g, pids in groups.items():
                total = 0.0
                for pid in pids():
                    seen[pid] = cpu_seconds(pid) or seen.get(pid, 0.0)
                    total += seen[pid]
                if prev[g] is not None:
                    cpu[g]["cpu_s"] += max(0.0, total - prev[g])
                    cpu[g]["peak_pct"] = max(cpu[g]["peak_pct"], 100 * max(0.0, total - prev[g]))
                prev[g] = total
            time.sleep(1)
    threading.Thread(target=sample, daemon=True).start()
    traces = asyncio.run(run_sessions(urls, sessions, begin))
    sampling[0] = False
    time.sleep(1.1)
    cpu = {g: {k: round(v, 1) for k, v in c.items()} for g, c in cpu.items()}
    return traces, peak, cpu


def figures(traces: list[dict], peak: dict, urls: list[str], cpu: dict, logs: list[Path],
            since: float) -> dict:
    """Per app process: sessions ok/failed, filters, p50/p95 filter time, peak RSS, CPU, and
    what its log says (runs, catalogue loads, PostgreSQL connections, errors)."""
    every = [t for tr in traces for t in tr.get("filters", [])]
    per = {}
    for i, u in enumerate(urls):
        mine = [tr for tr in traces if tr.get("app") == u]
        times = [t for tr in mine for t in tr["filters"]]
        per[f"app{i}"] = {
            "sessions_ok": sum(tr["status"] == "ok" for tr in mine),
            "sessions_failed": sum(tr["status"] != "ok" for tr in mine),
            "filters": len(times), "p50_ms": quantile(times, 0.5), "p95_ms": quantile(times, 0.95),
            "peak_rss_mb": round(peak[u], 1), "cpu": cpu[f"app{i}"],
            "log": app_log_figures(logs[i], since)}
    return {"per_process": per, "filters": len(every), "p50_ms": quantile(every, 0.5),
            "p95_ms": quantile(every, 0.95),
            "sessions_failed": sum(tr["status"] != "ok" for tr in traces),
            "cpu_other": {g: cpu[g] for g in ("chromium", "postgres", "writers")},
            "sessions": [{k: v for k, v in tr.items() if k != "filters"}
                         | {"filters": len(tr.get("filters", [])),
                            "p50_ms": quantile(tr.get("filters", []), 0.5)} for tr in traces]}


def print_phase(name: str, fig: dict) -> None:
    """Every figure of a phase, one line per app process and per session."""
    print(f"\n== {name}: {fig['filters']} filters, p50 {fig['p50_ms']} ms, p95 {fig['p95_ms']} ms, "
          f"{fig['sessions_failed']} session(s) failed")
    for app, f in fig["per_process"].items():
        lg = f["log"]
        print(f"  {app}: sessions ok {f['sessions_ok']} failed {f['sessions_failed']}, filters "
              f"{f['filters']}, p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, peak RSS "
              f"{f['peak_rss_mb']} MB, CPU {f['cpu']['cpu_s']} s (peak {f['cpu']['peak_pct']} %); "
              f"runs {lg['runs_completed']} done / {lg['runs_interrupted']} interrupted, run p50 "
              f"{lg['run_p50_ms']} ms p95 {lg['run_p95_ms']} ms, catalogue loads "
              f"{lg['catalogue_loads']}, PostgreSQL connections {lg['db_connections']}, log errors "
              f"{lg['error_count']}")
    print("  CPU elsewhere: " + ", ".join(f"{g} {c['cpu_s']} s (peak {c['peak_pct']} %)"
                                          for g, c in fig["cpu_other"].items()))
    for tr in fig["sessions"]:
        line = (f"  session {tr['id']} ({tr['app']}): {tr['status']}, first map "
                f"{tr.get('first_map_s')} s, {tr['filters']} filters, "
                f"p50 {tr['p50_ms']} ms, websocket opened {tr['ws_opened']} closed "
                f"{tr['ws_closed']}, frames {tr['ws_frames']}, inputs redone {tr['retried_inputs']}")
        if tr["status"] != "ok":
            line += f"\n    at « {tr['step']} »: {tr['reason']}\n    page: {tr.get('snapshot')}"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the embedded-mode baseline (same sessions, GeoPackage, no writers)")
    ap.add_argument("--stagger", type=float, default=2.0,
                    help="seconds between two sessions opening the map (default 2)")
    ap.add_argument("--cpu-throttle", type=float, default=1.0,
                    help="slow each browser page down N times (DevTools CPU throttling): a "
                         "starved client, to tell starvation from a stall")
    args = ap.parse_args()
    CPU_THROTTLE[0], STAGGER_S[0] = args.cpu_throttle, args.stagger
    OUT.mkdir(parents=True, exist_ok=True)
    from dac_map import store
    from dac_map.server import versions

    gpkg = demo_store()
    url, cleanup = database(OUT)
    procs = []
    report: dict = {"duration_s": args.duration, "sessions": args.sessions,
                    "cpu_throttle": args.cpu_throttle, "stagger_s": args.stagger,
                    "writers": args.writers, "load_average_at_start": os.getloadavg()}
    try:
        baseline = None
        if not args.no_baseline:
            apps, urls, logs = start_apps(gpkg, None, 0, "embedded")
            procs += apps
            since = time.time()
            traces, peak, cpu = load_phase(urls, apps, args.sessions,
                                           lambda: time.time() + args.duration)
            for p in apps:
                stop(p)
            baseline = figures(traces, peak, urls, cpu, logs, since)
            report["embedded_baseline"] = baseline
            print_phase("embedded baseline (GeoPackage, no sign-in, no writers)", baseline)

        t0 = time.perf_counter()
        versions.publish_geopackage(gpkg, actor="bench", url=url)
        report["publish_s"] = round(time.perf_counter() - t0, 2)
        est = store.open_store(gpkg).read_layer(store.ESTABLISHMENTS, read_geometry=False)
        report["establishments"] = len(est)
        finess = list(est.loc[est["dac_id"] == "DAC-80", "finess"])[:200]
        oidc_port = free_port()
        procs.append(start_oidc_provider(oidc_port, [{"sub": "bench"}], OUT / "oidc.log"))
        apps, urls, logs = start_apps(gpkg, url, oidc_port, "server")
        procs += apps
        ctx = mp.get_context("spawn")
        queue, go, end = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
        writers = [ctx.Process(target=write_needs_and_notes, args=(url, w, go, end, finess, queue))
                   for w in range(args.writers)]
        for w in writers:  # started now, they wait for the signal with their imports done
            w.start()

        def begin() -> float:
            # the writers get the same end time as the sessions: the load is both, together
            end.value = time.time() + args.duration
            go.set()
            return end.value

        since = time.time()
        traces, peak, cpu = load_phase(urls, apps, args.sessions, begin,
                                       lambda: [w.pid for w in writers])
        if not go.is_set():  # every session failed before the load
            begin()
        results = [queue.get(timeout=300) for _ in writers]
        for w in writers:
            w.join(30)
        writes = check_writes(url, results)
        writer_errors = [e for _, _, errs in results for e in errs]
        server = figures(traces, peak, urls, cpu, logs, since)
        report["server"] = server
        print_phase("server mode (PostgreSQL/PostGIS, sign-in configured, writers)", server)
        if baseline and baseline["p50_ms"] and server["p50_ms"]:
            report["server_vs_embedded_p50"] = round(server["p50_ms"] / baseline["p50_ms"], 2)
            report["server_vs_embedded_p95"] = round(server["p95_ms"] / baseline["p95_ms"], 2)
        report["writes"] = writes
        report["writes_per_s"] = round(writes["acknowledged"] / args.duration, 1)
        report["writer_errors"] = {"count": len(writer_errors), "first": writer_errors[:20]}
        report["load_average_at_end"] = os.getloadavg()
        (OUT / "bench_server.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"\nwrites: {writes} ({report['writes_per_s']}/s), writer errors "
              f"{len(writer_errors)} {writer_errors[:3]}")
        if "server_vs_embedded_p50" in report:
            print(f"server / embedded (same run): p50 x{report['server_vs_embedded_p50']}, "
                  f"p95 x{report['server_vs_embedded_p95']}")
        print(f"load average: start {report['load_average_at_start']}, end "
              f"{report['load_average_at_end']} ({os.cpu_count()} cores)")
        log_errors = sum(f["log"]["error_count"] for f in server["per_process"].values())
        ok = (not server["sessions_failed"] and not writer_errors and not log_errors
              and writes["lost"] == 0 and writes["duplicated"] == 0 and server["filters"] > 0)
        print("RESULT:", "OK — zero errors, zero lost or duplicated writes" if ok else "FAILED")
        print(f"(full report: {OUT / 'bench_server.json'})")
        sys.exit(0 if ok else 1)
    finally:
        for p in procs:
            stop(p)
        cleanup()


if __name__ == "__main__":
    main()
