"""dac_map.codes: code patterns, department of a commune, metric CRS choice.

Expectations come from the INSEE / FINESS rules written out here, and the metric CRS of a point
from pyproj's own areas of use (not from the module under test)."""

from __future__ import annotations

import re

import pandas as pd
import pyproj
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dac_map import codes, settings


@pytest.mark.parametrize("text, finess, department, commune", [
    ("800000045", True, False, False),
    ("2A0000012", True, False, False),
    ("9A0000012", True, False, False),
    ("80000004", False, False, False),
    ("80", False, True, False),
    ("2A", False, True, False),
    ("2C", False, False, False),
    ("971", False, True, False),
    ("80021", False, False, True),
    ("2B033", False, False, True),
    ("97105", False, False, True),
    ("8002", False, False, False),
    ("", False, False, False),
    ("80021 ", False, False, False),
])
def test_patterns(text, finess, department, commune):
    assert (codes.is_finess(text), codes.is_department(text), codes.is_commune(text)) == \
        (finess, department, commune)


@pytest.mark.parametrize("commune, department", [
    ("80021", "80"), ("2A004", "2A"), ("2B033", "2B"), ("97105", "971"), ("97611", "976"),
    ("01001", "01"), ("98714", "987"),
])
def test_department_of(commune, department):
    assert codes.department_of(commune) == department


@given(st.from_regex(re.compile(codes.COMMUNE_PATTERN), fullmatch=True))
def test_departments_of_matches_scalar(commune):
    expected = commune[:3] if commune.startswith(("97", "98")) else commune[:2]
    assert codes.departments_of(pd.Series([commune])).tolist() == [expected]
    assert codes.department_of(commune) == expected


@pytest.mark.parametrize("department, epsg", [
    ("80", 2154), ("2A", 2154), ("46", 2154), ("971", 5490), ("973", 2972), ("974", 2975),
    ("976", 4471), ("975", 32621), ("987", 0),
])
def test_metric_epsg(department, epsg):
    assert codes.metric_epsg(department) == epsg
    assert codes.metric_epsgs(pd.Series([department])).tolist() == [epsg]


def test_metric_epsg_reads_settings_at_call_time(monkeypatch):
    monkeypatch.setitem(settings.LOCAL_METRIC_CRS, "987", 3297)
    assert codes.metric_epsg("987") == 3297
    assert codes.metric_epsgs(pd.Series(["987", "80"])).tolist() == [3297, 2154]


@pytest.mark.parametrize("lon, lat", [
    (2.2957, 49.8941),   # Amiens
    (1.4437, 44.4475),   # Cahors
    (9.4509, 42.6977),   # Bastia
    (-61.5331, 16.2411),  # Pointe-à-Pitre
    (55.4504, -20.8789),  # Saint-Denis de La Réunion
    (45.2279, -12.7806),  # Mamoudzou
    (-52.3260, 4.9372),   # Cayenne
    (0.0, 0.0),           # Gulf of Guinea
    (13.4, 52.5),         # Berlin
])
def test_metric_epsg_at_agrees_with_pyproj_areas(lon, lat):
    got = codes.metric_epsg_at(lon, lat)
    w, s, e, n = codes.METROPOLE_BOUNDS
    if w <= lon <= e and s <= lat <= n:
        assert got == 2154
        return
    containing = [c for c in dict.fromkeys(settings.LOCAL_METRIC_CRS.values())
                  if (a := pyproj.CRS.from_epsg(c).area_of_use) is not None
                  and a.west <= lon <= a.east and a.south <= lat <= a.north]
    if containing:
        assert got == containing[0]
    else:
        assert got is None
