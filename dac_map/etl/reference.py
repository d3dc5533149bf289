"""Readers of the reference tables: FINESS nomenclatures, families, boundaries (the DAC
territory table is read by :mod:`dac_map.territories`).

Each reader returns a typed table and raises :class:`~dac_map.errors.InputMissingError` or
:class:`~dac_map.errors.InputFormatError` naming the file, line and field of the first problem.
Geometries are returned in EPSG:4326 (WGS84, degrees).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj
import shapely

from dac_map import settings
from dac_map.errors import InputFormatError, InputMissingError
from dac_map.etl.parser import read_text
from dac_map.store.geopackage import GDAL_ERRORS

#: The shipped reference files, relative to :data:`dac_map.settings.DATA_DIR`.
REFERENCE_FILES: dict[str, str] = {
    # the current ANS category table (322 categories with aggregates, incl. 606 DAC, 209 SAAS)
    "categories": "nomenclatures/TRE_R397_categorie-entite-geographique-exercice.csv",
    # categories withdrawn before R397 but found in older extracts (801, the temporary DAC code
    # withdrawn on 2022-01-28), in the R397 layout
    "extra_categories": "nomenclatures/categories_hors_R397.csv",
    # the FINESS nomenclature flow cs1500106 of 2021-12-14 (older layout, also accepted)
    "legacy_categories": "nomenclatures/finess_nomenclature_categories_etablissement_avec_agregats_20211214.csv",
    "disciplines": "nomenclatures/TRE_R280_DisciplineEquipementSocial_v20231215.csv",
    "activities": "nomenclatures/nomenclature_AMM_V14_activites_de_soins.csv",
    "families": "reference/familles.csv",
    "category_families": "reference/categories_familles.csv",
    # the shipped DAC territory table: seed of the stewards' table (dac_map.territories)
    "territories": "reference/territoires_dac.csv",
}


def default_reference(name: str) -> Path:
    """Path of the shipped reference file ``name`` (a key of :data:`REFERENCE_FILES`), under
    :data:`dac_map.settings.DATA_DIR` read at call time."""
    return settings.DATA_DIR / REFERENCE_FILES[name]

#: Family given to a category missing from the family table.
OTHER_FAMILY = "autres"

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def _read_csv(path: str | Path, required: tuple[str, ...]) -> tuple[list[dict[str, str]], str]:
    """Read a ``;`` CSV with a header into dicts (values stripped of blanks and invisible chars).

    Each dict also holds ``__line__``, the line number of its record.
    """
    text, _ = read_text(path)
    reader = csv.DictReader(text.splitlines(), delimiter=";")
    header = [(_INVISIBLE.sub("", h or "")).strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        raise InputFormatError(f"missing column(s) {', '.join(missing)}; found {', '.join(header)}",
                               path=str(path), line=1, field=missing[0])
    rows = []
    for i, row in enumerate(reader, start=2):
        clean = {k: _INVISIBLE.sub("", v or "").strip() for k, v in row.items() if k}
        clean["__line__"] = str(i)
        rows.append(clean)
    return rows, str(path)


# --------------------------------------------------------------------------- nomenclatures

def read_categories(path: str | Path | None = None,
                    extra: str | Path | None = "") -> pd.DataFrame:
    """FINESS establishment categories with their three aggregate levels (default: the shipped
    ANS table TRE_R397 plus :func:`default_reference` ``("extra_categories")``).

    Reads either the ANS table TRE_R397 (``code;libelle;niveau;...;agregat_niv1..3``: the
    level-4 codes are the categories, levels 1-3 their aggregates) or the older FINESS
    nomenclature flow cs1500106 (``code;libelle;...;codeagr3;...;datefin``). ``extra`` (same
    layouts) adds codes absent from ``path`` (e.g. 801, withdrawn before R397); ``path`` wins;
    ``""`` (default) = the shipped ``extra_categories`` file, None = nothing added.

    Columns: ``category, category_label, aggregate, aggregate_label, aggregate2,
    aggregate2_label, aggregate1, aggregate1_label, closed`` (``closed`` = withdrawn or ended).
    """
    frame = _read_category_file(path or default_reference("categories"))
    extra = default_reference("extra_categories") if extra == "" else extra
    if extra is not None and Path(extra).exists():
        more = _read_category_file(extra)
        frame = pd.concat([frame, more[~more["category"].isin(frame["category"])]],
                          ignore_index=True)
    return frame


def _read_category_file(path: str | Path) -> pd.DataFrame:
    text, _ = read_text(path)
    first = _INVISIBLE.sub("", text.split("\n", 1)[0])
    if "niveau" in first.split(";"):
        rows, p = _read_csv(path, ("code", "libelle", "niveau", "agregat_niv3", "libelle_agregat_niv3",
                                   "agregat_niv2", "libelle_agregat_niv2", "agregat_niv1",
                                   "libelle_agregat_niv1", "statut", "date_fin_validite"))
        rows = [r for r in rows if r["niveau"] == "4"]
        cols = {"code": "code", "libelle": "libelle", "codeagr3": "agregat_niv3",
                "libelleagr3": "libelle_agregat_niv3", "codeagr2": "agregat_niv2",
                "libelleagr2": "libelle_agregat_niv2", "codeagr1": "agregat_niv1",
                "libelleagr1": "libelle_agregat_niv1"}
        closed = [r["statut"] != "active" or r["date_fin_validite"] != "" for r in rows]
    else:
        rows, p = _read_csv(path, ("code", "libelle", "codeagr3", "libelleagr3", "codeagr2",
                                   "libelleagr2", "codeagr1", "libelleagr1", "datefin"))
        cols = {k: k for k in ("code", "libelle", "codeagr3", "libelleagr3", "codeagr2",
                               "libelleagr2", "codeagr1", "libelleagr1")}
        closed = [r["datefin"] != "" for r in rows]
    if not rows:
        raise InputFormatError("no category (level 4) in the file", path=p, line=2, field="code")
    df = pd.DataFrame({k: [r[v] for r in rows] for k, v in cols.items()})
    lines = [r["__line__"] for r in rows]
    bad = ~df["code"].str.fullmatch(r"[0-9]{3}")
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputFormatError(f"invalid category code {df['code'].iat[i]!r}",
                               path=p, line=int(lines[i]), field="code")
    return pd.DataFrame({
        "category": df["code"], "category_label": df["libelle"],
        "aggregate": df["codeagr3"], "aggregate_label": df["libelleagr3"],
        "aggregate2": df["codeagr2"], "aggregate2_label": df["libelleagr2"],
        "aggregate1": df["codeagr1"], "aggregate1_label": df["libelleagr1"],
        "closed": closed,
    })


def read_disciplines(path: str | Path | None = None) -> pd.DataFrame:
    """Equipment disciplines (TRE-R280): ``discipline, discipline_label, closed``."""
    rows, _ = _read_csv(path or default_reference("disciplines"), ("code", "libelle"))
    df = pd.DataFrame(rows)
    return pd.DataFrame({"discipline": df["code"], "discipline_label": df["libelle"],
                         "closed": df.get("date_fin", pd.Series("", index=df.index)).ne("")})


def read_activities(path: str | Path | None = None) -> pd.DataFrame:
    """Care activities after the 2023 reform (AMM V14): one row per activity/modality/mention.

    Columns: ``activity, activity_label, modality, modality_label, mention, mention_label``.
    """
    rows, _ = _read_csv(path or default_reference("activities"), ("Code Activité", "Libellé Activité"))
    df = pd.DataFrame(rows)
    return pd.DataFrame({
        "activity": df["Code Activité"], "activity_label": df["Libellé Activité"],
        "modality": df.get("Code Modalité"), "modality_label": df.get("Libellé Modalité"),
        "mention": df.get("Code Mention"), "mention_label": df.get("Code Libellé"),
    })


@dataclass(frozen=True)
class Families:
    """The user-facing families and the category -> family table."""

    families: pd.DataFrame  # family, family_label, color, order
    categories: pd.DataFrame  # category, family

    def label(self, family: str) -> str:
        """French label of a family id."""
        row = self.families.loc[self.families["family"] == family, "family_label"]
        return str(row.iloc[0]) if len(row) else family


def read_families(families: str | Path | None = None,
                  category_families: str | Path | None = None) -> Families:
    """Read the family table shipped in ``data/reference`` (or a replacement)."""
    families = families or default_reference("families")
    category_families = category_families or default_reference("category_families")
    rows, p = _read_csv(families, ("famille", "libelle", "couleur", "ordre"))
    fam = pd.DataFrame(rows)
    for r in rows:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", r["couleur"]):
            raise InputFormatError(f"colour {r['couleur']!r} is not #RRGGBB", path=p,
                                   line=int(r["__line__"]), field="couleur")
    fam = pd.DataFrame({"family": fam["famille"], "family_label": fam["libelle"],
                        "color": fam["couleur"], "order": fam["ordre"].astype(int)})
    if OTHER_FAMILY not in set(fam["family"]):
        raise InputFormatError(f"the family table must define '{OTHER_FAMILY}'", path=p,
                               field="famille")
    rows, p2 = _read_csv(category_families, ("categetab", "famille"))
    known = set(fam["family"])
    for r in rows:
        if r["famille"] not in known:
            raise InputFormatError(f"unknown family {r['famille']!r}", path=p2,
                                   line=int(r["__line__"]), field="famille")
    cat = pd.DataFrame({"category": [r["categetab"] for r in rows],
                        "family": [r["famille"] for r in rows]})
    dup = cat["category"].duplicated()
    if dup.any():
        line = int(rows[int(dup.to_numpy().nonzero()[0][0])]["__line__"])
        raise InputFormatError(f"category {cat.loc[dup, 'category'].iloc[0]} listed twice",
                               path=p2, line=line, field="categetab")
    return Families(fam.sort_values("order").reset_index(drop=True), cat)


# --------------------------------------------------------------------------- boundaries

_CODE_FIELDS = ("code", "insee_dep", "code_insee", "insee_com", "code_dep", "dep")
_NAME_FIELDS = ("nom", "name", "nom_dep", "nom_com", "libelle")


def _check_units(gdf: gpd.GeoDataFrame, path: str, given: bool) -> None:
    """Refuse coordinates that cannot be in the CRS of ``gdf`` (degrees vs metres)."""
    if not len(gdf):
        return
    minx, miny, maxx, maxy = (float(v) for v in gdf.total_bounds)
    where = "given with --boundaries-crs" if given else "declared by the file (GeoJSON: WGS84 by default)"
    hint = ""
    b = gdf.geometry.bounds
    in_l93 = ((b["minx"] >= -400_000) & (b["maxx"] <= 1_400_000) & (b["miny"] >= 6_000_000)
              & (b["maxy"] <= 7_200_000))
    if in_l93.mean() >= 0.5:  # most features inside metropolitan France's Lambert-93 extent
        hint = " They look like Lambert-93 metres: pass --boundaries-crs EPSG:2154."
    if gdf.crs.is_geographic and (min(minx, miny) < -180 or max(maxx, maxy) > 180
                                  or miny < -90 or maxy > 90):
        raise InputFormatError(
            f"coordinates from ({minx:.0f}, {miny:.0f}) to ({maxx:.0f}, {maxy:.0f}) cannot be "
            f"degrees, yet the CRS {where} is {gdf.crs.to_string()}: the file is in a projected "
            f"CRS (metres) that it does not declare.{hint or ' Pass --boundaries-crs EPSG:NNNN.'}",
            path=path, field="geometry")
    if gdf.crs.is_projected and -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90:
        raise InputFormatError(
            f"coordinates from ({minx:.4f}, {miny:.4f}) to ({maxx:.4f}, {maxy:.4f}) look like "
            f"degrees, yet the CRS {where} is {gdf.crs.to_string()} (metres): pass "
            "--boundaries-crs EPSG:4326 or fix the file", path=path, field="geometry")


def read_boundaries(path: str | Path, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read department or commune polygons (GeoJSON, GeoPackage or Shapefile) into
    ``code, name, geometry`` in EPSG:4326.

    The code column is found among ``code``, ``INSEE_DEP``, ``INSEE_COM`` ... (case-insensitive).
    ``crs`` (e.g. ``EPSG:2154``) is the CRS of the file's coordinates when the file does not
    declare it or declares it wrongly; it overrides the file's declaration. Coordinates that
    cannot be in the CRS used (metres read as degrees — a GeoJSON without ``crs`` member is
    WGS84 by definition — or degrees in a projected CRS) are refused with
    :class:`InputFormatError`.
    """
    p = Path(path)
    if not p.exists():
        raise InputMissingError("boundary file not found / fichier de limites introuvable",
                                path=str(p))
    try:
        gdf = pyogrio.read_dataframe(p, use_arrow=True)
    except GDAL_ERRORS as exc:
        raise InputFormatError(f"cannot read boundaries: {exc}", path=str(p)) from exc
    lower = {c.lower(): c for c in gdf.columns}
    code = next((lower[c] for c in _CODE_FIELDS if c in lower), None)
    name = next((lower[c] for c in _NAME_FIELDS if c in lower), None)
    if code is None:
        raise InputFormatError(f"no code column ({', '.join(_CODE_FIELDS)}) among "
                               f"{', '.join(map(str, gdf.columns))}", path=str(p), field="code")
    if crs:
        try:
            gdf = gdf.set_crs(pyproj.CRS.from_user_input(crs), allow_override=True)
        except pyproj.exceptions.CRSError as exc:
            raise InputFormatError(f"unknown CRS {crs!r} given for the boundaries: {exc}",
                                   path=str(p)) from exc
    if gdf.crs is None:
        raise InputFormatError("boundary file has no CRS: pass --boundaries-crs (e.g. EPSG:2154)",
                               path=str(p))
    _check_units(gdf, str(p), given=bool(crs))
    gdf = gdf.to_crs(settings.CRS_DISPLAY)
    geoms = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    out = gpd.GeoDataFrame({
        "code": gdf[code].astype("str").str.strip(),
        "name": gdf[name].astype("str") if name else gdf[code].astype("str"),
    }, geometry=geoms, crs=settings.CRS_DISPLAY)
    empty = out.geometry.is_empty | out.geometry.isna()
    if empty.any():
        raise InputFormatError(f"empty geometry for code {out.loc[empty, 'code'].iloc[0]!r}",
                               path=str(p), line=int(empty.to_numpy().nonzero()[0][0]) + 1,
                               field="geometry")
    if out["code"].duplicated().any():  # multi-part features split over several rows
        out = out.dissolve(by="code", as_index=False, aggfunc="first")[["code", "name", "geometry"]]
    return out.reset_index(drop=True)
