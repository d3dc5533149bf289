"""Server mode against a real PostgreSQL + PostGIS (the cluster of .ci/run / make test):
migrations, publish / switch / rollback / prune, readers during publishes, the unmet-need log
with concurrent writers, the CLI."""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
import time
import types

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from typer.testing import CliRunner

from dac_map import store
from dac_map.store import open_store
from dac_map.cli import app
from dac_map.errors import StoreError
from dac_map.query.catalogue import load_catalogue
from dac_map.server import auth, migrate, versions
from dac_map.server.pgstore import PostGISStore, load_served_catalogue
from dac_map.server.unmet import UnmetLog


def _layers(tag: str, n: int) -> dict[str, pd.DataFrame]:
    """A small catalogue whose every row carries ``tag`` (a half-published version would show
    rows with two tags or counts that disagree with the metadata)."""
    est = gpd.GeoDataFrame({
        "finess": [f"80{i:07d}" for i in range(n)],
        "name": [f"{tag} établissement {i}" for i in range(n)],
        "capacity": pd.array([i if i % 3 else None for i in range(n)], dtype="Int64"),
        "opened": pd.to_datetime(["2001-02-03"] * n).astype("datetime64[ms]"),
        "tag": [tag] * n,
    }, geometry=[shapely.Point(2.3 + i * 1e-3, 49.9) for i in range(n)], crs="EPSG:4326")
    fam = pd.DataFrame({"family": ["a", "b"], "tag": [tag, tag]})
    return {store.ESTABLISHMENTS: est, store.FAMILIES: fam}


def test_upgrade_is_versioned_and_idempotent(pg_url):
    assert migrate.current_revision(pg_url) == migrate.available()[-1].revision
    assert migrate.upgrade(pg_url) == []  # already applied
    with psycopg.connect(pg_url) as con:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='dac_map'")}
    assert {"catalogue_versions", "served_version", "users", "audit_log", "unmet_needs",
            "notes"} <= tables


def test_badly_named_migration_is_refused(tmp_path):
    (tmp_path / "1_x.sql").write_text("SELECT 1")
    with pytest.raises(StoreError, match="NNNN_name.sql"):
        migrate.available(tmp_path)


def test_publish_geopackage_round_trip_equals_the_geopackage(pg_url, demo_store):
    version = versions.publish_geopackage(demo_store, actor="test", url=pg_url)
    assert versions.served_stamp(pg_url)[0] == version
    # every layer read back equals the layer read from the GeoPackage by pyogrio
    pg = PostGISStore(pg_url)
    gpkg = open_store(demo_store)
    for layer in gpkg.layers():
        if layer == store.METADATA:
            continue
        expected = gpkg.read_layer(layer)
        got = pg.read_layer(layer)
        assert list(got.columns) == list(expected.columns), layer
        if "geometry" in expected:
            present = expected.geometry.notna().to_numpy()
            assert (got.geometry.notna().to_numpy() == present).all(), layer
            assert shapely.equals_exact(got.geometry.values[present],
                                        expected.geometry.values[present], tolerance=0).all()
        a = pd.DataFrame(got.drop(columns="geometry", errors="ignore"))
        b = pd.DataFrame(expected.drop(columns="geometry", errors="ignore"))
        for col in b.columns:
            if str(b[col].dtype).startswith("datetime"):
                b[col] = b[col].astype("datetime64[ms]")
                a[col] = a[col].astype("datetime64[ms]")
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=layer)
    assert pg.read_metadata() == gpkg.read_metadata()
    assert open_store(pg_url).token() == pg.token() and pg.token()[1:] == versions.served_stamp(pg_url)
    # and the catalogue the app builds from it is the same
    a, b = load_catalogue(demo_store), load_served_catalogue(pg_url)
    pd.testing.assert_frame_equal(pd.DataFrame(a.establishments.drop(columns="geometry")),
                                  pd.DataFrame(b.establishments.drop(columns="geometry")))


def test_served_catalogue_reads_its_social_resources_from_the_same_version(pg_url, social_ui_store,
                                                                            social_raw):
    """Server mode (issue 16 in issue 14's deployment): the social resources of the served
    version are searchable like a GeoPackage's; expected rows read from the GeoPackage's table
    with sqlite3, and every one comes from the raw test table."""
    import sqlite3

    from dac_map.query.social import social_catalogue

    with sqlite3.connect(social_ui_store) as con:
        expected = sorted(r[0] for r in con.execute("SELECT resource_id FROM ressources_sociales"))
    assert expected and {r.split(":")[-1] for r in expected} <= {row["id"] for row in social_raw}
    versions.publish_geopackage(social_ui_store, actor="test", url=pg_url)
    served = load_served_catalogue(pg_url)
    social = social_catalogue(served)
    assert social is not None
    assert sorted(social.table["resource_id"]) == expected
    # the prepared layers are not held twice: only the on-demand ones stay in the snapshot
    assert set(served.source.layers()) <= {"ressources_sociales", "zones_ressources_sociales",
                                            "communes", "metadata"}


