"""The store: the ONLY gateway to the persisted catalogue (GeoPackage today).

See :mod:`dac_map.store.geopackage` for the layers and the atomic write.
"""

from dac_map.store.geopackage import (
    ACTIVITIES,
    CATEGORIES,
    COMMUNES,
    DEPARTMENTS,
    DISCIPLINES,
    EQUIPMENT,
    ESTABLISHMENTS,
    FAMILIES,
    METADATA,
    TERRITORIES,
    clean_leftovers,
    list_store_layers,
    read_layer,
    read_metadata,
    write_store,
)

__all__ = [
    "ACTIVITIES", "CATEGORIES", "COMMUNES", "DEPARTMENTS", "DISCIPLINES", "EQUIPMENT",
    "ESTABLISHMENTS", "FAMILIES", "METADATA", "TERRITORIES", "clean_leftovers",
    "list_store_layers", "read_layer",
    "read_metadata", "write_store",
]
