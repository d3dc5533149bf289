"""Streamlit pieces of the coverage features: choropleth mode and ARS report download (the
unmet-need form and page are in :mod:`dac_map.ui.unmet_view`). Called from ``app.py``; the computations live in :mod:`dac_map.coverage`, the
map itself (pure folium, tested without Streamlit) in :mod:`dac_map.ui.choropleth`.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import streamlit as st

from dac_map import settings
from dac_map.coverage.indicators import commune_coverage
from dac_map.coverage.resources import ResourceType
from dac_map.query import Catalogue
from dac_map.coverage.population import PopulationTable, is_demo_store, read_population
from dac_map.coverage.report import build_report
from dac_map.coverage.report_render import (
    fmt_number,
    render_csv,
    render_html,
    render_pdf,
    write_report,
)
from dac_map.errors import DacMapError
from dac_map.privacy import allowed_name_pairs
from dac_map.tabular import csv_bytes
from dac_map.ui.choropleth import MODE_DISTANCE, MODE_LABELS, MODE_RATIO, MODE_TIME, coverage_map

#: Roles offered in the unmet-need form (optional; never a name).
# --------------------------------------------------------------------------- cached loading

def _mtime(path: str | Path) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_population(path: str, mtime: float) -> PopulationTable:
    return read_population(path)


def load_data(store_path: str | Path | None = None) -> Catalogue:
    """The store's catalogue (default: :data:`~dac_map.settings.STORE_PATH`), the one the
    search page uses (loaded once per process and file version,
    :func:`dac_map.ui.data.catalogue_at`)."""
    from dac_map.ui.data import catalogue_at

    return catalogue_at(settings.STORE_PATH if store_path is None else store_path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _cached_name_pairs(path: str, mtime: float) -> frozenset[str]:
    from dac_map import store

    names: list[str] = []
    for layer in (store.ESTABLISHMENTS, store.COMMUNES):
        try:
            frame = store.open_store(path).read_layer(layer, columns=["name"], read_geometry=False)
        except DacMapError:
            continue
        names.extend(str(v) for v in frame["name"].dropna())
    return allowed_name_pairs(names)


def public_name_pairs(store_path: str | Path) -> frozenset[str]:
    """Word pairs of the store's establishment and commune names (cached until the file
    changes): public names that the person-name check of generated filter labels ignores."""
    return _cached_name_pairs(str(store_path), _mtime(store_path))


def load_population(path: str | Path | None = None,
                    data: Catalogue | None = None) -> PopulationTable | None:
    """``path`` (``"none"`` = without), or the table of the ``POPULATION_PATH`` setting —
    whose FICTITIOUS demo table is only used when ``data`` is a demo store; cached. None when
    not configured or missing."""
    p = str(settings.POPULATION_PATH if path is None else path or "")
    if not p or p.lower() == "none" or not Path(p).is_file():
        return None
    table = _cached_population(p, _mtime(p))
    if path is None and table.fictitious and not is_demo_store(data.metadata if data else {}):
        return None
    return table


def _territory_select(data: Catalogue, dac_id: str | None, key: str) -> str:
    if dac_id:
        return dac_id
    ids = list(data.territories["dac_id"])
    names = dict(zip(data.territories["dac_id"], data.territories["name"]))
    with_est = set(data.establishments["dac_id"].dropna())
    ids = [i for i in ids if i in with_est] or ids
    default = ids.index(settings.DEFAULT_DAC) if settings.DEFAULT_DAC in ids else 0
    return st.selectbox("Territoire DAC", ids, index=default, format_func=lambda i: names.get(i, i),
                        key=f"{key}_dac")


def _family_select(data: Catalogue, key: str, label: str = "Type de ressource") -> ResourceType:
    fam = data.families.sort_values("order") if "order" in data.families else data.families
    present = set(data.establishments["family"].dropna())
    ids = [f for f in fam["family"] if f in present]
    labels = dict(zip(fam["family"], fam["family_label"]))
    default = ids.index(settings.COVERAGE_RATIO_FAMILY) if settings.COVERAGE_RATIO_FAMILY in ids else 0
    chosen = st.selectbox(label, ids, index=default, format_func=lambda f: labels.get(f, f),
                          key=f"{key}_family")
    family = ResourceType.family(chosen, labels.get(chosen, chosen))
    precise = _precise_type_select(data, key)
    if precise is not None:
        return precise
    if not data.has_equipment:
        return family
    # Disciplines offered by establishments of that family (the one rule, offered_lines).
    eq = data.equipment_arrays
    of_family = family.mask(data)[eq.row] & eq.offered
    codes = sorted(set(eq.discipline.values[eq.discipline.codes[of_family & (eq.discipline.codes >= 0)]]))
    names = eq.labels["discipline"]
    disc = st.selectbox("Discipline d'équipement (facultatif)", ["", *codes],
                        format_func=lambda d: f"{names.get(d) or d} ({d})" if d else "Toutes",
                        key=f"{key}_discipline")
    if not disc:
        return family
    return ResourceType(families=(chosen,), disciplines=(disc,),
                        label=f"{labels.get(chosen, chosen)} — {names.get(disc) or disc}")


# --- issue 15: coverage by category / discipline, in the coordinators' words ---------------

def precise_types(data: Catalogue) -> dict[str, ResourceType]:
    """Resource types finer than a family, offered by the coverage and report pages: entries
    of the synonyms table made of categories and/or disciplines present in the data (« EHPAD »,
    « SSIAD », « Addictologie (CSAPA) »...), then every FINESS category present. Keyed by the
    label shown."""
    from dac_map.query.errors import QueryError
    from dac_map.query.synonyms import load_synonyms

    present = set(data.establishments["category"].astype(str))
    discs = (set(str(d) for d in data.equipment_arrays.labels.get("discipline", {}))
             if data.has_equipment else set())
    out: dict[str, ResourceType] = {}
    try:
        table = load_synonyms()
    except QueryError:
        table = ()
    for syn in table:
        if syn.activity_types or syn.clienteles:
            continue
        cats = tuple(c for c in syn.categories if c in present)
        dis = tuple(d for d in syn.disciplines if d in discs)
        if (syn.categories and not cats) or (syn.disciplines and not dis):
            continue
        out.setdefault(syn.label, ResourceType(categories=cats, disciplines=dis, label=syn.label))
    cat = data.categories
    names = dict(zip(cat["category"].astype(str), cat["category_label"].astype(str)))
    for c in sorted(present, key=lambda c: names.get(c, c).lower()):
        label = f"Catégorie FINESS : {names.get(c, c)}"
        out.setdefault(label, ResourceType(categories=(c,), label=names.get(c, c)))
    return out


def _precise_type_select(data: Catalogue, key: str) -> ResourceType | None:
    types = precise_types(data)
    chosen = st.selectbox("Ou un type précis (sigle, catégorie FINESS)", ["", *types],
                          format_func=lambda t: t or "— famille entière —", key=f"{key}_precise",
                          help="Ex. EHPAD, SSIAD, Addictologie (CSAPA), ou toute catégorie FINESS "
                               "présente : remplace la famille choisie au-dessus.")
    return types.get(chosen) if chosen else None


def _data_warnings(data: Catalogue, population: PopulationTable | None) -> None:
    if data.metadata.get("equipment_illustrative"):
        st.warning("Capacités FICTIVES (données de démonstration) : les places affichées sont "
                   "illustratives.")
    if population is not None and population.fictitious:
        st.warning("Table de population FICTIVE (démonstration) : les ratios par habitant de "
                   "75 ans ou plus sont illustratifs.")


# --------------------------------------------------------------------------- coverage mode

def _page_data(store_path: str | Path | None, population_path: str | Path | None,
               dac_id: str | None, key: str, unavailable: str
               ) -> tuple[Catalogue, PopulationTable | None, str] | None:
    """The store's catalogue, the population table and the territory chosen in the page's
    selector; None (after an error message starting with ``unavailable``) when the store
    cannot be read."""
    try:
        data = load_data(store_path)
    except DacMapError as exc:
        st.error(f"{unavailable} : {exc}")
        return None
    population = load_population(population_path, data)
    return data, population, _territory_select(data, dac_id, key)


def render_coverage_mode(store_path: str | Path | None = None, dac_id: str | None = None,
                         *, population_path: str | Path | None = None, key: str = "cov") -> None:
    """The coverage map mode: choose the kind of resource, distance or ratio, thresholds; see
    the choropleth of the territory's communes, the key figures and the white zones."""
    from streamlit_folium import st_folium

    page = _page_data(store_path, population_path, dac_id, key, "Couverture indisponible")
    if page is None:
        return
    data, population, dac = page
    c1, c2, c3 = st.columns([3, 2, 2])
    with c1:
        resource = _family_select(data, key)
    elderly = resource.for_elderly(data)  # 75+ ratio only for resources meant for the elderly
    if not elderly:
        population = None
    from dac_map.network import try_load_network  # issue 12: travel times when a network exists

    network = try_load_network(dac)
    modes = ([MODE_TIME] if network is not None else []) + [MODE_DISTANCE] + (
        [MODE_RATIO] if population is not None else [])
    with c2:
        mode = st.radio("Carte", modes, format_func=MODE_LABELS.get, key=f"{key}_mode")
    with c3:
        threshold = st.number_input("Seuil de zone blanche (km)", min_value=1.0, max_value=200.0,
                                    value=float(settings.COVERAGE_WHITE_ZONE_KM), step=1.0,
                                    format="%.0f", key=f"{key}_threshold")
        threshold_min = None
        if network is not None:
            threshold_min = st.number_input(
                "Seuil de zone blanche (minutes en voiture)", min_value=1.0, max_value=240.0,
                value=float(settings.COVERAGE_WHITE_ZONE_MIN), step=5.0, format="%.0f",
                key=f"{key}_threshold_min")
        radius = settings.COVERAGE_CATCHMENT_KM
        if mode == MODE_RATIO:
            radius = st.number_input("Rayon du ratio (km, 0 = la commune)", min_value=0.0,
                                     max_value=100.0, value=float(settings.COVERAGE_CATCHMENT_KM),
                                     step=5.0, format="%.0f", key=f"{key}_radius")
    if not elderly:
        st.caption("Ratio par 1 000 habitants de 75 ans ou plus proposé seulement pour les "
                   "ressources destinées aux personnes âgées.")
    elif population is None:
        st.caption("Aucune table de population : ratios par habitant indisponibles "
                   "(réglage POPULATION_PATH).")
    _data_warnings(data, population)
    try:
        cov = commune_coverage(data, dac, resource, threshold,
                               population.pop_75plus if population is not None else None, radius,
                               network=network, threshold_min=threshold_min)
    except (DacMapError, ValueError) as exc:
        st.error(f"Calcul impossible : {exc}")
        return
    s = cov.summary()
    k = st.columns(4)
    k[0].metric("Communes", fmt_number(s["communes"]))
    if mode == MODE_TIME:
        k[1].metric("Zones blanches (durée)", fmt_number(s["white_zones_time"]))
        k[2].metric("Durée médiane", f"{fmt_number(s['travel_median_min'], 0)} min")
    else:
        k[1].metric("Zones blanches", fmt_number(s["white_zones"]))
        k[2].metric("Distance moyenne", f"{fmt_number(s['distance_mean_km'], 1)} km")
    if "places_per_1000_75plus" in s:
        k[3].metric("Places / 1 000 hab. 75 ans +", fmt_number(s["places_per_1000_75plus"], 1))
    else:
        k[3].metric("Distance maximale", f"{fmt_number(s['distance_max_km'], 1)} km")
    st.caption(f"{fmt_number(s['resources'])} ressource(s) de ce type dans le territoire ; "
               "les distances tiennent compte aussi de celles des territoires voisins chargés.")
    for note in cov.notes:
        st.caption(note)
    m = coverage_map(cov, mode)
    st_folium(m, key=f"{key}_map_{dac}_{mode}", height=settings.MAP_HEIGHT_PX,
              use_container_width=True, returned_objects=[])
    if mode == MODE_TIME:
        st.caption("Durées en voiture par la route depuis le centre géométrique de chaque commune "
                   "(réseau OpenStreetMap, vitesses par type de route) : approximatives.")
        wt = cov.white_zones_by_time
        st.subheader(f"Zones blanches : {len(wt)} commune(s) à plus de "
                     f"{fmt_number(cov.threshold_min, 0)} min en voiture")
        if len(wt):
            st.dataframe(wt.rename(columns={
                "name": "Commune", "code": "Code INSEE", "travel_min": "Durée (min)",
                "travel_nearest_name": "Ressource la plus proche (route)",
                "distance_km": "Distance à vol d'oiseau (km)", "snap_m": "Distance à la route (m)",
            }).round(1), hide_index=True, width="stretch")
    else:
        st.caption("Distances en ligne droite depuis le centre géométrique de chaque commune "
                   "(Lambert-93), à vol d'oiseau, pas des temps de trajet.")
    wz = cov.white_zones
    st.subheader(f"Zones blanches : {len(wz)} commune(s) à plus de {fmt_number(threshold, 1)} km")
    if len(wz):
        show = wz.rename(columns={"name": "Commune", "code": "Code INSEE",
                                  "distance_km": "Distance (km)",
                                  "nearest_name": "Ressource la plus proche",
                                  "nearest_commune": "Située à", "pop_75plus": "Hab. 75 ans +"})
        st.dataframe(show.round(1), hide_index=True, width="stretch")
    table = cov.table.drop(columns="geometry")
    st.download_button("Télécharger le tableau par commune (CSV)",
                       csv_bytes(table, decimal="."),
                       file_name=f"couverture_{dac}_{resource.key().replace('=', '-')}.csv",
                       mime="text/csv", key=f"{key}_csv")


