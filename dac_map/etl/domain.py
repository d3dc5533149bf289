"""Typed extracts -> domain tables: ``etablissements`` and ``equipements``.

:func:`build_establishments` renames the FINESS fields into the domain model, joins the
nomenclature (labels, families), projects the coordinates per row (source CRS -> WGS84 and ->
the local metric CRS), checks that each position lies in its department and assigns the DAC
territory; :func:`build_equipment` keeps the equipment lines of known establishments and sums
their capacities. Row problems are returned as :class:`~dac_map.errors.RowIssue`.

Geometry conventions: ``geometry`` is a WGS84 point (EPSG:4326, degrees); ``x_m``/``y_m``
are metres in ``epsg_m`` (Lambert-93 EPSG:2154 in metropolitan France, the local UTM CRS
overseas, see :data:`dac_map.settings.LOCAL_METRIC_CRS`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from dac_map import settings
from dac_map.codes import assign_territory, metric_epsgs
from dac_map.errors import RowIssue
from dac_map.etl.layouts import OVERSEAS_DEPARTMENTS
from dac_map.etl.columns import isin_text, lookup, text_array
from dac_map.etl.parser import EquipmentExtract, EstablishmentExtract
from dac_map.etl.reference import OTHER_FAMILY, Families
#: Values of ``geo_precision``.
PRECISION_ADDRESS = "adresse"
PRECISION_COMMUNE = "commune"
PRECISION_NONE = "aucune"


# --------------------------------------------------------------------------- establishments

def _matches(values: pd.Series | pa.Array, pattern: str) -> np.ndarray:
    """Whole-value regular-expression match of a text column (Arrow/RE2, vectorised)."""
    arr = values if isinstance(values, pa.Array) else text_array(values.fillna(""))
    return np.asarray(pc.match_substring_regex(arr, f"^(?:{pattern})$").fill_null(False), dtype=bool)


def _text_series(arr: pa.Array, index: pd.Index) -> pd.Series:
    """An Arrow text array as a pandas ``str`` column (nulls as NaN)."""
    series = arr.to_pandas()
    series.index = index
    return series


def commune_codes(departement: pd.Series, commune: pd.Series) -> tuple[pd.Series, pd.Series]:
    """INSEE department and commune codes from FINESS ``departement`` + ``commune``.

    ``80``+``021`` -> (``80``, ``80021``); ``2A``+``004`` -> (``2A``, ``2A004``);
    ``9A``+``105`` -> (``971``, ``97105``) for every overseas ``9x`` code. Invalid input -> NA.
    """
    dep = text_array(departement.fillna(""))
    com = text_array(commune.fillna(""))
    valid_com = pa.array(_matches(com, r"[0-9]{3}"))
    metro = pa.array(_matches(dep, r"[0-8][0-9]|9[0-5]|2[AB]"))
    overseas = pa.array(_matches(dep, r"9[A-Z]"))
    none = pa.scalar(None, dep.type)
    prefix, empty = pa.scalar("97", dep.type), pa.scalar("", dep.type)
    overseas_dep = pc.coalesce(  # the INSEE code of a known 9x, else 97 + the commune's first digit
        pc.take(pa.array(list(OVERSEAS_DEPARTMENTS.values()), dep.type),
                pc.index_in(dep, value_set=pa.array(list(OVERSEAS_DEPARTMENTS), dep.type))),
        pc.binary_join_element_wise(prefix, pc.utf8_slice_codeunits(com, 0, 1), empty))
    insee_dep = pc.if_else(metro, dep, pc.if_else(overseas, overseas_dep, none))
    insee_com = pc.if_else(pc.and_(metro, valid_com), pc.binary_join_element_wise(dep, com, empty),
                           pc.if_else(pc.and_(overseas, valid_com),
                                      pc.binary_join_element_wise(prefix, com, empty), none))
    return _text_series(insee_dep, departement.index), _text_series(insee_com, departement.index)


def _blank_to_na(s: pd.Series) -> pd.Series:
    """A text column with blank values as NA (Arrow-vectorised)."""
    arr = text_array(s)
    return _text_series(pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr), s.index)


def _optional(frame: pd.DataFrame, **fields: str) -> dict[str, pd.Series]:
    """Optional text columns ``{domain name: FINESS field}`` of ``frame``, blanks as NA."""
    return {name: _blank_to_na(frame[f]) for name, f in fields.items()}


def _join_words(*cols: pd.Series) -> pd.Series:
    """Join text columns with single spaces, skipping blank values (Arrow-vectorised)."""
    arrays = []
    for c in cols:
        a = pa.array(c.fillna(""), type=pa.string())
        arrays.append(pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.string()), a))
    joined = pc.binary_join_element_wise(*arrays, " ", null_handling="skip")
    return _blank_to_na(pd.Series(joined.to_pandas(), index=cols[0].index, dtype="str"))


def _project(x: np.ndarray, y: np.ndarray, epsg: np.ndarray, target: np.ndarray | int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Project points from per-row ``epsg`` to per-row (or single) ``target`` EPSG codes."""
    out_x = np.full(len(x), np.nan)
    out_y = np.full(len(x), np.nan)
    target_arr = np.broadcast_to(np.asarray(target), (len(x),))
    ok = np.isfinite(x) & np.isfinite(y) & (epsg > 0) & (target_arr > 0)
    pairs = pd.DataFrame({"s": epsg[ok], "t": target_arr[ok]}).drop_duplicates()
    for s, t in pairs.itertuples(index=False, name=None):
        m = ok & (epsg == s) & (target_arr == t)
        if s == t:
            out_x[m], out_y[m] = x[m], y[m]
            continue
        tr = pyproj.Transformer.from_crs(int(s), int(t), always_xy=True)
        out_x[m], out_y[m] = tr.transform(x[m], y[m], errcheck=False)
    bad = ~(np.isfinite(out_x) & np.isfinite(out_y))
    out_x[bad] = np.nan
    out_y[bad] = np.nan
    return out_x, out_y


