"""Personal-data detection in free text: the one check every free-text field of dac-map uses
(the unmet-need log, the coordinators' notes, any future comment box).

Public API:

* :func:`find_personal_data` — the :class:`Finding` (kind + span in the ORIGINAL text) of every
  piece of personal data found;
* :func:`check_free_text` — validate a field: returns it stripped, or raises
  :class:`PersonalDataError` (a French message naming what was found, never the data itself)
  or :class:`FreeTextError` (too long, invalid characters);
* :func:`normalise` — the normalised text detection works on, with the map back to the
  original positions;
* :func:`allowed_name_pairs` — public names (establishments, communes) the name check of
  *generated* fields may ignore.

Kinds: ``nir`` (French social security number, 13 or 15 characters, Corsican 2A/2B),
``date`` (a full date — day, month and year — or a birth date / birth year marker),
``phone`` (French numbers in any grouping, +33 / 0033, international numbers),
``email`` (with or without a top-level domain, ``@``, ``(at)``, ``[at]``, `` arobase ``,
``(dot)``, `` point ``...), ``name`` (a person's name: civility + name, context words such as
*famille*, *patient(e)*, *née*, *veuve*; a common first name next to a capitalised word; a
surname of the shipped list, alone or in capitals; an unknown word in capitals).

Normalisation before detection: Unicode NFKC (full-width digits, ``＠``...), every decimal
digit to ASCII, Cyrillic and Greek look-alikes to Latin letters, format
characters (zero-width spaces and joiners, soft hyphen, BOM, bidi marks) and combining marks
removed, control characters and every kind of space turned into one space, dashes unified.
Digits are then read as *chains*: digit groups separated by at most three separator characters
(space, ``.``, ``/``, ``_``, ``-``, parentheses), so ``1_85_05/78 006.084-36`` and
``0 6 1 2 3 4 5 6 7 8`` are read as the numbers they spell.

Name lists: ``dac_map/resources/prenoms_fr.txt`` (first names) and
``dac_map/resources/noms_famille_fr.txt`` (the 400 French surnames of Faker's fr_FR provider,
MIT licence; see ``data/README.md``). They ship inside the package so that the check works in
any installation.

Doctors: "Dr Leroy" names a professional, not the patient, but it still names a person and
narrows down who the patient is; it is refused as a name ("le médecin traitant" is fine).

The checks are heuristics that err on the side of refusing: a refused user rewords. Their
recall and false-positive rate are measured on a hand-labelled corpus by
``benchmarks/bench_privacy.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from dac_map.errors import ValidationError

#: Kinds of personal data, in report order.
KINDS = ("nir", "date", "phone", "email", "name")

#: French wording of each kind.
KIND_LABELS: dict[str, str] = {
    "nir": "un numéro de sécurité sociale (NIR)",
    "date": "une date complète ou une date de naissance",
    "phone": "un numéro de téléphone",
    "email": "une adresse électronique",
    "name": "un nom de personne",
}


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind and its span ``[start, end)`` in the original
    text. The matched text itself is not kept (it is personal data)."""

    kind: str
    start: int
    end: int


class FreeTextError(ValidationError):
    """A free-text field was refused (not text, too long, invalid characters)."""


class PersonalDataError(FreeTextError):
    """A free-text field looks like it holds personal data; ``kinds`` says which kinds."""

    def __init__(self, message: str, *, kinds: tuple[str, ...], field: str | None = None,
                 findings: tuple[Finding, ...] = ()) -> None:
        self.kinds = kinds
        self.findings = findings
        super().__init__(message, field=field)


# --------------------------------------------------------------------------- normalisation

#: Cyrillic and Greek letters that look like Latin ones ("Мme Dupоnt" typed to dodge a filter).
_HOMOGLYPHS = str.maketrans(
    "АВЕКМНОРСТХУаеорсухіјѕԁɡΑΒΕΖΗΙΚΜΝΟΡΤΥΧαεικνορτυχ",
    "ABEKMHOPCTXYaeopcyxijsdgABEZHIKMNOPTYXaeikvoptux")
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_QUOTES = dict.fromkeys(map(ord, "\u2018\u2019\u201b\u02bc\u00b4\u0060"), "'")
_UNIFY = {**_DASHES, **_QUOTES, **_HOMOGLYPHS}


def normalise(text: str) -> tuple[str, list[int]]:
    """The text detection works on, and for each of its characters the index of the original
    character it comes from (see the module docstring for what is changed)."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if " " < ch < "`" or "`" < ch < "\x7f":  # printable ASCII but space and backquote: as is
            out.append(ch)
            index.append(i)
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cf", "Mn", "Me"):
            continue  # zero-width, soft hyphen, BOM, bidi marks, combining accents
        if cat in ("Cc", "Zs", "Zl", "Zp") or ch.isspace():
            if out and out[-1] == " ":
                continue
            out.append(" ")
            index.append(i)
            continue
        for c in unicodedata.normalize("NFKC", ch).translate(_UNIFY):
            if unicodedata.category(c) in ("Mn", "Me"):
                continue
            if c.isdecimal() and not c.isascii():
                c = str(unicodedata.decimal(c))  # Arabic-Indic, Devanagari... digits
            out.append(c)
            index.append(i)
    return "".join(out), index


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without accents."""
    nfkd = unicodedata.normalize("NFKD", text)
    return "".join(c for c in nfkd if not unicodedata.combining(c)).lower()


