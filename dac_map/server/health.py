"""Health check for monitoring (``dac-map health``, exit code 0 when healthy).

Embedded mode: the GeoPackage exists and opens. Server mode: PostgreSQL answers, the schema is
at the revision this dac-map needs, a catalogue version is served, sign-in is configured
(``.streamlit/secrets.toml`` has an ``[auth]`` section). Each app process also answers
Streamlit's own liveness probe ``GET /_stcore/health`` (the reverse proxy's check).
"""

from __future__ import annotations

import time
from pathlib import Path

from dac_map.errors import DacMapError
from dac_map.server import config


def auth_configured(secrets_path: str | Path | None = None) -> tuple[bool, str]:
    """(ok, reason): is OpenID Connect sign-in configured in the secrets file?"""
    import tomllib

    path = Path(secrets_path) if secrets_path else Path(".streamlit") / "secrets.toml"
    if not path.exists():
        return False, f"{path} absent"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return False, f"{path} illisible : {exc}"
    return auth_section_ok(data.get("auth"))


def auth_section_ok(section: object) -> tuple[bool, str]:
    """(ok, reason) for an ``[auth]`` mapping (keys required by ``st.login``)."""
    if not isinstance(section, dict):
        return False, "section [auth] absente"
    needed = ["redirect_uri", "cookie_secret"]
    provider = {k: v for k, v in section.items() if not isinstance(v, dict)}
    nested = [v for v in section.values() if isinstance(v, dict)]
    sources = [provider, *nested]
    missing = [k for k in needed if not section.get(k)]
    if not any(all(s.get(k) for k in ("client_id", "client_secret", "server_metadata_url"))
               for s in sources):
        missing.append("client_id/client_secret/server_metadata_url")
    if len(str(section.get("cookie_secret", ""))) < 32:
        missing.append("cookie_secret (32 caractères au moins)")
    return (not missing, "ok" if not missing else "manquant : " + ", ".join(missing))


def check(url: str | None = None, secrets_path: str | Path | None = None) -> dict[str, object]:
    """The health report: ``{"status": "ok"|"fail", "mode": ..., "checks": {...}}``."""
    url = url or config.database_url()
    checks: dict[str, object] = {}
    ok = True
    if url is None:
        from dac_map import settings

        store = Path(settings.STORE_PATH)
        checks["store"] = str(store) if store.exists() else f"absent : {store}"
        ok = store.exists()
        return {"status": "ok" if ok else "fail", "mode": "embarqué", "checks": checks}
    from dac_map.server import db, migrate, versions

    t0 = time.perf_counter()
    try:
        with db.connect(url) as con:
            con.execute("SELECT 1")
        checks["database_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        migrate.require_current(url)
        checks["schema_revision"] = migrate.current_revision(url)
        version, serial = versions.served_stamp(url)
        checks["served_version"] = version
        checks["switch_serial"] = serial
        if version is None:
            ok = False
            checks["served_version"] = "aucune version publiée"
    except DacMapError as exc:
        ok = False
        checks["database"] = str(exc)
    signed, why = auth_configured(secrets_path)
    checks["sign_in"] = why
    ok = ok and signed
    return {"status": "ok" if ok else "fail", "mode": "serveur", "checks": checks}
