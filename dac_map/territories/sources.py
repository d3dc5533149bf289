"""Where the checks and the lookup get their reference data: the commune list and the DAC
directory from a built GeoPackage (``communes`` and ``etablissements`` layers), or the commune
list from boundary files when no store is built yet."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from dac_map import store
from dac_map.territories.check import CommuneReference
from dac_map.territories.directory import DIRECTORY_COLUMNS, dac_directory


def communes_from_store(path: str | Path) -> CommuneReference | None:
    """The ``communes`` layer of a store (codes and names), None when it has none."""
    if not Path(path).exists() or store.COMMUNES not in store.list_store_layers(path):
        return None
    frame = store.read_layer(path, store.COMMUNES, read_geometry=False, columns=["code", "name"])
    return CommuneReference(dict(zip(frame["code"].astype(str), frame["name"].astype(str))))


def communes_from_files(paths: Iterable[str | Path]) -> CommuneReference:
    """Commune codes and names from boundary files (GeoJSON, GeoPackage...)."""
    from dac_map.reference import read_boundaries

    names: dict[str, str] = {}
    for p in paths:
        frame = read_boundaries(p)
        names.update(zip(frame["code"], frame["name"]))
    return CommuneReference(names)


def directory_from_store(path: str | Path) -> pd.DataFrame:
    """The DAC directory (FINESS 606/801) of a built store; empty when there is no store."""
    if not Path(path).exists():
        return pd.DataFrame(columns=list(DIRECTORY_COLUMNS))
    est = store.read_layer(path, store.ESTABLISHMENTS, where="category IN ('606', '801')")
    return dac_directory(est)
