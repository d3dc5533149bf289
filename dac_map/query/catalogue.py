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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dac_map import settings, store
from dac_map.errors import StoreError
from dac_map.query.text import TextIndex, category_keywords, fold_column, fold_text

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

#: Most derived arrays kept in :attr:`Catalogue.cache`.
CACHE_SIZE = 64

T = TypeVar("T")


@dataclass(frozen=True)
class CodeColumn:
    """A text column as integer codes: ``codes[i]`` indexes ``values`` (-1 = missing)."""

    codes: np.ndarray
    values: np.ndarray
    index: Mapping[str, int]

    @classmethod
    def build(cls, values: pd.Series | np.ndarray | Iterable[object]) -> CodeColumn:
        """Factorize ``values`` (missing values get code -1)."""
        if isinstance(values, (np.ndarray, pd.Series)):
            codes, uniques = pd.factorize(values, use_na_sentinel=True)  # Arrow-backed: fast path
        else:
            codes, uniques = pd.factorize(_object_array(pd.Series(list(values), dtype="object")),
                                          use_na_sentinel=True)
        values = np.array([str(v) for v in np.asarray(uniques, dtype=object)], dtype=object)
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


def offered_lines(removed_installed: np.ndarray, installed: np.ndarray) -> np.ndarray:
    """THE rule for "this establishment offers this discipline" (one value per equipment line
    of cs1100505; an establishment offers a discipline when one of its lines does).

    A line counts when its installation is in force: its installed capacity is NOT flagged
    removed (``indsupinst`` = ``O``) and is not zero (unknown counts). A line whose
    installation is removed but whose authorisation remains (``indsupinst`` = ``O``,
    ``indsupaut`` = ``N``) is an authorised activity that is not (or no longer) running: a
    coordinator cannot send anyone there, so it does not count. Likewise an authorisation
    with 0 installed places. The authorisation flag plays no part.

    Used by the search (:class:`~dac_map.query.filters.SpecialtyFilter`, hence the map and
    ``dac-map search``) and by the coverage indicators (:mod:`dac_map.coverage`).

    Args:
        removed_installed: boolean per line (missing = not removed).
        installed: installed places per line (NaN = unknown).
    """
    removed = np.asarray(removed_installed, dtype=bool)
    places = np.asarray(installed, dtype="float64")
    return ~removed & ~(places == 0)


def offered_in(equipment: pd.DataFrame) -> np.ndarray:
    """:func:`offered_lines` of an equipment table (``removed_installed``, missing = not
    removed, and ``capacity_installed`` columns)."""
    removed = (equipment["removed_installed"].fillna(False).to_numpy(dtype=bool)
               if "removed_installed" in equipment else np.zeros(len(equipment), dtype=bool))
    installed = pd.to_numeric(equipment["capacity_installed"], errors="coerce").to_numpy(dtype="float64")
    return offered_lines(removed, installed)


@dataclass(frozen=True)
class Equipment:
    """Equipment lines as arrays. ``row`` is the establishment row of each line; capacities are
    in places (``installed`` is 0 on lines whose installed capacity is flagged removed, likewise
    ``authorised``); ``offered`` is :func:`offered_lines` (the lines that count)."""

    table: pd.DataFrame
    row: np.ndarray
    discipline: CodeColumn
    activity_type: CodeColumn
    clientele: CodeColumn
    installed: np.ndarray
    authorised: np.ndarray
    offered: np.ndarray
    #: kind (``discipline``, ``activity_type``, ``clientele``) -> code -> label, from the lines
    #: (and, for disciplines, the nomenclature)
    labels: Mapping[str, dict[str, str]]
    #: the same labels folded (:func:`~dac_map.query.text.fold_text`), for matching words
    folded_labels: Mapping[str, dict[str, str]] = field(default_factory=dict)


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


_SMALL_WORDS = frozenset({"Sur", "Sous", "Le", "La", "Les", "De", "Du", "Des", "En", "Et", "Aux", "Au",
                          "D", "L"})


def _title(city: object) -> object:
    """``"ST VALERY SUR SOMME CEDEX"`` -> ``"St Valery sur Somme"`` (postal city for display)."""
    if not isinstance(city, str):
        return None
    s = re.sub(r"\s+CEDEX\b.*$", "", city.strip(), flags=re.IGNORECASE).title()
    parts = re.split(r"([\s\-']+)", s)
    return "".join(p.lower() if i > 0 and p in _SMALL_WORDS else p for i, p in enumerate(parts))