# --------------------------------------------------------------------------- name lists

def _read_list(name: str) -> frozenset[str]:
    text = resources.files("dac_map.resources").joinpath(name).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Folded common French first names (``dac_map/resources/prenoms_fr.txt``)."""
    return frozenset(fold(n) for n in _read_list("prenoms_fr.txt"))


@lru_cache(maxsize=1)
def surnames() -> tuple[frozenset[str], frozenset[str]]:
    """Folded French surnames (``dac_map/resources/noms_famille_fr.txt``): one-word ones and
    two-word ones ("le goff", "da silva")."""
    names = [fold(n) for n in _read_list("noms_famille_fr.txt")]
    return (frozenset(n for n in names if " " not in n), frozenset(n for n in names if " " in n))


# --------------------------------------------------------------------------- numbers

_SEP = r"[ ./_\-()]{1,3}"
_GROUP = r"\d+(?:[ABab](?![^\W\d_])\d*)?"
_CHAIN = re.compile(rf"{_GROUP}(?:{_SEP}{_GROUP})*")
_NIR = re.compile(r"[1-478]\d{4}(?:\d\d|2[AB])\d{6}(?:\d\d)?")
_PHONE_FR = re.compile(r"(?:0|\+33|\+330|0033|00330)[1-9]\d{8}")
_PHONE_INTL = re.compile(r"\+[1-9]\d{7,13}")
_DATE_SEPS = set("/.-_")
#: Words that announce a social security number: then 7 digits or more are refused as a NIR
#: (a partial or mistyped number is still one).
_NIR_WORDS = re.compile(r"(?:\bnir|s[ée]cu(?:rit[ée] sociale)?|\bn°?\s?ss\b|\bnss|carte vitale|"
                        r"immatriculation|\bINS\b)\W{0,12}$", re.IGNORECASE)
#: Words that announce a phone number: then 9 digits without the leading 0 are one too.
_PHONE_WORDS = re.compile(r"(?:t[ée]l[ée]?(?:phone)?|portable|mobile|fixe|joignable|appeler|"
                          r"rappeler|num[ée]ro|n°|gsm|sms)\W{0,6}$", re.IGNORECASE)


def _valid_dmy(d: str, m: str, y: str) -> bool:
    if not (len(d) <= 2 and len(m) <= 2 and len(y) in (2, 4)):
        return False
    if len(y) == 4 and not 1890 <= int(y) <= 2099:
        return False
    return 1 <= int(d) <= 31 and 1 <= int(m) <= 12


def _date_window(groups: list[str], seps: list[str]) -> bool:
    """Three digit groups that read as a full date (d/m/y or y/m/d), or more groups whose digits
    spell ddmmyyyy / ddmmyy with at least two date separators ("1 2 / 0 3 / 1 9 3 8")."""
    if any(not g.isdigit() for g in groups):
        return False
    if len(groups) > 3:
        digits = "".join(groups)
        symbols = sum(any(ch in _DATE_SEPS for ch in s) for s in seps)
        return symbols >= 2 and (_single_group_date(digits) or (
            len(digits) == 6 and _valid_dmy(digits[:2], digits[2:4], digits[4:])))
    if len(groups) != 3:
        return False
    a, b, c = groups
    marked = [any(ch in _DATE_SEPS for ch in s) for s in seps]
    if any(marked) and not all(marked):
        return False  # "1/01 30": a date's separators are all symbols or all spaces
    symbol = all(marked)
    if _valid_dmy(a, b, c):
        return symbol or len(c) == 4
    if len(a) == 4 and 1890 <= int(a) <= 2099 and len(c) <= 2:
        return 1 <= int(b) <= 12 and 1 <= int(c) <= 31
    return False


def _single_group_date(g: str) -> bool:
    """Eight digits ddmmyyyy with a plausible year."""
    return len(g) == 8 and g.isdigit() and _valid_dmy(g[:2], g[2:4], g[4:]) and 1900 <= int(g[4:]) <= 2030


def _number_findings(t: str) -> list[tuple[str, int, int]]:
    """NIR, phones and numeric dates in the digit chains of ``t``. Every window of consecutive
    groups is tried, longest first; a NIR takes its groups from every other reading, whereas a
    phone and a date may overlap ("01/01/1900 17" is reported as both: refusing is what counts),
    and a number with an international prefix (+33, 0033) is a phone first."""
    found: list[tuple[str, int, int]] = []
    for chain in _CHAIN.finditer(t):
        groups = [(m.group(0).upper(), chain.start() + m.start(), chain.start() + m.end())
                  for m in re.finditer(_GROUP, chain.group(0))]
        n = len(groups)
        used = {"nir": [False] * n, "phone": [False] * n, "date": [False] * n}
        plus = chain.start() > 0 and t[chain.start() - 1] == "+"
        announced = bool(_PHONE_WORDS.search(t[max(0, chain.start() - 30):chain.start()]))
        if _NIR_WORDS.search(t[max(0, chain.start() - 40):chain.start()]) and \
                sum(c.isdigit() for c in chain.group(0)) >= 7:
            found.append(("nir", chain.start(), chain.end()))
            continue
        windows = sorted(((i, j) for i in range(n) for j in range(i, min(n, i + 16))),
                         key=lambda w: (-(sum(len(groups[k][0]) for k in range(w[0], w[1] + 1))), w[0]))
        # an international prefix (+33, 0033) makes a phone before anything else
        for i, j in windows:
            text = "".join(g for g, _s, _e in groups[i:j + 1])
            lead = "+" if (i == 0 and plus) else ""
            if (lead or text.startswith("00")) and text.isdigit() and not any(used["nir"][i:j + 1]) \
                    and (_PHONE_FR.fullmatch(lead + text) or (lead and _PHONE_INTL.fullmatch(lead + text))):
                for k in range(i, j + 1):
                    used["nir"][k] = used["phone"][k] = True
                found.append(("phone", groups[i][1] - (1 if lead else 0), groups[j][2]))
        for i, j in windows:
            if any(used["nir"][i:j + 1]):
                continue
            text = "".join(g for g, _s, _e in groups[i:j + 1])
            lead = "+" if (i == 0 and plus) else ""
            kinds = []
            if _NIR.fullmatch(text) and not lead:  # "+33..." is a phone, never a NIR
                kinds.append("nir")
            else:
                if text.isdigit() and (_PHONE_FR.fullmatch(lead + text)
                                       or (lead and _PHONE_INTL.fullmatch(lead + text))
                                       or (announced and i == 0 and re.fullmatch(r"[1-9]\d{8}", text))):
                    kinds.append("phone")
                if _date_window([g for g, _s, _e in groups[i:j + 1]],
                                [t[groups[k][2]:groups[k + 1][1]] for k in range(i, j)]) \
                        or (i == j and _single_group_date(text)):
                    kinds.append("date")
            for kind in kinds:
                if any(used[kind][i:j + 1]):
                    continue
                for k in range(i, j + 1):
                    used[kind][k] = True
                found.append((kind, groups[i][1] - (1 if lead and kind == "phone" else 0),
                              groups[j][2]))
    return found


_MONTHS = (r"janvier|janv|jan|f[ée]vrier|f[ée]vr|f[ée]v|mars|avril|avr|mai|juin|juillet|juil|"
           r"ao[uû]t|septembre|sept|sep|octobre|oct|novembre|nov|d[ée]cembre|d[ée]c")
_DS = r"[ ./_\-]{0,3}"
_DATE_TEXT = [
    # 3 mars 1938, 1er avril 1930, 12-mars-38, 7 janv. 1929
    re.compile(rf"(?<![\w])(?:1er|[0-3]?\d){_DS}(?:{_MONTHS})\.?{_DS}(?:\d{{4}}|'?\d{{2}})(?!\d)",
               re.IGNORECASE),
    # a month and an old year: "février 1935" (a birth month), not "janvier 2024"
    re.compile(rf"(?<![\w])(?:{_MONTHS})\.?{_DS}(?:18\d\d|19\d\d|200[0-5])(?!\d)", re.IGNORECASE),
    # birth markers: né(e) le / en, date de naissance, DDN, naissance :
    re.compile(r"(?<![\w])(?:(?:n[ée]e?s?|n[ée]\.e|n[ée]-e)\s|n[ée]\s?\(e\)\s?)(?:le|en|l')(?![\w])",
               re.IGNORECASE),
    re.compile(r"(?<![\w])(?:date\s?de\s?naissance|date\s?naiss\.?|naissance\s?:|DDN|D\.D\.N\.?|DN\s?:?\s?(?=\d))",
               re.IGNORECASE),
]


# --------------------------------------------------------------------------- e-mails

_LOCAL = r"[\w.+\-]*\w"
_AT = (r"(?:\s?@\s?|\s?[(\[{<]\s?(?:at|a|@|arobase|arrobase)\s?[)\]}>]\s?"
       r"|\s(?:arobase|arrobase)\s)")
_AT_WORD = r"\s(?:at|chez)\s"
_DOT = r"(?:\s?\.\s?|\s?[(\[{<]\s?(?:dot|point)\s?[)\]}>]\s?|\s(?:dot|point)\s)"
_EMAIL = re.compile(rf"{_LOCAL}{_AT}[\w\-]+(?:{_DOT}[\w\-]+)*", re.IGNORECASE)
#: " at " / " chez " only count with a dotted domain ("jean at gmail dot com").
_EMAIL_WORD = re.compile(rf"{_LOCAL}{_AT_WORD}[\w\-]+(?:{_DOT}(?:com|fr|net|org|eu|info|be|ch))",
                         re.IGNORECASE)


# --------------------------------------------------------------------------- names

_CIVILITIES = frozenset("""
m mr mrs mme mmes mlle mlles melle mle mmme monsieur madame mademoiselle messieurs mesdames
""".split())
_FULL_CIVILITIES = frozenset({"monsieur", "madame", "mademoiselle", "messieurs", "mesdames"})
_DOCTORS = frozenset({"dr", "docteur", "pr", "professeur", "drs", "me", "maitre"})
#: Words after which a capitalised word is a person's name ("famille Bernard", "patiente X").
_CONTEXT = frozenset("""
famille patient patiente patients patientes nee epouse epoux veuve veuf beneficiaire usager
usagere resident residente
""".split())
#: Words that can sit between a civility and the name ("Mme veuve Dupont", "M. et Mme X").
_BETWEEN = frozenset({"et", "veuve", "veuf", "epouse", "nee", "vve", "ep"})

#: Common lower-case words that may follow an abbreviated civility ("mme souhaite rester").
_AFTER_CIVILITY = frozenset("""
a ai as avait aura aurait est etait sera serait sont vit vivait habite habitait reste restait
souhaite souhaitait veut voulait voudrait peut pourrait doit devrait refuse refusait accepte
demande demandait attend attendait sort sortira rentre rentrera revient part est-elle
et ou ni mais donc car ne n se s sa son ses lui elle il y en le la les l un une des du de
pas plus tres aussi deja encore toujours seule seul avec sans chez pour par sur dans
presente presentait beneficie beneficiait aidante aidant agee age ayant etant va ira fait
se sent semble dit explique signale ne n' aimerait voudrait pourra devra doit prefere
""".split())

#: Words before a capitalised word that make it a place or an institution name
#: ("EHPAD Jean Jaurès", "rue Victor Hugo", "secteur d'Albert").
_PLACE_WORDS = frozenset("""
ehpad ehpa residence residences hopital hospitalier hospitaliere clinique polyclinique centre
ch chu chr chs chi chru foyer maison institut ime esat fam mas ssiad saad spasad sessad camsp
cmpp cmp cattp csapa caarud ssr smr usld had uhr pasa puv chrs cada mecs itep savs samsah
ccas cias clic mdph msp cds pmi pole unite service pavillon batiment site groupe groupement
etablissement structure fondation association college lycee ecole universite faculte rue
avenue av bd boulevard place allee chemin impasse quai route square cours passage rond-point
voie parc jardin jardins domaine villa pharmacie laboratoire cabinet espace accueil
dispensaire saint sainte st ste hameau quartier cite lotissement salle stade gymnase
mediatheque fv fh pf ea lbm marpa atelier propharmacie relais relai secteur territoire
commune communes bassin canton ville village region departement pays plateau vallee
agglomeration metropole communaute cc ca pays littoral ile mont cote baie golfe lac foret
hopitaux plateforme reseau equipe dispositif antenne permanence agence caisse cpam caf msa
carsat ars dac cpts gcs maia pta ssiad-ssr cabinet-medical residence-autonomie institution
sanatorium preventorium aerium manoir chateau ferme moulin-de collectif
""".split())
#: Place prepositions: a lone surname right after them is taken as a commune ("à Albert").
_PLACE_PREPOSITIONS = frozenset({"a", "de", "d", "du", "des", "sur", "vers", "pres", "en", "au",
                                 "aux", "lez", "les", "la", "le", "l", "depuis", "entre", "jusqu"})
#: Parts of a hyphenated word that make it a place ("Saint-Vincent", "Mers-les-Bains").
_PLACE_PARTS = frozenset({"saint", "sainte", "st", "ste", "sur", "sous", "en", "les", "le", "la",
                          "lez", "les", "de", "du", "des", "notre", "dame", "aux", "au", "mont",
                          "bains", "picardie", "nord", "sud", "est", "ouest", "haut", "bas",
                          "ville", "vieux", "neuf", "grand", "petit", "val", "bois"})
#: Disease eponyms and other capitalised words that follow "patient(e)" without being names.
_EPONYMS = frozenset("""
alzheimer parkinson charcot huntington crohn down korsakoff lewy pick creutzfeldt jakob
wernicke guillain barre asperger rett tourette duchenne kahler hodgkin basedow hashimoto
addison cushing paget raynaud willebrand marfan turner klinefelter gilles biermer horton
steinert friedreich sla sep avc tsa tnd tdah bpco irc ald gir covid sida vih hiv
""".split())
#: Acronyms of the health and social sector (never a surname written in capitals).
_ACRONYMS = frozenset("""
dac ars cpam msa carsat apa pch aah gir hdj emg emsp usp lisp ucc uvp gcs cpts pta maia clic
samu smur urg umg ssiad saad spasad pa ph phv tsa ted tnd ue has cnsa finess insee siret rsa
cmu css ame ald ide idel as asg avs amp aes esa esad pfr empp emppa csa ch chu chr chs chi
chru ime ehpad ehpa usld ssr smr had uhr pasa puv chrs cada mecs itep savs samsah ccas cias
mdph msp cds pmi cmp cmpp cattp csapa caarud camsp sessad esat fam mas foyer ssiad cmu c2s
rqth cdaph cdapa mmse gds npi adl iadl aggir irm tdm scanner ecg eeg avc sla sep bpco irc
vih sida vhc covid tdah tca tsa ted ptsd idec ipa ash ems ehpad-uvp pasa-uhr asalee ucsa
smpr umd uma cmp-ea cpea cegidd caf udaf atmp atmp ucog sanpsy ehpad udaf adapei apajh admr
unafam fnath una ugecam adpep apf ssiad-ph saaad slc cesu cesf asd sav prado rad cla pcpe
pcpe ipa dmp ins nir rpps adeli vsl tap smur urgences ccam ngap cim sros prs cpom ars-hdf
cd cg cr cms csi cvs eps epsm esms ema emgt emgex empp emsp hdj hds hdn phrc ssr-pa usp
ggir gmp pathos sms tel fax mail nb rdv ras aux cr pa-ph vad vae dhos dgos drees atih
pmsi rsi ou et ok pdf sos ps pst rvs bpco oms asip ans cnil rgpd
""".split())
#: Lone surnames of the list that are also everyday words: at the start of a sentence they are
#: read as words ("Petit logement...").
_COMMON_WORD_SURNAMES = frozenset("""
petit blanc brun gros masse barre roche rocher moulin fontaine paris parent voisin cousin
neveu marin normand breton baron buisson carre clerc gay hardy joly merle noel pages roux
sauvage vaillant marchand meunier boulanger charpentier couturier cordier barbier boucher
chevalier page grenier potier renard leger millet bigot germain camus masse lebon legrand
""".split())
#: Everyday words people write in capitals for emphasis (never read as a surname in capitals).
_CAPS_WORDS = frozenset("""
urgent urgente urgence urgences important importante attention rappel rappeler refus refuse
refusee sortie sorties aucun aucune impossible complet complete completes liste attente demande
demandes besoin besoins solution solutions place places domicile hopital note notes info infos
total oui non rien suite retour sans avec alerte priorite prioritaire fin mois semaine semaines
dossier accord valide relance relancer annule annulee report reporte toujours jamais pendant
apres avant depuis entree admission admis nouveau nouvelle nouvelles situation situations
precaire isole isolee seule seul aidant aidante famille patient patiente tres plus moins
hyperlink formula excel calc cmd somme total import export choisir
""".split())
#: Verbs that follow a person in a coordinator's note ("Zwiebelmann refuse l'EHPAD"): after
#: them, an unknown capitalised word that opens a sentence is taken as a surname.
_PERSON_VERBS = frozenset("""
refuse refusait accepte acceptait souhaite souhaitait veut voulait vit vivait habite habitait
decline declinait
""".split())
#: Capitalised words that open a sentence and are not surnames: people named by their role,
#: places, services ("Aidante refuse", "Famille souhaite", "Structure refuse").
_ROLE_WORDS = frozenset("""
aidant aidante aidants famille familles patient patiente personne personnes couple conjoint
conjointe epoux epouse mari femme fils fille fille enfant enfants mere pere frere soeur neveu
niece petit-fils petite-fille tuteur tutrice curateur curatrice mandataire medecin infirmier
infirmiere kine kinesitherapeute psychologue assistante assistant educateur educatrice
usager usagere beneficiaire resident residente locataire voisin voisine proche proches
entourage structure etablissement service equipe hopital clinique residence foyer maison
centre directeur directrice cadre coordinatrice coordinateur secretariat mairie commune
departement region prefecture caisse mutuelle bailleur proprietaire dame monsieur madame
jeune adolescent adolescente adulte senior retraite retraitee veuf veuve celui celle il elle
ils elles on qui personne-ci lui nous vous chacun aucun aucune tout tous rien cela ce cet
cette ces le la les un une des mon ma mes son sa ses leur leurs notre votre
""".split())
_NOUN_SUFFIXES = ("tion", "sion", "ment", "ite", "eur", "euse", "iere", "ier", "ante", "ence",
                  "ance", "isme", "ique", "aire", "age", "ure", "ise", "eux", "oire")
#: First names that are also everyday lower-case words.
_LOWER_WORD_FIRST_NAMES = frozenset("""
pierre rose france olivier
""".split())
_SENTENCE_END = ".!?\n;:"
#: Between two words in capitals a full stop is an abbreviation ("TRAV. MIGR."), not an end.
_HARD_END = "!?\n;:"

_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def _is_upper_word(w: str) -> bool:
    letters = [c for c in w if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _is_title(w: str) -> bool:
    """Capitalised (``Dupont``, ``Rousseau-Meunier``) or in capitals."""
    return w[:1].isupper()


def _is_first_name(w: str) -> bool:
    fn = first_names()
    return w[:1].isupper() and all(fold(p) in fn for p in w.split("-"))


@dataclass
class _Tok:
    text: str
    folded: str
    start: int
    end: int


def _tokens(t: str) -> list[_Tok]:
    return [_Tok(m.group(0), fold(m.group(0)), m.start(), m.end()) for m in _TOKEN.finditer(t)]


def _gap(t: str, a: _Tok, b: _Tok) -> str:
    return t[a.end:b.start]


def _sentence_start(t: str, toks: list[_Tok], i: int) -> bool:
    if i == 0:
        return not t[:toks[0].start].strip(" (\"'«-*•")
    before = t[toks[i - 1].end:toks[i].start]
    return any(c in _SENTENCE_END for c in before)


def _after_place(t: str, toks: list[_Tok], i: int) -> bool:
    """The word before token ``i`` (skipping particles and capitalised words of the same name,
    with no punctuation in between) is a place or institution word."""
    k = i - 1
    steps = 0
    while k >= 0 and steps < 5:
        gap = _gap(t, toks[k], toks[k + 1])
        if gap.strip(" '") or "\n" in gap:
            return False
        w = toks[k].folded
        if w in _PLACE_WORDS or any(p in _PLACE_WORDS for p in w.split("-")):
            return True
        if w in _PLACE_PREPOSITIONS or _is_title(toks[k].text):
            k -= 1
            steps += 1
            continue
        return False
    return False


def _caps_neighbour(t: str, toks: list[_Tok], i: int) -> bool:
    """Token ``i`` sits next to another word in capitals (no sentence end between): part of a
    name copied in capitals from the registry ("IME ADAPEI80 AMIENS"), not a lone surname."""
    for j in (i - 1, i + 1):
        if 0 <= j < len(toks) and toks[j].text.isupper():
            a, b = (toks[j], toks[i]) if j < i else (toks[i], toks[j])
            if not any(c in _HARD_END for c in t[a.end:b.start]):
                return True
    return False


def _in_caps_institution(t: str, toks: list[_Tok], i: int) -> bool:
    """Token ``i`` is in a run of words in capitals that starts with a place / institution word or
    an acronym ("PHARMACIE DEBERLY - LAURENT", "SESSAD ADAPEI80 ALBERT")."""
    k = i - 1
    while k >= 0 and i - k <= 6 and toks[k].text.isupper() and \
            not any(c in _HARD_END for c in t[toks[k].end:toks[k + 1].start]):
        if toks[k].folded in _PLACE_WORDS or toks[k].folded in _ACRONYMS:
            return True
        k -= 1
    return False


def _place_compound(tok: _Tok) -> bool:
    parts = tok.folded.split("-")
    return len(parts) > 1 and any(p in _PLACE_PARTS for p in parts)


def _is_surname(tok: _Tok) -> bool:
    single, _double = surnames()
    return any(p in single for p in tok.folded.split("-"))


def _namelike(tok: _Tok) -> bool:
    """A capitalised word that could be a person's name after a context word."""
    if not _is_title(tok.text):
        return False
    if tok.folded in _EPONYMS or tok.folded in _ACRONYMS or tok.folded in _PLACE_WORDS:
        return False
    if _is_upper_word(tok.text) and len(tok.text) <= 3:
        return False
    return True


