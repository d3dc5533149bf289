"""The catalogue: the GeoPackage built by the ETL, loaded once and prepared for queries.

:func:`load_catalogue` reads every layer with pyogrio (Arrow I/O) and prepares, once, the
numpy arrays the filters work on: metric coordinates, integer codes of the commune,
department, category, family... columns, the fuzzy text index, the equipment lines as
arrays and the per-establishment capacities. A :class:`Catalogue` is immutable and safe to
share between threads (a Streamlit app keeps one in ``st.cache_resource``); treat its tables
as read-only.

Units and CRS: ``establishments.geometry``, ``lon``/``lat`` are WGS84 (EPSG:4326, degrees);
``x_m``/``y_m`` are metres in the per-row metric CRS ``epsg_m`` (EPSG:2154 Lambert-93 in
metropolitan France, the local UTM CRS overseas). Capacities are numbers of places
(installed or authorised), never free places.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dac_map import settings, store
from dac_map.errors import StoreError
from dac_map.query.errors import QueryError
from dac_map.query.text import TextIndex, category_keywords, fold_column

#: Optional layer of care activities per establishment (``finess, activity, activity_label``),
#: used by :class:`~dac_map.query.filters.SpecialtyFilter` when present.
CARE_ACTIVITY_LAYER = "activites_etablissements"

#: Columns of the result records, in order (``distance_km``, ``score`` and the specialty
#: capacities are inserted by :func:`~dac_map.query.search.search` when relevant).
RECORD_COLUMNS: tuple[str, ...] = (
    "finess", "finess_ej", "name", "long_name", "category", "category_label", "aggregate",
    "aggregate_label", "family", "family_label", "address", "address_complement", "postcode",
    "city", "commune", "commune_name", "department", "dac_id", "phone",
    "capacity_installed", "capacity_authorised", "capacity_summary", "status", "opened",
    "updated", "geo_precision", "lon", "lat", "x_m", "y_m", "epsg_m", "data_date",
)

OPEN_STATUS = "ouvert"


@dataclass(frozen=True)
class CodeColumn:
    """A text column as integer codes: ``codes[i]`` indexes ``values`` (-1 = missing)."""

    codes: np.ndarray
    values: np.ndarray
    index: Mapping[str, int]

    @classmethod
    def build(cls, series: pd.Series | Iterable[object]) -> CodeColumn:
        s = pd.Series(series, dtype="object") if not isinstance(series, pd.Series) else series
        codes, uniques = pd.factorize(s.astype("object"), use_na_sentinel=True)
        values = np.array([str(v) for v in uniques], dtype=object)
        codes = np.asarray(codes, dtype=np.int32)
        codes.flags.writeable = False
        return cls(codes, values, {v: i for i, v in enumerate(values)})

    def lookup(self, wanted: Iterable[str]) -> np.ndarray:
        """Boolean table over the codes (one extra False slot for missing values)."""
        lut = np.zeros(len(self.values) + 1, dtype=bool)
        for w in wanted:
            i = self.index.get(w)
            if i is not None:
                lut[i] = True
        return lut

    def mask(self, wanted: Iterable[str]) -> np.ndarray:
        """True where the value is one of ``wanted``."""
        return self.lookup(wanted)[self.codes]

    def __contains__(self, value: object) -> bool:
        return value in self.index


@dataclass(frozen=True)
class Equipment:
    """Equipment lines as arrays. ``row`` is the establishment row of each line; capacities are
    in places (``installed`` is 0 on lines whose installed capacity is flagged removed, likewise
    ``authorised``); ``active`` is False when both are flagged removed."""

    table: pd.DataFrame
    row: np.ndarray
    discipline: CodeColumn
    activity_type: CodeColumn
    clientele: CodeColumn
    installed: np.ndarray
    authorised: np.ndarray
    active: np.ndarray
    #: folded label of each code of discipline / activity_type / clientele
    labels: Mapping[str, dict[str, str]]


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _text(series: pd.Series) -> np.ndarray:
    return series.astype("object").where(series.notna(), None).to_numpy(dtype=object)


@dataclass(frozen=True)
class Catalogue:
    """Read-only establishments and reference tables plus arrays prepared once at load."""

    path: Path | None
    establishments: gpd.GeoDataFrame
    equipment: pd.DataFrame
    territories: gpd.GeoDataFrame
    communes: gpd.GeoDataFrame
    departments: gpd.GeoDataFrame
    families: pd.DataFrame
    categories: pd.DataFrame
    disciplines: pd.DataFrame
    care_activities: pd.DataFrame | None
    metadata: dict[str, object]
    # ---- arrays (one value per establishment row)
    lon: np.ndarray = field(repr=False)
    lat: np.ndarray = field(repr=False)
    x_m: np.ndarray = field(repr=False)
    y_m: np.ndarray = field(repr=False)
    epsg_m: np.ndarray = field(repr=False)
    has_point: np.ndarray = field(repr=False)
    by_address: np.ndarray = field(repr=False)
    commune: CodeColumn = field(repr=False)
    department: CodeColumn = field(repr=False)
    category: CodeColumn = field(repr=False)
    aggregate: CodeColumn = field(repr=False)
    family: CodeColumn = field(repr=False)
    status: CodeColumn = field(repr=False)
    capacity_installed: np.ndarray = field(repr=False)
    capacity_authorised: np.ndarray = field(repr=False)
    name_rank: np.ndarray = field(repr=False)
    finess_row: Mapping[str, int] = field(repr=False)
    text_index: TextIndex = field(repr=False)
    equipment_arrays: Equipment = field(repr=False)
    records_base: pd.DataFrame = field(repr=False)
    # ---- reference look-ups
    family_labels: Mapping[str, str] = field(repr=False)
    territory_row: Mapping[str, int] = field(repr=False)
    department_row: Mapping[str, int] = field(repr=False)
    commune_row: Mapping[str, int] = field(repr=False)
    territory_bounds: np.ndarray = field(repr=False)
    department_bounds: np.ndarray = field(repr=False)
    commune_bounds: np.ndarray = field(repr=False)

    # ----------------------------------------------------------------- conveniences

    def __len__(self) -> int:
        return len(self.establishments)

    @property
    def equipment_illustrative(self) -> bool:
        """True when the capacities come from illustrative (made-up) equipment data: UIs
        must say so next to every capacity."""
        return bool(self.metadata.get("equipment_illustrative", False))

    @property
    def has_equipment(self) -> bool:
        """Whether equipment lines (disciplines, capacities) were loaded."""
        return len(self.equipment) > 0

    @property
    def data_date(self) -> str | None:
        """Date of the FINESS extract (``YYYY-MM-DD``) or None."""
        value = self.metadata.get("source_date")
        return str(value) if value else None

    def family_label(self, family: str) -> str:
        """French label of a family id (the id itself when unknown)."""
        return self.family_labels.get(family, family)

    def family_order(self) -> list[str]:
        """Family ids in display order."""
        return list(self.family_labels)

    def commune_name(self, code: str) -> str | None:
        i = self.commune_row.get(code)
        if i is not None:
            return str(self.communes["name"].iat[i])
        return None

    def department_name(self, code: str) -> str | None:
        i = self.department_row.get(code)
        return None if i is None else str(self.departments["name"].iat[i])

    def territory_name(self, dac_id: str) -> str | None:
        i = self.territory_row.get(dac_id)
        return None if i is None else str(self.territories["name"].iat[i])

    # ----------------------------------------------------------------- building

    @classmethod
    def from_frames(cls, establishments: gpd.GeoDataFrame, equipment: pd.DataFrame | None = None,
                    territories: gpd.GeoDataFrame | None = None,
                    communes: gpd.GeoDataFrame | None = None,
                    departments: gpd.GeoDataFrame | None = None,
                    families: pd.DataFrame | None = None,
                    categories: pd.DataFrame | None = None,
                    disciplines: pd.DataFrame | None = None,
                    care_activities: pd.DataFrame | None = None,
                    metadata: Mapping[str, object] | None = None,
                    path: Path | None = None) -> Catalogue:
        """Prepare a catalogue from tables shaped like the store layers (see
        :mod:`dac_map.store`); :func:`load_catalogue` reads them from a GeoPackage."""
        est = establishments.reset_index(drop=True)
        if est.crs is not None and not est.crs.equals(settings.CRS_DISPLAY):
            est = est.to_crs(settings.CRS_DISPLAY)
        n = len(est)

        def geo(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
            if frame is None:
                return gpd.GeoDataFrame({"code": pd.Series(dtype="str"), "name": pd.Series(dtype="str")},
                                        geometry=gpd.GeoSeries([], crs=settings.CRS_DISPLAY),
                                        crs=settings.CRS_DISPLAY)
            frame = frame.reset_index(drop=True)
            if frame.crs is not None and not frame.crs.equals(settings.CRS_DISPLAY):
                frame = frame.to_crs(settings.CRS_DISPLAY)
            return frame

        communes = geo(communes)
        departments = geo(departments)
        if territories is None:
            territories = gpd.GeoDataFrame(
                {c: pd.Series(dtype="str") for c in ("dac_id", "name", "departments", "communes")},
                geometry=gpd.GeoSeries([], crs=settings.CRS_DISPLAY), crs=settings.CRS_DISPLAY)
        else:
            territories = geo(territories)
        families = families if families is not None else pd.DataFrame(
            {"family": pd.Series(dtype="str"), "family_label": pd.Series(dtype="str"),
             "color": pd.Series(dtype="str"), "order": pd.Series(dtype="int64")})
        categories = categories if categories is not None else pd.DataFrame(
            {c: pd.Series(dtype="str") for c in ("category", "category_label", "aggregate",
                                                  "aggregate_label", "family")})
        disciplines = disciplines if disciplines is not None else pd.DataFrame(
            {"discipline": pd.Series(dtype="str"), "discipline_label": pd.Series(dtype="str")})
        meta = dict(metadata or {})

        # Coordinates.
        geoms = est.geometry.to_numpy()
        has_point = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        lon = np.full(n, np.nan)
        lat = np.full(n, np.nan)
        lon[has_point] = shapely.get_x(geoms[has_point])
        lat[has_point] = shapely.get_y(geoms[has_point])
        x_m = est["x_m"].to_numpy(dtype="float64", na_value=np.nan) if "x_m" in est else np.full(n, np.nan)
        y_m = est["y_m"].to_numpy(dtype="float64", na_value=np.nan) if "y_m" in est else np.full(n, np.nan)
        epsg_m = (est["epsg_m"].fillna(0).to_numpy(dtype="int64") if "epsg_m" in est
                  else np.zeros(n, dtype=np.int64))
        precision = est["geo_precision"] if "geo_precision" in est else pd.Series("adresse", index=est.index)
        by_address = (precision.astype("object") == "adresse").to_numpy(dtype=bool) & has_point

        def col(name: str) -> pd.Series:
            if name in est:
                return est[name]
            return pd.Series([None] * n, index=est.index, dtype="object")

        cap_i = col("capacity_installed").to_numpy(dtype="float64", na_value=np.nan)
        cap_a = col("capacity_authorised").to_numpy(dtype="float64", na_value=np.nan)

        # Commune names for display and search: the outline's name, else the postal city.
        com_names = dict(zip(communes["code"].astype("object"), communes["name"].astype("object")))
        city = col("city").astype("object")
        commune_name = col("commune").astype("object").map(com_names)
        commune_name = commune_name.where(commune_name.notna(), city.str.replace(
            r"\s+CEDEX.*$", "", regex=True).str.title() if len(city) else city)

        # Stable order by name then FINESS.
        names = _text(col("name"))
        long_names = _text(col("long_name"))
        words_cache: dict[str, list[str]] = {}
        folded_names = fold_column(names, words_cache)
        finess = col("finess").astype("object").fillna("").to_numpy(dtype=object)
        order = np.lexsort((finess.astype(str), folded_names.astype(str))) if n else np.empty(0, np.int64)
        name_rank = np.empty(n, dtype=np.int64)
        name_rank[order] = np.arange(n)

        # Text index: name, long name, complement, commune, postal city, category keywords.
        cat_label = dict(zip(categories["category"].astype("object"),
                             categories["category_label"].astype("object")))
        cat_codes, cat_uniques = pd.factorize(col("category").astype("object"), use_na_sentinel=True)
        kw = np.array([category_keywords(str(c), cat_label.get(c)) for c in cat_uniques] + [None],
                      dtype=object)
        keywords = kw[np.asarray(cat_codes, dtype=np.int64)]
        full_names = folded_names
        if pd.notna(long_names).any():
            folded_long = fold_column(long_names, words_cache)
            full_names = np.where(folded_long != "", folded_names + " " + folded_long, folded_names)
        text_index = TextIndex.build(
            [names, long_names, _text(col("name_complement")), _text(commune_name), _text(city),
             keywords],
            folded_names=full_names, finess=list(finess), finess_ej=list(_text(col("finess_ej"))),
            cache=words_cache)

        eq_arrays = _equipment_arrays(equipment, finess)

        # Records base: the columns a coordinator needs, prepared once.
        base = pd.DataFrame({c: col(c) for c in RECORD_COLUMNS
                             if c not in ("commune_name", "capacity_summary", "lon", "lat",
                                          "data_date")})
        base["commune_name"] = commune_name.astype("str")
        base["capacity_summary"] = capacity_summary(cap_i, cap_a)
        base["lon"] = lon
        base["lat"] = lat
        base["data_date"] = meta.get("source_date")
        base = base[list(RECORD_COLUMNS)]
        # Object (numpy) columns: taking a page of rows is then a cheap numpy take.
        for c in base.columns:
            if pd.api.types.is_string_dtype(base[c].dtype) and base[c].dtype != object:
                base[c] = base[c].astype("object").where(base[c].notna(), None)
        base = gpd.GeoDataFrame(base, geometry=est.geometry.to_numpy(), crs=settings.CRS_DISPLAY)

        def prepared(frame: gpd.GeoDataFrame) -> np.ndarray:
            g = frame.geometry.to_numpy()
            ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
            shapely.prepare(g[ok])
            b = np.full((len(g), 4), np.nan)
            if ok.any():
                b[ok] = shapely.bounds(g[ok])
            return _ro(b)

        return cls(
            path=path, establishments=est, equipment=eq_arrays.table, territories=territories,
            communes=communes, departments=departments, families=families.reset_index(drop=True),
            categories=categories, disciplines=disciplines, care_activities=care_activities,
            metadata=meta, lon=_ro(lon), lat=_ro(lat), x_m=_ro(x_m), y_m=_ro(y_m),
            epsg_m=_ro(epsg_m), has_point=_ro(has_point), by_address=_ro(by_address),
            commune=CodeColumn.build(col("commune")), department=CodeColumn.build(col("department")),
            category=CodeColumn.build(col("category")), aggregate=CodeColumn.build(col("aggregate")),
            family=CodeColumn.build(col("family")), status=CodeColumn.build(col("status")),
            capacity_installed=_ro(cap_i), capacity_authorised=_ro(cap_a), name_rank=_ro(name_rank),
            finess_row={f: i for i, f in enumerate(finess)}, text_index=text_index,
            equipment_arrays=eq_arrays, records_base=base,
            family_labels={str(f): str(lab) for f, lab in zip(
                families.sort_values("order")["family"], families.sort_values("order")["family_label"])},
            territory_row={str(k): i for i, k in enumerate(territories["dac_id"])},
            department_row={str(k): i for i, k in enumerate(departments["code"])},
            commune_row={str(k): i for i, k in enumerate(communes["code"])},
            territory_bounds=prepared(territories), department_bounds=prepared(departments),
            commune_bounds=prepared(communes),
        )


def capacity_summary(installed: np.ndarray, authorised: np.ndarray) -> np.ndarray:
    """``"80 places installées · 94 autorisées"`` per row (``"capacité non renseignée"`` when
    unknown). Never speaks of free places: installed capacity is not availability."""
    out = np.empty(len(installed), dtype=object)
    for i, (a, b) in enumerate(zip(installed, authorised)):
        parts = []
        if a == a:
            parts.append(f"{int(a)} place{'s' if a >= 2 else ''} installée{'s' if a >= 2 else ''}")
        if b == b:
            parts.append(f"{int(b)} autorisée{'s' if b >= 2 else ''}")
        out[i] = " · ".join(parts) if parts else "capacité non renseignée"
    return out


def _equipment_arrays(equipment: pd.DataFrame | None, finess: np.ndarray) -> Equipment:
    cols = ("finess", "discipline", "discipline_label", "activity_type", "activity_type_label",
            "clientele", "clientele_label")
    if equipment is None or not len(equipment):
        table = pd.DataFrame({c: pd.Series(dtype="str") for c in cols})
        table["capacity_installed"] = pd.Series(dtype="float64")
        table["capacity_authorised"] = pd.Series(dtype="float64")
    else:
        table = equipment.reset_index(drop=True)
    pos = {f: i for i, f in enumerate(finess)}
    row = table["finess"].astype("object").map(pos)
    keep = row.notna().to_numpy()
    if not keep.all():
        table = table[keep].reset_index(drop=True)
        row = row[keep]
    row_arr = row.to_numpy(dtype="int64") if len(row) else np.empty(0, dtype=np.int64)
    n = len(table)

    def flag(name: str) -> np.ndarray:
        if name in table:
            return table[name].fillna(False).to_numpy(dtype=bool)
        return np.zeros(n, dtype=bool)

    rem_i, rem_a = flag("removed_installed"), flag("removed_authorised")
    inst = table["capacity_installed"].to_numpy(dtype="float64", na_value=np.nan)
    aut = table["capacity_authorised"].to_numpy(dtype="float64", na_value=np.nan)
    inst = np.where(rem_i | np.isnan(inst), 0.0, inst)
    aut = np.where(rem_a | np.isnan(aut), 0.0, aut)

    labels: dict[str, dict[str, str]] = {}
    for kind in ("discipline", "activity_type", "clientele"):
        lab_col = f"{kind}_label"
        pairs = table[[kind, lab_col]].dropna(subset=[kind]).drop_duplicates(kind) if lab_col in table \
            else table[[kind]].dropna().drop_duplicates().assign(**{lab_col: None})
        labels[kind] = {str(c): (str(lab) if isinstance(lab, str) else "")
                        for c, lab in zip(pairs[kind], pairs[lab_col])}
    return Equipment(table=table, row=_ro(row_arr),
                     discipline=CodeColumn.build(table["discipline"]),
                     activity_type=CodeColumn.build(table["activity_type"]),
                     clientele=CodeColumn.build(table["clientele"]),
                     installed=_ro(inst), authorised=_ro(aut), active=_ro(~(rem_i & rem_a)),
                     labels=labels)


def load_catalogue(path: str | Path = settings.STORE_PATH) -> Catalogue:
    """Read the GeoPackage written by the ETL (pyogrio, Arrow I/O) and prepare the catalogue.

    Raises :class:`~dac_map.errors.StoreError` (exit code 6) when the file or a required layer
    is missing or unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError("the GeoPackage does not exist: run `dac-map etl` first / "
                         "le GeoPackage n'existe pas : lancer `dac-map etl`", path=str(path))
    layers = set(store.list_store_layers(path))
    missing = [name for name in (store.ESTABLISHMENTS, store.METADATA) if name not in layers]
    if missing:
        raise StoreError(f"not a dac-map store: missing layer(s) {', '.join(missing)}", path=str(path))

    def opt(name: str) -> pd.DataFrame | None:
        return store.read_layer(path, name) if name in layers else None

    meta = store.read_metadata(path)
    return Catalogue.from_frames(
        establishments=store.read_layer(path, store.ESTABLISHMENTS),
        equipment=opt(store.EQUIPMENT), territories=opt(store.TERRITORIES),
        communes=opt(store.COMMUNES), departments=opt(store.DEPARTMENTS),
        families=opt(store.FAMILIES), categories=opt(store.CATEGORIES),
        disciplines=opt(store.DISCIPLINES), care_activities=opt(CARE_ACTIVITY_LAYER),
        metadata=meta, path=path)


__all__ = ["Catalogue", "CodeColumn", "Equipment", "QueryError", "load_catalogue",
           "capacity_summary", "RECORD_COLUMNS", "CARE_ACTIVITY_LAYER"]
