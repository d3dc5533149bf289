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


@pytest.fixture(scope="session", autouse=True)
def _private_territory_table(tmp_path_factory):
    """Every test reads and writes its own steward territory table, never the developer's
    ``data/territories.sqlite`` (tests needing a table of their own pass a path)."""
    from dac_map import settings

    old = settings.TERRITORIES_DB
    settings.TERRITORIES_DB = tmp_path_factory.mktemp("territories") / "territories.sqlite"
    yield settings.TERRITORIES_DB
    settings.TERRITORIES_DB = old
