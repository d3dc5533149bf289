"""Territories (issue 13): model, CSV round trips, versioned table and concurrent edits, checks
(overlaps, gaps, unknown codes, successors), the DAC directory and lookup, the CLI."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from typer.testing import CliRunner

from dac_map.cli import app
from dac_map.errors import InputFormatError
from dac_map.territories import (
    DEMO_SET,
    demo_table,
    MAIN_SET,
    shipped_table,
    CommuneReference,
    ConflictError,
    DacLookup,
    SqliteTerritoryStore,
    Territory,
    TerritoryError,
    check_territories,
    current_territories,
    dac_directory,
    open_store,
    read_table,
    table_text,
    territories_stamp,
    validate,
)
from dac_map.territories.table import parse_table
from dac_map.territories.vintages import read_moves

DATA = Path(__file__).resolve().parent.parent / "data"


# --------------------------------------------------------------------------- model

@pytest.mark.parametrize("field,kwargs", [
    ("id", {"id": "bad id!"}),
    ("departements", {"departments": ("8",)}),
    ("communes", {"communes": ("8002",)}),
    ("communes", {"departments": (), "communes": ()}),
    ("finess", {"finess": "12345"}),
    ("telephone", {"phone": "appelez-nous"}),
    ("site_web", {"website": "javascript:alert(1)"}),
])
def test_validate_names_the_bad_field(field, kwargs):
    base = dict(id="DAC-1", name="x", departments=("80",), communes=())
    with pytest.raises(TerritoryError) as exc:
        validate(Territory(**{**base, **kwargs}))
    assert exc.value.field == field


def test_validate_normalises():
    t = validate(Territory(" DAC-1 ", "  DAC   Somme ", ("80",), ("80021", "2a004", "80021"),
                           phone="03 22 45.00-00", finess="800000044"))
    assert (t.id, t.name, t.communes, t.phone) == ("DAC-1", "DAC Somme", ("80021", "2A004"), "0322450000")


# --------------------------------------------------------------------------- CSV

_code = st.from_regex(r"\A(?:[0-8][0-9]|9[0-5])[0-9]{3}\Z", fullmatch=True)
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30)
def _valid_or_none(t: Territory) -> Territory | None:
    try:
        return validate(t)
    except TerritoryError:  # e.g. a random note the personal-data check refuses
        return None


_territory = st.builds(
    lambda i, name, deps, coms, phone, note, finess: _valid_or_none(Territory(
        f"T-{i}", name, tuple(deps), tuple(coms), finess=finess, phone=phone, note=note)),
    st.integers(0, 10 ** 6),
    _text,
    st.lists(st.sampled_from(["01", "2A", "80", "46", "971"]), max_size=3),
    st.lists(_code, min_size=1, max_size=20),
    st.sampled_from(["", "0322450000", "+33322450000"]),
    _text,
    st.sampled_from(["", "800000044", "2A0000015"]),
).filter(lambda t: t is not None)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_territory, max_size=6, unique_by=lambda t: t.id))
def test_csv_round_trip(items):
    """Export then import gives back the same territories (formula-like names included)."""
    read = parse_table(table_text(items))
    assert read.issues == []
    assert read.territories == items


@hsettings(max_examples=60, deadline=None)
@given(st.lists(_territory, min_size=1, max_size=4, unique_by=lambda t: t.id),
       st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40),
                min_size=1, max_size=3))
def test_bad_rows_stay_local(items, junk):
    """Junk lines between good rows are reported (with their line) and skipped; every good row
    is kept."""
    lines = table_text(items).splitlines()
    bad_lines = [f'bad id {j}";x;;;;"{j}' for j in junk]  # stray quotes included
    text = "\n".join([lines[0], *bad_lines, *lines[1:]])
    read = parse_table(text, "t.csv")
    assert read.territories == items
    assert [i.line for i in read.issues] == list(range(2, 2 + len(junk)))


def test_old_layout_and_nasty_rows(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes((
        "\ufeff# commentaire\r\n"
        "id;nom;telephone;site_web;departements;communes\r\n"
        "DAC-80;\"DAC \"\"Somme\"\"\";03 22 00 00 00;;80;\r\n"
        "DAC-80;doublon;;;80;\r\n"
        "DAC-X;commune invalide;;;;8002\r\n"
        "DAC-Y;'=HYPERLINK(\"x\");;;;80021 80022\r\n"
        "DAC-Z;trop;;;;80021;x;y;z;w\r\n").encode("utf-8"))
    read = read_table(p)
    assert [t.id for t in read.territories] == ["DAC-80", "DAC-Y"]
    assert read.territories[0].name == 'DAC "Somme"'
    assert read.territories[1].name == '=HYPERLINK("x")'
    assert [(i.line, i.field) for i in read.issues] == [(4, "id"), (5, "communes"), (7, "communes")]
    assert "'=HYPERLINK" in table_text(read.territories)


def test_missing_column_aborts(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("id;nom;communes\nA;b;80021\n", encoding="utf-8")
    with pytest.raises(InputFormatError) as exc:
        read_table(p)
    assert exc.value.field == "departements" and exc.value.line == 1


def test_shipped_tables_read_cleanly():
    main = read_table(shipped_table())
    assert main.issues == [] and {"DAC-80", "DAC-46"} <= {t.id for t in main.territories}
    demo = read_table(demo_table())
    assert demo.issues == []
    assert all("FICTIF" in t.name for t in demo.territories if t.id.startswith("DEMO"))
    assert demo_table().read_text(encoding="utf-8").startswith("# DONNEES FICTIVES")


# --------------------------------------------------------------------------- versioned table

def _t(tid="DAC-A", communes=("80021",), **kw) -> Territory:
    return Territory(tid, kw.pop("name", tid), communes=tuple(communes), **kw)


def test_versions_and_history(territory_store):
    s = territory_store()
    v1 = s.save(_t(), None, "alice")
    assert v1.version == 1 and v1.updated_by == "alice"
    v2 = s.save(v1.territory.with_communes(add=["80022"], remove=["80021"]), 1, "bob", comment="ajout")
    assert v2.version == 2 and v2.territory.communes == ("80022",)
    assert s.save(v2.territory, 2, "bob").version == 2  # no change, no new version
    s.delete("DAC-A", 2, "carol")
    assert s.get("DAC-A") is None
    h = s.history()
    assert [(e.version, e.action, e.author) for e in h] == [
        (3, "suppression", "carol"), (2, "modification", "bob"), (1, "creation", "alice")]
    assert h[1].changes == {"communes": {"ajoutes": ["80022"], "retires": ["80021"]}}
    assert h[1].comment == "ajout"
    # re-created after deletion: versions keep increasing
    assert s.save(_t(), None, "dan").version == 4


def test_concurrent_edit_is_a_conflict(territory_store):
    """Two stewards read version 1; the second to save gets a conflict, the first's change stays."""
    territory_store().save(_t(), None, "setup")
    a, b = territory_store(), territory_store()
    ra, rb = a.get("DAC-A"), b.get("DAC-A")
    a.save(ra.territory.with_communes(add=["80022"]), ra.version, "alice")
    with pytest.raises(ConflictError) as exc:
        b.save(rb.territory.with_communes(add=["80023"]), rb.version, "bob")
    assert exc.value.current.territory.communes == ("80021", "80022")
    assert a.get("DAC-A").territory.communes == ("80021", "80022")
    with pytest.raises(ConflictError):
        b.save(_t(), None, "bob")  # creating an id that exists is a conflict too


