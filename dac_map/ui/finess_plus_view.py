"""FINESS+ in the app (issue 11): the sidebar's activity filters, the « Interviennent à
<commune> » section (services whose intervention zone includes the chosen commune, whatever
their distance), the drawing of a service's zone (union of its communes) and the activities,
publics and capacities of the detail panel. Pure helpers are testable without Streamlit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import folium
import pandas as pd
import shapely
import streamlit as st

from dac_map.query import Catalogue, SearchResult, search
from dac_map.ui import state as ustate
from dac_map.ui.sidebar import FOCUS, KEYS, MAP_CENTER, selected_rows
from dac_map.ui.text import format_date, md, plain

ZONE_COLOR = "#d62728"
SERVING_TABLE = "fp_serving_table"


# --------------------------------------------------------------------------- sidebar

def sidebar_options(catalogue: Catalogue) -> dict[str, dict[str, str]]:
    """Activity types and publics of the active FINESS+ activities (code -> French label)."""
    fp = getattr(catalogue, "finess_plus", None)
    if fp is None:
        return {"fp_type_labels": {}, "fp_public_labels": {}}
    types = fp.activity_types()
    type_labels = {str(c): f"{plain(lab)}{' *' if bool(d) else ''} ({c})"
                   for c, lab, d in zip(types["type_code"], types["type_label"], types["type_label_derived"])}
    a = fp.activities[fp.act_active & (fp.act_row >= 0)]
    pubs = a.dropna(subset=["public_code"]).drop_duplicates("public_code")
    public_labels = {str(c): f"{plain(lab) or 'code ' + str(c)} ({c})"
                     for c, lab in zip(pubs["public_code"], pubs["public_label"])}
    return {"fp_type_labels": dict(sorted(type_labels.items(), key=lambda kv: kv[1].lower())),
            "fp_public_labels": dict(sorted(public_labels.items(), key=lambda kv: kv[1].lower()))}


def render_sidebar_activities(options) -> tuple[list[str], list[str], int, bool]:
    """The « Activités autorisées (FINESS+) » expander; returns types, publics, minimum places
    and whether they are authorised (else installed) places."""
    types = options.fp_type_labels or {}
    publics = options.fp_public_labels or {}
    if not types:
        return [], [], 0, False
    for key, allowed in ((KEYS["fp_types"], types), (KEYS["fp_publics"], publics)):
        cur = st.session_state.get(key)
        if isinstance(cur, list):
            st.session_state[key] = [v for v in cur if v in allowed]
    sb = st.sidebar
    open_ = bool(st.session_state.get(KEYS["fp_types"]) or st.session_state.get(KEYS["fp_publics"])
                 or st.session_state.get(KEYS["fp_min_places"]))
    with sb.expander("Activités autorisées (FINESS+)", expanded=open_):
        chosen_types = st.multiselect("Activité", list(types), key=KEYS["fp_types"], placeholder="Toutes",
                                      format_func=lambda c: types.get(c, c),
                                      help="Activités autorisées du flux FINESS+ Activités (* : libellé "
                                           "reconstruit à partir des codes de l'activité).")
        chosen_publics = st.multiselect("Public", list(publics), key=KEYS["fp_publics"], placeholder="Tous",
                                        format_func=lambda c: publics.get(c, c))
        places = st.number_input("Places minimales (FINESS+)", min_value=0, max_value=5000, step=5,
                                 key=KEYS["fp_min_places"],
                                 help="Capacité de l'activité, jamais des places libres.")
        authorised = st.radio("Statut des places", [False, True], key=KEYS["fp_authorised"], horizontal=True,
                              format_func=lambda v: "autorisées" if v else "installées (constatées)")
    return list(chosen_types), list(chosen_publics), int(places or 0), bool(authorised)


# --------------------------------------------------------------------------- « Interviennent à »

def chosen_commune(state: ustate.ViewState, catalogue: Catalogue, departments: Sequence[str]) -> str | None:
    """The INSEE code of the commune chosen in « Autour de », or None."""
    near = ustate.search_centre(state, catalogue, departments)
    return near.commune if near is not None and near.kind == "commune" else None


def serving_search(catalogue: Catalogue, state: ustate.ViewState, commune: str,
                   departments: Sequence[str] = ()) -> SearchResult | None:
    """Services whose zone includes ``commune``, with the state's other filters except the
    territory and the distance (a service from elsewhere may serve the commune); None when the
    catalogue has no FINESS+ zones."""
    if getattr(catalogue, "finess_plus", None) is None:
        return None
    wanted = dataclasses.replace(state.spec(), dac=None, departments=(), communes=(), near="", serves=commune)
    return search(catalogue, wanted.to_filters(catalogue, departments, warnings=[]), page=1, page_size=None)


def serving_table(catalogue: Catalogue, records: pd.DataFrame, commune: str) -> pd.DataFrame:
    """Rows of the section: name, category, activities serving the commune, phone, FINESS."""
    fp = catalogue.finess_plus
    acts = []
    for fin in records["finess"]:
        row = catalogue.finess_row[fin]
        a = fp.activities_of(row)
        a = a[a["active"]]
        zones = set(fp.zones.loc[fp.zones["commune"] == commune, "activity_id"])
        a = a[a["zone_activity_id"].isin(zones)]
        acts.append(" ; ".join(dict.fromkeys(plain(t) for t in a["type_label"])))
    return pd.DataFrame({
        "Nom": records["name"].map(plain),
        "Téléphone": records["phone"].map(plain),
        "Activité(s) intervenant ici": acts,
        "Zone (communes)": [len(fp.zone_communes(catalogue.finess_row[f])) for f in records["finess"]],
        "Catégorie": records["category_label"].map(plain),
        "N° FINESS": records["finess"].map(plain),
    })


def _on_serving_select() -> None:
    rows = st.session_state.get("_fp_serving_finess") or []
    picked = selected_rows(SERVING_TABLE)
    if picked and 0 <= picked[-1] < len(rows):
        st.session_state[FOCUS] = rows[picked[-1]]
        st.session_state[MAP_CENTER] = None


def render_serving_section(catalogue: Catalogue, state: ustate.ViewState, departments: Sequence[str]) -> bool:
    """Draw « Interviennent à <commune> » when a commune is chosen; True when drawn."""
    commune = chosen_commune(state, catalogue, departments)
    if commune is None or getattr(catalogue, "finess_plus", None) is None:
        return False
    result = serving_search(catalogue, state, commune, departments)
    name = catalogue.commune_name(commune) or commune
    st.markdown(f"#### Interviennent à {md(name)}")
    st.caption("Services dont la **zone d'intervention autorisée** (flux FINESS+ Activités) comprend la "
               "commune, quelle que soit leur distance. Sélectionner une ligne : sa fiche et sa zone "
               "s'affichent sur la carte.")
    if result is None or result.total == 0:
        st.info(f"Aucun service n'a {md(name)} dans sa zone d'intervention (selon les critères choisis).",
                icon=":material/block:")
        return True
    table = serving_table(catalogue, result.records, commune)
    st.session_state["_fp_serving_finess"] = list(table["N° FINESS"])
    st.dataframe(table, key=SERVING_TABLE, on_select=_on_serving_select, selection_mode="single-row",
                 hide_index=True, width="stretch", height=min(38 + 35 * len(table), 320))
    return True


# --------------------------------------------------------------------------- zone on the map

def zone_geometry(catalogue: Catalogue, finess: str):
    """Union (EPSG:4326) of the outlines of the communes of an establishment's intervention
    zone, the number of zone communes without an outline, and the number of zone communes;
    None when it has no zone."""
    fp = getattr(catalogue, "finess_plus", None)
    row = catalogue.finess_row.get(finess)
    if fp is None or row is None:
        return None
    codes = fp.zone_communes(row)
    if not codes:
        return None

    def compute():
        rows = [catalogue.commune_row[c] for c in codes if c in catalogue.commune_row]
        geom = shapely.union_all(catalogue.communes.geometry.to_numpy()[rows]) if rows else None
        return geom, len(codes) - len(rows), len(codes)

    return catalogue.cached(("fp_zone", finess), compute)


def add_zone(group: folium.FeatureGroup, catalogue: Catalogue, finess: str | None) -> str | None:
    """Add the intervention zone of ``finess`` to the results group; returns a French caption."""
    if not finess:
        return None
    got = zone_geometry(catalogue, finess)
    if got is None:
        return None
    geom, missing, total = got
    name = plain(catalogue.establishments["name"].iat[catalogue.finess_row[finess]])
    if geom is not None:
        folium.GeoJson(shapely.geometry.mapping(geom), name="zone_intervention",
                       style_function=lambda _f: {"color": ZONE_COLOR, "weight": 2, "fillColor": ZONE_COLOR,
                                                  "fillOpacity": 0.15, "dashArray": "4"},
                       tooltip=f"Zone d'intervention : {name}").add_to(group)
    text = f"Zone d'intervention de {name} : {total} commune{'s' if total > 1 else ''}"
    if missing:
        text += f" ({missing} sans contour chargé, non dessinée{'s' if missing > 1 else ''})"
    return text


# --------------------------------------------------------------------------- detail panel

def _places(caps: pd.DataFrame, statuses: tuple[str, ...]) -> str:
    c = caps[caps["status"].isin(statuses)]
    if not len(c):
        return ""
    per = c.groupby(["activity_id", "unit"])["number"].max().reset_index()
    parts = []
    for unit, n in per.groupby("unit")["number"].sum().items():
        label = {"01": "lit", "02": "place", "03": "logement"}.get(unit, "unité")
        parts.append(f"{int(n)} {label}{'s' if n >= 2 else ''}")
    return ", ".join(parts)


def activities_table(catalogue: Catalogue, finess: str) -> pd.DataFrame | None:
    """The establishment's FINESS+ activities in plain French (None without any)."""
    from dac_map.finess_plus.model import AUTHORISED_STATUSES, INSTALLED_STATUSES

    fp = getattr(catalogue, "finess_plus", None)
    row = catalogue.finess_row.get(finess)
    if fp is None or row is None:
        return None
    acts = fp.activities_of(row)
    if not len(acts):
        return None
    caps = fp.capacities_of(list(acts["activity_id"]))
    rows = []
    for a in acts.itertuples(index=False):
        c = caps[caps["activity_id"] == a.activity_id]
        zone = fp.zones[fp.zones["activity_id"] == a.zone_activity_id] if isinstance(a.zone_activity_id, str) \
            else fp.zones.iloc[0:0]
        rows.append({
            "Activité": plain(a.type_label) + (" *" if bool(a.type_label_derived) else ""),
            "Public": plain(a.public_label),
            "État": ("en activité" if a.active else "inactive / fermée"),
            "Depuis": format_date(a.start_date),
            "Places installées": _places(c, INSTALLED_STATUSES),
            "Places autorisées": _places(c, AUTHORISED_STATUSES),
            "Zone d'intervention": f"{len(zone)} commune{'s' if len(zone) > 1 else ''}" if len(zone) else "",
        })
    return pd.DataFrame(rows)


