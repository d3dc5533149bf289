"""ETL tests: typed -> domain tables, projections, territories, atomic store, CLI exit codes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from dac_map import settings, store
from dac_map.cli import app
from dac_map.errors import InputFormatError, StoreError, ValidationError
from dac_map.etl import EtlInputs, commune_codes, run_etl

FIX = Path(__file__).parent / "fixtures" / "finess"
DATA = settings.DATA_DIR
DEPS = DATA / "geo" / "departements.geojson"
SOMME = DATA / "geo" / "communes-80-somme.geojson"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("etl") / "store.gpkg"
    report = run_etl(EtlInputs(establishments=FIX / "cs1100507_nasty.csv", departments=DEPS,
                               equipment=FIX / "cs1100505_small.csv", communes=[SOMME]), out)
    est = store.open_store(out).read_layer(store.ESTABLISHMENTS).set_index("finess")
    return report, est, out


def test_commune_codes():
    dep = pd.Series(["80", "2A", "2B", "9A", "9D", "9F", "9E", "01", "XX", "80"])
    com = pd.Series(["021", "004", "033", "120", "411", "611", "502", "053", "001", "1"])
    d, c = commune_codes(dep, com)
    assert d.tolist()[:8] == ["80", "2A", "2B", "971", "974", "976", "975", "01"]
    assert c.tolist()[:8] == ["80021", "2A004", "2B033", "97120", "97411", "97611", "97502", "01053"]
    assert pd.isna(d.iloc[8]) and pd.isna(c.iloc[8]) and pd.isna(c.iloc[9])


def test_projections_against_control_points(built):
    _, est, _ = built
    ain = est.loc["010000024", "geometry"]
    assert (round(ain.x, 5), round(ain.y, 5)) == (5.20918, 46.22229)
    gp = est.loc["9A0000028", "geometry"]
    assert (round(gp.x, 5), round(gp.y, 3)) == (-61.52874, 16.234)


@pytest.mark.parametrize("finess,lon,lat,epsg_m,dep", [
    ("2A0000014", 8.7386, 41.9267, 2154, "2A"),
    ("9B0000034", -61.0588, 14.6161, 5490, "972"),
    ("9C0000040", -52.3260, 4.9372, 2972, "973"),
    ("9D0000056", 55.4481, -20.8823, 2975, "974"),
    ("9E0000062", -56.1773, 46.7811, 32621, "975"),
    ("9F0000078", 45.2279, -12.7806, 4471, "976"),
])
def test_overseas_and_corsica_rows(built, finess, lon, lat, epsg_m, dep):
    _, est, _ = built
    row = est.loc[finess]
    assert abs(row.geometry.x - lon) < 1e-5 and abs(row.geometry.y - lat) < 1e-5
    assert (int(row["epsg_m"]), row["department"], row["geo_precision"]) == (epsg_m, dep, "adresse")


def test_missing_bad_or_unknown_coordinates_fall_back_to_commune_centroid(built):
    _, est, _ = built
    assert est.loc[["800000150", "800000184", "800000192"], "geo_precision"].tolist() == [
        "commune"] * 3
    assert est.loc["800000143", "geo_precision"] == "adresse"
    communes = pyogrio.read_dataframe(SOMME).set_index("code")
    assert communes.loc["80016", "geometry"].contains(est.loc["800000150", "geometry"])


def test_domain_fields(built):
    report, est, _ = built
    row = est.loc["800005340"]
    assert (row["name"], row["address"], row["postcode"], row["city"], row["commune"],
            row["family"], row["dac_id"]) == (
        'CONSULTATION "CALMETTE"', "45 B R DU DOCTEUR LOUIS FAFET", "80000", "AMIENS", "80021",
        "prevention", "DAC-80")
    assert est.loc["800000200", "family"] == "autres"
    assert report.unknown_categories == {"999": 1}
    assert pd.isna(est.loc["800009999", "phone"])


def test_equipment_totals_exclude_removed_lines(built):
    report, est, out = built
    assert est.loc["800009999", ["capacity_installed", "capacity_authorised"]].tolist() == [94, 104]
    assert est.loc["800000143", ["capacity_installed", "capacity_authorised"]].tolist() == [40, 45]
    eq = store.open_store(out).read_layer(store.EQUIPMENT)
    assert len(eq) == 5 and "899999999" not in set(eq["finess"])
    assert report.metadata["equipment_illustrative"] is True


def test_report_and_rejects_file(built):
    report, _, out = built
    assert report.counts["establishments"] == 15
    assert report.counts["establishment_lines_rejected"] == 2
    rejects = pd.read_csv(report.rejects_path, sep=";", encoding="utf-8-sig", dtype=str)
    assert list(rejects.columns) == ["fichier", "ligne", "champ", "probleme", "action", "valeur"]
    assert ("35", "nofinesset", "rejected") in set(
        zip(rejects["ligne"], rejects["champ"], rejects["action"]))
    assert set(store.open_store(out).layers()) >= {"etablissements", "equipements", "departements",
                                                  "communes", "territoires", "metadata",
                                                  "familles", "categories", "disciplines"}
    meta = store.open_store(out).read_metadata()
    assert meta["counts"]["establishments"] == 15
    assert meta["source_date"] == "2021-01-08"
    assert meta["establishments_file"] == "cs1100507_nasty.csv"


def test_implausible_coordinates_are_moved_to_the_commune(tmp_path):
    text = (FIX / "cs1100507_nasty.csv").read_bytes().decode("latin-1")
    # CH Abbeville (Somme) given coordinates in the Lot.
    text = text.replace("800000143;616283.0;7000932.9", "800000143;575000.0;6390000.0")
    src = tmp_path / "moved.csv"
    src.write_bytes(text.encode("latin-1"))
    report = run_etl(EtlInputs(establishments=src, departments=DEPS, communes=[SOMME]),
                     tmp_path / "s.gpkg")
    est = store.open_store(tmp_path / "s.gpkg").read_layer(store.ESTABLISHMENTS).set_index("finess")
    assert est.loc["800000143", "geo_precision"] == "commune"
    assert any(i.field == "coordxet" and "outside its department" in i.reason for i in report.issues)


def test_territories_by_communes_take_precedence(tmp_path):
    terr = tmp_path / "territoires.csv"
    terr.write_text("id;nom;telephone;site_web;departements;communes\n"
                    "DAC-80;DAC Somme;;;80;\n"
                    "DAC-AMIENS;DAC Amiens;0322000000;;;80021 80001\n", encoding="utf-8")
    inputs = EtlInputs(establishments=FIX / "cs1100507_nasty.csv", departments=DEPS,
                       communes=[SOMME], territories=terr)
    run_etl(inputs, tmp_path / "t.gpkg")
    est = store.open_store(tmp_path / "t.gpkg").read_layer(store.ESTABLISHMENTS).set_index("finess")
    assert est.loc["800005340", "dac_id"] == "DAC-AMIENS"
    assert est.loc["800000143", "dac_id"] == "DAC-AMIENS"  # Abbeville = 80001
    assert est.loc["800000150", "dac_id"] == "DAC-80"
    assert pd.isna(est.loc["010000024", "dac_id"])
    t = store.open_store(tmp_path / "t.gpkg").read_layer(store.TERRITORIES).set_index("dac_id")
    assert t.loc["DAC-AMIENS", "communes"] == "80021 80001"
    assert t.loc["DAC-80", "geometry"].contains(t.loc["DAC-AMIENS", "geometry"].representative_point())


def test_bad_territory_table_names_line_and_field(tmp_path):
    terr = tmp_path / "territoires.csv"
    terr.write_text("id;nom;telephone;site_web;departements;communes\nDAC-X;X;;;8O;\n",
                    encoding="utf-8")
    with pytest.raises(InputFormatError) as exc:
        run_etl(EtlInputs(establishments=FIX / "cs1100507_nasty.csv", departments=DEPS,
                          territories=terr), tmp_path / "t.gpkg")
    assert (exc.value.line, exc.value.field) == (2, "departements")


# ------------------------------------------------------------------------- atomicity

@pytest.fixture()
def previous(tmp_path):
    out = tmp_path / "store.gpkg"
    run_etl(EtlInputs(establishments=FIX / "cs1100502_utf8_bom.csv", departments=DEPS), out)
    return out, _digest(out)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_bad_input_leaves_previous_store_untouched(previous, tmp_path):
    out, digest = previous
    html = tmp_path / "error.csv"
    html.write_text("<!DOCTYPE html><html><body>Service indisponible</body></html>")
    with pytest.raises(InputFormatError):
        run_etl(EtlInputs(establishments=html, departments=DEPS), out)
    assert _digest(out) == digest and _leftovers(tmp_path) == []


def test_failure_while_writing_leaves_previous_store_untouched(previous, tmp_path, monkeypatch):
    out, digest = previous
    real = pyogrio.write_dataframe
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", flaky)
    with pytest.raises(StoreError) as exc:
        run_etl(EtlInputs(establishments=FIX / "cs1100507_nasty.csv", departments=DEPS), out)
    assert "disk full" in str(exc.value)
    assert _digest(out) == digest and _leftovers(tmp_path) == []


def test_too_many_rejected_rows_abort(previous, tmp_path):
    out, digest = previous
    lines = (FIX / "cs1100507_nasty.csv").read_bytes().decode("latin-1").splitlines()
    broken = [lines[0]] + [ln.rsplit(";", 3)[0] if ln.startswith("structureet") else ln
                           for ln in lines[1:]]
    broken[1] = lines[1]  # one good line left
    src = tmp_path / "broken.csv"
    src.write_text("\n".join(broken), encoding="latin-1")
    with pytest.raises(ValidationError) as exc:
        run_etl(EtlInputs(establishments=src, departments=DEPS), out)
    assert "rejected" in str(exc.value) and exc.value.exit_code == 5
    assert _digest(out) == digest


# ------------------------------------------------------------------------- CLI

def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["etl", "-e", str(tmp_path / "absent.csv"), "-d", str(DEPS),
                              "-o", str(tmp_path / "x.gpkg")])
    assert res.exit_code == 3 and "absent.csv" in res.output
    html = tmp_path / "page.csv"
    html.write_text("<html>404</html>")
    res = runner.invoke(app, ["etl", "-e", str(html), "-d", str(DEPS), "-o", str(tmp_path / "x.gpkg")])
    assert res.exit_code == 4 and "HTML" in res.output
    res = runner.invoke(app, ["etl", "-e", str(FIX / "cs1100507_nasty.csv"), "-d", str(DEPS),
                              "-o", str(tmp_path / "x.gpkg")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "x.gpkg").exists()
    res = runner.invoke(app, ["info", str(tmp_path / "x.gpkg")])
    assert res.exit_code == 0 and "etablissements" in res.output
