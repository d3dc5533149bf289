"""Deterministic generator of synthetic etalab equipment extracts (cs1100505,
``equipementsocial`` lines) for a table of establishments: :func:`write_equipment_extract`,
from the :data:`PROFILE` table of plausible (discipline, activity type, clientèle, capacity)
combinations per category, with the embedded discipline (TRE-R280), clientèle (TRE-R279) and
activity type labels. With ``illustrative=True`` the lines say that their capacities are
fictitious (``sourceinfo`` ``X``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from dac_map.etl.layouts import EQUIPEMENTSOCIAL
from dac_map.testing.synthetic import random_dates, write_section
from dac_map.testing.synthetic_tables import csv_rows


class EquipmentOption(NamedTuple):
    """One plausible ``equipementsocial`` line of a category."""

    de: str  #: discipline (TRE-R280)
    ta: str  #: activity type (mode de fonctionnement)
    client: str  #: clientèle (TRE-R279)
    cap_min: int  #: capacity range, inclusive
    cap_max: int
    probability: float  #: chance that an establishment has this line (1.0 for the main one)


#: Discipline labels (``libde``), copied from TRE-R280 (``TRE_R280_DisciplineEquipementSocial``).
DISCIPLINE_LABELS: dict[str, str] = {
    "246": "Hébergement Accueil Mère Enfant",
    "247": "Hébergement en centre parental",
    "257": "Aide éducative à Domicile",
    "258": "Action Éducative en Milieu Ouvert",
    "259": "Activ.Club et Équipe de Prévention",
    "319": "Education Spécialisée et Soins à domicile Enfants Handicapés",
    "320": "Activité C.M.P.P.",
    "325": "Placement Familial pour Enfants Handicapés",
    "358": "Soins infirmiers à Domicile",
    "377": "Stationnement Pour Nomades",
    "380": "Mesure judiciaire aide gestion budget familial",
    "381": "Héberg. non médicalisé de patients, accompagnants, aidants",
    "382": "Tutelle aux Prestations Sociales",
    "399": "Préorientation pour Adultes handicapés",
    "469": "Aide à Domicile",
    "506": "Evaluat réentraînem orientat soc. et socioprof cérébro-lésés",
    "507": "Hébergement médico soc personnes en difficultés spécifiques",
    "508": "Accueil orientation soins accompagnement diff spécifiques",
    "509": "Accompagnement à la vie sociale des adultes handicapés",
    "510": "Accompagnement médico social des adultes handicapés",
    "520": "Tutelle curatelle mandat spécial sauvegarde justice pers maj",
    "521": "Mesure d'accompagnement judiciaire",
    "522": "Mesure d'accompagnement social personnalisé",
    "523": "Information des tuteurs familiaux",
    "633": "Services expérimentaux en faveur des personnes âgées",
    "650": "Accueil temporaire enfants handicapés",
    "654": "Hébergement Spécialisé Pr Enfants et Adolescents Handicapés",
    "657": "Accueil temporaire pour Personnes Âgées",
    "658": "Accueil temporaire pour adultes handicapés",
    "691": "Services expérimentaux en faveur des adultes handicapés",
    "844": "Tous projets éducatifs thérapeutiques et pédagogiques",
    "897": "Hébergement ouvert en foyer pour adultes handicapés",
    "900": "Action Médico-Sociale Précoce",
    "901": "Éducation Générale et Soins Spécialisés Enfants Handicapés",
    "902": "Éducation Profession.& Soins Spécial.Enfants Handicapés",
    "906": "Réadaptation Professionnelle pour Adultes Handicapés",
    "908": "Aide par le travail pour Adultes Handicapés",
    "912": "Accueil au titre de la protection de l'enfance",
    "913": "Accueil d'urgence protection de l'enfance",
    "916": "Hébergement Réadapt. Sociale Pers.Familles en Difficulté",
    "917": "Accueil spécialisé pour Adultes Handicapés",
    "920": "Hébergement Ouvert en Ets Pr Adultes & Familles",
    "922": "Accueil Temporaire d'Urgence Pr Adultes & Familles",
    "924": "Accueil pour Personnes Âgées",
    "925": "Hébergement résidence autonomie personnes âgées seules F1",
    "926": "Hébergement résidence autonomie personnes âgées couple F2",
    "929": "Consultation d'Orientation Pour Mineurs Justice",
    "930": "Observation Orientation Pour Mineurs Justice",
    "931": "Suivi Social en Milieu Ouvert",
    "935": "Activités des Établissements Expérimentaux",
    "936": "Accueil en Foyer de Vie pour Adultes Handicapés",
    "939": "Accueil médicalisé pour adultes handicapés",
    "941": "Maisons Relais - Résidence Accueil",
    "943": 'Maisons Relais "Classique"',
    "945": "Résidences Sociales ex Foyers Travailleurs Migrants",
    "946": "Résidences Sociales créées ex Nihilo",
    "947": "Résidence sociale FJT",
    "957": "Hébergement d'insertion Adultes,Familles Difficulté",
    "958": "Hébergement de Stabilisation Adultes,familles Difficulté",
    "959": "Hébergement d'Urgence Adultes, Familles Difficulté",
    "961": "Pôles d'activité et de soins adaptés",
    "964": "Accueil et accompagnement spécialisé personnes handicapés",
    "965": "Accueil et accompagnement non médical. personnes handicapées",
    "966": "Accueil et accompagnement médicalisé personnes handicapées",
}

#: Activity type labels (``libta``) as they appear in the extracts.
ACTIVITY_LABELS: dict[str, str] = {
    "11": "Hébergement Complet Internat",
    "13": "Semi-Internat",
    "14": "Externat",
    "15": "Placement Famille d'Accueil",
    "16": "Prestation en milieu ordinaire",
    "21": "Accueil de Jour",
    "40": "Accueil temporaire avec hébergement",
}

#: Clientèle labels (``libclient``), from TRE-R279.
CLIENT_LABELS: dict[str, str] = {
    "010": "Tous Types de Déficiences Pers.Handicap.(sans autre indic.)",
    "117": "Déficience intellectuelle",
    "200": "Difficultés psychologiques avec troubles du comportement",
    "205": "Déficience du Psychisme (Sans Autre Indication)",
    "206": "Handicap psychique",
    "318": "Déficience auditive grave",
    "324": "Déficience visuelle grave",
    "414": "Déficience Motrice",
    "430": "Personnes nécessitant prise en charge psycho soc et san SAI",
    "436": "Personnes Alzheimer ou maladies apparentées",
    "437": "Troubles du spectre de l'autisme",
    "438": "Cérébro lésés",
    "500": "Polyhandicap",
    "700": "Personnes Agées (Sans Autre Indication)",
    "701": "Personnes Agées Autonomes",
    "702": "Personnes Handicapées vieillissantes",
    "711": "Personnes Agées dépendantes",
    "800": "Enfants, adolescents et jeunes majeurs ASE",
    "804": "Enfants, adolescents et jeunes majeurs PJJ",
    "805": "Jeunes et familles en risque d'inadaptation sociale",
    "810": "Adultes en Difficulté d'Insertion Sociale (SAI)",
    "811": "Jeunes Adultes en Difficulté",
    "812": "Femmes Seules en Difficulté",
    "813": "Personnes en difficulté avec l'alcool",
    "814": "Personnes consommant des substances psychoactives illicites",
    "821": "Familles en Difficulté ou sans Logement",
    "823": "Familles Nomades",
    "825": "Travailleurs Migrants",
    "826": "Jeunes Travailleurs",
    "827": "Personnes et Familles Réfugiées",
    "828": "Accompagnants (ou aidants)",
    "830": "Personnes et Familles Demandeurs d'Asile",
    "831": "Femmes Victimes de Violence",
    "834": "Patients et accompagnants (ou aidants)",
    "835": "Parents en difficulté avec enfant",
    "840": "Personnes sans Domicile",
    "853": "Personnes souffrant d'addictions (Sans Autre Indication)",
    "860": "Majeurs Protégés",
    "861": "Adultes avec difficultés budgétaires",
    "862": "Tuteurs Familiaux",
    "899": "Tous publics en difficulté",
}

def _read_profiles(name: str) -> dict[str, tuple[EquipmentOption, ...]]:
    """``category -> options`` from the profile table, in file order."""
    out: dict[str, list[EquipmentOption]] = {}
    for r in csv_rows(name):
        out.setdefault(r["category"], []).append(EquipmentOption(
            r["discipline"], r["activity_type"], r["clientele"], int(r["capacity_min"]),
            int(r["capacity_max"]), float(r["probability"])))
    return {c: tuple(opts) for c, opts in out.items()}


#: Plausible equipment lines per category code (``equipment_profiles.csv`` beside this module,
#: grouped by kind of public): the first option of a category is the main line (always
#: present), the others are added with their probability.
PROFILE: dict[str, tuple[EquipmentOption, ...]] = _read_profiles("equipment_profiles.csv")

#: Extra clientèles used when an establishment needs more lines than its category has options
#: (``n_lines`` given): each option's discipline and activity type with the other clientèles
#: of its group.
_ALTERNATE_CLIENTS: tuple[tuple[str, ...], ...] = (
    ("711", "436", "700", "701", "702", "828"),
    ("010", "117", "437", "206", "500", "414", "205", "200", "318", "324", "438"),
    ("810", "840", "821", "811", "812", "831", "899"),
    ("825", "826", "827", "830", "811", "840"),
    ("835", "812", "831"),
    ("834", "828"),
    ("823", "821"),
    ("800", "804", "805"),
    ("853", "813", "814", "430"),
    ("860", "861", "862"),
)

#: (agemini, agemaxi) pairs for children's services.
_CHILD_AGES = (("0", "6"), ("0", "20"), ("3", "12"), ("6", "16"), ("6", "20"), ("12", "20"),
               ("14", "20"))


def _extra_combos(options: tuple[EquipmentOption, ...]) -> list[EquipmentOption]:
    """Distinct (de, ta, client) combos beyond ``options``: same disciplines, other clientèles."""
    seen = {(o.de, o.ta, o.client) for o in options}
    extra = []
    for o in options:
        pool = next((p for p in _ALTERNATE_CLIENTS if o.client in p), ())
        for client in pool:
            key = (o.de, o.ta, client)
            if key not in seen:
                seen.add(key)
                extra.append(EquipmentOption(o.de, o.ta, client, max(1, o.cap_min // 2),
                                             max(1, o.cap_max // 2), 0.0))
    return extra


_CHILD_DISCIPLINES = frozenset({"319", "320", "325", "650", "654", "844", "900", "901", "902"})

ILLUSTRATIVE_SOURCE = ("X", "Capacité fictive (démonstration dac-map)")
_REAL_SOURCES = (("E", "Enquête statistique"), ("C", "Convention"), ("A", "Autre"))


# --------------------------------------------------------------------------- equipment

def write_equipment_extract(path: str | Path, establishments: pd.DataFrame,
                            n_lines: int | None = None, seed: int = 0,
                            illustrative: bool = True, encoding: str = "latin-1") -> int:
    """Write a synthetic cs1100505 equipment extract for the given establishments.

    Only establishments whose category is in :data:`PROFILE` (social and medico-social ones)
    get ``equipementsocial`` lines; lines of an establishment are contiguous, in the order of
    ``establishments``. Capacities (``capinstot``, ``capautot``) are whole numbers drawn in the
    option's range; about 5 % of the lines are flagged removed (``indsupinst`` = ``O``, and
    most of them ``indsupaut`` = ``O`` too); other capacity fields are mostly empty.

    Args:
        path: file to write (overwritten).
        establishments: table with at least ``nofinesset`` and ``categetab`` columns.
        n_lines: exact number of lines to write. ``None``: 1 to 4 lines per eligible
            establishment (the main line plus optional ones, per :data:`PROFILE`). When
            ``n_lines`` is smaller than the number of eligible establishments, a random subset
            gets one line each; when larger, extra lines go to random establishments, cycling
            through the category's options and then through other clientèles.
        seed: seed of the random generator.
        illustrative: mark every line as made up (``sourceinfo`` ``X``, ``libsourceinfo``
            "Capacité fictive (démonstration dac-map)"); otherwise use real source codes.
        encoding: text encoding of the file.

    Returns:
        The number of ``equipementsocial`` lines written.
    """
    if n_lines is not None and n_lines < 0:
        raise ValueError("n_lines must be >= 0")
    rng = np.random.default_rng(seed)
    nos = establishments["nofinesset"].astype(str).str.strip().to_numpy(dtype=object)
    cats = (establishments["categetab"].astype(str).str.strip().str.zfill(3)
            .to_numpy(dtype=object))

    # Global table of combos: per category, its options then its extra combos.
    opt_cat: dict[str, int] = {}
    opts: list[EquipmentOption] = []
    n_ext: dict[str, int] = {}
    for c, options in PROFILE.items():
        opt_cat[c] = len(opts)
        extra = _extra_combos(options)
        opts.extend(options)
        opts.extend(extra)
        n_ext[c] = len(extra)
    n_opts = np.array([len(PROFILE[c]) for c in PROFILE])
    cat_index = {c: i for i, c in enumerate(PROFILE)}

    eligible = np.flatnonzero(np.array([c in PROFILE for c in cats], dtype=bool))
    e_cat = np.array([cat_index[c] for c in cats[eligible]], dtype=np.int64)
    n_elig = len(eligible)

    line_est: list[np.ndarray] = []  # row index into establishments
    line_rank: list[np.ndarray] = []  # order of the line within its establishment
    line_opt: list[np.ndarray] = []  # global option index

    if n_lines is None:
        for ci, c in enumerate(PROFILE):
            rows = eligible[e_cat == ci]
            if not len(rows):
                continue
            probs = np.array([o.probability for o in PROFILE[c]])
            take = rng.random((len(rows), len(probs))) < probs
            take[:, 0] = True
            rank = np.cumsum(take, axis=1) - 1
            take &= rank < 4
            r, k = np.nonzero(take)
            line_est.append(rows[r])
            line_rank.append(rank[r, k])
            line_opt.append(opt_cat[c] + k)
    elif n_lines:
        if not n_elig:
            raise ValueError(f"n_lines={n_lines} requested but no establishment has a category "
                             "with equipment (see PROFILE)")
        if n_lines <= n_elig:
            counts = np.zeros(n_elig, dtype=np.int64)
            counts[rng.choice(n_elig, size=n_lines, replace=False)] = 1
        else:
            expected = np.array([sum(o.probability for o in PROFILE[c]) for c in PROFILE])[e_cat]
            counts = 1 + rng.multinomial(n_lines - n_elig, expected / expected.sum())
        for ci, c in enumerate(PROFILE):
            sel = (e_cat == ci) & (counts > 0)
            rows = eligible[sel]
            if not len(rows):
                continue
            cnt = counts[sel]
            m = int(cnt.max())
            k_opts = int(n_opts[ci])
            probs = np.array([o.probability for o in PROFILE[c]])
            # Combo order per establishment: main option first, then the other options in a
            # random order weighted by their probability, then the extra combos (same
            # disciplines, other clientèles) from a random starting point; beyond that, wrap.
            keys = rng.random((len(rows), k_opts)) ** (1.0 / probs)
            keys[:, 0] = 2.0
            order = np.argsort(-keys, axis=1)
            k_all = k_opts + n_ext[c]
            j = np.arange(max(m, k_all))
            seq = np.empty((len(rows), len(j)), dtype=np.int64)
            seq[:, :k_opts] = order
            if n_ext[c]:
                rot = rng.integers(0, n_ext[c], len(rows))[:, None]
                seq[:, k_opts:k_all] = k_opts + (j[None, k_opts:k_all] - k_opts + rot) % n_ext[c]
            seq[:, k_all:] = seq[:, j[k_all:] % k_all]
            take = j[None, :] < cnt[:, None]
            r, jj = np.nonzero(take)
            line_est.append(rows[r])
            line_rank.append(jj)
            line_opt.append(opt_cat[c] + seq[r, jj])

    if line_est:
        est = np.concatenate(line_est)
        rank = np.concatenate(line_rank)
        opt = np.concatenate(line_opt)
        order = np.lexsort((rank, est))
        est, opt = est[order], opt[order]
    else:
        est = opt = np.empty(0, dtype=np.int64)
    n = len(est)

    de = np.array([o.de for o in opts], dtype=object)[opt]
    ta = np.array([o.ta for o in opts], dtype=object)[opt]
    client = np.array([o.client for o in opts], dtype=object)[opt]
    cap_min = np.array([o.cap_min for o in opts])[opt]
    cap_max = np.array([o.cap_max for o in opts])[opt]
    libde = [DISCIPLINE_LABELS[v] for v in de]
    libta = [ACTIVITY_LABELS[v] for v in ta]
    libclient = [CLIENT_LABELS[v] for v in client]

    if illustrative:
        sourceinfo = [ILLUSTRATIVE_SOURCE[0]] * n
        libsourceinfo = [ILLUSTRATIVE_SOURCE[1]] * n
    else:
        s = rng.choice(len(_REAL_SOURCES), size=n, p=[0.6, 0.25, 0.15])
        sourceinfo = [_REAL_SOURCES[k][0] for k in s]
        libsourceinfo = [_REAL_SOURCES[k][1] for k in s]

    # Capacities and flags.
    cap = cap_min + np.floor(rng.random(n) * (cap_max - cap_min + 1)).astype(np.int64)
    extra = np.where(rng.random(n) < 0.1, rng.integers(1, 10, n), 0)
    capinstot = cap.astype(str).astype(object)
    capinstot[rng.random(n) < 0.03] = ""
    capautot = (cap + extra).astype(str).astype(object)
    u = rng.random(n)
    removed_inst = u < 0.05
    removed_aut = (removed_inst & (rng.random(n) < 0.8)) | (rng.random(n) < 0.005)
    indsupinst = np.where(removed_inst, "O", "N").astype(object)
    indsupaut = np.where(removed_aut, "O", "N").astype(object)

    def sparse_zero(p: float) -> np.ndarray:
        return np.where(rng.random(n) < p, "0", "").astype(object)

    child = np.array([d in _CHILD_DISCIPLINES for d in de], dtype=bool) & (rng.random(n) < 0.6)
    ages = rng.integers(0, len(_CHILD_AGES), n)
    age_min = np.where(child, np.array([a for a, _ in _CHILD_AGES], dtype=object)[ages], "")
    age_max = np.where(child, np.array([b for _, b in _CHILD_AGES], dtype=object)[ages], "")

    # Dates (ISO).
    first = random_dates(rng, n, "1970-01-01", "2020-06-30")
    first_d = first.astype("datetime64[D]")
    end = np.datetime64("2021-01-07", "D")

    def after(base: np.ndarray, max_days: int) -> np.ndarray:
        """A date between ``base`` and ``min(base + max_days, end)``, uniformly."""
        base = np.minimum(base, end)
        span = np.minimum(max_days, (end - base).astype(np.int64) + 1)
        d = base + np.floor(rng.random(n) * span).astype("timedelta64[D]")
        return np.datetime_as_string(d, unit="D").astype(object)

    dateautor = after(first_d, 15 * 365)
    datederinst = after(first_d, 10 * 365)
    datederinst[rng.random(n) < 0.1] = ""
    datemajaut = after(dateautor.astype("datetime64[D]"), 5 * 365)
    datemajinst = after(first_d + np.timedelta64(365, "D"), 12 * 365)
    datepremautor = first.copy()
    datepremautor[rng.random(n) < 0.05] = ""

    columns = {
        "nofinesset": nos[est].tolist(), "de": de.tolist(), "libde": libde, "ta": ta.tolist(),
        "libta": libta, "client": client.tolist(), "libclient": libclient,
        "sourceinfo": sourceinfo, "libsourceinfo": libsourceinfo,
        "capinstot": capinstot.tolist(), "capinstm": sparse_zero(0.08).tolist(),
        "capinstf": sparse_zero(0.08).tolist(), "capinsthab": sparse_zero(0.05).tolist(),
        "ageminiinst": age_min.tolist(), "agemaxiinst": age_max.tolist(),
        "indsupinst": indsupinst.tolist(), "datederinst": datederinst.tolist(),
        "datepremautor": datepremautor.tolist(), "capautot": capautot.tolist(),
        "capautm": sparse_zero(0.08).tolist(), "capautf": sparse_zero(0.08).tolist(),
        "capauthab": sparse_zero(0.05).tolist(), "ageminiaut": age_min.tolist(),
        "agemaxiaut": age_max.tolist(), "indsupaut": indsupaut.tolist(),
        "dateautor": dateautor.tolist(), "datemajaut": datemajaut.tolist(),
        "datemajinst": datemajinst.tolist(),
    }
    assert tuple(columns) == EQUIPEMENTSOCIAL.fields
    write_section(path, encoding, EQUIPEMENTSOCIAL.name, list(columns.values()), n)
    return n