def test_concurrent_threads_lose_nothing(territory_store):
    """Many writers each adding one commune with read-modify-write and retry on conflict: every
    commune ends up in the territory (no lost update)."""
    territory_store().save(_t(communes=("80001",)), None, "setup")
    codes = [f"80{n:03d}" for n in range(100, 116)]
    conflicts = []

    def worker(code: str) -> None:
        s = territory_store()
        while True:
            cur = s.get("DAC-A")
            try:
                s.save(cur.territory.with_communes(add=[code]), cur.version, f"w{code}")
                return
            except ConflictError:
                conflicts.append(code)

    threads = [threading.Thread(target=worker, args=(c,)) for c in codes]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    final = territory_store().get("DAC-A")
    assert set(final.territory.communes) == {"80001", *codes}
    assert final.version == 1 + len(codes)
    history = territory_store().history(territory_id="DAC-A", limit=100)
    assert sorted(e.version for e in history) == list(range(1, 2 + len(codes)))


def test_two_processes_editing_the_same_territory_one_wins(territory_store):
    """Two steward PROCESSES read the same version, then save at the same moment: in every
    round exactly one is saved, the other gets the conflict with the winner's version, and the
    table holds the winner's change only (nothing lost silently, nothing half-written)."""
    import multiprocessing as mp

    from dac_map.testing.server_load import territory_race

    territory_store().save(_t(communes=("80001",)), None, "setup")
    ctx = mp.get_context("spawn")
    expected = {"80001"}
    for round_ in range(3):
        rivals = [f"80{100 + 2 * round_}", f"80{101 + 2 * round_}"]
        barrier, out = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=territory_race, args=(
            str(territory_store.location), f"steward-{c}", "DAC-A", c, MAIN_SET, barrier, out))
            for c in rivals]
        for proc in procs:
            proc.start()
        outcomes = {}
        for _ in procs:
            commune, kind, detail = out.get(timeout=120)
            outcomes[commune] = (kind, detail)
        for proc in procs:
            proc.join(60)
        kinds = sorted(kind for kind, _ in outcomes.values())
        assert kinds == ["conflict", "saved"], outcomes
        winner = next(c for c, (k, _) in outcomes.items() if k == "saved")
        loser = next(c for c in rivals if c != winner)
        expected.add(winner)
        assert outcomes[winner][1] == round_ + 2  # one new version per round
        assert set(outcomes[loser][1]) == expected  # the loser is shown the winner's version
        stored = territory_store().get("DAC-A")
        assert set(stored.territory.communes) == expected and stored.version == round_ + 2
    assert [e.author for e in territory_store().history(limit=3)][0].startswith("steward-")


