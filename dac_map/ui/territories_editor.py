"""The stewards' territory editor page (issue 13, :func:`render_steward_page`): pick a set and
a territory, click communes on the map or paste / upload INSEE codes, see overlaps and gaps,
save with an optimistic version check (a conflicting save is refused and can be re-applied),
export the table as CSV. Map layers are GeoJSON in WGS84 (EPSG:4326, lon/lat degrees); every
name shown comes from data and is escaped.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import replace

import folium
import pandas as pd
import shapely
import streamlit as st

from dac_map import settings
from dac_map.codes import department_of
from dac_map.errors import DacMapError
from dac_map.server.auth import LOCAL
from dac_map.territories import (
    DEMO_SET,
    MAIN_SET,
    CommuneReference,
    ConflictError,
    Territory,
    TerritoryError,
    check_territories,
    open_store,
    split_codes,
    validate,
)
from dac_map.territories.catalogue import directory
from dac_map.territories.model import describe_changes
from dac_map.territories.table import table_bytes
from dac_map.territories.vintages import load_moves
from dac_map.ui.territories_view import commune_at
from dac_map.ui.text import md, plain

# --------------------------------------------------------------------------- the editor

_WORK = "_terr_work"
_LAST_CLICK = "_terr_last_click"
NEW = "__nouveau__"


def _set_label(name: str) -> str:
    if name == MAIN_SET:
        return "principal (utilisé par la carte et la recherche)"
    if name == DEMO_SET:
        return "démo FICTIVE : la Somme découpée en deux DAC"
    return name


def _codes_from_upload(data: bytes) -> list[str]:
    """INSEE codes from an uploaded CSV: the column named code/insee/codgeo/commune(s), else
    every cell that looks like a code."""
    text = data.decode("utf-8-sig", errors="replace")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=None, engine="python", dtype=str)
    except Exception:  # not a table: take the codes found in the text
        frame = None
    if frame is not None:
        cols = {c.strip().lower(): c for c in frame.columns}
        for key in ("code", "insee", "code_insee", "codgeo", "commune", "communes", "code commune"):
            if key in cols:
                return [c for c in split_codes(" ".join(frame[cols[key]].dropna()))]
    import re

    return re.findall(r"\b(?:[0-9]{5}|2[AB][0-9]{3})\b", text)


def _work_key(set_name: str, tid: str) -> str:
    return f"{_WORK}:{set_name}:{tid}"


def _forget(set_name: str, tid: str, draft_too: bool = True) -> None:
    """Drop the draft of a territory (unless ``draft_too`` is False) and its widgets' values, so
    that the widgets show the draft again."""
    suffix = f"_{set_name}_{tid}"
    for k in [k for k in st.session_state if isinstance(k, str) and
              ((draft_too and k.startswith(_work_key(set_name, tid)))
               or (k.startswith("terr_") and k.endswith(suffix)))]:
        del st.session_state[k]


def _start_work(set_name: str, tid: str, stored) -> dict:
    key = _work_key(set_name, tid)
    if key not in st.session_state:
        if stored is None:
            st.session_state[key] = {"base": None, "version": None,
                                     "draft": Territory("", "", communes=())}
        else:
            st.session_state[key] = {"base": stored.territory, "version": stored.version,
                                     "draft": stored.territory}
    return st.session_state[key]


def _editor_map(catalogue, work: dict, others: Sequence[Territory], departments: Sequence[str],
                key: str) -> None:
    """Communes of ``departments``: in the draft (blue), in another territory (grey), in two
    (orange), in none (red outline); a click toggles a commune in the draft."""
    from streamlit_folium import st_folium

    from dac_map.ui.map import OfflineMap

    communes = catalogue.communes
    dep_of = communes["code"].astype(str).map(department_of)
    sel = communes[dep_of.isin(list(departments)).to_numpy()]
    if not len(sel):
        st.info("Pas de limites de communes chargées pour ces départements : utiliser la saisie "
                "des codes INSEE.")
        return
    draft = work["draft"]
    mine = set(draft.communes) | {c for c in sel["code"] if department_of(c) in draft.departments}
    other_claims: dict[str, int] = {}
    for t in others:
        for c in sel["code"]:
            if c in t.communes or department_of(c) in t.departments:
                other_claims[c] = other_claims.get(c, 0) + 1
    feats = []
    for code, name, geom in zip(sel["code"], sel["name"], sel.geometry):
        n_other = other_claims.get(code, 0)
        state = ("chevauchement" if code in mine and n_other else "ce territoire" if code in mine
                 else "autre territoire" if n_other == 1 else "chevauchement" if n_other > 1
                 else "aucun territoire")
        feats.append({"type": "Feature", "properties": {
            "code": code, "state": state,
            "label": f"{html.escape(str(name))} ({html.escape(code)}) — {state}"},
            "geometry": shapely.geometry.mapping(shapely.simplify(geom, settings.MAP_SIMPLIFY_DEG))})
    colours = {"ce territoire": "#2171b5", "autre territoire": "#bdbdbd", "chevauchement": "#fd8d3c",
               "aucun territoire": "#ffffff"}
    minx, miny, maxx, maxy = sel.total_bounds
    m = OfflineMap(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=9, tiles=None,
                   prefer_canvas=True, height=520)
    folium.GeoJson({"type": "FeatureCollection", "features": feats}, name="communes",
                   style_function=lambda f: {
                       "fillColor": colours[f["properties"]["state"]], "fillOpacity": 0.6,
                       "color": "#cb181d" if f["properties"]["state"] == "aucun territoire" else "#555555",
                       "weight": 1.6 if f["properties"]["state"] == "aucun territoire" else 0.5},
                   tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False)).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    out = st_folium(m, key=key, height=520, use_container_width=True,
                    returned_objects=["last_object_clicked"])
    click = (out or {}).get("last_object_clicked")
    if click and st.session_state.get(_LAST_CLICK) != (key, click.get("lat"), click.get("lng")):
        st.session_state[_LAST_CLICK] = (key, click.get("lat"), click.get("lng"))
        code = commune_at(catalogue, float(click["lng"]), float(click["lat"]))
        if code:
            _toggle(work, code)
            st.rerun()
    st.caption("Cliquer une commune l'ajoute au territoire (ou l'en retire). Bleu : ce territoire ; "
               "gris : un autre territoire ; orange : revendiquée par deux DAC ; blanc bordé de "
               "rouge : dans aucun territoire.")


def _toggle(work: dict, code: str) -> None:
    draft: Territory = work["draft"]
    if code in draft.communes:
        work["draft"] = replace(draft, communes=tuple(c for c in draft.communes if c != code))
    else:
        work["draft"] = replace(draft, communes=(*draft.communes, code))


def _apply_codes(work: dict, codes: Sequence[str], add: bool) -> None:
    draft: Territory = work["draft"]
    if add:
        work["draft"] = replace(draft, communes=tuple(dict.fromkeys((*draft.communes, *codes))))
    else:
        drop = set(codes)
        work["draft"] = replace(draft, communes=tuple(c for c in draft.communes if c not in drop))


def _rebase(work: dict, current) -> None:
    """Re-apply the draft's changes (relative to the version it started from) on ``current``."""
    base: Territory = work["base"] or Territory("", "")
    draft: Territory = work["draft"]
    added = [c for c in draft.communes if c not in base.communes]
    removed = {c for c in base.communes if c not in draft.communes}
    t = current.territory
    merged = replace(t, communes=tuple(c for c in (*t.communes, *added) if c not in removed))
    for name in ("name", "phone", "website", "note", "finess", "departments"):
        if getattr(draft, name) != getattr(base, name):
            merged = replace(merged, **{name: getattr(draft, name)})
    work.update(base=current.territory, version=current.version, draft=merged)


