"""Deterministic generator of synthetic FINESS etalab extracts, in the real layouts.

Used by tests, benchmarks and the demo scripts. Everything is drawn from a seeded
:class:`numpy.random.Generator`, so the same arguments always give the same bytes.

* :func:`write_establishments_extract` writes a cs1100507 file (``structureet`` lines then
  ``geolocalisation`` lines) with establishments spread over the 101 departments roughly in
  proportion to their population, real category codes and labels (weighted by the national
  2021 counts), plausible names, addresses, phones and dates, about 1 % of nasty names
  (``;``, ``"``, accents, ``<script>``), and coordinates inside the department outline,
  projected into the CRS named by ``sourcecoordet`` (Lambert-93 in metropolitan France, the
  local UTM projection overseas).
* :func:`write_equipment_extract` writes a cs1100505 file (``equipementsocial`` lines) for the
  social and medico-social establishments of a table, from the :data:`PROFILE` table of
  plausible (discipline, activity type, clientèle, capacity) combinations per category.

The capacities and most address details are invented. With ``illustrative=True`` the equipment
lines say so themselves (``sourceinfo`` ``X``, "Capacité fictive (démonstration dac-map)").

Reference files read at run time (from ``settings.DATA_DIR``, falling back to the project's
``data/`` folder): the category nomenclature (labels and aggregates) and the department
outlines. Discipline (``de``, TRE-R280), clientèle (``client``, TRE-R279) and activity type
(``ta``) labels are embedded below.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from dac_map import settings
from dac_map.etl.layouts import EQUIPEMENTSOCIAL, GEOLOCALISATION, PROJECTIONS, STRUCTUREET

#: Extraction date written in the header and in ``geolocalisation.datemaj``.
SOURCE_DATE = "2021-01-08"
#: First line of every generated extract.
HEADER = ("finess", "etalab", "00", SOURCE_DATE)

_CATEGORIES_FILE = Path("nomenclatures") / (
    "finess_nomenclature_categories_etablissement_avec_agregats_20211214.csv")
_DEPARTMENTS_FILE = Path("geo") / "departements.geojson"

def _csv_rows(name: str) -> list[dict[str, str]]:
    """Rows of the ``;``-separated UTF-8 table ``name`` shipped beside this module."""
    with open(Path(__file__).with_name(name), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


# --------------------------------------------------------------------------- departments

#: Approximate population (thousands, late 2010s) per INSEE department code
#: (``department_population.csv`` beside this module): the weights used to spread
#: establishments. Saint-Pierre-et-Miquelon (975 / 9E) has no outline and is left out.
_POPULATION_K: dict[str, int] = {
    r["department"]: int(r["population_k"]) for r in _csv_rows("department_population.csv")}


class _Overseas(NamedTuple):
    finess: str  # FINESS department code (9A...)
    token: str  # last token of sourcecoordet
    commune_digit: str  # first digit of the 3-digit commune code (97X -> X)
    communes: int  # number of communes (codes X01..Xnn)
    phone: str  # phone prefix


_OVERSEAS: dict[str, _Overseas] = {
    "971": _Overseas("9A", "UTM_N20", "1", 32, "0590"),
    "972": _Overseas("9B", "UTM_N20", "2", 34, "0596"),
    "973": _Overseas("9C", "UTM_N22", "3", 22, "0594"),
    "974": _Overseas("9D", "UTM_S40", "4", 24, "0262"),
    "976": _Overseas("9F", "UTM_S38", "6", 17, "0269"),
}
_METRO_TOKEN = "LAMBERT_93"
_SOURCECOORD_PREFIX = "1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,"

_PHONE_REGION = {
    **{d: "01" for d in ("75", "77", "78", "91", "92", "93", "94", "95")},
    **{d: "02" for d in ("14", "18", "22", "27", "28", "29", "35", "36", "37", "41", "44", "45",
                         "49", "50", "53", "56", "61", "72", "76", "85")},
    **{d: "03" for d in ("02", "08", "10", "21", "25", "39", "51", "52", "54", "55", "57", "58",
                         "59", "60", "62", "67", "68", "70", "71", "80", "88", "89", "90")},
    **{d: "05" for d in ("09", "12", "16", "17", "19", "23", "24", "31", "32", "33", "40", "46",
                         "47", "64", "65", "79", "81", "82", "86", "87")},
}  # every other metropolitan department: "04"

# --------------------------------------------------------------------------- categories

#: Establishments per category in the national extract of 2021-01-08 (open categories only;
#: ``category_weights.csv``): the weights of the category draw.
CATEGORY_WEIGHTS: dict[str, int] = {
    r["category"]: int(r["establishments"]) for r in _csv_rows("category_weights.csv")}

#: Short name prefixes per category (the first one is the most frequent).
_PREFIXES: dict[str, tuple[str, ...]] = {
    "620": ("PHARMACIE",), "627": ("PROPHARMACIE",), "628": ("PHARMACIE MINIÈRE",),
    "629": ("PHARMACIE MUTUALISTE",), "500": ("EHPAD", "EHPAD RÉSIDENCE", "RÉSIDENCE"),
    "501": ("EHPA",), "502": ("EHPA", "RÉSIDENCE"), "202": ("RÉSIDENCE AUTONOMIE", "RA"),
    "354": ("SSIAD",), "460": ("SAAD", "AIDE À DOMICILE", "SERVICE D'AIDE À DOMICILE"),
    "209": ("SPASAD",), "183": ("IME",), "182": ("SESSAD",), "186": ("ITEP",), "188": ("EEAP",),
    "189": ("CMPP",), "190": ("CAMSP",), "192": ("IEM",), "246": ("ESAT",),
    "247": ("EA", "ENTREPRISE ADAPTÉE"), "382": ("FOYER DE VIE", "FV"), "437": ("FAM",),
    "255": ("MAS",), "252": ("FOYER D'HÉBERGEMENT", "FH"), "446": ("SAVS",), "445": ("SAMSAH",),
    "448": ("EAM",), "449": ("EANM",), "355": ("CH", "CENTRE HOSPITALIER"), "101": ("CHU", "CHR"),
    "106": ("CH",), "109": ("SSR", "CENTRE DE RÉÉDUCATION"), "128": ("CLINIQUE",),
    "129": ("CLINIQUE",), "365": ("CLINIQUE", "POLYCLINIQUE"), "292": ("CHS", "EPSM"),
    "127": ("HAD",), "141": ("CENTRE DE DIALYSE",), "146": ("UNITÉ D'AUTODIALYSE", "UAD"),
    "362": ("USLD",), "161": ("CLINIQUE PSYCHIATRIQUE",), "124": ("CENTRE DE SANTÉ", "CDS"),
    "603": ("MSP", "MAISON DE SANTÉ"), "604": ("CPTS",), "611": ("LBM", "LABORATOIRE"),
    "156": ("CMP",), "425": ("CATTP",), "197": ("CSAPA",), "178": ("CAARUD",), "180": ("LHSS",),
    "213": ("LAM",), "165": ("ACT",), "214": ("CHRS",), "443": ("CADA",), "442": ("CPH",),
    "257": ("FJT",), "258": ("PENSION DE FAMILLE", "MAISON RELAIS"), "259": ("RÉSIDENCE SOCIALE",),
    "219": ("CENTRE D'ACCUEIL", "ACCUEIL DE NUIT"), "220": ("CENTRE SOCIAL",), "177": ("MECS",),
    "175": ("FOYER DE L'ENFANCE",), "295": ("SERVICE AEMO",), "223": ("PMI",),
    "230": ("CONSULTATION PMI",), "228": ("CPEF",), "359": ("CMS", "CENTRE MÉDICO-SOCIAL"),
    "405": ("SERVICE SOCIAL",), "340": ("SERVICE MJPM",), "463": ("CLIC",), "300": ("IFSI",),
    "330": ("INSTITUT DE FORMATION",), "632": ("PRESTATAIRE OXYGÈNE",), "696": ("GCS",),
    "697": ("GCS",), "698": ("SITE",), "207": ("ACCUEIL DE JOUR",), "462": ("LIEU DE VIE",),
    "218": ("AIRE D'ACCUEIL DES GENS DU VOYAGE",),
}

#: APE (NAF) code per category, where one is typical.
_APE: dict[str, str] = {
    "620": "4773Z", "460": "8810A", "500": "8710A", "382": "8720A", "354": "8690D",
    "156": "8610Z", "246": "8810C", "355": "8610Z", "183": "8891A", "182": "8891B",
    "292": "8610Z", "359": "8899B", "603": "8621Z", "202": "8730A", "425": "8610Z",
    "252": "8720A", "223": "8621Z", "177": "8790A", "228": "8621Z", "362": "8610Z",
    "698": "8610Z", "446": "8810B", "632": "4774Z", "214": "8790B", "330": "8532Z",
    "437": "8710C", "109": "8610Z", "247": "8810C", "255": "8710C", "189": "8891B",
    "146": "8610Z", "611": "8690B", "124": "8621Z", "101": "8610Z", "106": "8610Z",
    "128": "8610Z", "365": "8610Z", "127": "8610Z", "141": "8610Z", "300": "8542Z",
}

_SPH = (("1", "Etablissement public de santé"),
        ("6", "Etablissement de santé privé d'intérêt collectif"),
        ("0", "Non concerné"), ("9", "indéterminé"),
        ("7", "Etab de santé privé non lucratif, non déclar intérêt collect"))

# --------------------------------------------------------------------------- names, addresses

_TOWN_BASES = (
    "SAINT-MARTIN", "BEAUMONT", "VILLENEUVE", "MONTFORT", "CHÂTEAUNEUF", "FONTAINE", "LA ROCHE",
    "BELLEVUE", "SAINT-GERMAIN", "MONTREUIL", "NEUVILLE", "SAINTE-MARIE", "BOURGNEUF",
    "MAISONNEUVE", "LONGUEVILLE", "ROCHEFORT", "CHAMPAGNE", "SAINT-PIERRE", "SAINT-DENIS",
    "MONTAGNAC", "SAINT-JEAN", "LA CHAPELLE", "AUBIGNY", "ÉPINAY", "SAINT-LAURENT", "MARCILLY",
    "VILLIERS", "BOISSY", "CHAMPIGNY", "VERNEUIL", "SAINT-AMAND", "COURCELLES", "LE MÉNIL",
    "FONTENAY", "SAINT-CYR", "LA FERTÉ", "MARSAC", "LUSIGNAN", "SAINT-VALERY", "ORVILLE",
    "HARBONNIÈRES", "BRUYÈRES", "LES ESSARTS", "SAINT-ÉTIENNE", "PONT-L'ABBÉ", "CHÂTILLON",
    "MONTBRISON", "VILLEFRANCHE", "BEAUREGARD", "LE PLESSIS", "SAINT-HILAIRE", "MONTMORILLON",
    "CASTELNAU", "SAINT-PAUL", "LABASTIDE", "ROQUEFORT", "SAINT-GEORGES", "VAUX", "MOREUIL",
    "COLOMBIER",
)
_TOWN_SUFFIXES = ("", "", "", "", "", "-SUR-MER", "-SUR-LOIRE", "-LES-BAINS", "-EN-VALLÉE",
                  "-LE-CHÂTEAU", "-SUR-SEINE", "-DU-LAC", "-LA-FORÊT", "-EN-BRESSE")
_QUALIFIERS = (
    "LES TILLEULS", "LES LILAS", "DU CENTRE", "LE VAL FLEURI", "LES GLYCINES", "SAINTE-ANNE",
    "NOTRE-DAME", "LES CHARMILLES", "LA ROSERAIE", "DU PARC", "LES MIMOSAS", "LE CLOS DES VIGNES",
    "LES PEUPLIERS", "LA SOURCE", "LES AUBÉPINES", "L'ORANGERIE", "LE BOCAGE", "LES HORTENSIAS",
    "LA CHÊNAIE", "BEL AIR", "LES CÈDRES", "LE MOULIN", "LES SAULES", "SAINT-JOSEPH",
    "LA PROVIDENCE", "LES CAMÉLIAS", "L'ESCALE", "LE PHARE", "LES COQUELICOTS", "LA CLAIRIÈRE",
    "LES VIOLETTES", "LE HAMEAU", "LES ÉTANGS", "LES JARDINS DU LAC", "LE GRAND CHÊNE",
)
_PHARMACY_QUALIFIERS = (
    "DU CENTRE", "DE LA GARE", "DE LA MAIRIE", "DES HALLES", "DU MARCHÉ", "PRINCIPALE",
    "DE L'ÉGLISE", "DU PORT", "DES ARCADES", "DU CHÂTEAU", "DE LA PLACE", "CENTRALE", "DU PONT",
    "DES QUATRE CHEMINS", "DU SOLEIL", "DES TILLEULS", "DU PARC",
)
_SURNAMES = (
    "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
    "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX",
    "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRÉ", "LEFÈVRE", "MERCIER", "DUPONT", "LAMBERT",
    "BONNET", "FRANÇOIS", "MARTINEZ",
)
_ORGS = ("CCAS", "ADMR", "ADAPEI", "APAJH", "MUTUALITÉ", "CROIX-ROUGE", "FONDATION", "ASSOCIATION",
         "PEP", "UDAF")
_STREETS = (
    "DE LA RÉPUBLIQUE", "VICTOR HUGO", "JEAN JAURÈS", "DU GÉNÉRAL DE GAULLE", "PASTEUR",
    "DES ÉCOLES", "DE LA GARE", "DU MOULIN", "DE L'ÉGLISE", "DES LILAS", "SAINT-MARTIN",
    "DE PARIS", "DU STADE", "DES TILLEULS", "NATIONALE", "DU CHÂTEAU", "DE LA LIBÉRATION",
    "GAMBETTA", "FOCH", "CARNOT", "DES ACACIAS", "DU 8 MAI 1945", "DE L'HÔPITAL", "DES PRÉS",
    "DU PORT", "DE LA MAIRIE", "ANATOLE FRANCE", "DES FRÈRES LUMIÈRE", "DU CHAMP DE FOIRE",
)
_STREET_TYPES = ("R", "R", "R", "R", "R", "AV", "AV", "PL", "PL", "RTE", "BD", "CHE", "ALL",
                 "QU", "IMP", "CRS")

#: About 1 % of the names: CSV-hostile or markup-like values that must round-trip.
NASTY_NAMES: tuple[str, ...] = (
    'LIEU DE VIE "MAVOUNA MEMA 1"',
    'EHPAD "LES LILAS"; SITE B',
    "FOYER L'ÉTÉ; \"ANNEXE\" NORD",
    'CENTRE <script>alert("x")</script>',
    "RÉSIDENCE ÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ àâäéèêëîïôöùûüÿç",
    "SSIAD ;;; DU CANTON",
    '"QUOTED" PHARMACIE',
    "PHARMACIE DU CENTRE ; BIS",
    'A;B"C',
    "<b>MAS</b> &amp; CIE",
    "IME L'OLIVIER D'OR « LES PINS »",
    "CMP 100% ÉCOUTE ; #1",
    'ESAT ""DOUBLE"" ; QUOTES',
)


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
    for r in _csv_rows(name):
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


# --------------------------------------------------------------------------- helpers

def _data_file(relative: Path) -> Path:
    """A shipped reference file: ``settings.DATA_DIR`` first, then the project's ``data/``."""
    for base in (settings.DATA_DIR, settings.PROJECT_DIR / "data"):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"reference file not found: {settings.DATA_DIR / relative}")


