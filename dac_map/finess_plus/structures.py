"""Streaming reader of the FINESS+ *Structures* flow -> legal entities and establishments
(one row each, codes and raw coordinates; positions and labels are resolved by
:mod:`dac_map.finess_plus.model`).

Coordinates are kept as given: ``coord_x``/``coord_y`` (the flow's ``coordonneeX`` /
``coordonneeY``, Lambert-93 metres in metropolitan France, which real files give with the axes
swapped relative to their names) and ``lat``/``lon`` (``directionLatitude`` /
``directionLongitude``, WGS84 degrees).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dac_map.finess_plus.activites import DATE_RE, ItemReader, _str
from dac_map.finess_plus.deviations import SKIPPED, DeviationReport
from dac_map.finess_plus.source import STRUCTURES, stream_flow

ESTABLISHMENT_COLUMNS = (
    "finess", "finess_ej", "ege_id", "pm_id", "name", "long_name", "name_complement", "category",
    "mft", "siret", "opened", "first_authorised", "closed_on", "state", "updated",
    "number", "street_type", "street", "locality", "postcode", "city", "commune", "phone", "fax",
    "ban_key", "ban_score", "coord_x", "coord_y", "lat", "lon", "json_path",
)
LEGAL_ENTITY_COLUMNS = (
    "finess_ej", "pm_id", "name", "long_name", "siren", "legal_status", "ape", "created", "closed_on",
    "state", "updated", "commune", "json_path",
)


@dataclass
class StructuresTables:
    """What one Structures file holds."""

    path: Path
    establishments: pd.DataFrame
    legal_entities: pd.DataFrame
    schema_version: str | None = None
    generated_at: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


def _first(items: object) -> dict:
    return items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}


def _address(adresses: object) -> dict:
    """The establishment's address: the first one with coordinates, else the first one."""
    if not isinstance(adresses, list):
        return {}
    good = [a for a in adresses if isinstance(a, dict)]
    for a in good:
        if isinstance(a.get("coordonneesGeographique"), dict):
            return a
    return good[0] if good else {}


def _phones(contacts: object) -> tuple[str | None, str | None]:
    phone = fax = None
    if isinstance(contacts, list):
        for c in contacts:
            t = c.get("telecom") if isinstance(c, dict) else None
            if isinstance(t, dict):
                phone = phone or _str(t.get("telephone"))
                fax = fax or _str(t.get("telecopie"))
    return phone, fax


