"""Builds the GeoPackage used by the app tests (AppTest and browser tests).

The real demo establishments (Somme + Lot) plus three establishments of Amiens whose names are
hostile (``<script>``, quotes, an ``<img onerror>``, a spreadsheet formula, Markdown link and
Streamlit directive), and deterministic synthetic equipment lines (fictitious capacities).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from dac_map import cli
from dac_map.testing import synthetic, synthetic_equipment
from dac_map.etl import EtlInputs, run_etl

#: FINESS number -> name of the hostile test establishments (all in Amiens, 80021).
NASTY: dict[str, str] = {
    "800999991": "<script>alert(1)</script> EHPAD TEST",
    "800999992": "CENTRE \"L'ÉCHO\" <img src=x onerror=alert(2)>",
    "800999993": "=HYPERLINK(\"http://evil.example\") [lien](http://evil.example/x.png) :red[rouge]",
}
_CATEGORY = {
    "800999991": ("500", "Etablissement d'hébergement pour personnes âgées dépendantes", "4401",
                  "Etablissements d'Hébergement pour Personnes Âgées"),
    "800999992": ("355", "Centre Hospitalier (C.H.)", "1102", "Centres Hospitaliers"),
    "800999993": ("354", "Service de Soins Infirmiers A Domicile", "4601",
                  "Services de soins à domicile"),
}
#: A well-known demo establishment, searched with a typo by the tests.
KNOWN_FINESS = "800000143"
KNOWN_NAME = "CH ABBEVILLE"


def _structure_row(finess: str, name: str, k: int) -> list[str]:
    cat, cat_label, agg, agg_label = _CATEGORY[finess]
    return ["structureet", finess, "800999990", name, "", "", "", str(10 + k), "R", "DES TESTS",
            "", "", "021", "80", "SOMME", "80000 AMIENS", f"032299999{k}", "", cat, cat_label,
            agg, agg_label, "", "", "", "", "", "", "2000-01-01", "", "2020-01-01", ""]


def build_ui_store(target: Path) -> Path:
    """Write the test GeoPackage at ``target`` (once: an existing file is reused)."""
    target = Path(target)
    if target.exists():
        return target
    work = target.parent
    work.mkdir(parents=True, exist_ok=True)
    raw = cli.DEMO_ESTABLISHMENTS.read_text(encoding="latin-1").splitlines()
    header = raw[0]
    structures = [line for line in raw[1:] if line.startswith("structureet;")]
    geos = [line for line in raw[1:] if line.startswith("geolocalisation;")]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    extra_geo = []
    for k, (finess, name) in enumerate(NASTY.items()):
        w.writerow(_structure_row(finess, name, k))
        extra_geo.append(f"geolocalisation;{finess};{648600 + 300 * k:.1f};{6976800 + 200 * k:.1f};"
                         "1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2021-01-08")
    extract = work / "etablissements_ui_test.csv"
    text = "\n".join([header, *structures, *buf.getvalue().splitlines(), *geos, *extra_geo]) + "\n"
    extract.write_bytes(text.encode("utf-8"))
    equipment = work / "equipements_ui_test.csv"
    synthetic_equipment.write_equipment_extract(equipment, synthetic.read_establishment_categories(
        extract, encoding="utf-8"), seed=7)
    tmp = work / (target.name + ".building.gpkg")
    run_etl(EtlInputs(establishments=extract, departments=cli.DEMO_DEPARTMENTS,
                      equipment=equipment, communes=list(cli.DEMO_COMMUNES)), tmp)
    tmp.replace(target)
    return target


# --------------------------------------------------------------------------- tiny catalogue

def tiny_catalogue():
    """A 5-establishment catalogue (Amiens / Abbeville area) built in memory, for the pure
    map / state / export tests. Names include hostile strings."""
    import geopandas as gpd
    import pandas as pd
    import pyproj
    import shapely

    from dac_map.query import Catalogue

    lon = [2.2955, 2.3000, 1.8330, 2.2700, 2.3500]
    lat = [49.8940, 49.9000, 50.1050, 49.8800, 49.8700]
    tr = pyproj.Transformer.from_crs(4326, 2154, always_xy=True)
    x, y = tr.transform(lon, lat)
    est = gpd.GeoDataFrame({
        "finess": ["800000011", "800000029", "800000037", "800000045", "800000052"],
        "finess_ej": ["800000003"] * 5,
        "name": ["EHPAD LES TILLEULS", "<script>alert(1)</script> EHPAD", "SSIAD DU VAL",
                 "CH D'AMIENS", "=1+2 PHARMACIE"],
        "long_name": [None] * 5,
        "category": ["500", "500", "354", "355", "620"],
        "category_label": ["EHPAD", "EHPAD", "SSIAD", "Centre Hospitalier (C.H.)", "Pharmacie"],
        "aggregate": ["4401", "4401", "4601", "1102", "3101"],
        "aggregate_label": ["Hébergement PA", "Hébergement PA", "Soins à domicile", "CH", "Pharmacies"],
        "family": ["pa_hebergement", "pa_hebergement", "domicile", "hopitaux", "pharmacie_biologie"],
        "family_label": ["Personnes âgées — hébergement", "Personnes âgées — hébergement",
                         "Aide et soins à domicile", "Hôpitaux et cliniques", "Pharmacies / biologie"],
        "address": ["1 R DES TILLEULS", "2 R DU TEST", "3 PL DU VAL", "1 AV DE L'HOPITAL", "4 R X"],
        "address_complement": [None, None, "BP 12", None, None],
        "postcode": ["80000", "80000", "80100", "80000", "80000"],
        "city": ["AMIENS", "AMIENS", "ABBEVILLE", "AMIENS CEDEX 1", "AMIENS"],
        "commune": ["80021", "80021", "80001", "80021", "80021"],
        "department": ["80"] * 5,
        "dac_id": ["DAC-80"] * 5,
        "phone": ["0322000001", "0322000002", None, "0322668000", "0322000005"],
        "capacity_installed": [80.0, 12.0, 40.0, float("nan"), float("nan")],
        "capacity_authorised": [84.0, 12.0, 40.0, float("nan"), float("nan")],
        "status": ["ouvert"] * 5,
        "opened": pd.to_datetime(["2000-01-01"] * 5),
        "updated": pd.to_datetime(["2020-06-30"] * 5),
        "geo_precision": ["adresse", "adresse", "commune", "adresse", "adresse"],
        "x_m": x, "y_m": y, "epsg_m": [2154] * 5,
    }, geometry=shapely.points(lon, lat), crs="EPSG:4326")
    equipment = pd.DataFrame({
        "finess": ["800000011", "800000011", "800000037"],
        "discipline": ["924", "961", "358"],
        "discipline_label": ["Accueil pour Personnes Âgées", "Pôles d'activité et de soins adaptés",
                             "Soins infirmiers à domicile"],
        "activity_type": ["11", "21", "16"],
        "activity_type_label": ["Hébergement Complet Internat", "Accueil de Jour",
                                "Prestation en milieu ordinaire"],
        "clientele": ["711", "436", "700"],
        "clientele_label": ["Personnes âgées dépendantes", "Personnes Alzheimer ou maladies apparentées",
                            "Personnes âgées (sans autre indication)"],
        "capacity_installed": [70.0, 10.0, 40.0],
        "capacity_authorised": [74.0, 10.0, 40.0],
        "removed_installed": [False, False, False],
        "removed_authorised": [False, False, False],
    })
    square = shapely.box(1.7, 49.8, 2.4, 50.2)
    departments = gpd.GeoDataFrame({"code": ["80", "60"], "name": ["Somme", "Oise"]},
                                   geometry=[square, shapely.box(1.7, 49.1, 2.4, 49.8)],
                                   crs="EPSG:4326")
    communes = gpd.GeoDataFrame({"code": ["80021", "80001"], "name": ["Amiens", "Abbeville"]},
                                geometry=[shapely.box(2.2, 49.85, 2.4, 49.95),
                                          shapely.box(1.78, 50.08, 1.88, 50.13)], crs="EPSG:4326")
    territories = gpd.GeoDataFrame({"dac_id": ["DAC-80"], "name": ["DAC Somme"],
                                    "phone": ["0322000000"], "website": [""],
                                    "departments": ["80"], "communes": [""],
                                    "establishments": [5]},
                                   geometry=[square], crs="EPSG:4326")
    families = pd.DataFrame({
        "family": ["hopitaux", "pa_hebergement", "domicile", "pharmacie_biologie", "autres"],
        "family_label": ["Hôpitaux et cliniques", "Personnes âgées — hébergement",
                         "Aide et soins à domicile", "Pharmacies / biologie", "Autres <b>"],
        "color": ["#1f77b4", "#D62728", "#ffbb78", "not-a-colour", "#c7c7c7"],
        "order": [1, 2, 3, 4, 5],
    })
    categories = pd.DataFrame({
        "category": ["500", "354", "355", "620"],
        "category_label": ["EHPAD", "SSIAD", "Centre Hospitalier (C.H.)", "Pharmacie"],
        "aggregate": ["4401", "4601", "1102", "3101"],
        "aggregate_label": ["Hébergement PA", "Soins à domicile", "CH", "Pharmacies"],
        "family": ["pa_hebergement", "domicile", "hopitaux", "pharmacie_biologie"],
    })
    metadata = {"source_date": "2021-01-08", "equipment_illustrative": True,
                "establishments_file": "DEMO_test.csv", "etl_time": "2026-01-02T10:00:00+00:00"}
    return Catalogue.from_frames(est, equipment=equipment, territories=territories,
                                 communes=communes, departments=departments, families=families,
                                 categories=categories, metadata=metadata)


# --------------------------------------------------------------------------- social resources (issue 16)

#: Fictitious social resources of the app tests (steward-table layout): food aid in Amiens,
#: Abbeville (hostile name) and Cahors, access to rights in Amiens, and a resource linked to
#: the FINESS establishment :data:`KNOWN_FINESS` (merged sources).
SOCIAL_TABLE = Path(__file__).resolve().parents[1] / "fixtures" / "social" / "ressources_sociales_test.csv"
#: Fictitious food-aid resources of Amiens whose names, structures and addresses hold web
#: addresses and e-mail addresses (``http://``, ``https://``, ``www.``, ``@``; one name in NFD):
#: they must show as typed, never as links.
LINKS_TABLE = SOCIAL_TABLE.with_name("ressources_sociales_liens.csv")


def build_social_ui_store(target: Path, table: Path = SOCIAL_TABLE) -> Path:
    """The app-test GeoPackage (:func:`build_ui_store`) with ``table`` (steward-table layout)
    imported as the DAC's local resources (once: an existing file is reused)."""
    import shutil

    from dac_map.inclusion.importer import run_import

    target = Path(target)
    if target.exists():
        return target
    base = build_ui_store(target.parent / "base" / "store.gpkg")
    tmp = target.parent / (target.name + ".building.gpkg")
    shutil.copyfile(base, tmp)
    run_import([], store=tmp, local_table=table)
    tmp.replace(target)
    return target
