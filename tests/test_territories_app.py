"""Territories in the app (AppTest) and the search CLI: the DAC covering a commune with its
``tel:`` link in the detail panel, the search centre, the unmet-need form and the A4 sheet; the
national list of DACs; the steward page (paste, save, conflict, re-apply)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from e2e.ui_store import KNOWN_FINESS
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from dac_map.cli import app as cli_app
from dac_map.territories import DEMO_SET, DacContact, SqliteTerritoryStore, open_store
from dac_map.ui import exports
from dac_map.testing.apptest import markdown_text, run_app
from dac_map.ui.territories_editor import _codes_from_upload

#: DAC-80 of the shipped table (the ui store is built from it): name and FICTITIOUS number
SOMME = "DAC Somme \\(démonstration\\) — [03 53 01 00 80](tel:0353010080)"


@pytest.fixture
def app(ui_store, app_store):
    """``run_app`` on the app tests' store, DAC-80 by default."""
    app_store(ui_store, "DAC-80")
    return run_app


def test_detail_panel_names_the_dac_of_the_commune(app):
    at = app({"dac": "DAC-80", "etab": KNOWN_FINESS})
    assert (f":material/support_agent: DAC de la commune : {SOMME} "
            ":orange[(numéro fictif, démonstration)]") in markdown_text(at)  # the demo number is labelled


def test_search_centre_and_unmet_need_name_the_dac(app):
    at = app({"dac": "DAC-80", "autour": "Abbeville", "rayon": "5"})
    body = markdown_text(at)
    assert f"DAC de la commune du centre de recherche : {SOMME}" in body
    assert f"DAC à prévenir pour cette commune : {SOMME}" in body


def test_territory_without_centre_shows_its_single_number(app):
    at = app({"dac": "DAC-80"})
    assert f"Numéro unique du DAC : {SOMME}" in markdown_text(at)


def test_national_view_lists_the_dacs_with_their_numbers(app):
    at = app({"dac": "france"})
    table = [m.value for m in at.markdown if m.value.startswith("| DAC | Téléphone")]
    assert len(table) == 1 and "| DAC Somme \\(démonstration\\) | [03 53 01 00 80](tel:0353010080) | 80 |" in table[0]
    (component,) = [e for e in at.get("component_instance")
                    if e.proto.component_name == "streamlit_folium.st_folium"]
    assert re.search(r'fillOpacity\\?"?\s*:\s*0\.35', component.proto.json_args)  # coloured territories


def test_a4_sheet_prints_the_dac_with_an_escaped_tel_link():
    records = pd.DataFrame({"finess": ["800000001"], "name": ["EHPAD"], "commune": ["80021"],
                            "category_label": ["EHPAD"]})
    dac = DacContact("X", 'DAC "<b>Amiens</b>"', "0353010081")
    page = exports.a4_sheet_html(records, exports.SheetContext(title="t"), dacs={"80021": dac})
    assert ('<div class="dac">DAC : DAC &quot;&lt;b&gt;Amiens&lt;/b&gt;&quot; — '
            '<a href="tel:0353010081">03 53 01 00 81</a></div>') in page  # not labelled fictitious
    fake = DacContact("X", "DAC", "0353010081", note="FICTIF : démonstration")
    assert "(numéro fictif, démonstration)" in exports.a4_sheet_html(
        records, exports.SheetContext(title="t"), dacs={"80021": fake})
    other = exports.a4_sheet_html(records.assign(commune="46001"), exports.SheetContext(title="t"),
                                  dacs={"80021": dac})
    assert 'class="dac"' not in other


def test_search_cli_prints_the_dac(demo_store):
    r = CliRunner().invoke(cli_app, ["search", "--store", str(demo_store), "--near-commune", "80021",
                                     "--radius-km", "1", "--page-size", "1", "--commune", "46042"])
    assert r.exit_code == 0, r.output
    assert ("DAC pour Amiens (80021) : DAC Somme (démonstration) — 03 53 01 00 80 (numéro fictif, "
            "démonstration)") in r.output
    assert "DAC pour Cahors (46042) : DAC Lot (démonstration) — 05 36 49 00 46" in r.output


def test_codes_from_uploaded_csv():
    assert _codes_from_upload("nom;code_insee\nAmiens;80021\nCorte;2b096\n".encode()) == ["80021", "2B096"]
    assert _codes_from_upload(b"80021\n80001\n") == ["80021", "80001"]
    assert _codes_from_upload("liste : 80021, 80001 et 2A004".encode()) == ["80021", "80001", "2A004"]


STEWARD = """
from pathlib import Path
from dac_map import settings
settings.TERRITORIES_DB = Path({db!r})
settings.STORE_PATH = Path({store!r})
settings.TILES = "none"
from dac_map.ui.data import get_catalogue
from dac_map.ui.territories_editor import render_steward_page
render_steward_page(get_catalogue())
"""