def _name_spans(t: str, allowed: frozenset[str]) -> list[tuple[int, int]]:
    toks = _tokens(t)
    spans: list[tuple[int, int]] = []
    _single, double = surnames()
    n = len(toks)

    def pair_allowed(i: int) -> bool:
        return bool(allowed) and i + 1 < n and f"{toks[i].folded} {toks[i + 1].folded}" in allowed

    def lone_allowed(i: int) -> bool:
        return bool(allowed) and f"{toks[i].folded} {toks[i].folded}" in allowed

    def add(i: int, j: int) -> None:
        spans.append((toks[i].start, toks[j].end))

    def punct_gap(a: int, b: int, ok: str = " ") -> bool:
        return set(_gap(t, toks[a], toks[b])) <= set(ok)

    for i, tok in enumerate(toks):
        w = tok.folded
        nxt = toks[i + 1] if i + 1 < n else None
        # 1. civility + name: "Mme Dupont", "M. Jean Martin", "mme dupont", "monsieur X",
        #    "Mr et Mme Chevalier", "Mme veuve Renaud"
        if w in _CIVILITIES and w != "m" and i > 0 and _gap(t, toks[i - 1], tok).strip() == "(" \
                and _is_title(toks[i - 1].text) and toks[i - 1].folded not in _ACRONYMS:
            add(i - 1, i)  # "Zwiebelmann (Mme)"
            continue
        is_civ = w in _CIVILITIES and (w != "m" or tok.text == "M")
        if is_civ and w == "m":
            is_civ = nxt is not None and (t[tok.end:tok.end + 1] == "." or _is_title(nxt.text)) \
                and not (tok.start > 0 and t[tok.start - 1] == ".")  # "S.A.M.S.A.H", "M.J.P.M."
            is_civ = is_civ and not re.match(r"\.[A-Z]\.", t[tok.end:tok.end + 3])
        if is_civ and (w != "me") and nxt is not None:
            if _after_place(t, toks, i):
                continue
            j = i + 1
            while j < n and (toks[j].folded in _BETWEEN or toks[j].folded in _CIVILITIES) and \
                    punct_gap(j - 1, j, " .&"):
                j += 1
            if j < n and punct_gap(j - 1, j, " .&'"):
                cand = toks[j]
                if _is_title(cand.text):
                    if not pair_allowed(j):
                        add(i, j)
                    continue
                if cand.folded in _PLACE_PREPOSITIONS and j + 1 < n and _is_title(toks[j + 1].text) \
                        and punct_gap(j, j + 1, " '"):
                    add(i, j + 1)  # "mademoiselle de La Tour"
                    continue
                if w in _FULL_CIVILITIES:
                    if _is_surname(cand) and cand.folded not in _AFTER_CIVILITY:
                        add(i, j)
                elif cand.folded not in _AFTER_CIVILITY and not cand.folded.endswith(("ait", "ent")):
                    add(i, j)
            continue
        # 2. doctors: "Dr Leroy", "docteur Vasseur"
        if w in _DOCTORS and w not in ("me", "maitre") and nxt is not None and punct_gap(i, i + 1, " ."):
            if (_is_title(nxt.text) and nxt.folded not in _ACRONYMS) or \
                    (_is_surname(nxt) and nxt.folded not in _AFTER_CIVILITY):
                if not pair_allowed(i + 1) and not _after_place(t, toks, i):
                    add(i, i + 1)
            continue
        # 3. context words: "famille Bernard", "patiente X, 86 ans", "née Durand"
        if w in _CONTEXT or t[tok.start:tok.end + 3].lower() in ("patient(e)",):
            j = i + 1
            if j < n and t[tok.end:tok.end + 3] == "(e)":
                j = i + 2 if i + 2 < n and toks[i + 1].folded == "e" else i + 1
            if j < n and punct_gap(j - 1, j, " ,(e)") and "\n" not in _gap(t, toks[j - 1], toks[j]):
                cand = toks[j]
                gap = _gap(t, toks[j - 1], cand)
                if "," in gap and not _is_surname(cand):
                    continue
                if (_namelike(cand) or (_is_surname(cand) and cand.folded not in _AFTER_CIVILITY)) \
                        and not pair_allowed(j) and not _after_place(t, toks, i):
                    add(i, j)
            continue
    # 4. first name + capitalised word ("Jean Martin"), capitalised surname / capitals + first
    #    name ("DUPONT Marie", "Gauthier Sylvie"), two-word surnames ("Le Goff")
    for i in range(n - 1):
        a, b = toks[i], toks[i + 1]
        if not punct_gap(i, i + 1) or (a.start > 0 and t[a.start - 1] in "-'"):
            continue
        if f"{a.folded} {b.folded}" in double and _is_title(a.text) and _is_title(b.text):
            if not _after_place(t, toks, i) and not pair_allowed(i):
                add(i, i + 1)
            continue
        if a.text.islower() and b.text.islower() and a.folded in first_names() \
                and a.folded not in _LOWER_WORD_FIRST_NAMES and _is_surname(b) \
                and b.folded not in _COMMON_WORD_SURNAMES and not _after_place(t, toks, i):
            add(i, i + 1)  # "jean dupont" typed in lower case
            continue
        first_last = _is_first_name(a.text) and _is_title(b.text) and b.folded not in _ACRONYMS \
            and b.folded not in _PLACE_WORDS and not _place_compound(b)
        last_first = _is_first_name(b.text) and not _is_first_name(a.text) and (
            (_is_upper_word(a.text) and a.folded not in _ACRONYMS and a.folded not in _PLACE_WORDS
             and a.folded not in _EPONYMS)
            or (_is_title(a.text) and _is_surname(a) and not _place_compound(a)))
        if (first_last or last_first) and not _after_place(t, toks, i) and not pair_allowed(i):
            if a.folded in _PLACE_PREPOSITIONS or a.folded in _CIVILITIES:
                continue
            add(i, i + 1)
    # 5. a lone surname of the list, capitalised or in capitals ("Dupont refuse", "DUPONT")
    for i, tok in enumerate(toks):
        if not _is_title(tok.text) or not _is_surname(tok) or _place_compound(tok):
            continue
        if i > 0 and t[toks[i - 1].end:tok.start] in ("-", "'"):
            continue
        if _after_place(t, toks, i):
            continue
        if _is_upper_word(tok.text) and _in_caps_institution(t, toks, i):
            continue
        if i > 0 and toks[i - 1].folded in _PLACE_PREPOSITIONS and \
                not any(c in _SENTENCE_END + "," for c in _gap(t, toks[i - 1], tok)):
            continue
        if i > 0 and _is_title(toks[i - 1].text) and toks[i - 1].folded in ("le", "la", "les") \
                and f"{toks[i - 1].folded} {tok.folded}" not in double:
            continue  # "Le Moulin", "La Fontaine": an establishment's name
        if _sentence_start(t, toks, i) and tok.folded in _COMMON_WORD_SURNAMES and \
                not _is_upper_word(tok.text):
            continue
        if lone_allowed(i) or pair_allowed(i) or (i > 0 and pair_allowed(i - 1)):
            continue
        spans.append((tok.start, tok.end))
    # 7. an unknown capitalised word opening a sentence, then a verb of a person
    #    ("Zwiebelmann refuse l'EHPAD"): a surname the list does not know
    for i, tok in enumerate(toks[:-1]):
        nxt = toks[i + 1]
        if not (tok.text[:1].isupper() and tok.text[1:].islower() and len(tok.text) >= 3):
            continue
        if nxt.folded not in _PERSON_VERBS or t[tok.end:nxt.start] != " " or \
                not _sentence_start(t, toks, i):
            continue
        w = tok.folded
        if (w in _ROLE_WORDS or w in _CIVILITIES or w in _CONTEXT or w in _PLACE_WORDS
                or w in _ACRONYMS or w in _EPONYMS or w in _CAPS_WORDS or w.endswith(_NOUN_SUFFIXES)
                or "-" in w or lone_allowed(i)):
            continue
        spans.append((tok.start, tok.end))
    # 6. an unknown word in capitals that is not an acronym ("KOWALCZYK refuse")
    for i, tok in enumerate(toks):
        if not _is_upper_word(tok.text) or len(tok.text) < 5:
            continue
        parts = tok.folded.split("-")
        if any(p in _ACRONYMS or p in _PLACE_WORDS or p in _EPONYMS or p in _CAPS_WORDS
               for p in parts):
            continue
        if sum(c in "aeiouy" for c in tok.folded) < 2 or _after_place(t, toks, i) \
                or _caps_neighbour(t, toks, i):
            continue
        if lone_allowed(i) or pair_allowed(i) or (i > 0 and pair_allowed(i - 1)):
            continue
        spans.append((tok.start, tok.end))
    return spans


