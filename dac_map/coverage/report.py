"""The periodic report to the ARS: offer indicators, white zones, unmet needs, changes.

:func:`build_report` gathers the figures of one DAC territory into an :class:`ArsReport`;
:mod:`dac_map.coverage.report_render` makes it a printable A4 HTML page, a PDF and a
long-format CSV (``section;code;libelle;indicateur;valeur``, ``;``, UTF-8 with BOM) and writes
them with a small JSON snapshot (:func:`snapshot`) in the reports folder. The next report of
the same territory compares itself with the latest earlier snapshot ("évolutions depuis le
dernier rapport").

Distances are straight-line kilometres from commune centroids (see
:mod:`dac_map.coverage.indicators`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from dac_map import __version__, settings
from dac_map.coverage.labels import dac_number, need_type_label
from dac_map.errors import DacMapError
from dac_map.printing import TIMEZONE
from dac_map.coverage.indicators import CommuneCoverage, commune_coverage, territory_indicators
from dac_map.coverage.population import PopulationTable
from dac_map.coverage.resources import ResourceType, commune_names, territory_label
from dac_map.coverage.social import needs_by_social_family, social_resources_by_family
from dac_map.coverage.unmet import list_unmet_needs, unmet_needs_by_reason, unmet_needs_summary
from dac_map.query import Catalogue

SNAPSHOT_VERSION = 1

#: French labels of the keys of :meth:`CommuneCoverage.summary`.
SUMMARY_LABELS: dict[str, str] = {
    "communes": "communes du territoire",
    "white_zones": "communes en zone blanche",
    "communes_without_resource": "communes sans aucune ressource de ce type dans leur zone",
    "resources": "ressources de ce type dans le territoire",
    "places": "places installées de ce type dans le territoire",
    "distance_mean_km": "distance moyenne à la ressource la plus proche (km)",
    "distance_median_km": "distance médiane (km)",
    "distance_max_km": "distance maximale (km)",
    "pop_75plus": "habitants de 75 ans ou plus",
    "pop_75plus_white_zones": "habitants de 75 ans ou plus en zone blanche",
    "places_per_1000_75plus": "places pour 1 000 habitants de 75 ans ou plus",
    "distance_mean_75plus_km": "distance moyenne pondérée par les 75 ans ou plus (km)",
    "white_zones_time": "communes en zone blanche par la route (durée en voiture)",
    "travel_median_min": "durée médiane en voiture (min)",
    "travel_max_min": "durée maximale en voiture (min)",
    "communes_off_network": "communes loin de toute route du réseau (sans durée)",
}


@dataclass
class ArsReport:
    """Everything a report shows. Frames have English column names; rendering translates."""

    dac_id: str
    territory_name: str
    generated_at: str
    period_start: str | None
    period_end: str
    resource_key: str
    resource_label: str
    threshold_km: float
    radius_km: float
    sources: dict[str, Any]
    families: pd.DataFrame
    disciplines: pd.DataFrame
    summary: dict[str, Any]
    coverage: CommuneCoverage
    white_zones: pd.DataFrame
    unmet_total: int
    unmet_by_type: pd.DataFrame
    unmet_by_commune: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    #: Needs by reason code (``reason``, ``label``, ``needs``), :func:`unmet_needs_by_reason`.
    unmet_by_reason: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["reason", "label", "needs"]))
    previous: dict[str, Any] | None = None
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    white_zones_new: list[str] = field(default_factory=list)
    white_zones_resolved: list[str] = field(default_factory=list)
    # --- issue 15: for the ARS reader ---------------------------------------------------------
    data_date: str | None = None  # date of the FINESS extract (ISO)
    ratio_meaningful: bool = True  # the resource is meant for the elderly (75+ ratio shown)
    needs_by_month: pd.DataFrame = field(default_factory=pd.DataFrame)   # month (YYYY-MM), needs
    white_zones_by_type: pd.DataFrame = field(default_factory=pd.DataFrame)  # label, white_zones
    dac_number: str = ""  # the DAC's number when the territories table has one
    # --- issue 16: social resources ---------------------------------------------------------
    #: needs per social family (``family`` label, ``needs``), :func:`~dac_map.coverage.social.needs_by_social_family`
    unmet_by_social_family: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["family", "needs"]))
    #: social resources of the territory per family (``family``, ``resources``, ``fictitious``)
    social_resources: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["family", "resources", "fictitious"]))


# --------------------------------------------------------------------------- snapshots

def file_slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "dac"


def snapshot(report: ArsReport) -> dict[str, Any]:
    """The small JSON-able summary kept per report, compared by the next one."""
    fam = report.families
    return {
        "version": SNAPSHOT_VERSION,
        "dac_id": report.dac_id,
        "generated_at": report.generated_at,
        "period_start": report.period_start,
        "period_end": report.period_end,
        "resource_key": report.resource_key,
        "resource_label": report.resource_label,
        "threshold_km": report.threshold_km,
        "families": {r.family: {"label": r.family_label, "establishments": int(r.establishments),
                                "capacity_installed": float(r.capacity_installed)}
                     for r in fam.itertuples(index=False)},
        "summary": {k: v for k, v in report.summary.items() if isinstance(v, (int, float, str))
                    or v is None},
        "white_zones": sorted(report.white_zones["code"].astype(str)),
        "unmet_total": report.unmet_total,
        "unmet_by_type": {str(r.resource_type): int(r.needs)
                          for r in report.unmet_by_type.itertuples(index=False)},
        "unmet_by_reason": {str(r.reason): int(r.needs)
                            for r in report.unmet_by_reason.itertuples(index=False)},
        "sources": report.sources,
    }


def latest_snapshot(reports_dir: str | Path, dac_id: str, before: str | None = None
                    ) -> dict[str, Any] | None:
    """The most recent snapshot of ``dac_id`` in ``reports_dir`` generated strictly before
    ``before`` (ISO UTC text; any time when None), or None. Unreadable files are skipped."""
    folder = Path(reports_dir)
    if not folder.is_dir():
        return None
    best: dict[str, Any] | None = None
    for p in folder.glob(f"rapport_{file_slug(dac_id)}_*.json"):
        try:
            snap = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(snap, dict) or snap.get("dac_id") != dac_id:
            continue
        when = str(snap.get("generated_at", ""))
        if before is not None and when >= before:
            continue
        if best is None or when > str(best.get("generated_at", "")):
            best = snap
    return best


def compare_snapshots(previous: dict[str, Any], current: dict[str, Any]
                      ) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Changes between two snapshots: a frame ``indicator, label, previous, current, change``
    (families' establishments and places, white zones, unmet needs, distances) and the codes of
    the communes that became / stopped being white zones (only when both reports used the same
    resource type and threshold; otherwise both lists are empty)."""
    rows = []
    pf, cf = previous.get("families", {}), current.get("families", {})
    for fam in list(cf) + [f for f in pf if f not in cf]:
        p, c = pf.get(fam, {}), cf.get(fam, {})
        label = c.get("label") or p.get("label") or fam
        for key, name in (("establishments", "établissements"), ("capacity_installed", "places installées")):
            a, b = p.get(key, 0), c.get(key, 0)
            if a != b:
                rows.append({"indicator": f"famille:{fam}:{key}", "label": f"{label} — {name}",
                             "previous": a, "current": b, "change": b - a})
    same = (previous.get("resource_key") == current.get("resource_key")
            and previous.get("threshold_km") == current.get("threshold_km"))
    ps, cs = previous.get("summary", {}), current.get("summary", {})
    for key, name in (("white_zones", "communes en zone blanche"),
                      ("pop_75plus_white_zones", "personnes de 75 ans ou plus en zone blanche"),
                      ("distance_mean_km", "distance moyenne à la ressource (km)"),
                      ("distance_max_km", "distance maximale à la ressource (km)"),
                      ("places_per_1000_75plus", "places pour 1 000 personnes de 75 ans ou plus")):
        if not same:
            break
        a, b = ps.get(key), cs.get(key)
        if a is None and b is None:
            continue
        rows.append({"indicator": f"synthese:{key}", "label": name, "previous": a, "current": b,
                     "change": (b - a) if a is not None and b is not None else None})
    a, b = previous.get("unmet_total", 0), current.get("unmet_total", 0)
    rows.append({"indicator": "besoins:total", "label": "besoins non couverts signalés sur la période",
                 "previous": a, "current": b, "change": b - a})
    new, resolved = [], []
    if same:
        pw, cw = set(previous.get("white_zones", [])), set(current.get("white_zones", []))
        new, resolved = sorted(cw - pw), sorted(pw - cw)
    return pd.DataFrame(rows, columns=["indicator", "label", "previous", "current", "change"]), new, resolved


