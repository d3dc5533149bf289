"""The ETL run: raw FINESS extracts and reference tables -> domain tables -> GeoPackage.

Stages, each callable alone:

1. raw read -> typed tables: :mod:`dac_map.etl.parser` and :mod:`dac_map.etl.reference`;
2. typed -> domain tables: :func:`~dac_map.etl.domain.build_establishments`,
   :func:`~dac_map.etl.domain.build_equipment`, :func:`build_territories`;
3. domain -> store: :meth:`dac_map.store.Store.write` (atomic).

:func:`run_etl` chains them, reports progress and returns an :class:`EtlReport`.
Row problems are skipped or kept-and-flagged and reported; file problems abort before
anything is written, so the previous GeoPackage stays as it was. Geometries are in EPSG:4326
(WGS84 degrees), metric coordinates as described in :mod:`dac_map.etl.domain`.
"""

from __future__ import annotations

import gc
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import pandas as pd

from dac_map import __version__, settings, store
from dac_map.codes import assign_territory
from dac_map.errors import InputFormatError, InputMissingError, RowIssue, ValidationError
from dac_map.etl.columns import lookup
from dac_map.files import sha256_file
from dac_map.memory import use_arrow_pool
from dac_map.etl.domain import (
    PRECISION_ADDRESS,
    PRECISION_COMMUNE,
    PRECISION_NONE,
    build_equipment,
    build_establishments,
    commune_codes,
)
from dac_map.etl.parser import parse_equipment, parse_equipment_text, parse_establishments
from dac_map.etl.reference import (
    OTHER_FAMILY,
    Families,
    default_reference,
    read_activities,
    read_boundaries,
    read_categories,
    read_disciplines,
    read_families,
)

__all__ = ["EtlInputs", "EtlReport", "build_territories", "commune_codes", "read_reference_tables",
           "run_etl", "write_rejects"]

ProgressFn = Callable[[str], None]


@dataclass
class EtlInputs:
    """Paths of the ETL inputs: ``departments`` and at least one establishment source
    (``establishments``, an etalab extract, and/or the FINESS+ flows) are required."""

    establishments: Path | None
    departments: Path
    equipment: Path | None = None
    communes: list[Path] = field(default_factory=list)
    #: DAC territory CSV; None = the steward table (:mod:`dac_map.territories`, setting
    #: ``TERRITORIES_DB``; the shipped ``territoires_dac.csv`` until a steward edits it)
    territories: Path | None = None
    # The reference tables default to the shipped files (settings.DATA_DIR read when built).
    categories: Path = field(default_factory=lambda: default_reference("categories"))
    families: Path = field(default_factory=lambda: default_reference("families"))
    category_families: Path = field(default_factory=lambda: default_reference("category_families"))
    disciplines: Path | None = field(default_factory=lambda: default_reference("disciplines"))
    activities: Path | None = field(default_factory=lambda: default_reference("activities"))
    #: CRS of the boundary files when they do not declare it (or wrongly), e.g. ``EPSG:2154``.
    boundaries_crs: str | None = None
    # ---- FINESS+ JSON flows (issue 11, dac_map.finess_plus)
    finess_plus_structures: Path | None = None
    finess_plus_activites: Path | None = None
    finess_plus_strict: bool = False


@dataclass
class EtlReport:
    """What an ETL run did: counts, issues, unknown categories, timings (seconds)."""

    target: Path
    counts: dict[str, int]
    issues: list[RowIssue]
    unknown_categories: dict[str, int]
    timings: dict[str, float]
    metadata: dict[str, object]
    rejects_path: Path | None = None
    #: FINESS+ deviation report and where it was written (issue 11), when FINESS+ flows were read
    finess_plus: object | None = None
    deviations_path: Path | None = None

    @property
    def rejected(self) -> int:
        return sum(1 for i in self.issues if i.action == "rejected")


# --------------------------------------------------------------------------- territories

def build_territories(territories: pd.DataFrame, departments: gpd.GeoDataFrame,
                      communes: gpd.GeoDataFrame | None, path: str = "territoires"
                      ) -> tuple[gpd.GeoDataFrame, list[RowIssue]]:
    """DAC territory polygons (EPSG:4326): :func:`dac_map.territories.outlines.territory_outlines`."""
    from dac_map.territories.outlines import territory_outlines

    return territory_outlines(territories, departments, communes, path)


# --------------------------------------------------------------------------- the run

