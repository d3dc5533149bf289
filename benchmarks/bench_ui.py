"""Benchmark of the Streamlit front end in headless chromium, on synthetic national data.

1. Generates 100,000 synthetic establishments (``dac_map.testing.synthetic``) and their equipment in
   ``benchmarks/output/ui/``, with a territory table whose first DAC (``DAC-BENCH``) is a set of
   neighbouring departments holding about 5,000 resources, and runs the ETL (reused when
   present; ``--rebuild`` to redo).
2. Starts ``streamlit run app.py`` (tiles off) and, for several fresh browser sessions
   (median reported), measures with Playwright in ``/usr/bin/chromium``:
   * first map: from navigation start to the 5,000 markers drawn (two animation frames after
     the results layer is added);
   * filter change: from the key press that picks a family in the sidebar to the new markers
     drawn;
   * page payload: bytes received until the first map (HTTP responses, headers included, plus
     WebSocket frames);
   * national view (``?dac=france``, 100,000 resources, aggregated per grid cell).
3. Does the same with a naive baseline written in ``benchmarks/output/ui/naive/``: the same
   query layer, one ``folium.Marker`` (with popup and tooltip) per establishment, the map
   rebuilt on every run and ``st_folium`` returning everything (the usual first version of such
   an app), and prints a table with the ratios. Results also go to
   ``benchmarks/output/ui/bench_ui.json``.

Run: ``.venv/bin/python benchmarks/bench_ui.py`` (about 6 minutes, 5 of them for the naive
baseline; ``--skip-naive`` to measure the app only (1 minute), ``--runs`` / ``--naive-runs`` to
change the number of sessions, ``--naive-national`` to also try the naive map with 100,000
markers, which takes many minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "output" / "ui"
BENCH_DAC = "DAC-BENCH"
FILTER_FAMILY = "pa_hebergement"
FILTER_TYPED = "Personnes âgées — héb"  # typed in the "Familles" list, then Enter
TIMEOUT_MS = 120_000

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from server import CHROMIUM, CHROMIUM_ARGS, free_port, start_streamlit, stop  # noqa: E402


# --------------------------------------------------------------------------- data

def _insee_department(finess: str) -> str:
    return finess[:2]


def prepare_data(n: int, target: int, rebuild: bool = False) -> tuple[Path, int, int]:
    """Synthetic extract + ETL; returns (store, resources in DAC-BENCH, with the family filter)."""
    from dac_map import cli
    from dac_map.testing import synthetic, synthetic_equipment
    from dac_map.etl import EtlInputs, run_etl
    from dac_map.etl.reference import default_reference, read_boundaries

    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / f"bench_{n}.gpkg"
    meta = OUT / f"bench_{n}.json"
    if store.exists() and meta.exists() and not rebuild:
        info = json.loads(meta.read_text())
        return store, info["territory_count"], info["filtered_count"]
    t0 = time.perf_counter()
    est = OUT / f"etablissements_{n}.csv"
    synthetic.write_establishments_extract(est, n, seed=0)
    cats = synthetic.read_establishment_categories(est)
    eq = OUT / f"equipements_{n}.csv"
    synthetic_equipment.write_equipment_extract(eq, cats, seed=0)
    counts = cats["nofinesset"].map(_insee_department).value_counts().to_dict()

    # A contiguous territory of about `target` resources: from each department, add the
    # neighbour bringing the total closest to the target while it gets closer; keep the best.
    deps = read_boundaries(cli.DEMO_DEPARTMENTS)
    deps = deps[deps["code"].str.fullmatch(r"[0-9]{2}|2[AB]")].set_index("code")
    grown = deps.geometry.simplify(0.01).buffer(0.02)
    codes = list(deps.index)
    adjacent = {c: {d for d in codes if d != c and grown[c].intersects(grown[d])} for c in codes}
    best: tuple[list[str], int] | None = None
    for first in codes:
        chosen, total = [first], counts.get(first, 0)
        while True:
            around = set().union(*(adjacent[c] for c in chosen)) - set(chosen)
            pick = min(sorted(around), key=lambda c: abs(target - total - counts.get(c, 0)),
                       default=None)
            if pick is None or abs(target - total - counts.get(pick, 0)) >= abs(target - total):
                break
            chosen.append(pick)
            total += counts.get(pick, 0)
        if best is None or abs(target - total) < abs(target - best[1]):
            best = (chosen, total)
    chosen = sorted(best[0])
    lines = default_reference("territories").read_text(encoding="utf-8").splitlines()
    lines.insert(1, f"{BENCH_DAC};DAC banc d'essai ({' '.join(chosen)});;;{' '.join(chosen)};")
    territories = OUT / "territoires_bench.csv"
    territories.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_etl(EtlInputs(establishments=est, departments=cli.DEMO_DEPARTMENTS, equipment=eq,
                      communes=list(cli.DEMO_COMMUNES), territories=territories), store)

    from dac_map.query import FamilyFilter, TerritoryFilter, load_catalogue, search
    cat = load_catalogue(store)
    in_dac = search(cat, [TerritoryFilter(dac_id=BENCH_DAC)], page_size=1).total
    filtered = search(cat, [TerritoryFilter(dac_id=BENCH_DAC), FamilyFilter([FILTER_FAMILY])],
                      page_size=1).total
    meta.write_text(json.dumps({"territory_count": in_dac, "filtered_count": filtered,
                                "departments": chosen, "seconds": time.perf_counter() - t0}))
    return store, in_dac, filtered


# --------------------------------------------------------------------------- naive baseline

NAIVE_APP = '''\
"""Naive baseline (generated by benchmarks/bench_ui.py): one folium.Marker per establishment."""
import html
import os

import folium
import streamlit as st
from branca.element import MacroElement
from jinja2 import Template
from streamlit_folium import st_folium

from dac_map.query import FamilyFilter, TerritoryFilter, load_catalogue, search
from dac_map.ui.leaflet import OfflineMap  # local Leaflet only: the bench machine is offline

st.set_page_config(layout="wide")


class JQueryShim(MacroElement):
    """folium.Popup calls jQuery's $(html)[0], normally loaded from a CDN."""

    _template = Template("""{% macro script(this, kwargs) %}
        window.$ = window.$ || function (h) {
            var d = document.createElement("div"); d.innerHTML = h; return [d.firstElementChild || d];
        };
    {% endmacro %}""")


