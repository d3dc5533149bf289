"""The store gateway (dac_map.store): the Store interface and its GeoPackage implementation.

Expectations are read back with sqlite3 / pyogrio directly, not through the code under test."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from dac_map import settings, store
from dac_map.errors import StoreError
from dac_map.store import GeoPackageStore, Store, open_store


def _layers() -> dict[str, pd.DataFrame]:
    points = gpd.GeoDataFrame(
        {"finess": ["800000001", "460000002"], "tags": [["a", "b"], None],
         "opened": pd.to_datetime(["2001-02-03T04:05:06", "2010-01-01T00:00:00"])},
        geometry=[shapely.Point(2.3, 49.9), shapely.Point(1.44, 44.45)], crs="EPSG:4326")
    mixed = gpd.GeoDataFrame(
        {"code": ["80", "46"]},
        geometry=[shapely.box(2, 49, 3, 50),
                  shapely.MultiPolygon([shapely.box(1, 44, 1.5, 44.5), shapely.box(1.6, 44, 2, 44.5)])],
        crs="EPSG:4326")
    single = gpd.GeoDataFrame({"code": ["80021"]}, geometry=[shapely.box(2.2, 49.8, 2.4, 50)],
                              crs="EPSG:4326")
    table = pd.DataFrame({"family": ["pa", "hop"], "order": [1, 2]})
    return {store.ESTABLISHMENTS: points, store.DEPARTMENTS: mixed, store.COMMUNES: single,
            store.FAMILIES: table}


def _geometry_types(path) -> dict[str, str]:
    with sqlite3.connect(path) as con:
        return dict(con.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns"))


def _metadata_rows(path) -> dict[str, str]:
    with sqlite3.connect(path) as con:
        return dict(con.execute("SELECT key, value FROM metadata"))


@pytest.fixture()
def written(tmp_path):
    path = tmp_path / "s.gpkg"
    open_store(path).write(_layers(), {"source_date": "2024-01-02", "counts": {"n": 2}})
    return path


def test_write_then_read_round_trip(written):
    st = open_store(written)
    assert isinstance(st, GeoPackageStore) and st.exists()
    assert set(st.layers()) == {store.ESTABLISHMENTS, store.DEPARTMENTS, store.COMMUNES,
                                store.FAMILIES, store.METADATA}
    est = st.read_layer(store.ESTABLISHMENTS)
    assert list(est["finess"]) == ["800000001", "460000002"]
    assert est["tags"].iat[0] == json.dumps(["a", "b"]) and pd.isna(est["tags"].iat[1])  # JSON text
    assert str(est["opened"].dtype) == "datetime64[ms]"
    assert list(est["opened"].astype(str)) == ["2001-02-03 04:05:06", "2010-01-01 00:00:00"]
    assert est.crs.to_epsg() == 4326
    fam = st.read_layer(store.FAMILIES, columns=["family"], read_geometry=False)
    assert list(fam.columns) == ["family"] and list(fam["family"]) == ["pa", "hop"]
    assert st.fields(store.FAMILIES) == {"family": "object", "order": "int64"}


def test_geometry_types_follow_pyogrio_promote_to_multi(written):
    assert _geometry_types(written) == {store.ESTABLISHMENTS: "POINT",
                                        store.DEPARTMENTS: "MULTIPOLYGON",
                                        store.COMMUNES: "POLYGON"}


def test_metadata_json_and_update_keeps_other_keys(written):
    st = open_store(written)
    assert st.read_metadata() == {"source_date": "2024-01-02", "counts": {"n": 2}}
    st.update_metadata({"counts": {"n": 3}, "refresh_version": "v1", "notes": ["é"]})
    raw = _metadata_rows(written)
    assert raw == {"source_date": "2024-01-02", "counts": '{"n": 3}', "refresh_version": "v1",
                   "notes": '["é"]'}
    assert st.read_metadata()["notes"] == ["é"]


def test_changes_table(written, tmp_path):
    st = open_store(written)
    assert st.read_changes() is None
    st.write_changes(pd.DataFrame({"finess": ["800000001"], "change": ["opened"]}))
    assert store.CHANGES in pyogrio.list_layers(written)[:, 0]
    assert st.read_changes().to_dict("list") == {"finess": ["800000001"], "change": ["opened"]}
    assert open_store(tmp_path / "absent.gpkg").read_changes() is None


def test_errors_are_store_errors(tmp_path, written):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "absent.gpkg").read_layer(store.ESTABLISHMENTS)
    with pytest.raises(StoreError, match="no_such_layer"):
        open_store(written).read_layer("no_such_layer")
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"not a geopackage" * 100)
    with pytest.raises(StoreError):
        open_store(junk).layers()
    assert not open_store(junk).has_layer(store.ESTABLISHMENTS)


def test_failed_write_leaves_the_previous_content(written, monkeypatch):
    before = written.read_bytes()
    real = pyogrio.write_dataframe

    def fail_on_communes(frame, path, layer=None, **kwargs):
        if layer == store.COMMUNES:
            raise pyogrio.errors.DataSourceError("simulated GDAL failure")
        return real(frame, path, layer=layer, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", fail_on_communes)
    with pytest.raises(StoreError, match="simulated GDAL failure"):
        open_store(written).write(_layers(), {"x": 1})
    assert written.read_bytes() == before
    assert sorted(p.name for p in written.parent.iterdir()) == [written.name]


def test_replace_with_is_atomic(tmp_path, written, monkeypatch):
    current = tmp_path / "served" / "current.gpkg"
    target = open_store(current)
    target.replace_with(open_store(written))
    assert current.read_bytes() == written.read_bytes()

    other = tmp_path / "other.gpkg"
    open_store(other).write({store.FAMILIES: _layers()[store.FAMILIES]}, {"v": 2})
    before = current.read_bytes()

    def no_space(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(StoreError, match="No space left"):
        target.replace_with(open_store(other))
    assert current.read_bytes() == before
    assert [p.name for p in current.parent.iterdir()] == ["current.gpkg"]


class MemoryStore(Store):
    """A second implementation of the interface (what a PostGIS store will be): enough for
    replace_with to copy it into a GeoPackage without knowing its kind."""

    def __init__(self, layers: Mapping[str, pd.DataFrame], metadata: Mapping[str, object]):
        self.location = "memory://test"
        self._layers = dict(layers)
        self._meta = dict(metadata)

    def exists(self) -> bool:
        return True

    def token(self) -> tuple:
        return (self.location, id(self._layers))

    def layers(self) -> list[str]:
        return [*self._layers, store.METADATA]

    def fields(self, layer: str) -> dict[str, str]:
        return {c: str(t) for c, t in self._layers[layer].dtypes.items() if c != "geometry"}

    def read_layer(self, layer: str, *, columns: Sequence[str] | None = None,
                   read_geometry: bool = True) -> pd.DataFrame:
        return self._layers[layer]

    def read_metadata(self) -> dict[str, object]:
        return dict(self._meta)

    def write(self, layers, metadata) -> None:
        self._layers, self._meta = dict(layers), dict(metadata)

    def update_metadata(self, values) -> None:
        self._meta.update(values)

    def write_table(self, layer, frame) -> None:
        self._layers[layer] = frame

    def replace_with(self, source: Store) -> None:
        self.write({n: source.read_layer(n) for n in source.layers() if n != store.METADATA},
                   source.read_metadata())


def test_geopackage_replaced_by_another_kind_of_store(tmp_path):
    mem = MemoryStore(_layers(), {"source_date": "2025-05-05"})
    target = open_store(tmp_path / "g.gpkg")
    target.replace_with(mem)
    assert _metadata_rows(tmp_path / "g.gpkg") == {"source_date": "2025-05-05"}
    got = pyogrio.read_dataframe(tmp_path / "g.gpkg", layer=store.COMMUNES)
    assert list(got["code"]) == ["80021"]
    assert shapely.equals(got.geometry.iat[0], shapely.box(2.2, 49.8, 2.4, 50))


def test_open_store_reads_the_setting_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "STORE_PATH", tmp_path / "x.gpkg")
    assert open_store().location == str(tmp_path / "x.gpkg")
    mem = MemoryStore({}, {})
    assert open_store(mem) is mem


# --------------------------------------------------------------------------- read_rows (both back-ends)

#: Keys a selection by value must take literally (quotes, SQL wildcards and comments, accents).
NASTY_KEYS = ["a", "l'épicerie", "x''y", "50%_off", "--; DROP TABLE t", 'quo"te', "back\\slash", "ÉÈ ß 中",
              " lead", "", "dup"]


def _rows_table() -> pd.DataFrame:
    return pd.DataFrame({"key": [*NASTY_KEYS, "dup"], "n": list(range(len(NASTY_KEYS) + 1)),
                         "label": [f"ligne {i}" for i in range(len(NASTY_KEYS) + 1)],
                         "score": [0.5 * i if i % 3 else None for i in range(len(NASTY_KEYS) + 1)]})


@pytest.fixture(params=["geopackage", "postgresql"])
def rows_store(request, tmp_path) -> Store:
    """A store of each back-end holding :func:`_rows_table` as ``t`` (written through the
    store, as a refresh or ``dac-map db publish`` does)."""
    if request.param == "geopackage":
        st = open_store(tmp_path / "rows.gpkg")
    else:
        url = request.getfixturevalue("pg_url")
        st = open_store(url)
    st.write({"t": _rows_table()}, {"source_date": "2024-01-02"})
    return st


@pytest.mark.parametrize("wanted", [
    ["l'épicerie", "x''y", "absent", "50%_off"],
    ["--; DROP TABLE t", 'quo"te', "back\\slash", "ÉÈ ß 中", " lead", ""],
    ["dup", "a", "a"],
    [],
    NASTY_KEYS,
])
def test_read_rows_selects_the_rows_by_value_in_layer_order(rows_store, wanted):
    expected = _rows_table()
    expected = expected[expected["key"].isin(set(wanted))]  # the raw table, selected by pandas
    got = rows_store.read_rows("t", "key", wanted)
    assert list(got["key"]) == list(expected["key"])
    assert list(got["n"]) == list(expected["n"]) and list(got["label"]) == list(expected["label"])
    assert [None if pd.isna(v) else v for v in got["score"]] == \
        [None if pd.isna(v) else v for v in expected["score"]]
    if wanted:
        assert rows_store.read_layer("t", read_geometry=False)["key"].tolist() == _rows_table()["key"].tolist()


def test_read_rows_columns_and_equality_with_read_layer(rows_store):
    got = rows_store.read_rows("t", "key", ["a", "dup"], columns=["label"])
    assert set(got.columns) == {"key", "label"}
    whole = rows_store.read_layer("t", read_geometry=False)
    assert whole[whole["key"].isin(["a", "dup"])].reset_index(drop=True)[["key", "label"]].equals(got[["key", "label"]])


def test_read_rows_in_several_queries(tmp_path, monkeypatch):
    from dac_map.store import geopackage

    st = open_store(tmp_path / "many.gpkg")
    keys = [f"k'{i}" for i in range(250)]
    st.write({"t": pd.DataFrame({"key": keys, "n": range(250)})}, {})
    monkeypatch.setattr(geopackage, "ROWS_PER_QUERY", 7)
    wanted = keys[::3] + ["absent"]
    with sqlite3.connect(tmp_path / "many.gpkg") as con:  # expectation read without the store
        expected = [k for (k,) in con.execute("SELECT key FROM t ORDER BY fid")][::3]
    assert st.read_rows("t", "key", wanted)["key"].tolist() == expected
    # values in another order than the layer's, spread over several queries: still the layer's
    assert st.read_rows("t", "key", wanted[::-1])["key"].tolist() == expected


def test_read_rows_unknown_key_column_is_a_store_error(tmp_path):
    st = open_store(tmp_path / "k.gpkg")
    st.write({"t": _rows_table()}, {})
    with pytest.raises(StoreError, match="no column"):
        st.read_rows("t", "nope", ["a"])
