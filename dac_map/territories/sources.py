"""Where the checks and the lookup get their reference data: the commune list and the DAC
directory from a built store (``communes`` and ``etablissements`` layers, through
:func:`dac_map.store.open_store`), or the commune list from boundary files when no store is
built yet."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from dac_map import store
from dac_map.territories.check import CommuneReference
from dac_map.territories.directory import DIRECTORY_COLUMNS, dac_directory


def communes_from_store(location: str | Path | None) -> CommuneReference | None:
    """The ``communes`` layer of a store (codes and names), None when it has none."""
    st = store.open_store(location)
    if not st.exists() or not st.has_layer(store.COMMUNES):
        return None
    frame = st.read_layer(store.COMMUNES, read_geometry=False, columns=["code", "name"])
    return CommuneReference(dict(zip(frame["code"].astype(str), frame["name"].astype(str))))


def communes_from_files(paths: Iterable[str | Path]) -> CommuneReference:
    """Commune codes and names from boundary files (GeoJSON, GeoPackage...)."""
    from dac_map.etl.reference import read_boundaries

    names: dict[str, str] = {}
    for p in paths:
        frame = read_boundaries(p)
        names.update(zip(frame["code"], frame["name"]))
    return CommuneReference(names)


def directory_from_store(location: str | Path | None) -> pd.DataFrame | None:
    """The DAC directory (FINESS 606/801) of a built store; None when there is no store."""
    st = store.open_store(location)
    if not st.exists():
        return None
    cols = [c for c in DIRECTORY_COLUMNS if c in st.fields(store.ESTABLISHMENTS)]
    return dac_directory(st.read_layer(store.ESTABLISHMENTS, columns=cols))