@pytest.mark.parametrize("roles,dacs", [
    ({"visiteur"}, set()), ({"coordinateur"}, {"DAC-A"}), ({"ars"}, set())])
def test_only_data_stewards_write_territories(territory_store, roles, dacs):
    """The role check is inside the store's write functions, on both back-ends: a visitor, a
    coordinator or the ARS may read but every write is refused and nothing is stored."""
    from dac_map.errors import ForbiddenError
    from dac_map.server import auth

    territory_store().save(_t(), None, "setup")
    other = territory_store(auth.Principal("someone", frozenset(roles), frozenset(dacs), True))
    assert other.get("DAC-A").version == 1  # reading is allowed
    before = territory_store().history()
    with pytest.raises(ForbiddenError):
        other.save(_t(communes=("80021", "80022")), 1, "someone")
    with pytest.raises(ForbiddenError):
        other.save(_t("DAC-B"), None, "someone")
    with pytest.raises(ForbiddenError):
        other.delete("DAC-A", 1, "someone")
    with pytest.raises(ForbiddenError):
        other.import_many([_t("DAC-C")], "someone", replace=True)
    assert territory_store().history() == before
    assert [v.territory.id for v in territory_store().list()] == ["DAC-A"]


def test_postgres_territory_writes_are_audited(pg_url):
    """Server mode: each territory write adds an audit entry (account, action, set/id,
    version) in its own transaction; the seeding of the shipped table is audited under the
    system author; a refused write leaves no entry."""
    import psycopg

    from dac_map.errors import ForbiddenError
    from dac_map.server import auth
    from dac_map.territories import PostgresTerritoryStore, SEED_AUTHOR

    steward = auth.Principal("ref-audit", frozenset({auth.DATA_STEWARD}), signed_in=True)
    s = open_store(pg_url, principal=steward)  # seeds the shipped sets
    assert isinstance(s, PostgresTerritoryStore)
    shipped = {t.id for t in read_table(shipped_table()).territories}
    v = s.get("DAC-80")
    s.save(v.territory.with_communes(add=["80021"]), v.version, "Référente")
    s.import_many([_t("DAC-NEW")], "Référente", comment="import")
    s.delete("DAC-NEW", 1, "Référente")
    with pytest.raises(ForbiddenError):
        PostgresTerritoryStore(pg_url).delete("DAC-80", v.version + 1, "anonyme")
    with psycopg.connect(pg_url) as con:
        rows = con.execute("SELECT actor, action, target, details->>'version' FROM "
                           "dac_map.audit_log ORDER BY id").fetchall()
    seeded = [r for r in rows if r[0] == SEED_AUTHOR]
    assert {r[2] for r in seeded if r[2].startswith("principal/")} == {f"principal/{i}" for i in shipped}
    assert all(r[1] == "territories.creation" for r in seeded)
    assert [r for r in rows if r[0] != SEED_AUTHOR] == [
        ("ref-audit", "territories.modification", "principal/DAC-80", str(v.version + 1)),
        ("ref-audit", "territories.creation", "principal/DAC-NEW", "1"),
        ("ref-audit", "territories.suppression", "principal/DAC-NEW", "2")]


