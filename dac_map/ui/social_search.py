"""The social resources on the main page (issue 16): the sidebar's « Ressources sociales »
filters, the social part of the result list, the detail sheet of a social resource and the
click on its marker (Streamlit).

The search itself is :func:`dac_map.query.social.search_social_spec` (the same
:class:`~dac_map.query.spec.SearchSpec` as the FINESS search, the URL, ``dac-map search`` and
the unmet-need log); the map layer is :mod:`dac_map.ui.social_layer`; the sheet's Markdown is
:func:`dac_map.ui.social_view.sheet_markdown` (every untrusted text escaped). Pure helpers
(:func:`social_table`, :func:`sheet_lines`, :func:`finess_links`) are tested without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from dac_map.inclusion import vocab
from dac_map.query.social import SCOPES, SocialResult
from dac_map.ui.text import format_date, md, plain

#: ViewState attribute -> widget key (merged into :data:`dac_map.ui.sidebar.KEYS`).
KEYS: dict[str, str] = {
    "resources": "f_ressources",
    "social_families": "f_familles_sociales",
    "social_publics": "f_publics_sociaux",
    "social_fee": "f_frais",
    "social_min_quality": "f_qualite",
    "serves": "f_intervient",
}

#: Session key of the social resource shown in the detail panel (its ``resource_id``).
SOCIAL_FOCUS = "social_focus"
_TABLE = "_dacmap_social_rows"

#: Shown on the sheet and in the list for a fictitious row.
FICTITIOUS_BADGE = "EXEMPLE FICTIF"


# --------------------------------------------------------------------------- sidebar

def render_sidebar(communes: Sequence[str], commune_labels: Mapping[str, str]) -> dict[str, object]:
    """The « Filtres des ressources sociales » expander: which resources (scope), families in plain French,
    publics, fees, minimal quality score and « Intervient à » (a commune of the territory, or
    any INSEE code typed). Returns the :class:`~dac_map.query.spec.SearchSpec` fields."""
    ss = st.session_state
    for key, allowed in ((KEYS["social_families"], vocab.FAMILIES), (KEYS["social_publics"], vocab.PUBLICS)):
        cur = ss.get(key)
        if isinstance(cur, list):
            ss[key] = [v for v in cur if v in allowed]
    if ss.get(KEYS["resources"]) not in SCOPES:
        ss[KEYS["resources"]] = ""
    if ss.get(KEYS["social_fee"]) not in ("", *vocab.FEES):
        ss[KEYS["social_fee"]] = ""
    opened = any(bool(ss.get(k)) for k in KEYS.values())
    serves_choices = list(dict.fromkeys([*communes, *([ss[KEYS["serves"]]] if ss.get(KEYS["serves"]) else [])]))
    with st.sidebar.expander("Filtres des ressources sociales", expanded=opened):
        scope = st.selectbox("Ressources affichées", list(SCOPES), key=KEYS["resources"],
                             format_func=SCOPES.get,
                             help="Selon les filtres : les ressources sociales dès qu'un filtre social "
                                  "est choisi ; les établissements FINESS sauf si seuls des filtres "
                                  "sociaux sont choisis.")
        families = st.multiselect("Besoin social", list(vocab.FAMILIES), key=KEYS["social_families"],
                                  format_func=vocab.FAMILIES.get, placeholder="Tous", select_all=False,
                                  filter_mode="contains",
                                  help="Familles de services sociaux (data·inclusion et ressources "
                                       "locales du DAC) : aide alimentaire, accès aux droits, mobilité…")
        publics = st.multiselect("Public", list(vocab.PUBLICS), key=KEYS["social_publics"],
                                 format_func=vocab.PUBLICS.get, placeholder="Tous", select_all=False,
                                 help="Les services « tous publics » conviennent toujours.")
        fee = st.selectbox("Frais", ["", *vocab.FEES], key=KEYS["social_fee"],
                           format_func=lambda v: vocab.FEES.get(v, "Gratuits ou payants"))
        quality = st.slider("Score de qualité minimal", 0.0, 1.0, step=0.05, key=KEYS["social_min_quality"],
                            help="Score data·inclusion (0 à 1) de la fiche ; 0 = pas de filtre.")
        serves = st.selectbox("Intervient à", serves_choices, key=KEYS["serves"], index=None,
                              accept_new_options=True, placeholder="Toutes communes",
                              format_func=lambda c: commune_labels.get(c, c),
                              help="Ressources dont la zone d'intervention comprend cette commune "
                                   "(commune, département, EPCI ou France entière ; zones FINESS+ "
                                   "pour les établissements), où qu'elles soient situées.")
    return {"resources": scope or "", "social_families": tuple(families), "social_publics": tuple(publics),
            "social_fee": fee or "", "social_min_quality": float(quality or 0.0),
            "serves": (serves or "").strip().upper()}


# --------------------------------------------------------------------------- « Je cherche »

#: Words callers use for social needs (folded, whole phrase inside the text) -> social family;
#: the start of a family's French label works too (:func:`need_family`).
SOCIAL_WORDS: dict[str, str] = {
    "banque alimentaire": "aide_alimentaire", "colis alimentaire": "aide_alimentaire",
    "epicerie solidaire": "aide_alimentaire", "restos du coeur": "aide_alimentaire",
    "distribution alimentaire": "aide_alimentaire", "ccas": "acces_droits", "france services": "acces_droits",
    "acces aux droits": "acces_droits", "transport solidaire": "mobilite", "hebergement d urgence": "logement",
    "groupe de parole": "aidants_famille", "association de patients": "associations_patients",
    "association de malades": "associations_patients", "surendettement": "budget",
}


def need_family(text: str) -> str | None:
    """The social family a « Je cherche » text names (« aide alimentaire », « banque
    alimentaire », « CCAS »…), or None."""
    from dac_map.query.errors import QueryError
    from dac_map.query.social import social_family_key
    from dac_map.query.text import fold_text

    try:
        return social_family_key(text)
    except QueryError:
        pass
    folded = " " + " ".join(fold_text(text).replace("'", " ").split()) + " "
    return next((key for words, key in SOCIAL_WORDS.items() if f" {words} " in folded), None)


def apply_need(text: str) -> str | None:
    """« Je cherche » with a social need: select its family in the social filters (other
    filters kept); returns the French message, or None when the text names no social need."""
    key = need_family(text)
    if key is None:
        return None
    st.session_state[KEYS["social_families"]] = [key]
    st.session_state[SOCIAL_FOCUS] = None
    return f"Besoin social : {vocab.FAMILIES[key]} (ressources sociales, filtres ci-dessous)"


# --------------------------------------------------------------------------- search (cached)

@st.cache_resource(max_entries=16, show_spinner=False)
def _search(_catalogue, token: str, key: str, _spec, departments: tuple[str, ...]
            ) -> tuple[SocialResult | None, tuple[str, ...]]:
    from dac_map.query.social import search_social_spec

    warnings: list[str] = []
    return search_social_spec(_spec, _catalogue, departments, warnings=warnings), tuple(warnings)


def run_search(catalogue, spec, departments: Sequence[str], token: str) -> tuple[SocialResult | None, tuple[str, ...]]:
    """The social search of ``spec`` (None when its scope has none), shared by the sessions
    (bounded cache, read-only result), and its French warnings."""
    wanted = spec.spec()
    return _search(catalogue, token, repr(wanted), wanted, tuple(departments))


@st.cache_resource(max_entries=16, show_spinner=False)
def cached_layer_input(version: int, _result: SocialResult, _finess_records: pd.DataFrame | None):
    """:func:`layer_input`, built once per result ``version`` (shared by the sessions)."""
    return layer_input(_result, _finess_records)


def layer_input(result: SocialResult, finess_records: pd.DataFrame | None):
    """What the map draws of ``result``: resources merged with a FINESS establishment shown in
    ``finess_records`` (None: no FINESS results shown) are drawn once, by the FINESS marker."""
    from dac_map.ui.map import SocialLayerInput
    from dac_map.ui.social_layer import social_payload

    rec = result.records
    if finess_records is not None and len(finess_records) and len(rec):
        shown = set(finess_records["finess"].astype(str))
        rec = rec.assign(merged=rec["finess"].map(lambda f: isinstance(f, str) and f in shown))
    lat = pd.to_numeric(rec["lat"], errors="coerce") if len(rec) else pd.Series(dtype=float)
    lon = pd.to_numeric(rec["lon"], errors="coerce") if len(rec) else pd.Series(dtype=float)
    points = pd.DataFrame({"lat": lat, "lon": lon}).dropna()
    return SocialLayerInput(social_payload(rec), result.counts_by_family(), points,
                            finess_shown=finess_records is not None, total=result.total)


def on_map_click(value: Mapping[str, object] | None) -> bool:
    """A click on the map (``st_folium`` value): a social marker opens its sheet (and closes the
    FINESS one). Returns whether it was a social marker."""
    from dac_map.ui.social_layer import resource_from_tooltip

    rid = resource_from_tooltip((value or {}).get("last_object_clicked_tooltip"))
    if rid is None:
        return False
    st.session_state[SOCIAL_FOCUS] = rid
    st.session_state["focus"] = None
    return True


def focused_row(catalogue, result: SocialResult | None) -> pd.Series | None:
    """The social resource in the detail panel (from the result, with its distance, else from
    the social catalogue), or None."""
    from dac_map.query.social import social_catalogue

    rid = st.session_state.get(SOCIAL_FOCUS)
    if not rid:
        return None
    if result is not None and len(result.records):
        hit = result.records[result.records["resource_id"] == rid]
        if len(hit):
            return hit.iloc[0]
    social = social_catalogue(catalogue)
    if social is not None:
        hit = social.table[social.table["resource_id"] == rid]
        if len(hit):
            return hit.iloc[0]
    st.session_state[SOCIAL_FOCUS] = None
    return None


def render_linked(catalogue, finess: str) -> None:
    """On a FINESS establishment's sheet: the social resources merged with it (both sources)."""
    from dac_map.query.social import social_catalogue

    social = social_catalogue(catalogue)
    if social is None or "finess" not in social.table:
        return
    rows = social.table[social.table["finess"].astype(object) == finess]
    for line in linked_lines(rows):
        st.markdown(line)


