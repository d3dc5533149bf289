"""Who is using the app (server mode: OpenID Connect sign-in through ``st.login``) and the
page-level checks. Embedded mode: the one local user, :data:`dac_map.server.auth.LOCAL`.

The principal is resolved on the SERVER from ``st.user`` (the signed identity cookie Streamlit
sets after the OIDC flow) and the ``users`` table; nothing a browser sends can choose it.
Write paths call :func:`dac_map.server.auth.authorize` themselves; :func:`require` is the
page-level check (it stops the script before anything is drawn).
"""

from __future__ import annotations

import logging
import time

import streamlit as st

from dac_map.errors import DacMapError, ForbiddenError
from dac_map.server import auth, config

_KEY = "_dacmap_principal"
_TTL_S = 60.0  # roles are read again after this many seconds (a changed role applies soon)
log = logging.getLogger("dac_map.access")


def sign_in_configured() -> tuple[bool, str]:
    """(ok, reason): ``[auth]`` of ``.streamlit/secrets.toml`` is usable by ``st.login``."""
    from dac_map.server.health import auth_section_ok

    try:
        section = st.secrets.get("auth")
    except (FileNotFoundError, KeyError, OSError):  # no secrets file at all
        section = None
    if section is not None and hasattr(section, "to_dict"):
        section = section.to_dict()
    return auth_section_ok(section)


def refuse_unless_configured() -> None:
    """Server mode only: stop with a French message when sign-in is not configured (the app
    never serves shared data without access control)."""
    if not config.server_mode():
        return
    ok, why = sign_in_configured()
    if not ok:
        log.error("sign-in not configured", extra={"event": "startup_refused", "reason": why})
        st.error("Mode serveur : la connexion (OpenID Connect) n'est pas configurée — "
                 f"{why}. Renseigner la section [auth] de .streamlit/secrets.toml (voir README, "
                 "« Déploiement »). L'application refuse de démarrer sans connexion.")
        st.stop()


def current_principal() -> auth.Principal:
    """The principal of this session (server side)."""
    if not config.server_mode():
        return auth.LOCAL
    claims = st.user.to_dict()
    if not claims.get("is_logged_in"):  # absent when no [auth] is configured: anonymous too
        return auth.ANONYMOUS
    sub = str(claims.get("sub") or claims.get("email") or "")
    cached = st.session_state.get(_KEY)
    if cached and cached[0] == sub and time.monotonic() - cached[2] < _TTL_S:
        return cached[1]
    try:
        principal = auth.principal_from_claims(claims)
    except DacMapError as exc:
        log.error("role lookup failed", extra={"event": "roles_error", "error": str(exc)})
        principal = auth.Principal(sub, frozenset({auth.VISITOR}), frozenset(), signed_in=True)
    if not cached or cached[0] != sub:
        log.info("signed in", extra={"event": "sign_in", "actor": sub,
                                     "roles": sorted(principal.roles)})
    st.session_state[_KEY] = (sub, principal, time.monotonic())
    return principal


def require(action: str, dac: str | None = None) -> auth.Principal:
    """The principal, if it may do ``action``; else a French refusal and ``st.stop()``."""
    principal = current_principal()
    try:
        auth.authorize(principal, action, dac)
    except ForbiddenError as exc:
        log.warning("forbidden", extra={"event": "forbidden", "actor": principal.subject,
                                        "action": action})
        st.error("Accès refusé : " + exc.message + (
            "" if principal.signed_in else " — connectez-vous avec un compte autorisé."))
        st.stop()
    return principal


def render_account() -> None:
    """Sidebar block: who is signed in, sign-in / sign-out buttons (server mode only)."""
    if not config.server_mode():
        return
    principal = current_principal()
    with st.sidebar:
        if principal.signed_in:
            dacs = ", ".join(sorted(principal.dacs))
            st.caption(f"Connecté·e : {principal.subject} — {principal.label}"
                       + (f" ({dacs})" if dacs else ""))
            st.button("Se déconnecter", on_click=st.logout, key="btn_logout")
        else:
            st.caption("Carte publique. Les coordinateurs, référents et l'ARS se connectent "
                       "pour accéder à leurs outils.")
            st.button("Se connecter", on_click=st.login, key="btn_login", type="primary")
