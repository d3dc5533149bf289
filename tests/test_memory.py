"""The Arrow memory pool setting (dac_map.memory): the pool named is the one Arrow then
allocates from, the ETL and the catalogue load apply it, a bad name is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from dac_map import settings
from dac_map.errors import DacMapError
from dac_map.memory import use_arrow_pool
from dac_map.query import load_catalogue


def _available(name: str) -> bool:
    factory = {"jemalloc": pa.jemalloc_memory_pool, "system": pa.system_memory_pool,
               "mimalloc": pa.mimalloc_memory_pool}[name]
    try:
        factory()
    except NotImplementedError:
        return False
    return True


@pytest.fixture(autouse=True)
def _restore_pool():
    saved = pa.default_memory_pool()
    yield
    pa.set_memory_pool(saved)


@pytest.mark.parametrize("name", ["jemalloc", "system", "mimalloc"])
def test_the_pool_named_is_the_one_arrow_allocates_from(monkeypatch, name):
    if not _available(name) and name != "jemalloc":
        with pytest.raises(DacMapError):
            use_arrow_pool(name)
        return
    expected = name if _available(name) else "system"  # jemalloc falls back to malloc
    monkeypatch.setattr(settings, "ARROW_MEMORY_POOL", name)
    assert use_arrow_pool() == expected
    pool = pa.default_memory_pool()
    assert pool.backend_name == expected
    before = pool.bytes_allocated()
    data = pa.array(range(200_000), type=pa.int64())  # 1.6 MB from the default pool
    assert pool.bytes_allocated() - before >= 200_000 * 8
    del data


def test_an_unknown_pool_is_refused_naming_the_setting(monkeypatch):
    monkeypatch.setattr(settings, "ARROW_MEMORY_POOL", "tcmalloc")
    with pytest.raises(DacMapError) as err:
        use_arrow_pool()
    assert err.value.field == "DAC_MAP_ARROW_MEMORY_POOL"
    assert "tcmalloc" in str(err.value)


def test_default_keeps_pyarrows_choice():
    pa.set_memory_pool(pa.system_memory_pool())
    assert use_arrow_pool("default") == "system"
    assert pa.default_memory_pool().backend_name == "system"


def test_the_environment_variable_chooses_the_pool():
    code = "from dac_map.memory import use_arrow_pool; print(use_arrow_pool())"
    env = dict(os.environ, DAC_MAP_ARROW_MEMORY_POOL="system")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "system"


def test_the_catalogue_load_applies_the_setting(monkeypatch, demo_store):
    pa.set_memory_pool(pa.system_memory_pool())
    monkeypatch.setattr(settings, "ARROW_MEMORY_POOL", "mimalloc" if _available("mimalloc")
                        else "system")
    load_catalogue(demo_store)
    assert pa.default_memory_pool().backend_name == settings.ARROW_MEMORY_POOL


def test_the_etl_applies_the_setting(monkeypatch, tmp_path):
    from dac_map.etl import EtlInputs, run_etl

    fixtures = Path(__file__).parent / "fixtures" / "finess"
    pa.set_memory_pool(pa.mimalloc_memory_pool() if _available("mimalloc") else pa.jemalloc_memory_pool())
    monkeypatch.setattr(settings, "ARROW_MEMORY_POOL", "system")
    run_etl(EtlInputs(establishments=fixtures / "cs1100502_utf8_bom.csv",
                      departments=settings.DATA_DIR / "geo" / "departements.geojson"),
            tmp_path / "t.gpkg")
    assert pa.default_memory_pool().backend_name == "system"
