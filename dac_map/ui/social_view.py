"""Social services (data·inclusion) and the DAC's local resources in the app (issue 16).

Two pages: « Ressources sociales » (filters in plain French, the list, one sheet per
resource with its source and « mis à jour le ») and « Ressources locales (référents) » (the
stewards' editing page: the table, who saves, why, the journal). The page logic is in plain
functions (:func:`sheet_markdown`, :func:`filters_from`) tested without a browser; Streamlit
calls are in the ``render_*`` functions. Every untrusted text goes through
:func:`dac_map.ui.text.md` (escaped Markdown).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dac_map import settings
from dac_map.inclusion import vocab
from dac_map.inclusion.catalogue import SocialCatalogue, load_social
from dac_map.inclusion.filters import SocialFilter, describe, filters_from_params, search_social
from dac_map.inclusion.tables import ConflictError
from dac_map.query.serving import ServesCommuneFilter
from dac_map.ui.text import format_date, format_phone, mailto_href, md, plain, tel_href

FICTITIOUS_BANNER = ("Les ressources locales de cette démonstration (associations de patients, "
                     "groupes d'aidants de la Somme et du Lot) sont des **EXEMPLES FICTIFS**.")


@st.cache_resource(max_entries=2, show_spinner="Chargement des ressources sociales…")
def _load(path: str, mtime: float) -> SocialCatalogue | None:
    return load_social(path)


def social_at(path: str | Path) -> SocialCatalogue | None:
    """The social catalogue of the store at ``path`` (loaded once per file version)."""
    path = Path(path)
    return _load(str(path), path.stat().st_mtime if path.exists() else 0.0)


def filters_from(families: list[str], publics: list[str], fee: str, min_quality: float,
                 commune: str | None, text: str) -> list[SocialFilter]:
    """The filters of the page's widgets, through the one registry
    (:func:`~dac_map.inclusion.filters.filters_from_params`); empty widgets add nothing."""
    return filters_from_params({"famille": families, "public": publics, "frais": fee,
                                "qualite": str(min_quality) if min_quality > 0 else "",
                                "intervient": commune or "", "q": text})


def _join(values: object, labels: dict[str, str]) -> str:
    if not isinstance(values, (list, tuple)):
        return ""
    return ", ".join(labels.get(v, v) for v in values)


def sheet_markdown(row: pd.Series) -> str:
    """The sheet of one resource as escaped Markdown lines."""
    lines = []
    if bool(row.get("fictitious")):
        lines.append(":orange-badge[EXEMPLE FICTIF] ressource inventée pour la démonstration")
    if plain(row.get("structure_name")):
        lines.append(f"**Structure :** {md(row['structure_name'])}")
    fams = [vocab.family_label(f) for f in row.get("families") or []]
    if fams:
        lines.append(f"**Famille :** {md(', '.join(fams))}")
    if row.get("thematics"):
        lines.append(f"**Thématiques :** {md(', '.join(vocab.thematic_label(t) for t in row['thematics']))}")
    if plain(row.get("description")):
        lines.append(md(str(row["description"])[:1200]))
    publics = _join(row.get("publics"), vocab.PUBLICS)
    if publics:
        lines.append(f"**Publics :** {md(publics)}" + (f" — {md(row['publics_details'])}"
                                                        if plain(row.get("publics_details")) else ""))
    fee = vocab.FEES.get(plain(row.get("fee")))
    if fee:
        lines.append(f"**Frais :** {md(fee)}" + (f" — {md(row['fee_details'])}" if plain(row.get("fee_details")) else ""))
    if plain(row.get("access_conditions")):
        lines.append(f"**Conditions d'accès :** {md(row['access_conditions'])}")
    addr = ", ".join(x for x in (plain(row.get("address")),
                                 " ".join(x for x in (plain(row.get("postcode")), plain(row.get("city"))) if x)) if x)
    if addr:
        lines.append(f":material/location_on: {md(addr)}")
    if plain(row.get("zone_label")):
        lines.append(f"**Intervient sur :** {md(row['zone_label'])}")
    href = tel_href(row.get("phone"))
    if href:
        lines.append(f":material/call: [{md(format_phone(row.get('phone')))}]({href})")
    if plain(row.get("email")):
        mail = mailto_href(row.get("email"))  # a checked address is a link, like the phone
        lines.append(f":material/mail: [{md(row['email'])}]({mail})" if mail
                     else f":material/mail: {md(row['email'])}")
    if plain(row.get("contact_name")):
        lines.append(f"**Contact :** {md(row['contact_name'])}")
    if row.get("mobilisation"):
        lines.append(f"**Pour mobiliser :** {md(', '.join(row['mobilisation']))}")
    hours = plain(row.get("hours_fr")) and str(row["hours_fr"]).split("\n")
    if hours:
        lines.append("**Horaires :** " + " ; ".join(md(h) for h in hours))
    q = row.get("quality")
    if q is not None and not pd.isna(q):
        lines.append(f"**Score de qualité data·inclusion :** {float(q):.2f}".replace(".", ",") + " / 1")
    lines.append(f"**Source :** {md(row.get('sources_label'))}"
                 + (f" · mis à jour le {md(format_date(row.get('updated')))}" if format_date(row.get("updated")) else ""))
    return "  \n".join(lines)


def render_social_page(store_path: Path) -> None:
    """The « Ressources sociales » page."""
    st.title("Ressources sociales")
    cat = social_at(store_path)
    if cat is None or not len(cat):
        st.info("Aucune ressource sociale dans ce catalogue : importez les services data·inclusion "
                "(`dac-map inclusion import --services …`) ou la table locale du DAC.")
        return
    if cat.fictitious.any():
        st.warning(FICTITIOUS_BANNER, icon=":material/info:")
    names = {c: n for c, n in cat.commune_names.items()}
    with st.container(border=True):
        c1, c2, c3 = st.columns(3)
        families = c1.multiselect("Famille", list(vocab.FAMILIES), format_func=vocab.FAMILIES.get,
                                  key="soc_families")
        publics = c2.multiselect("Public", list(vocab.PUBLICS), format_func=vocab.PUBLICS.get, key="soc_publics")
        fee = c3.selectbox("Frais", ["", *vocab.FEES], format_func=lambda v: vocab.FEES.get(v, "Tous"), key="soc_fee")
        c4, c5, c6 = st.columns(3)
        commune = c4.selectbox("Intervient à", ["", *sorted(names, key=lambda c: (names[c], c))],
                               format_func=lambda c: f"{names[c]} ({c})" if c else "Toutes communes",
                               key="soc_commune")
        min_quality = c5.slider("Score de qualité minimal", 0.0, 1.0, 0.0, 0.05, key="soc_quality",
                                help="Score data·inclusion (0 à 1) ; 0 = pas de filtre (les ressources "
                                     "sans score restent alors affichées).")
        text = c6.text_input("Nom ou mot-clé", key="soc_text")
    filters = filters_from(families, publics, fee, min_quality, commune or None, text)
    found = search_social(cat, filters)
    st.caption(f"{len(found)} ressource(s) — {md(describe(filters, cat))}")
    _render_area_coverage(cat, filters)
    if not len(found):
        return
    table = pd.DataFrame({
        "Nom": found["name"], "Structure": found["structure_name"],
        "Famille": found["families"].map(lambda fs: ", ".join(vocab.family_label(f) for f in fs or [])),
        "Commune": found["city"], "Frais": found["fee"].map(lambda f: vocab.FEES.get(f, "")),
        "Qualité": found["quality"], "Source": found["sources_label"],
        "Fictif": found["fictitious"].map(lambda b: "EXEMPLE FICTIF" if b else ""),
    })
    event = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun",
                         selection_mode="single-row", key="soc_table")
    rows = event.selection.rows if event is not None else []
    if rows:
        row = found.iloc[rows[0]]
        with st.container(border=True, key="soc_sheet"):
            st.subheader(md(row["name"]), anchor=False)
            st.markdown(sheet_markdown(row))


def _author_field(principal, key: str) -> str | None:
    """Embedded mode: the steward types a name. Server mode: the signed-in account is the author
    (shown, never typed)."""
    from dac_map.server import auth

    if principal.subject == auth.LOCAL.subject:
        return st.text_input("Votre nom (référent)", key=key)
    st.caption(f"Enregistré au nom de : {md(principal.subject)}")
    return None


def _base(table, key: str):
    """The snapshot the editor started from (kept across reruns, so the version check compares
    with what the steward saw), and the editor's generation (a reload starts a fresh editor)."""
    if key not in st.session_state:
        st.session_state[key] = (table.snapshot(), st.session_state.get(key + "_gen", 0) + 1)
        st.session_state[key + "_gen"] = st.session_state[key][1]
    return st.session_state[key]