@functools.lru_cache(maxsize=4096)
def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@functools.lru_cache(maxsize=None)
def _category_table() -> dict[str, tuple[str, str, str, str]]:
    """code -> (libcategetab, categagretab, libcategagretab, codeagr1) for the weighted codes."""
    path = _data_file(_CATEGORIES_FILE)
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = {r["code"].strip(): r for r in csv.DictReader(f, delimiter=";")}
    table = {}
    for code in CATEGORY_WEIGHTS:
        r = rows[code]
        table[code] = (r["libelle"].strip(), r["codeagr3"].strip(), r["libelleagr3"].strip(),
                       r["codeagr1"].strip())
    return table


@functools.lru_cache(maxsize=None)
def _departments() -> tuple[tuple[str, str, object], ...]:
    """(INSEE code, name, prepared shapely geometry in WGS84) for the weighted departments."""
    import geopandas as gpd
    import shapely

    gdf = gpd.read_file(_data_file(_DEPARTMENTS_FILE))
    by_code = {str(c): (str(n), g) for c, n, g in zip(gdf["code"], gdf["nom"], gdf.geometry)}
    out = []
    for code in _POPULATION_K:
        name, geom = by_code[code]
        shapely.prepare(geom)
        out.append((code, name, geom))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def _transformer(epsg: int):
    from pyproj import Transformer

    return Transformer.from_crs(4326, epsg, always_xy=True)


