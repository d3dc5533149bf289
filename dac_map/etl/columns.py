"""Vectorised operations on text columns, through Arrow.

The ETL's text columns are pandas ``str`` columns stored in Arrow: these helpers work on the
Arrow arrays directly (hash sets, dictionary encoding, RE2 regular expressions, C number
parsing) instead of pandas' per-value Python paths (``Series.map``, ``pd.to_numeric`` on text),
with the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Decimal numbers that Arrow's and pandas' parsers both read, to the same (correctly rounded)
#: double; anything else is left to pandas.
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


def text_array(values: pd.Series | pd.Index) -> pa.Array:
    """A text column as one Arrow string array (no copy for Arrow-backed columns)."""
    arr = pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    return arr


def isin_text(values: pd.Series, known: pd.Series) -> np.ndarray:
    """Vectorised membership test of string columns (Arrow hash set)."""
    result = pc.is_in(text_array(values), value_set=text_array(known).unique())
    return np.asarray(result.fill_null(False), dtype=bool)


def positions(values: pd.Series, keys: pd.Index | pd.Series) -> np.ndarray:
    """Position in ``keys`` of each value (the first match; -1 when absent or missing)."""
    found = pc.index_in(text_array(values), value_set=text_array(keys), skip_nulls=True)
    return found.fill_null(-1).to_numpy().astype(np.intp)


def lookup(values: pd.Series, table: pd.Series) -> pd.Series:
    """``values.map(table)`` for a text column and a table indexed by text: the entry of
    ``table`` for each value, NA where there is none."""
    taken = table.array.take(positions(values, table.index), allow_fill=True)
    return pd.Series(taken, index=values.index, name=table.name)


def map_distinct(values: pd.Series, fn: Callable[[str], Hashable | None]) -> np.ndarray:
    """``fn`` applied once per distinct value of a text column (which has few of them), as an
    object array aligned with ``values`` (None for missing values)."""
    encoded = pc.dictionary_encode(text_array(values))
    results = np.asarray([fn(v) for v in encoded.dictionary.to_pylist()] + [None], dtype=object)
    indices = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy()
    return results[indices]


def to_float(text: pd.Series) -> pd.Series:
    """``pd.to_numeric(text, errors="coerce")`` for a text column without missing values:
    blank -> NaN. Plain decimal numbers are parsed by Arrow; a column holding anything else
    (words, hexadecimal, ``inf``...) goes through pandas whole, so every value gets pandas'
    reading."""
    arr = text_array(text)
    present = pc.not_equal(arr, "")
    plain = pc.match_substring_regex(arr, _PLAIN_NUMBER)
    if pc.all(pc.or_(pc.invert(present), plain)).as_py() is not False:
        numbers = pc.cast(pc.if_else(present, arr, pa.scalar(None, arr.type)), pa.float64())
        return pd.Series(numbers.to_numpy(zero_copy_only=False), index=text.index, dtype="float64")
    return pd.to_numeric(text, errors="coerce")
