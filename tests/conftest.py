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


# --------------------------------------------------------------------------- FINESS+ (issue 11)

FINESS_PLUS_DIR = Path(__file__).resolve().parents[1] / "data" / "finess_plus"
FP_STRUCTURES = FINESS_PLUS_DIR / "exemple-finess-structures-journalier-20260309.json"
FP_ACTIVITES = FINESS_PLUS_DIR / "exemple-finess-activites-journalier-20260401.json"


@pytest.fixture(scope="session")
def fp_paths() -> tuple[Path, Path]:
    """The real ANS example flows shipped in data/finess_plus (Structures, Activités)."""
    return FP_STRUCTURES, FP_ACTIVITES


@pytest.fixture(scope="session")
def fp_build(tmp_path_factory) -> tuple[EtlReport, Path]:
    """ETL of the FINESS+ Ain example alone (both flows, Ain communes): report and store path."""
    from dac_map.cli import DEMO_AIN_COMMUNES

    out = tmp_path_factory.mktemp("finess_plus") / "ain.gpkg"
    report = run_etl(EtlInputs(establishments=None, departments=DEMO_DEPARTMENTS,
                               communes=[DEMO_AIN_COMMUNES], finess_plus_structures=FP_STRUCTURES,
                               finess_plus_activites=FP_ACTIVITES), out)
    return report, out


@pytest.fixture(scope="session")
def fp_catalogue(fp_build):
    """The catalogue of the FINESS+ Ain store (read-only)."""
    from dac_map.query import load_catalogue

    return load_catalogue(fp_build[1])