@dataclass
class ReferenceTables:
    """The typed reference tables of one ETL run (geometries in EPSG:4326)."""

    categories: pd.DataFrame
    families: Families
    departments: gpd.GeoDataFrame
    communes: gpd.GeoDataFrame | None
    territories: pd.DataFrame
    disciplines: pd.DataFrame | None
    activities: pd.DataFrame | None


def _overlap_issues(territories: pd.DataFrame, communes: gpd.GeoDataFrame | None,
                    path: str) -> list[RowIssue]:
    """One kept-row warning per commune claimed by two territories (the first listed answers)."""
    from dac_map.territories import CommuneReference, Territory, check_territories, primary_dac

    if communes is None or not len(communes):
        return []
    items = [Territory(str(i), str(n), tuple(d), tuple(c)) for i, n, d, c in
             territories[["dac_id", "name", "departments", "communes"]].itertuples(index=False, name=None)]
    line = {t.id: k for k, t in enumerate(items, start=2)}
    ref = CommuneReference(dict(zip(communes["code"].astype(str), communes["name"].astype(str))))
    report = check_territories(items, ref, departments=[])
    out = []
    for o in report.overlaps:
        answers = primary_dac(o.commune, items)[0]
        out.append(RowIssue(path, line[answers], "communes",
                            f"commune {o.commune} {o.name} claimed by {' and '.join(o.territories)}: "
                            f"{answers} answers for it", "kept"))
    return out


def _read_territories(path: Path | None) -> pd.DataFrame:
    """The territory table: the steward table (read only, never written) when ``path`` is None,
    else a CSV file, strictly (a bad row aborts, naming its line and field: skipping a territory
    would silently change who covers what)."""
    from dac_map.territories import current_territories, read_table, territory_frame

    if path is None:
        return territory_frame(current_territories())
    read = read_table(path)
    if read.issues:
        first = read.issues[0]
        raise InputFormatError(first.reason, path=first.path, line=first.line, field=first.field)
    return territory_frame(read.territories)


def read_reference_tables(inputs: EtlInputs) -> ReferenceTables:
    """Read every reference input of ``inputs`` (nomenclatures, families, boundaries, territories)."""
    communes = None
    if inputs.communes:
        communes = pd.concat([read_boundaries(p, inputs.boundaries_crs) for p in inputs.communes],
                             ignore_index=True)
        communes = gpd.GeoDataFrame(communes.drop_duplicates("code"), crs=settings.CRS_DISPLAY)
    return ReferenceTables(
        categories=read_categories(inputs.categories),
        families=read_families(inputs.families, inputs.category_families),
        departments=read_boundaries(inputs.departments, inputs.boundaries_crs),
        communes=communes,
        territories=_read_territories(inputs.territories),
        disciplines=read_disciplines(inputs.disciplines) if inputs.disciplines else None,
        activities=read_activities(inputs.activities) if inputs.activities else None,
    )


def _check_moved_positions(est: gpd.GeoDataFrame, path: str) -> None:
    """Refuse a run that finds more than :data:`~dac_map.settings.MAX_CENTROID_SHARE` of the
    given positions outside their department (a wrong CRS or a damaged file, not bad rows)."""
    given = est.attrs.get("positions_given", 0)
    moved = est.attrs.get("positions_implausible", 0)
    if given and moved > settings.MIN_CENTROID_MOVES_TO_ABORT and \
            moved / given > settings.MAX_CENTROID_SHARE:
        first = ", ".join(f"line {line} ({fin})" for line, fin in est.attrs["first_implausible"])
        raise ValidationError(
            f"{moved} of {given} positions ({moved / given:.1%}) are outside their department "
            f"and would be moved to a commune centroid (> {settings.MAX_CENTROID_SHARE:.0%}): "
            "boundaries or coordinates in the wrong CRS, or a damaged file? Aborting, the "
            f"previous data is kept. First: {first}", path=path, field="coordxet")


def write_rejects(issues: list[RowIssue], path: Path) -> Path:
    """Write the issues as a ``;`` CSV (UTF-8 with BOM, opens in Excel)."""
    from dac_map.tabular import write_csv

    return write_csv(path, ((i.path, i.line, i.field, i.reason, i.action, i.raw) for i in issues),
                     ["fichier", "ligne", "champ", "probleme", "action", "valeur"])


