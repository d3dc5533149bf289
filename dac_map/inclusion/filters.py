"""The filters of the social resources' catalogue (:class:`~dac_map.inclusion.catalogue.SocialCatalogue`,
loaded by :func:`~dac_map.inclusion.catalogue.load_social`). They follow the contract of
:mod:`dac_map.query.filters` (frozen dataclass, ``mask(catalogue)``, French ``label`` and
``describe(catalogue)``), one per criterion:

* :class:`SocialFamilyFilter` — families in plain French ("Aide alimentaire", "Santé
  mentale"...), from the data·inclusion thematics (:mod:`dac_map.inclusion.vocab`);
* :class:`PublicFilter` — services for one of the publics (``tous-publics`` services always
  match), :class:`FeeFilter` — free or paying, :class:`QualityFilter` — data·inclusion's
  quality score at least a value (0-1; resources without a score are kept out);
* « Intervient à <commune> » is :class:`dac_map.query.serving.ServesCommuneFilter`, the one
  filter shared with the FINESS establishments (re-exported here): the resource's intervention
  area (``zone_eligibilite``) lists the commune, its department, an EPCI containing it (the
  shipped EPCI table, :func:`dac_map.inclusion.zones.epci_table`), or ``france``; a resource
  without an area serves its own commune. The catalogue's ``serving`` is its
  :class:`~dac_map.query.serving.AreaIndex`;
* :class:`LocatedInFilter` — located in departments / communes; :class:`SocialTextFilter` —
  words of the name, the structure or the description.

Coordinates are WGS84 degrees (EPSG:4326).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dac_map import codes
from dac_map.inclusion import vocab
from dac_map.inclusion.catalogue import SocialCatalogue
from dac_map.query.errors import QueryError
from dac_map.query.filters import QueryFilter
from dac_map.query.serving import ServesCommuneFilter
from dac_map.query.text import fold_text


class SocialFilter(QueryFilter):
    """Base of the social filters: the contract of :class:`dac_map.query.filters.QueryFilter`
    (``mask``, ``label``, ``describe``) over a :class:`SocialCatalogue`."""


def _tuple(values: object, what: str, allowed: Iterable[str] | None = None) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    out = tuple(dict.fromkeys(str(v).strip() for v in values or () if str(v).strip()))
    if not out:
        raise QueryError(f"aucune valeur pour le filtre {what} / no value given")
    if allowed is not None:
        bad = [v for v in out if v not in allowed]
        if bad:
            raise QueryError(f"{what} inconnu(s) / unknown: {', '.join(bad)}")
    return out


@dataclass(frozen=True)
class SocialFamilyFilter(SocialFilter):
    """Resources of one of the families (keys of :data:`vocab.FAMILIES`, prefix optional)."""

    families: tuple[str, ...]

    def __post_init__(self) -> None:
        keys = tuple(f.removeprefix(vocab.FAMILY_PREFIX) for f in _tuple(self.families, "famille"))
        _tuple(keys, "famille", vocab.FAMILIES)
        object.__setattr__(self, "families", keys)

    @property
    def label(self) -> str:
        names = [vocab.FAMILIES[f] for f in self.families]
        return ("Famille : " if len(names) == 1 else "Familles : ") + ", ".join(names)

    def mask(self, catalogue: SocialCatalogue) -> np.ndarray:
        return catalogue.families.mask(len(catalogue), [vocab.FAMILY_PREFIX + f for f in self.families])


@dataclass(frozen=True)
class PublicFilter(SocialFilter):
    """Services for one of ``publics`` (v1 codes); ``tous-publics`` services always match."""

    publics: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "publics", _tuple(self.publics, "public", vocab.PUBLICS))

    @property
    def label(self) -> str:
        return "Public : " + ", ".join(vocab.PUBLICS[p] for p in self.publics)

    def mask(self, catalogue: SocialCatalogue) -> np.ndarray:
        return catalogue.publics.mask(len(catalogue), {*self.publics, "tous-publics"})


@dataclass(frozen=True)
class FeeFilter(SocialFilter):
    """Free (``gratuit``) or paying (``payant``) services; unknown fees never match."""

    fee: str

    def __post_init__(self) -> None:
        if self.fee not in vocab.FEES:
            raise QueryError(f"frais inconnus / unknown fee: {self.fee!r} (gratuit, payant)")

    @property
    def label(self) -> str:
        return f"Frais : {vocab.FEES[self.fee].lower()}"

    def mask(self, catalogue: SocialCatalogue) -> np.ndarray:
        return catalogue.fee == self.fee


@dataclass(frozen=True)
class QualityFilter(SocialFilter):
    """data·inclusion quality score at least ``minimum`` (0 to 1)."""

    minimum: float

    def __post_init__(self) -> None:
        try:
            v = float(self.minimum)
        except (TypeError, ValueError):
            raise QueryError(f"score de qualité invalide / invalid quality score: {self.minimum!r}") from None
        if not 0.0 <= v <= 1.0:
            raise QueryError(f"le score de qualité va de 0 à 1 / quality score is 0-1: {v}")
        object.__setattr__(self, "minimum", v)

    @property
    def label(self) -> str:
        return f"Score de qualité data·inclusion ≥ {self.minimum:.2f}".replace(".", ",")

    def mask(self, catalogue: SocialCatalogue) -> np.ndarray:
        q = catalogue.quality
        return ~np.isnan(q) & (q >= self.minimum - 1e-9)


@dataclass(frozen=True)
class LocatedInFilter(SocialFilter):
    """Resources located in one of ``departments`` or ``communes``."""

    departments: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "departments", tuple(self.departments))
        object.__setattr__(self, "communes", tuple(self.communes))
        if not self.departments and not self.communes:
            raise QueryError("ni département ni commune / no department or commune given")

    @property
    def label(self) -> str:
        return "Situées dans : " + ", ".join([*self.departments, *self.communes])

    def mask(self, catalogue: SocialCatalogue) -> np.ndarray:
        return np.isin(catalogue.department, list(self.departments)) | np.isin(catalogue.commune, list(self.communes))


@dataclass(frozen=True)
class SocialTextFilter(SocialFilter):
    """Every word of ``text`` (accent- and case-insensitive) in the name, the structure's name
    or the start of the description."""

    text: str

    def __post_init__(self) -> None:
        if not fold_text(self.text):
            raise QueryError("texte de recherche vide / empty search text")

    @property
    def label(self) -> str:
        return f"Texte : « {self.text.strip()[:60]} »"

    def mask(self, catalogue: SocialCatalogue) -> np.ndarray:
        return self.mask_within(catalogue, np.ones(len(catalogue), dtype=bool))

    def mask_within(self, catalogue: SocialCatalogue, within: np.ndarray) -> np.ndarray:
        """:meth:`mask` on the rows of ``within`` only (False elsewhere): a catalogue that has
        not folded its whole text (a one-off command) folds those rows only."""
        rows = np.flatnonzero(within)
        folded = catalogue.folded_text(rows)
        hit = np.ones(len(rows), dtype=bool)
        for word in fold_text(self.text).split():
            hit &= np.array([word in t for t in folded], dtype=bool)
        out = np.zeros(len(catalogue), dtype=bool)
        out[rows[hit]] = True
        return out


def search_social(catalogue: SocialCatalogue, filters: Iterable[SocialFilter]) -> pd.DataFrame:
    """The resources matching every filter, best quality first then by name."""
    mask = np.ones(len(catalogue), dtype=bool)
    for f in filters:
        mask &= f.mask(catalogue)
    out = catalogue.table[mask].copy()
    out["_q"] = pd.to_numeric(out["quality"], errors="coerce").fillna(-1)
    return out.sort_values(["_q", "name"], ascending=[False, True], kind="stable").drop(columns="_q")


def coverage_by_area(catalogue: SocialCatalogue, filters: Iterable[QueryFilter],
                     departments: Iterable[str]) -> pd.DataFrame:
    """Coverage by intervention areas: for each commune of ``departments`` (the catalogue's
    communes), how many resources matching ``filters`` (« Intervient à » left out: every commune
    is asked) have it in their area — ``commune, name, resources``; 0 is a white zone. Counted
    with :func:`dac_map.query.serving.served_counts`, the index « Intervient à » uses."""
    from dac_map.query.serving import served_counts

    mask = np.ones(len(catalogue), dtype=bool)
    for f in filters:
        if not isinstance(f, ServesCommuneFilter):
            mask &= f.mask(catalogue)
    deps = set(departments)
    communes = sorted(c for c in catalogue.commune_names if codes.department_of(c) in deps)
    counts = served_counts(catalogue, communes, mask)
    return pd.DataFrame({"commune": communes, "name": [catalogue.commune_names[c] for c in communes],
                         "resources": [counts[c] for c in communes]})


def describe(filters: Iterable[SocialFilter], catalogue: SocialCatalogue) -> str:
    """French description of a search."""
    parts = [f.describe(catalogue) for f in filters]
    return " ; ".join(parts) if parts else "Toutes les ressources sociales"


def _one(values: list[str], key: str) -> str:
    if len(values) != 1:
        raise QueryError(f"une seule valeur pour « {key} » / one value for {key!r}")
    return values[0]


#: The social search's keys (URL and ``dac-map inclusion search``), datasette style: one entry
#: per key builds its filter from the given values; :func:`filters_from_params` drives it.
SOCIAL_PARAMS: dict[str, Callable[[list[str]], SocialFilter]] = {
    "famille": lambda v: SocialFamilyFilter(tuple(v)),
    "public": lambda v: PublicFilter(tuple(v)),
    "frais": lambda v: FeeFilter(_one(v, "frais")),
    "qualite": lambda v: QualityFilter(_one(v, "qualite").replace(",", ".")),
    "intervient": lambda v: ServesCommuneFilter(_one(v, "intervient")),
    "situee": lambda v: LocatedInFilter(departments=tuple(x for x in v if codes.is_department(x)),
                                        communes=tuple(x for x in v if codes.is_commune(x))),
    "q": lambda v: SocialTextFilter(" ".join(v)),
}


def filters_from_params(params: Mapping[str, object]) -> list[SocialFilter]:
    """The filters of ``params`` (key -> value or list of values; empty values ignored), in
    :data:`SOCIAL_PARAMS` order. Unknown keys or invalid values raise :class:`QueryError`."""
    unknown = sorted(set(params) - set(SOCIAL_PARAMS))
    if unknown:
        raise QueryError(f"critère inconnu / unknown key: {', '.join(unknown)} "
                         f"(connus : {', '.join(SOCIAL_PARAMS)})")
    out = []
    for key, build in SOCIAL_PARAMS.items():
        raw = params.get(key)
        values = [raw] if isinstance(raw, str | int | float) else list(raw or ())
        values = [str(v).strip() for v in values if str(v).strip()]
        if values:
            try:
                out.append(build(values))
            except (ValueError, TypeError) as exc:
                raise QueryError(f"{key} : {exc}") from exc
    return out
