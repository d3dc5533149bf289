"""The DAC directory (from the registry) and "which DAC for this commune".

Since 2022 DACs are FINESS establishments of category **606** "Dispositif d'appui à la
coordination" (**801** in files older than 2022-01-28). :func:`dac_directory` reads them from the
catalogue's establishments, whatever the source (etalab extracts, FINESS+ Structures flow):
they all land in the ``etablissements`` layer with their category.

:class:`DacLookup` answers "which DAC covers this commune, and what is its number": the
territory's own phone wins, else the phone of its DAC in the directory.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from dac_map.query.search import plain_value
from dac_map.territories.check import primary_dac
from dac_map.territories.model import Territory

#: FINESS categories of DACs: 606 (since 2022-01-28) and the withdrawn temporary code 801.
DAC_CATEGORIES = ("606", "801")

DIRECTORY_COLUMNS = ("finess", "finess_ej", "name", "long_name", "address", "postcode", "city",
                     "commune", "department", "phone", "category", "status", "lon", "lat")


def dac_directory(establishments: pd.DataFrame) -> pd.DataFrame:
    """DAC establishments (category 606/801) with the :data:`DIRECTORY_COLUMNS` present
    (``lon``/``lat`` in WGS84 degrees from the point geometry when there is one)."""
    if "category" not in establishments:
        return pd.DataFrame(columns=list(DIRECTORY_COLUMNS))
    rows = establishments[establishments["category"].astype("string").isin(DAC_CATEGORIES).fillna(False)]
    out = pd.DataFrame({c: rows[c] for c in DIRECTORY_COLUMNS if c in rows.columns})
    if "geometry" in rows and ("lon" not in out or "lat" not in out):
        geom = rows.geometry
        has = geom.notna() & ~geom.is_empty
        out["lon"] = geom.x.where(has)
        out["lat"] = geom.y.where(has)
    for c in DIRECTORY_COLUMNS:
        if c not in out:
            out[c] = pd.NA
    return out[list(DIRECTORY_COLUMNS)].sort_values(["department", "name"], na_position="last"
                                                    ).reset_index(drop=True)


@dataclass(frozen=True)
class DacContact:
    """The DAC covering a commune, as shown to a coordinator."""

    territory_id: str
    name: str
    phone: str
    finess: str = ""
    website: str = ""
    address: str = ""
    by_hand: bool = True
    note: str = ""

    @property
    def fictitious(self) -> bool:
        """The territory is labelled fictitious (demo data: its note says FICTIF)."""
        return "FICTIF" in self.note.upper()

    @property
    def phone_display(self) -> str:
        """``0322450000`` -> ``03 22 45 00 00``; other shapes unchanged."""
        p = self.phone
        if len(p) == 10 and p.isdigit():
            return " ".join(p[i:i + 2] for i in range(0, 10, 2))
        return p

    def tel_href(self) -> str:
        """``tel:`` URI of the phone (digits and a leading +), "" without a phone."""
        digits = "".join(ch for ch in self.phone if ch.isdigit() or ch == "+")
        return f"tel:{digits}" if digits else ""

    def html(self) -> str:
        """``DAC name — <a href="tel:...">03 22 ...</a>``, every part escaped."""
        name = html.escape(self.name)
        if not self.phone:
            return f"{name} — numéro non renseigné"
        return (f'{name} — <a href="{html.escape(self.tel_href(), quote=True)}">'
                f"{html.escape(self.phone_display)}</a>" + (" (numéro fictif, démonstration)"
                                                            if self.fictitious else ""))

    def text(self) -> str:
        """One plain line: name, phone."""
        return (f"{self.name} — {self.phone_display or 'numéro non renseigné'}"
                + (" (numéro fictif, démonstration)" if self.fictitious and self.phone else ""))


class DacLookup:
    """Which DAC covers a commune (INSEE code), from a territory table and a directory."""

    def __init__(self, territories: Iterable[Territory], directory: pd.DataFrame | None = None) -> None:
        self.territories = list(territories)
        self._by_id = {t.id: t for t in self.territories}
        self._dir: dict[str, dict] = {}
        if directory is not None and len(directory):
            for rec in directory.to_dict("records"):
                self._dir[str(rec["finess"])] = rec

    def contact(self, territory_id: str) -> DacContact | None:
        t = self._by_id.get(territory_id)
        if t is None:
            return None
        d = self._dir.get(t.finess, {}) if t.finess else {}
        phone = t.phone or _text(d.get("phone"))
        address = " ".join(x for x in (_text(d.get("address")), _text(d.get("postcode")),
                                       _text(d.get("city"))) if x)
        return DacContact(t.id, t.name, phone, t.finess, t.website, address, t.by_hand, t.note)

    def for_commune(self, commune: str | None) -> list[DacContact]:
        """Every DAC covering ``commune``, the answering one first (empty when none)."""
        if not commune:
            return []
        return [c for c in (self.contact(i) for i in primary_dac(str(commune), self.territories)) if c]

    def first(self, commune: str | None) -> DacContact | None:
        found = self.for_commune(commune)
        return found[0] if found else None


def _text(value: object) -> str:
    v = plain_value(value)
    return "" if v is None else str(v)