# --------------------------------------------------------------------------- list

def _families(values: object) -> str:
    return ", ".join(vocab.family_label(str(f)) for f in (values if isinstance(values, (list, tuple)) else []))


def social_table(records: pd.DataFrame) -> pd.DataFrame:
    """Rows of the social list as displayed (plain text, French headers)."""
    out = pd.DataFrame({"Nom": records["name"].map(plain)})
    if "distance_km" in records and pd.to_numeric(records["distance_km"], errors="coerce").notna().any():
        out["Distance (km)"] = pd.to_numeric(records["distance_km"], errors="coerce").round(1)
    out["Besoin social"] = records["families"].map(_families)
    out["Commune"] = records["city"].map(plain)
    out["Qualité"] = pd.to_numeric(records["quality"], errors="coerce").round(2)
    out["Source"] = records["sources_label"].map(plain)
    out["Type de ressource"] = [("Ressource sociale — " + FICTITIOUS_BADGE) if bool(f) else "Ressource sociale"
                                for f in records["fictitious"].fillna(False)]
    return out.reset_index(drop=True)


def _on_select(key: str) -> None:
    from dac_map.ui.sidebar import selected_rows

    ids = st.session_state.get(_TABLE) or []
    rows = selected_rows(key)
    if rows and 0 <= rows[-1] < len(ids):
        st.session_state[SOCIAL_FOCUS] = ids[rows[-1]]
        st.session_state["focus"] = None  # one sheet at a time
        request_center(ids[rows[-1]])


