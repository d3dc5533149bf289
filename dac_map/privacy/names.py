"""Persons' names in normalised text (:func:`name_spans`): civility + name, context words
(*famille*, *patient(e)*, *née*, *veuve*), a common first name next to a capitalised word, a
surname of the shipped list, an unknown word in capitals; places, institutions, eponyms and
acronyms of the sector are not names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dac_map.privacy.text import first_names, fold, surnames

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

WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


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
    return [_Tok(m.group(0), fold(m.group(0)), m.start(), m.end()) for m in WORD.finditer(t)]


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


def name_spans(t: str, allowed: frozenset[str]) -> list[tuple[int, int]]:
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


__all__ = ["WORD", "name_spans"]
