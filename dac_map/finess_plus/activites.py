"""Streaming reader of the FINESS+ *Activités* flow -> three flat tables (codes only; labels
and links are added by :mod:`dac_map.finess_plus.model`).

* activities: one row per activity, authorised on a legal entity (``level`` =
  ``entite_juridique``, ``pmej[i].activitesAutorisees[j]``) or exercised by an establishment
  (``etablissement``, ``pmej[i].ege[k].activitesExercees[j]``);
* capacities: one row per ``capacite`` entry (number, status, unit, habilitation, gender...);
* zones: one row per commune of an activity's ``zoneIntervention.communeZI``.

Columns are gathered in lists and turned into Arrow arrays every :data:`CHUNK` activities, so a
national file (hundreds of MB) never exists as Python objects all at once.

Tolerant by default: every deviation from the schema is counted in the
:class:`~dac_map.finess_plus.deviations.DeviationReport` (with the JSON path of the first
examples) and repaired, blanked or skipped at the smallest level (one capacity, one commune, one
activity, one legal entity). ``strict=True`` validates each item against the shipped schema
and fails (exit 5) when any item does not conform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from dac_map.errors import ValidationError
from dac_map.finess_plus import schema as fschema
from dac_map.finess_plus.deviations import KEPT, SKIPPED, DeviationReport
from dac_map.finess_plus.labels import NATURE_ALIASES, NATURE_COMPONENTS
from dac_map.finess_plus.source import ACTIVITES, check_flow, iter_items

#: Activities per Arrow chunk.
CHUNK = 50_000

FINESS_RE = re.compile(r"[0-9][0-9AB][0-9]{7}")
COMMUNE_RE = re.compile(r"(?:[0-9]{5}|2[AB][0-9]{3})")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

LEVEL_ENTITY = "entite_juridique"
LEVEL_ESTABLISHMENT = "etablissement"

ACTIVITY_COLUMNS = (
    "activity_id", "level", "finess", "finess_ej", "pm_id", "ege_id", "nature", "nature_raw",
    "type_code", "component_1", "component_2", "component_3", "component_4", "component_5",
    "state", "start_date", "end_date", "effective_end_date", "caducity_date",
    "authorisation_number", "authorisation_id", "age_min", "age_max", "zone_id", "json_path",
)
CAPACITY_COLUMNS = (
    "capacity_id", "activity_id", "finess", "finess_ej", "number", "status", "unit",
    "habilitation", "gender", "housing", "funding",
)
ZONE_COLUMNS = ("zone_id", "activity_id", "finess_ej", "commune", "zone_label")


class _Columns:
    """Column lists flushed into Arrow string/float arrays."""

    def __init__(self, names: tuple[str, ...], floats: tuple[str, ...] = ()) -> None:
        self.names = names
        self.floats = set(floats)
        self.lists: dict[str, list] = {n: [] for n in names}
        self.chunks: list[pa.Table] = []

    def __len__(self) -> int:
        return len(self.lists[self.names[0]])

    def flush(self) -> None:
        if not len(self):
            return
        arrays = [pa.array(self.lists[n], type=pa.float64() if n in self.floats else pa.string())
                  for n in self.names]
        self.chunks.append(pa.Table.from_arrays(arrays, names=list(self.names)))
        for lst in self.lists.values():
            lst.clear()

    def table(self) -> pa.Table:
        self.flush()
        if not self.chunks:
            return pa.Table.from_arrays(
                [pa.array([], type=pa.float64() if n in self.floats else pa.string()) for n in self.names],
                names=list(self.names))
        return pa.concat_tables(self.chunks)


@dataclass
class ActivitesTables:
    """What one Activités file holds, as pandas frames (Arrow-backed strings)."""

    path: Path
    activities: pd.DataFrame
    capacities: pd.DataFrame
    zones: pd.DataFrame
    #: establishments named by the flow: finess, ege_id, finess_ej, pm_id
    establishments: pd.DataFrame
    #: legal entities named by the flow: finess_ej, pm_id
    legal_entities: pd.DataFrame
    schema_version: str | None = None
    generated_at: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


def _str(value: object) -> str | None:
    """A JSON scalar as text (numbers accepted), None for null/absent/blank/containers."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    s = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        s = str(int(value))
    return s or None


