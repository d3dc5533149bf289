"""Browser tests: ``streamlit run app.py`` on a free local port against a test GeoPackage,
driven by Playwright in Debian's headless chromium (no browser download).

Without chromium the tests are skipped, unless ``DAC_MAP_REQUIRE_BROWSER=1`` (CI), which
makes them fail instead. Screenshots go to ``tests/output/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from server import (CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, start_oidc_provider, start_streamlit,
                    stop, write_secrets)
from ui_store import build_ui_store

OUTPUT = ROOT / "tests" / "output"
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
def browser():
    """Debian's headless chromium (no app needed: tests ask for the server they use)."""
    _require_browser()
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


# --------------------------------------------------------------------------- server mode (issue 14)

#: The accounts of the local OpenID Connect provider: roles from the token claim, or (ref1, ref2,
#: data stewards) from the users table, or none at all (a signed-in visitor).
SERVER_USERS = [
    {"sub": "coord80", "dac_map_roles": ["coordinateur:DAC-80"]},
    {"sub": "coord46", "dac_map_roles": ["coordinateur:DAC-46"]},
    {"sub": "ars1", "dac_map_roles": ["ars"]},
    {"sub": "ref1"},
    {"sub": "ref2"},
    {"sub": "nobody"},
]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, pg_module_url, demo_store):
    """One server-mode deployment per test module: a fresh database with the demo catalogue
    published and the data stewards ref1, ref2 in the users table, the local OIDC provider,
    and ``start_app()`` starting app processes on it (one cookie secret, as behind a load
    balancer; each returns its URL, its log is in ``logs``). All stopped at the end."""
    import secrets
    from types import SimpleNamespace

    from dac_map.server import auth, versions

    _require_browser()
    tmp = tmp_path_factory.mktemp("server_mode")
    versions.publish_geopackage(demo_store, actor="test", url=pg_module_url)
    for sub in ("ref1", "ref2"):
        auth.set_user(sub, ["referent_donnees"], actor="test", url=pg_module_url)
    oidc_port = free_port()
    oidc = start_oidc_provider(oidc_port, SERVER_USERS, tmp / "oidc.log")
    cookie, apps, logs = secrets.token_hex(24), [], []

    def start_app(extra_env: dict[str, str] | None = None) -> str:
        port, n = free_port(), len(apps)
        secrets_file = write_secrets(tmp / f"secrets{n}.toml", port, oidc_port, cookie)
        logs.append(tmp / f"streamlit{n}.log")
        apps.append(start_streamlit(demo_store, port, logs[-1],
                                    extra_env={"DAC_MAP_DATABASE_URL": pg_module_url,
                                               "DAC_MAP_STORE": str(tmp / "absent.gpkg"),
                                               **(extra_env or {})},
                                    extra_args=["--secrets.files", str(secrets_file)]))
        return f"http://127.0.0.1:{port}"

    try:
        yield SimpleNamespace(db=pg_module_url, start_app=start_app, apps=apps, logs=logs)
    finally:
        for proc in apps:
            stop(proc)
        stop(oidc)
