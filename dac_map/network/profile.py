"""Car speeds by OpenStreetMap road class, and which ways a car may drive on.

The default speeds (km/h) are those of the OSRM car profile (``car.lua``, the profile behind
the OpenStreetMap car routing): typical free-flow speeds, lower than the legal limits, as a
rural coordinator's driving time. A way's speed is the speed of its class, or its ``maxspeed``
tag when that is a number (km/h, or ``mph``) lower than the class speed.

Override them with the setting ``NETWORK_SPEEDS`` (``"motorway=110,primary=70"``: the classes
named replace the defaults) or ``NETWORK_SPEEDS_FILE`` (a TOML file with a ``[speeds]`` table,
``motorway = 110``). Classes absent from the table are not drivable (``track``, ``path``,
``footway``, ``cycleway``, ``steps``, ``pedestrian``, ``construction``...).

One-way streets (directed edges): ``oneway=yes|true|1`` (forward), ``oneway=-1|reverse``
(backward), and implied by ``junction=roundabout|circular`` and by ``highway=motorway`` unless
``oneway=no``. Ways closed to cars are dropped: ``access``/``vehicle``/``motor_vehicle``/
``motorcar`` = ``no|private|agricultural|forestry|delivery`` (the most specific tag wins),
``area=yes``, ``service=parking_aisle|driveway|emergency_access``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from dac_map import settings
from dac_map.network.errors import NetworkFormatError

#: Default car speed per ``highway`` class, km/h (OSRM car profile).
DEFAULT_SPEEDS_KMH: Mapping[str, float] = {
    "motorway": 90, "motorway_link": 45,
    "trunk": 85, "trunk_link": 40,
    "primary": 65, "primary_link": 30,
    "secondary": 55, "secondary_link": 25,
    "tertiary": 40, "tertiary_link": 20,
    "unclassified": 25, "residential": 25, "road": 25,
    "living_street": 10, "service": 15,
}

#: Classes where ``oneway`` is implied unless ``oneway=no``.
IMPLIED_ONEWAY = frozenset({"motorway"})

_CLOSED = frozenset({"no", "private", "agricultural", "forestry", "delivery", "destination_no"})
_OPEN = frozenset({"yes", "permissive", "designated", "destination", "customers"})
_SKIPPED_SERVICE = frozenset({"parking_aisle", "driveway", "emergency_access"})
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*$")


def parse_speed_table(text: str, *, source: str = "NETWORK_SPEEDS") -> dict[str, float]:
    """``"motorway=110, primary=70"`` -> ``{"motorway": 110.0, "primary": 70.0}``."""
    speeds: dict[str, float] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        try:
            speed = float(value)
        except ValueError:
            speed = float("nan")
        if not sep or not key.strip() or not speed > 0:
            raise NetworkFormatError(f"vitesse invalide « {item} » (attendu classe=km/h, > 0)",
                                     path=source)
        speeds[key.strip()] = speed
    return speeds


def load_speeds(path: Path | str | None = None) -> dict[str, float]:
    """The speed table in force (km/h per road class), read at call time.

    ``path`` (or the setting ``NETWORK_SPEEDS_FILE``) is a TOML file with a ``[speeds]`` table;
    the setting ``NETWORK_SPEEDS`` is applied last. Both only replace or add classes.
    """
    speeds = dict(DEFAULT_SPEEDS_KMH)
    path = path or settings.NETWORK_SPEEDS_FILE
    if path:
        try:
            with open(path, "rb") as fh:
                table = tomllib.load(fh).get("speeds", {})
        except OSError as exc:
            raise NetworkFormatError(f"fichier de vitesses illisible ({exc.strerror})",
                                     path=str(path)) from exc
        except tomllib.TOMLDecodeError as exc:
            raise NetworkFormatError(f"TOML invalide : {exc}", path=str(path)) from exc
        for key, value in table.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise NetworkFormatError("vitesse invalide (nombre de km/h > 0 attendu)",
                                         path=str(path), field=f"speeds.{key}")
            speeds[str(key)] = float(value)
    if settings.NETWORK_SPEEDS:
        speeds.update(parse_speed_table(settings.NETWORK_SPEEDS))
    return speeds


def car_allowed(tags: Mapping[str, str]) -> bool:
    """False when the tags close the way to private cars (the most specific tag wins)."""
    if tags.get("area") == "yes" or tags.get("service") in _SKIPPED_SERVICE:
        return False
    for key in ("motorcar", "motor_vehicle", "vehicle", "access"):
        value = tags.get(key)
        if value in _CLOSED:
            return False
        if value in _OPEN:
            return True
    return True


def oneway(tags: Mapping[str, str]) -> int:
    """1: forward only, -1: backward only, 0: both directions."""
    value = tags.get("oneway")
    if value in ("yes", "true", "1"):
        return 1
    if value in ("-1", "reverse"):
        return -1
    if value == "no":
        return 0
    if tags.get("junction") in ("roundabout", "circular") or tags.get("highway") in IMPLIED_ONEWAY:
        return 1
    return 0


def way_speed(tags: Mapping[str, str], speeds: Mapping[str, float]) -> float | None:
    """Speed (km/h) of a way for a car, or None when a car cannot drive on it."""
    speed = speeds.get(tags.get("highway", ""))
    if speed is None or not car_allowed(tags):
        return None
    m = _MAXSPEED.match(tags.get("maxspeed", ""))
    if m:
        limit = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
        if 0 < limit < speed:
            speed = limit
    return speed
