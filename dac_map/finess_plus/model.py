"""FINESS+ tables -> the store's layers.

* :func:`build_establishments`: Structures establishments shaped like the ``etablissements``
  layer of the etalab ETL (same columns, so the whole app sees them) plus FINESS+ columns
  (``source``, ``state``, ``closed_on``, ``ban_key``, ``ban_score``, ``ege_id``);
* :func:`build_activity_layers`: ``activites`` (labelled, with ``zone_activity_id``: the
  activity whose intervention zone an establishment's activity inherits), ``capacites`` and
  ``zones_intervention``;
* :func:`stub_establishments`: establishments that only the Activités flow names (no address):
  kept without position so that their activities and zones are not lost;
* :func:`capacity_totals`: installed / authorised places per establishment from the capacities;
* :func:`merge_establishments`: etalab + FINESS+ (FINESS+ wins, differences reported).

Geometry: ``geometry`` is a WGS84 point (EPSG:4326, degrees); ``x_m``/``y_m`` are metres in
``epsg_m`` (Lambert-93 EPSG:2154 in metropolitan France, the local UTM CRS overseas).
"""

from __future__ import annotations


import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from dac_map import settings
from dac_map.codes import departments_of
from dac_map.errors import KEPT, SKIPPED
from dac_map.finess_plus.activites import LEVEL_ENTITY, LEVEL_ESTABLISHMENT, ActivitesTables
from dac_map.finess_plus.deviations import DeviationReport
from dac_map.finess_plus.labels import (
    NATURE_COMPONENTS,
    NATURE_LABELS,
    R392_PREFIX,
    STATE_LABELS,
    Labels,
    load_labels,
    r392_key,
)
from dac_map.finess_plus.positions import resolve_positions
from dac_map.finess_plus.structures import StructuresTables

SOURCE_STRUCTURES = "finess_plus"
SOURCE_ACTIVITES_ONLY = "finess_plus_activites"
SOURCE_ETALAB = "etalab"

#: Capacity statuses (TRE_R330) counted as installed / authorised places.
INSTALLED_STATUSES = ("08", "01")
AUTHORISED_STATUSES = ("09",)
#: Capacity units (TRE_R329) counted as places: bed (01) and place (02); housing (03) is not.
PLACE_UNITS = ("01", "02")

STATUS_OPEN = "ouvert"
STATUS_CLOSED = "fermé"


def department_of(commune: pd.Series) -> pd.Series:
    """INSEE department of INSEE commune codes (:func:`dac_map.codes.departments_of`; NA stays NA)."""
    c = commune.astype("string")
    return departments_of(c.fillna("")).astype("string").where(c.notna())


def department_of_finess(finess: pd.Series) -> pd.Series:
    """Department of registration from a FINESS number's first characters (``01``..``95``,
    ``2A``/``2B``, ``97x`` overseas: ``9A``..``9F`` are mapped to 971..976)."""
    f = finess.astype("string")
    head = f.str[:2]
    overseas = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976"}
    return head.map(lambda h: overseas.get(h, h) if isinstance(h, str) else pd.NA).astype("string")


def _join(*cols: pd.Series) -> pd.Series:
    """Text columns joined with single spaces, blanks skipped (Arrow-vectorised)."""
    arrays = []
    for c in cols:
        a = pa.array(c.astype(object).where(c.notna(), None).tolist(), type=pa.string())
        arrays.append(pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.string()), a))
    joined = pc.binary_join_element_wise(*arrays, " ", null_handling="skip")
    out = pd.Series(joined.to_pandas(), index=cols[0].index, dtype="string")
    return out.where(out.str.len() > 0, pd.NA)


def _datetime(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.astype("string").str[:19], errors="coerce", format="mixed").astype("datetime64[ms]")


# --------------------------------------------------------------------------- establishments

