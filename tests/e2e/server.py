"""Start and stop ``streamlit run app.py`` on a free local port (browser tests and the UI
benchmark share these helpers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DAC_MAP_CHROMIUM", "/usr/bin/chromium")
#: Headless Debian chromium as root, with no background traffic to other hosts.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


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
