"""The Arrow text-column helpers of the ETL (``dac_map.etl.columns``) against independent
references: Python's ``float``, dict look-ups in plain Python, and the INSEE code rules written
out value by value."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from dac_map.etl.columns import isin_text, lookup, map_distinct, to_float
from dac_map.etl.domain import commune_codes
from dac_map.etl.layouts import OVERSEAS_DEPARTMENTS
from dac_map.etl.parser import parse_projection

_NUMBERISH = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False, places=6).map(str),
    st.integers(-10**12, 10**12).map(str),
    st.sampled_from(["", "1.", ".5", "-0", "+3", "1e5", "2E-3", "abc", "1,5", "0x10", "inf", "nan",
                     " 7", "1 000", "--1", "1e", "e5", "١٢"]),
)


def _python_number(text: str) -> float:
    """What a coordinate cell means, by Python's own parser: NaN for blank or unreadable."""
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


@hsettings(max_examples=300, deadline=None)
@given(st.lists(_NUMBERISH, min_size=1, max_size=30))
def test_to_float_reads_like_pandas_and_python(values):
    series = pd.Series(values, dtype="str", index=range(3, 3 + len(values)))
    got = to_float(series)
    expected_pandas = pd.to_numeric(series, errors="coerce").astype("float64")
    assert got.index.equals(series.index)
    np.testing.assert_array_equal(got.to_numpy(), expected_pandas.to_numpy())
    plain = [v for v in values if v and _python_number(v) == _python_number(v)
             and v.strip() == v and not v.lower().lstrip("+-").startswith(("inf", "nan"))
             and v.isascii()]
    for v in plain:  # decimal text: the same double as Python's correctly rounded float()
        assert got[series == v].iloc[0] == float(v), v


def test_to_float_arrow_path_equals_python_on_many_decimals():
    rng = np.random.default_rng(3)
    values = [f"{x:.{int(d)}f}" for x, d in zip(rng.uniform(-1e6, 8e6, 20_000),
                                                  rng.integers(0, 17, 20_000))] + [""]
    got = to_float(pd.Series(values, dtype="str")).to_numpy()
    expected = np.array([float(v) if v else np.nan for v in values])
    np.testing.assert_array_equal(got, expected)


@given(st.lists(st.sampled_from(["a", "b", "é", "", "zz", None]), max_size=40),
       st.dictionaries(st.sampled_from(["a", "b", "é", "", "q"]), st.text(max_size=3), max_size=5))
def test_lookup_and_membership_match_plain_python(values, table):
    series = pd.Series(values, dtype="str", index=range(7, 7 + len(values)))
    mapping = pd.Series(list(table.values()), index=list(table), dtype="str")
    got = lookup(series, mapping)
    expected = [table.get(v) if isinstance(v, str) else None for v in values]
    assert [None if isinstance(v, float) else v for v in got.tolist()] == expected
    assert got.index.equals(series.index)
    known = pd.Series(list(table), dtype="str")
    assert isin_text(series, known).tolist() == [isinstance(v, str) and v in table for v in values]


def test_map_distinct_calls_once_per_value_and_aligns():
    calls: list[str] = []

    def fn(v: str):
        calls.append(v)
        return parse_projection(v)

    values = ["1,X,LAMBERT_93", "", "EPSG:2972", "1,X,LAMBERT_93", "bogus", None, "EPSG:2972"]
    got = map_distinct(pd.Series(values, dtype="str"), fn)
    assert got.tolist() == [2154, None, 2972, 2154, None, None, 2972]
    assert sorted(calls) == sorted({"1,X,LAMBERT_93", "", "EPSG:2972", "bogus"})


def _insee_by_hand(dep: str | None, com: str | None) -> tuple[str | None, str | None]:
    """The INSEE department and commune of a FINESS ``departement`` + ``commune``, one value
    at a time (the rules of ``commune_codes``' docstring)."""
    dep, com = dep or "", com or ""
    valid_com = len(com) == 3 and com.isascii() and com.isdigit()
    metro = (len(dep) == 2 and dep.isascii() and ((dep[0] in "012345678" and dep[1].isdigit())
                                                  or (dep[0] == "9" and dep[1] in "012345")
                                                  or dep in ("2A", "2B")))
    overseas = len(dep) == 2 and dep[0] == "9" and "A" <= dep[1] <= "Z"
    if metro:
        return dep, dep + com if valid_com else None
    if overseas:
        return OVERSEAS_DEPARTMENTS.get(dep, "97" + com[:1]), "97" + com if valid_com else None
    return None, None


@pytest.mark.parametrize("dtype", ["str", object])
def test_commune_codes_equal_the_rules_value_by_value(dtype):
    deps = ["80", "2A", "2B", "9A", "9F", "9G", "9Z", "96", "95", "00", "", "8", "A1", "é", None]
    coms = ["021", "004", "", "12", "1234", "abc", "105", None, "é12"]
    pairs = [(d, c) for d in deps for c in coms]
    dep = pd.Series([d for d, _ in pairs], dtype=dtype, index=range(11, 11 + len(pairs)))
    com = pd.Series([c for _, c in pairs], dtype=dtype, index=dep.index)
    insee_dep, insee_com = commune_codes(dep, com)
    got = [(None if isinstance(a, float) else a, None if isinstance(b, float) else b)
           for a, b in zip(insee_dep.tolist(), insee_com.tolist())]
    assert got == [_insee_by_hand(d, c) for d, c in pairs]
    assert insee_dep.index.equals(dep.index) and insee_com.index.equals(dep.index)