def _category_tables(categories: pd.DataFrame | None, labels: Labels) -> pd.DataFrame:
    """category -> label, aggregate, aggregate label: the store's nomenclature, completed by
    TRE_R397 (level 4 = category, its level-3 parent = aggregate)."""
    r397 = labels.table("R397")
    rows = {c: (lab, None, None) for c, lab in r397.labels.items() if len(c) == 3}
    out = pd.DataFrame([(c, *v) for c, v in rows.items()],
                       columns=["category", "category_label", "aggregate", "aggregate_label"])
    import csv
    from dac_map.finess_plus.labels import TRE_DIR, TRE_FILES
    with open(TRE_DIR / TRE_FILES["R397"], encoding="utf-8") as f:
        parents = {r["code"]: (r["agregat_niv3"], r["libelle_agregat_niv3"])
                   for r in csv.DictReader(f, delimiter=";") if r.get("niveau") == "4"}
    out["aggregate"] = out["category"].map(lambda c: parents.get(c, (None, None))[0])
    out["aggregate_label"] = out["category"].map(lambda c: parents.get(c, (None, None))[1])
    if categories is not None and len(categories):
        base = categories[["category", "category_label", "aggregate", "aggregate_label"]]
        out = pd.concat([base, out[~out["category"].isin(base["category"])]], ignore_index=True)
    return out.set_index("category")


def build_establishments(st: StructuresTables, report: DeviationReport, *,
                         categories: pd.DataFrame | None = None,
                         family_of: pd.Series | None = None,
                         family_labels: pd.Series | None = None,
                         communes: gpd.GeoDataFrame | None = None,
                         other_family: str = "autres",
                         labels: Labels | None = None) -> gpd.GeoDataFrame:
    """Structures establishments as an ``etablissements``-shaped GeoDataFrame (EPSG:4326).

    ``family_of`` maps category codes to family ids, ``family_labels`` family ids to labels.
    Closed or inactive establishments are kept with ``status`` = ``fermé``.
    """
    labels = labels or load_labels()
    est = st.establishments
    file = st.path.name
    pos = resolve_positions(est, communes, report, file)
    cats = _category_tables(categories, labels)
    cat = est["category"]
    unknown_cat = cat.notna() & ~cat.isin(cats.index)
    for code, n in cat[unknown_cat].value_counts().items():
        first = est.loc[unknown_cat & (cat == code), "json_path"].iloc[0]
        report.add("unknown_code", file, f"{first}.categorieentiteGeographiqueExercice",
                   f"catégorie {code!r} absente de la nomenclature (TRE_R397)", KEPT, count=int(n))
    closed = est["closed_on"].notna() | est["state"].ne("A").fillna(True)
    bad_state = est["state"].notna() & ~est["state"].isin(["A", "I"])
    if bad_state.any():
        report.add("unknown_state", file, f"{est.loc[bad_state, 'json_path'].iloc[0]}.etatObjet",
                   f"état {est.loc[bad_state, 'state'].iloc[0]!r}", KEPT, count=int(bad_state.sum()))
    family = cat.map(family_of) if family_of is not None else pd.Series(pd.NA, index=est.index)
    no_family = family.isna()
    family = family.fillna(other_family).astype("string")
    commune = est["commune"].astype("string")
    out = pd.DataFrame({
        "finess": est["finess"],
        "finess_ej": est["finess_ej"],
        "name": est["name"],
        "long_name": est["long_name"],
        "name_complement": est["name_complement"],
        "address": _join(est["number"], est["street_type"], est["street"]),
        "address_complement": est["locality"],
        "postcode": est["postcode"],
        "city": est["city"],
        "commune": commune,
        "department": department_of(commune),
        "department_finess": department_of_finess(est["finess"]),
        "phone": est["phone"].str.replace(r"\D", "", regex=True),
        "fax": est["fax"].str.replace(r"\D", "", regex=True),
        "category": cat,
        "category_label": cat.map(cats["category_label"]).astype("string"),
        "aggregate": cat.map(cats["aggregate"]).astype("string"),
        "aggregate_label": cat.map(cats["aggregate_label"]).astype("string"),
        "siret": est["siret"],
        "ape": pd.Series(pd.NA, index=est.index, dtype="string"),
        "mft": est["mft"],
        "mft_label": pd.Series(pd.NA, index=est.index, dtype="string"),
        "sph": pd.Series(pd.NA, index=est.index, dtype="string"),
        "sph_label": pd.Series(pd.NA, index=est.index, dtype="string"),
        "opened": _datetime(est["opened"]),
        "authorised": _datetime(est["first_authorised"]),
        "updated": _datetime(est["updated"]),
        "status": np.where(closed, STATUS_CLOSED, STATUS_OPEN),
        "family": family,
        "family_label": family.map(family_labels).astype("string") if family_labels is not None
        else family,
        "geo_precision": pos.precision,
        "geo_source": pos.source,
        "geo_updated": pd.Series(pd.NaT, index=est.index, dtype="datetime64[ms]"),
        "x_m": pos.x_m,
        "y_m": pos.y_m,
        "epsg_m": pos.epsg_m,
        "source": SOURCE_STRUCTURES,
        "state": est["state"].map(STATE_LABELS).fillna(est["state"]).astype("string"),
        "closed_on": est["closed_on"],
        "ban_key": est["ban_key"],
        "ban_score": est["ban_score"],
        "ege_id": est["ege_id"],
    })
    out.attrs["no_family"] = cat[no_family & cat.notna()].value_counts().to_dict()
    geometry = shapely.points(pos.lon, pos.lat)
    geometry[~np.isfinite(pos.lon)] = None
    return gpd.GeoDataFrame(out, geometry=geometry, crs=settings.CRS_DISPLAY)


