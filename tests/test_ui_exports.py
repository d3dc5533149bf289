"""Exports of the current result (dac_map.ui.exports) and the UI text helpers (dac_map.ui.text)."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime

from openpyxl import load_workbook

from dac_map.ui import exports
from dac_map.ui import text as utext


HEADER = ("N° FINESS;Nom;Raison sociale longue;Code catégorie;Catégorie;Famille;Adresse;"
          "Complément d'adresse;Code postal;Localité;Code commune INSEE;Commune;Département;"
          "Territoire DAC;Téléphone;Places installées;Places autorisées;Capacité;Statut;"
          "Mise à jour FINESS;Précision de la localisation;Longitude (WGS84);Latitude (WGS84);"
          "N° FINESS juridique;Date des données")


def test_csv_bytes_exact(tiny_records):
    data = exports.csv_bytes(tiny_records.iloc[[2, 0]])
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines == [
        HEADER,
        ("800000011;EHPAD LES TILLEULS;;500;EHPAD;Personnes âgées — hébergement;1 R DES TILLEULS;;"
        "80000;AMIENS;80021;Amiens;80;DAC-80;0322000001;80;84;80 places installées · 84 autorisées;"
        "ouvert;2020-06-30;adresse;2,2955;49,894;800000003;2021-01-08"),
        # formula-like text is neutralised with a leading quote
        ("800000052;'=1+2 PHARMACIE;;620;Pharmacie;Pharmacies / biologie;4 R X;;80000;AMIENS;80021;"
        "Amiens;80;DAC-80;0322000005;;;capacité non renseignée;ouvert;2020-06-30;adresse;2,35;"
        "49,87;800000003;2021-01-08"),
        "",
    ]


def test_excel_bytes_round_trip(tiny_records):
    data = exports.excel_bytes(tiny_records, {"Territoire": "DAC Somme", "Critères": "=cmd|' /C calc'!A0"})
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Ressources", "À propos"]
    ws = wb["Ressources"]
    rows = list(ws.iter_rows(values_only=True))
    assert ";".join(rows[0]) == HEADER
    assert len(rows) == 1 + len(tiny_records)
    by_finess = {r[0]: r for r in rows[1:]}
    pharma = by_finess["800000052"]
    assert pharma[1] == "=1+2 PHARMACIE"
    cell = next(c for c in ws["B"] if c.value == "=1+2 PHARMACIE")
    assert cell.data_type == "s"  # text, not a formula
    assert by_finess["800000011"][15:17] == (80, 84)
    assert by_finess["800000029"][1] == "<script>alert(1)</script> EHPAD"
    about = list(wb["À propos"].iter_rows(values_only=True))
    assert about == [("Élément", "Valeur"), ("Territoire", "DAC Somme"),
                     ("Critères", "=cmd|' /C calc'!A0")]
    assert wb["À propos"]["B3"].data_type == "s"
    assert ws.freeze_panes == "A2"


def test_geojson_whole_feature(tiny_records):
    gj = exports.geojson_dict(tiny_records.iloc[[2]])
    assert gj == {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [2.2955, 49.894]},
        "properties": {
            "finess": "800000011", "name": "EHPAD LES TILLEULS", "long_name": None,
            "category": "500", "category_label": "EHPAD",
            "family_label": "Personnes âgées — hébergement", "address": "1 R DES TILLEULS",
            "address_complement": None, "postcode": "80000", "city": "AMIENS",
            "commune": "80021", "commune_name": "Amiens", "department": "80",
            "dac_id": "DAC-80", "phone": "0322000001", "capacity_installed": 80.0,
            "capacity_authorised": 84.0,
            "capacity_summary": "80 places installées · 84 autorisées", "status": "ouvert",
            "updated": "2020-06-30", "geo_precision": "adresse", "finess_ej": "800000003",
            "data_date": "2021-01-08"}}]}
    assert json.loads(exports.geojson_bytes(tiny_records))["features"][0]["properties"]["finess"] == "800000052"


def test_equipment_by_finess(tiny_cat):
    assert exports.equipment_by_finess(tiny_cat.equipment, ["800000011", "800000045"]) == {
        "800000011": [
            {"discipline": "Accueil pour Personnes Âgées", "activity": "Hébergement Complet Internat",
             "clientele": "Personnes âgées dépendantes", "installed": "70", "authorised": "74"},
            {"discipline": "Pôles d'activité et de soins adaptés", "activity": "Accueil de Jour",
             "clientele": "Personnes Alzheimer ou maladies apparentées", "installed": "10",
             "authorised": "10"}],
        "800000045": []}


def test_a4_sheet_escapes_everything_and_loads_nothing(tiny_cat, tiny_records):
    rows = tiny_records[tiny_records["finess"].isin(["800000029", "800000011"])]
    ctx = exports.SheetContext(title="Ressources — DAC <Somme>", territory="DAC Somme",
                               contact="Tél. 03 22 00 00 00", criteria=["Recherche : « <img src=x> »"],
                               data_date="2021-01-08", sources="FINESS & IGN",
                               warnings=["Capacités FICTIVES"],
                               generated=datetime(2026, 1, 2, 9, 30))
    page = exports.a4_sheet_html(rows, ctx, exports.equipment_by_finess(tiny_cat.equipment,
                                                                        list(rows["finess"])),
                                 illustrative=True)
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; EHPAD" in page
    assert "Ressources — DAC &lt;Somme&gt;" in page
    assert "Recherche : « &lt;img src=x&gt; »" in page
    assert re.findall(r"<[^>]*\s(?:src|href)\s*=", page) == []
    assert re.findall(r"https?://", page) == []
    assert "default-src 'none'" in page and "size: A4" in page
    assert "Tél. 03 22 00 00 01" in page and "N° FINESS 800000011" in page
    assert "Capacités par discipline (FICTIVES, illustration)" in page
    assert "2 ressources · fiche éditée le 02/01/2026 à 09:30" in page
    assert "FINESS &amp; IGN · données du 08/01/2021" in page
    assert page.count('<section class="item">') == 2


def test_sheet_filename():
    when = datetime(2026, 1, 2, 9, 30)
    assert exports.sheet_filename("DAC-80", "csv", when) == "dac-map_DAC-80_20260102-0930.csv"
    assert exports.sheet_filename("../<x>", "html", when) == "dac-map_x_20260102-0930.html"


# --------------------------------------------------------------------------- text helpers

def test_md_escapes_markup():
    assert utext.md("<script>alert(1)</script>") == r"\<script\>alert\(1\)\</script\>".replace("/", r"\/")
    assert utext.md("[lien](http://x.example/a.png) ![i](y) :red[rouge] **gras** $x$") == (
        r"\[lien\]\(http\:" "\u2060" r"\/\/x\.example\/a\.png\) \!\[i\]\(y\) \:red\[rouge\] \*\*gras\*\* \$x\$")
    assert utext.md("a\nb\x00c\u200bd") == "a b c d"
    assert utext.md(None) == "" and utext.md(float("nan")) == ""


def test_phone_date_place_formatting():
    assert utext.format_phone("03.22-33 39 39") == "03 22 33 39 39"
    assert utext.format_phone("+33322333939") == "33322333939"
    assert utext.tel_href("03 22 33 39 39") == "tel:0322333939"
    assert utext.tel_href(None) is None and utext.tel_href("javascript:alert(1)") is None
    assert utext.format_date("2021-01-08") == "08/01/2021"
    assert utext.format_date(datetime(2020, 6, 30)) == "30/06/2020"
    assert utext.format_places(12.0) == "12" and utext.format_places(None) == ""
    assert utext.format_km(2.345) == "2,3 km" and utext.format_km(float("nan")) == ""
    assert utext.precision_label("commune") == "au centre de la commune (position approchée)"


def test_demo_flags_and_sources_line():
    meta = {"establishments_file": "RECONSTRUCTED_x.csv", "equipment_illustrative": True,
            "source_date": "2021-01-08", "equipment_file": "e.csv", "etl_time": "2026-01-02T10:00:00+00:00"}
    assert utext.demo_flags(meta) == [
        ("Établissements : extrait FINESS réel reconstruit pour la démonstration (janvier 2021), "
        "pas le fichier officiel à jour."),
        "Capacités et disciplines FICTIVES (illustration) : ne pas s'en servir pour orienter un patient."]
    assert utext.demo_flags({"establishments_file": "etalab-cs1100507.csv"}) == []
    assert utext.sources_line(meta) == (
        "Données FINESS (DREES, Licence Ouverte / Etalab) extraites le 08/01/2021 · capacités : "
        "fictives · limites administratives : IGN Admin Express / INSEE COG · base construite le "
        "02/01/2026")