def _reload(key: str) -> None:
    st.session_state.pop(key, None)


def _saved(key: str, message: str) -> None:
    """After a save: the next render reads the table again and says what was saved."""
    _reload(key)
    st.session_state[key + "_msg"] = message


def _save(write, key: str, suffix: str) -> None:
    """Run a save (``write()`` -> actions) and say what happened: saved (the next render reads
    the table again), nothing to save, refused (the reason), or a conflict (nothing written; a
    button reloads the table)."""
    from dac_map.errors import DacMapError

    try:
        actions = write()
    except DacMapError as exc:
        st.error(f"Non enregistré : {md(exc)}")
        if isinstance(exc, ConflictError):
            st.button("Recharger la table (vos modifications non enregistrées seront abandonnées)",
                      key=key + "_reload", on_click=_reload, args=(key,))
        return
    if actions:
        _saved(key, f"Enregistré : {', '.join(actions)}{suffix}")
        st.rerun()
    st.success("Aucun changement.")


def _journal(table, title: str) -> None:
    """The table's history, newest first."""
    journal = table.history()
    if journal:
        st.subheader(title, anchor=False)
        st.dataframe(pd.DataFrame(journal[::-1]), hide_index=True, width="stretch")


def _render_area_coverage(cat: SocialCatalogue, filters: list[SocialFilter]) -> None:
    """« Zones blanches » of the current criteria: the communes of a department where no
    matching resource intervenes (its intervention area, as « Intervient à » reads it)."""
    from dac_map import codes
    from dac_map.inclusion.filters import coverage_by_area

    deps = sorted({codes.department_of(c) for c in cat.commune_names})
    with st.expander("Couverture par zones d'intervention (communes où aucune ressource n'intervient)"):
        chosen = st.multiselect("Départements", deps, default=deps[:1], key="soc_cov_deps")
        if not chosen:
            return
        table = coverage_by_area(cat, filters, chosen)
        white = table[table["resources"] == 0]
        c1, c2 = st.columns(2)
        c1.metric("Communes couvertes", f"{len(table) - len(white)} / {len(table)}")
        c2.metric("Zones blanches", str(len(white)))
        st.caption("Critères appliqués : " + md(describe([f for f in filters if not isinstance(f, ServesCommuneFilter)],
                                                          cat)))
        if len(white):
            st.dataframe(white.rename(columns={"commune": "Code INSEE", "name": "Commune"})[["Code INSEE", "Commune"]],
                         hide_index=True, width="stretch", key="soc_cov_white")


