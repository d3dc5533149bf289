"""End-to-end ETL on the shipped Somme + Lot demo data (the README's `make run` data)."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from dac_map import store
from dac_map.cli import (
    DEMO_EQUIPMENT,
    DEMO_ESTABLISHMENTS,
)
from dac_map.etl.layouts import EQUIPEMENTSOCIAL


@pytest.fixture(scope="module")
def demo(demo_build):
    return demo_build


def _raw_counts() -> dict[str, int]:
    """Count structureet lines per FINESS department straight from the raw file."""
    counts: dict[str, int] = {}
    with open(DEMO_ESTABLISHMENTS, encoding="latin-1", newline="") as f:
        for row in csv.reader(f, delimiter=";"):
            if row and row[0] == "structureet":
                counts[row[13]] = counts.get(row[13], 0) + 1
    return counts


def test_counts_per_department(demo):
    report, out = demo
    est = store.open_store(out).read_layer(store.ESTABLISHMENTS)
    assert est["department"].value_counts().to_dict() == _raw_counts() == {"80": 912, "46": 373}
    assert report.counts["establishments"] == 1285
    assert report.rejected == 0 and report.unknown_categories == {}


def test_every_point_falls_inside_its_department(demo):
    _, out = demo
    est = store.open_store(out).read_layer(store.ESTABLISHMENTS)
    deps = store.open_store(out).read_layer(store.DEPARTMENTS).set_index("code")
    for code in ("80", "46"):
        sub = est[est["department"] == code]
        assert sub.geometry.notna().all()
        assert sub.within(deps.loc[code, "geometry"]).all(), code


def test_territories_and_capacities(demo):
    report, out = demo
    est = store.open_store(out).read_layer(store.ESTABLISHMENTS)
    assert est["dac_id"].value_counts().to_dict() == {"DAC-80": 912, "DAC-46": 373}
    terr = store.open_store(out).read_layer(store.TERRITORIES).set_index("dac_id")
    assert terr.loc["DAC-80", "name"] == "DAC Somme (démonstration)"
    assert terr.loc[["DAC-80", "DAC-46"], "establishments"].tolist() == [912, 373]
    # Installed capacity = sum of capinstot over lines not flagged removed, recomputed here.
    eq = pd.read_csv(DEMO_EQUIPMENT, sep=";", skiprows=1, header=None, dtype=str,
                     encoding="latin-1", names=["section", *EQUIPEMENTSOCIAL.fields])
    live = eq[eq["indsupinst"] != "O"]
    expected = live.groupby("nofinesset")["capinstot"].apply(
        lambda s: pd.to_numeric(s).sum()).to_dict()
    got = est.dropna(subset=["capacity_installed"]).set_index("finess")["capacity_installed"]
    assert {k: int(v) for k, v in got.items() if v} == {k: int(v) for k, v in expected.items() if v}
    assert report.metadata["equipment_illustrative"] is True


def test_metadata_records_sources(demo):
    _, out = demo
    meta = store.open_store(out).read_metadata()
    assert meta["establishments_file"] == DEMO_ESTABLISHMENTS.name
    assert meta["equipment_file"] == DEMO_EQUIPMENT.name
    assert meta["source_date"] == "2021-01-08"
    assert meta["counts"]["communes"] == 779 + 320
    assert meta["establishments_per_department"] == {"46": 373, "80": 912}
