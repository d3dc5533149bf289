"""Both FINESS+ flows into the ETL's layers, alone or beside the etalab extracts.

:func:`load_finess_plus` reads the Structures and/or Activités flows (streaming), builds the
``etablissements`` rows (merged with the etalab ones when both are given: FINESS+ wins where
both speak, differences reported), the ``activites``, ``capacites`` and ``zones_intervention``
layers, the capacity totals of each establishment, the deviation report and the metadata
entries. Establishments that only the Activités flow names are kept without position
(``source`` = ``finess_plus_activites``) so that their activities and zones are not lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from dac_map import settings
from dac_map.finess_plus import model
from dac_map.finess_plus.activites import read_activites
from dac_map.finess_plus.deviations import DeviationReport
from dac_map.finess_plus.structures import read_structures

#: Store layer names.
ACTIVITIES = "activites"
CAPACITIES = "capacites"
ZONES = "zones_intervention"


@dataclass
class FinessPlusResult:
    """Layers and report of one FINESS+ load. ``establishments`` replaces the ETL's table."""

    establishments: gpd.GeoDataFrame
    activities: pd.DataFrame | None
    capacities: pd.DataFrame | None
    zones: pd.DataFrame | None
    report: DeviationReport
    metadata: dict[str, object] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def layers(self) -> dict[str, pd.DataFrame]:
        """The attribute layers to add to the store (those that were read)."""
        out: dict[str, pd.DataFrame] = {}
        if self.activities is not None:
            out[ACTIVITIES] = self.activities
            out[CAPACITIES] = self.capacities
            out[ZONES] = self.zones
        return out


def load_finess_plus(structures: Path | None, activites: Path | None, *,
                     etalab: gpd.GeoDataFrame | None = None,
                     categories: pd.DataFrame | None = None,
                     families=None,
                     communes: gpd.GeoDataFrame | None = None,
                     strict: bool = False,
                     report: DeviationReport | None = None) -> FinessPlusResult:
    """Read the FINESS+ flows given and build the store layers.

    ``etalab``: the establishments already built from the etalab extracts (or None);
    ``categories``: the category nomenclature of the run; ``families``:
    :class:`~dac_map.reference.Families`; ``communes``: commune outlines (EPSG:4326, ``code``),
    used to place addresses without coordinates and to check zone communes.
    """
    report = report if report is not None else DeviationReport()
    family_of = family_labels = None
    other = "autres"
    other_label = "Autres"
    if families is not None:
        family_of = families.categories.set_index("category")["family"]
        family_labels = families.families.set_index("family")["family_label"]
        other_label = str(family_labels.get(other, other_label))
    meta: dict[str, object] = {}
    est = etalab
    st = None
    if structures is not None:
        st = read_structures(structures, report, strict=strict)
        fp = model.build_establishments(st, report, categories=categories, family_of=family_of,
                                        family_labels=family_labels, communes=communes, other_family=other)
        for code, n in fp.attrs.get("no_family", {}).items():
            report.add("unknown_code", Path(structures).name, "$.pmej[*].ege[*].categorieentiteGeographiqueExercice",
                       f"catégorie {code} sans famille dac-map : classée « {other_label} »", count=int(n))
        est = model.merge_establishments(etalab, fp, report, Path(structures).name)
        meta.update({"finess_plus_structures_file": Path(structures).name,
                     "finess_plus_structures_generated_at": st.generated_at,
                     "finess_plus_structures_schema_version": st.schema_version,
                     "finess_plus_structures_date": (st.generated_at or "")[:10] or None})
    acts = caps = zones = None
    if activites is not None:
        at = read_activites(activites, report, strict=strict)
        known_communes = set(communes["code"]) if communes is not None and len(communes) else None
        checked = {c[:3] if c[:2] in ("97", "98") else c[:2] for c in known_communes} if known_communes else None
        acts, caps, zones = model.build_activity_layers(at, report, known_communes=known_communes,
                                                        checked_departments=checked)
        known = set(est["finess"]) if est is not None else set()
        legal_names = None
        if st is not None:
            legal_names = st.legal_entities.set_index("finess_ej")["name"]
        stubs = model.stub_establishments(at, known, report, legal_names=legal_names,
                                          other_family=other, other_label=other_label)
        if len(stubs):
            est = stubs if est is None else gpd.GeoDataFrame(pd.concat([est, stubs], ignore_index=True),
                                                             geometry="geometry", crs=settings.CRS_DISPLAY)
        # An establishment that moved to another legal entity between the two flows.
        if st is not None:
            a_ej = at.establishments.set_index("finess")["finess_ej"]
            s_ej = st.establishments.set_index("finess")["finess_ej"]
            common = a_ej.index.intersection(s_ej.index)
            moved = common[(a_ej[common] != s_ej[common]).to_numpy()]
            for fin in moved:
                report.add("establishment_moved_entity", Path(activites).name, f"finess {fin}",
                           f"entité juridique {s_ej[fin]} dans Structures, {a_ej[fin]} dans Activités "
                           "(Activités retenu pour ses activités)")
        totals = model.capacity_totals(acts, caps)
        est = est.copy()
        for col in ("capacity_installed", "capacity_authorised"):
            fp_val = est["finess"].map(totals[col])
            has = fp_val.notna()
            if col in est:
                est[col] = est[col].astype("Int64").where(~has, fp_val.astype("Int64"))
            else:
                est[col] = fp_val.astype("Int64")
        meta.update({"finess_plus_activites_file": Path(activites).name,
                     "finess_plus_activites_generated_at": at.generated_at,
                     "finess_plus_activites_schema_version": at.schema_version,
                     "finess_plus_activites_date": (at.generated_at or "")[:10] or None})
    if est is None:
        raise ValueError("load_finess_plus: no input")
    meta["finess_plus_deviations"] = {k: int(v) for k, v in sorted(report.counts.items())}
    counts = {}
    if acts is not None:
        counts = {"finess_plus_activities": len(acts), "finess_plus_capacities": len(caps),
                  "finess_plus_zones": int(acts.loc[acts["level"] == "entite_juridique", "zone_id"].notna().sum()
                                           + acts.loc[(acts["level"] == "etablissement")
                                                      & acts["zone_id"].notna(), "zone_id"].size),
                  "finess_plus_zone_communes": len(zones),
                  "finess_plus_establishments_without_structures": int(
                      (est.get("source", pd.Series(dtype=str)) == model.SOURCE_ACTIVITES_ONLY).sum())}
    if st is not None:
        counts["finess_plus_structures_establishments"] = len(st.establishments)
    for col in ("source", "state", "closed_on", "ban_key", "ege_id"):
        if col in est:
            est[col] = est[col].astype("string")
    return FinessPlusResult(est, acts, caps, zones, report, meta, counts)
