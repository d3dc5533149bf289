"""Deterministic synthetic data·inclusion files in the real shape (schema v1 open-data files:
a JSON array of services, one of structures), for tests and benchmarks.

:func:`synthetic_services` draws every value from the package's reference lists (thematics,
publics, fees, modes), with real-looking names, addresses, SIRETs, opening hours, zones
(commune, department, EPCI, ``france``), ``score_qualite`` and, like the published files,
a few records that deviate (an unknown thematic, a bad e-mail, a future date...).
``finess_like`` structures copy the name/address/SIRET of given FINESS establishments, so
deduplication has something to find. Never used by the app.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

_WORDS = ("Aide alimentaire", "Accompagnement social", "Permanence d'accès aux droits",
          "Épicerie solidaire", "Transport solidaire", "Groupe de parole", "Atelier numérique",
          "Aide au logement", "Point conseil budget", "Médiation santé", "Café des aidants",
          "Écoute psychologique", "Consultation addictologie", "Domiciliation")
_STRUCT = ("CCAS de", "France Services", "Centre social", "Association solidarité",
           "Secours populaire", "Restos du cœur", "Maison des solidarités", "CSAPA")
_STREETS = ("rue de la République", "avenue Jean Jaurès", "place de la Mairie", "rue Victor Hugo",
            "boulevard Gambetta", "rue du Général de Gaulle", "chemin des Écoles")
_HOURS = ("Mo-Fr 08:30-12:30,13:30-17:00; PH off", "Mo,We,Fr 09:00-12:00", "Tu-Sa 10:00-18:00",
          "Mo-Fr 09:00-17:00", None)


def _lists():
    from data_inclusion.schema import v1

    return ([t.value for t in v1.Thematique], [p.value for p in v1.Public if p.value != "tous-publics"],
            [m.value for m in v1.ModeMobilisation])


def _departments() -> list[str]:
    deps = [f"{i:02d}" for i in range(1, 96) if i != 20] + ["2A", "2B", "971", "972", "973", "974", "976"]
    return deps


def synthetic_records(n_services: int, *, seed: int = 0, n_structures: int | None = None,
                      finess_like: Sequence[dict] = (), deviate_share: float = 0.01
                      ) -> tuple[list[dict], list[dict]]:
    """``(services, structures)`` as lists of dicts (see the module doc). ``finess_like``:
    dicts with ``name``, ``address``, ``commune``, ``siret`` (may be empty) copied into the
    first structures."""
    rng = np.random.default_rng(seed)
    themes, publics, modes = _lists()
    deps = _departments()
    n_struct = n_structures or max(1, n_services // 3)
    structures = []
    for j in range(n_struct):
        if j < len(finess_like):
            f = finess_like[j]
            name, address, commune = f["name"], f["address"], f["commune"]
            siret = f.get("siret") or None
            if j % 3 == 1:
                name = name.upper()  # same place, spelt differently
            if j % 3 == 2:
                siret = None
        else:
            dep = deps[int(rng.integers(len(deps)))]
            commune = dep + f"{int(rng.integers(1, 600)):03d}" if len(dep) == 2 else dep + f"{int(rng.integers(1, 60)):02d}"
            name = f"{_STRUCT[int(rng.integers(len(_STRUCT)))]} {commune} n°{j}"
            address = f"{int(rng.integers(1, 200))} {_STREETS[int(rng.integers(len(_STREETS)))]}"
            siret = f"{int(rng.integers(10**13, 10**14 - 1)):014d}" if rng.random() < 0.7 else None
        s = {"source": "dora" if j % 2 else "soliguide", "id": f"struct-{j}", "nom": name,
             "date_maj": "2025-0%d-1%d" % (1 + j % 9, j % 10), "siret": siret,
             "adresse": address, "code_insee": commune, "commune": f"Commune {commune}",
             "code_postal": commune[:2] + "000" if commune[:2].isdigit() else "20000",
             "longitude": round(float(rng.uniform(-1.5, 7.5)), 6),
             "latitude": round(float(rng.uniform(43.0, 50.5)), 6),
             "telephone": f"0{int(rng.integers(1, 6))}{int(rng.integers(10**7, 10**8 - 1))}",
             "courriel": f"contact{j}@structure{j % 997}.fr", "horaires_accueil": _HOURS[j % len(_HOURS)]}
        structures.append({k: v for k, v in s.items() if v is not None})
    services = []
    for i in range(n_services):
        st = structures[int(rng.integers(n_struct))]
        k = int(rng.integers(1, 4))
        z = rng.random()
        if z < 0.35:
            zone = [st["code_insee"]]
        elif z < 0.75:
            zone = [st["code_insee"][:3] if st["code_insee"].startswith("97") else st["code_insee"][:2]]
        elif z < 0.85:
            zone = [f"2{int(rng.integers(10**7, 10**8 - 1)):08d}"]
        else:
            zone = ["france"]
        svc = {
            "source": st["source"], "structure_id": st["id"], "id": f"{st['source']}--svc-{i}",
            "nom": f"{_WORDS[int(rng.integers(len(_WORDS)))]} {i}",
            "description": ("Service d'accompagnement de proximité : accueil, information, orientation "
                            "et aide aux démarches pour les personnes du territoire. ") * int(rng.integers(1, 5)),
            "lien_source": f"https://dora.inclusion.beta.gouv.fr/services/svc-{i}",
            "date_maj": "2025-%02d-%02d" % (1 + i % 9, 1 + i % 28),
            "type": ("accompagnement", "information", "atelier", "aide-materielle")[i % 4],
            "thematiques": sorted({themes[int(x)] for x in rng.integers(0, len(themes), k)}),
            "frais": "gratuit" if rng.random() < 0.8 else "payant",
            "publics": ["tous-publics"] if rng.random() < 0.4 else sorted({publics[int(x)] for x in rng.integers(0, len(publics), k)}),
            "code_insee": st["code_insee"], "commune": st["commune"], "code_postal": st["code_postal"],
            "adresse": st["adresse"], "longitude": st["longitude"], "latitude": st["latitude"],
            "telephone": st["telephone"], "courriel": f"service{i}@structure{i % 997}.fr",
            "modes_accueil": ["en-presentiel"], "zone_eligibilite": zone,
            "modes_mobilisation": sorted({modes[int(x)] for x in rng.integers(0, len(modes), 2)}),
            "mobilisable_par": ["usagers", "professionnels"],
            "horaires_accueil": _HOURS[i % len(_HOURS)],
            "score_qualite": round(float(rng.uniform(0.3, 1.0)), 2),
        }
        if rng.random() < deviate_share:
            bad = int(rng.integers(4))
            if bad == 0:
                svc["thematiques"] = svc["thematiques"] + ["thematique-inconnue"]
            elif bad == 1:
                svc["courriel"] = "pas-un-courriel"
            elif bad == 2:
                svc["date_maj"] = "2999-01-01"  # future: the record is rejected
            else:
                svc["profils"] = ["adultes"]  # 2024 field set
        services.append({k: v for k, v in svc.items() if v is not None})
    return services, structures


def write_json(path: str | Path, records: Sequence[dict], *, gz: bool = False) -> Path:
    """Write ``records`` as one JSON array (gzipped when ``gz``), one record per line."""
    path = Path(path)
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8") as f:  # type: ignore[operator]
        f.write("[\n")
        for i, r in enumerate(records):
            f.write(("," if i else "") + json.dumps(r, ensure_ascii=False) + "\n")
        f.write("]\n")
    return path


def iter_chunks(seq: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def local_table_with_finess_copy(target: str | Path) -> tuple[Path, str, str]:
    """The demo's FICTITIOUS local table written at ``target`` plus one row that enters a Somme
    establishment of the demo FINESS extract again (its name and address, no SIRET), so that an
    import proposes that pair by name and address. Returns ``(table, proposed FINESS number,
    a Lot FINESS number no resource resembles)``."""
    from dac_map import settings
    from dac_map.cli import DEMO_ESTABLISHMENTS
    from dac_map.inclusion import steward

    lines = [line.split(";") for line in DEMO_ESTABLISHMENTS.read_text(encoding="latin-1").splitlines()
             if line.startswith("structureet;")]
    raw = next(f for f in lines if f[13] == "80")
    other = next(f[1] for f in lines if f[13] == "46")
    rows = steward.read_table(settings.INCLUSION_DEMO_TABLE).rows
    rows.append({**rows[0], "id": "copie-finess", "structure_nom": raw[3].title(),
                 "adresse": " ".join(x for x in (raw[7], raw[8], raw[9]) if x).lower(),
                 "code_insee": raw[13] + raw[12], "structure_siret": None})
    target = Path(target)
    steward.save_table(target, rows, author="Test")
    return target, raw[1], other