def request_center(resource_id: str) -> None:
    """Ask the map to pan to a social resource (the same request the FINESS list makes, with a
    ``social`` kind; the nonce makes a repeated request differ from the last one)."""
    from dac_map.ui.sidebar import MAP_CENTER

    nonce = int(st.session_state.get("_dacmap_center_requests") or 0) + 1
    st.session_state["_dacmap_center_requests"] = nonce
    st.session_state[MAP_CENTER] = ("social", resource_id, nonce)


def location(row: pd.Series | None) -> tuple[float, float] | None:
    """(lat, lon) WGS84 degrees of a social resource, or None without coordinates."""
    if row is None:
        return None
    lat, lon = pd.to_numeric(row.get("lat"), errors="coerce"), pd.to_numeric(row.get("lon"), errors="coerce")
    return None if pd.isna(lat) or pd.isna(lon) else (float(lat), float(lon))


def render_list(result: SocialResult, version: int, page_size: int = 50) -> None:
    """The social resources of the search: count, criteria and a selectable table (a row opens
    the sheet)."""
    n = result.total
    st.markdown(f"**{n} ressource{'s' if n > 1 else ''} sociale{'s' if n > 1 else ''}** "
                f"(data·inclusion, ressources locales du DAC).  \n"
                + (" · ".join(md(lab) for lab in result.labels) or "Aucun filtre social."))
    if result.emptied_by and not n:
        st.info(md(f"Aucune ressource sociale : le critère « {result.emptied_by} » a vidé la sélection."),
                icon=":material/filter_alt_off:")
    if not n:
        return
    records = result.records.head(page_size)
    if result.records["fictitious"].fillna(False).astype(bool).any():
        st.caption(f":orange-badge[{FICTITIOUS_BADGE}] des ressources de ce résultat sont inventées "
                   "(démonstration ou test).")
    st.session_state[_TABLE] = list(records["resource_id"])
    key = f"liste-sociale-{version}"
    st.dataframe(social_table(records), key=key, on_select=lambda: _on_select(key),
                 selection_mode="single-row", hide_index=True, width="stretch", placeholder="—")
    if n > page_size:
        st.caption(f"{page_size} premières sur {n} : précisez les critères (commune, besoin, public).")
    st.download_button("Ressources sociales CSV", data=lambda: export_csv(result),
                       file_name="ressources-sociales.csv", mime="text/csv", key="dl_social_csv",
                       icon=":material/download:", on_click="ignore")