@contextmanager
def _gc_frozen() -> Iterator[None]:
    """Keep the objects alive before the run (modules, classes: hundreds of thousands) out of
    the cyclic garbage collector's passes during the run: the ETL allocates millions of small
    objects, and each full collection would otherwise walk the whole heap again. Collections
    still run (pandas leaves reference cycles whose memory is best reused at once)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_etl(inputs: EtlInputs, target: str | Path | None = None,
            progress: ProgressFn | None = None, rejects_path: Path | None = None) -> EtlReport:
    """Run the whole ETL and atomically replace the store ``target`` (a GeoPackage path;
    default :data:`~dac_map.settings.STORE_PATH`, read at call time).

    Raises a :class:`~dac_map.errors.DacMapError` subclass on file problems or when more than
    :data:`~dac_map.settings.MAX_REJECT_SHARE` of the establishment lines are rejected; the
    previous store is then untouched.
    """
    use_arrow_pool()
    with _gc_frozen():
        return _run_etl(inputs, target, progress, rejects_path)


def _run_etl(inputs: EtlInputs, target: str | Path | None, progress: ProgressFn | None,
             rejects_path: Path | None) -> EtlReport:
    say = progress or (lambda _msg: None)
    target = Path(settings.STORE_PATH if target is None else target)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        timings[name] = round(now - t0, 3)
        t0 = now

    # Reference tables, the equipment extract and the input digests are read on a second
    # thread while this one parses the establishments (file I/O, GDAL, Arrow and hashing
    # release the GIL): the ETL uses both cores of a small server.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="etl") as pool:
        ref_job = pool.submit(read_reference_tables, inputs)
        eq_job = pool.submit(parse_equipment, inputs.equipment) if inputs.equipment else None
        digests = {p: pool.submit(sha256_file, Path(p))
                   for p in (inputs.establishments, inputs.equipment) if p}
        if inputs.establishments is None and not (inputs.finess_plus_structures
                                                  or inputs.finess_plus_activites):
            raise InputMissingError("no establishment source: give an etalab extract and/or the "
                                    "FINESS+ flows / aucune source d'établissements")
        say("Lecture des établissements FINESS")
        extract = parse_establishments(inputs.establishments) if inputs.establishments else None
        lap("parse_establishments")
        say("Lecture des référentiels et des limites")
        ref = ref_job.result()
        lap("read_reference")
        eq_extract = eq_job.result() if eq_job else None
        digests = {p: job.result() for p, job in digests.items()}
    categories, families, departments = ref.categories, ref.families, ref.departments
    communes, territories = ref.communes, ref.territories
    disciplines, activities = ref.disciplines, ref.activities

    issues = list(extract.issues) if extract else []
    n_struct_lines = extract.section_lines.get("structureet", 0) if extract else 0
    rejected = extract.rejected_structures if extract else 0
    if extract and (n_struct_lines and rejected > settings.MIN_REJECTS_TO_ABORT
            and rejected / n_struct_lines > settings.MAX_REJECT_SHARE):
        raise ValidationError(
            f"{rejected} of {n_struct_lines} establishment lines rejected "
            f"(> {settings.MAX_REJECT_SHARE:.0%}): aborting, the previous data is kept. "
            f"First problem: {next((str(i) for i in extract.issues if i.action == 'rejected'), '')}",
            path=str(inputs.establishments))

    est, unknown, moved_to_centroid = None, {}, 0
    if extract is not None:
        say("Construction de la table des établissements")
        est, more, unknown = build_establishments(extract, categories, families, departments,
                                                  communes, territories)
        issues += more
        _check_moved_positions(est, str(inputs.establishments))
        moved_to_centroid = int(est.attrs.get("positions_implausible", 0))
        lap("build_establishments")

    # ---- FINESS+ flows (issue 11): FINESS+ wins where both sources speak -------------------
    finess_plus = None
    if inputs.finess_plus_structures or inputs.finess_plus_activites:
        from dac_map.finess_plus.load import load_finess_plus

        say("Lecture des flux FINESS+")
        finess_plus = load_finess_plus(inputs.finess_plus_structures, inputs.finess_plus_activites,
                                       etalab=est, categories=categories, families=families,
                                       communes=communes, strict=inputs.finess_plus_strict)
        est = finess_plus.establishments
        est["dac_id"] = assign_territory(est["department"], est["commune"], territories)
        lap("finess_plus")
    # ----------------------------------------------------------------------------------------

    eq_meta: dict[str, object] = {}
    if eq_extract is None:  # no equipment extract: the same tables, empty; capacities unknown
        eq_extract = parse_equipment_text("", "<aucun extrait d'équipements>")
    else:
        say("Lecture des équipements et capacités")
    issues += eq_extract.issues
    equipment, totals, more = build_equipment(eq_extract, est["finess"])
    issues += more
    for col in ("capacity_installed", "capacity_authorised"):  # no copy of the whole table
        found = lookup(est["finess"], totals[col]).astype("Int64")
        # FINESS+ capacities win; equipment totals fill the gaps
        est[col] = est[col].astype("Int64").fillna(found) if col in est else found
    if inputs.equipment:
        eq_meta = {
            "equipment_file": Path(inputs.equipment).name,
            "equipment_sha256": digests[inputs.equipment],
            "equipment_source_date": eq_extract.source_date,
            "equipment_illustrative": bool(len(equipment)) and bool(
                equipment["source_info"].eq("X").all()),
        }
    lap("equipment")

    say("Construction des territoires DAC")
    terr_source = str(inputs.territories or "territoires (table des référents)")
    terr, more = build_territories(territories, departments, communes, terr_source)
    issues += more
    issues += _overlap_issues(territories, communes, terr_source)
    counts_by_dac = est["dac_id"].value_counts()
    terr["establishments"] = terr["dac_id"].map(counts_by_dac).fillna(0).astype("int64")
    lap("territories")

    cat_table = categories.merge(families.categories, on="category", how="left")
    cat_table["family"] = cat_table["family"].fillna(OTHER_FAMILY)
    counts = {
        "establishments": len(est),
        "establishment_lines_rejected": rejected,
        "geolocated_address": int((est["geo_precision"] == PRECISION_ADDRESS).sum()),
        "geolocated_commune": int((est["geo_precision"] == PRECISION_COMMUNE).sum()),
        "positions_moved_to_centroid": moved_to_centroid,
        "not_geolocated": int((est["geo_precision"] == PRECISION_NONE).sum()),
        "equipment_lines": len(equipment),
        "departments": len(departments),
        "communes": 0 if communes is None else len(communes),
        "territories": len(terr),
        "issues": len(issues),
        "rejected_rows": sum(1 for i in issues if i.action == "rejected"),
    }
    per_dep = est["department"].fillna("?").value_counts().sort_index().to_dict()
    metadata: dict[str, object] = {
        "etl_version": settings.ETL_VERSION,
        "software_version": __version__,
        "etl_time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "establishments_file": Path(inputs.establishments).name if extract else None,
        "establishments_sha256": digests[inputs.establishments] if extract else None,
        "establishments_layout": extract.layout if extract else None,
        "establishments_encoding": extract.encoding if extract else None,
        "source_date": extract.source_date if extract else None,
        "departments_file": Path(inputs.departments).name,
        "communes_files": [Path(p).name for p in inputs.communes],
        "territories_file": Path(inputs.territories).name if inputs.territories else "",
        "territories_source": "file" if inputs.territories else "steward",
        "categories_file": Path(inputs.categories).name,
        "counts": counts,
        "establishments_per_department": per_dep,
        "unknown_categories": unknown,
        "crs": settings.CRS_DISPLAY,
        **eq_meta,
    }
    layers: dict[str, pd.DataFrame] = {
        store.ESTABLISHMENTS: est,
        store.EQUIPMENT: equipment,
        store.DEPARTMENTS: departments,
        store.TERRITORIES: terr,
        store.FAMILIES: families.families,
        store.CATEGORIES: cat_table,
    }
    if communes is not None:
        layers[store.COMMUNES] = communes
    if disciplines is not None:
        layers[store.DISCIPLINES] = disciplines
    if activities is not None:
        layers[store.ACTIVITIES] = activities
    if finess_plus is not None:  # FINESS+ (issue 11): activites, capacites, zones_intervention
        layers.update(finess_plus.layers())
        counts.update(finess_plus.counts)
        metadata.update(finess_plus.metadata)
        if not metadata.get("source_date"):
            metadata["source_date"] = (metadata.get("finess_plus_structures_date")
                                       or metadata.get("finess_plus_activites_date"))
        issues += [d.as_row_issue() for d in finess_plus.report.skipped]
    say(f"Écriture du GeoPackage {target}")
    store.open_store(target).write(layers, metadata)
    lap("write")

    rejects = None
    if issues:
        rejects = write_rejects(issues, rejects_path or target.with_suffix(".rejets.csv"))
    report = EtlReport(target, counts, issues, unknown, timings, metadata, rejects)
    if finess_plus is not None:
        report.finess_plus = finess_plus.report
        report.deviations_path = finess_plus.report.write(target.with_suffix(".finess_plus.json"))
    return report
