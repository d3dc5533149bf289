"""One CSV/XLSX writer (dac_map.tabular) neutralises spreadsheet formulas in every file dac-map
produces: the writer itself (numbers stay numbers), a scan of the code for any other writer, and
each producer run on a store whose establishment names are hostile."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from openpyxl import load_workbook
from typer.testing import CliRunner

import dac_map
from dac_map.cli import DEMO_COMMUNES, app
from dac_map.tabular import PLAIN_NUMBER, csv_bytes, neutralise, xlsx_bytes

HOSTILE = ['=HYPERLINK("http://evil.example/x","clic")', "+cmd|' /C calc'!A0", "-2+3 EHPAD",
           "@SUM(A1:A9)", "\t=1+1", "  =1+2 espaces", "\r=2+2"]


def _dangerous(cell: str) -> bool:
    """What a spreadsheet would run: a formula start (after spaces) or a leading tab / CR."""
    if cell.startswith(("\t", "\r", "\n")):
        return True
    s = cell.lstrip(" \u00a0\u202f")
    return s[:1] in ("=", "+", "-", "@") and not PLAIN_NUMBER.fullmatch(s.strip())


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def _assert_neutral(rows: list[list[str]], expect_hostile: bool = True) -> None:
    cells = [c for r in rows for c in r]
    bad = [c for c in cells if _dangerous(c)]
    assert not bad, bad
    if expect_hostile:
        assert any(c.startswith("'") and _dangerous(c[1:]) for c in cells), "no hostile cell seen"


# --------------------------------------------------------------------------- the writer

@pytest.mark.parametrize("value, expected", [
    ("=1+2", "'=1+2"), ("+33 6 12", "'+33 6 12"), ("-2+3", "'-2+3"), ("@x", "'@x"),
    ("\t=1", "'\t=1"), ("\rx", "'\rx"), ("  =1", "'  =1"), ("\u00a0@x", "'\u00a0@x"),
    ("-12", "-12"), ("-3,5", "-3,5"), ("+4.5e3", "+4.5e3"), ("-", "'-"), ("EHPAD", "EHPAD"),
    ("", ""), (-12, -12), (3.5, 3.5), (None, None),
])
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_numbers_stay_numbers():
    frame = pd.DataFrame({"nom": ["=A1", "B"], "delta": [-2, 3], "km": [-1.5, 2.25],
                          "texte_num": ["-4", "=-4"]})
    rows = _rows(csv_bytes(frame))
    assert rows == [["nom", "delta", "km", "texte_num"], ["'=A1", "-2", "-1,5", "-4"],
                    ["B", "3", "2,25", "'=-4"]]
    wb = load_workbook(io.BytesIO(xlsx_bytes({"S": frame})))
    ws = wb["S"]
    assert [c.value for c in ws[2]] == ["=A1", -2, -1.5, "-4"]
    assert ws["A2"].data_type == "s" and ws["B2"].data_type == "n" and ws["C2"].data_type == "n"


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), st.integers(-10**6, 10**6),
                          st.floats(-1e6, 1e6, allow_nan=False)), max_size=8))
def test_no_cell_is_ever_dangerous(rows):
    data = csv_bytes(rows, ["texte", "entier", "reel"])
    parsed = _rows(data)
    _assert_neutral(parsed, expect_hostile=False)
    assert len(parsed) == len(rows) + 1
    for (text, n, _x), out in zip(rows, parsed[1:]):
        assert out[1] == str(n)  # integers untouched
        if not _dangerous(text):
            assert out[0] == text.replace("\r\n", "\n").replace("\r", "\n") or "\r" in text


# --------------------------------------------------------------------------- one writer only

WRITER_CALLS = re.compile(r"\.to_csv\(|csv\.writer\(|csv\.DictWriter\(|\.to_excel\(|(?<![\w.])ws\.append\(|"
                          r"\.cell\(.*value=")


#: Every module that produces a CSV or XLSX file (issue 10's list).
PRODUCERS = ("cli.py", "coverage/cli.py", "coverage/unmet.py", "coverage/report_render.py",
             "etl/build.py", "refresh/reports.py", "ui/exports.py", "ui/coverage_view.py",
             "inclusion/steward.py", "inclusion/importer.py",  # issue 16: local table, import reports
             "inclusion/tables.py", "inclusion/epci.py",  # steward tables (CSV back-end), EPCI table
             "ui/social_search.py")  # issue 16: the social resources of a search
USES_WRITER = re.compile(r"dac_map\.tabular|from dac_map import [^\n]*\btabular\b")
FROM_IMPORT = re.compile(r"^[ \t]*from (dac_map(?:\.\w+)*) import (?:\(([^)]*)\)|([^\n]*))", re.M)
PLAIN_IMPORT = re.compile(r"^\s*import (dac_map(?:\.\w+)+)", re.M)


def _imported_files(root: Path, text: str) -> set[Path]:
    """The dac_map module files a module imports (``from pkg import sub`` included)."""
    def files(parts: list[str]) -> list[Path]:
        return [f for f in (root.joinpath(*parts).with_suffix(".py"),
                            root.joinpath(*parts, "__init__.py")) if f.is_file()]
    out: set[Path] = set()
    for name in PLAIN_IMPORT.findall(text):
        out.update(files(name.split(".")[1:]))
    for name, grouped, single in FROM_IMPORT.findall(text):
        names = grouped or single
        parts = name.split(".")[1:]
        out.update(files(parts))
        for item in re.findall(r"\w+", names):
            out.update(files([*parts, item]))
    return out


def _uses_writer(root: Path, rel: str, depth: int = 3) -> bool:
    """The module imports dac_map.tabular, or a dac_map module it imports (up to ``depth``
    levels: a package's __init__ re-exporting a submodule) does — it hands over the bytes, as
    ui/views.py does with ui/exports.py."""
    seen: set[Path] = set()
    frontier = {root / rel}
    for _ in range(depth + 1):
        nxt: set[Path] = set()
        for f in frontier - seen:
            seen.add(f)
            text = f.read_text(encoding="utf-8")
            if USES_WRITER.search(text):
                return True
            nxt |= _imported_files(root, text)
        frontier = nxt
    return False


def test_no_other_writer_in_the_package():
    """Every CSV/XLSX the app, the CLI, the ETL, the refresh and the reports write goes through
    dac_map.tabular (dac_map/testing only writes test INPUT files in the FINESS layout)."""
    root = Path(dac_map.__file__).parent
    offenders, unchecked = [], []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel == "tabular.py" or rel.startswith("testing/"):
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{rel}: {m.group(0)}" for m in WRITER_CALLS.finditer(text)]
        # a file name or MIME type of a spreadsheet next to a write or a download: the module
        # must go through the writer (itself or through the module it gets the bytes from);
        # config: source names; pipeline: names the files etl/build and refresh/diff write
        if re.search(r"""\.(?:csv|xlsx)["']|["']text/csv|spreadsheetml""", text) and \
                re.search(r"write_bytes|write_text|download_button|stdout\.write", text) and \
                rel not in ("refresh/config.py", "refresh/pipeline.py") and not _uses_writer(root, rel):
            unchecked.append(rel)
    assert not offenders, offenders
    assert not unchecked, unchecked
    for rel in PRODUCERS:
        assert USES_WRITER.search((root / rel).read_text(encoding="utf-8")), rel


# --------------------------------------------------------------------------- every producer

@pytest.fixture(scope="module")
def hostile_stores(tmp_path_factory):
    """Two small stores built by the real ETL: v1 with plain names, v2 with hostile names."""
    from dac_map.etl import EtlInputs, run_etl
    from dac_map.testing.refresh import extract_bytes, sample_rows, write_bytes, write_departments

    folder = tmp_path_factory.mktemp("hostile")
    base = sample_rows(4)
    hostile = [r.__class__(**{**r.__dict__, "name": HOSTILE[i % len(HOSTILE)]})
               for i, r in enumerate(base)]
    deps = write_departments(folder / "departements.geojson")
    out = []
    for name, rows in (("v1", base), ("v2", hostile)):
        src = write_bytes(folder / f"{name}.csv", extract_bytes(rows))
        target = folder / f"{name}.gpkg"
        report = run_etl(EtlInputs(establishments=src, departments=deps,
                                   communes=list(DEMO_COMMUNES)), target)
        out.append((target, report))
    return out


def test_search_csv(hostile_stores):
    store = hostile_stores[1][0]
    res = CliRunner().invoke(app, ["search", "--store", str(store), "--format", "csv"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.stdout), delimiter=";"))
    assert len(rows) >= 1 + 6  # a name with a raw CR may be rejected by the ETL
    _assert_neutral(rows)
    assert "'" + HOSTILE[0] in [r[1] for r in rows]


def test_coverage_csv(hostile_stores, tmp_path):
    store = hostile_stores[1][0]
    out, fam = tmp_path / "c.csv", tmp_path / "f.csv"
    res = CliRunner().invoke(app, ["coverage", "--store", str(store), "--dac", "DAC-80",
                                   "-f", "pa_hebergement", "--csv", str(out), "--families-csv",
                                   str(fam), "--population", "none"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rows = _rows(out.read_bytes())
    _assert_neutral(rows)
    header = rows[0]
    assert all(r[header.index("nearest_name")].startswith("'") for r in rows[1:])
    _assert_neutral(_rows(fam.read_bytes()), expect_hostile=False)


def test_etl_rejects_csv(tmp_path):
    from dac_map.etl.build import write_rejects
    from dac_map.errors import RowIssue

    issues = [RowIssue("=cmd.csv", 3, "rs", "-valeur invalide", raw="@SUM(1)"),
              RowIssue("f.csv", 4, "nofinesset", "numéro FINESS invalide", raw="=1+1")]
    path = write_rejects(issues, tmp_path / "x.rejets.csv")
    rows = _rows(path.read_bytes())
    _assert_neutral(rows)
    assert rows[1] == ["'=cmd.csv", "3", "rs", "'-valeur invalide", "rejected", "'@SUM(1)"]


def test_refresh_change_report_csv(hostile_stores, tmp_path):
    from dac_map.refresh.diff import compare_stores
    from dac_map.refresh.reports import write_csv

    report = compare_stores(hostile_stores[0][0], hostile_stores[1][0])
    assert any(c.change == "renamed" for c in report.changes)
    rows = _rows(write_csv(report, tmp_path / "changes.csv").read_bytes())
    _assert_neutral(rows)


def test_unmet_export_csv(tmp_path, monkeypatch):
    from dac_map.coverage.unmet import export_unmet_needs_csv, record_unmet_need

    db = tmp_path / "u.sqlite"
    record_unmet_need("DAC-80", "80021", {"families": ["pa_hebergement"]}, "+SUM(1) critères",
                      "=HYPERLINK(\"x\")", db_path=db)
    for with_comments in (False, True):
        path = export_unmet_needs_csv(tmp_path / f"e{with_comments}.csv", db,
                                      include_comments=with_comments)
        rows = _rows(path.read_bytes())
        _assert_neutral(rows)
        assert ("'=HYPERLINK(\"x\")" in rows[1]) is with_comments


def test_ars_report_csv(hostile_stores, tmp_path):
    from dac_map.coverage import ResourceType, build_report, render_csv
    from dac_map.query import load_catalogue

    rep = build_report(load_catalogue(hostile_stores[1][0]), "DAC-80", ResourceType(families=("pa_hebergement",),
                                                    label="=HYPERLINK(\"evil\")"),
                       20.0, None, 15.0, tmp_path / "u.sqlite", tmp_path / "r",
                       generated_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    _assert_neutral(_rows(render_csv(rep)))


def test_app_exports(hostile_stores):
    from dac_map.query import load_catalogue, search
    from dac_map.ui import exports

    records = search(load_catalogue(hostile_stores[1][0]), []).records
    _assert_neutral(_rows(exports.csv_bytes(records)))
    wb = load_workbook(io.BytesIO(exports.excel_bytes(records, {"Critères": "=cmd|' /C calc'!A0"})))
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    assert any(c.value == HOSTILE[0] and c.data_type == "s" for c in cells)
