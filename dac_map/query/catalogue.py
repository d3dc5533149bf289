"""The catalogue: the GeoPackage built by the ETL, loaded once and prepared for queries.

:func:`load_catalogue` reads every layer through :mod:`dac_map.store` and prepares, once, the
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

import gc
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dac_map import settings, store
from dac_map.errors import StoreError
from dac_map.memory import use_arrow_pool
from dac_map.query.columns import CodeColumn, capacity_summary, object_array, read_only
from dac_map.query.equipment import Equipment, build_equipment
from dac_map.query.text import TextIndex, category_keywords, fold_column

#: Optional layer of care activities per establishment (``finess, activity, activity_label``),
#: used by :class:`~dac_map.query.specialty.SpecialtyFilter` when present.
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

#: Most derived arrays kept in :attr:`Catalogue.cache`.
CACHE_SIZE = 64

T = TypeVar("T")


_SMALL_WORDS = frozenset({"Sur", "Sous", "Le", "La", "Les", "De", "Du", "Des", "En", "Et", "Aux", "Au",
                          "D", "L"})


def _title(city: object) -> object:
    """``"ST VALERY SUR SOMME CEDEX"`` -> ``"St Valery sur Somme"`` (postal city for display)."""
    if not isinstance(city, str):
        return None
    s = re.sub(r"\s+CEDEX\b.*$", "", city.strip(), flags=re.IGNORECASE).title()
    parts = re.split(r"([\s\-']+)", s)
    return "".join(p.lower() if i > 0 and p in _SMALL_WORDS else p for i, p in enumerate(parts))


@dataclass(frozen=True, repr=False)
class Catalogue:
    """Read-only establishments and reference tables plus arrays prepared once at load.

    Tables: ``establishments`` (GeoDataFrame, EPSG:4326 points, the ``etablissements`` layer),
    ``equipment`` (equipment lines of known establishments), ``territories``, ``communes``,
    ``departments`` (GeoDataFrames, EPSG:4326 polygons), ``families``, ``categories``,
    ``disciplines``, ``care_activities`` (None unless the store has them) and ``metadata``.

    Arrays, one value per establishment row: ``lon``/``lat`` (WGS84 degrees, NaN without
    coordinates), ``x_m``/``y_m`` (metres in ``epsg_m``), ``has_point``, ``by_address``
    (located at its address rather than at a commune centroid), the coded columns
    ``commune``, ``department``, ``category``, ``aggregate``, ``family``, ``status``
    (:class:`CodeColumn`), ``capacity_installed``/``capacity_authorised`` (places, NaN when
    unknown), ``name_rank`` (stable order by folded name then FINESS number); plus the fuzzy
    ``text_index`` and ``equipment_arrays``. Every array is read-only.
    """

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
    #: small cache of derived arrays (e.g. equipment line masks per specialty filter); its
    #: values are pure functions of the catalogue and the key, so sharing it is safe
    cache: dict[object, object] = field(default_factory=dict, repr=False, compare=False)
    #: FINESS+ activities, capacities and intervention zones (issue 11), None without them
    finess_plus: object | None = field(default=None, repr=False, compare=False)
    #: the :class:`~dac_map.store.Store` the catalogue was loaded from (a GeoPackage, or the
    #: served PostGIS version's snapshot), for the layers read on demand (social resources);
    #: None for a catalogue prepared from frames
    source: object | None = field(default=None, repr=False, compare=False)

    # ----------------------------------------------------------------- conveniences

    def __len__(self) -> int:
        return len(self.establishments)

    def __repr__(self) -> str:
        return (f"Catalogue(path={str(self.path)!r}, establishments={len(self)}, "
                f"equipment_lines={len(self.equipment)}, data_date={self.data_date!r})")

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

    @property
    def serving(self):
        """The « Intervient à » index (:class:`~dac_map.query.serving.ServingIndex`): the
        FINESS+ intervention zones, None without them."""
        return self.finess_plus

    def commune_name(self, code: str) -> str | None:
        """Name of a commune INSEE code from the commune outlines, or None."""
        i = self.commune_row.get(code)
        return None if i is None else str(self.communes["name"].iat[i])

    def department_name(self, code: str) -> str | None:
        """Name of a department INSEE code, or None."""
        i = self.department_row.get(code)
        return None if i is None else str(self.departments["name"].iat[i])

    def cached(self, key: object, compute: Callable[[], T]) -> T:
        """``compute()``, memoised under ``key`` (at most :data:`CACHE_SIZE` entries)."""
        try:
            return self.cache[key]  # type: ignore[return-value]
        except KeyError:
            pass
        value = compute()
        if len(self.cache) >= CACHE_SIZE:
            self.cache.clear()
        self.cache[key] = value
        return value

    def territory_name(self, dac_id: str) -> str | None:
        """Name of a DAC territory id, or None."""
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
                    path: Path | None = None,
                    finess_plus: Mapping[str, pd.DataFrame] | None = None,
                    source: object | None = None) -> Catalogue:
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
        objects: dict[str, np.ndarray] = {}

        def obj(name: str) -> np.ndarray:
            """Column as an object array (None for missing), converted once."""
            got = objects.get(name)
            if got is None:
                if name in est:
                    got = object_array(est[name])
                else:
                    got = np.full(n, None, dtype=object)
                objects[name] = got
            return got

        precision = obj("geo_precision") if "geo_precision" in est else np.full(n, "adresse", dtype=object)
        by_address = (precision == "adresse") & has_point

        def num(name: str) -> np.ndarray:
            if name not in est:
                return np.full(n, np.nan)
            return est[name].to_numpy(dtype="float64", na_value=np.nan)

        cap_i = num("capacity_installed")
        cap_a = num("capacity_authorised")

        # Commune names for display and search: the outline's name, else the postal city.
        com_names = dict(zip(object_array(communes["code"]), object_array(communes["name"])))
        city = obj("city")
        city_codes, city_uniques = pd.factorize(city, use_na_sentinel=True)
        city_clean = pd.Series(np.append(
            np.array([_title(c) for c in city_uniques], dtype=object), None)[
            np.asarray(city_codes, dtype=np.int64)], dtype="object")
        commune_name = pd.Series(obj("commune"), dtype="object").map(com_names)
        commune_name = commune_name.where(commune_name.notna(), city_clean)
        commune_name = object_array(commune_name)

        # Stable order by name then FINESS.
        names = obj("name")
        long_names = obj("long_name")
        words_cache: dict[str, list[str]] = {}
        folded_names = fold_column(names, words_cache)
        finess = np.array([f if isinstance(f, str) else "" for f in obj("finess")], dtype=object)
        order = np.argsort(finess, kind="stable")
        order = order[np.argsort(folded_names[order], kind="stable")]
        name_rank = np.empty(n, dtype=np.int64)
        name_rank[order] = np.arange(n)

        # Text index: name, long name, complement, commune, postal city, category keywords.
        cat_label = dict(zip(object_array(categories["category"]),
                             object_array(categories["category_label"])))
        cat_codes, cat_uniques = pd.factorize(obj("category"), use_na_sentinel=True)
        kw = np.array([category_keywords(str(c), cat_label.get(c)) for c in cat_uniques] + [None],
                      dtype=object)
        keywords = kw[np.asarray(cat_codes, dtype=np.int64)]
        full_names = folded_names
        if any(isinstance(v, str) for v in long_names):
            folded_long = fold_column(long_names, words_cache)
            full_names = np.where(folded_long != "", folded_names + " " + folded_long, folded_names)
        text_index = TextIndex.build(
            [names, long_names, obj("name_complement"), commune_name, city, keywords],
            folded_names=full_names, finess=finess, finess_ej=obj("finess_ej"), cache=words_cache)

        finess_row = {f: i for i, f in enumerate(finess)}
        eq_arrays = build_equipment(equipment, finess_row, disciplines)

        # Records base: the columns a coordinator needs, prepared once, as numpy-backed columns
        # so that taking a page of rows is a cheap numpy take.
        data: dict[str, object] = {}
        for c in RECORD_COLUMNS:
            if c == "commune_name":
                data[c] = commune_name
            elif c in ("lon", "lat"):
                data[c] = lon if c == "lon" else lat
            elif c == "data_date":
                data[c] = np.full(n, meta.get("source_date"), dtype=object)
            elif c == "capacity_summary":
                data[c] = capacity_summary(cap_i, cap_a)
            elif c in est and not pd.api.types.is_string_dtype(est[c].dtype):
                data[c] = est[c].to_numpy()
            else:
                data[c] = obj(c)
        frame = pd.DataFrame({c: pd.Series(v, dtype=object) if isinstance(v, np.ndarray) and v.dtype == object
                              else v for c, v in data.items()})
        base = gpd.GeoDataFrame(frame, geometry=est.geometry.to_numpy(), crs=settings.CRS_DISPLAY)

        def prepared(frame: gpd.GeoDataFrame) -> np.ndarray:
            g = frame.geometry.to_numpy()
            ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
            shapely.prepare(g[ok])
            b = np.full((len(g), 4), np.nan)
            if ok.any():
                b[ok] = shapely.bounds(g[ok])
            return read_only(b)

        return cls(
            source=source, path=path, establishments=est, equipment=eq_arrays.table, territories=territories,
            communes=communes, departments=departments, families=families.reset_index(drop=True),
            categories=categories, disciplines=disciplines, care_activities=care_activities,
            metadata=meta, lon=read_only(lon), lat=read_only(lat), x_m=read_only(x_m), y_m=read_only(y_m),
            epsg_m=read_only(epsg_m), has_point=read_only(has_point), by_address=read_only(by_address),
            commune=CodeColumn.build(obj("commune")), department=CodeColumn.build(obj("department")),
            category=CodeColumn.build(obj("category")), aggregate=CodeColumn.build(obj("aggregate")),
            family=CodeColumn.build(obj("family")), status=CodeColumn.build(obj("status")),
            capacity_installed=read_only(cap_i), capacity_authorised=read_only(cap_a), name_rank=read_only(name_rank),
            finess_row=finess_row, text_index=text_index,
            equipment_arrays=eq_arrays, records_base=base,
            family_labels={str(f): str(lab) for f, lab in zip(
                families.sort_values("order")["family"], families.sort_values("order")["family_label"])},
            territory_row={str(k): i for i, k in enumerate(territories["dac_id"])},
            department_row={str(k): i for i, k in enumerate(departments["code"])},
            commune_row={str(k): i for i, k in enumerate(communes["code"])},
            territory_bounds=prepared(territories), department_bounds=prepared(departments),
            commune_bounds=prepared(communes),
            finess_plus=_finess_plus_index(finess_plus, finess_row),
        )


def _finess_plus_index(layers: Mapping[str, pd.DataFrame] | None, finess_row: Mapping[str, int]):
    """FINESS+ layers (``activites``, ``capacites``, ``zones_intervention``) -> index (issue 11)."""
    if not layers:
        return None
    from dac_map.finess_plus.index import FinessPlusIndex

    return FinessPlusIndex.build(layers.get("activites"), layers.get("capacites"),
                                 layers.get("zones_intervention"), finess_row)


def load_catalogue(source: str | Path | store.Store | None = None) -> Catalogue:
    """Read the store written by the ETL (by default :data:`~dac_map.settings.STORE_PATH`,
    read at call time) and prepare the catalogue.

    Raises :class:`~dac_map.errors.StoreError` (exit code 6) when the store or a required layer
    is missing or unreadable.
    """
    use_arrow_pool()
    st = store.open_store(source)
    if not st.exists():
        raise StoreError("the GeoPackage does not exist: run `dac-map etl` first / "
                         "le GeoPackage n'existe pas : lancer `dac-map etl`", path=st.location)
    layers = set(st.layers())
    missing = [name for name in (store.ESTABLISHMENTS, store.METADATA) if name not in layers]
    if missing:
        raise StoreError(f"not a dac-map store: missing layer(s) {', '.join(missing)}",
                         path=st.location)

    def opt(name: str) -> pd.DataFrame | None:
        return st.read_layer(name) if name in layers else None

    meta = st.read_metadata()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects: the cyclic GC only slows the load
    try:
        establishments = st.read_layer(store.ESTABLISHMENTS)
        communes, departments = opt(store.COMMUNES), opt(store.DEPARTMENTS)
        # -- territories (issue 13): the steward table, read at load, wins over the ETL's copy
        from dac_map.territories.catalogue import steward_layers

        territories, dac_id = steward_layers(meta, opt(store.TERRITORIES), departments, communes,
                                             establishments)
        if dac_id is not None:
            establishments["dac_id"] = dac_id
        # --
        return Catalogue.from_frames(
            establishments=establishments,
            equipment=opt(store.EQUIPMENT), territories=territories,
            communes=communes, departments=departments,
            families=opt(store.FAMILIES), categories=opt(store.CATEGORIES),
            disciplines=opt(store.DISCIPLINES), care_activities=opt(CARE_ACTIVITY_LAYER),
            metadata=meta, path=Path(st.location), source=st,
            finess_plus={name: opt(name) for name in ("activites", "capacites", "zones_intervention")
                         if name in layers})
    finally:
        if gc_was_enabled:
            gc.enable()


__all__ = ["Catalogue", "load_catalogue", "RECORD_COLUMNS", "CARE_ACTIVITY_LAYER"]
