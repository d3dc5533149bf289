"""Reference tables of the synthetic etalab establishments (:mod:`dac_map.testing.synthetic`):
departments (population weights, overseas CRS and codes, phone regions), categories (national
counts, name prefixes, APE codes, hospital status), names and addresses, and the nasty names
(``;``, ``"``, accents, ``<script>``) mixed in. FICTITIOUS data for tests and benchmarks;
the two CSV tables are read from beside this module.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple


def csv_rows(name: str) -> list[dict[str, str]]:
    """Rows of the ``;``-separated UTF-8 table ``name`` shipped beside this module."""
    with open(Path(__file__).with_name(name), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


# --------------------------------------------------------------------------- departments

#: Approximate population (thousands, late 2010s) per INSEE department code
#: (``department_population.csv`` beside this module): the weights used to spread
#: establishments. Saint-Pierre-et-Miquelon (975 / 9E) has no outline and is left out.
POPULATION_K: dict[str, int] = {
    r["department"]: int(r["population_k"]) for r in csv_rows("department_population.csv")}


class Overseas(NamedTuple):
    finess: str  # FINESS department code (9A...)
    token: str  # last token of sourcecoordet
    commune_digit: str  # first digit of the 3-digit commune code (97X -> X)
    communes: int  # number of communes (codes X01..Xnn)
    phone: str  # phone prefix


OVERSEAS: dict[str, Overseas] = {
    "971": Overseas("9A", "UTM_N20", "1", 32, "0590"),
    "972": Overseas("9B", "UTM_N20", "2", 34, "0596"),
    "973": Overseas("9C", "UTM_N22", "3", 22, "0594"),
    "974": Overseas("9D", "UTM_S40", "4", 24, "0262"),
    "976": Overseas("9F", "UTM_S38", "6", 17, "0269"),
}
METRO_TOKEN = "LAMBERT_93"
SOURCECOORD_PREFIX = "1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,"

PHONE_REGION = {
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
    r["category"]: int(r["establishments"]) for r in csv_rows("category_weights.csv")}

#: Short name prefixes per category (the first one is the most frequent).
PREFIXES: dict[str, tuple[str, ...]] = {
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
APE: dict[str, str] = {
    "620": "4773Z", "460": "8810A", "500": "8710A", "382": "8720A", "354": "8690D",
    "156": "8610Z", "246": "8810C", "355": "8610Z", "183": "8891A", "182": "8891B",
    "292": "8610Z", "359": "8899B", "603": "8621Z", "202": "8730A", "425": "8610Z",
    "252": "8720A", "223": "8621Z", "177": "8790A", "228": "8621Z", "362": "8610Z",
    "698": "8610Z", "446": "8810B", "632": "4774Z", "214": "8790B", "330": "8532Z",
    "437": "8710C", "109": "8610Z", "247": "8810C", "255": "8710C", "189": "8891B",
    "146": "8610Z", "611": "8690B", "124": "8621Z", "101": "8610Z", "106": "8610Z",
    "128": "8610Z", "365": "8610Z", "127": "8610Z", "141": "8610Z", "300": "8542Z",
}

SPH = (("1", "Etablissement public de santé"),
        ("6", "Etablissement de santé privé d'intérêt collectif"),
        ("0", "Non concerné"), ("9", "indéterminé"),
        ("7", "Etab de santé privé non lucratif, non déclar intérêt collect"))

# --------------------------------------------------------------------------- names, addresses

TOWN_BASES = (
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
TOWN_SUFFIXES = ("", "", "", "", "", "-SUR-MER", "-SUR-LOIRE", "-LES-BAINS", "-EN-VALLÉE",
                  "-LE-CHÂTEAU", "-SUR-SEINE", "-DU-LAC", "-LA-FORÊT", "-EN-BRESSE")
QUALIFIERS = (
    "LES TILLEULS", "LES LILAS", "DU CENTRE", "LE VAL FLEURI", "LES GLYCINES", "SAINTE-ANNE",
    "NOTRE-DAME", "LES CHARMILLES", "LA ROSERAIE", "DU PARC", "LES MIMOSAS", "LE CLOS DES VIGNES",
    "LES PEUPLIERS", "LA SOURCE", "LES AUBÉPINES", "L'ORANGERIE", "LE BOCAGE", "LES HORTENSIAS",
    "LA CHÊNAIE", "BEL AIR", "LES CÈDRES", "LE MOULIN", "LES SAULES", "SAINT-JOSEPH",
    "LA PROVIDENCE", "LES CAMÉLIAS", "L'ESCALE", "LE PHARE", "LES COQUELICOTS", "LA CLAIRIÈRE",
    "LES VIOLETTES", "LE HAMEAU", "LES ÉTANGS", "LES JARDINS DU LAC", "LE GRAND CHÊNE",
)
PHARMACY_QUALIFIERS = (
    "DU CENTRE", "DE LA GARE", "DE LA MAIRIE", "DES HALLES", "DU MARCHÉ", "PRINCIPALE",
    "DE L'ÉGLISE", "DU PORT", "DES ARCADES", "DU CHÂTEAU", "DE LA PLACE", "CENTRALE", "DU PONT",
    "DES QUATRE CHEMINS", "DU SOLEIL", "DES TILLEULS", "DU PARC",
)
SURNAMES = (
    "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
    "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX",
    "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRÉ", "LEFÈVRE", "MERCIER", "DUPONT", "LAMBERT",
    "BONNET", "FRANÇOIS", "MARTINEZ",
)
ORGS = ("CCAS", "ADMR", "ADAPEI", "APAJH", "MUTUALITÉ", "CROIX-ROUGE", "FONDATION", "ASSOCIATION",
         "PEP", "UDAF")
STREETS = (
    "DE LA RÉPUBLIQUE", "VICTOR HUGO", "JEAN JAURÈS", "DU GÉNÉRAL DE GAULLE", "PASTEUR",
    "DES ÉCOLES", "DE LA GARE", "DU MOULIN", "DE L'ÉGLISE", "DES LILAS", "SAINT-MARTIN",
    "DE PARIS", "DU STADE", "DES TILLEULS", "NATIONALE", "DU CHÂTEAU", "DE LA LIBÉRATION",
    "GAMBETTA", "FOCH", "CARNOT", "DES ACACIAS", "DU 8 MAI 1945", "DE L'HÔPITAL", "DES PRÉS",
    "DU PORT", "DE LA MAIRIE", "ANATOLE FRANCE", "DES FRÈRES LUMIÈRE", "DU CHAMP DE FOIRE",
)
STREET_TYPES = ("R", "R", "R", "R", "R", "AV", "AV", "PL", "PL", "RTE", "BD", "CHE", "ALL",
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