def render_steward_page(catalogue) -> None:
    """The stewards' territory editor: pick a territory or create one, link it to a DAC of the
    directory or define it by hand, add/remove communes (map clicks, pasted INSEE codes, CSV),
    see overlaps and gaps before saving, save with a conflict check, history, CSV export."""
    st.title("Territoires DAC — page des référents")
    st.caption("Un territoire est une liste de communes (ou de départements entiers). La table est "
               "versionnée : chaque enregistrement note qui, quand et quoi ; si quelqu'un a "
               "enregistré entre-temps, votre enregistrement est refusé et rien n'est écrasé.")
    flash = st.session_state.pop("_terr_flash", None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    from dac_map.ui.access import current_principal

    principal = current_principal()
    store = open_store(principal=principal)  # every write is authorised inside the store
    sets = store.sets() or [MAIN_SET]
    set_name = st.selectbox("Jeu de territoires", sets, format_func=_set_label, key="terr_set")
    if set_name == DEMO_SET:
        st.warning("Jeu de démonstration FICTIF : aucun ARS n'a dessiné ce découpage de la Somme. "
                   "Il sert à essayer l'éditeur (chevauchements et trous volontaires).",
                   icon=":material/science:")
    if principal != LOCAL:  # server mode: the history names the signed-in account
        author = principal.subject
        st.caption(f"Vos changements sont notés dans l'historique au nom du compte {md(author)}.")
    else:
        author = st.text_input("Votre nom (noté dans l'historique)", key="terr_author", max_chars=120)
    items = store.list(set_name)
    by_id = {v.territory.id: v for v in items}
    ids = [NEW, *by_id]
    pending = st.session_state.pop("_terr_pick_next", None)  # after a save: keep its territory
    if pending and pending[0] == set_name and pending[1] in by_id:
        st.session_state[f"terr_pick_{set_name}"] = pending[1]
    tid = st.selectbox("Territoire à modifier", ids, key=f"terr_pick_{set_name}",
                       format_func=lambda i: "➕ Nouveau territoire" if i == NEW else
                       f"{by_id[i].territory.name} ({i})" if i in by_id else i)
    stored = by_id.get(tid)
    if stored is not None:
        st.caption(f"Version {stored.version} enregistrée par {md(stored.updated_by)} le "
                   f"{md(stored.updated_at)}.")
    work = _start_work(set_name, tid, stored)
    draft: Territory = work["draft"]

    dirs = directory(catalogue)
    dac_options = ["", *[str(f) for f in dirs["finess"]]]
    dac_names = {str(f): f"{plain(n)} — {plain(c)} ({f})" for f, n, c in
                 zip(dirs["finess"], dirs["name"], dirs["city"])}

    with st.container(border=True):
        c1, c2 = st.columns(2)
        new_id = c1.text_input("Identifiant", value=draft.id, key=f"terr_id_{set_name}_{tid}",
                               disabled=tid != NEW, help="Lettres, chiffres, - _ . (ex. DAC-80-OUEST)")
        name = c2.text_input("Nom du DAC", value=draft.name, key=f"terr_name_{set_name}_{tid}")
        finess = st.selectbox(
            "DAC de l'annuaire FINESS (catégorie 606)",
            dac_options if draft.finess in dac_options else [*dac_options, draft.finess],
            index=(dac_options.index(draft.finess) if draft.finess in dac_options else len(dac_options)),
            format_func=lambda f: "— défini à la main (pas dans l'annuaire) —" if not f
            else dac_names.get(f, f"{f} (absent des données chargées)"),
            key=f"terr_finess_{set_name}_{tid}")
        if not len(dirs):
            st.caption("Aucun DAC (catégorie 606 ou 801) dans les données FINESS chargées : "
                       "territoire défini à la main.")
        c3, c4 = st.columns(2)
        phone = c3.text_input("Numéro unique du DAC", value=draft.phone, key=f"terr_phone_{set_name}_{tid}",
                              help="Vide : le numéro de l'annuaire FINESS du DAC est utilisé.")
        website = c4.text_input("Site web", value=draft.website, key=f"terr_web_{set_name}_{tid}")
        deps = st.text_input("Départements entiers (raccourci)", value=" ".join(draft.departments),
                             key=f"terr_deps_{set_name}_{tid}")
        note = st.text_input("Note", value=draft.note, key=f"terr_note_{set_name}_{tid}")
    draft = replace(draft, id=new_id if tid == NEW else draft.id, name=name, finess=finess,
                    phone=phone, website=website, departments=tuple(split_codes(deps)), note=note)
    work["draft"] = draft

    with st.expander("Coller des codes INSEE ou importer un CSV de communes", expanded=False):
        pasted = st.text_area("Codes INSEE (séparés par des espaces, virgules ou retours à la ligne)",
                              key=f"terr_paste_{set_name}_{tid}")
        b1, b2 = st.columns(2)
        if b1.button("Ajouter ces communes", key=f"terr_add_{set_name}_{tid}"):
            _apply_codes(work, split_codes(pasted), add=True)
        if b2.button("Retirer ces communes", key=f"terr_del_{set_name}_{tid}"):
            _apply_codes(work, split_codes(pasted), add=False)
        up = st.file_uploader("CSV de communes (colonne code / insee / codgeo)", type=["csv", "txt"],
                              key=f"terr_up_{set_name}_{tid}")
        if up is not None and st.button("Ajouter les communes du fichier", key=f"terr_upadd_{set_name}_{tid}"):
            codes = _codes_from_upload(up.getvalue())
            _apply_codes(work, codes, add=True)
            st.success(f"{len(codes)} code(s) lu(s) dans {md(up.name)}.")
    draft = work["draft"]

    others = [v.territory for v in items if v.territory.id != (draft.id or tid)]
    departments = sorted(set(draft.departments) | {department_of(c) for c in draft.communes}) or \
        sorted({department_of(c) for c in catalogue.communes["code"].astype(str)})[:1]
    shown = st.multiselect("Départements affichés", sorted({department_of(c) for c in
                                                           catalogue.communes["code"].astype(str)}),
                           default=[d for d in departments if d in set(catalogue.communes["code"].astype(str).map(department_of))],
                           key=f"terr_shown_{set_name}_{tid}")
    _editor_map(catalogue, work, others, shown, key=f"terr_map_{set_name}_{tid}")
    draft = work["draft"]
    st.markdown(f"**{len(draft.communes)} commune(s) listée(s)**"
                + (f" et {len(draft.departments)} département(s) entier(s)" if draft.departments else ""))
    if draft.communes:
        st.caption(md(" ".join(draft.communes[:400]) + (" …" if len(draft.communes) > 400 else "")))

    # Overlaps and gaps before saving.
    ref = CommuneReference(dict(zip(catalogue.communes["code"].astype(str),
                                    catalogue.communes["name"].astype(str))))
    valid_draft = None
    try:
        valid_draft = validate(draft)
    except TerritoryError as exc:
        st.error(f"À corriger avant d'enregistrer : {md(exc.message)}")
    if valid_draft is not None:
        report = check_territories([*others, valid_draft], ref, load_moves(settings.COMMUNE_MOVES),
                                   departments=[d for d in departments if d in ref.by_department])
        mine = {o for o in report.overlaps if valid_draft.id in o.territories}
        unknown = [u for u in report.unknown if u.territory == valid_draft.id]
        a, b, c = st.columns(3)
        a.metric("Chevauchements (ce territoire)", len(mine))
        b.metric("Communes dans aucun territoire", len(report.gaps))
        c.metric("Codes inconnus", len(unknown))
        if mine:
            st.warning("Communes revendiquées aussi par un autre DAC : " + md(", ".join(
                f"{o.commune} {o.name} ({' et '.join(o.territories)})" for o in sorted(mine, key=lambda o: o.commune)[:50])),
                icon=":material/warning:")
        if report.gaps:
            st.info("Communes des départements concernés dans aucun territoire : " + md(", ".join(
                f"{g.commune} {g.name}" for g in report.gaps[:80]))
                + (" …" if len(report.gaps) > 80 else ""), icon=":material/crop_free:")
        for u in unknown:
            st.warning(md(u.message), icon=":material/history:")
        if unknown and not report.moves_available:
            st.caption("Table INSEE des mouvements de communes non fournie (réglage COMMUNE_MOVES) : "
                       "les successeurs ne peuvent pas être indiqués.")

    s1, s2, s3 = st.columns(3)
    if s1.button("Enregistrer", type="primary", key=f"terr_save_{set_name}_{tid}",
                 disabled=valid_draft is None):
        if not plain(author):
            st.error("Indiquez votre nom (il est noté dans l'historique).")
        else:
            try:
                saved = store.save(valid_draft, work["version"], author, set_name=set_name)
            except ConflictError as exc:
                st.session_state[f"{_work_key(set_name, tid)}:conflict"] = True
                st.error(md(exc.message), icon=":material/sync_problem:")
            except DacMapError as exc:
                st.error(md(str(exc)))
            else:
                _forget(set_name, tid)
                _catalogue_changed()
                st.session_state["_terr_flash"] = (f"Enregistré : {md(saved.territory.name)}, "
                                                   f"version {saved.version}.")
                st.session_state["_terr_pick_next"] = (set_name, saved.territory.id)
                st.rerun()
    if st.session_state.get(f"{_work_key(set_name, tid)}:conflict") and stored is not None:
        current = store.get(tid, set_name)
        st.info("Quelqu'un a enregistré ce territoire depuis que vous l'avez ouvert. Vos changements "
                "sont conservés ici, rien n'a été écrasé.")
        r1, r2 = st.columns(2)
        if current is not None and r1.button("Réappliquer mes changements sur la version actuelle",
                                             key=f"terr_rebase_{set_name}_{tid}"):
            _rebase(work, current)
            st.session_state.pop(f"{_work_key(set_name, tid)}:conflict", None)
            _forget(set_name, tid, draft_too=False)  # the fields show the merged draft
            st.rerun()
        if r2.button("Abandonner mes changements", key=f"terr_reload_{set_name}_{tid}"):
            _forget(set_name, tid)
            st.rerun()
    if stored is not None and s2.button("Annuler mes changements", key=f"terr_cancel_{set_name}_{tid}"):
        _forget(set_name, tid)
        st.rerun()
    s3.download_button("Exporter la table (CSV)", data=lambda: table_bytes(store.list(set_name)),
                       file_name=f"territoires_{set_name}.csv", mime="text/csv",
                       key=f"terr_export_{set_name}", on_click="ignore", icon=":material/download:")
    if stored is not None:
        with st.expander("Supprimer ce territoire"):
            sure = st.checkbox("Je confirme la suppression (elle reste dans l'historique)",
                               key=f"terr_sure_{set_name}_{tid}")
            if st.button("Supprimer", disabled=not sure, key=f"terr_rm_{set_name}_{tid}"):
                if not plain(author):
                    st.error("Indiquez votre nom (il est noté dans l'historique).")
                else:
                    try:
                        store.delete(tid, work["version"], author, set_name=set_name)
                    except DacMapError as exc:  # a conflict, a refusal, the database
                        st.error(md(exc.message))
                    else:
                        _forget(set_name, tid)
                        _catalogue_changed()
                        st.rerun()
    with st.expander(f"Annuaire des DAC dans les données FINESS chargées ({len(dirs)})"):
        if len(dirs):
            st.dataframe(pd.DataFrame({
                "N° FINESS": dirs["finess"], "N° FINESS juridique": dirs["finess_ej"],
                "Nom": dirs["name"], "Adresse": dirs["address"], "Code postal": dirs["postcode"],
                "Localité": dirs["city"], "Téléphone": dirs["phone"], "Catégorie": dirs["category"],
                "Longitude": dirs["lon"], "Latitude": dirs["lat"]}), hide_index=True, width="stretch")
        else:
            st.caption("Aucun établissement de catégorie 606 (DAC) ou 801 (ancien code) dans les "
                       "données chargées : l'extrait de démonstration (2021) est antérieur à la "
                       "catégorie.")
    with st.expander("Historique des changements"):
        hist = store.history(set_name, None if tid == NEW else tid, limit=100)
        st.dataframe(pd.DataFrame({
            "Quand": [h.at for h in hist], "Qui": [h.author for h in hist],
            "Territoire": [h.id for h in hist], "Version": [h.version for h in hist],
            "Action": [h.action for h in hist], "Changements": [describe_changes(h.changes) for h in hist],
            "Commentaire": [h.comment for h in hist]}), hide_index=True, width="stretch")


def _catalogue_changed() -> None:
    """The map reads the territories at catalogue load: drop the cached catalogue (embedded
    mode; in server mode every process keys it on the territory table, see ``ui.data``)."""
    from dac_map.ui.data import cached_catalogue

    cached_catalogue.clear()


__all__ = ["render_steward_page"]