def test_server_mode_factory_and_cli_use_postgres(pg_url, monkeypatch, tmp_path):
    """With DAC_MAP_DATABASE_URL set, the factory, the current territories (ETL, catalogue
    load) and ``dac-map territories`` all use the PostgreSQL table, never the SQLite file."""
    from dac_map import settings
    from dac_map.territories import PostgresTerritoryStore

    monkeypatch.setenv("DAC_MAP_DATABASE_URL", pg_url)
    monkeypatch.setattr(settings, "TERRITORIES_DB", tmp_path / "never.sqlite")
    assert isinstance(open_store(), PostgresTerritoryStore)
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("id;nom;telephone;site_web;departements;communes\n"
                        "DAC-X;DAC X;;;;80021 80022\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["territories", "import", str(csv_path), "--set", "essai",
                                      "--author", "cli-test"])
    assert result.exit_code == 0, result.output
    assert current_territories("essai") == [Territory("DAC-X", "DAC X", communes=("80021", "80022"))]
    listed = CliRunner().invoke(app, ["territories", "list", "--set", "essai"])
    assert "DAC X" in listed.output
    assert PostgresTerritoryStore(pg_url).history("essai")[0].author == "cli-test"
    assert not (tmp_path / "never.sqlite").exists()


def test_import_with_versions_reports_conflicts(territory_store):
    s = territory_store()
    s.save(_t("A"), None, "x")
    s.save(_t("B"), None, "x")
    exported = read_table_text(table_text(s.list()))
    s.save(_t("A", ("80021", "80099")), 1, "someone-else")  # changed after the export
    edited = [t.with_communes(add=["80500"]) for t in exported.territories]
    out = s.import_many(edited, "steward", expected=exported.versions)
    assert out.conflicts == ["A"] and out.updated == ["B"]
    assert s.get("A").territory.communes == ("80021", "80099")
    assert s.get("B").territory.communes == ("80021", "80500")
    out = s.import_many([_t("C")], "steward", replace=True)
    assert out.created == ["C"] and sorted(out.deleted) == ["A", "B"]


def read_table_text(text: str):
    return parse_table(text)


def test_open_store_seeds_once_and_reading_creates_nothing(territory_store):
    path = territory_store.location
    assert {t.id for t in current_territories(path=path)} == {t.id for t in read_table(shipped_table()).territories}
    assert territory_store().sets() == [] and territories_stamp(path) == 0
    if isinstance(path, Path):
        assert not path.exists()
    s = open_store(path, principal=territory_store.steward)
    assert type(s) is type(territory_store())
    assert set(s.sets()) == {MAIN_SET, DEMO_SET}
    v = s.get("DAC-80")
    s.delete("DAC-80", v.version, "steward")
    open_store(path)  # a second opening does not reseed
    assert s.get("DAC-80") is None
    assert "DAC-80" not in {t.id for t in current_territories(path=path)}


# --------------------------------------------------------------------------- checks

REF = CommuneReference({"80001": "A", "80002": "B", "80003": "C", "80004": "D",
                        "46001": "E", "46002": "F"})


def _brute_claims(territories, ref):
    out = {}
    for code in ref.names:
        who = [t.id for t in territories if code in t.communes or code[:2] in t.departments]
        out[code] = who
    return out