def render_steward_page(table=None, decisions=None, store_source=None) -> None:
    """The stewards' page (role ``referent_donnees`` in server mode): the DAC's local
    resources, and the FINESS <-> data·inclusion match decisions. ``table`` / ``decisions``
    are :class:`~dac_map.inclusion.tables.StewardTable` s (a path = that CSV table; default:
    the current mode's tables); ``store_source`` the catalogue (default: the app's)."""
    from dac_map.inclusion import dedup, steward

    table = steward.local_store(None if table is None else Path(table)) \
        if table is None or isinstance(table, (str, Path)) else table
    if decisions is None or isinstance(decisions, (str, Path)):
        decisions = dedup.decisions_store(None if decisions is None else Path(decisions))
    if store_source is None:
        from dac_map.ui.views import store_path

        store_source = store_path()
    st.title("Ressources locales du DAC (référents)")
    tab_local, tab_matches = st.tabs(["Ressources locales", "Correspondances FINESS ↔ data·inclusion"])
    with tab_local:
        _render_local(table)
    with tab_matches:
        _render_decisions(decisions, store_source)


def _render_local(table) -> None:
    from dac_map.inclusion import steward
    from dac_map.ui import access

    principal = access.current_principal()
    st.caption(f"Table : {md(table.label)} — format data·inclusion v1 ; chaque enregistrement est "
               "versionné (qui, quand, quoi). Les mises à jour nationales ne la modifient jamais.")
    snap, gen = _base(table, "stw_base")
    if "FICTIF" in table.location:
        st.warning(FICTITIOUS_BANNER, icon=":material/info:")
    elif not snap.rows:
        st.info("Table vide : ajoutez des lignes ci-dessous (modèle documenté : "
                "data/inclusion/modele_ressources_locales.csv) ; le premier enregistrement la crée.")
    for problem in snap.problems[:5]:
        st.error(f"Ligne illisible dans la table (à corriger avant d'enregistrer) : {md(problem)}")
    frame = pd.DataFrame(list(snap.rows), columns=list(steward.TABLE_COLUMNS)).astype(object)
    for col in frame.columns:  # list cells edited as "a|b", like in the CSV
        frame[col] = frame[col].map(lambda v: "|".join(v) if isinstance(v, list) else v)
    edited = st.data_editor(frame, num_rows="dynamic", width="stretch", hide_index=True, key=f"stw_editor_{gen}")
    c1, c2 = st.columns(2)
    with c1:
        author = _author_field(principal, "stw_author")
    comment = c2.text_input("Motif de la modification", key="stw_comment")
    message = st.session_state.pop("stw_base_msg", None)
    if message:
        st.success(message)
    if st.button("Enregistrer", type="primary", key="stw_save"):
        records = [{k: (v if isinstance(v, str) and v.strip() else None) for k, v in r.items()}
                   for r in edited.astype(object).to_dict("records")]
        _save(lambda: steward.save_rows(table, snap, records, principal, author=author, comment=comment),
              "stw_base", "")
    _journal(table, "Journal des modifications")
    st.caption("Pour publier ces ressources dans le catalogue : `dac-map inclusion import` (ou une mise à "
               "jour). Export au schéma data·inclusion : `dac-map inclusion export DOSSIER`.")


