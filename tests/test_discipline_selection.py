"""One rule for "this establishment offers this discipline": the map (URL -> view state ->
filters -> search -> points layer), ``dac-map search`` and the coverage indicators select the
same establishments for EVERY discipline of the demo equipment file, and that set equals an
independent reading of the raw cs1100505 file with the csv module: lines whose installation is
in force (``indsupinst`` != ``O``, installed capacity not 0), whatever ``indsupaut`` says."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import pytest
from typer.testing import CliRunner

from dac_map.cli import DEMO_EQUIPMENT, DEMO_ESTABLISHMENTS, app
from dac_map.coverage import ResourceType, commune_coverage
from dac_map.query import search
from dac_map.ui import map as umap
from dac_map.ui import state as ustate

# Columns of the equipementsocial lines (etalab cs1100505), read here by position.
_FINESS, _DISCIPLINE, _INSTALLED, _REMOVED_INSTALLED, _REMOVED_AUTHORISED = 1, 2, 10, 16, 25


def _raw(path, section: str) -> list[list[str]]:
    with open(path, encoding="cp1252", newline="") as f:
        return [r for r in csv.reader(f, delimiter=";") if r and r[0] == section]


def _raw_offered() -> dict[str, set[str]]:
    known = {r[1] for r in _raw(DEMO_ESTABLISHMENTS, "structureet")}
    out: dict[str, set[str]] = defaultdict(set)
    for r in _raw(DEMO_EQUIPMENT, "equipementsocial"):
        out.setdefault(r[_DISCIPLINE], set())
        if r[_FINESS] in known and r[_REMOVED_INSTALLED] != "O" and r[_INSTALLED].strip() != "0":
            out[r[_DISCIPLINE]].add(r[_FINESS])
    return dict(out)


RAW = _raw_offered()
DISCIPLINES = sorted(RAW)


def test_demo_file_exercises_the_rule():
    """The demo file has lines whose installation is removed while the authorisation stands
    (the case the copies of the rule disagreed on) and 49 disciplines."""
    lines = _raw(DEMO_EQUIPMENT, "equipementsocial")
    assert len(DISCIPLINES) == 49
    assert any(r[_REMOVED_INSTALLED] == "O" and r[_REMOVED_AUTHORISED] != "O" for r in lines)


@pytest.mark.parametrize("discipline", DISCIPLINES)
def test_map_search_and_coverage_select_the_same_set(discipline, demo_catalogue, demo_store):
    expected = RAW[discipline]

    # The map: the URL a coordinator shares, through the view state, filters and points layer.
    state, warnings = ustate.from_query_params({"dac": "france", "discipline": discipline})
    filters, problems = ustate.build_filters(state, demo_catalogue)
    assert warnings == problems == []
    records = search(demo_catalogue, filters, page_size=None).records
    payload = umap.points_payload(records, umap.family_colors(demo_catalogue.families))
    on_map = {f["properties"]["f"] for f in payload["data"]["features"]}

    # The command line.
    res = CliRunner().invoke(app, ["search", "--store", str(demo_store), "--discipline", discipline,
                                   "--format", "geojson"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    from_cli = {f["properties"]["finess"] for f in json.loads(res.stdout)["features"]}

    # The coverage indicators: the resource type's selection, and the resources counted per
    # commune over both demo territories.
    rt = ResourceType(disciplines=(discipline,))
    covered = set(demo_catalogue.establishments["finess"][rt.mask(demo_catalogue)])
    counted = sum(int(commune_coverage(demo_catalogue, dac, rt, 20.0).table["resources"].sum())
                  for dac in ("DAC-80", "DAC-46"))

    assert on_map == from_cli == covered == expected
    assert counted == len(expected)