def stub_establishments(acts: ActivitesTables, known: set[str], report: DeviationReport,
                        legal_names: pd.Series | None = None,
                        other_family: str = "autres", other_label: str = "Autres"
                        ) -> gpd.GeoDataFrame:
    """Establishments named only by the Activités flow (FINESS number, legal entity): no
    address, no position (``geo_precision`` = ``aucune``), department from the FINESS number,
    ``status`` from their activities (open when one is active). Each is reported as
    ``unknown_establishment``. ``legal_names`` maps legal-entity FINESS numbers to names."""
    eg = acts.establishments
    unknown = eg[~eg["finess"].isin(list(known))].reset_index(drop=True)
    file = acts.path.name
    if not len(unknown):
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=settings.CRS_DISPLAY), crs=settings.CRS_DISPLAY)
    a = acts.activities
    active = a[(a["level"] == LEVEL_ESTABLISHMENT) & (a["state"] == "A")]["finess"]
    n_act = a[a["level"] == LEVEL_ESTABLISHMENT]["finess"].value_counts()
    paths = a[a["level"] == LEVEL_ESTABLISHMENT].drop_duplicates("finess").set_index("finess")["json_path"]
    for fin in unknown["finess"].head(report.max_examples):
        p = str(paths.get(fin, "$.pmej[*].ege[*]")).rsplit(".activitesExercees", 1)[0]
        report.add("unknown_establishment", file, p,
                   f"établissement {fin} ({int(n_act.get(fin, 0))} activité(s)) absent du flux Structures : "
                   "ajouté sans adresse ni position", KEPT)
    if len(unknown) > report.max_examples:
        report.add("unknown_establishment", file, "$.pmej[*].ege[*]", "…", KEPT,
                   count=len(unknown) - report.max_examples)
        report.examples["unknown_establishment"].pop() if len(
            report.examples["unknown_establishment"]) > report.max_examples else None
    ej_name = unknown["finess_ej"].map(legal_names) if legal_names is not None else pd.Series(pd.NA, index=unknown.index)
    name = ("Établissement " + unknown["finess"] + " (flux Activités seul"
            + ej_name.map(lambda v: f", entité {v}" if isinstance(v, str) else "") + ")")
    status = np.where(unknown["finess"].isin(active), STATUS_OPEN, STATUS_CLOSED)
    n = len(unknown)
    out = pd.DataFrame({
        "finess": unknown["finess"], "finess_ej": unknown["finess_ej"], "name": name.astype("string"),
        "category_label": "Catégorie inconnue (établissement absent du flux Structures)",
        "commune": pd.Series(pd.NA, index=unknown.index, dtype="string"),
        "department": department_of_finess(unknown["finess"]),
        "department_finess": department_of_finess(unknown["finess"]),
        "status": status, "family": other_family, "family_label": other_label,
        "geo_precision": "aucune", "x_m": np.full(n, np.nan), "y_m": np.full(n, np.nan),
        "epsg_m": np.full(n, 2154, dtype="int64"),
        "source": SOURCE_ACTIVITES_ONLY, "ege_id": unknown["ege_id"],
    })
    return gpd.GeoDataFrame(out, geometry=[None] * n, crs=settings.CRS_DISPLAY)


