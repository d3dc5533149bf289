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

from dac_map.errors import SKIPPED
from dac_map.finess_plus.activites import DATE_RE, ItemReader, _str
from dac_map.finess_plus.deviations import DeviationReport
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

#: Columns read straight from the flow: ``column: (object, legal-entity key, establishment key)``,
#: a key None when that entity has no such column here. ``object`` says where the key is:
#: ``info`` (the entity's general-information object), ``item`` (the entity itself), ``adr`` (its
#: address, :func:`_address`), ``geo`` (that address's ``coordonneesGeographique``). An
#: establishment's ``name`` is its short name, else its long one (:meth:`_StructuresReader.establishment`).
_FLOW_FIELDS: dict[str, tuple[str, str | None, str | None]] = {
    # legal entities only
    "name": ("info", "denominationPm", None),
    "siren": ("info", "siren", None),
    "legal_status": ("info", "statutJuridique", None),
    "ape": ("info", "codeApe", None),
    "created": ("info", "dateCreation", None),
    # establishments only
    "ege_id": ("info", None, "egeId"),
    "name_complement": ("info", None, "complementDenominationEg"),
    "category": ("item", None, "categorieentiteGeographiqueExercice"),
    "mft": ("item", None, "modefixationtarifaire"),
    "siret": ("info", None, "siret"),
    "opened": ("info", None, "dateOuverture"),
    "first_authorised": ("info", None, "datePremiereAutorisation"),
    "number": ("adr", None, "numeroVoie"),
    "street_type": ("adr", None, "typeVoie"),
    "street": ("adr", None, "libelleVoie"),
    "locality": ("adr", None, "lieuDit"),
    "postcode": ("adr", None, "codePostal"),
    "city": ("adr", None, "ligneAcheminement"),
    "ban_key": ("geo", None, "cleInInteropBAN"),
    "ban_score": ("geo", None, "scoreBAN"),
    "coord_x": ("geo", None, "coordonneeX"),
    "coord_y": ("geo", None, "coordonneeY"),
    "lat": ("geo", None, "directionLatitude"),
    "lon": ("geo", None, "directionLongitude"),
    # both
    "long_name": ("info", "denominationLonguePmSmsse", "nomEgeLong"),
    "closed_on": ("info", "dateFermeture", "dateFermeture"),
    "state": ("item", "etatObjet", "etatObjet"),
    "updated": ("item", "dateDerniereMaj", "dateDerniereMaj"),
    "commune": ("adr", "cogCommune", "cogCommune"),
}
#: Columns that are not text: ISO dates (an invalid one reported, then blank) and numbers (float,
#: NaN when absent or not numeric).
_DATE_COLUMNS = frozenset({"created", "opened", "first_authorised", "closed_on"})
_NUMBER_COLUMNS = frozenset({"ban_score", "coord_x", "coord_y", "lat", "lon"})


def _entity_fields(entity: int) -> tuple[tuple[str, str, str, str], ...]:
    """``(column, object, key, kind)`` of the flow fields of one entity (1: legal entities,
    2: establishments; the index of its key in :data:`_FLOW_FIELDS`); ``kind``: ``date``,
    ``number`` or ``str``."""
    return tuple((column, spec[0], spec[entity],
                  "date" if column in _DATE_COLUMNS else "number" if column in _NUMBER_COLUMNS else "str")
                 for column, spec in _FLOW_FIELDS.items() if spec[entity] is not None)


_LEGAL_ENTITY_FIELDS = _entity_fields(1)
_ESTABLISHMENT_FIELDS = _entity_fields(2)


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

    def _fill(self, table: dict[str, list], fields: tuple[tuple[str, str, str, str], ...],
              sources: dict[str, dict], info_path: str) -> None:
        """Append one value per field of ``fields`` to ``table`` (dates are read from ``info``,
        at JSON path ``info_path``)."""
        for column, where, key, kind in fields:
            value = sources[where].get(key)
            if kind == "date":
                table[column].append(self._date(value, f"{info_path}.{key}"))
            else:
                table[column].append(_number(value) if kind == "number" else _str(value))

    def _general_info(self, obj: dict, key: str, known: str, path: str, missing: str) -> dict | None:
        """``obj[key]``, the general-information object (unknown and null fields reported against
        the schema keys ``known``), or None after reporting ``missing`` as skipped."""
        info = obj.get(key)
        if not isinstance(info, dict):
            self.dev("missing_field", f"{path}.{key}", missing, SKIPPED)
            return None
        self._nulls_and_extras(info, self.keys[known], f"{path}.{key}")
        return info

    def _identified(self, obj: dict, path: str, schema: str, info_key: str, known: str, missing: str,
                    finess_key: str, what: str) -> tuple[dict, str] | None:
        """Check one entity: unknown and null fields against the schema keys ``schema``, its
        general-information object ``info_key`` (see :meth:`_general_info`) and the FINESS number
        ``finess_key`` in it. ``(info, finess)``, or None when the entity is skipped (reported)."""
        self._nulls_and_extras(obj, self.keys[schema], path)
        info = self._general_info(obj, info_key, known, path, missing)
        if info is None:
            return None
        fin = self.finess(info.get(finess_key), f"{path}.{info_key}.{finess_key}", what)
        return None if fin is None else (info, fin)

    def item(self, i: int, item: object) -> None:
        base = f"$.pmej[{i}]"
        item = self.begin(i, item)
        if item is None:
            return
        found = self._identified(item, base, "pmej_structures", "informationsGeneralesPMEJ", "infos_pmej",
                                 "entité juridique sans informationsGeneralesPMEJ (ignorée avec ses "
                                 "établissements)", "numFinessPm", "entité juridique et ses établissements")
        if found is None:
            return
        info, fin_ej = found
        pm_id = _str(info.get("pmSmsseId"))
        pm = self.pm
        pm["finess_ej"].append(fin_ej)
        pm["pm_id"].append(pm_id)
        self._fill(pm, _LEGAL_ENTITY_FIELDS,
                   {"info": info, "item": item, "adr": _address(item.get("adresse"))},
                   f"{base}.informationsGeneralesPMEJ")
        pm["json_path"].append(base)
        for k, e in enumerate(self.array(item, "ege", base)):
            self.establishment(e, f"{base}.ege[{k}]", fin_ej, pm_id)

    def establishment(self, e: object, path: str, fin_ej: str, pm_id: str | None) -> None:
        e = self.establishment_object(e, path)
        if e is None:
            return
        found = self._identified(e, path, "ege_structures", "informationsGeneralesEGE", "infos_ege",
                                 "établissement sans informationsGeneralesEGE (ignoré)", "numFinessEge",
                                 "établissement")
        if found is None:
            return
        info, fin = found
        ip = f"{path}.informationsGeneralesEGE"
        adr = _address(e.get("adresse"))
        geo = adr.get("coordonneesGeographique")
        geo = geo if isinstance(geo, dict) else {}
        phone, fax = _phones(e.get("contact"))
        row = self.est
        row["finess"].append(fin)
        row["finess_ej"].append(fin_ej)
        row["pm_id"].append(pm_id)
        row["name"].append(_str(info.get("nomEgeCourt")) or _str(info.get("nomEgeLong")) or f"Établissement {fin}")
        self._fill(row, _ESTABLISHMENT_FIELDS, {"info": info, "item": e, "adr": adr, "geo": geo}, ip)
        row["phone"].append(phone)
        row["fax"].append(fax)
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
    est = pd.DataFrame({c: (np.asarray(v, dtype="float64") if c in _NUMBER_COLUMNS else pd.array(v, dtype="string"))
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
