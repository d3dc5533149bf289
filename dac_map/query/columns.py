"""Columns of a loaded catalogue as read-only numpy arrays: text columns as integer codes
(:class:`CodeColumn`), object arrays with ``None`` for missing values, the French capacity
summary of each establishment (:func:`capacity_summary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd


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
            codes, uniques = pd.factorize(object_array(pd.Series(list(values), dtype="object")),
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


def read_only(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def object_array(series: pd.Series) -> np.ndarray:
    """A column as an object numpy array with None for missing values."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) and hasattr(series.array, "__arrow_array__"):
        # Arrow-backed strings: pyarrow's own conversion is about twice as fast as pandas'.
        return series.array.__arrow_array__().to_numpy(zero_copy_only=False)
    if pd.api.types.is_string_dtype(dtype) and dtype != object:
        return series.to_numpy(dtype=object, na_value=None)
    arr = series.to_numpy(dtype=object)
    return np.where(pd.isna(arr), None, arr)


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


__all__ = ["CodeColumn", "capacity_summary", "object_array", "read_only"]