def allowed_name_pairs(names: Iterable[str]) -> frozenset[str]:
    """Pairs of consecutive words (folded) of public names — establishment and commune names
    of the store — that the name check of *generated* fields (filters label and JSON) must not
    mistake for a person ("CHRS LOUISE MICHEL", "FH GEORGES COUTHON")."""
    pairs: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            continue
        words = [fold(m.group(0)) for m in _TOKEN.finditer(normalise(name)[0])]
        pairs.update(f"{a} {b}" for a, b in zip(words, words[1:]))
        pairs.update(f"{w} {w}" for w in words)  # a lone word of a public name
    return frozenset(pairs)


# --------------------------------------------------------------------------- API

def find_personal_data(text: str, allowed_names: frozenset[str] = frozenset()) -> list[Finding]:
    """Every piece of personal data found in ``text``: :class:`Finding` (kind, span in the
    original text), sorted by position. ``allowed_names`` (:func:`allowed_name_pairs`) exempts
    known public names from the name check only."""
    if not text:
        return []
    t, index = normalise(text)
    raw: list[tuple[str, int, int]] = []
    raw.extend(_number_findings(t))
    for p in _DATE_TEXT:
        raw.extend(("date", m.start(), m.end()) for m in p.finditer(t))
    for p in (_EMAIL, _EMAIL_WORD):
        raw.extend(("email", m.start(), m.end()) for m in p.finditer(t))
    emails = [(s, e) for k, s, e in raw if k == "email"]
    for s, e in _name_spans(t, allowed_names):
        if not any(es <= s and e <= ee for es, ee in emails):
            raw.append(("name", s, e))
    merged: list[list] = []  # overlapping findings of one kind become one
    for kind, s, e in sorted((r for r in raw if r[2] > r[1]), key=lambda r: (r[0], r[1], r[2])):
        if merged and merged[-1][0] == kind and s <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], e)
        else:
            merged.append([kind, s, e])
    out = [Finding(kind, index[s], index[e - 1] + 1) for kind, s, e in merged]
    return sorted(out, key=lambda f: (f.start, f.end, KINDS.index(f.kind)))