def test_served_catalogue_overlays_the_stewards_postgres_territories(pg_url, demo_store,
                                                                     monkeypatch):
    """Server mode: the catalogue every app process loads from PostGIS carries the territory
    table of PostgreSQL (a steward's rename and a commune moved between DACs show at the next
    load, the establishments' DAC reassigned), and the cache stamp of the app processes
    changes with every territory edit. Expectations from the GeoPackage and the edit itself."""
    from dac_map.territories import PostgresTerritoryStore, open_store as territory_table

    monkeypatch.setenv("DAC_MAP_DATABASE_URL", pg_url)
    versions.publish_geopackage(demo_store, actor="test", url=pg_url)
    before = load_served_catalogue(pg_url)
    est = open_store(demo_store).read_layer(store.ESTABLISHMENTS, read_geometry=False)
    lot_commune = str(est.loc[est["dac_id"] == "DAC-46", "commune"].dropna().iloc[0])
    moved = set(est.loc[est["commune"] == lot_commune, "finess"])
    stamp = versions.catalogue_stamp_cached(pg_url)
    steward = auth.Principal("ref", frozenset({auth.DATA_STEWARD}), signed_in=True)
    table = territory_table(principal=steward)
    assert isinstance(table, PostgresTerritoryStore)
    v = table.get("DAC-80")
    table.save(v.territory.__class__(**{**v.territory.__dict__, "name": "DAC Somme renommé",
                                        "communes": (lot_commune,)}), v.version, "ref")
    assert versions.catalogue_stamp_cached(pg_url)[1] > stamp[1]
    after = load_served_catalogue(pg_url)
    names = dict(zip(after.territories["dac_id"], after.territories["name"]))
    assert names["DAC-80"] == "DAC Somme renommé"
    assert dict(zip(before.territories["dac_id"], before.territories["name"]))["DAC-80"] != names["DAC-80"]
    got = after.establishments.set_index("finess")["dac_id"]
    assert moved and set(got[list(moved)]) == {"DAC-80"}  # a listed commune wins over a department
    assert set(before.establishments.set_index("finess")["dac_id"][list(moved)]) == {"DAC-46"}


