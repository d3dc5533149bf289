"""The refresh rebuilds a territory's road network when its extract changes (issue 12)."""

from __future__ import annotations


import pytest

from dac_map import settings
from dac_map.network import cache as network_cache
from dac_map.testing.roads import write_grid_pbf
from dac_map.refresh.config import ConfigError, load_config
from dac_map.refresh.pipeline import refresh
from dac_map.testing.refresh import refresh_config, sample_rows, write_sources

ROWS = sample_rows(20)


def _config(network: str) -> str:
    return refresh_config(f'[store]\ncurrent = "build/dac_map.gpkg"\n\n[network]\n{network}\n')


@pytest.fixture()
def ws(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "NETWORK_DIR", tmp_path / "network")
    write_sources(tmp_path, ROWS)
    write_grid_pbf(tmp_path / "src" / "lot.osm.pbf", (0.95, 44.18, 2.25, 45.08), 40, 40, seed=1)
    (tmp_path / "refresh.toml").write_text(_config('DAC-46 = "src/lot.osm.pbf"'), encoding="utf-8")
    return tmp_path


def test_network_rebuilt_only_when_the_extract_changes(ws):
    cfg = load_config(ws / "refresh.toml")
    first = refresh(cfg)
    assert first.status == "ok" and first.networks == {"DAC-46": "reconstruit"}
    cached = network_cache.cache_path("DAC-46")
    before = cached.read_bytes()
    again = refresh(cfg)
    assert again.networks == {"DAC-46": "inchangé"} and cached.read_bytes() == before
    write_grid_pbf(ws / "src" / "lot.osm.pbf", (0.95, 44.18, 2.25, 45.08), 45, 45, seed=2)
    third = refresh(cfg)
    assert third.networks == {"DAC-46": "reconstruit"} and cached.read_bytes() != before


def test_broken_extract_keeps_the_previous_network(ws):
    cfg = load_config(ws / "refresh.toml")
    assert refresh(cfg).networks == {"DAC-46": "reconstruit"}
    before = network_cache.cache_path("DAC-46").read_bytes()
    data = (ws / "src" / "lot.osm.pbf").read_bytes()
    (ws / "src" / "lot.osm.pbf").write_bytes(data[: len(data) // 2])
    result = refresh(cfg)
    assert result.exit_code == 0  # the FINESS data is still refreshed
    assert result.networks["DAC-46"].startswith("erreur") and "tronqué" in result.networks["DAC-46"]
    assert any("précédent conservé" in m for m in result.messages)
    assert network_cache.cache_path("DAC-46").read_bytes() == before


@pytest.mark.parametrize("line, key", [
    ('"../x" = "a.osm.pbf"', "../x"),
    ('DAC-46 = "https://example.org/x.osm.pbf"', "DAC-46"),
    ("DAC-46 = 3", "DAC-46"),
])
def test_bad_network_section(tmp_path, line, key):
    path = tmp_path / "refresh.toml"
    path.write_text(_config(line), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"network] {key}".replace(".", r"\.")):
        load_config(path)