class _StructuresReader(ItemReader):
    flow = STRUCTURES

    def __init__(self, path: Path, report: DeviationReport, strict: bool) -> None:
        super().__init__(path, report, strict)
        self.est: dict[str, list] = {c: [] for c in ESTABLISHMENT_COLUMNS}
        self.pm: dict[str, list] = {c: [] for c in LEGAL_ENTITY_COLUMNS}

    def _date(self, value: object, path: str) -> str | None:
        s = _str(value)
        if s is None:
            return None
        if DATE_RE.fullmatch(s[:10]):
            return s[:10]
        self.dev("invalid_date", path, f"date invalide : {s[:40]!r}")
        return None

    def _general_info(self, obj: dict, key: str, known: str, path: str, missing: str) -> dict | None:
        """``obj[key]``, the general-information object (unknown and null fields reported against
        the schema keys ``known``), or None after reporting ``missing`` as skipped."""
        info = obj.get(key)
        if not isinstance(info, dict):
            self.dev("missing_field", f"{path}.{key}", missing, SKIPPED)
            return None
        self._nulls_and_extras(info, self.keys[known], f"{path}.{key}")
        return info

    def item(self, i: int, item: object) -> None:
        base = f"$.pmej[{i}]"
        item = self.begin(i, item)
        if item is None:
            return
        self._nulls_and_extras(item, self.keys["pmej_structures"], base)
        info = self._general_info(item, "informationsGeneralesPMEJ", "infos_pmej", base,
                                  "entité juridique sans informationsGeneralesPMEJ (ignorée avec ses établissements)")
        if info is None:
            return
        fin_ej = self.finess(info.get("numFinessPm"), f"{base}.informationsGeneralesPMEJ.numFinessPm",
                             "entité juridique et ses établissements")
        if fin_ej is None:
            return
        pm_id = _str(info.get("pmSmsseId"))
        ip = f"{base}.informationsGeneralesPMEJ"
        pm = self.pm
        pm["finess_ej"].append(fin_ej)
        pm["pm_id"].append(pm_id)
        pm["name"].append(_str(info.get("denominationPm")))
        pm["long_name"].append(_str(info.get("denominationLonguePmSmsse")))
        pm["siren"].append(_str(info.get("siren")))
        pm["legal_status"].append(_str(info.get("statutJuridique")))
        pm["ape"].append(_str(info.get("codeApe")))
        pm["created"].append(self._date(info.get("dateCreation"), f"{ip}.dateCreation"))
        pm["closed_on"].append(self._date(info.get("dateFermeture"), f"{ip}.dateFermeture"))
        pm["state"].append(_str(item.get("etatObjet")))
        pm["updated"].append(_str(item.get("dateDerniereMaj")))
        pm["commune"].append(_str(_address(item.get("adresse")).get("cogCommune")))
        pm["json_path"].append(base)
        for k, e in enumerate(self.array(item, "ege", base)):
            self.establishment(e, f"{base}.ege[{k}]", fin_ej, pm_id)

    def establishment(self, e: object, path: str, fin_ej: str, pm_id: str | None) -> None:
        e = self.establishment_object(e, path)
        if e is None:
            return
        self._nulls_and_extras(e, self.keys["ege_structures"], path)
        info = self._general_info(e, "informationsGeneralesEGE", "infos_ege", path,
                                  "établissement sans informationsGeneralesEGE (ignoré)")
        if info is None:
            return
        ip = f"{path}.informationsGeneralesEGE"
        fin = self.finess(info.get("numFinessEge"), f"{ip}.numFinessEge", "établissement")
        if fin is None:
            return
        adr = _address(e.get("adresse"))
        geo = adr.get("coordonneesGeographique")
        geo = geo if isinstance(geo, dict) else {}
        phone, fax = _phones(e.get("contact"))
        row = self.est
        row["finess"].append(fin)
        row["finess_ej"].append(fin_ej)
        row["ege_id"].append(_str(info.get("egeId")))
        row["pm_id"].append(pm_id)
        row["name"].append(_str(info.get("nomEgeCourt")) or _str(info.get("nomEgeLong")) or f"Établissement {fin}")
        row["long_name"].append(_str(info.get("nomEgeLong")))
        row["name_complement"].append(_str(info.get("complementDenominationEg")))
        row["category"].append(_str(e.get("categorieentiteGeographiqueExercice")))
        row["mft"].append(_str(e.get("modefixationtarifaire")))
        row["siret"].append(_str(info.get("siret")))
        row["opened"].append(self._date(info.get("dateOuverture"), f"{ip}.dateOuverture"))
        row["first_authorised"].append(self._date(info.get("datePremiereAutorisation"),
                                                  f"{ip}.datePremiereAutorisation"))
        row["closed_on"].append(self._date(info.get("dateFermeture"), f"{ip}.dateFermeture"))
        row["state"].append(_str(e.get("etatObjet")))
        row["updated"].append(_str(e.get("dateDerniereMaj")))
        row["number"].append(_str(adr.get("numeroVoie")))
        row["street_type"].append(_str(adr.get("typeVoie")))
        row["street"].append(_str(adr.get("libelleVoie")))
        row["locality"].append(_str(adr.get("lieuDit")))
        row["postcode"].append(_str(adr.get("codePostal")))
        row["city"].append(_str(adr.get("ligneAcheminement")))
        row["commune"].append(_str(adr.get("cogCommune")))
        row["phone"].append(phone)
        row["fax"].append(fax)
        row["ban_key"].append(_str(geo.get("cleInInteropBAN")))
        row["ban_score"].append(_number(geo.get("scoreBAN")))
        row["coord_x"].append(_number(geo.get("coordonneeX")))
        row["coord_y"].append(_number(geo.get("coordonneeY")))
        row["lat"].append(_number(geo.get("directionLatitude")))
        row["lon"].append(_number(geo.get("directionLongitude")))
        row["json_path"].append(path)
        bad = [k for k in ("coordonneeX", "coordonneeY", "directionLatitude", "directionLongitude")
               if geo.get(k) is not None and _number(geo.get(k)) != _number(geo.get(k))]
        if bad:
            self.dev("coordinates_invalid", f"{path}.adresse[0].coordonneesGeographique.{bad[0]}",
                     f"coordonnée non numérique : {geo.get(bad[0])!r}")


def _number(value: object) -> float:
    """A JSON number or numeric string as float (NaN when absent or not numeric)."""
    if value is None or isinstance(value, (bool, dict, list)):
        return float("nan")
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        return float("nan")


def read_structures(path: str | Path, report: DeviationReport | None = None,
                    strict: bool = False) -> StructuresTables:
    """Read a Structures flow (plain or gzipped JSON), streaming. Raises like
    :func:`~dac_map.finess_plus.activites.read_activites`."""
    path = Path(path)
    report = report if report is not None else DeviationReport()
    r = _StructuresReader(path, report, strict)
    head, n = stream_flow(path, STRUCTURES, r.item, report, strict, lambda: r.schema_errors)
    floats = {"ban_score", "coord_x", "coord_y", "lat", "lon"}
    est = pd.DataFrame({c: (np.asarray(v, dtype="float64") if c in floats else pd.array(v, dtype="string"))
                        for c, v in r.est.items()})
    dup = est["finess"].duplicated()
    for fin, p in zip(est.loc[dup, "finess"].head(20), est.loc[dup, "json_path"].head(20)):
        report.add("duplicate_finess", path.name, p, f"établissement {fin} déjà vu (première occurrence gardée)",
                   SKIPPED)
    est = est[~dup].reset_index(drop=True)
    pms = pd.DataFrame({c: pd.array(v, dtype="string") for c, v in r.pm.items()}).drop_duplicates("finess_ej")
    counts = {"legal_entities": n, "establishments": len(est), **{f"groups_{k}": v for k, v in head.groups.items()}}
    report.files[path.name] = {"flow": STRUCTURES, "schemaVersion": head.top.get("schemaVersion"),
                               "generatedAt": head.top.get("generatedAt"), "counts": counts}
    return StructuresTables(path, est, pms.reset_index(drop=True),
                            schema_version=_str(head.top.get("schemaVersion")),
                            generated_at=_str(head.top.get("generatedAt")), counts=counts)