def _object_array(series: pd.Series) -> np.ndarray:
    """A column as an object numpy array with None for missing values."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) and hasattr(series.array, "__arrow_array__"):
        # Arrow-backed strings: pyarrow's own conversion is about twice as fast as pandas'.
        return series.array.__arrow_array__().to_numpy(zero_copy_only=False)
    if pd.api.types.is_string_dtype(dtype) and dtype != object:
        return series.to_numpy(dtype=object, na_value=None)
    arr = series.to_numpy(dtype=object)
    return np.where(pd.isna(arr), None, arr)


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
                    finess_plus: Mapping[str, pd.DataFrame] | None = None) -> Catalogue:
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
                    got = _object_array(est[name])
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
        com_names = dict(zip(_object_array(communes["code"]), _object_array(communes["name"])))
        city = obj("city")
        city_codes, city_uniques = pd.factorize(city, use_na_sentinel=True)
        city_clean = pd.Series(np.append(
            np.array([_title(c) for c in city_uniques], dtype=object), None)[
            np.asarray(city_codes, dtype=np.int64)], dtype="object")
        commune_name = pd.Series(obj("commune"), dtype="object").map(com_names)
        commune_name = commune_name.where(commune_name.notna(), city_clean)
        commune_name = _object_array(commune_name)

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
        cat_label = dict(zip(_object_array(categories["category"]),
                             _object_array(categories["category_label"])))
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
        eq_arrays = _equipment_arrays(equipment, finess_row, disciplines)

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
            return _ro(b)

        return cls(
            path=path, establishments=est, equipment=eq_arrays.table, territories=territories,
            communes=communes, departments=departments, families=families.reset_index(drop=True),
            categories=categories, disciplines=disciplines, care_activities=care_activities,
            metadata=meta, lon=_ro(lon), lat=_ro(lat), x_m=_ro(x_m), y_m=_ro(y_m),
            epsg_m=_ro(epsg_m), has_point=_ro(has_point), by_address=_ro(by_address),
            commune=CodeColumn.build(obj("commune")), department=CodeColumn.build(obj("department")),
            category=CodeColumn.build(obj("category")), aggregate=CodeColumn.build(obj("aggregate")),
            family=CodeColumn.build(obj("family")), status=CodeColumn.build(obj("status")),
            capacity_installed=_ro(cap_i), capacity_authorised=_ro(cap_a), name_rank=_ro(name_rank),
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


def _summary(a: float, b: float) -> str:
    parts = []
    if a == a:
        parts.append(f"{int(a)} place{'s' if a >= 2 else ''} installée{'s' if a >= 2 else ''}")
    if b == b:
        parts.append(f"{int(b)} autorisée{'s' if b >= 2 else ''}")
    return " · ".join(parts) if parts else "capacité non renseignée"


def capacity_summary(installed: np.ndarray, authorised: np.ndarray) -> np.ndarray:
    """``"80 places installées · 94 autorisées"`` per row (``"capacité non renseignée"`` when
    unknown). Never speaks of free places: installed capacity is not availability. Each distinct
    (installed, authorised) pair is formatted once."""
    inst = np.asarray(installed, dtype="float64")
    aut = np.asarray(authorised, dtype="float64")
    if not len(inst):
        return np.empty(0, dtype=object)
    a = np.where(np.isnan(inst), -1.0, inst)
    b = np.where(np.isnan(aut), -1.0, aut)
    if not (np.all(a == np.floor(a)) and np.all(b == np.floor(b)) and a.max() < 1e6 and b.max() < 1e6):
        return np.array([_summary(x, y) for x, y in zip(inst, aut)], dtype=object)
    key = (a.astype(np.int64) + 1) * 1_000_001 + (b.astype(np.int64) + 1)
    uniq, inverse = np.unique(key, return_inverse=True)
    texts = np.array([_summary(np.nan if k // 1_000_001 == 0 else float(k // 1_000_001 - 1),
                               np.nan if k % 1_000_001 == 0 else float(k % 1_000_001 - 1))
                      for k in uniq.tolist()], dtype=object)
    return texts[inverse]


def _equipment_arrays(equipment: pd.DataFrame | None, pos: Mapping[str, int],
                      disciplines: pd.DataFrame | None = None) -> Equipment:
    """Equipment lines as arrays; ``pos`` maps FINESS numbers to establishment rows (lines of
    unknown establishments are dropped); ``disciplines`` adds the nomenclature's labels."""
    cols = ("finess", "discipline", "discipline_label", "activity_type", "activity_type_label",
            "clientele", "clientele_label")
    if equipment is None or not len(equipment):
        table = pd.DataFrame({c: pd.Series(dtype="str") for c in cols})
        table["capacity_installed"] = pd.Series(dtype="float64")
        table["capacity_authorised"] = pd.Series(dtype="float64")
    else:
        table = equipment.reset_index(drop=True)
    # Row of each line: factorize the line FINESS numbers (Arrow), look each distinct one up once.
    f_codes, f_uniques = pd.factorize(table["finess"], use_na_sentinel=True)
    u_rows = np.array([pos.get(u, -1) for u in f_uniques] + [-1], dtype=np.int64)
    row_arr = u_rows[np.asarray(f_codes, dtype=np.int64)]
    keep = row_arr >= 0
    if not keep.all():
        table = table[keep].reset_index(drop=True)
        row_arr = row_arr[keep]
    n = len(table)

    def flag(name: str) -> np.ndarray:
        if name in table:
            return table[name].fillna(False).to_numpy(dtype=bool)
        return np.zeros(n, dtype=bool)

    rem_i, rem_a = flag("removed_installed"), flag("removed_authorised")
    inst = table["capacity_installed"].to_numpy(dtype="float64", na_value=np.nan)
    aut = table["capacity_authorised"].to_numpy(dtype="float64", na_value=np.nan)
    offered = offered_lines(rem_i, inst)
    inst = np.where(rem_i | np.isnan(inst), 0.0, inst)
    aut = np.where(rem_a | np.isnan(aut), 0.0, aut)

    labels: dict[str, dict[str, str]] = {}
    for kind in ("discipline", "activity_type", "clientele"):
        lab_col = f"{kind}_label"
        codes, uniques = pd.factorize(table[kind], use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int64)
        ok = np.flatnonzero(codes >= 0)
        _, first = np.unique(codes[ok], return_index=True)  # first line of each code, in code order
        labs = table[lab_col].iloc[ok[first]].tolist() if lab_col in table else [None] * len(uniques)
        labels[kind] = {str(c): (str(lab) if isinstance(lab, str) else "")
                        for c, lab in zip(uniques, labs)}
    if disciplines is not None and len(disciplines):
        for c, lab in zip(_object_array(disciplines["discipline"]),
                          _object_array(disciplines["discipline_label"])):
            if isinstance(c, str):
                labels["discipline"].setdefault(c, lab if isinstance(lab, str) else "")
    folded = {kind: {c: fold_text(lab) for c, lab in d.items()} for kind, d in labels.items()}
    return Equipment(table=table, row=_ro(row_arr),
                     discipline=CodeColumn.build(table["discipline"]),
                     activity_type=CodeColumn.build(table["activity_type"]),
                     clientele=CodeColumn.build(table["clientele"]),
                     installed=_ro(inst), authorised=_ro(aut), offered=_ro(offered),
                     labels=labels, folded_labels=folded)


def load_catalogue(source: str | Path | store.Store | None = None) -> Catalogue:
    """Read the store written by the ETL (by default :data:`~dac_map.settings.STORE_PATH`,
    read at call time) and prepare the catalogue.

    Raises :class:`~dac_map.errors.StoreError` (exit code 6) when the store or a required layer
    is missing or unreadable.
    """
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
            metadata=meta, path=Path(st.location),
            finess_plus={name: opt(name) for name in ("activites", "capacites", "zones_intervention")
                         if name in layers})
    finally:
        if gc_was_enabled:
            gc.enable()


__all__ = ["Catalogue", "CodeColumn", "Equipment", "load_catalogue", "offered_in", "offered_lines",
           "capacity_summary", "RECORD_COLUMNS", "CARE_ACTIVITY_LAYER"]