def test_switch_rollback_and_prune_keep_n_versions(pg_url):
    v1 = versions.publish(_layers("v1", 5), {"n": 5}, actor="t", url=pg_url, version="v1")
    v2 = versions.publish(_layers("v2", 6), {"n": 6}, actor="t", url=pg_url, version="v2")
    assert versions.served_stamp(pg_url)[0] == v2
    serial = versions.served_stamp_cached(pg_url)[1]  # the per-process connection of the app
    assert versions.rollback(actor="t", url=pg_url) == v1
    assert versions.served_stamp_cached(pg_url) == (v1, serial + 1)  # seen at once
    assert set(versions.read_served(pg_url).layers[store.ESTABLISHMENTS]["tag"]) == {"v1"}
    with pytest.raises(StoreError, match="antérieure"):
        versions.rollback(actor="t", url=pg_url)  # nothing older than v1
    versions.switch("v2", actor="t", url=pg_url)
    for i in range(3, 7):
        versions.publish(_layers(f"v{i}", 3), {"n": 3}, actor="t", url=pg_url, version=f"v{i}",
                         keep=3)
    left = [v.version for v in versions.list_versions(pg_url)]
    assert left == ["v6", "v5", "v4"]
    with psycopg.connect(pg_url) as con:
        schemas = {r[0] for r in con.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'cat_%'")}
    assert schemas == {"cat_v6", "cat_v5", "cat_v4"}  # dropped versions leave nothing behind
    audit = [r for (r,) in psycopg.connect(pg_url).execute(
        "SELECT action FROM dac_map.audit_log ORDER BY id")]
    assert audit.count("catalogue.publish") == 6 and "catalogue.rollback" in audit


def test_failed_publish_leaves_the_served_version_untouched(pg_url):
    versions.publish(_layers("good", 4), {"n": 4}, actor="t", url=pg_url, version="good")
    bad = _layers("bad", 4)
    bad[store.FAMILIES] = pd.DataFrame({"family": [object()]})  # cannot be stored
    with pytest.raises(Exception):
        versions.publish(bad, {"n": 4}, actor="t", url=pg_url, version="bad")
    assert versions.served_stamp(pg_url)[0] == "good"
    assert [v.version for v in versions.list_versions(pg_url)] == ["good"]
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT to_regnamespace('cat_bad')").fetchone()[0] is None


@pytest.fixture
def spawn(monkeypatch):
    """A ``spawn`` multiprocessing context whose children do not re-run ``__main__`` (after an
    AppTest in the same pytest process, ``__main__`` is AppTest's temporary script)."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    return mp.get_context("spawn")


def _reader(url: str, ready: mp.Queue, go, end, out: mp.Queue) -> None:
    """A reader process: once every reader is up, reads the served version again and again
    until ``end``; reports the versions seen and every anomaly."""
    ready.put(1)
    go.wait()
    seen, bad = set(), []
    while time.time() < end.value:
        served = versions.read_served(url)
        est = served.layers[store.ESTABLISHMENTS]
        tags = set(est["tag"]) | set(served.layers[store.FAMILIES]["tag"])
        if tags != {served.version} or len(est) != served.metadata["n"]:
            bad.append((served.version, sorted(tags), len(est)))
        seen.add(served.version)
    out.put((sorted(seen), bad))


def test_readers_never_see_a_half_published_version(pg_url, spawn):
    versions.publish(_layers("r0", 50), {"n": 50}, actor="t", url=pg_url, version="r0")
    ctx = spawn
    ready, out, go, end = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    readers = [ctx.Process(target=_reader, args=(pg_url, ready, go, end, out)) for _ in range(3)]
    for p in readers:
        p.start()
    for _ in readers:  # started (imports done) before the clock runs
        ready.get(timeout=180)
    end.value = time.time() + 10
    go.set()
    published = ["r0"]
    i = 0
    while time.time() < end.value - 1:
        i += 1
        v = f"r{i}"
        versions.publish(_layers(v, 40 + 7 * i), {"n": 40 + 7 * i}, actor="t", url=pg_url,
                         version=v, keep=2)
        published.append(v)
        if i % 3 == 0:
            published.append(versions.rollback(actor="t", url=pg_url))
    results = [out.get(timeout=120) for _ in readers]
    for p in readers:
        p.join(30)
    assert all(not bad for _, bad in results), results
    assert i >= 3
    seen = set().union(*(set(s) for s, _ in results))
    assert len(seen) >= 2 and seen <= set(published)


def _need_writer(url: str, worker: int, n: int, out: mp.Queue) -> None:
    coord = auth.Principal(f"w{worker}", frozenset({auth.COORDINATOR}), frozenset({"DAC-80"}), True)
    log = UnmetLog(url)
    ids = []
    for k in range(n):
        key = f"{worker}-{k}"
        need = log.record(coord, "DAC-80", "80021", {"family": "ehpad"}, "EHPAD",
                          f"essai {worker} {k}", client_key=key)
        again = log.record(coord, "DAC-80", "80021", {"family": "ehpad"}, "EHPAD",
                           f"essai {worker} {k}", client_key=key)  # a retried submission
        assert again.id == need.id
        ids.append(need.id)
    out.put(ids)


def test_concurrent_unmet_need_writers_lose_and_duplicate_nothing(pg_url, spawn):
    ctx = spawn
    out = ctx.Queue()
    procs = [ctx.Process(target=_need_writer, args=(pg_url, w, 25, out)) for w in range(4)]
    for p in procs:
        p.start()
    ids = [i for _ in procs for i in out.get(timeout=120)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    frame = UnmetLog(pg_url).list(auth.LOCAL)
    assert sorted(frame["id"]) == sorted(ids) and len(set(ids)) == 100
    assert sorted(frame["comment"]) == sorted(f"essai {w} {k}" for w in range(4) for k in range(25))


def test_unmet_log_is_restricted_to_the_coordinators_dacs(pg_url):
    log = UnmetLog(pg_url)
    c80 = auth.Principal("a", frozenset({auth.COORDINATOR}), frozenset({"DAC-80"}), True)
    c46 = auth.Principal("b", frozenset({auth.COORDINATOR}), frozenset({"DAC-46"}), True)
    n80 = log.record(c80, "DAC-80", None, {}, "x", "rien à moins de 30 km")
    log.record(c46, "DAC-46", None, {}, "y", "pas de SSIAD")
    assert list(log.list(c80)["dac_id"]) == ["DAC-80"]
    assert list(log.list(c46)["dac_id"]) == ["DAC-46"]
    for who in (auth.ANONYMOUS, auth.Principal("s", frozenset({auth.ARS}), frozenset(), True)):
        with pytest.raises(auth.ForbiddenError):
            log.list(who)
        with pytest.raises(auth.ForbiddenError):
            log.record(who, "DAC-80", None, {}, "x", "forgé")
    with pytest.raises(auth.ForbiddenError):
        log.delete(c46, n80.id)
    assert log.delete(c80, n80.id)
    assert len(log.list(auth.LOCAL)) == 1


def test_cli_db_and_users_commands(pg_url, demo_store):
    runner = CliRunner()
    env = {"DAC_MAP_DATABASE_URL": pg_url}
    r = runner.invoke(app, ["db", "upgrade"], env=env)
    assert r.exit_code == 0 and "déjà à jour" in r.output
    r = runner.invoke(app, ["db", "publish", str(demo_store)], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["db", "publish", str(demo_store)], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["db", "status", "--json"], env=env)
    status = json.loads(r.output)
    assert [v["served"] for v in status["versions"]] == [True, False]
    assert status["versions"][0]["layers"]["etablissements"] == len(
        open_store(demo_store).read_layer(store.ESTABLISHMENTS, read_geometry=False))
    r = runner.invoke(app, ["db", "rollback"], env=env)
    assert r.exit_code == 0 and status["versions"][1]["version"] in r.output
    r = runner.invoke(app, ["users", "set", "c@x.fr", "-r", "coordinateur"], env=env)
    assert r.exit_code == 5 and "au moins un DAC" in r.output
    r = runner.invoke(app, ["users", "set", "c@x.fr", "-r", "coordinateur", "-d", "DAC-80"], env=env)
    assert r.exit_code == 0
    assert auth.principal_from_claims({"sub": "zz", "email": "c@x.fr"}, pg_url).dacs == {"DAC-80"}
    r = runner.invoke(app, ["users", "remove", "c@x.fr"], env=env)
    assert r.exit_code == 0 and auth.get_user("c@x.fr", pg_url) is None
    r = runner.invoke(app, ["db", "publish", "/nonexistent.gpkg"], env=env)
    assert r.exit_code == 6


def test_health_reports_database_version_and_sign_in(pg_url, demo_store, tmp_path):
    from dac_map.server import health

    report = health.check(pg_url, tmp_path / "none.toml")
    assert report["status"] == "fail" and report["checks"]["served_version"] == "aucune version publiée"
    versions.publish_geopackage(demo_store, actor="t", url=pg_url)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://127.0.0.1:1/oauth2callback"\n'
                       f'cookie_secret = "{"x" * 40}"\nclient_id = "c"\nclient_secret = "s"\n'
                       'server_metadata_url = "http://127.0.0.1:2/.well-known/openid-configuration"\n')
    report = health.check(pg_url, secrets)
    assert report["status"] == "ok", report
    report = health.check("postgresql://nobody@127.0.0.1:1/none", secrets)
    assert report["status"] == "fail" and "connect" in report["checks"]["database"]


def test_refresh_publishes_each_validated_version_into_postgis(pg_url, tmp_path, monkeypatch):
    from dac_map.refresh.config import load_config
    from dac_map.refresh.pipeline import refresh
    from dac_map.testing.refresh import (extract_bytes, refresh_config, sample_rows, write_bytes,
                                         write_sources)

    monkeypatch.setenv("DAC_MAP_DATABASE_URL", pg_url)
    rows = sample_rows(20)
    write_sources(tmp_path, rows)
    (tmp_path / "refresh.toml").write_text(
        refresh_config('[store]\ncurrent = "build/dac_map.gpkg"\nkeep = 3\n'), encoding="utf-8")
    first = refresh(load_config(tmp_path / "refresh.toml"))
    first.raise_for_status()
    served = versions.read_served(pg_url)
    assert set(served.layers[store.ESTABLISHMENTS]["finess"]) == {r.finess for r in rows}
    # a second refresh with one establishment fewer is published and served in its turn
    write_bytes(tmp_path / "src" / "establishments.csv",
                extract_bytes(rows[1:], source_date="2021-02-05"))
    refresh(load_config(tmp_path / "refresh.toml")).raise_for_status()
    second = versions.read_served(pg_url)
    assert second.version != served.version
    assert set(second.layers[store.ESTABLISHMENTS]["finess"]) == {r.finess for r in rows[1:]}
    gpkg = open_store(tmp_path / "build" / "dac_map.gpkg").read_layer(store.ESTABLISHMENTS,
                                                                      read_geometry=False)
    assert sorted(gpkg["finess"]) == sorted(second.layers[store.ESTABLISHMENTS]["finess"])
    # the news panel reads the refresh's changes from PostGIS as from the GeoPackage
    from dac_map.ui.news import load_news
    from_pg, from_file = load_news(pg_url), load_news(tmp_path / "build" / "dac_map.gpkg")
    assert len(from_pg[0]) == len(from_file[0]) >= 1
    assert sorted(from_pg[0]["finess"]) == sorted(from_file[0]["finess"])
    assert versions.rollback(actor="t", url=pg_url) == served.version