# --------------------------------------------------------------------------- activities

def _label_types(acts: pd.DataFrame, labels: Labels, report: DeviationReport, file: str) -> pd.DataFrame:
    """Labels of every distinct (nature, type code, components) combination."""
    keys = ["nature", "type_code", "component_1", "component_2", "component_3", "component_4", "component_5"]
    first = acts.groupby(keys, dropna=False, sort=False).agg(n=("activity_id", "size"),
                                                             path=("json_path", "first")).reset_index()
    rows = []
    unknown: dict[tuple[str, str], list] = {}
    for r in first.itertuples(index=False):
        nature = r.nature
        comps = tuple(v if isinstance(v, str) else None for v in
                      (r.component_1, r.component_2, r.component_3, r.component_4, r.component_5))
        while comps and comps[-1] is None:
            comps = comps[:-1]
        spec = NATURE_COMPONENTS.get(nature, ())
        comp_labels = []
        for i, code in enumerate(comps):
            table = spec[i][1] if i < len(spec) else None
            lab = labels.component_label(table, code)
            if code is not None and table is not None and lab is None:
                u = unknown.setdefault((table, code), [0, r.path])
                u[0] += int(r.n)
            comp_labels.append(lab)
        key = r392_key(nature, comps)
        code = r.type_code if isinstance(r.type_code, str) else None
        known = labels.r392.get(code) if code else None
        derived = known is None
        r392_label = labels.table("R392").label(code) if code else None
        if known is not None:
            k_nat, k_comps = known
            if k_nat != R392_PREFIX.get(nature, nature) or tuple(k_comps) != tuple(c or "" for c in comps):
                report.add("type_mismatch", file, f"{r.path}.caracteristiquesGeneriques.typeActiviteSMSSE",
                           f"type {code} = {r392_label} dans TRE_R392, activité {key}", KEPT, count=int(r.n))
        elif code:
            report.add("type_derived", file, f"{r.path}.caracteristiquesGeneriques.typeActiviteSMSSE",
                       f"type {code} absent de TRE_R392 (partielle) : libellé construit depuis {key}",
                       KEPT, count=int(r.n))
        public_pos = 2 if nature in ("ASDR", "ASOCR", "AMSR", "AER") else None
        form_pos = 2 if nature in ("ASR", "AASA", "AMF") else None

        def at(i: int | None, seq=comp_labels) -> str | None:
            return seq[i] if i is not None and i < len(seq) else None

        rows.append({**{k: getattr(r, k) for k in keys},
                     "nature_label": NATURE_LABELS.get(nature, nature),
                     "type_key": key, "type_label": labels.type_label(nature, comps),
                     "type_label_derived": derived, "type_r392": r392_label,
                     "activity_label": at(0), "mode_label": at(1),
                     "public_code": at(public_pos, comps), "public_label": at(public_pos),
                     "form_code": at(form_pos, comps), "form_label": at(form_pos)})
    for (table, code), (n, path) in unknown.items():
        report.add("unknown_code", file, f"{path}.nature.caracteristiquesSpecifiques",
                   f"code {code!r} absent de TRE_{table}", KEPT, count=n)
    return pd.DataFrame(rows, columns=[*keys, "nature_label", "type_key", "type_label", "type_label_derived",
                                       "type_r392", "activity_label", "mode_label", "public_code",
                                       "public_label", "form_code", "form_label"])