class _ActivitesReader:
    def __init__(self, path: Path, report: DeviationReport, strict: bool) -> None:
        self.path = path
        self.file = path.name
        self.report = report
        self.strict = strict
        self.keys = fschema.known_keys()
        self.act = _Columns(ACTIVITY_COLUMNS)
        self.cap = _Columns(CAPACITY_COLUMNS, floats=("number",))
        self.zone = _Columns(ZONE_COLUMNS)
        self.ege_rows: list[tuple[str, str | None, str, str | None]] = []
        self.pm_rows: list[tuple[str, str | None]] = []
        self.n_activities = 0
        self.schema_errors = 0

    # ------------------------------------------------------------------ helpers
    def dev(self, kind: str, path: str, message: str, action: str = KEPT) -> None:
        self.report.add(kind, self.file, path, message, action)

    def _nulls_and_extras(self, obj: dict, known: frozenset[str], path: str) -> None:
        vals = list(obj.values())
        n_null = vals.count(None)
        if n_null:
            self.report.add("explicit_null", self.file, path,
                            f"{n_null} champ(s) à null : "
                            + ", ".join(k for k, v in obj.items() if v is None)[:200], KEPT, count=n_null)
        extra = obj.keys() - known
        if extra:
            for k in sorted(extra):
                self.dev("extra_field", f"{path}.{k}", f"champ « {k} » absent du schéma")

    def _date(self, value: object, path: str) -> str | None:
        s = _str(value)
        if s is None:
            return None
        d = s[:10]
        if DATE_RE.fullmatch(d):
            return d
        self.dev("invalid_date", path, f"date invalide : {s[:40]!r}")
        return None

    # ------------------------------------------------------------------ items
    def item(self, i: int, item: object) -> None:
        base = f"$.pmej[{i}]"
        if self.strict:
            for where, msg in fschema.item_errors(ACTIVITES, item, i):
                self.schema_errors += 1
                self.dev("schema", where, msg, SKIPPED)
        if not isinstance(item, dict):
            self.dev("not_an_object", base, "entité juridique qui n'est pas un objet JSON", SKIPPED)
            return
        fin_ej = _str(item.get("numFiness"))
        if fin_ej is None or not FINESS_RE.fullmatch(fin_ej):
            self.dev("invalid_finess", f"{base}.numFiness",
                     f"numéro FINESS d'entité juridique invalide : {fin_ej!r} (entité et ses activités ignorées)",
                     SKIPPED)
            return
        pm_id = _str(item.get("pmSmsseId"))
        extra = item.keys() - self.keys["pmej_activites"]
        for k in sorted(extra):
            self.dev("extra_field", f"{base}.{k}", f"champ « {k} » absent du schéma")
        self.pm_rows.append((fin_ej, pm_id))
        acts = item.get("activitesAutorisees")
        if isinstance(acts, list):
            for j, a in enumerate(acts):
                self.activity(a, f"{base}.activitesAutorisees[{j}]", LEVEL_ENTITY, None, fin_ej, pm_id, None)
        elif acts is not None:
            self.dev("not_an_object", f"{base}.activitesAutorisees", "activitesAutorisees n'est pas un tableau",
                     SKIPPED)
        eges = item.get("ege")
        if eges is None:
            return
        if not isinstance(eges, list):
            self.dev("not_an_object", f"{base}.ege", "ege n'est pas un tableau", SKIPPED)
            return
        for k, e in enumerate(eges):
            epath = f"{base}.ege[{k}]"
            if not isinstance(e, dict):
                self.dev("not_an_object", epath, "établissement qui n'est pas un objet JSON", SKIPPED)
                continue
            fin = _str(e.get("numFinessEge"))
            if fin is None or not FINESS_RE.fullmatch(fin):
                self.dev("invalid_finess", f"{epath}.numFinessEge",
                         f"numéro FINESS d'établissement invalide : {fin!r} (établissement ignoré)", SKIPPED)
                continue
            ege_id = _str(e.get("egeId"))
            self.ege_rows.append((fin, ege_id, fin_ej, pm_id))
            acts = e.get("activitesExercees")
            if isinstance(acts, list):
                for j, a in enumerate(acts):
                    self.activity(a, f"{epath}.activitesExercees[{j}]", LEVEL_ESTABLISHMENT, fin, fin_ej,
                                  pm_id, ege_id)
            elif acts is not None:
                self.dev("not_an_object", f"{epath}.activitesExercees", "activitesExercees n'est pas un tableau",
                         SKIPPED)

    def activity(self, a: object, path: str, level: str, finess: str | None, fin_ej: str,
                 pm_id: str | None, ege_id: str | None) -> None:
        if not isinstance(a, dict):
            self.dev("not_an_object", path, "activité qui n'est pas un objet JSON", SKIPPED)
            return
        g = a.get("caracteristiquesGeneriques")
        nat = a.get("nature")
        if not isinstance(g, dict) or not isinstance(nat, dict):
            self.dev("missing_field", path, "activité sans caracteristiquesGeneriques ou nature (ignorée)", SKIPPED)
            return
        self._nulls_and_extras(g, self.keys["generiques"], f"{path}.caracteristiquesGeneriques")
        nature_raw = _str(nat.get("codeNature"))
        if nature_raw is None:
            self.dev("missing_field", f"{path}.nature.codeNature", "activité sans codeNature (ignorée)", SKIPPED)
            return
        nature = NATURE_ALIASES.get(nature_raw, nature_raw)
        if nature != nature_raw:
            self.dev("nature_asmr", f"{path}.nature.codeNature", f"« {nature_raw} » lu comme « {nature} »")
        elif nature not in NATURE_COMPONENTS:
            self.dev("unknown_code", f"{path}.nature.codeNature", f"nature d'activité inconnue : {nature_raw!r}")
        spec = nat.get("caracteristiquesSpecifiques")
        comps: list[str | None] = []
        age_min = age_max = None
        if isinstance(spec, dict):
            n_null = list(spec.values()).count(None)
            if n_null:
                self.report.add("explicit_null", self.file, f"{path}.nature.caracteristiquesSpecifiques",
                                f"{n_null} champ(s) à null", KEPT, count=n_null)
            typ = next((v for k, v in spec.items() if k.startswith("typeActivite") and isinstance(v, dict)), None)
            if typ is not None:
                keys = NATURE_COMPONENTS.get(nature)
                if keys:
                    comps = [_str(typ.get(k)) for k, _ in keys]
                else:
                    comps = [_str(v) for v in typ.values()]
            age_min = _str(spec.get("ageMinAutorise")) or _str(spec.get("ageMinInstalle"))
            age_max = _str(spec.get("ageMaxAutorise")) or _str(spec.get("ageMaxInstalle"))
        comps = (comps + [None] * 5)[:5]
        act_id = _str(g.get("activiteAeId"))
        if act_id is None:
            act_id = f"~{finess or fin_ej}:{path.split('.', 1)[1]}"
            self.dev("activity_id_missing", f"{path}.caracteristiquesGeneriques.activiteAeId",
                     f"activité {nature_raw} sans identifiant : clé {act_id}")
        state = _str(g.get("etatObjet"))
        if state not in ("A", "I"):
            self.dev("unknown_state", f"{path}.caracteristiquesGeneriques.etatObjet", f"état {state!r}")
        gp = f"{path}.caracteristiquesGeneriques"
        zone_id = self.zone_of(a.get("zoneIntervention"), f"{path}.zoneIntervention", act_id, fin_ej)
        cols = self.act.lists
        cols["activity_id"].append(act_id)
        cols["level"].append(level)
        cols["finess"].append(finess)
        cols["finess_ej"].append(fin_ej)
        cols["pm_id"].append(pm_id)
        cols["ege_id"].append(ege_id or _str(g.get("egeId")))
        cols["nature"].append(nature)
        cols["nature_raw"].append(nature_raw)
        cols["type_code"].append(_str(g.get("typeActiviteSMSSE")))
        for n in range(5):
            cols[f"component_{n + 1}"].append(comps[n])
        cols["state"].append(state)
        cols["start_date"].append(self._date(g.get("dateDebutActiviteAutorisee"), f"{gp}.dateDebutActiviteAutorisee"))
        cols["end_date"].append(self._date(g.get("dateFinActiviteAutorisee"), f"{gp}.dateFinActiviteAutorisee"))
        cols["effective_end_date"].append(self._date(g.get("dateFinEffectiveActivite"), f"{gp}.dateFinEffectiveActivite"))
        cols["caducity_date"].append(self._date(g.get("dateCaduciteAutorisation"), f"{gp}.dateCaduciteAutorisation"))
        cols["authorisation_number"].append(_str(g.get("numAutorisationArhgos")))
        cols["authorisation_id"].append(_str(g.get("identifiantAutorisation")))
        cols["age_min"].append(age_min)
        cols["age_max"].append(age_max)
        cols["zone_id"].append(zone_id)
        cols["json_path"].append(path)
        self.capacities(a.get("capacite"), f"{path}.capacite", act_id, finess, fin_ej)
        self.n_activities += 1
        if len(self.act) >= CHUNK:
            self.act.flush()
            self.cap.flush()
            self.zone.flush()

    def capacities(self, caps: object, path: str, act_id: str, finess: str | None, fin_ej: str) -> None:
        if caps is None:
            return
        if not isinstance(caps, list):
            self.dev("not_an_object", path, "capacite n'est pas un tableau", SKIPPED)
            return
        cols = self.cap.lists
        known = self.keys["capacite"]
        for m, c in enumerate(caps):
            cpath = f"{path}[{m}]"
            if not isinstance(c, dict):
                self.dev("not_an_object", cpath, "capacité qui n'est pas un objet JSON", SKIPPED)
                continue
            self._nulls_and_extras(c, known, cpath)
            raw = c.get("nombre")
            try:
                if isinstance(raw, bool) or raw is None:
                    raise ValueError
                number = float(str(raw).strip().replace(",", "."))
                if not (number == number) or number < 0 or number > 1e6:
                    raise ValueError
            except ValueError:
                self.dev("invalid_number", f"{cpath}.nombre", f"capacité non numérique : {raw!r} (ignorée)", SKIPPED)
                continue
            cols["capacity_id"].append(_str(c.get("idCapacite")))
            cols["activity_id"].append(act_id)
            cols["finess"].append(finess)
            cols["finess_ej"].append(fin_ej)
            cols["number"].append(number)
            cols["status"].append(_str(c.get("statutCapacite")))
            cols["unit"].append(_str(c.get("uniteMesureCapacite")))
            cols["habilitation"].append(_str(c.get("habilitation")))
            cols["gender"].append(_str(c.get("genre")))
            cols["housing"].append(_str(c.get("typeLogement")))
            cols["funding"].append(_str(c.get("modeFinancement")))

    def zone_of(self, z: object, path: str, act_id: str, fin_ej: str) -> str | None:
        if z is None:
            return None
        if not isinstance(z, dict):
            self.dev("not_an_object", path, "zoneIntervention n'est pas un objet", SKIPPED)
            return None
        self._nulls_and_extras(z, self.keys["zone"], path)
        zone_id = _str(z.get("zoneInterventionAutoriseeId")) or f"~{act_id}"
        label = _str(z.get("libelleZI"))
        communes = z.get("communeZI")
        if not isinstance(communes, list):
            self.dev("missing_field", f"{path}.communeZI", "zone sans liste de communes", SKIPPED)
            return None
        seen: set[str] = set()
        cols = self.zone.lists
        for m, entry in enumerate(communes):
            code = _str(entry.get("commune")) if isinstance(entry, dict) else _str(entry)
            if code is None or not COMMUNE_RE.fullmatch(code):
                self.dev("invalid_commune", f"{path}.communeZI[{m}].commune",
                         f"code commune invalide : {code!r} (ignoré)", SKIPPED)
                continue
            if code in seen:
                self.dev("duplicate_commune", f"{path}.communeZI[{m}].commune", f"commune {code} répétée")
                continue
            seen.add(code)
            cols["zone_id"].append(zone_id)
            cols["activity_id"].append(act_id)
            cols["finess_ej"].append(fin_ej)
            cols["commune"].append(code)
            cols["zone_label"].append(label)
        return zone_id if seen else None


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)