@st.cache_resource
def catalogue():
    return load_catalogue(os.environ["DAC_MAP_STORE"])


cat = catalogue()
fams = st.sidebar.multiselect("Familles", cat.family_order(), format_func=cat.family_label)
dac = st.query_params.get("dac", "@DAC@")
filters = ([TerritoryFilter(dac_id=dac)] if dac != "france" else []) + (
    [FamilyFilter(fams)] if fams else [])
res = search(cat, filters, page_size=None)
st.markdown(f"**{res.total} ressources** correspondent aux critères.")
rec = res.records.dropna(subset=["lon", "lat"])
m = OfflineMap(location=[rec["lat"].mean(), rec["lon"].mean()], zoom_start=8, tiles=None)
m.add_child(JQueryShim())
for r in rec.itertuples():
    folium.Marker(
        [r.lat, r.lon],
        popup=folium.Popup(f"<b>{html.escape(str(r.name))}</b><br>"
                           f"{html.escape(str(r.category_label))}<br>Tél. {r.phone}"),
        tooltip=html.escape(str(r.name)),
    ).add_to(m)
st_folium(m, height=620, use_container_width=True)
st.dataframe(rec[["name", "category_label", "commune_name", "phone"]].head(100))
'''


def write_naive_app() -> Path:
    folder = OUT / "naive"
    (folder / ".streamlit").mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(NAIVE_APP.replace("@DAC@", BENCH_DAC), encoding="utf-8")
    (folder / ".streamlit" / "config.toml").write_text(
        (ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"), encoding="utf-8")
    link = folder / "static"
    if not link.exists():
        link.symlink_to(ROOT / "static", target_is_directory=True)
    return folder / "app.py"


# --------------------------------------------------------------------------- server

def start(script: Path, store: Path) -> tuple[subprocess.Popen, int]:
    """``streamlit run script`` on a free port, reading ``store``; returns the process and port."""
    port = free_port()
    proc = start_streamlit(store, port, OUT / f"streamlit_{script.parent.name}.log",
                           {"DAC_MAP_DEFAULT_DAC": BENCH_DAC, "PYTHONPATH": str(ROOT)}, script)
    return proc, port


class CountingProxy:
    """A local TCP relay counting the bytes the server sends: the page payload as it travels on
    the wire (HTTP bodies and headers, WebSocket frames after permessage-deflate)."""

    def __init__(self, target_port: int) -> None:
        import threading

        self.target_port = target_port
        self.received = 0
        self._lock = threading.Lock()
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> int:
        with self._lock:
            value, self.received = self.received, 0
        return value

    def _accept(self) -> None:
        import threading

        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # server stopped
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if count:
                    with self._lock:
                        self.received += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._server.close()


# --------------------------------------------------------------------------- browser

from playwright.sync_api import Error as PlaywrightError

_DRAWN_OPTIMISED = "() => window.dacMap && window.dacMap.markers > 0 ? window.dacMap.version : null"
_DRAWN_NAIVE = "(n) => document.querySelectorAll('.leaflet-marker-icon').length >= n"
_TWO_FRAMES = ("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
               "() => r(Date.now()))))")


def _map_frames(page):
    """The streamlit-folium iframes of the page."""
    return [f for f in page.frames if "streamlit_folium" in f.url]


def _wait_frame(page, test, arg=None, timeout_ms=TIMEOUT_MS):
    """The first map iframe where ``test`` (JS) is truthy, and its value."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        for f in _map_frames(page):
            try:
                value = f.evaluate(test, arg) if arg is not None else f.evaluate(test)
            except PlaywrightError:  # frame navigating or detached
                continue
            if value:
                return f, value
        page.wait_for_timeout(15)
    raise TimeoutError("map not drawn in time")


def session(browser, url: str, naive: bool, expected: int, expected_filtered: int | None,
            proxy: CountingProxy) -> dict[str, float]:
    """One fresh browser session (empty HTTP cache): first map, payload until then, then
    (optionally) a filter change, and the payload of a second visit (HTTP cache warm)."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = ctx.new_page()
    decoded = {"ws": 0}
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: decoded.__setitem__(
        "ws", decoded["ws"] + len(p))))
    proxy.reset()
    page.goto(url, wait_until="commit")
    if naive:
        frame, _ = _wait_frame(page, _DRAWN_NAIVE, expected)
    else:
        frame, version = _wait_frame(page, _DRAWN_OPTIMISED)
    drawn = frame.evaluate(_TWO_FRAMES)
    origin = page.evaluate("performance.timeOrigin")
    out = {"first_map_ms": drawn - origin}
    markers = (frame.evaluate("() => document.querySelectorAll('.leaflet-marker-icon').length")
               if naive else frame.evaluate("() => window.dacMap.markers"))
    out["markers"] = markers
    page.wait_for_timeout(300)
    out["payload_bytes"] = proxy.reset()
    out["ws_decoded_bytes"] = decoded["ws"]
    if expected_filtered is not None:
        box = page.locator("[data-testid='stMultiSelect']").filter(has_text="Familles")
        # force: the naive page may still be busy re-running after its map reported its bounds
        box.locator("input").click(force=True, timeout=TIMEOUT_MS)
        box.locator("input").fill(FILTER_TYPED, force=True, timeout=TIMEOUT_MS)
        page.wait_for_timeout(200)
        t0 = page.evaluate("Date.now()")
        page.keyboard.press("Enter")
        if naive:
            frame, _ = _wait_frame(page, "(n) => document.querySelectorAll('.leaflet-marker-icon')"
                                   ".length === n", expected_filtered)
        else:
            frame, _ = _wait_frame(page, f"() => window.dacMap && window.dacMap.version !== {version}"
                                   " ? window.dacMap.markers : null")
        drawn = frame.evaluate(_TWO_FRAMES)
        out["filter_ms"] = drawn - t0
        out["markers_after_filter"] = (
            frame.evaluate("() => document.querySelectorAll('.leaflet-marker-icon').length")
            if naive else frame.evaluate("() => window.dacMap.markers"))
        page.wait_for_timeout(300)
        out["filter_payload_bytes"] = proxy.reset()
        # second visit, same browser profile: Streamlit's hashed bundles come from the cache
        page.goto(url, wait_until="commit")
        if naive:
            frame, _ = _wait_frame(page, _DRAWN_NAIVE, expected)
        else:
            frame, _ = _wait_frame(page, _DRAWN_OPTIMISED)
        frame.evaluate(_TWO_FRAMES)
        page.wait_for_timeout(300)
        out["revisit_payload_bytes"] = proxy.reset()
    ctx.close()
    return out


def measure(browser, url: str, runs: int, naive: bool, expected: int,
            expected_filtered: int | None, proxy: CountingProxy) -> list[dict[str, float]]:
    session(browser, url, naive, expected, None, proxy)  # warm-up: catalogue loaded, caches filled
    return [session(browser, url, naive, expected, expected_filtered, proxy) for _ in range(runs)]


def median(rows: list[dict[str, float]], key: str) -> float | None:
    values = [r[key] for r in rows if key in r]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------- server-side build

def build_times(store: Path) -> dict[str, float]:
    """Python time to build what the browser receives for the 5,000-resource territory."""
    import folium
    from streamlit_folium import _get_feature_group_string, _get_map_string

    from dac_map.query import TerritoryFilter, load_catalogue, search
    from dac_map.ui import map as umap
    from dac_map.ui.leaflet import OfflineMap

    cat = load_catalogue(store)
    rec = search(cat, [TerritoryFilter(dac_id=BENCH_DAC)], page_size=None).records
    t = time.perf_counter()
    base = umap.base_layers(cat, BENCH_DAC)
    t_base = time.perf_counter() - t
    t = time.perf_counter()
    m = umap.build_base_map(base, tiles="none")
    m.get_root().render()
    script = _get_map_string(m)
    layer = umap.build_results_layer(rec, umap.family_colors(cat.families), cat.family_order())
    fg = _get_feature_group_string(layer.group, m)
    t_opt = time.perf_counter() - t
    t = time.perf_counter()
    naive = OfflineMap(location=[50, 3], zoom_start=8, tiles=None)
    located = rec.dropna(subset=["lon", "lat"])
    for r in located.itertuples():
        folium.Marker([r.lat, r.lon], popup=folium.Popup(str(r.name)), tooltip=str(r.name)).add_to(naive)
    naive.get_root().render()
    naive_script = _get_map_string(naive)
    t_naive = time.perf_counter() - t
    return {"base_layers_s": t_base, "optimised_s": t_opt, "naive_s": t_naive,
            "optimised_bytes": len(script) + len(fg), "naive_bytes": len(naive_script)}


# --------------------------------------------------------------------------- report

def fmt_ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f} ms".replace(",", " ")


def fmt_mb(v: float | None) -> str:
    return "—" if v is None else f"{v / 1e6:.2f} MB"


def ratio(a: float | None, b: float | None) -> str:
    return "—" if not a or not b else f"×{b / a:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="synthetic establishments")
    parser.add_argument("--target", type=int, default=5_000, help="resources of DAC-BENCH")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--naive-runs", type=int, default=3,
                        help="sessions of the (slow) naive baseline")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--naive-national", action="store_true")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    store, count, filtered = prepare_data(args.n, args.target, args.rebuild)
    print(f"Données : {store} ({args.n} établissements, {BENCH_DAC} = {count} ressources, "
          f"{filtered} après filtre famille) — {time.perf_counter() - t0:.1f} s", flush=True)
    results: dict[str, object] = {"n": args.n, "territory_count": count,
                                  "filtered_count": filtered, "runs": args.runs}
    results["build"] = build_times(store)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        proc, port = start(ROOT / "app.py", store)
        proxy = CountingProxy(port)
        url = f"http://127.0.0.1:{proxy.port}"
        try:
            t = time.perf_counter()
            results["app_cold_first_map_ms"] = session(browser, f"{url}/?dac={BENCH_DAC}", False,
                                                       count, None, proxy)["first_map_ms"]
            print(f"Démarrage à froid (chargement du catalogue) : "
                  f"{results['app_cold_first_map_ms']:.0f} ms", flush=True)
            results["app"] = measure(browser, f"{url}/?dac={BENCH_DAC}", args.runs, False, count,
                                     filtered, proxy)
            results["app_national"] = measure(browser, f"{url}/?dac=france", args.runs, False,
                                              args.n, None, proxy)
            print(f"Application mesurée en {time.perf_counter() - t:.0f} s", flush=True)
        finally:
            proxy.close()
            stop(proc)
        if not args.skip_naive:
            naive_script = write_naive_app()
            proc, port = start(naive_script, store)
            proxy = CountingProxy(port)
            url = f"http://127.0.0.1:{proxy.port}"
            try:
                t = time.perf_counter()
                results["naive"] = measure(browser, f"{url}/?dac={BENCH_DAC}", args.naive_runs,
                                           True, count, filtered, proxy)
                if args.naive_national:
                    results["naive_national"] = measure(browser, f"{url}/?dac=france", 1, True,
                                                        args.n, None, proxy)
                print(f"Référence naïve mesurée en {time.perf_counter() - t:.0f} s", flush=True)
            finally:
                proxy.close()
                stop(proc)
        browser.close()

    (OUT / "bench_ui.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    app, nat = results["app"], results["app_national"]
    naive = results.get("naive") or []
    naive_nat = results.get("naive_national") or []
    rows = [
        (f"1re carte, territoire de {count} ressources", median(app, "first_map_ms"),
         median(naive, "first_map_ms"), "< 3 000 ms", fmt_ms),
        (f"Changement de filtre ({count} -> {filtered})", median(app, "filter_ms"),
         median(naive, "filter_ms"), "< 1 500 ms", fmt_ms),
        ("Poids de la page, 1re visite (octets reçus)", median(app, "payload_bytes"),
         median(naive, "payload_bytes"), "< 5 MB", fmt_mb),
        ("Poids de la page, visite suivante (cache)", median(app, "revisit_payload_bytes"),
         median(naive, "revisit_payload_bytes"), "", fmt_mb),
        ("Octets reçus pour le changement de filtre", median(app, "filter_payload_bytes"),
         median(naive, "filter_payload_bytes"), "", fmt_mb),
        (f"Vue nationale ({args.n}), 1re carte", median(nat, "first_map_ms"),
         median(naive_nat, "first_map_ms"), "utilisable", fmt_ms),
        ("Vue nationale, poids de la page", median(nat, "payload_bytes"),
         median(naive_nat, "payload_bytes"), "", fmt_mb),
    ]
    b = results["build"]
    print()
    print(f"Médiane de {args.runs} sessions ({args.naive_runs} pour la référence), chromium "
          f"headless, {os.cpu_count()} cœurs (référence : 1 folium.Marker par établissement, "
          "même requête)")
    print(f"{'Mesure':<44}{'dac-map':>13}{'référence':>13}{'ratio':>9}  objectif")
    for label, ours, ref, goal, fmt in rows:
        print(f"{label:<44}{fmt(ours):>13}{fmt(ref):>13}{ratio(ours, ref):>9}  {goal}")
    cells = nat[0].get("markers") if nat else None
    print(f"\nVue nationale : {cells} zones agrégées (cellules de "
          f"{__import__('dac_map.settings', fromlist=['x']).MAP_AGGREGATE_CELL_DEG}°).")
    print(f"Construction Python de la carte ({count}) : dac-map {b['optimised_s'] * 1000:.0f} ms "
          f"({b['optimised_bytes'] / 1e6:.2f} Mo, fonds de carte {b['base_layers_s'] * 1000:.0f} ms "
          f"une fois par territoire) ; référence {b['naive_s'] * 1000:.0f} ms "
          f"({b['naive_bytes'] / 1e6:.2f} Mo)")
    print(f"Résultats détaillés : {OUT / 'bench_ui.json'}")


if __name__ == "__main__":
    main()
