"""Streamlit pieces of the unmet-need log: the « Aucune ressource adaptée » form under a
search (:func:`render_unmet_need_button`: coded reason, short comment checked for personal
data, idempotent submission) and the log page (:func:`render_unmet_needs_page`: filters,
counts, CSV export without comments unless asked, deletion). The records and their checks are
in :mod:`dac_map.coverage.unmet_model`, the SQLite log in :mod:`dac_map.coverage.unmet`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dac_map import settings
from dac_map.coverage.criteria import commune_of, normalise
from dac_map.coverage.labels import need_type_label
from dac_map.coverage.resources import commune_names
from dac_map.coverage.unmet import unmet_needs_csv
from dac_map.coverage.unmet_model import DEFAULT_REASON, REASONS, PersonalDataError, UnmetNeedError
from dac_map.errors import DacMapError, ForbiddenError
from dac_map.printing import TIMEZONE
from dac_map.query import Catalogue
from dac_map.query.spec import SearchSpec
from dac_map.server.unmet import UnmetLog
from dac_map.ui import access
from dac_map.ui.coverage_view import load_data, public_name_pairs

ROLES = ("", "Coordinateur·rice de parcours", "Infirmier·ère", "Médecin", "Travailleur·se social·e",
         "Assistant·e / secrétariat", "Direction", "Autre")


# --------------------------------------------------------------------------- unmet needs

def _submission_key(key: str) -> str:
    """Idempotency key of the form's current submission (a retried submit is stored once)."""
    return st.session_state.setdefault(f"{key}_client_key", uuid.uuid4().hex)


def render_unmet_need_button(filters_label: str,
                             filters_json: SearchSpec | Mapping[str, Any] | Sequence[Any] | str | None,
                             dac_id: str, commune: str | None, *,
                             resource_type: str | None = None,
                             db_path: str | Path | None = None,
                             store_path: str | Path | None = None,
                             allowed_names: frozenset[str] | None = None,
                             key: str = "unmet") -> int | None:
    """"Aucune ressource adaptée" form under a search: a coded reason, a short optional
    comment, an optional role and ONE
    submit that records the need with the search filters, territory and commune. Shows the
    French refusal when a field looks like patient data. Returns the new record id (or None).

    ``filters_json``: the search (:class:`~dac_map.query.spec.SearchSpec`) or its JSON form
    (:mod:`dac_map.coverage.criteria`). ``commune`` None: read from the criteria when they
    name one.

    ``allowed_names``: :func:`dac_map.privacy.allowed_name_pairs` of public names, so
    that generated filter labels quoting an establishment or commune name pass; by default
    those of the store at ``store_path`` (:func:`public_name_pairs`; none when ``store_path``
    is None). The comment never gets
    this exemption. ``dac_id``: the territory, or e.g. ``"national"`` for the national view."""
    with st.form(key=f"{key}_form", clear_on_submit=False, border=True):
        st.markdown("**Aucune ressource adaptée ?** Signalez le besoin non couvert "
                    "(sans aucune donnée permettant d'identifier le patient).")
        st.caption(f"Critères : {filters_label}")
        reasons = list(REASONS)
        reason = st.selectbox("Motif", reasons, index=reasons.index(DEFAULT_REASON),
                              key=f"{key}_reason", format_func=REASONS.get)
        comment = st.text_area("Commentaire court (facultatif, sans nom ni date de naissance)",
                               key=f"{key}_comment", max_chars=settings.UNMET_COMMENT_MAX_CHARS,
                               placeholder="Ex. : liste d'attente de 6 mois, aucune UHR sur le secteur")
        role = st.selectbox("Votre fonction (facultatif)", ROLES, key=f"{key}_role",
                            format_func=lambda r: r or "—")
        submitted = st.form_submit_button("Enregistrer : aucune ressource adaptée trouvée")
    if not submitted:
        return None
    if commune is None:
        try:
            commune = commune_of(normalise(filters_json))
        except (ValueError, DacMapError):
            pass  # refused with its message by record_unmet_need below
    if allowed_names is None:
        allowed_names = public_name_pairs(store_path) if store_path is not None else frozenset()
    try:
        # the write path checks the role itself (server mode), whatever the page showed
        need = UnmetLog(db_path).record(
            access.current_principal(), dac_id, commune, filters_json, filters_label,
            comment or "", role or None, resource_type, client_key=_submission_key(key),
            allowed_names=allowed_names, reason=reason or DEFAULT_REASON)
    except ForbiddenError as exc:
        st.error(f"Enregistrement refusé : {exc.message}")
        return None
    except PersonalDataError as exc:
        st.error(exc.message)
        return None
    except UnmetNeedError as exc:
        st.error(f"Enregistrement refusé : {exc.message}")
        return None
    except DacMapError as exc:
        st.error(f"Journal indisponible : {exc}")
        return None
    st.session_state.pop(f"{key}_client_key", None)  # the next submission is a new need
    st.success(f"Besoin non couvert enregistré (n° {need.id}). Merci : il sera compté dans le "
               "rapport à l'ARS.")
    return need.id