# --------------------------------------------------------------------------- build

def _iso(value: date | datetime | str | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        v = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return v.astimezone(timezone.utc).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def build_report(catalogue: Catalogue, dac_id: str, resource: ResourceType, threshold_km: float,
                 population: PopulationTable | None = None,
                 radius_km: float | None = None,
                 db_path: str | Path | None = None,
                 reports_dir: str | Path | None = None,
                 period_start: date | datetime | str | None = None,
                 period_end: date | datetime | str | None = None,
                 generated_at: datetime | None = None) -> ArsReport:
    """Gather the report of territory ``dac_id``.

    Args:
        catalogue: the store as loaded by :func:`dac_map.query.load_catalogue`.
        resource: the kind of resource of the white zones and ratios.
        threshold_km: white-zone threshold (km, straight line from the commune centroid).
        population: people aged 75+ per commune (ratios skipped when None).
        radius_km: catchment radius (km) of the places-per-1,000 ratio (default
            :data:`~dac_map.settings.COVERAGE_CATCHMENT_KM`).
        db_path: the unmet-need log (default :data:`~dac_map.settings.UNMET_NEEDS_DB`).
        reports_dir: where earlier snapshots are looked for (None: no comparison).
        period_start/period_end: period of the unmet needs counted (dates inclusive, UTC).
            Default start: the end of the previous report's period (all records if none);
            default end: now.
        generated_at: report time (default now, UTC).
    """
    radius_km = settings.COVERAGE_CATCHMENT_KM if radius_km is None else radius_km
    now = (generated_at or datetime.now(timezone.utc))
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    stamp = now.astimezone(timezone.utc).isoformat(timespec="seconds")
    previous = latest_snapshot(reports_dir, dac_id, before=stamp) if reports_dir else None
    start = _iso(period_start)
    if start is None and previous is not None:
        start = previous.get("period_end")
    end = _iso(period_end) or stamp

    fam, dis = territory_indicators(catalogue, dac_id)
    elderly = resource.for_elderly(catalogue)
    pop75 = population.pop_75plus if population is not None and elderly else None
    cov = commune_coverage(catalogue, dac_id, resource, threshold_km, pop75, radius_km)
    names = commune_names(catalogue)
    # A previous period end is a full timestamp: records after it (strictly) are new.
    needs = list_unmet_needs(db_path, start=start, end=end, dac_id=dac_id, commune_names=names)
    if start and "T" in start:
        needs = needs[needs["recorded_at"] > start]
    needs = needs.assign(resource_type=[
        need_type_label(t, f, catalogue) for t, f in zip(needs["resource_type"], needs["filters_json"])])
    by_type, by_commune = unmet_needs_summary(needs)

    meta = catalogue.metadata
    sources: dict[str, Any] = {
        "finess_file": meta.get("establishments_file"),
        "finess_date": meta.get("source_date"),
        "equipment_file": meta.get("equipment_file"),
        "equipment_illustrative": bool(meta.get("equipment_illustrative", False)),
        "population_file": Path(population.source).name if population is not None else None,
        "population_fictitious": bool(population.fictitious) if population is not None else None,
        "software_version": __version__,
    }
    notes = list(cov.notes)
    if sources["equipment_illustrative"]:
        notes.append("Les capacités (places installées) de ce jeu de données sont FICTIVES "
                     "(démonstration) : ne pas les utiliser pour une décision.")
    if population is not None and not elderly:
        notes.append(f"Ratio par 1 000 habitants de 75 ans ou plus non calculé : « {cov.resource_label} » "
                     "n'est pas une ressource destinée aux personnes âgées.")
    if population is not None and population.fictitious and elderly:
        notes.append("La table de population utilisée est FICTIVE (démonstration) : les ratios "
                     "par habitant de 75 ans ou plus sont illustratifs.")
    report = ArsReport(
        dac_id=dac_id, territory_name=territory_label(catalogue, dac_id), generated_at=stamp,
        period_start=start, period_end=end, resource_key=resource.key(),
        resource_label=cov.resource_label, threshold_km=float(threshold_km),
        radius_km=float(radius_km), sources=sources, families=fam, disciplines=dis,
        summary=cov.summary(), coverage=cov, white_zones=cov.white_zones,
        unmet_total=int(len(needs)), unmet_by_type=by_type, unmet_by_commune=by_commune,
        notes=notes, previous=previous, unmet_by_reason=unmet_needs_by_reason(needs),
        data_date=meta.get("source_date"), ratio_meaningful=elderly,
        dac_number=dac_number(catalogue, dac_id), needs_by_month=_needs_by_month(needs),
        white_zones_by_type=white_zones_by_type(catalogue, dac_id, threshold_km),
        unmet_by_social_family=needs_by_social_family(needs),
        social_resources=social_resources_by_family(catalogue, dac_id))
    if previous is not None:
        report.changes, report.white_zones_new, report.white_zones_resolved = compare_snapshots(
            previous, snapshot(report))
    return report


# --- issue 15: charts' data --------------------------------------------------------------

#: Resource types of the "white zones by type" chart: terms of the synonyms table (those whose
#: codes are categories and/or disciplines, which coverage understands).
WHITE_ZONE_TYPES = ("EHPAD", "SSIAD", "SAAD", "HAD", "CSAPA", "CMP", "IME", "ESAT")


def _needs_by_month(needs: pd.DataFrame) -> pd.DataFrame:
    """Needs per calendar month (Europe/Paris local time), oldest first."""
    if not len(needs):
        return pd.DataFrame(columns=["month", "needs"])
    when = pd.to_datetime(needs["recorded_at"], utc=True, errors="coerce").dt.tz_convert(TIMEZONE)
    month = when.dt.strftime("%Y-%m").dropna()
    out = month.value_counts().rename_axis("month").rename("needs").reset_index()
    return out.sort_values("month", kind="stable").reset_index(drop=True)


def white_zones_by_type(catalogue: Catalogue, dac_id: str, threshold_km: float,
                        terms: tuple[str, ...] = WHITE_ZONE_TYPES) -> pd.DataFrame:
    """Number of communes of the territory farther than ``threshold_km`` (km, straight line
    from the commune centroid) from the nearest resource of each type of ``terms`` (labels from
    the synonyms table; types absent from the data count every commune). Columns ``label``,
    ``white_zones``, ``communes``."""
    from dac_map.query.errors import QueryError
    from dac_map.query.synonyms import load_synonyms

    try:
        table = {s.term: s for s in load_synonyms()}
    except QueryError:
        return pd.DataFrame(columns=["label", "white_zones", "communes"])
    rows = []
    for term in terms:
        syn = table.get(term)
        if syn is None or syn.activity_types or syn.clienteles:
            continue
        if syn.disciplines and not catalogue.has_equipment:
            continue
        rt = ResourceType(categories=syn.categories, disciplines=syn.disciplines, label=syn.label)
        try:
            cov = commune_coverage(catalogue, dac_id, rt, threshold_km, None)
        except (DacMapError, ValueError):
            continue
        summ = cov.summary()
        rows.append({"label": syn.label, "white_zones": int(summ.get("white_zones") or 0),
                     "communes": int(summ.get("communes") or 0)})
    return pd.DataFrame(rows, columns=["label", "white_zones", "communes"])


