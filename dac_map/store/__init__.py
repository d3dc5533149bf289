"""The store: the ONLY gateway to the persisted catalogue.

* :mod:`.base`: the :class:`Store` interface and the layer names;
* :mod:`.geopackage`: :class:`GeoPackageStore`, the embedded default (one GeoPackage file).

Everything else gets a store with :func:`open_store` and never opens the file itself.
"""

from __future__ import annotations

import os

from dac_map.store.base import (
    ACTIVITIES,
    CATEGORIES,
    CHANGES,
    COMMUNES,
    DEPARTMENTS,
    DISCIPLINES,
    EQUIPMENT,
    ESTABLISHMENTS,
    FAMILIES,
    METADATA,
    TERRITORIES,
    Store,
)


def open_store(location: str | os.PathLike | Store | None = None) -> Store:
    """The store at ``location``: a :class:`Store` is returned as is, a path opens a
    :class:`~dac_map.store.geopackage.GeoPackageStore`, a ``postgresql://`` URL the served
    version in PostGIS (:class:`dac_map.server.pgstore.PostGISStore`), ``None`` the configured store
    (:data:`dac_map.settings.STORE_PATH`, read at call time). Nothing is read yet."""
    if isinstance(location, Store):
        return location
    if str(location).startswith(("postgresql://", "postgres://")):  # server mode (issue 14)
        from dac_map.server.pgstore import PostGISStore

        return PostGISStore(str(location))
    from dac_map import settings
    from dac_map.store.geopackage import GeoPackageStore

    return GeoPackageStore(settings.STORE_PATH if location is None else location)


def __getattr__(name: str):
    # GeoPackageStore imports GDAL/pyogrio: only when asked for.
    if name == "GeoPackageStore":
        from dac_map.store.geopackage import GeoPackageStore

        return GeoPackageStore
    raise AttributeError(name)


__all__ = [
    "ACTIVITIES", "CATEGORIES", "CHANGES", "COMMUNES", "DEPARTMENTS", "DISCIPLINES", "EQUIPMENT",
    "ESTABLISHMENTS", "FAMILIES", "GeoPackageStore", "METADATA", "Store", "TERRITORIES",
    "open_store",
]