@hsettings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(sorted(REF.names)), max_size=4),
                          st.lists(st.sampled_from(["80", "46"]), max_size=1)),
                min_size=1, max_size=4))
def test_overlaps_and_gaps_match_brute_force(spec):
    items = [Territory(f"T{i}", f"T{i}", tuple(deps), tuple(coms) or (("80001",) if not deps else ()))
             for i, (coms, deps) in enumerate(spec)]
    report = check_territories(items, REF, departments=["80", "46"])
    brute = _brute_claims(items, REF)
    assert {o.commune: set(o.territories) for o in report.overlaps} == {
        c: set(w) for c, w in brute.items() if len(set(w)) > 1}
    assert {g.commune for g in report.gaps} == {c for c, w in brute.items() if not w}


def test_unknown_codes_with_and_without_successors(tmp_path):
    moves = tmp_path / "mvt.csv"
    # INSEE mvtcommune layout; FICTITIOUS rows: 80998 merged into 80997, then 80997 into 80001.
    moves.write_text(
        "MOD,DATE_EFF,TYPECOM_AV,COM_AV,TNCC_AV,NCC_AV,NCCENR_AV,LIBELLE_AV,TYPECOM_AP,COM_AP,TNCC_AP,NCC_AP,NCCENR_AP,LIBELLE_AP\n"
        "32,2019-01-01,COM,80998,0,X,X,Ancienne X,COM,80997,0,Y,Y,Fusion Y\n"
        "32,2019-01-01,COM,80998,0,X,X,Ancienne X,COMD,80998,0,X,X,Ancienne X\n"
        "10,2020-01-01,COM,80002,0,B,B,B,COM,80002,0,BB,BB,B renommée\n"
        "31,2021-01-01,COM,80997,0,Y,Y,Fusion Y,COM,80001,0,A,A,A\n", encoding="utf-8")
    succ = read_moves(moves)
    items = [Territory("T", "T", communes=("80001", "80998", "80777"))]
    report = check_territories(items, REF, succ)
    assert [(u.code, u.successors) for u in report.unknown] == [("80998", ("80001",)), ("80777", ())]
    assert "remplacée par 80001 A" in report.unknown[0].message
    bare = check_territories(items, REF, None)
    assert [u.code for u in bare.unknown] == ["80998", "80777"]
    assert any("mouvements de communes non fournie" in line for line in bare.lines())


def test_demo_split_has_the_labelled_overlaps_and_gaps():
    from dac_map.cli import DEMO_COMMUNES
    from dac_map.territories.sources import communes_from_files

    ref = communes_from_files(DEMO_COMMUNES[:1])
    items = read_table(demo_table()).territories
    report = check_territories([t for t in items if t.id.startswith("DEMO")], ref)
    brute = _brute_claims([t for t in items if t.id.startswith("DEMO")], ref)
    assert len(report.overlaps) == sum(len(w) > 1 for w in brute.values()) == 6
    assert len(report.gaps) == sum(not w for w in brute.values()) == 4


# --------------------------------------------------------------------------- directory and lookup

def test_directory_and_lookup():
    import geopandas as gpd
    import shapely

    est = gpd.GeoDataFrame({
        "finess": ["800000001", "800000002", "800000003"],
        "name": ["DAC DE LA SOMME", "EHPAD", "DAC ANCIEN CODE"],
        "category": ["606", "500", "801"], "department": ["80", "80", "80"],
        "phone": ["0322000000", "0322111111", None], "address": ["1 RUE A", "x", None],
        "postcode": ["80000", "x", None], "city": ["AMIENS", "x", None],
    }, geometry=[shapely.Point(2.3, 49.9), shapely.Point(2, 50), None], crs="EPSG:4326")
    d = dac_directory(est)
    assert list(d["finess"]) == ["800000003", "800000001"]
    assert d.loc[d.finess == "800000001", "lon"].item() == pytest.approx(2.3)
    items = [Territory("DAC-80", "DAC 80", ("80",), finess="800000001"),
             Territory("OUEST", "DAC <Ouest>", (), ("80021",), phone="0353010081")]
    look = DacLookup(items, d)
    first = look.first("80021")
    assert first.territory_id == "OUEST" and first.tel_href() == "tel:0353010081"
    assert "&lt;Ouest&gt;" in first.html() and 'href="tel:0353010081"' in first.html()
    assert [c.territory_id for c in look.for_commune("80021")] == ["OUEST", "DAC-80"]
    other = look.first("80500")
    assert other.phone == "0322000000" and other.address == "1 RUE A 80000 AMIENS"
    assert look.first("46001") is None and look.first(None) is None


