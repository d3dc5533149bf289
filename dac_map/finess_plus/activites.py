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
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dac_map.codes import COMMUNE_RE, FINESS_RE
from dac_map.errors import KEPT, SKIPPED
from dac_map.finess_plus import schema as fschema
from dac_map.finess_plus.deviations import DeviationReport
from dac_map.finess_plus.labels import NATURE_ALIASES, NATURE_COMPONENTS

#: Keys of the coded components of each nature, in order.
NATURE_KEYS = {nature: tuple(k for k, _ in comps) for nature, comps in NATURE_COMPONENTS.items()}
from dac_map.finess_plus.source import ACTIVITES, stream_flow

#: Activities per Arrow chunk.
CHUNK = 50_000

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
DATE_COLUMNS = ("start_date", "end_date", "effective_end_date", "caducity_date")
_DATE_FIELDS = {"start_date": "dateDebutActiviteAutorisee", "end_date": "dateFinActiviteAutorisee",
                "effective_end_date": "dateFinEffectiveActivite", "caducity_date": "dateCaduciteAutorisation"}


class _Columns:
    """Column lists flushed into Arrow arrays every :data:`CHUNK` rows. String columns receive
    the raw JSON values; at flush they become trimmed strings (numbers as text, blanks and
    containers as null) in one vectorised pass; ``dates`` columns are checked there too."""

    def __init__(self, names: tuple[str, ...], floats: tuple[str, ...] = (),
                 dates: tuple[str, ...] = (), on_bad_date=None) -> None:
        self.names = names
        self.floats = set(floats)
        self.dates = set(dates)
        self.on_bad_date = on_bad_date
        #: one tuple per row, in the order of ``names`` (one append per row: cheaper than one
        #: per column)
        self.rows: list[tuple] = []
        self.chunks: list[pa.Table] = []

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list:
        """The values of one column of the rows not flushed yet."""
        i = self.names.index(name)
        return [r[i] for r in self.rows]

    def _strings(self, name: str, values: list) -> pa.Array:
        try:
            arr = pa.array(values, type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = pa.array([_str(v) for v in values], type=pa.string())
        arr = pc.utf8_trim_whitespace(arr)
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
        if name in self.dates:
            day = pc.utf8_slice_codeunits(arr, 0, 10)
            ok = pc.match_substring_regex(day, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
            bad = pc.and_(pc.is_valid(arr), pc.invert(pc.fill_null(ok, False)))
            if pc.any(bad).as_py():
                idx = np.flatnonzero(bad.to_numpy(zero_copy_only=False))
                if self.on_bad_date is not None:
                    self.on_bad_date(name, idx, arr)
            arr = pc.if_else(pc.fill_null(ok, False), day, pa.scalar(None, pa.string()))
        return arr

    def flush(self) -> None:
        if not len(self):
            return
        columns = [list(c) for c in zip(*self.rows)]
        arrays = [pa.array(values, type=pa.float64()) if n in self.floats else self._strings(n, values)
                  for n, values in zip(self.names, columns)]
        self.chunks.append(pa.Table.from_arrays(arrays, names=list(self.names)))
        self.rows.clear()

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


class ItemReader:
    """What the readers of both flows share: the deviation report of one file, strict-mode
    validation of each legal entity, null / extra-field counting."""

    flow = ""

    def __init__(self, path: Path, report: DeviationReport, strict: bool) -> None:
        self.path = path
        self.file = path.name
        self.report = report
        self.strict = strict
        self.keys = fschema.known_keys()
        self.schema_errors = 0

    def dev(self, kind: str, path: str, message: str, action: str = KEPT) -> None:
        self.report.add(kind, self.file, path, message, action)

    def begin(self, i: int, item: object) -> dict | None:
        """Strict-mode validation of the ``i``-th legal entity; the entity when it is an
        object, else None (reported)."""
        if self.strict:
            for where, msg in fschema.item_errors(self.flow, item, i):
                self.schema_errors += 1
                self.dev("schema", where, msg, SKIPPED)
        if not isinstance(item, dict):
            self.dev("not_an_object", f"$.pmej[{i}]", "entité juridique qui n'est pas un objet JSON", SKIPPED)
            return None
        return item

    def array(self, obj: dict, key: str, path: str) -> list:
        """``obj[key]`` when it is an array (absent: empty), else empty after reporting it as skipped."""
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.dev("not_an_object", f"{path}.{key}", f"{key} n'est pas un tableau", SKIPPED)
            return []
        return value

    def establishment_object(self, e: object, path: str) -> dict | None:
        """The establishment ``e`` when it is an object, else None (reported as skipped)."""
        if not isinstance(e, dict):
            self.dev("not_an_object", path, "établissement qui n'est pas un objet JSON", SKIPPED)
            return None
        return e

    def finess(self, value: object, path: str, what: str) -> str | None:
        """A FINESS number, or None after reporting ``what`` (the object left out) as skipped."""
        fin = _str(value)
        if fin is None or not FINESS_RE.fullmatch(fin):
            self.dev("invalid_finess", path, f"numéro FINESS invalide : {fin!r} ({what} ignoré(e))", SKIPPED)
            return None
        return fin

    def _nulls_and_extras(self, obj: dict, known: frozenset[str], path: str, suffix: str = "") -> None:
        """Count explicit nulls and fields the schema does not declare (the JSON path
        ``path + suffix`` is only built for the examples kept)."""
        rep = self.report
        n_null = list(obj.values()).count(None)
        if n_null:
            if "explicit_null" in rep.full:
                rep.counts["explicit_null"] += n_null
            else:
                rep.add("explicit_null", self.file, path + suffix, f"{n_null} champ(s) à null : "
                        + ", ".join(k for k, v in obj.items() if v is None)[:200], KEPT, count=n_null)
        if not known.issuperset(obj):
            extra = obj.keys() - known
            if "extra_field" in rep.full:
                rep.counts["extra_field"] += len(extra)
            else:
                for k in sorted(extra):
                    self.dev("extra_field", f"{path}{suffix}.{k}", f"champ « {k} » absent du schéma")


class _Entity(NamedTuple):
    """A legal entity or establishment object of the Activités flow, identified."""

    obj: dict
    finess: str
    id: str | None


class _ActivitesReader(ItemReader):
    flow = ACTIVITES

    def __init__(self, path: Path, report: DeviationReport, strict: bool) -> None:
        super().__init__(path, report, strict)
        self.act = _Columns(ACTIVITY_COLUMNS, dates=DATE_COLUMNS, on_bad_date=self._bad_dates)
        self.cap = _Columns(CAPACITY_COLUMNS, floats=("number",))
        self.zone = _Columns(ZONE_COLUMNS)
        self.ege_rows: list[tuple[str, str | None, str, str | None]] = []
        self.pm_rows: list[tuple[str, str | None]] = []
        self.n_activities = 0
        self.schema_errors = 0

    # ------------------------------------------------------------------ items
    def item(self, i: int, item: object) -> None:
        base = f"$.pmej[{i}]"
        pm = self._identified(self.begin(i, item), base, "numFiness", "pmSmsseId",
                              "entité juridique et ses activités")
        if pm is None:
            return
        for k in sorted(pm.obj.keys() - self.keys["pmej_activites"]):
            self.dev("extra_field", f"{base}.{k}", f"champ « {k} » absent du schéma")
        self.pm_rows.append((pm.finess, pm.id))
        self._activities(pm.obj, base, "activitesAutorisees", LEVEL_ENTITY, None, pm.finess, pm.id, None)
        for k, e in enumerate(self.array(pm.obj, "ege", base)):
            epath = f"{base}.ege[{k}]"
            ege = self._identified(self.establishment_object(e, epath), epath, "numFinessEge", "egeId",
                                   "établissement et ses activités")
            if ege is not None:
                self.ege_rows.append((ege.finess, ege.id, pm.finess, pm.id))
                self._activities(ege.obj, epath, "activitesExercees", LEVEL_ESTABLISHMENT, ege.finess,
                                 pm.finess, pm.id, ege.id)

    def _identified(self, obj: dict | None, path: str, finess_key: str, id_key: str, what: str
                    ) -> _Entity | None:
        """The legal entity or establishment ``obj`` (already checked; None: it was skipped) with
        its FINESS number ``finess_key`` and internal id ``id_key``, or None when the FINESS number
        is invalid (reported)."""
        if obj is None:
            return None
        fin = self.finess(obj.get(finess_key), f"{path}.{finess_key}", what)
        return None if fin is None else _Entity(obj, fin, _str(obj.get(id_key)))

    def _activities(self, obj: dict, path: str, key: str, level: str, fin: str | None, fin_ej: str,
                    pm_id: str | None, ege_id: str | None) -> None:
        """Read the activities array ``key`` of an entity object at ``path``."""
        for j, a in enumerate(self.array(obj, key, path)):
            self.activity(a, f"{path}.{key}[{j}]", level, fin, fin_ej, pm_id, ege_id)

    def _bad_dates(self, column: str, rows: np.ndarray, values: pa.Array) -> None:
        paths = self.act.column("json_path")
        for r in rows[: self.report.max_examples]:
            self.dev("invalid_date", f"{paths[r]}.caracteristiquesGeneriques.{_DATE_FIELDS[column]}",
                     f"date invalide : {str(values[int(r)].as_py())[:40]!r} (ignorée)")
        if len(rows) > self.report.max_examples:
            self.report.count("invalid_date", len(rows) - self.report.max_examples)

    def activity(self, a: object, path: str, level: str, finess: str | None, fin_ej: str,
                 pm_id: str | None, ege_id: str | None) -> None:
        if type(a) is not dict:
            self.dev("not_an_object", path, "activité qui n'est pas un objet JSON", SKIPPED)
            return
        g = a.get("caracteristiquesGeneriques")
        nat = a.get("nature")
        if type(g) is not dict or type(nat) is not dict:
            self.dev("missing_field", path, "activité sans caracteristiquesGeneriques ou nature (ignorée)", SKIPPED)
            return
        rep = self.report
        full = rep.full
        self._nulls_and_extras(g, self.keys["generiques"], path, ".caracteristiquesGeneriques")
        nature_raw = _str(nat.get("codeNature"))
        if nature_raw is None:
            self.dev("missing_field", f"{path}.nature.codeNature", "activité sans codeNature (ignorée)", SKIPPED)
            return
        nature = NATURE_ALIASES.get(nature_raw, nature_raw)
        if nature != nature_raw:
            if "nature_asmr" in full:
                rep.counts["nature_asmr"] += 1
            else:
                self.dev("nature_asmr", f"{path}.nature.codeNature", f"« {nature_raw} » lu comme « {nature} »")
        elif nature not in NATURE_COMPONENTS:
            self.dev("unknown_code", f"{path}.nature.codeNature", f"nature d'activité inconnue : {nature_raw!r}")
        spec = nat.get("caracteristiquesSpecifiques")
        c1 = c2 = c3 = c4 = c5 = age_min = age_max = None
        if type(spec) is dict:
            n_null = list(spec.values()).count(None)
            if n_null:
                if "explicit_null" in full:
                    rep.counts["explicit_null"] += n_null
                else:
                    rep.add("explicit_null", self.file, f"{path}.nature.caracteristiquesSpecifiques",
                            f"{n_null} champ(s) à null", KEPT, count=n_null)
            typ = None
            for k, v in spec.items():
                if type(v) is dict and k.startswith("typeActivite"):
                    typ = v
                    break
            if typ is not None:
                keys = NATURE_KEYS.get(nature)
                comps = [typ.get(k) for k in keys] if keys else list(typ.values())
                comps += [None] * (5 - len(comps))
                c1, c2, c3, c4, c5 = comps[:5]
            age_min = spec.get("ageMinAutorise") or spec.get("ageMinInstalle")
            age_max = spec.get("ageMaxAutorise") or spec.get("ageMaxInstalle")
        act_id = g.get("activiteAeId")
        if type(act_id) is not str or not act_id.strip():
            act_id = _str(act_id)
            if act_id is None:
                act_id = f"~{finess or fin_ej}:{path.split('.', 1)[1]}"
                self.dev("activity_id_missing", f"{path}.caracteristiquesGeneriques.activiteAeId",
                         f"activité {nature_raw} sans identifiant : clé {act_id}")
        else:
            act_id = act_id.strip()
        state = g.get("etatObjet")
        if state != "A" and state != "I":
            self.dev("unknown_state", f"{path}.caracteristiquesGeneriques.etatObjet", f"état {state!r}")
        z = a.get("zoneIntervention")
        zone_id = None if z is None else self.zone_of(z, path, act_id, fin_ej)
        self.act.rows.append((
            act_id, level, finess, fin_ej, pm_id, ege_id or g.get("egeId"), nature, nature_raw,
            g.get("typeActiviteSMSSE"), c1, c2, c3, c4, c5, state, g.get("dateDebutActiviteAutorisee"),
            g.get("dateFinActiviteAutorisee"), g.get("dateFinEffectiveActivite"), g.get("dateCaduciteAutorisation"),
            g.get("numAutorisationArhgos"), g.get("identifiantAutorisation"), age_min, age_max, zone_id, path))
        caps = a.get("capacite")
        if caps:
            self.capacities(caps, path, act_id, finess, fin_ej)
        self.n_activities += 1
        if len(self.act) >= CHUNK:
            self.act.flush()
            self.cap.flush()
            self.zone.flush()

    def capacities(self, caps: object, apath: str, act_id: str, finess: str | None, fin_ej: str) -> None:
        if type(caps) is not list:
            self.dev("not_an_object", f"{apath}.capacite", "capacite n'est pas un tableau", SKIPPED)
            return
        rows = self.cap.rows
        known = self.keys["capacite"]
        for m, c in enumerate(caps):
            if type(c) is not dict:
                self.dev("not_an_object", f"{apath}.capacite[{m}]", "capacité qui n'est pas un objet JSON", SKIPPED)
                continue
            self._nulls_and_extras(c, known, apath, f".capacite[{m}]")
            raw = c.get("nombre")
            try:
                if type(raw) is bool or raw is None:
                    raise ValueError
                try:
                    number = float(raw)
                except ValueError:
                    number = float(str(raw).strip().replace(",", "."))
                if not (0 <= number <= 1e6):
                    raise ValueError
            except (ValueError, TypeError):
                self.dev("invalid_number", f"{apath}.capacite[{m}].nombre",
                         f"capacité non numérique : {str(raw)[:40]!r} (ignorée)", SKIPPED)
                continue
            rows.append((c.get("idCapacite"), act_id, finess, fin_ej, number, c.get("statutCapacite"),
                         c.get("uniteMesureCapacite"), c.get("habilitation"), c.get("genre"), c.get("typeLogement"),
                         c.get("modeFinancement")))

    def zone_of(self, z: object, apath: str, act_id: str, fin_ej: str) -> str | None:
        path = f"{apath}.zoneIntervention"
        if not isinstance(z, dict):
            self.dev("not_an_object", path, "zoneIntervention n'est pas un objet", SKIPPED)
            return None
        self._nulls_and_extras(z, self.keys["zone"], apath, ".zoneIntervention")
        zone_id = _str(z.get("zoneInterventionAutoriseeId")) or f"~{act_id}"
        label = _str(z.get("libelleZI"))
        communes = z.get("communeZI")
        if not isinstance(communes, list):
            self.dev("missing_field", f"{path}.communeZI", "zone sans liste de communes", SKIPPED)
            return None
        seen: set[str] = set()
        rows = self.zone.rows
        for m, entry in enumerate(communes):
            code = entry.get("commune") if type(entry) is dict else entry
            if type(code) is not str or not COMMUNE_RE.fullmatch(code):
                code = _str(code)
            if code is None or not COMMUNE_RE.fullmatch(code):
                self.dev("invalid_commune", f"{path}.communeZI[{m}].commune",
                         f"code commune invalide : {code!r} (ignoré)", SKIPPED)
                continue
            if code in seen:
                self.dev("duplicate_commune", f"{path}.communeZI[{m}].commune", f"commune {code} répétée")
                continue
            seen.add(code)
            rows.append((zone_id, act_id, fin_ej, code, label))
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
    r = _ActivitesReader(path, report, strict)
    head, n_items = stream_flow(path, ACTIVITES, r.item, report, strict, lambda: r.schema_errors)
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
    return ActivitesTables(path, acts, caps, zones, eges, pms,
                           schema_version=_str(head.top.get("schemaVersion")),
                           generated_at=_str(head.top.get("generatedAt")), counts=counts)
