"""Roles, principals and THE authorisation check of dac-map.

Every page and every write path calls :func:`authorize` itself (server side): hiding a widget is
never the protection. In embedded mode (no ``DAC_MAP_DATABASE_URL``) the one local user is
:data:`LOCAL` and may do everything, as before.

Roles (French names are the values used in the ``users`` table and in the token claim):

====================  ====================================================================
``visiteur``          public map only: read the catalogue; no log, no notes, no exports
``coordinateur``      of one or more DACs: unmet-need log, notes, exports of THEIR DACs
``referent_donnees``  territories (edits), refresh status and catalogue versions, the local
                      resources and the FINESS match decisions (issue 16)
``ars``               reports with aggregates only (never the comments, never the notes)
====================  ====================================================================

A principal's roles come from the ``dac_map.users`` table (managed with ``dac-map users``) when
the account is listed there, else from the ID-token claim named by
:func:`dac_map.server.config.roles_claim` (values like ``"coordinateur:DAC-80"``, ``"ars"``).
A signed-in account with neither is a visitor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dac_map.errors import ForbiddenError, ValidationError
from dac_map.server import config

VISITOR = "visiteur"
COORDINATOR = "coordinateur"
DATA_STEWARD = "referent_donnees"
ARS = "ars"
ROLES = (VISITOR, COORDINATOR, DATA_STEWARD, ARS)

#: French labels of the roles (UI).
ROLE_LABELS = {VISITOR: "visiteur", COORDINATOR: "coordinateur·rice",
               DATA_STEWARD: "référent·e données", ARS: "ARS"}

#: Actions, and the roles that may do them. ``*_dac`` actions are also limited to the DACs of
#: a coordinator (``dac`` argument of :func:`authorize`).
ACTIONS: dict[str, frozenset[str]] = {
    "map.read": frozenset(ROLES),
    "coverage.read": frozenset({COORDINATOR, DATA_STEWARD, ARS}),
    "unmet.read_dac": frozenset({COORDINATOR}),
    "unmet.write_dac": frozenset({COORDINATOR}),
    "unmet.export_dac": frozenset({COORDINATOR}),
    "notes.read_dac": frozenset({COORDINATOR}),
    "notes.write_dac": frozenset({COORDINATOR}),
    "report.aggregates": frozenset({ARS, COORDINATOR}),
    "territories.write": frozenset({DATA_STEWARD}),
    "refresh.status": frozenset({DATA_STEWARD}),
    "catalogue.publish": frozenset({DATA_STEWARD}),
    "users.read": frozenset({DATA_STEWARD}),  # the role assignments, read only (app page)
    "local_resources.write": frozenset({DATA_STEWARD}),  # issue 16: the DAC's local resources
    "matches.write": frozenset({DATA_STEWARD}),  # issue 16: FINESS <-> data·inclusion decisions
}

#: The wildcard DAC of the local user.
ALL_DACS = "*"

_DAC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


@dataclass(frozen=True)
class Principal:
    """Who makes a request: ``subject`` (OIDC ``sub``/e-mail, or ``local``), ``roles``,
    ``dacs`` (DAC territory ids of a coordinator; ``*`` = all)."""

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    dacs: frozenset[str] = field(default_factory=frozenset)
    signed_in: bool = False

    def has(self, role: str) -> bool:
        """True when the principal holds ``role``."""
        return role in self.roles

    def may(self, action: str, dac: str | None = None) -> bool:
        """True when :func:`authorize` would allow ``action`` (on ``dac``)."""
        try:
            authorize(self, action, dac)
        except ForbiddenError:
            return False
        return True

    @property
    def label(self) -> str:
        """Roles as French text."""
        return ", ".join(ROLE_LABELS[r] for r in ROLES if r in self.roles) or ROLE_LABELS[VISITOR]


#: The one local user of embedded mode: every role, every DAC.
LOCAL = Principal("local", frozenset(ROLES), frozenset({ALL_DACS}), signed_in=True)

#: An anonymous visitor (server mode, not signed in).
ANONYMOUS = Principal("anonyme", frozenset({VISITOR}), frozenset(), signed_in=False)


def operator() -> Principal:
    """The person at the command line (``dac-map territories``, ``dac-map users``...): whoever
    holds the database URL (its credentials) administers the deployment, so every role; the
    audit log names them ``cli:<system user>``."""
    import getpass

    try:
        name = getpass.getuser()
    except Exception:  # no user name in some containers
        name = "inconnu"
    return Principal(f"cli:{name}", frozenset(ROLES), frozenset({ALL_DACS}), signed_in=True)


def authorize(principal: Principal, action: str, dac: str | None = None) -> None:
    """Allow ``action`` (on DAC ``dac``) for ``principal`` or raise :class:`ForbiddenError`.

    ``*_dac`` actions need ``dac`` (or, for listing, ``dac=None`` means "some DAC of mine": the
    caller then restricts to :func:`allowed_dacs`).
    """
    allowed = ACTIONS.get(action)
    if allowed is None:
        raise ForbiddenError(f"unknown action {action!r}")
    if not (principal.roles & allowed):
        raise ForbiddenError(f"action « {action} » refusée pour le rôle {principal.label}",
                             field=action)
    if action.endswith("_dac"):
        if not principal.dacs:
            raise ForbiddenError("aucun DAC rattaché à ce compte", field=action)
        if dac is not None and ALL_DACS not in principal.dacs and dac not in principal.dacs:
            raise ForbiddenError(f"action « {action} » refusée : le DAC {dac} n'est pas le vôtre",
                                 field=action)


def allowed_dacs(principal: Principal, all_dacs: Iterable[str]) -> list[str]:
    """The DACs of ``all_dacs`` the principal coordinates (all for the local user)."""
    if ALL_DACS in principal.dacs:
        return list(all_dacs)
    return [d for d in all_dacs if d in principal.dacs]


def parse_role_values(values: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(roles, dacs) from values like ``coordinateur:DAC-80``, ``ars``; unknown roles are
    ignored (a token may carry other applications' roles)."""
    roles, dacs = set(), set()
    for value in values:
        if not isinstance(value, str):
            continue
        role, _, dac = value.strip().partition(":")
        role = role.strip().lower()
        if role not in ROLES:
            continue
        roles.add(role)
        if role == COORDINATOR and dac.strip():
            dacs.update(d.strip() for d in dac.split(",") if _DAC_ID.fullmatch(d.strip()))
    if COORDINATOR in roles and not dacs:
        roles.discard(COORDINATOR)  # a coordinator of no DAC may do nothing more than a visitor
    return frozenset(roles or {VISITOR}), frozenset(dacs)