# --------------------------------------------------------------------------- R397 categories

def test_every_r397_and_demo_category_has_a_family():
    """Computed from the raw files: every level-4 code of TRE_R397, 801, and every category of
    the demo extract has a row in categories_familles.csv with a known family."""
    with open(DATA / "nomenclatures" / "TRE_R397_categorie-entite-geographique-exercice.csv",
              encoding="utf-8") as f:
        r397 = {r["code"] for r in csv.DictReader(f, delimiter=";") if r["niveau"] == "4"}
    assert len(r397) == 322 and {"606", "209"} <= r397
    with open(DATA / "finess" / "RECONSTRUCTED_etalab-cs1100507-stock-20210108_dep80_dep46.csv",
              encoding="latin-1") as f:
        demo = {row[18] for row in csv.reader(f, delimiter=";") if row and row[0] == "structureet"}
    with open(DATA / "reference" / "categories_familles.csv", encoding="utf-8") as f:
        fam = {r["categetab"]: r["famille"] for r in csv.DictReader(f, delimiter=";")}
    with open(DATA / "reference" / "familles.csv", encoding="utf-8") as f:
        families = {r["famille"] for r in csv.DictReader(f, delimiter=";")}
    needed = r397 | {"801"} | demo
    assert needed - set(fam) == set()
    assert {fam[c] for c in needed} <= families
    assert fam["606"] == fam["801"] == "dac"


def test_read_categories_r397_with_801():
    from dac_map.etl.reference import read_categories

    cats = read_categories().set_index("category")
    assert len(cats) == 323
    assert cats.loc["606", "aggregate"] == "3408" and not cats.loc["606", "closed"]
    assert cats.loc["801", "closed"] and cats.loc["209", "aggregate1"] == "4000"


# --------------------------------------------------------------------------- CLI