def export_csv(result: SocialResult) -> bytes:
    """Every social resource of the result as CSV (French headers, the one writer
    :mod:`dac_map.tabular`: ``;``, decimal comma, formulas neutralised)."""
    from dac_map.query.export import social_french_table
    from dac_map.tabular import csv_bytes

    return csv_bytes(social_french_table(result.records))


# --------------------------------------------------------------------------- sheet

def finess_links(row: Mapping[str, object]) -> str | None:
    """The FINESS number of a resource merged with an establishment, or None."""
    f = plain(row.get("finess"))
    return f or None


def sheet_lines(row: pd.Series) -> str:
    """The sheet of a social resource on the main page: the social page's sheet
    (:func:`~dac_map.ui.social_view.sheet_markdown`: family, publics, fees, hours in French,
    quality score, source and « mis à jour le ») plus the distance and, for a resource merged
    with a FINESS establishment, both sources."""
    from dac_map.ui.social_view import sheet_markdown

    lines = [sheet_markdown(row)]
    d = row.get("distance_km")
    if d is not None and not pd.isna(d):
        lines.append(f":material/straighten: à {float(d):.1f} km (à vol d'oiseau)".replace(".", ","))
    fin = finess_links(row)
    if fin:
        lines.append(f"**Sources fusionnées :** {md(row.get('origin'))} et FINESS (n° {md(fin)})")
    return "  \n".join(lines)


def _close() -> None:
    st.session_state[SOCIAL_FOCUS] = None


def _show_finess(finess: str) -> None:
    st.session_state[SOCIAL_FOCUS] = None
    st.session_state["focus"] = finess


def render_detail(row: pd.Series, has_finess: bool) -> None:
    """The detail panel of one social resource (escaped Markdown), with « Fermer » and, for a
    merged resource, a button to open the FINESS establishment's sheet."""
    with st.container(border=True, key="social_detail"):
        st.subheader(md(row["name"]), anchor=False)
        st.caption("Ressource sociale" + (" — " + FICTITIOUS_BADGE if bool(row.get("fictitious")) else ""))
        st.markdown(sheet_lines(row))
        b1, b2, b3 = st.columns(3)
        fin = finess_links(row)
        if fin and has_finess:
            b1.button(f"Fiche FINESS {fin}", on_click=_show_finess, args=(fin,), key="btn_social_finess",
                      width="stretch")
        b2.button("Centrer la carte", on_click=request_center, args=(row["resource_id"],),
                  key="btn_social_center", width="stretch", disabled=location(row) is None)
        b3.button("Fermer", on_click=_close, key="btn_social_close", width="stretch")


def linked_lines(social_rows: pd.DataFrame) -> list[str]:
    """For a FINESS establishment's sheet: one escaped line per social resource merged with it
    (its name, sources and « mis à jour le »)."""
    out = []
    for _, r in social_rows.iterrows():
        when = format_date(r.get("updated"))
        out.append(f":material/diversity_3: Aussi référencé comme ressource sociale : **{md(r['name'])}** "
                   f"— source {md(r.get('sources_label'))}" + (f" · mis à jour le {md(when)}" if when else "")
                   + (f" — {FICTITIOUS_BADGE}" if bool(r.get("fictitious")) else ""))
    return out


__all__ = ["FICTITIOUS_BADGE", "KEYS", "SOCIAL_FOCUS", "finess_links", "linked_lines", "render_detail",
           "render_list", "render_sidebar", "sheet_lines", "social_table"]
