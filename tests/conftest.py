"""Shared fixtures: the shipped Somme + Lot demo store, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from dac_map.cli import DEMO_COMMUNES, DEMO_DEPARTMENTS, DEMO_EQUIPMENT, DEMO_ESTABLISHMENTS
from dac_map.etl import EtlInputs, EtlReport, run_etl


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory) -> tuple[EtlReport, Path]:
    """ETL report and path of the demo GeoPackage (the data `make run` serves)."""
    out = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    report = run_etl(EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS,
                               equipment=DEMO_EQUIPMENT, communes=list(DEMO_COMMUNES)), out)
    return report, out


@pytest.fixture(scope="session")
def demo_store(demo_build) -> Path:
    """Path of the demo GeoPackage; tests must not modify it."""
    return demo_build[1]


@pytest.fixture(scope="session")
def demo_catalogue(demo_store):
    """The demo store loaded as a query catalogue (read-only, shared)."""
    from dac_map.query import load_catalogue

    return load_catalogue(demo_store)
