"""Pages added by server mode and notes: the coordinators' notes page and the data steward's
catalogue versions page, with the role assignments read only (each checks its role first; the
reads check it again)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dac_map.errors import DacMapError
from dac_map.ui import access, notes_view
from dac_map.ui.data import get_catalogue
from dac_map.ui.text import md


def notes_page() -> None:
    """Search the notes; orphans (closed establishments)."""
    principal = access.require("notes.read_dac")
    try:
        catalogue = get_catalogue()
        est = catalogue.establishments
        names = dict(zip(est["finess"], est["name"]))
    except DacMapError:
        names = {}
    notes_view.render_notes_page(set(names), names, principal)


def versions_page() -> None:
    """Served catalogue version, published versions, recent audit entries (data steward)."""
    principal = access.require("refresh.status")
    from dac_map.server import audit, versions

    try:
        vers = versions.list_versions()
        entries = audit.entries(limit=100)
    except DacMapError as exc:
        st.error(f"Base indisponible : {exc}")
        return
    st.subheader("Versions du catalogue")
    served = next((v for v in vers if v.served), None)
    st.markdown(f"Version servie : **{md(served.version)}** (publiée le "
                f"{served.published_at:%d/%m/%Y %H:%M} UTC par {md(served.published_by)})"
                if served else "Aucune version servie : publier avec `dac-map db publish`.")
    st.dataframe(pd.DataFrame([{
        "Servie": "▶" if v.served else "", "Version": v.version,
        "Publiée le (UTC)": v.published_at.strftime("%d/%m/%Y %H:%M"), "Par": v.published_by,
        "Établissements": v.layers.get("etablissements")} for v in vers]),
        hide_index=True, width="stretch")
    st.caption("Publier : `dac-map db publish FICHIER.gpkg` ou `dac-map refresh` ; revenir à la "
               "version précédente : `dac-map db rollback`.")
    st.subheader("Journal d'audit (100 dernières actions)")
    st.dataframe(entries.drop(columns=["details"]), hide_index=True, width="stretch")
    if principal.may("users.read"):
        render_role_assignments(principal)


def render_role_assignments(principal) -> None:
    """The ``users`` table read only, as ``dac-map users list`` prints it (changes: that
    command). Accounts absent from it get their roles from their sign-in token."""
    from dac_map.server import auth

    st.subheader("Comptes et rôles (lecture seule)")
    try:
        users = auth.list_users(principal=principal)
    except DacMapError as exc:
        st.error(f"Comptes indisponibles : {exc}")
        return
    st.dataframe(pd.DataFrame({
        "Compte": [u.subject for u in users],
        "Rôles": [", ".join(auth.ROLE_LABELS[r] for r in auth.ROLES if r in u.roles) for u in users],
        "DAC": [", ".join(sorted(u.dacs)) for u in users],
        "Fonction": [u.label or "" for u in users]}), hide_index=True, width="stretch")
    from dac_map.server import config

    st.caption(f"{len(users)} compte(s) dans la table. Les comptes absents tiennent leurs rôles "
               f"du jeton de connexion (revendication « {md(config.roles_claim())} »). Modifier : "
               "`dac-map users set COMPTE -r coordinateur -d DAC-80`, `dac-map users remove COMPTE`.")