def read_activites(path: str | Path, report: DeviationReport | None = None,
                   strict: bool = False) -> ActivitesTables:
    """Read an Activités flow (plain or gzipped JSON), streaming.

    Raises :class:`~dac_map.errors.InputFormatError` for file-level problems (not JSON, other
    flow, truncated...) and, with ``strict``, :class:`~dac_map.errors.ValidationError` when an
    item does not conform to the shipped schema (every violation is in ``report``).
    """
    path = Path(path)
    report = report if report is not None else DeviationReport()
    head = check_flow(path, ACTIVITES)
    missing = fschema.top_level_errors(ACTIVITES, head.keys)
    for k in missing:
        report.add("metadata_missing" if k == "metadata" else "missing_field", path.name, f"$.{k}",
                   f"clé de premier niveau « {k} » absente")
    r = _ActivitesReader(path, report, strict)
    n_items = 0
    for i, item in iter_items(path):
        r.item(i, item)
        n_items += 1
    acts = _frame(r.act.table())
    caps = _frame(r.cap.table())
    zones = _frame(r.zone.table())
    eges = pd.DataFrame(r.ege_rows, columns=["finess", "ege_id", "finess_ej", "pm_id"], dtype="string")
    dup = eges["finess"].duplicated()
    for fin in eges.loc[dup, "finess"].head(20):
        report.add("duplicate_finess", path.name, "$.pmej[*].ege[*].numFinessEge",
                   f"établissement {fin} nommé plusieurs fois")
    eges = eges[~dup].reset_index(drop=True)
    pms = pd.DataFrame(r.pm_rows, columns=["finess_ej", "pm_id"], dtype="string").drop_duplicates("finess_ej")
    counts = {"legal_entities": n_items, "establishments": len(eges), "activities": len(acts),
              "capacities": len(caps), "zones": int(acts["zone_id"].notna().sum()),
              "zone_communes": len(zones)}
    report.files[path.name] = {"flow": ACTIVITES, "schemaVersion": head.top.get("schemaVersion"),
                               "generatedAt": head.top.get("generatedAt"), "counts": counts}
    if strict and (r.schema_errors or missing):
        raise ValidationError(
            f"mode strict : {r.schema_errors} écart(s) au schéma publié"
            + (f", clé(s) absente(s) {', '.join(missing)}" if missing else "")
            + (f" ; premier : {report.examples['schema'][0]}" if report.examples.get("schema") else "")
            + " / strict mode: the file does not conform to its schema", path=str(path))
    return ActivitesTables(path, acts, caps, zones, eges, pms,
                           schema_version=_str(head.top.get("schemaVersion")),
                           generated_at=_str(head.top.get("generatedAt")), counts=counts)
