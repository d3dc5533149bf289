"""Browser tests: ``streamlit run app.py`` on a free local port against a test GeoPackage,
driven by Playwright in Debian's headless chromium (no browser download).

Without chromium the tests are skipped, unless ``DAC_MAP_REQUIRE_BROWSER=1`` (CI), which
makes them fail instead. Screenshots go to ``tests/output/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from ui_store import build_ui_store

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "tests" / "output"
CHROMIUM = os.environ.get("DAC_MAP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _require_browser() -> None:
    missing = None
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing = f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:  # pragma: no cover
            missing = "the playwright python package is not installed"
    if missing:
        if os.environ.get("DAC_MAP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required (DAC_MAP_REQUIRE_BROWSER=1) but {missing}")
        pytest.skip(missing)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_streamlit(store: Path, port: int, log: Path, extra_env: dict[str, str] | None = None,
                    script: Path = ROOT / "app.py") -> subprocess.Popen:
    """Start ``streamlit run`` on ``port`` reading ``store``, tiles off; returns the process
    (its own process group) once ``/_stcore/health`` answers."""
    env = {**os.environ, "DAC_MAP_STORE": str(store), "DAC_MAP_TILES": "none",
           "DAC_MAP_DEFAULT_DAC": "DAC-80", **(extra_env or {})}
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=script.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"streamlit did not start: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Stop a process started by :func:`start_streamlit` (and only it: its own group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> Iterator[str]:
    _require_browser()
    store = build_ui_store(tmp_path_factory.getbasetemp() / "ui_store" / "store.gpkg")
    port = free_port()
    log = tmp_path_factory.getbasetemp() / "streamlit_e2e.log"
    proc = start_streamlit(store, port, log)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def browser(app_url):
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Recorder:
    """What a page did that a test may forbid."""

    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True,
                                  locale="fr-FR")
    pg = context.new_page()
    rec = Recorder()

    def on_request(request) -> None:
        rec.requests.append(request.url)
        host = urlparse(request.url).hostname or ""
        if request.url.startswith(("data:", "blob:", "about:")):
            return
        if host not in LOCAL_HOSTS:
            rec.external.append(request.url)

    def on_dialog(dialog) -> None:
        rec.dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("request", on_request)
    pg.on("console", lambda m: rec.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: rec.page_errors.append(str(e)))
    pg.on("dialog", on_dialog)
    pg.recorder = rec  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()
