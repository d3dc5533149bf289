"""The centre of a distance criterion (« autour ») as typed by a person: an INSEE commune
code, a FINESS number, ``"Name (code)"``, a commune name or a point written **"lat, lon"**
(WGS84 degrees, latitude first) — :func:`resolve_near`, :func:`parse_point`,
:func:`format_point`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dac_map.codes import COMMUNE_RE, FINESS_RE, department_of
from dac_map.query.errors import QueryError

if TYPE_CHECKING:  # pragma: no cover
    from dac_map.query.catalogue import Catalogue

_POINT = re.compile(r"\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*[;, ]\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*")
#: How a point is written, for messages.
POINT_FORMAT = "« lat, lon » (degrés WGS84, latitude d'abord, ex. 49.894, 2.296)"


def parse_point(text: str) -> tuple[float, float] | None:
    """``"49.894, 2.296"`` (latitude first) -> ``(49.894, 2.296)`` as (lat, lon) in WGS84
    degrees; None when the text is not two numbers (separated by a comma, a semicolon or
    spaces; a decimal comma is accepted). Raises
    :class:`QueryError` when the two numbers are not a latitude and a longitude."""
    m = _POINT.fullmatch(text or "")
    if not m:
        return None
    a, b = m.groups()
    lat, lon = float(a.replace(",", ".")), float(b.replace(",", "."))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise QueryError(f"point invalide / bad point: {text.strip()!r} ; attendu {POINT_FORMAT}")
    return lat, lon


@dataclass(frozen=True)
class Near:
    """A resolved "around" centre: ``kind`` is ``commune``, ``finess`` or ``point``
    (``point`` = (lat, lon), WGS84 degrees)."""

    kind: str
    commune: str | None = None
    finess: str | None = None
    point: tuple[float, float] | None = None
    note: str | None = None  # French explanation when the text was interpreted

    @property
    def lonlat(self) -> tuple[float, float] | None:
        """The point as (lon, lat), the order of :class:`~dac_map.query.distance.DistanceFilter`."""
        return None if self.point is None else (self.point[1], self.point[0])


def format_point(lat: float, lon: float) -> str:
    """``(49.894, 2.296)`` -> ``"49.894, 2.296"`` (the text :func:`parse_point` reads)."""
    return f"{lat:g}, {lon:g}"


def resolve_near(text: str, catalogue: Catalogue, departments: Sequence[str] = ()) -> Near | None:
    """Interpret the "around" text: INSEE commune code, FINESS number, ``"Name (code)"``, a
    point ``lat, lon`` (WGS84 degrees) or a commune name (accent-insensitive; communes of
    ``departments`` first). Raises :class:`QueryError` (French message) when nothing matches."""
    from dac_map.query.text import fold_text

    t = (text or "").strip()
    if not t:
        return None
    up = t.upper()
    if COMMUNE_RE.fullmatch(up):
        return Near("commune", commune=up)
    if FINESS_RE.fullmatch(up):
        return Near("finess", finess=up)
    m = re.fullmatch(r".*\(([0-9]{5}|2[AB][0-9]{3})\)\s*", up)  # "Abbeville (80001)"
    if m:
        return Near("commune", commune=m.group(1))
    pt = parse_point(t)
    if pt is not None:
        return Near("point", point=pt)
    communes = catalogue.communes
    if len(communes):
        folded = fold_text(t)
        names = communes["name"].astype(str).map(fold_text)
        hits = communes.loc[(names == folded).to_numpy(), "code"].astype(str).tolist()
        if hits:
            preferred = [c for c in hits if department_of(c) in set(departments)]
            code = (preferred or hits)[0]
            note = None
            if len(hits) > 1:
                note = (f"{len(hits)} communes « {t} » : {catalogue.commune_name(code)} ({code}) "
                        "retenue ; précisez le code INSEE au besoin.")
            return Near("commune", commune=code, note=note)
    code = _commune_from_cities(t, catalogue)
    if code is not None:
        return Near("commune", commune=code)
    raise QueryError(f"« {t[:60]} » : ni commune connue, ni code INSEE, ni n° FINESS, ni "
                     f"coordonnées {POINT_FORMAT}.")


def _commune_from_cities(text: str, catalogue: Catalogue) -> str | None:
    """A commune code for a name the store has no outline for (issue 10): the most common
    commune code of the establishments whose city (``CEDEX`` and numbers dropped) is ``text``;
    an arrondissement of Paris, Lyon or Marseille gives the whole commune."""
    from dac_map.query.distance import ARRONDISSEMENTS
    from dac_map.query.text import fold_text

    est = catalogue.establishments
    if not len(est) or "city" not in est or "commune" not in est:
        return None
    folded = fold_text(text)

    def clean(city: object) -> str:
        return " ".join(re.sub(r"\b(cedex|\d+)\b", " ", fold_text(str(city or ""))).split())

    wanted = clean(text)
    cities = catalogue.cached("_spec_city_names", lambda: est["city"].astype(str).map(clean).to_numpy())
    hit = cities == wanted
    if not folded or not wanted or not hit.any():
        return None
    code = str(est.loc[hit, "commune"].astype(str).value_counts().index[0])
    parent = {a: c for c, arr in ARRONDISSEMENTS.items() for a in arr}
    return parent.get(code, code)


__all__ = ["POINT_FORMAT", "parse_point", "Near", "format_point", "resolve_near"]