def build_activity_layers(acts: ActivitesTables, report: DeviationReport, *,
                          known_communes: set[str] | None = None,
                          checked_departments: set[str] | None = None,
                          labels: Labels | None = None,
                          as_of: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``activites``, ``capacites`` and ``zones_intervention`` layers (attribute tables).

    ``known_communes``: INSEE codes of the loaded commune outlines; a zone commune of a
    department in ``checked_departments`` but not in ``known_communes`` is reported and left
    out (other departments cannot be checked and are kept). ``as_of`` (``YYYY-MM-DD``, default
    the file's generation date): an activity whose effective end date is on or before it is
    not active.
    """
    labels = labels or load_labels()
    file = acts.path.name
    a = acts.activities.copy(deep=False)  # new columns only: the reader's table is not modified
    types = _label_types(a, labels, report, file) if len(a) else None
    keys = ["nature", "type_code", "component_1", "component_2", "component_3", "component_4", "component_5"]
    if types is not None:
        # one row of ``types`` per group, in first-appearance order like ngroup(): take by position
        group = a.groupby(keys, dropna=False, sort=False).ngroup().to_numpy()
        for c in types.columns:
            if c not in keys:
                a[c] = pd.Series(types[c].to_numpy()[group], index=a.index,
                                 dtype="bool" if c == "type_label_derived" else "string")
    else:
        for c in ("nature_label", "type_key", "type_label", "type_label_derived", "type_r392", "activity_label",
                  "mode_label", "public_code", "public_label", "form_code", "form_label"):
            a[c] = pd.Series(dtype="string")
    as_of = as_of or (acts.generated_at or "")[:10] or None
    ended = a["effective_end_date"].notna() & (a["effective_end_date"] <= as_of) if as_of else \
        a["effective_end_date"].notna()
    a["state_label"] = a["state"].map(STATE_LABELS).fillna(a["state"]).astype("string")
    a["active"] = (a["state"] == "A").fillna(False).to_numpy(dtype=bool) & ~ended.fillna(False).to_numpy(dtype=bool)

    # Zones: an establishment's activity inherits the zone of its legal entity's authorised
    # activity of the same type (active first) unless it has its own.
    auth = a[(a["level"] == LEVEL_ENTITY) & a["zone_id"].notna()]
    auth = auth.sort_values("active", ascending=False, kind="stable").drop_duplicates(["finess_ej", "type_code"])
    link = pd.Series(auth["activity_id"].to_numpy(),
                     index=pd.MultiIndex.from_arrays([auth["finess_ej"], auth["type_code"]]))
    a["zone_activity_id"] = pd.Series(
        link.reindex(pd.MultiIndex.from_arrays([a["finess_ej"], a["type_code"]])).to_numpy(), index=a.index,
        dtype="string")
    own = a["zone_id"].notna()
    a["zone_activity_id"] = a["zone_activity_id"].where(a["level"] == LEVEL_ESTABLISHMENT, pd.NA)
    a.loc[own, "zone_activity_id"] = a.loc[own, "activity_id"]
    a["zone_activity_id"] = a["zone_activity_id"].astype("string")
    used = set(a.loc[a["level"] == LEVEL_ESTABLISHMENT, "zone_activity_id"].dropna())
    orphan = auth[~auth["activity_id"].isin(used)]
    for aid, p in zip(orphan["activity_id"].head(report.max_examples), orphan["json_path"]):
        report.add("zone_without_establishment", file, f"{p}.zoneIntervention",
                   f"zone de l'activité {aid} : aucun établissement de l'entité n'exerce ce type d'activité",
                   KEPT)
    if len(orphan) > report.max_examples:
        report.count("zone_without_establishment", len(orphan) - report.max_examples)

    zones = acts.zones
    if known_communes is not None and checked_departments and len(zones):
        dep = department_of(zones["commune"])
        bad = dep.isin(list(checked_departments)).fillna(False) & ~zones["commune"].isin(list(known_communes))
        if bad.any():
            paths = a.set_index("activity_id")["json_path"]
            for code, aid in zip(zones.loc[bad, "commune"].head(50), zones.loc[bad, "activity_id"].head(50)):
                report.add("unknown_commune", file, f"{paths.get(aid, '$')}.zoneIntervention.communeZI",
                           f"commune {code} inconnue des limites du département {code[:2]} (ignorée)", SKIPPED)
            extra = int(bad.sum()) - min(50, int(bad.sum()))
            if extra:
                report.add("unknown_commune", file, "$", "…", SKIPPED, count=extra)
            zones = zones[~bad.to_numpy()].reset_index(drop=True)

    caps = acts.capacities.copy(deep=False)
    tables = {"status": "R330", "unit": "R329", "habilitation": "R241"}
    for col, table in tables.items():
        t = labels.table(table)
        caps[f"{col}_label"] = caps[col].map(t.labels).astype("string")
        unknown = caps[col].notna() & caps[f"{col}_label"].isna()
        for code, n in caps.loc[unknown, col].value_counts().items():
            report.add("unknown_code", file, "$..capacite[*]." + {"status": "statutCapacite",
                                                                 "unit": "uniteMesureCapacite",
                                                                 "habilitation": "habilitation"}[col],
                       f"code {code!r} absent de TRE_{table}", KEPT, count=int(n))
    act_state = a.drop_duplicates("activity_id").set_index("activity_id")["active"]
    caps["active"] = caps["activity_id"].map(act_state).fillna(False).astype(bool)
    return a, caps, zones


def capacity_totals(activities: pd.DataFrame, capacities: pd.DataFrame) -> pd.DataFrame:
    """Installed and authorised places per establishment (``finess`` index), from the
    capacities of its active exercised activities in beds or places (TRE_R329 01, 02).

    Lines of one activity and status that differ only by habilitation or gender describe
    subsets of the same places: the activity counts the largest, not their sum."""
    c = capacities[capacities["active"] & capacities["finess"].notna() & capacities["unit"].isin(PLACE_UNITS)]
    per = c.groupby(["finess", "activity_id", "status", "unit"], sort=False)["number"].max().reset_index()
    inst = per[per["status"].isin(INSTALLED_STATUSES)].groupby("finess")["number"].sum()
    aut = per[per["status"].isin(AUTHORISED_STATUSES)].groupby("finess")["number"].sum()
    out = pd.DataFrame({"capacity_installed": inst, "capacity_authorised": aut})
    return out.round().astype("Int64")


# --------------------------------------------------------------------------- both sources

COMPARED = (("name", "nom"), ("category", "catégorie"), ("commune", "commune"), ("phone", "téléphone"),
            ("status", "statut"))


def merge_establishments(etalab: gpd.GeoDataFrame | None, finess_plus: gpd.GeoDataFrame,
                         report: DeviationReport, file: str, moved_m: float = 100.0) -> gpd.GeoDataFrame:
    """Union of the etalab and FINESS+ establishments; FINESS+ wins for an establishment both
    describe, and each difference (name, category, commune, phone, status, position moved more
    than ``moved_m`` metres) is reported as ``source_difference``. etalab rows keep
    ``source`` = ``etalab``."""
    if etalab is None or not len(etalab):
        return finess_plus
    et = etalab.copy()
    if "source" not in et:
        et["source"] = SOURCE_ETALAB
    both = et["finess"].isin(finess_plus["finess"])
    if both.any():
        left = et[both].set_index("finess")
        right = finess_plus.set_index("finess").reindex(left.index)
        for col, word in COMPARED:
            if col not in left or col not in right:
                continue
            a = left[col].astype("string")
            b = right[col].astype("string")
            diff = (a.fillna("") != b.fillna("")) & b.notna()
            for fin in diff[diff].index[:report.max_examples]:
                report.add("source_difference", file, f"finess {fin}",
                           f"{word} : etalab {a[fin]!r} -> FINESS+ {b[fin]!r}", KEPT)
            if int(diff.sum()) > report.max_examples:
                report.add("source_difference", file, "finess *", f"{word} : …", KEPT,
                           count=int(diff.sum()) - report.max_examples)
                report.examples["source_difference"] = report.examples["source_difference"][:report.max_examples]
        dx = left["x_m"].to_numpy(dtype="float64") - right["x_m"].to_numpy(dtype="float64")
        dy = left["y_m"].to_numpy(dtype="float64") - right["y_m"].to_numpy(dtype="float64")
        moved = np.hypot(dx, dy) > moved_m
        if moved.any():
            idx = left.index[moved]
            report.add("source_difference", file, f"finess {idx[0]}",
                       f"position : {int(moved.sum())} établissement(s) déplacé(s) de plus de {moved_m:g} m", KEPT,
                       count=int(moved.sum()))
    merged = pd.concat([et[~both], finess_plus], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=settings.CRS_DISPLAY)