def test_cli_import_export_check_history(tmp_path):
    runner = CliRunner()
    db = tmp_path / "t.sqlite"
    src = tmp_path / "in.csv"
    src.write_text("id;nom;telephone;site_web;departements;communes\n"
                   "DAC-80A;Nord;0353010081;;;80001 80002\n"
                   "mauvais id;x;;;;80003\n", encoding="utf-8")
    r = runner.invoke(app, ["territories", "import", str(src), "--db", str(db), "--set", "essai",
                            "--author", "steward"])
    assert r.exit_code == 5, r.output  # one row skipped -> non-zero, the good row is stored
    assert "1 créé(s)" in r.output and "ligne ignorée" in r.output
    out = tmp_path / "out.csv"
    r = runner.invoke(app, ["territories", "export", str(out), "--db", str(db), "--set", "essai"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert [(x["id"], x["communes"], x["version"]) for x in rows] == [("DAC-80A", "80001 80002", "1")]
    r = runner.invoke(app, ["territories", "check", "--db", str(db), "--set", "essai",
                            "--store", str(tmp_path / "none.gpkg"), "--strict"])
    assert r.exit_code == 5 and "trou" in r.output.lower()
    r = runner.invoke(app, ["territories", "history", "--db", str(db), "--set", "essai"])
    assert r.exit_code == 0 and "steward" in r.output


def test_cli_import_warns_about_communes_claimed_twice(tmp_path):
    db = tmp_path / "t.sqlite"
    src = tmp_path / "in.csv"
    src.write_text("id;nom;telephone;site_web;departements;communes\n"
                   "A;Nord;;;;80001 80002\nB;Sud;;;;80002 80003\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["territories", "import", str(src), "--db", str(db), "--set", "x",
                                 "--author", "s"])
    assert r.exit_code == 0, r.output
    assert "la commune 80002 est revendiquée par A et B" in r.output
    assert "80001" not in r.output.split("Attention")[-1]


def test_etl_reads_the_steward_table_and_never_writes_it(tmp_path, monkeypatch):
    """A steward's edit is what the ETL and the catalogue use; building (as a refresh does)
    leaves the table byte for byte as it was."""
    from dac_map import settings
    from dac_map.cli import DEMO_COMMUNES, DEMO_DEPARTMENTS, DEMO_ESTABLISHMENTS
    from dac_map.etl import EtlInputs, run_etl
    from dac_map.query import load_catalogue

    db = tmp_path / "t.sqlite"
    monkeypatch.setattr(settings, "TERRITORIES_DB", db)
    store = open_store(db)
    split = [t for t in read_table(demo_table()).territories if t.id.startswith("DEMO")]
    v80 = store.get("DAC-80")
    store.delete("DAC-80", v80.version, "steward")
    store.import_many(split, "steward")
    before = db.read_bytes()
    out = run_etl(EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS,
                            communes=list(DEMO_COMMUNES)), tmp_path / "s.gpkg")
    assert db.read_bytes() == before
    assert out.metadata["territories_source"] == "steward"
    cat = load_catalogue(out.target)
    assert "DAC-80" not in cat.territory_row and {"DEMO-80-OUEST", "DEMO-80-EST"} <= set(cat.territory_row)
    est = cat.establishments.set_index("finess")
    # Amiens (80021) is listed by the west DAC only: its establishments answer to it
    amiens = est[est["commune"] == "80021"]
    assert len(amiens) and set(amiens["dac_id"]) == {"DEMO-80-OUEST"}
    # an edit after the build shows at the next catalogue load, without a new ETL
    west = store.get("DEMO-80-OUEST")
    store.save(west.territory.with_communes(remove=["80021"]), west.version, "steward")
    east = store.get("DEMO-80-EST")
    store.save(east.territory.with_communes(add=["80021"]), east.version, "steward")
    again = load_catalogue(out.target).establishments
    assert set(again.loc[again["commune"] == "80021", "dac_id"]) == {"DEMO-80-EST"}


def test_etl_warns_about_communes_claimed_twice(tmp_path):
    from dac_map.cli import DEMO_COMMUNES, DEMO_DEPARTMENTS, DEMO_ESTABLISHMENTS
    from dac_map.etl import EtlInputs, run_etl

    terr = tmp_path / "t.csv"
    terr.write_text("id;nom;telephone;site_web;departements;communes\n"
                    "DAC-80;Somme;;;80;\nDAC-AMIENS;Amiens;;;;80021 46042\nDAC-46;Lot;;;46;\n",
                    encoding="utf-8")
    out = run_etl(EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS,
                            communes=list(DEMO_COMMUNES), territories=terr), tmp_path / "s.gpkg")
    warned = sorted((i.line, i.reason.split(" claimed")[0]) for i in out.issues
                    if i.field == "communes" and "claimed by" in i.reason)
    assert warned == [(3, "commune 46042 Cahors"), (3, "commune 80021 Amiens")]
    assert all(i.action == "kept" for i in out.issues if "claimed by" in i.reason)
    answers = {i.reason.split(" claimed")[0]: i.reason.rsplit(": ", 1)[1] for i in out.issues
               if "claimed by" in i.reason}
    assert answers == {"commune 80021 Amiens": "DAC-AMIENS answers for it",
                       "commune 46042 Cahors": "DAC-AMIENS answers for it"}


def test_a_note_with_personal_data_is_refused_and_the_row_skipped():
    read = parse_table("id;nom;telephone;site_web;departements;communes;finess;note\n"
                       "A;DAC A;;;80;;;Couvre le nord du département\n"
                       "B;DAC B;;;46;;;Appeler Mme Dupont au 06 12 34 56 78\n", "t.csv")
    assert [t.id for t in read.territories] == ["A"]
    assert [(i.line, i.field) for i in read.issues] == [(3, "note")]
    assert "Dupont" not in read.issues[0].reason  # the refusal does not repeat the data
