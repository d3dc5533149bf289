"""The store interface: what the rest of dac-map may ask of the persisted catalogue.

One :class:`Store` is one version of the catalogue: the layers written by the ETL, the
``metadata`` key/value table and, after a refresh, the ``changements`` table. Query, coverage,
refresh and UI code only use this interface (through :func:`dac_map.store.open_store`), so a
server implementation (PostGIS) can be added beside :class:`~dac_map.store.geopackage.GeoPackageStore`
without touching them.

Spatial layers are returned as GeoDataFrames in EPSG:4326 (WGS84 lon/lat, degrees).
Every failure raises :class:`~dac_map.errors.StoreError` (exit code 6).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ESTABLISHMENTS = "etablissements"
EQUIPMENT = "equipements"
DEPARTMENTS = "departements"
COMMUNES = "communes"
TERRITORIES = "territoires"
FAMILIES = "familles"
CATEGORIES = "categories"
DISCIPLINES = "disciplines"
ACTIVITIES = "activites_soins"
METADATA = "metadata"
#: Changes since the previous version, written by a refresh (see :mod:`dac_map.refresh.diff`).
CHANGES = "changements"


def with_key(key: str, columns: Sequence[str] | None) -> list[str] | None:
    """The columns :meth:`Store.read_rows` reads: ``key`` first, then ``columns`` (all when None)."""
    return None if columns is None else [key, *[c for c in columns if c != key]]


class Store(abc.ABC):
    """One version of the catalogue (see the module doc)."""

    #: Where the store lives (a path or a URL), for messages and cache keys.
    location: str

    @abc.abstractmethod
    def exists(self) -> bool:
        """Whether the store exists (it may still be unreadable)."""

    @abc.abstractmethod
    def token(self) -> tuple:
        """A value that changes whenever the content changes (cache key)."""

    @abc.abstractmethod
    def layers(self) -> list[str]:
        """Names of the layers and tables present (``[]`` when the store does not exist)."""

    @abc.abstractmethod
    def fields(self, layer: str) -> dict[str, str]:
        """Columns of ``layer`` (geometry excluded) -> numpy/pandas dtype name."""

    @abc.abstractmethod
    def read_layer(self, layer: str, *, columns: Sequence[str] | None = None,
                   read_geometry: bool = True) -> pd.DataFrame:
        """One layer: a GeoDataFrame (EPSG:4326) for a spatial layer read with its geometry,
        else a DataFrame. Date-time fields are ``datetime64[ms]``."""

    @abc.abstractmethod
    def write(self, layers: Mapping[str, pd.DataFrame], metadata: Mapping[str, object]) -> None:
        """Replace the whole content by ``layers`` and ``metadata``, atomically: on failure the
        previous content is untouched. List-valued columns are stored as JSON text; metadata
        values that are not strings are stored as JSON."""

    @abc.abstractmethod
    def update_metadata(self, values: Mapping[str, object]) -> None:
        """Set some keys of the metadata table (JSON-encoded like :meth:`write`), keep the others."""

    @abc.abstractmethod
    def write_table(self, layer: str, frame: pd.DataFrame) -> None:
        """Add or replace one attribute table (no geometry), leaving the other layers as they are."""

    @abc.abstractmethod
    def replace_with(self, source: Store) -> None:
        """The atomic swap: make this store a copy of ``source``; readers see the old content
        or the new one, never a mix. On failure this store is untouched."""

    # ------------------------------------------------------------------ derived operations

    def has_layer(self, layer: str) -> bool:
        """Whether ``layer`` is present (``False`` when the store is absent or unreadable)."""
        from dac_map.errors import StoreError

        try:
            return layer in self.layers()
        except StoreError:
            return False

    def read_rows(self, layer: str, key: str, values: Sequence[str], *,
                  columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows of attribute table ``layer`` whose column ``key`` is one of ``values``
        (texts), in the layer's order, without geometry; ``columns`` as in :meth:`read_layer`
        (``key`` always included). This default reads the table and keeps the rows; a store
        that can select rows where they are stored overrides it."""
        frame = self.read_layer(layer, columns=with_key(key, columns), read_geometry=False)
        return frame[frame[key].astype(object).isin(set(map(str, values)))].reset_index(drop=True)

    def read_metadata(self) -> dict[str, object]:
        """The metadata table as a dict, JSON values decoded."""
        import json

        meta = self.read_layer(METADATA, read_geometry=False)
        out: dict[str, object] = {}
        for key, value in zip(meta["key"], meta["value"]):
            try:
                out[key] = json.loads(value)
            except (TypeError, ValueError):
                out[key] = value
        return out

    def write_changes(self, frame: pd.DataFrame) -> None:
        """Add or replace the ``changements`` table."""
        self.write_table(CHANGES, frame)

    def read_changes(self) -> pd.DataFrame | None:
        """The ``changements`` table, or ``None`` when the store has none (not built by a
        refresh, or absent)."""
        if not self.has_layer(CHANGES):
            return None
        return self.read_layer(CHANGES, read_geometry=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


def metadata_frame(values: Mapping[str, object]) -> pd.DataFrame:
    """The ``key``/``value`` table of ``values`` (text kept as is, anything else as JSON)."""
    import json

    import pandas as pd

    return pd.DataFrame({"key": list(values),
                         "value": [v if isinstance(v, str) else
                                   json.dumps(v, default=str, ensure_ascii=False)
                                   for v in values.values()]})
