"""The social resources as a read-only catalogue (issue 16): :class:`SocialCatalogue`, loaded
from the store's ``ressources_sociales`` and ``zones_ressources_sociales`` tables by
:func:`load_social` — whole, for the app (once per process), or column by column for a one-off
search (``dac-map search``: only the columns its filters need, then only the rows it shows).
The filters over it are in :mod:`dac_map.inclusion.filters`.

Coordinates are WGS84 degrees (EPSG:4326).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dac_map import codes
from dac_map.errors import StoreError
from dac_map.inclusion.resources import COLUMNS, RESOURCES_LAYER, ZONES_LAYER
from dac_map.query.serving import AreaIndex
from dac_map.query.text import fold_column


def _list(v: object) -> list[str]:
    if isinstance(v, (list, tuple, np.ndarray)):
        return [str(x) for x in v]
    if isinstance(v, str) and v.startswith("["):
        try:
            return [str(x) for x in json.loads(v)]
        except ValueError:
            return []
    return []


def _list_column(values: pd.Series) -> pd.Series:
    """:func:`_list` of every cell, as a new list per cell. A column of texts (as the store keeps
    list columns: JSON arrays) is parsed once per DISTINCT text (a 200,000-row column has a few
    thousand); a column holding Python lists (the importer's) goes cell by cell."""
    codes, parsed = _ListColumn.factorize(values)
    fresh = [True] * len(parsed)  # a distinct text's list goes to its first row, copies to the others
    out = []
    for c in codes.tolist():
        if c < 0:
            out.append([])
        elif fresh[c]:
            fresh[c] = False
            out.append(parsed[c])
        else:
            out.append(list(parsed[c]))
    return pd.Series(out, index=values.index, dtype=object)


@dataclass(frozen=True)
class _ListColumn:
    """A list column as the code of each row (-1: no value) into its distinct parsed lists, for
    masks: rows having one of some values."""

    codes: np.ndarray
    lists: tuple[tuple[str, ...], ...]

    @staticmethod
    def factorize(values: Iterable[object]) -> tuple[np.ndarray, list[list[str]]]:
        """(code of each cell, :func:`_list` of each distinct cell); -1 for an empty cell."""
        arr = np.asarray(values.to_numpy(dtype=object) if isinstance(values, pd.Series) else list(values),
                         dtype=object)
        try:
            codes, uniques = pd.factorize(arr, use_na_sentinel=True)
        except TypeError:  # unhashable cells (Python lists, the importer's or a loaded table's)
            seen: dict[object, int] = {}
            firsts: list[object] = []
            out = np.empty(len(arr), dtype=np.int64)
            try:
                for i, v in enumerate(arr):
                    key = (list, *v) if isinstance(v, (list, tuple, np.ndarray)) else v
                    if isinstance(key, float) and key != key:
                        key = None
                    code = seen.get(key)
                    if code is None:
                        code = seen[key] = len(firsts)
                        firsts.append(v)
                    out[i] = code
            except TypeError:  # a list of unhashable items: each row its own
                return np.arange(len(arr), dtype=np.int64), [_list(v) for v in arr]
            return out, [_list(u) for u in firsts]
        return codes.astype(np.int64, copy=False), [_list(u) for u in uniques]

    @classmethod
    def build(cls, column: Iterable[object]) -> _ListColumn:
        codes, parsed = cls.factorize(column)
        return cls(codes, tuple(tuple(p) for p in parsed))

    def mask(self, n: int, wanted: Iterable[str]) -> np.ndarray:
        wanted = set(wanted)
        hit = np.array([not wanted.isdisjoint(v) for v in self.lists] + [False], dtype=bool)
        return hit[self.codes]  # code -1 takes the trailing False

#: List-valued columns of :data:`RESOURCES_LAYER` (JSON array texts in the store).
LIST_COLUMNS = ("thematics", "families", "publics", "zone_codes", "zone_unexpanded", "mobilisation")
#: Columns a lazily loaded catalogue reads at once (the filters' and the order's); the others
#: (text search, display) are read when asked for.
FILTER_COLUMNS = ("resource_id", "name", "families", "publics", "fee", "quality", "commune", "lon", "lat",
                  "fictitious")
_TEXT_COLUMNS = ("name", "structure_name", "description")


def _prepare(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the social table as searches return them: every :data:`COLUMNS` (None when the
    store lacks one), list columns as Python lists."""
    table = table.reset_index(drop=True).copy()
    for c in COLUMNS:
        if c not in table:
            table[c] = None
    for c in LIST_COLUMNS:
        table[c] = _list_column(table[c])
    return table


class SocialCatalogue:
    """Read-only social resources (:data:`COLUMNS`, one row per resource) and the arrays the
    filters use, each built on first use.

    A catalogue from :func:`load_social` reads the store lazily: at first only the filters'
    columns (:data:`FILTER_COLUMNS`), then what a search asks for — the text columns, the
    intervention areas (``serving``), the commune names — and, for a result,
    :meth:`records` reads the rows shown (``Store.read_rows``) or, beyond
    :data:`~dac_map.settings.SOCIAL_ROWS_READ_MAX` rows or once :meth:`load_table` was called
    (the app, which keeps the catalogue for the whole process), the whole ``table``. Every read
    checks that the store still holds the same resources in the same order
    (:class:`~dac_map.errors.StoreError` otherwise). :meth:`from_frames` prepares one from
    tables already in memory."""

    def __init__(self, *, store=None, columns: pd.DataFrame, table: pd.DataFrame | None = None,
                 zones: pd.DataFrame | None = None, commune_names: Mapping[str, str] | None = None,
                 epci_communes: Mapping[str, Iterable[str]] | None = None, token: object = None) -> None:
        self._store = store
        self._token = token  # the store's token before the first read (None: not checked)
        self._columns = columns.reset_index(drop=True)
        self._table = table
        self._zones = zones
        self._commune_names = None if commune_names is None else dict(commune_names)
        self._epci_communes = epci_communes
        self._lock = threading.RLock()
        self._cache: dict[str, object] = {}
        self.ids = self._columns["resource_id"].astype(object).to_numpy(dtype=object) \
            if "resource_id" in self._columns else np.full(len(self._columns), None, dtype=object)

    # ------------------------------------------------------------------ building

    @classmethod
    def from_frames(cls, table: pd.DataFrame, zones: pd.DataFrame | None = None,
                    commune_names: Mapping[str, str] | None = None,
                    epci_communes: Mapping[str, Iterable[str]] | None = None) -> SocialCatalogue:
        """A catalogue of tables in memory (``table`` shaped like :data:`RESOURCES_LAYER`,
        ``zones`` like :data:`ZONES_LAYER`)."""
        table = _prepare(table)
        return cls(columns=table, table=table, zones=zones, commune_names=commune_names or {},
                   epci_communes=epci_communes)

    def __len__(self) -> int:
        return len(self._columns)

    def _memo(self, key: str, compute: Callable[[], object]):
        try:
            return self._cache[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    # ------------------------------------------------------------------ store reads

    def _changed(self) -> StoreError:
        return StoreError("les ressources sociales ont changé dans le catalogue pendant la lecture : "
                          "relancer / the social resources changed while being read, retry",
                          path=getattr(self._store, "location", None))

    def _check(self) -> None:
        """Refuse to read more from a store whose content changed since the first read."""
        if self._token is not None and self._store.token() != self._token:
            raise self._changed()

    def _read(self, columns: Iterable[str] | None) -> pd.DataFrame:
        """Columns of :data:`RESOURCES_LAYER` (all when None), checked against the rows loaded."""
        self._check()
        wanted = None if columns is None else ["resource_id", *[c for c in columns if c != "resource_id"]]
        frame = self._store.read_layer(RESOURCES_LAYER, columns=wanted, read_geometry=False)
        if len(frame) != len(self) or not np.array_equal(
                frame["resource_id"].astype(object).to_numpy(dtype=object), self.ids):
            raise self._changed()
        return frame.reset_index(drop=True)

    def column(self, name: str) -> pd.Series:
        """One column of the resources as the store holds it (list columns may be JSON texts);
        read from the store on first use when the catalogue is lazy; None values when the store
        has no such column."""
        for frame in (self._columns, self._table):
            if frame is not None and name in frame:
                return frame[name]
        if self._store is None or name not in self._store.fields(RESOURCES_LAYER):
            return pd.Series([None] * len(self), dtype=object)
        with self._lock:
            if name not in self._columns:
                extra = self._read([name])
                self._columns = self._columns.assign(**{name: extra[name].to_numpy()})
            return self._columns[name]

    @property
    def table(self) -> pd.DataFrame:
        """The whole table (every :data:`COLUMNS`, list columns as lists), read once."""
        self.load_table()
        return self._table

    def load_table(self) -> SocialCatalogue:
        """Read the whole table now (kept): :meth:`records` then takes its rows."""
        if self._table is None:
            with self._lock:
                if self._table is None:
                    self._table = _prepare(self._read(None))
        return self

    def records(self, rows: np.ndarray) -> pd.DataFrame:
        """The resources at positions ``rows`` (in that order), shaped like ``table.iloc[rows]``
        with a fresh 0.. index: taken from the whole table when it is loaded, else read from the
        store (the rows only, up to :data:`~dac_map.settings.SOCIAL_ROWS_READ_MAX`)."""
        rows = np.asarray(rows, dtype=np.int64)
        frame = self._rows_from_store(rows)
        if frame is not None:
            return _prepare(frame)
        return self.table.iloc[rows].reset_index(drop=True).copy()

    def _rows_from_store(self, rows: np.ndarray, columns: Sequence[str] | None = None) -> pd.DataFrame | None:
        """The rows at positions ``rows`` (in that order; ``columns``, default all) read from
        the store by identifier, or None when they are not to be read so: the whole table is
        loaded, more than :data:`~dac_map.settings.SOCIAL_ROWS_READ_MAX` rows, identifiers not
        unique."""
        from dac_map import settings

        if self._table is not None or self._store is None or len(rows) > settings.SOCIAL_ROWS_READ_MAX \
                or not self._unique_ids():
            return None
        wanted = self.ids[rows]
        self._check()
        frame = self._store.read_rows(RESOURCES_LAYER, "resource_id", list(wanted), columns=columns)
        at = pd.Index(frame["resource_id"].astype(object))
        if len(frame) != len(rows) or not at.is_unique:
            raise self._changed()
        pos = at.get_indexer(pd.Index(wanted, dtype=object))
        if (pos < 0).any():
            raise self._changed()
        return frame.iloc[pos].reset_index(drop=True)

    def _unique_ids(self) -> bool:
        return bool(self._memo("unique", lambda: pd.Index(self.ids).is_unique and not pd.isna(self.ids).any()))

    # ------------------------------------------------------------------ the filters' arrays

    @property
    def families(self) -> _ListColumn:
        return self._memo("families", lambda: _ListColumn.build(self.column("families")))

    @property
    def publics(self) -> _ListColumn:
        return self._memo("publics", lambda: _ListColumn.build(self.column("publics")))

    def _codes(self, name: str) -> np.ndarray:
        """A text column as an object array, None for a missing value (kept)."""
        def compute():
            values = self.column(name).astype(object)
            return values.where(values.notna(), None).to_numpy(dtype=object)
        return self._memo(name, compute)

    @property
    def fee(self) -> np.ndarray:
        return self._codes("fee")

    @property
    def quality(self) -> np.ndarray:
        return self._memo("quality", lambda: pd.to_numeric(self.column("quality"), errors="coerce")
                          .to_numpy(dtype="float64"))

    @property
    def commune(self) -> np.ndarray:
        return self._codes("commune")

    @property
    def department(self) -> np.ndarray:
        def compute():
            codes_, uniques = pd.factorize(self.commune, use_na_sentinel=True)
            deps = np.array([codes.department_of(c) if isinstance(c, str) and codes.is_commune(c) else None
                             for c in uniques] + [None], dtype=object)
            return deps[codes_]
        return self._memo("department", compute)

    @property
    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat) of each resource, WGS84 degrees (EPSG:4326), NaN when unknown."""
        return self._memo("lonlat", lambda: tuple(pd.to_numeric(self.column(c), errors="coerce")
                                                  .to_numpy(dtype=float) for c in ("lon", "lat")))

    def folded_text(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Folded name, structure and start of the description of each resource (accents and
        case removed), or of the resources at positions ``rows``. Computed for every resource
        (and kept) on the first text search of a catalogue holding its whole table (the app);
        a lazy catalogue (a one-off command) folds the rows asked for only."""
        def fold(at: np.ndarray | None) -> np.ndarray:
            loaded = all(c in self._columns or self._table is not None for c in _TEXT_COLUMNS)
            frame = None if at is None or loaded else self._rows_from_store(at, _TEXT_COLUMNS)
            if frame is not None:  # a few rows left: their text only, read by identifier
                name, structure, description = (frame[c] if c in frame else pd.Series([None] * len(frame))
                                                for c in _TEXT_COLUMNS)
            else:
                name, structure, description = (self.column(c) for c in _TEXT_COLUMNS)
                if at is not None:
                    name, structure, description = (c.iloc[at] for c in (name, structure, description))
            text = (name.fillna("").astype(str) + " " + structure.fillna("").astype(str) + " "
                    + description.fillna("").astype(str).str[:400])
            return fold_column(text.to_numpy(dtype=object))

        if rows is not None and self._table is None and "folded" not in self._cache:
            return fold(np.asarray(rows, dtype=np.int64))
        folded = self._memo("folded", lambda: fold(None))
        return folded if rows is None else folded[rows]

    @property
    def fictitious(self) -> np.ndarray:
        return self.column("fictitious").fillna(False).to_numpy(dtype=bool)

    @property
    def serving(self) -> AreaIndex:
        """The « Intervient à » index of the intervention areas (built on first use)."""
        def compute():
            zones = self._zones
            if zones is None and self._store is not None and self._store.has_layer(ZONES_LAYER):
                self._check()
                zones = self._store.read_layer(ZONES_LAYER, columns=["resource_id", "code"], read_geometry=False)
            area_codes, area_rows = np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
            if zones is not None and len(zones):
                pos = pd.Series(np.arange(len(self)), index=pd.Index(self.ids, dtype=object).astype(str))
                rows = pos.reindex(zones["resource_id"].astype(str)).to_numpy()
                ok = ~np.isnan(rows)
                area_codes = zones["code"].astype(str).to_numpy(dtype=object)[ok]
                area_rows = rows[ok].astype(np.int64)
            epci = self._epci_communes
            if epci is None and self._store is not None:
                from dac_map.inclusion.zones import epci_table

                epci = epci_table().communes
            return AreaIndex.from_pairs(area_codes, area_rows, epci)
        return self._memo("serving", compute)

    @property
    def commune_names(self) -> Mapping[str, str]:
        """Commune INSEE code -> name (the store's communes)."""
        def compute():
            if self._commune_names is not None:
                return self._commune_names
            from dac_map import store

            if self._store is None or not self._store.has_layer(store.COMMUNES):
                return {}
            com = self._store.read_layer(store.COMMUNES, columns=["code", "name"], read_geometry=False)
            return dict(zip(com["code"], com["name"]))
        return self._memo("commune_names", compute)

    def commune_name(self, code: str) -> str | None:
        return self.commune_names.get(code)


def load_social(source=None, *, whole: bool = True) -> SocialCatalogue | None:
    """The social catalogue of the store (``None`` when it has no social resources): the whole
    table read at once (``whole``, for a process that keeps it: the app), or lazily (a one-off
    command reads only what its search needs, see :class:`SocialCatalogue`)."""
    from dac_map import store

    st = store.open_store(source)
    if not st.exists() or not st.has_layer(RESOURCES_LAYER):
        return None
    token = st.token()
    if whole:  # the areas too, from the same version (the app keeps the catalogue while the store may change)
        table = _prepare(st.read_layer(RESOURCES_LAYER, read_geometry=False))
        zones = (st.read_layer(ZONES_LAYER, columns=["resource_id", "code"], read_geometry=False)
                 if st.has_layer(ZONES_LAYER) else None)
        return SocialCatalogue(store=st, columns=table, table=table, zones=zones)
    fields = st.fields(RESOURCES_LAYER)
    columns = st.read_layer(RESOURCES_LAYER, columns=[c for c in FILTER_COLUMNS if c in fields],
                            read_geometry=False)
    return SocialCatalogue(store=st, columns=columns, token=token)