def personal_data_kinds(text: str, allowed_names: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The kinds found in ``text`` (:data:`KINDS` order; empty tuple: nothing found)."""
    kinds = {f.kind for f in find_personal_data(text, allowed_names)}
    return tuple(k for k in KINDS if k in kinds)


def personal_data_message(kinds: tuple[str, ...], field_label: str,
                          what: str = "Enregistrement refusé") -> str:
    """The French refusal message for ``kinds`` found in the field labelled ``field_label``."""
    found = ", ".join(KIND_LABELS[k] for k in kinds)
    return (f"{what} : le champ « {field_label} » semble contenir {found}. Aucune donnée "
            "permettant d'identifier une personne (nom, date de naissance, n° de sécurité sociale, "
            "téléphone, courriel) ne doit être saisie : reformulez sans ces informations "
            "(par exemple « la patiente », « son médecin traitant »).")


#: Characters no free-text field may hold: C0 controls (but tab and line ends), DEL, lone surrogates.
INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_free_text(text: str | None, *, field: str = "commentaire", max_length: int | None = None,
                    allowed_names: frozenset[str] = frozenset()) -> str:
    """Validate one free-text field typed by a user: returns it stripped ("" for None).

    Raises :class:`FreeTextError` (not text, control or unpaired surrogate characters, longer
    than ``max_length`` characters) or :class:`PersonalDataError` (French message naming the
    field and the kinds found; ``.kinds`` and ``.findings`` for programs). ``field`` is the
    French label of the field, used in the messages and as the error's ``field``."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise FreeTextError(f"le champ « {field} » doit être un texte", field=field)
    if INVALID_CHARS.search(text):
        raise FreeTextError(f"le champ « {field} » contient des caractères non valides", field=field)
    value = text.strip()
    if max_length is not None and len(value) > max_length:
        raise FreeTextError(f"le champ « {field} » dépasse {max_length} caractères "
                            f"({len(value)})", field=field)
    findings = tuple(find_personal_data(value, allowed_names))
    if findings:
        kinds = tuple(k for k in KINDS if any(f.kind == k for f in findings))
        raise PersonalDataError(personal_data_message(kinds, field), kinds=kinds, field=field,
                                findings=findings)
    return value


__all__ = [
    "INVALID_CHARS", "KINDS", "KIND_LABELS", "Finding", "FreeTextError", "PersonalDataError", "allowed_name_pairs",
    "check_free_text", "find_personal_data", "first_names", "fold", "normalise",
    "personal_data_kinds", "personal_data_message", "surnames",
]