def principal_from_claims(claims: Mapping[str, object], url: str | None = None) -> Principal:
    """The principal of a signed-in account: the ``users`` table first, then the roles claim."""
    subject = str(claims.get("sub") or claims.get("email") or "").strip()
    if not subject:
        return ANONYMOUS
    row = None
    if url or config.database_url():
        row = get_user(subject, url) or (get_user(str(claims["email"]), url)
                                         if claims.get("email") else None)
    if row is not None:
        return Principal(subject, row.roles, row.dacs, signed_in=True)
    raw = claims.get(config.roles_claim(), [])
    values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, (list, tuple)) else []
    roles, dacs = parse_role_values(values)
    return Principal(subject, roles, dacs, signed_in=True)


# --------------------------------------------------------------------------- users table

@dataclass(frozen=True)
class User:
    """A row of ``dac_map.users``."""

    subject: str
    roles: frozenset[str]
    dacs: frozenset[str]
    label: str | None = None


def _check_user(subject: str, roles: Iterable[str], dacs: Iterable[str]) -> tuple[list, list]:
    if not subject or len(subject) > 200 or any(c.isspace() for c in subject):
        raise ValidationError("identifiant de compte invalide (sub ou adresse, sans espace)",
                              field="subject")
    roles = sorted(set(roles))
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise ValidationError(f"rôle(s) inconnu(s) : {', '.join(bad) or '(aucun)'} — attendus : "
                              f"{', '.join(ROLES)}", field="roles")
    dacs = sorted(set(dacs))
    bad = [d for d in dacs if not _DAC_ID.fullmatch(d)]
    if bad:
        raise ValidationError(f"identifiant(s) de DAC invalide(s) : {', '.join(bad)}", field="dacs")
    if COORDINATOR in roles and not dacs:
        raise ValidationError("un coordinateur doit être rattaché à au moins un DAC (--dac)",
                              field="dacs")
    return roles, dacs


def set_user(subject: str, roles: Iterable[str], dacs: Iterable[str] = (), *, actor: str,
             label: str | None = None, url: str | None = None) -> User:
    """Create or replace an account's roles and DACs (audited)."""
    from dac_map.server import audit, db

    roles, dacs = _check_user(subject, roles, dacs)
    with db.connect(url) as con:
        con.execute("INSERT INTO dac_map.users (subject, roles, dacs, label) VALUES (%s,%s,%s,%s) "
                    "ON CONFLICT (subject) DO UPDATE SET roles = excluded.roles, dacs = "
                    "excluded.dacs, label = excluded.label, updated_at = now()",
                    (subject, roles, dacs, label))
        audit.record(con, actor, "users.set", subject, {"roles": roles, "dacs": dacs})
    return User(subject, frozenset(roles), frozenset(dacs), label)


def remove_user(subject: str, *, actor: str, url: str | None = None) -> bool:
    """Delete an account's row (it falls back to the token claims); True if it existed."""
    from dac_map.server import audit, db

    with db.connect(url) as con:
        n = con.execute("DELETE FROM dac_map.users WHERE subject = %s", (subject,)).rowcount
        audit.record(con, actor, "users.remove", subject, {"existed": bool(n)})
    return bool(n)


def get_user(subject: str, url: str | None = None) -> User | None:
    """The row of ``subject``, or None."""
    from dac_map.server import db

    with db.connect(url) as con:
        row = con.execute("SELECT subject, roles, dacs, label FROM dac_map.users "
                          "WHERE subject = %s", (subject,)).fetchone()
    return User(row[0], frozenset(row[1]), frozenset(row[2]), row[3]) if row else None


def list_users(url: str | None = None, principal: Principal | None = None) -> list[User]:
    """Every row of the users table, by subject. ``principal``: who asks from the app (checked:
    ``users.read``, data stewards); None for the command line (the database's holder)."""
    from dac_map.server import db

    if principal is not None:
        authorize(principal, "users.read")

    with db.connect(url) as con:
        rows = con.execute("SELECT subject, roles, dacs, label FROM dac_map.users "
                           "ORDER BY subject").fetchall()
    return [User(r[0], frozenset(r[1]), frozenset(r[2]), r[3]) for r in rows]