def render_unmet_needs_page(db_path: str | Path | None = None,
                            store_path: str | Path | None = None,
                            dac_id: str | None = None, *, key: str = "needs") -> None:
    """The unmet-need log: filters (period, territory, commune, type), table, CSV export,
    deletion of a record (correction). ``store_path`` (commune and territory names) None:
    codes only; ``db_path`` None: :data:`~dac_map.settings.UNMET_NEEDS_DB`."""
    names: dict[str, str] = {}
    territories: dict[str, str] = {}
    catalogue_for_labels: Catalogue | None = None
    if store_path is not None:
        try:
            data = load_data(store_path)
            names = commune_names(data)
            territories = dict(zip(data.territories["dac_id"], data.territories["name"]))
            catalogue_for_labels = data
        except DacMapError:
            pass

    def type_label(value: object, filters_json: object = None) -> str:
        """« Addictologie (CSAPA) », not 197 (:func:`dac_map.coverage.labels.need_type_label`)."""
        return need_type_label(value, filters_json, catalogue_for_labels)
    try:
        log_ = UnmetLog(db_path)
        principal = access.current_principal()
        everything = log_.list(principal, commune_names=names)  # the principal's DACs only
    except DacMapError as exc:
        st.error(f"Journal indisponible : {exc}")
        return
    st.subheader("Besoins non couverts signalés")
    if not len(everything):
        st.info("Aucun besoin non couvert n'a encore été signalé.")
        return
    today = date.today()
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        period = st.date_input("Période", value=(today - timedelta(days=90), today),
                               key=f"{key}_period", format="DD/MM/YYYY")
    dacs = sorted(everything["dac_id"].dropna().unique())
    with c2:
        default = [""] + dacs
        idx = default.index(dac_id) if dac_id in default else 0
        dac = st.selectbox("Territoire", default, index=idx, key=f"{key}_dac",
                           format_func=lambda d: territories.get(d, d) if d else "Tous")
    coms = sorted(everything["commune"].dropna().unique())
    with c3:
        com = st.selectbox("Commune", [""] + coms, key=f"{key}_commune",
                           format_func=lambda c: f"{names.get(c, c)} ({c})" if c else "Toutes")
    types = sorted(everything["resource_type"].dropna().unique())
    with c4:
        rtype = st.selectbox("Type de ressource", [""] + types, key=f"{key}_type",
                             format_func=lambda t: type_label(t) or "Tous")
    start, end = (period if isinstance(period, (tuple, list)) and len(period) == 2
                  else (period, period) if isinstance(period, date) else (None, None))
    frame = log_.list(principal, start=start, end=end, dac_id=dac or None, commune=com or None,
                      resource_type=rtype or None, commune_names=names)
    st.caption(f"{len(frame)} signalement(s) sur {len(everything)} au total.")
    readable = frame.assign(  # labels (« Addictologie (CSAPA) ») and Paris local time
        recorded_at=pd.to_datetime(frame["recorded_at"], utc=True).dt.tz_convert(TIMEZONE)
        .dt.strftime("%d/%m/%Y %H:%M"),
        resource_type=[type_label(t, f) for t, f in zip(frame["resource_type"], frame["filters_json"])])
    view = readable.drop(columns=["filters_json"]).assign(
        reason=frame["reason"].map(lambda r: REASONS.get(r, r)))
    view = view.rename(columns={
        "id": "N°", "recorded_at": "Date (heure de Paris)", "dac_id": "Territoire",
        "commune": "Code INSEE", "commune_name": "Commune", "reason": "Motif",
        "resource_type": "Type", "filters_label": "Critères",
        "comment": "Commentaire", "recorded_by_role": "Fonction"})
    st.dataframe(view, hide_index=True, width="stretch")
    with_comments = st.checkbox("Inclure les commentaires dans l'export", value=False,
                                key=f"{key}_export_comments",
                                help="Par défaut l'export ne contient que les motifs et critères.")
    st.caption(f"Les signalements de plus de {settings.UNMET_RETENTION_MONTHS} mois sont "
               "supprimés automatiquement." if settings.UNMET_RETENTION_MONTHS > 0 else
               "Conservation illimitée (réglage UNMET_RETENTION_MONTHS = 0).")
    st.download_button("Exporter en CSV", unmet_needs_csv(readable, include_comments=with_comments),
                       file_name=f"besoins_non_couverts_{today.isoformat()}.csv", mime="text/csv",
                       key=f"{key}_export")
    with st.expander("Supprimer un signalement (correction)"):
        ids = list(frame["id"])
        target = st.selectbox("N° du signalement", ids, key=f"{key}_del_id") if ids else None
        sure = st.checkbox("Je confirme la suppression", key=f"{key}_del_ok")
        if st.button("Supprimer", key=f"{key}_del", disabled=target is None or not sure):
            try:
                deleted = log_.delete(principal, int(target))
            except DacMapError as exc:
                st.error(f"Suppression impossible : {exc}")
            else:
                if deleted:
                    st.success(f"Signalement n° {target} supprimé.")
                    st.rerun()
                else:
                    st.warning("Signalement introuvable.")