def render_activities(catalogue: Catalogue, finess: str) -> None:
    """Activities, publics and capacities (FINESS+) in the detail panel."""
    table = activities_table(catalogue, finess)
    if table is None:
        return
    st.caption("Activités autorisées (flux FINESS+ Activités, ANS) — places installées ou autorisées, "
               "jamais des places libres ; * libellé reconstruit à partir des codes de l'activité.")
    st.dataframe(table, hide_index=True, width="stretch")


def flows_line(metadata: dict[str, object]) -> str | None:
    """French attribution and dates of the FINESS+ flows of the store, or None."""
    parts = []
    if metadata.get("finess_plus_structures_file"):
        parts.append(f"Structures du {format_date(metadata.get('finess_plus_structures_date')) or '?'}")
    if metadata.get("finess_plus_activites_file"):
        parts.append(f"Activités du {format_date(metadata.get('finess_plus_activites_date')) or '?'}")
    if not parts:
        return None
    names = " ".join(str(metadata.get(k, "")) for k in ("finess_plus_structures_file", "finess_plus_activites_file"))
    example = " (fichiers d'exemple publiés par l'ANS)" if "exemple" in names.lower() else ""
    return "Flux FINESS+ (ANS, Licence Ouverte) : " + ", ".join(parts) + example