#: French headers of the decisions table.
DECISION_HEADERS = {
    "resource_id": "Ressource", "resource_name": "Nom (ressource sociale)", "resource_address": "Adresse (ressource)",
    "finess": "N° FINESS", "establishment_name": "Nom (FINESS)", "establishment_address": "Adresse (FINESS)",
    "method_label": "Méthode", "name_score": "Score nom", "address_score": "Score adresse",
    "decision": "Décision de l'import", "steward_decision": "Décision du référent", "motif": "Motif",
    "decided_by": "Par", "decided_at": "Le (UTC)",
}
#: The stewards' choices for a pair: none (the import decides), force the link, separate.
DECISION_CHOICES = {"": "Automatique (pas de décision du référent)", "lier": "Lier (même structure)",
                    "separer": "Séparer (structures différentes)"}
_NEW_PAIR = "__nouvelle__"


def edited_decisions(base_rows, resource_id: str, finess: str, decision: str, motif: str) -> list[dict]:
    """The decisions table after the steward's choice for one pair: that pair's row replaced,
    added, or removed (``decision`` empty); every other row as read."""
    rows = [dict(r) for r in base_rows if (r["resource_id"], r["finess"]) != (resource_id, finess)]
    if decision:
        rows.append({"resource_id": resource_id, "finess": finess, "decision": decision, "motif": motif})
    return rows