def _prefix_for(code: str, label: str) -> tuple[str, ...]:
    if code in _PREFIXES:
        return _PREFIXES[code]
    m = re.search(r"\(([A-Z][A-Z. ]+)\)", label)
    if m:
        return (m.group(1).replace(".", "").replace(" ", ""),)
    words = re.sub(r"\(.*?\)", "", label).upper().split()
    return (" ".join(words[:4]),)


def _random_points(rng: np.random.Generator, geom, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k uniform random points inside ``geom`` (lon, lat), by rejection sampling in its bbox."""
    import shapely

    minx, miny, maxx, maxy = geom.bounds
    fill = max(geom.area / ((maxx - minx) * (maxy - miny)), 0.02)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    for _ in range(50):
        m = int((k - got) / fill * 1.3) + 16
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        inside = shapely.contains_xy(geom, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        got += int(inside.sum())
        if got >= k:
            break
    x = np.concatenate(xs)[:k]
    y = np.concatenate(ys)[:k]
    if len(x) < k:  # pathological outline: fall back on the representative point
        p = geom.representative_point()
        x = np.concatenate([x, np.full(k - len(x), p.x)])
        y = np.concatenate([y, np.full(k - len(y), p.y)])
    return x, y


def _random_dates(rng: np.random.Generator, n: int, start: str, end: str) -> np.ndarray:
    """n ISO dates uniformly in [start, end] as an array of ``YYYY-MM-DD`` strings."""
    lo = np.datetime64(start, "D")
    span = int((np.datetime64(end, "D") - lo).astype(int)) + 1
    days = lo + rng.integers(0, span, n).astype("timedelta64[D]")
    return np.datetime_as_string(days, unit="D").astype(object)


def _digits(rng: np.random.Generator, n: int, width: int) -> list[str]:
    """n random strings of ``width`` decimal digits."""
    chunks = rng.integers(0, 10, (n, width), dtype=np.uint8) + ord("0")
    return chunks.view(f"S{width}").ravel().astype(f"U{width}").tolist()


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.integers(0, len(values), n)]


def _write(path, encoding: str, section: str, columns: list[list], n: int) -> None:
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(HEADER)
        w.writerows(zip([section] * n, *columns))


# --------------------------------------------------------------------------- establishments

def write_establishments_extract(path: str | Path, n: int, seed: int = 0,
                                 encoding: str = "latin-1") -> list[str]:
    """Write a synthetic cs1100507 extract of ``n`` establishments and return their FINESS numbers.

    The file has the header ``finess;etalab;00;2021-01-08``, then ``n`` ``structureet`` lines
    (32 values, ``numuai`` empty) then ``n`` ``geolocalisation`` lines (6 values), both sorted
    by FINESS number, written with :mod:`csv` (``;``, ``\\n``, minimal quoting).

    Establishments are spread over the 101 departments (at least one each when ``n >= 101``)
    in proportion to their population; FINESS numbers are the 2-character FINESS department
    code (``01``..``95``, ``2A``, ``2B``, ``9A``..``9D``, ``9F``) followed by 7 digits, unique.
    Coordinates are uniform random points inside the department outline, projected to
    Lambert-93 (``sourcecoordet`` ending ``LAMBERT_93``) or, overseas, to the local UTM
    projection (``UTM_N20`` 9A/9B, ``UTM_N22`` 9C, ``UTM_S40`` 9D, ``UTM_S38`` 9F).
    About 1 % of the names are taken from :data:`NASTY_NAMES`.

    Args:
        path: file to write (overwritten).
        n: number of establishments (>= 1).
        seed: seed of the random generator; same seed, same file.
        encoding: text encoding of the file (the real extracts are Latin-1).

    Returns:
        The FINESS numbers (``nofinesset``) in file order.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    rng = np.random.default_rng(seed)
    departments = _departments()
    cats = _category_table()

    # Department of each establishment.
    weights = np.array([_POPULATION_K[c] for c, _, _ in departments], dtype=float)
    weights /= weights.sum()
    base = 1 if n >= len(departments) else 0
    per_dep = base + rng.multinomial(n - base * len(departments), weights)

    finess_codes = []
    for code, _, _ in departments:
        finess_codes.append(_OVERSEAS[code].finess if code in _OVERSEAS else code)

    dep_idx = np.repeat(np.arange(len(departments)), per_dep)
    # FINESS numbers: unique 7-digit numbers per department, for ET and a pool of EJ.
    nofinesset = np.empty(n, dtype=object)
    nofinessej = np.empty(n, dtype=object)
    lon = np.empty(n)
    lat = np.empty(n)
    start = 0
    for d, k in enumerate(per_dep):
        if k == 0:
            continue
        code, _, geom = departments[d]
        n_ej = max(1, int(k * 0.6))
        numbers = rng.choice(10_000_000, size=k + n_ej, replace=False)
        fc = finess_codes[d]
        nofinesset[start:start + k] = [f"{fc}{v:07d}" for v in numbers[:k]]
        ej = [f"{fc}{v:07d}" for v in numbers[k:]]
        nofinessej[start:start + k] = np.asarray(ej, dtype=object)[rng.integers(0, n_ej, k)]
        lon[start:start + k], lat[start:start + k] = _random_points(rng, geom, int(k))
        start += k

    # Category.
    cat_codes = np.array(list(CATEGORY_WEIGHTS), dtype=object)
    cat_p = np.array(list(CATEGORY_WEIGHTS.values()), dtype=float)
    cat = cat_codes[rng.choice(len(cat_codes), size=n, p=cat_p / cat_p.sum())]

    # Place: commune, postal line, phone.
    dep_insee = np.array([c for c, _, _ in departments], dtype=object)[dep_idx]
    dep_finess = np.array(finess_codes, dtype=object)[dep_idx]
    dep_label = np.array([_strip_accents(nm).upper() for _, nm, _ in departments],
                         dtype=object)[dep_idx]
    town_base = rng.integers(0, len(_TOWN_BASES), n)
    town_suffix = rng.integers(0, len(_TOWN_SUFFIXES), n)
    towns = [_TOWN_BASES[b] + _TOWN_SUFFIXES[s] for b, s in zip(town_base, town_suffix)]
    commune_num = rng.integers(1, 700, n)
    postal_num = rng.integers(0, 100, n) * 10
    cedex = rng.random(n) < 0.04
    phone_digits = _digits(rng, n, 10)
    fax_digits = _digits(rng, n, 10)
    phone_empty = rng.random(n) < 0.08
    fax_filled = rng.random(n) < 0.25
    commune, acheminement, phone, fax = [], [], [], []
    for i in range(n):
        insee = dep_insee[i]
        town_plain = _strip_accents(towns[i])
        if insee in _OVERSEAS:
            o = _OVERSEAS[insee]
            c = f"{o.commune_digit}{1 + commune_num[i] % o.communes:02d}"
            postal = f"{insee}{10 + commune_num[i] % 80:02d}"
            prefix = o.phone
        else:
            if insee == "75":
                c = f"{101 + commune_num[i] % 20:03d}"
            else:
                c = f"{commune_num[i]:03d}"
            if insee == "2A":
                postal = f"20{postal_num[i] % 200:03d}"
            elif insee == "2B":
                postal = f"20{200 + postal_num[i] % 100:03d}"
            else:
                postal = f"{insee}{postal_num[i]:03d}"
            prefix = _PHONE_REGION.get(insee, "04")
        commune.append(c)
        acheminement.append(f"{postal} {town_plain}" + (" CEDEX" if cedex[i] else ""))
        phone.append("" if phone_empty[i] else prefix + phone_digits[i][len(prefix):])
        fax.append(prefix + fax_digits[i][len(prefix):] if fax_filled[i] else "")

    # Names.
    kind = rng.random(n)
    q_idx = rng.integers(0, len(_QUALIFIERS), n)
    pq_idx = rng.integers(0, len(_PHARMACY_QUALIFIERS), n)
    s_idx = rng.integers(0, len(_SURNAMES), n)
    o_idx = rng.integers(0, len(_ORGS), n)
    p_draw = rng.random(n)
    prefixes = {c: _prefix_for(c, cats[c][0]) for c in CATEGORY_WEIGHTS}
    rs, rslongue = [], []
    long_kind = rng.random(n)
    for i in range(n):
        c = cat[i]
        options = prefixes[c]
        prefix = options[0] if p_draw[i] < 0.7 else options[int(p_draw[i] * 97) % len(options)]
        if c in ("620", "629", "628"):
            if kind[i] < 0.45:
                tail = _PHARMACY_QUALIFIERS[pq_idx[i]]
            elif kind[i] < 0.8:
                tail = _SURNAMES[s_idx[i]]
            else:
                tail = towns[i]
        elif kind[i] < 0.4:
            tail = _QUALIFIERS[q_idx[i]]
        elif kind[i] < 0.75:
            tail = towns[i]
        else:
            tail = f"{_ORGS[o_idx[i]]} {towns[i]}"
        name = f"{prefix} {tail}"
        rs.append(name)
        if long_kind[i] < 0.4:
            rslongue.append("")
        elif long_kind[i] < 0.7:
            rslongue.append(name)
        else:
            rslongue.append(f"{cats[c][0].upper()} {tail}")
    nasty = np.flatnonzero(rng.random(n) < 0.01)
    nasty_pick = rng.integers(0, len(NASTY_NAMES), len(nasty))
    for i, j in zip(nasty, nasty_pick):
        rs[i] = NASTY_NAMES[j]
        if rslongue[i]:
            rslongue[i] = NASTY_NAMES[j] + " (SITE PRINCIPAL)"

    # Address.
    numvoie = np.where(rng.random(n) < 0.12, "", rng.integers(1, 150, n).astype(str)).astype(object)
    typvoie = _pick(rng, _STREET_TYPES, n)
    voie = _pick(rng, _STREETS, n)
    no_street = rng.random(n) < 0.08
    typvoie[no_street] = ""
    numvoie[no_street] = ""
    u = rng.random(n)
    compvoie = np.where(u < 0.03, "B", np.where(u < 0.04, "T", "")).astype(object)
    compvoie[numvoie == ""] = ""
    u = rng.random(n)
    bp_num = _digits(rng, n, 5)
    lieuditbp = np.where(u < 0.06, np.char.add("BP ", bp_num),
                         np.where(u < 0.08, np.char.add("CS ", bp_num), "")).astype(object)
    lieudit = np.flatnonzero((u >= 0.08) & (u < 0.10))
    lieuditbp[lieudit] = np.char.add("LIEU DIT ", _pick(rng, _QUALIFIERS, len(lieudit)).astype(str))
    complrs = np.where(rng.random(n) < 0.03, "SITE ANNEXE", "").astype(object)
    u = rng.random(n)
    compldistrib = np.where(u < 0.02, "BÂTIMENT A", np.where(u < 0.04, "ZONE D'ACTIVITÉS", ""))
    compldistrib = compldistrib.astype(object)

    # Category labels, legal and administrative codes.
    lib = {c: cats[c] for c in CATEGORY_WEIGHTS}
    libcat = [lib[c][0] for c in cat]
    agr = [lib[c][1] for c in cat]
    libagr = [lib[c][2] for c in cat]
    siret_digits = _digits(rng, n, 14)
    siret = np.where(rng.random(n) < 0.15, "", np.asarray(siret_digits, dtype=object))
    ape_empty = rng.random(n) < 0.15
    codeape = ["" if ape_empty[i] else _APE.get(c, "8899B") for i, c in enumerate(cat)]
    sph_pick = rng.choice(len(_SPH), size=n, p=[0.45, 0.2, 0.25, 0.07, 0.03])
    hospital = np.array([lib[c][3] == "1000" for c in cat])
    codesph = np.where(hospital, np.array([s[0] for s in _SPH], dtype=object)[sph_pick], "")
    libsph = np.where(hospital, np.array([s[1] for s in _SPH], dtype=object)[sph_pick], "")
    empty = np.full(n, "", dtype=object)

    # Dates.
    dateouv = _random_dates(rng, n, "1960-01-01", "2020-12-31")
    old = rng.random(n)
    dateouv[old < 0.04] = "1901-01-01"
    dateouv[(old >= 0.04) & (old < 0.07)] = "1904-04-04"
    dateautor = _random_dates(rng, n, "1980-01-01", "2020-12-31")
    dateautor[rng.random(n) < 0.5] = ""
    datemaj = _random_dates(rng, n, "2005-01-01", "2021-01-07")

    # Coordinates in the CRS of each row.
    x = np.empty(n)
    y = np.empty(n)
    token = np.full(n, _METRO_TOKEN, dtype=object)
    for insee, o in _OVERSEAS.items():
        token[dep_insee == insee] = o.token
    for tok in np.unique(token.astype(str)):
        mask = token == tok
        x[mask], y[mask] = _transformer(PROJECTIONS[tok]).transform(lon[mask], lat[mask])
    sourcecoordet = [_SOURCECOORD_PREFIX + t for t in token]

    structure = {
        "nofinesset": nofinesset, "nofinessej": nofinessej, "rs": rs, "rslongue": rslongue,
        "complrs": complrs, "compldistrib": compldistrib, "numvoie": numvoie, "typvoie": typvoie,
        "voie": voie, "compvoie": compvoie, "lieuditbp": lieuditbp, "commune": commune,
        "departement": dep_finess, "libdepartement": dep_label,
        "ligneacheminement": acheminement, "telephone": phone, "telecopie": fax,
        "categetab": cat, "libcategetab": libcat, "categagretab": agr,
        "libcategagretab": libagr, "siret": siret, "codeape": codeape, "codemft": empty,
        "libmft": empty, "codesph": codesph, "libsph": libsph, "dateouv": dateouv,
        "dateautor": dateautor, "datemaj": datemaj, "numuai": empty,
    }
    geoloc = {
        "nofinesset": nofinesset, "coordxet": [f"{v:.1f}" for v in x],
        "coordyet": [f"{v:.1f}" for v in y], "sourcecoordet": sourcecoordet,
        "datemaj": np.full(n, SOURCE_DATE, dtype=object),
    }
    assert tuple(structure) == STRUCTUREET.fields and tuple(geoloc) == GEOLOCALISATION.fields

    order = np.argsort(nofinesset.astype(str), kind="stable")
    st_cols = [np.asarray(v, dtype=object)[order].tolist() for v in structure.values()]
    geo_cols = [np.asarray(v, dtype=object)[order].tolist() for v in geoloc.values()]
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(HEADER)
        w.writerows(zip([STRUCTUREET.name] * n, *st_cols))
        w.writerows(zip([GEOLOCALISATION.name] * n, *geo_cols))
    return st_cols[0]


def read_establishment_categories(path: str | Path, encoding: str = "latin-1") -> pd.DataFrame:
    """``nofinesset`` and ``categetab`` of the ``structureet`` lines of an extract (plain csv read).

    A light reader for scripts feeding :func:`write_equipment_extract`; the real parser is
    :func:`dac_map.etl.parser.parse_establishments`.
    """
    i_no = STRUCTUREET.fields.index("nofinesset") + 1
    i_cat = STRUCTUREET.fields.index("categetab") + 1
    nos, cats = [], []
    with open(path, encoding=encoding, newline="") as f:
        for row in csv.reader(f, delimiter=";"):
            if row and row[0] == STRUCTUREET.name and len(row) > i_cat:
                nos.append(row[i_no].strip())
                cats.append(row[i_cat].strip())
    return pd.DataFrame({"nofinesset": nos, "categetab": cats}, dtype="str")


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
    first = _random_dates(rng, n, "1970-01-01", "2020-06-30")
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
    _write(path, encoding, EQUIPEMENTSOCIAL.name, list(columns.values()), n)
    return n
