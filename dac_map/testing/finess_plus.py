"""Synthetic FINESS+ flows in the real shape (benchmarks and tests): **fictitious** legal
entities, establishments, activities, capacities and intervention zones, written as the ANS
files are (one JSON document, ``pmej`` array, two-space indentation with `` : `` separators,
CRLF line endings, explicit nulls, the ``ASMR`` nature code, the swapped Lambert-93 axes).

Written item by item: the document is never held in memory. Deterministic for a given seed.
Numbers are FINESS-shaped but made up (``99`` + 7 digits would be invalid, so real department
prefixes are used): never use these files as data.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pyproj

#: Departments used (metropolitan), and their rough WGS84 centre.
_DEPARTMENTS = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"]

#: Activity templates: (nature as written in files, type key, R392-like code, components,
#: zone-based). Social home services carry zones.
_TEMPLATES = [
    ("ASMR", "typeActiviteAMSR", "1514", {"activiteSocialeRegulee": "358", "modeFonctionnement": "16", "public": "700"}, True),
    ("ASMR", "typeActiviteAMSR", "1498", {"activiteSocialeRegulee": "358", "modeFonctionnement": "16", "public": "010"}, True),
    ("ASMR", "typeActiviteAMSR", "1494", {"activiteSocialeRegulee": "357", "modeFonctionnement": "16", "public": "436"}, True),
    ("ASMR", "typeActiviteAMSR", "1623", {"activiteSocialeRegulee": "469", "modeFonctionnement": "16", "public": "700"}, True),
    ("ASMR", "typeActiviteAMSR", "3120", {"activiteSocialeRegulee": "924", "modeFonctionnement": "11", "public": "711"}, False),
    ("ASMR", "typeActiviteAMSR", "3114", {"activiteSocialeRegulee": "924", "modeFonctionnement": "11", "public": "436"}, False),
    ("ASMR", "typeActiviteAMSR", "3125", {"activiteSocialeRegulee": "924", "modeFonctionnement": "21", "public": "436"}, False),
    ("ASOCR", "typeActiviteASOCR", "4091", {"activiteSocialeRegulee": "911", "modeFonctionnement": "97", "public": "808"}, False),
    ("ASDR", "typeActiviteASDR", "1301", {"activiteSanitaireDiverseRegulee": "824", "modeFonctionnement": "09", "public": "990"}, False),
    ("AMF", "typeActiviteAMF", "268", {"activiteAMF": "18", "modaliteActivite": "67", "formeActivite": "15"}, False),
]


@dataclass(frozen=True)
class Sizes:
    """How much to generate (defaults: the national figures of issue 11)."""

    legal_entities: int = 60_000
    establishments: int = 100_000
    activities: int = 600_000
    capacities: int = 800_000
    zones: int = 40_000
    communes_per_zone: int = 25

    def scaled(self, factor: float) -> Sizes:
        return Sizes(*(max(1, int(round(getattr(self, f) * factor))) if f != "communes_per_zone"
                       else self.communes_per_zone for f in self.__dataclass_fields__))


def _finess(dep: str, n: int) -> str:
    return f"{dep}{n:07d}"[:9]


def _open(path: Path):
    return gzip.open(path, "wt", encoding="utf-8", newline="") if path.suffix == ".gz" else \
        open(path, "w", encoding="utf-8", newline="")


def _dump(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, separators=(",", " : ")).replace("\n", "\r\n")


def _write(path: Path, head: dict[str, object], items) -> Path:
    """Write ``{head..., "pmej": [items...]}`` item by item (pretty-printed, CRLF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open(path) as f:
        f.write("{\r\n")
        for k, v in head.items():
            f.write(f'  "{k}" : {json.dumps(v)},\r\n')
        f.write('  "pmej" : [ ')
        first = True
        for item in items:
            if not first:
                f.write(", ")
            first = False
            f.write(_dump(item).replace("\r\n", "\r\n  "))
        f.write(" ]\r\n}\r\n")
    return path


def _plan(sizes: Sizes, seed: int):
    """Legal entity of each establishment (every legal entity has at least one)."""
    rnd = random.Random(seed)
    owners = list(range(sizes.legal_entities)) + [rnd.randrange(sizes.legal_entities)
                                                 for _ in range(sizes.establishments - sizes.legal_entities)]
    rnd.shuffle(owners)
    by_pm: list[list[int]] = [[] for _ in range(sizes.legal_entities)]
    for e, pm in enumerate(owners):
        by_pm[pm].append(e)
    return by_pm


def _dep(pm: int) -> str:
    return _DEPARTMENTS[pm % len(_DEPARTMENTS)]


def write_structures(path: str | Path, sizes: Sizes = Sizes(), seed: int = 11) -> Path:
    """Write a synthetic Structures flow (no ``metadata`` object, like the real example)."""
    rnd = random.Random(seed)
    by_pm = _plan(sizes, seed)
    to_l93 = pyproj.Transformer.from_crs(4326, 2154, always_xy=True)

    def items():
        for pm, eges in enumerate(by_pm):
            dep = _dep(pm)
            ege_items = []
            for e in eges:
                commune = f"{dep}{rnd.randrange(1, 600):03d}"
                lon, lat = 2.0 + rnd.uniform(-2.5, 5.0), 46.5 + rnd.uniform(-3.0, 4.0)
                x, y = to_l93.transform(lon, lat)
                closed = rnd.random() < 0.3
                adr = {"usageAdresse": "03", "numeroVoie": str(rnd.randrange(1, 200)), "typeVoie": "R",
                       "libelleVoie": f"DES TESTS {e % 997}", "cogCommune": commune,
                       "ligneAcheminement": f"VILLE {commune}", "ligneQuatre": "1 RUE DES TESTS",
                       "codePostal": f"{dep[:2].replace('A', '0').replace('B', '0')}{rnd.randrange(0, 999):03d}"}
                if rnd.random() < 0.9:  # some addresses without coordinates, like the real file
                    adr["coordonneesGeographique"] = {
                        "coordonneeX": f"{y:.2f}", "coordonneeY": f"{x:.2f}",  # swapped, as ANS does
                        "directionLatitude": f"{lat:.6f}", "directionLongitude": f"{lon:.6f}",
                        "cleInInteropBAN": f"{commune}_0001_00001", "scoreBAN": f"{rnd.random():.4f}"}
                info = {"egeId": str(e + 1), "dateOuverture": "2001-01-01", "datePremiereAutorisation": "2001-01-01",
                        "nomEgeCourt": f"ETABLISSEMENT FICTIF {e}", "nomEgeLong": f"ETABLISSEMENT FICTIF NUMERO {e}",
                        "numFinessEge": _finess(dep, 5_000_000 + e), "siret": f"{10**13 + e:014d}"}
                if closed:
                    info["dateFermeture"] = "2020-01-01"
                ege_items.append({
                    "informationsGeneralesEGE": info,
                    "categorieentiteGeographiqueExercice": rnd.choice(["500", "354", "460", "209", "355", "182"]),
                    "modefixationtarifaire": "07", "typeBudget": ["01"], "adresse": [adr],
                    "contact": [{"typeContact": {"roleContact": "01"}, "telecom": {"telephone": f"0{rnd.randrange(10**8, 10**9)}"}}],
                    "engagement": [], "evenement": [{"evenementId": str(e), "dateEnregistrement": "2025-10-21 18:36:29",
                                                     "dateEvenement": "2001-01-01", "etatObjet1": "003",
                                                     "identifiantObjet1": str(e), "systemeMaitre": "01",
                                                     "typeObjet1": "EG", "codeEvenement": "003"}],
                    "roleEge": [], "etatObjet": "I" if closed else "A", "dateDerniereMaj": "2025-10-21 00:00:00"})
            yield {"informationsGeneralesPMEJ": {
                       "pmSmsseId": str(pm + 1), "codeApe": "87.10A", "dateCreation": "1990-01-01",
                       "denominationLonguePmSmsse": f"ENTITE FICTIVE {pm}", "denominationPm": f"ENTITE FICTIVE {pm}",
                       "numFinessPm": _finess(dep, pm + 1), "siren": f"{10**8 + pm:09d}", "statutJuridique": "60",
                       "typePersonneMorale": "01"},
                   "adresse": [{"usageAdresse": "02", "cogCommune": f"{dep}001", "ligneAcheminement": "VILLE",
                                "codePostal": "01000"}],
                   "contact": [], "engagement": [], "evenement": [], "ege": ege_items, "etatObjet": "A",
                   "dateDerniereMaj": "2025-10-21 00:00:00"}

    return _write(Path(path), {"schemaVersion": "v1.0.0", "generatedAt": "2026-03-09T15:49:37Z"}, items())


def write_activites(path: str | Path, sizes: Sizes = Sizes(), seed: int = 11) -> Path:
    """Write a synthetic Activités flow: ``activities`` activities (45 % authorised on legal
    entities, the rest exercised by establishments, of the same types), ``capacities`` capacity
    lines, ``zones`` zones of ``communes_per_zone`` communes on average (on zone-based types)."""
    rnd = random.Random(seed + 1)
    by_pm = _plan(sizes, seed)
    n_auth = int(sizes.activities * 0.45)
    n_exer = max(0, sizes.activities - n_auth - sizes.zones)  # each zone adds one exercised activity
    auth_per_pm = [0] * sizes.legal_entities
    for _ in range(n_auth):
        auth_per_pm[rnd.randrange(sizes.legal_entities)] += 1
    exer_per_ege = [0] * sizes.establishments
    for _ in range(n_exer):
        exer_per_ege[rnd.randrange(sizes.establishments)] += 1
    cap_prob = sizes.capacities / max(1, sizes.activities)
    zone_based = [t for t in _TEMPLATES if t[4]]
    zoned_auth = set(rnd.sample(range(n_auth), min(sizes.zones, n_auth)))
    counter = iter(range(1, 10**9))
    auth_seen = iter(range(10**9))

    def activity(level_pm: bool, pm: int, ege_id: str | None, zone_ok: bool) -> dict:
        aid = str(next(counter))
        with_zone = level_pm and zone_ok and next(auth_seen) in zoned_auth
        if with_zone:
            nat, key, code, comps, _ = zone_based[len(zone_templates_used) % len(zone_based)]
            zone_templates_used.append(code)
        else:
            nat, key, code, comps, _ = rnd.choice([t for t in _TEMPLATES if not t[4]])
        n_cap = int(cap_prob) + (1 if rnd.random() < cap_prob - int(cap_prob) else 0)
        caps = [{"idCapacite": f"{aid}{k}", "nombre": str(rnd.randrange(1, 120)), "precision": None,
                 "variation": None, "activiteAeId": aid, "engagementId": None,
                 "habilitation": "02" if k % 2 else None, "statutCapacite": "08" if k % 2 == 0 else "09",
                 "modeFinancement": None, "uniteMesureCapacite": "02", "typeLogement": None, "genre": None}
                for k in range(n_cap)]
        zone = None
        if with_zone:
            dep = _dep(pm)
            n = rnd.randint(1, 2 * sizes.communes_per_zone - 1)  # mean communes_per_zone
            communes = sorted(f"{dep}{c:03d}" for c in rnd.sample(range(1, 600), n))
            zone = {"zoneInterventionAutoriseeId": aid, "libelleZI": None, "activiteAeId": aid,
                    "communeZI": [{"commune": c} for c in communes]}
        gen = {"activiteAeId": aid, "etatObjet": "A" if rnd.random() < 0.85 else "I",
               "identifiantAutorisation": None, "numAutorisationArhgos": None,
               "dateDebutActiviteAutorisee": "2009-06-10", "dateFinActiviteAutorisee": None,
               "dateFinEffectiveActivite": None, "dateCaduciteAutorisation": None,
               "egeId": ege_id, "typeActiviteSMSSE": code}
        if level_pm:
            gen["pmSmsseExploitanteId"] = None
        else:
            gen["egeExploitanteId"] = None
            gen["egeFacturante"] = None
        return {"caracteristiquesGeneriques": gen,
                "nature": {"codeNature": nat, "caracteristiquesSpecifiques": {
                    "aaSocialeReguleeId": aid, "ageMaxAutorise": None, "ageMinAutorise": None,
                    "activiteAeId": aid, key: dict(comps)}},
                "evenement": [{"evenementId": aid, "dateEnregistrement": "2025-10-21 19:37:03",
                               "dateEvenement": "2009-06-10", "etatObjet1": "010", "identifiantObjet1": aid,
                               "identifiantObjet2": str(pm + 1), "systemeMaitre": "01", "typeObjet1": "AC",
                               "typeObjet2": "PM", "codeEvenement": "010"}],
                "engagement": [], "capacite": caps, "zoneIntervention": zone}

    zone_templates_used: list[str] = []

    def items():
        for pm, eges in enumerate(by_pm):
            dep = _dep(pm)
            autorisees = [activity(True, pm, None, True) for _ in range(auth_per_pm[pm])]
            ege_items = []
            for e in eges:
                ege_id = str(e + 1)
                ege_items.append({"egeId": ege_id, "numFinessEge": _finess(dep, 5_000_000 + e),
                                  "activitesExercees": [activity(False, pm, ege_id, False)
                                                        for _ in range(exer_per_ege[e])]})
            # exercised activities of the zone-based types inherit the zone of the same type
            zoned = [a["caracteristiquesGeneriques"]["typeActiviteSMSSE"] for a in autorisees if a["zoneIntervention"]]
            for z in zoned:
                if ege_items:
                    tmpl = next(t for t in _TEMPLATES if t[2] == z)
                    act = activity(False, pm, ege_items[0]["egeId"], False)
                    act["caracteristiquesGeneriques"]["typeActiviteSMSSE"] = z
                    act["caracteristiquesGeneriques"]["etatObjet"] = "A"
                    act["nature"] = {"codeNature": tmpl[0], "caracteristiquesSpecifiques": {
                        "activiteAeId": act["caracteristiquesGeneriques"]["activiteAeId"], tmpl[1]: dict(tmpl[3])}}
                    ege_items[0]["activitesExercees"].append(act)
            yield {"numFiness": _finess(dep, pm + 1), "pmSmsseId": str(pm + 1),
                   "activitesAutorisees": autorisees, "ege": ege_items}

    return _write(Path(path), {"schemaVersion": "v1.0.1", "generatedAt": "2026-04-01T00:00:00Z"}, items())