# --------------------------------------------------------------------------- coverage by zones

_ZONE_BINS = ((0, "#ffffff", "aucun service (zone blanche)"), (1, "#c6dbef", "1 service"),
              (2, "#6baed6", "2 services"), (3, "#2171b5", "3 services ou plus"))


def zone_coverage_map(catalogue: Catalogue, table: pd.DataFrame) -> folium.Map:
    """Choropleth (EPSG:4326) of the number of services per commune (one activity type)."""
    from dac_map import settings

    rows = [catalogue.commune_row[c] for c in table["commune"] if c in catalogue.commune_row]
    com = catalogue.communes.iloc[rows][["code", "name", "geometry"]].copy()
    com["services"] = com["code"].map(dict(zip(table["commune"], table["services"]))).fillna(0).astype(int)
    minx, miny, maxx, maxy = com.total_bounds if len(com) else (-5, 41, 10, 51)
    tiles = settings.TILES if settings.TILES and settings.TILES.lower() != "none" else None
    m = folium.Map(tiles=tiles, attr=settings.TILES_ATTRIBUTION if tiles else None, control_scale=True)
    m.fit_bounds([[miny, minx], [maxy, maxx]])

    def style(feature) -> dict:
        n = feature["properties"]["services"]
        color = next(c for lim, c, _ in reversed(_ZONE_BINS) if n >= lim)
        return {"fillColor": color, "color": "#555555" if n == 0 else "#ffffff", "weight": 0.6,
                "fillOpacity": 0.8}

    folium.GeoJson(com.to_json(), style_function=style,
                   tooltip=folium.GeoJsonTooltip(["name", "code", "services"],
                                                 aliases=["Commune", "INSEE", "Services"])).add_to(m)
    return m