def test_steward_page_paste_save_conflict_reapply(demo_store, tmp_path):
    db = tmp_path / "t.sqlite"
    open_store(db)
    at = AppTest.from_string(STEWARD.format(db=str(db), store=str(demo_store)), default_timeout=120)
    at.run()
    at.selectbox(key="terr_set").set_value(DEMO_SET).run()
    pick = f"terr_pick_{DEMO_SET}"
    at.selectbox(key=pick).set_value("DEMO-80-EST").run()
    sfx = f"_{DEMO_SET}_DEMO-80-EST"
    at.text_input(key="terr_author").input("Référent A").run()
    at.text_area(key="terr_paste" + sfx).input("80686, 80299").run()
    at.button(key="terr_add" + sfx).click().run()
    gaps = [m.value for m in at.metric]
    assert gaps[1] == "2"  # 4 gaps in the demo set, 2 now taken
    at.button(key="terr_save" + sfx).click().run()
    store = SqliteTerritoryStore(db)
    v = store.get("DEMO-80-EST", DEMO_SET)
    assert v.version == 2 and {"80686", "80299"} <= set(v.territory.communes)
    # another steward renames it meanwhile
    from dataclasses import replace
    store.save(replace(v.territory, name="Somme Est (autre référent)"), 2, "Référent B", set_name=DEMO_SET)
    at.text_area(key="terr_paste" + sfx).input("80122").run()
    at.button(key="terr_add" + sfx).click().run()
    at.button(key="terr_save" + sfx).click().run()
    assert any("modifié par quelqu'un d'autre" in re.sub(r"\\(.)", r"\1", e.value) for e in at.error)
    now = store.get("DEMO-80-EST", DEMO_SET)
    assert now.version == 3 and "80122" not in now.territory.communes
    at.button(key="terr_rebase" + sfx).click().run()
    at.button(key="terr_save" + sfx).click().run()
    final = store.get("DEMO-80-EST", DEMO_SET)
    assert final.version == 4 and "80122" in final.territory.communes
    assert final.territory.name == "Somme Est (autre référent)"  # the other's change kept
    assert [h.author for h in store.history(DEMO_SET, "DEMO-80-EST")][:3] == [
        "Référent A", "Référent B", "Référent A"]
    assert not at.exception
    assert re.search(r"version 4", " ".join(s.value for s in at.success))


def test_dac_of_category_606_from_an_extract_to_the_map(tmp_path):
    """A real-layout extract with one establishment turned into a DAC (category 606): family
    'Coordination / DAC', in the directory with its phone, the number of a territory linked to
    it by FINESS, a marker of the DAC layer; hostile names escaped in the map layers."""
    from dac_map.cli import DEMO_COMMUNES, DEMO_DEPARTMENTS, DEMO_ESTABLISHMENTS
    from dac_map.etl import EtlInputs, run_etl
    from dac_map.query import load_catalogue
    from dac_map.territories.catalogue import dac_lookup, directory
    from dac_map.ui import territories_view as tview

    lines = DEMO_ESTABLISHMENTS.read_bytes().decode("latin-1").splitlines()
    i, row = next((i, ln.split(";")) for i, ln in enumerate(lines)
                  if ln.startswith("structureet;") and ln.split(";")[13] == "80" and ln.split(";")[16])
    fin = row[1]
    row[18], row[19] = "606", "Dispositif d'appui à la coordination (DAC)"
    lines[i] = ";".join(row)
    src = tmp_path / "extract.csv"
    src.write_bytes("\r\n".join(lines).encode("latin-1"))
    terr = tmp_path / "t.csv"
    terr.write_text("id;nom;telephone;site_web;departements;communes;finess\n"
                    f"DAC-80;DAC <script>x</script>;;;80;;{fin}\n"
                    "DAC-46;DAC Lot;0536490046;;46;;\n", encoding="utf-8")
    out = run_etl(EtlInputs(establishments=src, departments=DEMO_DEPARTMENTS,
                            communes=list(DEMO_COMMUNES), territories=terr), tmp_path / "s.gpkg")
    assert out.unknown_categories == {}
    cat = load_catalogue(out.target)
    fam = cat.establishments.set_index("finess").loc[fin, "family"]
    assert fam == "dac" and cat.family_label("dac").startswith("Coordination / DAC")
    d = directory(cat)
    assert list(d["finess"]) == [fin]
    phone = "".join(ch for ch in row[16] if ch.isdigit())
    contact = dac_lookup(cat).first("80021")
    assert contact.finess == fin and contact.phone == phone and not contact.by_hand
    layer = tview.directory_layer(cat)
    assert len(layer.data["features"]) == 1
    national = tview.national_territories_layer(cat)
    labels = [f["properties"]["label"] for f in national.data["features"]]
    assert any("DAC &lt;script&gt;x&lt;/script&gt;" in lab for lab in labels)
    assert not any("<script>" in lab for lab in labels)
