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


# --------------------------------------------------------------------------- server mode (issue 14)

def _pg_admin_url() -> str | None:
    """The test cluster (``DAC_MAP_TEST_DATABASE_URL``, set by ``.ci/run`` and ``make test``).

    Unset: the server-mode tests are skipped on a developer machine, but FAIL in CI (``CI`` or
    ``DAC_MAP_REQUIRE_POSTGRES`` set), like the browser tests without chromium."""
    import os

    url = os.environ.get("DAC_MAP_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("CI") or os.environ.get("DAC_MAP_REQUIRE_POSTGRES"):
            pytest.fail("server-mode tests required but DAC_MAP_TEST_DATABASE_URL is unset "
                        "(start scripts/pg-test-cluster)")
        pytest.skip("no PostgreSQL test cluster: run `make test` (starts one) or set "
                    "DAC_MAP_TEST_DATABASE_URL")
    return url


def fresh_database():
    """Create a FRESH PostgreSQL + PostGIS database, migrated (``dac-map db upgrade``); yields
    its URL and drops it afterwards. Nothing is mocked."""
    import uuid

    import psycopg

    from dac_map.server import migrate

    admin = _pg_admin_url()
    name = "t_" + uuid.uuid4().hex[:12]
    base, _, template = admin.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = f"{base}/{name}"
    migrate.upgrade(url)
    yield url
    with psycopg.connect(f"{base}/postgres", autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> str:
    """A fresh migrated database for one test (see :func:`fresh_database`)."""
    yield from fresh_database()


@pytest.fixture(scope="module")
def pg_module_url() -> str:
    """A fresh migrated database shared by one test module (browser tests)."""
    yield from fresh_database()