def render_zone_coverage(catalogue: Catalogue, key: str = "fpcov") -> None:
    """« Couverture par zones d'intervention (FINESS+) »: per commune of a territory, the number
    of services whose zone covers it for an activity type; communes with none are white zones."""
    from streamlit_folium import st_folium

    from dac_map.finess_plus.coverage import zone_coverage, zone_types

    if getattr(catalogue, "finess_plus", None) is None:
        return
    types = zone_types(catalogue)
    if not len(types):
        return
    st.divider()
    st.subheader("Couverture par zones d'intervention (FINESS+)")
    st.caption("Pour les services à domicile, la zone d'intervention autorisée (liste de communes du flux "
               "FINESS+ Activités) remplace la distance : un service proche qui n'a pas la commune dans sa "
               "zone n'y intervient pas.")
    deps = sorted({c[:3] if c[:2] in ("97", "98") else c[:2] for c in fp_zone_communes(catalogue)})
    terr = catalogue.territories
    choices = [str(t) for t, d in zip(terr["dac_id"], terr["departments"])
               if set(str(d or "").split()) & set(deps)] or [str(t) for t in terr["dac_id"]]
    c1, c2 = st.columns(2)
    dac = c1.selectbox("Territoire", choices, key=f"{key}_dac",
                       format_func=lambda t: catalogue.territory_name(t) or t)
    labels = dict(zip(types["type_code"], types["type_label"]))
    code = c2.selectbox("Activité", list(types["type_code"]), key=f"{key}_type",
                        format_func=lambda c: f"{labels.get(c, c)} ({c})")
    i = catalogue.territory_row.get(dac)
    tdeps = set(str(terr["departments"].iat[i] or "").split()) if i is not None else set()
    tcoms = set(str(terr["communes"].iat[i] or "").split()) if i is not None else set()
    communes = [c for c in catalogue.communes["code"].astype(str)
                if c in tcoms or (c[:3] if c[:2] in ("97", "98") else c[:2]) in tdeps]
    table = zone_coverage(catalogue, communes, [code])
    white = table[table["white"]]
    k = st.columns(3)
    k[0].metric("Communes", len(table))
    k[1].metric("Zones blanches", len(white))
    k[2].metric("Communes couvertes", len(table) - len(white))
    st_folium(zone_coverage_map(catalogue, table), key=f"{key}_map_{dac}_{code}", height=480,
              use_container_width=True, returned_objects=[])
    st.caption(" · ".join(f"{lab}" for _, _, lab in _ZONE_BINS) + " — zones d'intervention du flux FINESS+ "
               "Activités (ANS).")
    st.markdown(f"**Zones blanches pour cette activité : {len(white)} commune(s)**")
    st.dataframe(white.rename(columns={"commune_name": "Commune", "commune": "Code INSEE"})[["Commune", "Code INSEE"]],
                 hide_index=True, width="stretch", height=min(38 + 35 * max(len(white), 1), 300))


def fp_zone_communes(catalogue: Catalogue) -> set[str]:
    """Every commune of an intervention zone in the store."""
    fp = getattr(catalogue, "finess_plus", None)
    return set(fp.zones["commune"].astype(str)) if fp is not None else set()