def _pair_label(row: pd.Series) -> str:
    left = plain(row.get("resource_name")) or row["resource_id"]
    right = plain(row.get("establishment_name")) or "établissement inconnu du catalogue"
    now = row.get("steward_decision") or row.get("decision") or ""
    return f"{left} ↔ {right} (FINESS {row['finess']}) — {row['method_label']}" + (f" — {now}" if now else "")


def _render_decisions(decisions, store_source) -> None:
    from dac_map import store as store_mod
    from dac_map.errors import DacMapError
    from dac_map.inclusion import dedup
    from dac_map.ui import access

    principal = access.current_principal()
    st.caption("Les doublons entre FINESS et data·inclusion / la table locale sont repérés à l'import (SIRET, "
               "numéro FINESS, nom et adresse). Imposez un lien ou séparez une paire, avec un motif (sans "
               "donnée de patient) : la décision s'applique au prochain import ou à la prochaine mise à jour, "
               f"et son rapport l'indique. Décisions : {md(decisions.label)}.")
    snap, gen = _base(decisions, "dec_base")
    for problem in snap.problems[:5]:
        st.error(f"Ligne illisible dans les décisions : {md(problem)}")
    try:
        table = dedup.decision_table(store_mod.open_store(store_source), snap)
    except DacMapError as exc:
        st.error(f"Catalogue illisible : {md(exc)}")
        return
    if len(table):
        st.dataframe(table.rename(columns=DECISION_HEADERS), hide_index=True, width="stretch", key="dec_table")
    else:
        st.info("Aucune correspondance proposée par le dernier import, aucune décision enregistrée.")
    pairs = {f"{r['resource_id']}|{r['finess']}": r for _, r in table.iterrows()}
    with st.container(border=True, key="dec_form"):
        st.markdown("**Décision du référent**")
        choice = st.selectbox("Paire", [*pairs, _NEW_PAIR], key=f"dec_pair_{gen}",
                              format_func=lambda k: "Nouvelle paire (lien non proposé par l'import)…"
                              if k == _NEW_PAIR else _pair_label(pairs[k]))
        if choice == _NEW_PAIR:
            c1, c2 = st.columns(2)
            rid = c1.text_input("Ressource (identifiant, ex. local:demo-80-diab)", key=f"dec_new_rid_{gen}").strip()
            fin = c2.text_input("N° FINESS de l'établissement", key=f"dec_new_finess_{gen}").strip()
            current, motif0 = "lier", ""
        else:
            row = pairs[choice]
            rid, fin = row["resource_id"], row["finess"]
            current, motif0 = (row.get("steward_decision") or ""), (row.get("motif") or "")
            if row.get("decided_by"):
                st.caption(f"Décision actuelle : {md(current)} — par {md(row['decided_by'])} le "
                           f"{md(row['decided_at'])} — motif : {md(motif0)}")
        decision = st.radio("Décision", list(DECISION_CHOICES), index=list(DECISION_CHOICES).index(current),
                            format_func=DECISION_CHOICES.get, key=f"dec_choice_{gen}_{choice}", horizontal=True)
        motif = st.text_input("Motif (obligatoire pour lier ou séparer)", value=motif0,
                              key=f"dec_motif_{gen}_{choice}")
        author = _author_field(principal, "dec_author")
        message = st.session_state.pop("dec_base_msg", None)
        if message:
            st.success(message)
        if st.button("Enregistrer la décision", type="primary", key="dec_save"):
            rows = edited_decisions(snap.rows, rid, fin, decision, motif)
            _save(lambda: dedup.save_decisions(decisions, snap, rows, principal, author=author), "dec_base",
                  " — appliqué au prochain import.")
    _journal(decisions, "Journal des décisions")
