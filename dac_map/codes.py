"""French administrative and FINESS codes, defined once: patterns, department of a commune,
and the metric CRS used for distances.

Scalar functions take ``str``; the vectorised ones (suffix ``s``) take and return pandas
Series of text (no pandas import here: only the Series string methods are used).

Metric CRS (EPSG codes, metres): Lambert-93 (2154) in metropolitan France and Corsica, the
local CRS of :data:`dac_map.settings.LOCAL_METRIC_CRS` (read at call time) overseas.
"""

from __future__ import annotations

import functools
import re

from dac_map import settings

#: A FINESS number: 9 characters, the second may be a letter (2A/2B, 9A-9F overseas).
FINESS_PATTERN = r"[0-9][0-9A-Z][0-9]{7}"
#: An INSEE department code: ``80``, ``2A``, ``971``.
DEPARTMENT_PATTERN = r"[0-9]{2}|2[AB]|97[0-9]"
#: An INSEE commune code: ``80021``, ``2A004``, ``97105``.
COMMUNE_PATTERN = r"[0-9]{5}|2[AB][0-9]{3}"

FINESS_RE = re.compile(FINESS_PATTERN)
DEPARTMENT_RE = re.compile(DEPARTMENT_PATTERN)
COMMUNE_RE = re.compile(COMMUNE_PATTERN)

#: Lambert-93, the metric CRS of metropolitan France (metres).
LAMBERT_93 = 2154

#: lon/lat bounding box (WGS84 degrees) of metropolitan France and Corsica.
METROPOLE_BOUNDS = (-5.8, 41.2, 10.0, 51.6)


def is_finess(text: str) -> bool:
    """Whether ``text`` is a well-formed FINESS number."""
    return FINESS_RE.fullmatch(text) is not None


def is_department(text: str) -> bool:
    """Whether ``text`` is a well-formed INSEE department code."""
    return DEPARTMENT_RE.fullmatch(text) is not None


def is_commune(text: str) -> bool:
    """Whether ``text`` is a well-formed INSEE commune code."""
    return COMMUNE_RE.fullmatch(text) is not None


def is_overseas(department: str) -> bool:
    """Whether an INSEE department code is overseas (``97x``, ``98x``)."""
    return department[:2] in ("97", "98")


def department_of(commune: str) -> str:
    """INSEE department of an INSEE commune code: ``80021`` -> ``80``, ``2A004`` -> ``2A``,
    ``97105`` -> ``971``."""
    return commune[:3] if commune[:2] in ("97", "98") else commune[:2]


def departments_of(communes):
    """Vectorised :func:`department_of` over a Series of commune codes (text)."""
    codes = communes.astype("str")
    overseas = codes.str.match(r"9[78]")
    return codes.str[:2].where(~overseas, codes.str[:3])


def metric_epsg(department: str) -> int:
    """Metric CRS (EPSG) for distances in an INSEE department: Lambert-93 in metropolitan
    France, the local CRS of :data:`~dac_map.settings.LOCAL_METRIC_CRS` overseas, ``0`` (no
    metric CRS known) for another overseas code."""
    local = settings.LOCAL_METRIC_CRS.get(department)
    if local is not None:
        return int(local)
    return 0 if is_overseas(department) else LAMBERT_93


def metric_epsgs(departments):
    """Vectorised :func:`metric_epsg` over a Series of department codes -> int64 Series."""
    deps = departments.astype("str")
    local = deps.map(settings.LOCAL_METRIC_CRS)
    default = deps.str.match(r"9[78]").map({True: 0, False: LAMBERT_93})
    return local.fillna(default).astype("int64")


@functools.lru_cache(maxsize=8)
def _overseas_areas(crs: tuple[int, ...]) -> tuple[tuple[int, tuple[float, float, float, float]], ...]:
    import pyproj

    out = []
    for code in crs:
        area = pyproj.CRS.from_epsg(code).area_of_use
        if area is not None:
            out.append((code, area.bounds))
    return tuple(out)


def metric_epsg_at(lon: float, lat: float) -> int | None:
    """Metric CRS (EPSG) for distances around a point (``lon``, ``lat`` in WGS84 degrees):
    Lambert-93 in metropolitan France, the overseas CRS whose area of use contains the point,
    ``None`` outside France."""
    w, s, e, n = METROPOLE_BOUNDS
    if w <= lon <= e and s <= lat <= n:
        return LAMBERT_93
    for code, (w, s, e, n) in _overseas_areas(tuple(dict.fromkeys(settings.LOCAL_METRIC_CRS.values()))):
        if w <= lon <= e and s <= lat <= n:
            return code
    return None


# --------------------------------------------------------------------------- primary territory

def _code_list(value: object) -> list[str]:
    """A territory's codes: a list, or the store's space-separated text."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return []


def assign_territory(department, commune, territories):
    """Primary DAC territory of each row, the one rule of the ETL (``dac_id`` of each
    establishment) and of the coverage indicators (the communes of a territory): a territory
    listing the commune wins over one listing its department; the first listing wins among
    equals; NA when no territory covers it.

    Args:
        department, commune: Series of INSEE department and commune codes (text), aligned.
        territories: ``dac_id``, ``departments``, ``communes`` (lists of codes, or
            space-separated text as in the store), or None.

    Returns a text Series aligned with ``department``.
    """
    by_dep: dict[str, str] = {}
    by_com: dict[str, str] = {}
    if territories is not None and len(territories):
        for dac_id, deps, coms in territories[["dac_id", "departments", "communes"]].itertuples(
                index=False, name=None):
            for d in _code_list(deps):
                by_dep.setdefault(d, str(dac_id))
            for c in _code_list(coms):
                by_com.setdefault(c, str(dac_id))
    by_department = department.map(by_dep).astype("str")
    if not by_com:
        return by_department
    return commune.map(by_com).astype("str").fillna(by_department)