def _plausible(lon: np.ndarray, lat: np.ndarray, epsg: np.ndarray, dep: pd.Series,
               departments: gpd.GeoDataFrame | None) -> np.ndarray:
    """True where a WGS84 point lies in its department's bounding box (plus the margin), or,
    for departments without a boundary, in the area of use of its source projection."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    result = np.zeros(len(lon), dtype=bool)
    margin_lat = settings.PLAUSIBLE_MARGIN_M / 111_000.0
    known = pd.Series(False, index=dep.index)
    if departments is not None and len(departments):
        b = departments.set_index("code").geometry.bounds
        bb = b.reindex(dep.fillna("").to_numpy())
        known = pd.Series(bb["minx"].notna().to_numpy(), index=dep.index)
        margin_lon = margin_lat / np.maximum(np.cos(np.radians(np.nan_to_num(lat))), 0.2)
        inside = ((lon >= bb["minx"].to_numpy() - margin_lon) & (lon <= bb["maxx"].to_numpy() + margin_lon)
                  & (lat >= bb["miny"].to_numpy() - margin_lat) & (lat <= bb["maxy"].to_numpy() + margin_lat))
        result |= known.to_numpy() & inside
    unknown = ok & ~known.to_numpy()
    for code in np.unique(epsg[unknown]):
        if code <= 0:
            continue
        area = pyproj.CRS.from_epsg(int(code)).area_of_use
        m = unknown & (epsg == code)
        if area is not None:
            w, s, e, n = area.bounds
            result[m] = (lon[m] >= w) & (lon[m] <= e) & (lat[m] >= s) & (lat[m] <= n)
    return result & ok


def build_establishments(extract: EstablishmentExtract, categories: pd.DataFrame,
                         families: Families, departments: gpd.GeoDataFrame | None = None,
                         communes: gpd.GeoDataFrame | None = None,
                         territories: pd.DataFrame | None = None,
                         ) -> tuple[gpd.GeoDataFrame, list[RowIssue], dict[str, int]]:
    """Typed extract -> ``etablissements`` domain table (GeoDataFrame, EPSG:4326 points).

    Returns the table, the issues found at this stage (implausible coordinates, unknown
    categories...) and the unknown category codes with their counts.
    """
    st = extract.structures
    issues: list[RowIssue] = []
    insee_dep, insee_com = commune_codes(st["departement"], st["commune"])

    routing = st["ligneacheminement"].fillna("")
    has_postcode = _matches(routing, r"[0-9]{5}(?:\s.*)?")
    postcode = [routing.str[:5].where(has_postcode),
                routing.str[5:].str.strip().where(has_postcode, routing)]
    out = pd.DataFrame({
        "finess": st["nofinesset"],
        **_optional(st, finess_ej="nofinessej"),
        "name": st["rs"],
        **_optional(st, long_name="rslongue", name_complement="complrs"),
        "address": _join_words(st["numvoie"], st["compvoie"], st["typvoie"], st["voie"]),
        "address_complement": _join_words(st["lieuditbp"], st["compldistrib"]),
        "postcode": _blank_to_na(postcode[0]),
        "city": _blank_to_na(postcode[1]),
        "commune": insee_com,
        "department": insee_dep,
        "department_finess": st["departement"],
        "phone": _blank_to_na(st["telephone"].str.replace(r"\D", "", regex=True)),
        "fax": _blank_to_na(st["telecopie"].str.replace(r"\D", "", regex=True)),
        "category": st["categetab"],
        **_optional(st, category_label="libcategetab", aggregate="categagretab",
                    aggregate_label="libcategagretab", siret="siret", ape="codeape",
                    mft="codemft", mft_label="libmft", sph="codesph", sph_label="libsph"),
        "opened": st["dateouv"],
        "authorised": st["dateautor"],
        "updated": st["datemaj"],
        "status": "ouvert",
    })

    # Category labels and families from the nomenclature (the extract's labels win when set).
    cat = categories.set_index("category")
    for col, src in (("category_label", "category_label"), ("aggregate", "aggregate"),
                     ("aggregate_label", "aggregate_label")):
        out[col] = out[col].fillna(lookup(out["category"], cat[src]))
    fam = families.categories.set_index("category")["family"]
    out["family"] = lookup(out["category"], fam)
    unknown_mask = out["family"].isna()
    unknown = out.loc[unknown_mask, "category"].fillna("").value_counts().to_dict()
    for line, code in zip(st.loc[unknown_mask, "line"], out.loc[unknown_mask, "category"]):
        issues.append(RowIssue(extract.path, int(line), "categetab",
                               f"category {code!r} has no family: filed under 'Autres'", "kept"))
    out["family"] = out["family"].fillna(OTHER_FAMILY)
    out["family_label"] = lookup(out["family"], families.families.set_index("family")["family_label"])

    # Coordinates: per-row projection -> WGS84 and -> local metric CRS.
    geo = extract.geolocations.set_index("nofinesset")
    g = geo.reindex(out["finess"])
    x = g["x"].to_numpy(dtype="float64", na_value=np.nan)
    y = g["y"].to_numpy(dtype="float64", na_value=np.nan)
    epsg = g["epsg"].fillna(0).to_numpy(dtype="int64")
    lon, lat = _project(x, y, epsg, 4326)
    has = np.isfinite(lon)
    plausible = _plausible(lon, lat, epsg, out["department"], departments)
    implausible = has & ~plausible
    for line, fin, gx, gy in zip(g["line"].to_numpy()[implausible], out["finess"].to_numpy()[implausible],
                                 x[implausible], y[implausible]):
        issues.append(RowIssue(extract.path, int(line), "coordxet",
                               f"coordinates ({gx}, {gy}) of {fin} are outside its department: "
                               "placed at the commune centroid when known", "kept"))
    lon[implausible] = np.nan
    lat[implausible] = np.nan
    precision = np.where(np.isfinite(lon), PRECISION_ADDRESS, PRECISION_NONE).astype(object)

    if communes is not None and len(communes):
        centroids = communes.set_index("code").geometry.representative_point()
        need = ~np.isfinite(lon)
        pts = centroids.reindex(out["commune"].fillna("").to_numpy()[need])
        found = pts.notna().to_numpy()
        idx = np.flatnonzero(need)[found]
        lon[idx] = shapely.get_x(pts[found].to_numpy())
        lat[idx] = shapely.get_y(pts[found].to_numpy())
        precision[idx] = PRECISION_COMMUNE

    metric = metric_epsgs(out["department"]).to_numpy()  # 0: no metric CRS known, not projected
    # Source coordinates already in the row's metric CRS are kept as given (no round trip).
    as_given = (epsg == metric) & (precision == PRECISION_ADDRESS)
    x_m, y_m = _project(lon, lat, np.where(np.isfinite(lon) & ~as_given, 4326, 0), metric)
    x_m[as_given], y_m[as_given] = x[as_given], y[as_given]
    out["geo_precision"] = precision
    out["geo_source"] = g["sourcecoordet"].array  # Arrow-backed text: no Python strings
    out["geo_updated"] = g["datemaj"].to_numpy()
    out["x_m"] = np.round(x_m, 1)
    out["y_m"] = np.round(y_m, 1)
    out["epsg_m"] = metric
    out["dac_id"] = assign_territory(out["department"], out["commune"], territories)
    geometry = shapely.points(lon, lat)
    geometry[~np.isfinite(lon)] = None
    gdf = gpd.GeoDataFrame(out, geometry=geometry, crs=settings.CRS_DISPLAY)
    gdf.attrs["positions_given"] = int(has.sum())
    gdf.attrs["positions_implausible"] = int(implausible.sum())
    gdf.attrs["first_implausible"] = [
        (int(line), str(fin)) for line, fin in zip(g["line"].to_numpy()[implausible][:5],
                                                   out["finess"].to_numpy()[implausible][:5])]
    return gdf, issues, unknown


# --------------------------------------------------------------------------- equipment

def build_equipment(extract: EquipmentExtract, known_finess: pd.Series
                    ) -> tuple[pd.DataFrame, pd.DataFrame, list[RowIssue]]:
    """Typed cs1100505 -> ``equipements`` table and per-establishment capacity totals.

    Lines for unknown establishments are rejected. Totals (``capacity_installed``,
    ``capacity_authorised``, in places) sum ``capinstot``/``capautot`` over lines not flagged
    removed (``indsupinst``/``indsupaut`` = ``O``).
    """
    eq = extract.equipment
    issues: list[RowIssue] = []
    unknown = pd.Series(~isin_text(eq["nofinesset"], known_finess), index=eq.index)
    for line, fin in zip(eq.loc[unknown, "line"], eq.loc[unknown, "nofinesset"]):
        issues.append(RowIssue(extract.path, int(line), "nofinesset",
                               f"equipment line for an establishment not in the extract: {fin}",
                               "rejected"))
    eq = eq[~unknown]
    table = pd.DataFrame({
        "finess": eq["nofinesset"],
        "discipline": eq["de"],
        **_optional(eq, discipline_label="libde", activity_type="ta", activity_type_label="libta",
                    clientele="client", clientele_label="libclient"),
        "capacity_installed": eq["capinstot"],
        "capacity_authorised": eq["capautot"],
        "removed_installed": eq["removed_installed"],
        "removed_authorised": eq["removed_authorised"],
        "capacity_implausible": eq["capacity_implausible"],
        **_optional(eq, source_info="sourceinfo", source_info_label="libsourceinfo"),
        "authorised_on": eq["dateautor"],
        "installed_updated": eq["datemajinst"],
    }).reset_index(drop=True)
    inst = table["capacity_installed"].where(~table["removed_installed"], 0).fillna(0)
    aut = table["capacity_authorised"].where(~table["removed_authorised"], 0).fillna(0)
    totals = (pd.DataFrame({"finess": table["finess"], "capacity_installed": inst,
                            "capacity_authorised": aut})
              .groupby("finess", sort=False).sum().astype("Int64"))
    return table, totals, issues
