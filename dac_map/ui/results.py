"""The results of the search page: map, result summary, detail panel, result list and
exports (CSV, Excel, GeoJSON, A4 sheet), with the callbacks of their widgets (marker click,
row selection, A4 selection, map centre). :mod:`dac_map.ui.views` lays them out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dac_map import settings
from dac_map.coverage.labels import dac_number, readable_criteria
from dac_map.notes import open_notes
from dac_map.query import Catalogue
from dac_map.ui import access, exports, notes_view
from dac_map.ui import social_search as soc
from dac_map.ui.leaflet import SelectionLayer
from dac_map.ui import finess_plus_view as fpv
from dac_map.ui import map as umap
from dac_map.ui import state as ustate
from dac_map.ui import territories_view as tview
from dac_map.ui.data import Current, cached_base_layers, catalogue_token, records_for, search_area
from dac_map.ui.options import Options, territory_departments
from dac_map.ui.sidebar import BASKET, FOCUS, KEYS, MAP_CENTER, selected_rows
from dac_map.ui.text import (
    demo_flags,
    format_date,
    format_km,
    format_minutes,
    format_phone,
    md,
    plain,
    precision_label,
    sources_line,
    tel_href,
)

_PAGE_FINESS = "_dacmap_page_finess"
_TABLE_ROWS = "_dacmap_table_rows"


# --------------------------------------------------------------------------- callbacks

def _on_map_change(map_key: str) -> None:
    """``st_folium`` on_change: a marker was clicked; show its detail panel."""
    value = st.session_state.get(map_key) or {}
    if soc.on_map_click(value):  # a social resource (issue 16)
        return
    fin = umap.finess_from_tooltip(value.get("last_object_clicked_tooltip"))
    if fin:
        st.session_state[FOCUS] = fin
        st.session_state[soc.SOCIAL_FOCUS] = None


def _on_table_select(table_key: str) -> None:
    """List ``on_select``: newly selected rows join the A4 selection and the last one is shown
    and centred; unselected rows leave the A4 selection."""
    rows = selected_rows(table_key)
    page = st.session_state.get(_PAGE_FINESS) or []
    before = st.session_state.get(_TABLE_ROWS) or []
    now = [page[r] for r in rows if 0 <= r < len(page)]
    was = [page[r] for r in before if 0 <= r < len(page)]
    basket = [f for f in (st.session_state.get(BASKET) or []) if f not in set(was) - set(now)]
    added = [f for f in now if f not in set(was)]
    for f in added:
        if f not in basket:
            basket.append(f)
    st.session_state[BASKET] = basket
    st.session_state[_TABLE_ROWS] = rows
    if added:
        st.session_state[FOCUS] = added[-1]
        _request_center(added[-1])


def _toggle_basket(finess: str) -> None:
    basket = list(st.session_state.get(BASKET) or [])
    if finess in basket:
        basket.remove(finess)
    else:
        basket.append(finess)
    st.session_state[BASKET] = basket


def _clear_basket() -> None:
    st.session_state[BASKET] = []


def _close_detail() -> None:
    st.session_state[FOCUS] = None


def _request_center(finess: str) -> None:
    """Ask the map to centre on an establishment; the request number makes a repeated request
    differ from the last one (streamlit-folium only moves the map when ``center`` changes)."""
    nonce = int(st.session_state.get("_dacmap_center_requests") or 0) + 1
    st.session_state["_dacmap_center_requests"] = nonce
    st.session_state[MAP_CENTER] = ("focus", finess, nonce)


def _center_on(finess: str) -> None:
    _request_center(finess)


def _search_around(finess: str) -> None:
    st.session_state[KEYS["near"]] = finess
    st.session_state[KEYS["page"]] = 1
    st.session_state[MAP_CENTER] = None


def render_summary(current: Current, criteria: Sequence[str] | None = None) -> None:
    """Count and active criteria; ``criteria`` in plain words (issue 15) when given."""
    res = current.result
    n = res.total
    labels = (list(criteria) if criteria is not None
              else [lab for lab in res.labels if lab != "Établissements ouverts uniquement"])
    how = ""
    if res.centre is not None:  # issue 12: say how distances are measured
        how = (" · durées en voiture par la route" if res.by_road
               else " · distances à vol d'oiseau")
    st.markdown(f"**{n} ressource{'s' if n > 1 else ''}** correspond{'ent' if n > 1 else ''} "
                f"aux critères{how}.  \n"
                + (" · ".join(md(lab) for lab in labels) if labels
                   else "Aucun filtre : toutes les ressources ouvertes du territoire."))
    if res.emptied_by:
        st.info(md(f"Aucun résultat : le critère « {res.emptied_by} » a vidé la sélection."),
                icon=":material/filter_alt_off:")
    if res.unreachable:
        st.caption(f"{len(res.unreachable)} ressource(s) loin de toute route du réseau chargé : "
                   "sans durée.")
    if not res.by_road and res.centre_snap_m is not None:
        st.caption(f"Le lieu est à {res.centre_snap_m / 1000:.1f} km de la route la plus proche du "
                   "réseau chargé : distances à vol d'oiseau.".replace(".", ",", 1))


def render_detail(catalogue: Catalogue, current: Current, finess: str) -> None:
    """The detail panel of one establishment (any establishment of the catalogue)."""
    i = catalogue.finess_row.get(finess)
    found = records_for(catalogue, [finess], current.result.records)
    if i is None or not len(found):
        return
    rec = found.iloc[0]
    dist = rec.get("distance_km")
    with st.container(border=True, key="detail"):
        st.subheader(md(rec["name"]), anchor=False)
        if plain(rec.get("long_name")) and plain(rec.get("long_name")) != plain(rec["name"]):
            st.caption(md(rec["long_name"]))
        st.markdown(f"*{md(rec['category_label'])}* — {md(rec['family_label'])}")
        addr = [plain(rec.get("address")), plain(rec.get("address_complement")),
                " ".join(x for x in (plain(rec.get("postcode")), plain(rec.get("city"))) if x)]
        lines = []
        if any(addr):
            lines.append(":material/location_on: " + md(", ".join(a for a in addr if a)))
        href = tel_href(rec.get("phone"))
        if href:
            lines.append(f":material/call: [{md(format_phone(rec.get('phone')))}]({href})")
        dac = tview.dac_line(catalogue, plain(rec.get("commune")), "DAC de la commune")
        if dac:
            lines.append(dac)
        if pd.notna(dist):
            lines.append(f":material/straighten: à {md(format_km(dist))} (à vol d'oiseau)")
        if pd.notna(rec.get("travel_min", np.nan)):
            lines.append(f":material/directions_car: {md(format_minutes(rec.get('travel_min')))} "
                         "en voiture (par la route)")
        lines.append(f"N° FINESS {md(finess)}"
                     + (f" · entité juridique {md(rec.get('finess_ej'))}" if plain(rec.get("finess_ej")) else ""))
        summary = plain(rec.get("capacity_summary"))
        if summary:
            known = pd.notna(rec.get("capacity_installed")) or pd.notna(rec.get("capacity_authorised"))
            lines.append(f"Capacité : {md(summary)}"
                         + (" — **fictive**" if catalogue.equipment_illustrative and known else ""))
        lines.append("Position : " + md(precision_label(rec.get("geo_precision"))))
        lines.append(f"Données FINESS du {md(format_date(catalogue.data_date))}"
                     + (f" · fiche mise à jour le {md(format_date(rec.get('updated')))}"
                        if format_date(rec.get("updated")) else ""))
        st.markdown("  \n".join(lines))
        eq = exports.equipment_by_finess(catalogue.equipment, [finess])[finess]
        if eq:
            st.caption("Capacités par discipline" + (" (FICTIVES, démonstration)"
                                                     if catalogue.equipment_illustrative else ""))
            st.dataframe(pd.DataFrame({
                "Discipline": [x["discipline"] for x in eq],
                "Activité": [x["activity"] for x in eq],
                "Clientèle": [x["clientele"] for x in eq],
                "Installées": [x["installed"] for x in eq],
                "Autorisées": [x["authorised"] for x in eq],
            }), hide_index=True, width="stretch")
        fpv.render_activities(catalogue, finess)  # FINESS+ activities, publics, capacities (issue 11)
        soc.render_linked(catalogue, finess)  # the same resource in data·inclusion / local (issue 16)
        notes_view.render_resource_notes(finess, plain(rec["name"]), plain(rec.get("dac_id")),
                                         access.current_principal())
        in_basket = finess in (st.session_state.get(BASKET) or [])
        b1, b2 = st.columns(2)
        b3, b4 = st.columns(2)
        b1.button("Retirer de la fiche" if in_basket else "Ajouter à la fiche A4",
                  on_click=_toggle_basket, args=(finess,), key="btn_basket", width="stretch")
        b2.button("Centrer la carte", on_click=_center_on, args=(finess,), key="btn_center",
                  width="stretch", disabled=not bool(catalogue.has_point[i]))
        b3.button("Chercher autour", on_click=_search_around, args=(finess,), key="btn_around",
                  width="stretch", disabled=not bool(catalogue.has_point[i]),
                  help="Ressources autour de cet établissement (rayon choisi à gauche).")
        b4.button("Fermer", on_click=_close_detail, key="btn_close", width="stretch")


def render_map(catalogue: Catalogue, current: Current, options: Options, colors: dict[str, str]) -> None:
    state = current.state
    dac = None if state.national else state.dac
    base = cached_base_layers(catalogue, catalogue_token(catalogue), dac)
    fmap = umap.build_base_map(base, height=settings.MAP_HEIGHT_PX)
    basket = list(st.session_state.get(BASKET) or [])
    focus = st.session_state.get(FOCUS)
    records = current.result.records if current.finess_shown else current.result.records.iloc[0:0]
    labels = {str(f): str(lab) for f, lab in zip(catalogue.families["family"],
                                                  catalogue.families["family_label"])}
    legend = umap.legend_entries(current.result.counts_by_family, labels, colors,
                                 catalogue.family_order())
    social = (soc.cached_layer_input(current.filter_version, current.social,
                                     records if current.finess_shown else None)
              if current.social is not None else None)  # issue 16: their own layer and legend
    layer = umap.build_results_layer(records, colors, catalogue.family_order(), labels,
                                     selected=basket, focus=focus,
                                     version=current.filter_version, legend=legend,
                                     search_area=search_area(current), social=social)
    zone_caption = fpv.add_zone(layer.group, catalogue, focus)  # FINESS+ intervention zone (issue 11)
    center = None
    zoom = None
    req = st.session_state.get(MAP_CENTER)
    if req and req[0] == "focus":
        j = catalogue.finess_row.get(req[1])
        if j is not None and catalogue.has_point[j]:
            # + nonce * 1e-9 degree (0.1 mm): a new request always differs from the last one
            center = (round(float(catalogue.lat[j]), 6) + req[2] * 1e-9,
                      round(float(catalogue.lon[j]), 6))
            # issue 12: pan only, at the current zoom (no street level, the others stay visible)
    social_at = soc.location(soc.focused_row(catalogue, current.social))  # issue 16: its sheet is open
    if social_at is not None:
        layer.group.add_child(SelectionLayer([(*social_at, True)]))
        if req and req[0] == "social" and req[1] == st.session_state.get(soc.SOCIAL_FOCUS):
            center = (round(social_at[0], 6) + req[2] * 1e-9, round(social_at[1], 6))
    # DAC territories (issue 13): coloured territories in the national view, DAC directory layer
    if state.national:
        fill = tview.national_territories_layer(catalogue)
        if fill is not None:
            fmap.add_child(fill)
    dac_layer = tview.directory_layer(catalogue)
    if dac_layer is not None:
        fmap.add_child(dac_layer)
    map_key = f"carte-{base.key}"
    st_folium(fmap, key=map_key, height=settings.MAP_HEIGHT_PX, use_container_width=True,
              feature_group_to_add=layer.group, center=center, zoom=zoom,
              returned_objects=["last_object_clicked", "last_object_clicked_tooltip"],
              on_change=lambda: _on_map_change(map_key))
    if layer.mode == "aggregate":
        st.info(f"Vue agrégée : {current.result.total} ressources regroupées en {layer.drawn} "
                "zones (cliquer une zone pour zoomer). Choisir un territoire ou des filtres "
                f"pour voir chaque ressource (au plus {settings.MAP_MAX_POINTS}).",
                icon=":material/grid_view:")
    if zone_caption:
        st.caption(md(zone_caption))
    missing = (current.result.total if current.finess_shown else 0) - layer.located
    if missing > 0:
        st.caption(f"{missing} ressource{'s' if missing > 1 else ''} sans coordonnées : "
                   "dans la liste, pas sur la carte.")


_TABLE_COLUMNS = {
    "name": "Nom", "category_label": "Catégorie", "commune_name": "Commune",
    "phone": "Téléphone", "capacity_installed": "Capacité (places)",
    "distance_km": "Distance (km)", "finess": "N° FINESS",
}


def _table_tel(phone: object) -> str | None:
    """``tel:`` link shown as ``03.22.25.52.00`` (dots are valid visual separators, RFC 3966)."""
    digits = re.sub(r"\D", "", plain(phone))
    if len(digits) == 10:
        return "tel:" + ".".join(digits[i:i + 2] for i in range(0, 10, 2))
    return tel_href(phone)


#: Shown in the list for a missing value (never "None").
MISSING = "—"


def page_table(records: pd.DataFrame) -> pd.DataFrame:
    """The rows of the list as displayed: French headers, phone as a ``tel:`` link. Next to the
    name: the car travel time and the distance when known, then the places of the chosen
    specialty (issue 12), then the other columns."""
    out = pd.DataFrame({"Nom": records["name"].map(plain)})
    if "travel_min" in records.columns:
        out["Durée (min)"] = pd.to_numeric(records["travel_min"], errors="coerce").round(0).astype("Int64")
    if "distance_km" in records.columns:
        out["Distance (km)"] = pd.to_numeric(records["distance_km"], errors="coerce").round(1)
    if "specialty_installed" in records.columns:
        out["Places (spécialité)"] = pd.to_numeric(records["specialty_installed"],
                                                   errors="coerce").round(0).astype("Int64")
    out["Capacité (places)"] = pd.to_numeric(records["capacity_installed"], errors="coerce").round(0).astype("Int64")
    out["Commune"] = records["commune_name"].map(plain)
    out["Catégorie"] = records["category_label"].map(plain)
    out["Téléphone"] = records["phone"].map(_table_tel)
    out["N° FINESS"] = records["finess"].map(plain)
    return out.reset_index(drop=True)


def render_list(catalogue: Catalogue, current: Current) -> None:
    res = current.result
    records = res.records
    total = res.total
    size = max(1, settings.UI_PAGE_SIZE)
    pages = max(1, -(-total // size))
    c1, c2, c3 = st.columns([2, 1, 3])
    sort_options = list(ustate.SORT_LABELS)
    if st.session_state.get(KEYS["sort"]) not in sort_options:
        st.session_state[KEYS["sort"]] = ""
    c1.selectbox("Trier par", sort_options, key=KEYS["sort"],
                 format_func=lambda s: ustate.SORT_LABELS[s])
    page_value = st.session_state.get(KEYS["page"]) or 1
    if page_value > pages:
        st.session_state[KEYS["page"]] = pages
    c2.number_input(f"Page (sur {pages})", min_value=1, max_value=pages, step=1, key=KEYS["page"])
    page = int(st.session_state.get(KEYS["page"]) or 1)
    start = (page - 1) * size
    chunk = records.iloc[start:start + size]
    c3.caption(f"Ressources {min(start + 1, total)}–{min(start + size, total)} sur {total} "
               "(trier aussi en cliquant un en-tête de colonne, dans la page)")
    table = page_table(chunk)
    st.session_state[_PAGE_FINESS] = list(table["N° FINESS"])
    if not len(table):  # the grid's own empty state is in English ("empty")
        st.caption("Aucune ressource à afficher avec ces critères.")
        return
    table_key = f"liste-{current.filter_version}-{page}"
    if st.session_state.get("_dacmap_table_key") != table_key:
        st.session_state["_dacmap_table_key"] = table_key
        st.session_state[_TABLE_ROWS] = []
    st.dataframe(
        table, key=table_key, on_select=lambda: _on_table_select(table_key),
        selection_mode="multi-row", hide_index=True, width="stretch",
        # two-line rows: long names wrap instead of being cut (issue 15); "—", never "None"
        height=min(38 + 48 * max(len(table), 1), settings.UI_LIST_HEIGHT_PX), row_height=48,
        placeholder=MISSING,
        column_config={
            "Nom": st.column_config.TextColumn(width=180, pinned=True),
            "Durée (min)": st.column_config.NumberColumn(
                format="%d", width="small",
                help="Durée en voiture par la route, en minutes (réseau OpenStreetMap)"),
            "Places (spécialité)": st.column_config.NumberColumn(
                help="Places installées pour la spécialité choisie" + (
                    " — FICTIVES (démonstration)" if catalogue.equipment_illustrative else "")),
            "Catégorie": st.column_config.TextColumn(width="medium"),
            "Téléphone": st.column_config.LinkColumn(display_text=r"tel:(.*)"),
            "Capacité (places)": st.column_config.NumberColumn(
                help="Places installées" + (" — FICTIVES (démonstration)"
                                            if catalogue.equipment_illustrative else "")),
            "Distance (km)": st.column_config.NumberColumn(format="%.1f", width="small",
                                                           help="À vol d'oiseau"),
        })
    st.caption("Cocher des lignes : elles sont entourées sur la carte, la dernière est "
               "détaillée, et toutes vont dans la fiche A4.")


def render_exports(catalogue: Catalogue, current: Current, options: Options) -> None:
    res = current.result
    records = res.records
    state = current.state
    prefix = "france" if state.national else (state.dac or "territoire")
    title_terr = ("France entière" if state.national
                  else catalogue.territory_name(state.dac or "") or state.dac or "")
    criteria = readable_criteria(state.spec(), catalogue,
                                 territory_departments(options, state.dac), res.labels)
    about = {
        "Territoire": title_terr,
        "Critères": " ; ".join(criteria) or "aucun",
        "Nombre de ressources": str(res.total),
        "Date des données FINESS": format_date(catalogue.data_date),
        "Sources": sources_line(catalogue.metadata),
        "Avertissements": " ".join(demo_flags(catalogue.metadata)) or "aucun",
    }
    st.markdown("**Exporter le résultat**")
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.download_button("Liste CSV", data=lambda: exports.csv_bytes(records),
                       file_name=exports.sheet_filename(prefix, "csv"), mime="text/csv",
                       key="dl_csv", icon=":material/download:", width="stretch",
                       on_click="ignore", disabled=res.total == 0)
    c2.download_button("Liste Excel", data=lambda: exports.excel_bytes(records, about),
                       file_name=exports.sheet_filename(prefix, "xlsx"),
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="dl_xlsx", icon=":material/download:", width="stretch",
                       on_click="ignore", disabled=res.total == 0)
    c3.download_button("Points GeoJSON", data=lambda: exports.geojson_bytes(records),
                       file_name=exports.sheet_filename(prefix, "geojson"),
                       mime="application/geo+json", key="dl_geojson",
                       icon=":material/download:", width="stretch", on_click="ignore",
                       disabled=res.total == 0)
    basket = [f for f in (st.session_state.get(BASKET) or []) if f in catalogue.finess_row]
    basket = basket[: settings.UI_MAX_SHEET_ITEMS]
    principal = access.current_principal()  # resolved here: sheet() runs in another thread

    def sheet_context() -> exports.SheetContext:
        dac_name, dac_number = _dac_identity(catalogue, state)
        return exports.SheetContext(
            title="Ressources sélectionnées", territory=title_terr,
            contact=_dac_contact(catalogue, state), criteria=criteria,
            data_date=catalogue.data_date or "", sources=sources_line(catalogue.metadata),
            warnings=demo_flags(catalogue.metadata), dac_name=dac_name or title_terr,
            dac_number=dac_number)

    def sheet_args():
        rows = records_for(catalogue, basket, records)
        notes = (open_notes().for_resources(basket, principal)
                 if principal.may("notes.read_dac") else None)
        return (rows, sheet_context(), exports.equipment_by_finess(catalogue.equipment, basket),
                tview.contacts_by_commune(catalogue, rows.get("commune", [])), notes)

    def sheet() -> bytes:
        rows, context, eq, dacs, notes = sheet_args()
        return exports.a4_sheet_html(rows, context, eq, illustrative=catalogue.equipment_illustrative,
                                     dacs=dacs, notes=notes).encode("utf-8")

    def sheet_pdf() -> bytes:
        rows, context, eq, dacs, notes = sheet_args()
        return exports.a4_sheet_pdf(rows, context, eq, illustrative=catalogue.equipment_illustrative,
                                    dacs=dacs, notes=notes)

    c4.download_button(f"Fiche A4 PDF ({len(basket)})", data=sheet_pdf,
                       file_name=exports.sheet_filename(f"fiche-{prefix}", "pdf"),
                       mime="application/pdf", key="dl_sheet_pdf", icon=":material/picture_as_pdf:",
                       width="stretch", on_click="ignore", disabled=not basket, type="primary",
                       help="Fiche A4 en PDF (générée sur le serveur) des ressources cochées "
                            "dans la liste ou ajoutées depuis leur fiche.")
    c5.download_button(f"Fiche A4 HTML ({len(basket)})", data=sheet,
                       file_name=exports.sheet_filename(f"fiche-{prefix}", "html"),
                       mime="text/html", key="dl_sheet", icon=":material/print:",
                       width="stretch", on_click="ignore", disabled=not basket,
                       help="La même fiche en HTML (ouvrir puis imprimer).")
    if basket:
        names = [plain(catalogue.establishments["name"].iat[catalogue.finess_row[f]]) for f in basket]
        st.caption("Fiche A4 : " + md(" · ".join(names)))
        st.button("Vider la sélection", on_click=_clear_basket, key="btn_clear_basket")


# --- A4 sheet header and notes (issue 15) -------------------------------------------------

def _dac_identity(catalogue: Catalogue, state: ustate.ViewState) -> tuple[str, str]:
    """(DAC name, DAC number) of the current territory; empty strings when unknown."""
    if state.national or not state.dac:
        return "", ""
    i = catalogue.territory_row.get(state.dac)
    if i is None:
        return "", ""
    return plain(catalogue.territories["name"].iat[i]), dac_number(catalogue, state.dac)


def _dac_contact(catalogue: Catalogue, state: ustate.ViewState) -> str:
    """Phone and website of the current DAC (its name heads the sheet)."""
    if state.national or not state.dac:
        return ""
    t = catalogue.territories
    i = catalogue.territory_row.get(state.dac)
    if i is None:
        return ""
    parts: list[str] = []
    if "phone" in t and plain(t["phone"].iat[i]):
        parts.append("Tél. " + format_phone(t["phone"].iat[i]))
    if "website" in t and plain(t["website"].iat[i]):
        parts.append(plain(t["website"].iat[i]))
    return " · ".join(parts)


__all__ = ["MISSING", "page_table", "render_detail", "render_exports", "render_list", "render_map",
           "render_summary"]
