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
* :func:`dac_map.testing.synthetic_equipment.write_equipment_extract` writes a cs1100505 file
  (``equipementsocial`` lines) for the social and medico-social establishments of a table, from
  its ``PROFILE`` table of plausible (discipline, activity type, clientèle, capacity)
  combinations per category.

The capacities and most address details are invented. With ``illustrative=True`` the equipment
lines say so themselves (``sourceinfo`` ``X``, "Capacité fictive (démonstration dac-map)").

Reference files read at run time (from ``settings.DATA_DIR``, falling back to the project's
``data/`` folder): the category nomenclature (labels and aggregates) and the department
outlines. The departments, categories, names and addresses drawn from are in
:mod:`dac_map.testing.synthetic_tables`; discipline (``de``, TRE-R280), clientèle (``client``,
TRE-R279) and activity type (``ta``) labels in :mod:`dac_map.testing.synthetic_equipment`.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from dac_map import settings
from dac_map.etl.layouts import GEOLOCALISATION, PROJECTIONS, STRUCTUREET
from dac_map.testing.synthetic_tables import (
    APE,
    CATEGORY_WEIGHTS,
    METRO_TOKEN,
    NASTY_NAMES,
    ORGS,
    OVERSEAS,
    PHARMACY_QUALIFIERS,
    PHONE_REGION,
    POPULATION_K,
    PREFIXES,
    QUALIFIERS,
    SOURCECOORD_PREFIX,
    SPH,
    STREET_TYPES,
    STREETS,
    SURNAMES,
    TOWN_BASES,
    TOWN_SUFFIXES,
)

#: Extraction date written in the header and in ``geolocalisation.datemaj``.
SOURCE_DATE = "2021-01-08"
#: First line of every generated extract.
HEADER = ("finess", "etalab", "00", SOURCE_DATE)

_CATEGORIES_FILE = Path("nomenclatures") / (
    "finess_nomenclature_categories_etablissement_avec_agregats_20211214.csv")
_DEPARTMENTS_FILE = Path("geo") / "departements.geojson"


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
    for code in POPULATION_K:
        name, geom = by_code[code]
        shapely.prepare(geom)
        out.append((code, name, geom))
    return tuple(out)


@functools.lru_cache(maxsize=None)
def _transformer(epsg: int):
    from pyproj import Transformer

    return Transformer.from_crs(4326, epsg, always_xy=True)


def _prefix_for(code: str, label: str) -> tuple[str, ...]:
    if code in PREFIXES:
        return PREFIXES[code]
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


def random_dates(rng: np.random.Generator, n: int, start: str, end: str) -> np.ndarray:
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


def write_section(path, encoding: str, section: str, columns: list[list], n: int) -> None:
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
    weights = np.array([POPULATION_K[c] for c, _, _ in departments], dtype=float)
    weights /= weights.sum()
    base = 1 if n >= len(departments) else 0
    per_dep = base + rng.multinomial(n - base * len(departments), weights)

    finess_codes = []
    for code, _, _ in departments:
        finess_codes.append(OVERSEAS[code].finess if code in OVERSEAS else code)

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
    town_base = rng.integers(0, len(TOWN_BASES), n)
    town_suffix = rng.integers(0, len(TOWN_SUFFIXES), n)
    towns = [TOWN_BASES[b] + TOWN_SUFFIXES[s] for b, s in zip(town_base, town_suffix)]
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
        if insee in OVERSEAS:
            o = OVERSEAS[insee]
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
            prefix = PHONE_REGION.get(insee, "04")
        commune.append(c)
        acheminement.append(f"{postal} {town_plain}" + (" CEDEX" if cedex[i] else ""))
        phone.append("" if phone_empty[i] else prefix + phone_digits[i][len(prefix):])
        fax.append(prefix + fax_digits[i][len(prefix):] if fax_filled[i] else "")

    # Names.
    kind = rng.random(n)
    q_idx = rng.integers(0, len(QUALIFIERS), n)
    pq_idx = rng.integers(0, len(PHARMACY_QUALIFIERS), n)
    s_idx = rng.integers(0, len(SURNAMES), n)
    o_idx = rng.integers(0, len(ORGS), n)
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
                tail = PHARMACY_QUALIFIERS[pq_idx[i]]
            elif kind[i] < 0.8:
                tail = SURNAMES[s_idx[i]]
            else:
                tail = towns[i]
        elif kind[i] < 0.4:
            tail = QUALIFIERS[q_idx[i]]
        elif kind[i] < 0.75:
            tail = towns[i]
        else:
            tail = f"{ORGS[o_idx[i]]} {towns[i]}"
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
    typvoie = _pick(rng, STREET_TYPES, n)
    voie = _pick(rng, STREETS, n)
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
    lieuditbp[lieudit] = np.char.add("LIEU DIT ", _pick(rng, QUALIFIERS, len(lieudit)).astype(str))
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
    codeape = ["" if ape_empty[i] else APE.get(c, "8899B") for i, c in enumerate(cat)]
    sph_pick = rng.choice(len(SPH), size=n, p=[0.45, 0.2, 0.25, 0.07, 0.03])
    hospital = np.array([lib[c][3] == "1000" for c in cat])
    codesph = np.where(hospital, np.array([s[0] for s in SPH], dtype=object)[sph_pick], "")
    libsph = np.where(hospital, np.array([s[1] for s in SPH], dtype=object)[sph_pick], "")
    empty = np.full(n, "", dtype=object)

    # Dates.
    dateouv = random_dates(rng, n, "1960-01-01", "2020-12-31")
    old = rng.random(n)
    dateouv[old < 0.04] = "1901-01-01"
    dateouv[(old >= 0.04) & (old < 0.07)] = "1904-04-04"
    dateautor = random_dates(rng, n, "1980-01-01", "2020-12-31")
    dateautor[rng.random(n) < 0.5] = ""
    datemaj = random_dates(rng, n, "2005-01-01", "2021-01-07")

    # Coordinates in the CRS of each row.
    x = np.empty(n)
    y = np.empty(n)
    token = np.full(n, METRO_TOKEN, dtype=object)
    for insee, o in OVERSEAS.items():
        token[dep_insee == insee] = o.token
    for tok in np.unique(token.astype(str)):
        mask = token == tok
        x[mask], y[mask] = _transformer(PROJECTIONS[tok]).transform(lon[mask], lat[mask])
    sourcecoordet = [SOURCECOORD_PREFIX + t for t in token]

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


