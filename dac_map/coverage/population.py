"""Reader of INSEE-style population tables: people aged 75 or more per commune.

Accepted layouts (CSV, ``;`` or ``,`` separated, UTF-8 with or without BOM or Windows-1252,
optionally gzipped; leading lines starting with ``#`` are comments; one row per commune, or per
IRIS with a commune column — rows are summed per commune):

1. **INSEE detailed census tables by sex and age band** ("tableaux détaillés", e.g. the
   population by sex and five-year age band): a commune column ``CODGEO`` and one column per
   sex x age band named ``SEXE<s>_AGEQ<top><start>`` (five-year bands: ``AGEQ80075`` = 75 to 79
   years, ``AGEQ80080`` = the open band 80 or more, ``top`` being the start of the open band)
   or ``SEXE<s>_AGED<top><age>`` (single years, ``AGED100075`` = 75 years old). The ``SEXE<s>_``
   prefix is optional. Aged 75+ = the sum of the bands starting at 75 or later; a band that
   straddles 75 (e.g. an open band ``AGEQ65065``) makes the table unusable for 75+ and is
   refused.
2. **INSEE census key figures** ("bases infracommunales / chiffres clés", e.g.
   ``base-ic-evol-struct-pop``): a commune column ``CODGEO`` or ``COM`` (IRIS files: summed
   per ``COM``) and a column ``P<yy>_POP75P`` (population aged 75 or more). When several years
   are present, the latest is used.
3. **Simple**: ``code`` (or ``commune``/``code_commune``/``codgeo``) and ``pop_75plus`` (or
   ``pop_75_plus``/``population_75_plus``).

Counts may be decimal (census figures are weighted: ``12.345`` or ``12,345``). Commune codes
are INSEE codes (``80021``, ``2A004``, ``97105``); 4-digit codes lost their leading zero in a
spreadsheet and are padded back.

The shipped demo table ``data/reference/DEMO-FICTIF_population_75plus_80_46.csv`` uses layout
1 with **fictitious** values (see ``scripts/make_demo_population.py``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dac_map.codes import COMMUNE_PATTERN
from dac_map.errors import InputFormatError
from dac_map.etl.parser import read_text

#: Age from which people count in the ratio denominators.
AGE_THRESHOLD = 75

_BAND = re.compile(r"^(?:SEXE(?P<sex>[0-9])_)?AGE(?P<kind>[QD])(?P<top>[0-9]{2,3}?)(?P<start>[0-9]{3})$",
                   re.IGNORECASE)
_P75 = re.compile(r"^P(?P<year>[0-9]{2})_POP75P$", re.IGNORECASE)
_CODE_COLUMNS = ("codgeo", "com", "code", "commune", "code_commune", "code_insee", "insee_com")
_SIMPLE_POP = ("pop_75plus", "pop_75_plus", "population_75_plus", "pop75p")
_FICTITIOUS_MARKERS = ("fictif", "fictive", "fictitious")


@dataclass
class PopulationTable:
    """People aged 75+ per commune (``pop_75plus``, indexed by INSEE code), the total
    population when the table gives every band (``pop_total``, else NaN), where they come from,
    and whether the table says its values are fictitious (demo)."""

    table: pd.DataFrame
    source: str
    layout: str
    fictitious: bool

    @property
    def pop_75plus(self) -> pd.Series:
        """People aged 75 or more per commune code."""
        return self.table["pop_75plus"]


def _number(s: pd.Series) -> pd.Series:
    text = s.astype("str").str.strip().str.replace("\u00a0", "", regex=False).str.replace(
        " ", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(text.where(text.ne("") & text.ne("nan") & text.ne("<NA>")), errors="coerce")


def _commune_codes(s: pd.Series) -> pd.Series:
    codes = s.astype("str").str.strip().str.upper()
    codes = codes.where(~codes.str.fullmatch(r"[0-9]{4}"), "0" + codes)
    return codes


def read_population(path: str | Path) -> PopulationTable:
    """Read a population table in one of the layouts of this module's docstring.

    Raises :class:`~dac_map.errors.InputMissingError` if the file is missing and
    :class:`~dac_map.errors.InputFormatError` (naming the file, line and field) if the layout
    is not recognised, a code is invalid or a count is not a non-negative number.
    """
    text, _ = read_text(path)
    lines = text.splitlines()
    comments = []
    while lines and lines[0].lstrip().startswith("#"):
        comments.append(lines.pop(0))
    skipped = len(comments)
    if not lines:
        raise InputFormatError("empty population table", path=str(path))
    delimiter = ";" if lines[0].count(";") >= lines[0].count(",") else ","
    frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=delimiter, dtype="str",
                        keep_default_na=False, quoting=csv.QUOTE_MINIMAL)
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    lower = {c.lower(): c for c in frame.columns}
    code_col = next((lower[c] for c in _CODE_COLUMNS if c in lower), None)
    if code_col is None:
        raise InputFormatError(
            f"no commune code column ({', '.join(_CODE_COLUMNS)}) among {', '.join(frame.columns)}",
            path=str(path), line=skipped + 1, field="CODGEO")
    codes = _commune_codes(frame[code_col])
    bad = ~codes.str.fullmatch(COMMUNE_PATTERN)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputFormatError(f"invalid INSEE commune code {frame[code_col].iloc[i]!r}",
                               path=str(path), line=skipped + i + 2, field=code_col)

    bands = {c: _BAND.match(c) for c in frame.columns}
    bands = {c: m for c, m in bands.items() if m}
    p75 = {c: _P75.match(c) for c in frame.columns}
    p75 = {c: m for c, m in p75.items() if m}
    simple = next((lower[c] for c in _SIMPLE_POP if c in lower), None)

    if bands:
        layout = "insee-tranches-age"
        use, total_cols = [], []
        for col, m in bands.items():
            kind, top, start = m["kind"].upper(), int(m["top"]), int(m["start"])
            open_band = start >= top
            end = None if open_band else (start + 4 if kind == "Q" else start)
            total_cols.append(col)
            if start >= AGE_THRESHOLD:
                use.append(col)
            elif open_band or (end is not None and end >= AGE_THRESHOLD):
                raise InputFormatError(
                    f"age band {col} straddles {AGE_THRESHOLD} years: people aged 75+ cannot be "
                    "counted from this table", path=str(path), line=skipped + 1, field=col)
        if not use:
            raise InputFormatError("no age band starting at 75 or later", path=str(path),
                                   line=skipped + 1, field="AGEQ")
        values = {c: _check(_number(frame[c]), frame[c], path, c, skipped) for c in total_cols}
        pop75 = sum(values[c] for c in use)
        total = sum(values.values())
    elif p75:
        layout = "insee-chiffres-cles"
        col = max(p75, key=lambda c: int(p75[c]["year"]))
        pop75 = _check(_number(frame[col]), frame[col], path, col, skipped)
        tot = next((c for c in frame.columns
                    if re.fullmatch(rf"P{p75[col]['year']}_POP", c, re.IGNORECASE)), None)
        total = _check(_number(frame[tot]), frame[tot], path, tot, skipped) if tot else None
    elif simple:
        layout = "simple"
        pop75 = _check(_number(frame[simple]), frame[simple], path, simple, skipped)
        total = None
    else:
        raise InputFormatError(
            "no population column: expected SEXEs_AGEQttbbb age bands, P<yy>_POP75P or pop_75plus",
            path=str(path), line=skipped + 1)

    out = pd.DataFrame({"code": codes, "pop_75plus": pop75,
                        "pop_total": total if total is not None else np.nan})
    out = out.groupby("code", sort=True).sum(min_count=1)
    joined = " ".join(comments + [Path(path).name] + list(frame.columns)).lower()
    fictitious = any(m in joined for m in _FICTITIOUS_MARKERS)
    return PopulationTable(table=out, source=str(path), layout=layout, fictitious=fictitious)


def is_demo_store(metadata: dict[str, object]) -> bool:
    """True when a store's metadata say it holds demonstration data (illustrative capacities,
    or an establishments file named ``RECONSTRUCTED_``/``DEMO``/``synthetic``)."""
    name = str(metadata.get("establishments_file") or "").lower()
    return bool(metadata.get("equipment_illustrative")) or name.startswith(
        ("reconstructed", "demo", "synthetic"))


def default_population(metadata: dict[str, object]) -> PopulationTable | None:
    """The population table of :data:`dac_map.settings.POPULATION_PATH` for a store, or None
    when the setting is empty/``none``, the file is missing, or the table is FICTITIOUS while
    the store holds real data (the demo table never feeds ratios of real data unless asked for
    explicitly with a path)."""
    from dac_map import settings

    text = str(settings.POPULATION_PATH or "").strip()
    if not text or text.lower() == "none" or not Path(text).is_file():
        return None
    table = read_population(text)
    if table.fictitious and not is_demo_store(metadata):
        return None
    return table


def _check(values: pd.Series, raw: pd.Series, path: str | Path, col: str, skipped: int) -> pd.Series:
    bad = (values.isna() & raw.astype("str").str.strip().ne("")) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputFormatError(f"not a non-negative number: {raw.iloc[i]!r}", path=str(path),
                               line=skipped + i + 2, field=col)
    return values.fillna(0.0)


def band_columns(top: int = 80) -> list[str]:
    """Column names ``SEXE<s>_AGEQ<top><start>`` of a five-year band table, men then women."""
    return [f"SEXE{s}_AGEQ{top}{a:03d}" for s in (1, 2) for a in range(0, top + 5, 5)]
