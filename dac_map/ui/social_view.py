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
from dac_map.inclusion.filters import (SocialCatalogue, SocialFilter, describe, filters_from_params,
                                       load_social, search_social)
from dac_map.ui.text import format_date, format_phone, md, plain, tel_href

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
        lines.append(f":material/mail: {md(row['email'])}")
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


def render_steward_page(table_path: Path) -> None:
    """The stewards' page: edit the local resources, save with a name and a reason, the journal."""
    from dac_map.errors import DacMapError
    from dac_map.inclusion import steward

    st.title("Ressources locales du DAC (référents)")
    st.caption(f"Table : {md(table_path)} — format data·inclusion v1 ; chaque enregistrement est "
               "versionné (qui, quand, quoi). Les mises à jour nationales ne la modifient jamais.")
    if "FICTIF" in table_path.name:
        st.warning(FICTITIOUS_BANNER, icon=":material/info:")
    elif not table_path.exists():
        st.info("Table vide : ajoutez des lignes ci-dessous (modèle documenté : "
                "data/inclusion/modele_ressources_locales.csv) ; le premier enregistrement crée le fichier.")
    rows = steward.read_table(table_path).rows if table_path.exists() else []
    frame = pd.DataFrame(rows, columns=list(steward.TABLE_COLUMNS)).astype(object)
    for col in frame.columns:  # list cells edited as "a|b", like in the CSV
        frame[col] = frame[col].map(lambda v: "|".join(v) if isinstance(v, list) else v)
    edited = st.data_editor(frame, num_rows="dynamic", width="stretch", hide_index=True, key="stw_editor")
    c1, c2 = st.columns(2)
    author = c1.text_input("Votre nom (référent)", key="stw_author")
    comment = c2.text_input("Motif de la modification", key="stw_comment")
    if st.button("Enregistrer", type="primary", key="stw_save"):
        records = [{k: (v if isinstance(v, str) and v.strip() else None) for k, v in r.items()}
                   for r in edited.astype(object).to_dict("records")]
        try:
            actions = steward.save_table(table_path, records, author=author, comment=comment)
        except DacMapError as exc:
            st.error(f"Non enregistré : {md(exc)}")
        else:
            st.success(f"Enregistré : {md(', '.join(actions))}" if actions else "Aucun changement.")
    journal = steward.read_journal(table_path)
    if journal:
        st.subheader("Journal des modifications", anchor=False)
        st.dataframe(pd.DataFrame(journal[::-1]), hide_index=True, width="stretch")
    st.caption("Pour publier ces ressources dans le catalogue : `dac-map inclusion import` (ou une mise à "
               "jour). Export au schéma data·inclusion : `dac-map inclusion export DOSSIER`.")


def steward_table_path() -> Path:
    """The steward table (setting ``INCLUSION_LOCAL_TABLE``, read at call time)."""
    return Path(settings.INCLUSION_LOCAL_TABLE)
