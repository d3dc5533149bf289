"""Column layouts of the FINESS etalab extracts, defined once.

Sources: the official DREES notices of the etalab extracts (``format_etalabcs1100507.csv``,
``format_etalabcs1100502.csv``) and, for the equipment extract cs1100505, the field list of the
FINESS ``equipementsocial`` flow (same names, without the ``libcourt*`` short labels).

Every data line starts with its section name (``structureet``, ``geolocalisation``,
``equipementsocial``); the first line of an extract is a header ``finess;etalab;NN;DATE``.
Fields are ``;``-separated and may be CSV-quoted with doubled quotes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """The layout of one kind of line: its name and its fields after the section name."""

    name: str
    fields: tuple[str, ...]
    #: Whether one extra empty trailing field (a line ending with ``;``) is tolerated.
    trailing_empty_ok: bool = False

    @property
    def width(self) -> int:
        """Number of ``;``-separated values on a line, section name included."""
        return len(self.fields) + 1


#: ``structureet`` lines of cs1100507 and cs1100502: 32 values (cs1100507 leaves ``numuai`` empty).
STRUCTUREET = Section(
    "structureet",
    (
        "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib",
        "numvoie", "typvoie", "voie", "compvoie", "lieuditbp", "commune", "departement",
        "libdepartement", "ligneacheminement", "telephone", "telecopie", "categetab",
        "libcategetab", "categagretab", "libcategagretab", "siret", "codeape", "codemft",
        "libmft", "codesph", "libsph", "dateouv", "dateautor", "datemaj", "numuai",
    ),
)

#: ``geolocalisation`` lines of cs1100507: 6 values.
GEOLOCALISATION = Section(
    "geolocalisation",
    ("nofinesset", "coordxet", "coordyet", "sourcecoordet", "datemaj"),
)

#: ``equipementsocial`` lines of cs1100505 (social and medico-social equipment).
EQUIPEMENTSOCIAL = Section(
    "equipementsocial",
    (
        "nofinesset", "de", "libde", "ta", "libta", "client", "libclient",
        "sourceinfo", "libsourceinfo",
        "capinstot", "capinstm", "capinstf", "capinsthab", "ageminiinst", "agemaxiinst",
        "indsupinst", "datederinst", "datepremautor",
        "capautot", "capautm", "capautf", "capauthab", "ageminiaut", "agemaxiaut",
        "indsupaut", "dateautor", "datemajaut", "datemajinst",
    ),
    trailing_empty_ok=True,
)

#: Header line of every etalab extract: ``finess;etalab;NN;YYYY-MM-DD``.
HEADER_TAG = "finess"

#: FINESS overseas department codes and the INSEE department they stand for.
OVERSEAS_DEPARTMENTS: dict[str, str] = {
    "9A": "971",  # Guadeloupe
    "9B": "972",  # Martinique
    "9C": "973",  # Guyane
    "9D": "974",  # La Réunion
    "9E": "975",  # Saint-Pierre-et-Miquelon
    "9F": "976",  # Mayotte
}

#: Projection named by the last token of ``sourcecoordet`` -> EPSG code.
PROJECTIONS: dict[str, int] = {
    "LAMBERT_93": 2154,
    "LAMBERT93": 2154,
    "L93": 2154,
    "RGF93": 2154,
    "UTM_N20": 5490,  # Antilles (RGAF09)
    "UTM_N22": 2972,  # Guyane (RGFG95)
    "UTM_S40": 2975,  # Réunion (RGR92)
    "UTM_S38": 4471,  # Mayotte (RGM04)
    "UTM_N21": 32621,  # Saint-Pierre-et-Miquelon
}

#: EPSG codes accepted when ``sourcecoordet`` names them by number.
KNOWN_EPSG: frozenset[int] = frozenset({2154, 5490, 2972, 2975, 4471, 32621, 4326})