# --------------------------------------------------------------------------- ARS report

def render_ars_report_download(store_path: str | Path | None = None,
                               dac_id: str | None = None, *,
                               db_path: str | Path | None = None,
                               reports_dir: str | Path | None = None,
                               population_path: str | Path | None = None,
                               key: str = "ars") -> None:
    """Build the periodic ARS report on demand and offer it as printable HTML and CSV; saving
    it keeps a snapshot so that the next report lists the changes. Defaults: the settings
    ``STORE_PATH``, ``UNMET_NEEDS_DB`` and ``REPORTS_DIR``, read at call time."""
    reports_dir = settings.REPORTS_DIR if reports_dir is None else reports_dir
    page = _page_data(store_path, population_path, dac_id, key, "Rapport indisponible")
    if page is None:
        return
    data, population, dac = page
    c1, c2 = st.columns([3, 2])
    with c1:
        resource = _family_select(data, key, "Type de ressource des zones blanches")
    with c2:
        threshold = st.number_input("Seuil de zone blanche (km)", min_value=1.0, max_value=200.0,
                                    value=float(settings.COVERAGE_WHITE_ZONE_KM), step=1.0,
                                    format="%.0f", key=f"{key}_threshold")
    start = end = None
    if st.checkbox("Choisir la période des besoins non couverts (par défaut : depuis le "
                   "rapport précédent)", key=f"{key}_custom"):
        today = date.today()
        period = st.date_input("Période", value=(today - timedelta(days=90), today),
                               key=f"{key}_period", format="DD/MM/YYYY")
        if isinstance(period, (tuple, list)) and len(period) == 2:
            start, end = period
    save = st.checkbox("Archiver ce rapport (sert de référence pour le prochain)", value=True,
                       key=f"{key}_save")
    if st.button("Préparer le rapport pour l'ARS", key=f"{key}_go", type="primary"):
        try:
            rep = build_report(data, dac, resource, threshold, population,
                               settings.COVERAGE_CATCHMENT_KM, db_path, reports_dir, start, end)
            if save:
                write_report(rep, reports_dir)
        except (DacMapError, OSError) as exc:
            st.error(f"Rapport impossible : {exc}")
            return
        st.session_state[f"{key}_html"] = render_html(rep).encode("utf-8")
        try:
            st.session_state[f"{key}_pdf"] = render_pdf(rep)
        except DacMapError as exc:  # WeasyPrint / Pango missing: HTML still offered
            st.session_state[f"{key}_pdf"] = None
            st.warning(f"PDF indisponible : {exc}")
        st.session_state[f"{key}_csv"] = render_csv(rep)
        st.session_state[f"{key}_name"] = f"rapport_ars_{dac}_{rep.generated_at[:10]}"
        st.session_state[f"{key}_info"] = (
            f"{rep.summary.get('white_zones')} zone(s) blanche(s), {rep.unmet_total} besoin(s) "
            "non couvert(s) sur la période"
            + (f" ; comparé au rapport du {rep.previous.get('generated_at', '')[:10]}"
               if rep.previous else " ; premier rapport"))
    if f"{key}_html" in st.session_state:
        st.success(st.session_state[f"{key}_info"])
        name = st.session_state[f"{key}_name"]
        d0, d1, d2 = st.columns(3)
        pdf = st.session_state.get(f"{key}_pdf")
        d0.download_button("Rapport PDF (A4)", pdf or b"", file_name=f"{name}.pdf",
                           mime="application/pdf", key=f"{key}_dl_pdf", type="primary",
                           disabled=not pdf, icon=":material/picture_as_pdf:")
        d1.download_button("Rapport HTML (A4)", st.session_state[f"{key}_html"],
                           file_name=f"{name}.html", mime="text/html", key=f"{key}_dl_html")
        d2.download_button("Indicateurs (CSV)", st.session_state[f"{key}_csv"],
                           file_name=f"{name}.csv", mime="text/csv", key=f"{key}_dl_csv")
