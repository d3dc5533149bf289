"""Start and stop ``streamlit run app.py`` on a free local port (browser tests and the UI
benchmark share these helpers)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
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
                    script: Path = ROOT / "app.py",
                    extra_args: list[str] | None = None) -> subprocess.Popen:
    """Start ``streamlit run`` on ``port`` reading ``store``, tiles off; returns the process
    (its own process group) once ``/_stcore/health`` answers."""
    env = {**os.environ, "DAC_MAP_STORE": str(store), "DAC_MAP_TILES": "none",
           "DAC_MAP_DEFAULT_DAC": "DAC-80", **(extra_env or {})}
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", *(extra_args or [])],
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


@contextlib.contextmanager
def serve_app(store: Path, log: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """The app on a free port reading ``store`` (:func:`start_streamlit`), as its base URL;
    stopped on exit."""
    port = free_port()
    proc = start_streamlit(store, port, log, extra_env=extra_env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Stop a process started by :func:`start_streamlit` (and only it: its own group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# --------------------------------------------------------------------------- server mode (issue 14)

def start_oidc_provider(port: int, users: list[dict], log: Path) -> subprocess.Popen:
    """The local OpenID Connect test provider (PyPI ``oidc-provider-mock``) on 127.0.0.1:``port``,
    with ``users`` (each a claims dict with ``sub``); returns once its discovery answers."""
    import json

    args = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for user in users:
        args += ["--user-claims", json.dumps(user)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"OIDC provider exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("OIDC provider did not start")


def write_secrets(path: Path, app_port: int, oidc_port: int,
                  cookie_secret: str | None = None) -> Path:
    """A ``secrets.toml`` whose ``[auth]`` points ``st.login`` at the local test provider
    (test values only: the cookie secret is random unless given — app processes of one
    deployment share it —, the client secret is a dummy)."""
    import secrets

    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{cookie_secret or secrets.token_hex(24)}"\n'
        'client_id = "dac-map-test"\n'
        'client_secret = "test-only-not-a-secret"\n'
        f'server_metadata_url = "http://127.0.0.1:{oidc_port}/.well-known/openid-configuration"\n',
        encoding="utf-8")
    return path


def sign_in(page, app_url: str, sub: str, timeout: int = 60000) -> None:
    """Sign in through the app's button and the provider's form, as a person does."""
    page.goto(app_url)
    page.get_by_role("button", name="Se connecter").click(timeout=timeout)
    page.wait_for_selector("input[name='sub']", timeout=timeout)
    page.fill("input[name='sub']", sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_function(f"() => document.body.innerText.includes('Connecté·e : {sub}')",
                           timeout=timeout)
