"""Reading the drivable ways of an OpenStreetMap PBF extract with pyosmium.

:func:`read_drivable_ways` streams the file once (nodes for their locations, then the
``highway`` ways), keeps the ways a car may use (:mod:`dac_map.network.profile`) and returns
them as flat numpy arrays. Coordinates are WGS84 (EPSG:4326) degrees. A way with nodes missing
from the extract (clipped at its border) is split at the missing nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dac_map.network.errors import NetworkFormatError, NetworkInputMissingError
from dac_map.network.profile import oneway, way_speed

#: First bytes of a PBF file: the 4-byte big-endian size of the first BlobHeader, whose type
#: string is "OSMHeader".
_PBF_MAGIC = b"OSMHeader"


@dataclass(frozen=True)
class DrivableWays:
    """Drivable ways as flat arrays.

    Vertex arrays (one value per way vertex, ways concatenated): ``node_id`` (OSM node id),
    ``lon``/``lat`` (WGS84 degrees). Way arrays: ``start`` (first vertex of each way, plus a
    final sentinel = number of vertices), ``speed_kmh``, ``oneway`` (1 forward, -1 backward,
    0 both), ``highway`` (road class). ``skipped_vertices`` counts nodes absent from the
    extract.
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    start: np.ndarray
    speed_kmh: np.ndarray
    oneway: np.ndarray
    highway: np.ndarray
    skipped_vertices: int

    @property
    def n_ways(self) -> int:
        return len(self.speed_kmh)


def check_pbf_header(path: Path) -> None:
    """Raise :class:`NetworkFormatError` unless ``path`` starts like an OSM PBF file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except FileNotFoundError as exc:
        raise NetworkInputMissingError("extrait OpenStreetMap introuvable", path=str(path)) from exc
    except OSError as exc:
        raise NetworkInputMissingError(f"extrait illisible ({exc.strerror})", path=str(path)) from exc
    if len(head) < 16 or _PBF_MAGIC not in head[:32]:
        raise NetworkFormatError(
            "ce fichier n'est pas un extrait OpenStreetMap au format PBF (.osm.pbf) "
            "/ not an OSM PBF file", path=str(path))


def read_drivable_ways(path: Path | str, speeds: Mapping[str, float]) -> DrivableWays:
    """Read the ways a car may drive on from an ``.osm.pbf`` extract.

    Raises :class:`NetworkFormatError` for a file that is not a PBF, is truncated or corrupt,
    or holds no drivable way; :class:`NetworkInputMissingError` when it cannot be read.
    """
    import osmium

    path = Path(path)
    check_pbf_header(path)
    ids: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    starts: list[int] = []
    way_speeds: list[float] = []
    ways_oneway: list[int] = []
    classes: list[str] = []
    skipped = 0
    try:
        processor = (osmium.FileProcessor(str(path))
                     .with_locations()
                     .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
                     .with_filter(osmium.filter.KeyFilter("highway")))
        for way in processor:
            tags = dict(way.tags)
            speed = way_speed(tags, speeds)
            if speed is None:
                continue
            direction = oneway(tags)
            highway = tags["highway"]
            piece = 0  # vertices in the current piece
            for node in way.nodes:
                location = node.location
                if not location.valid():
                    skipped += 1
                    if piece == 1:  # a lone vertex is no road: drop it
                        ids.pop(), lons.pop(), lats.pop(), starts.pop()
                        way_speeds.pop(), ways_oneway.pop(), classes.pop()
                    piece = 0
                    continue
                if piece == 0:
                    starts.append(len(ids))
                    way_speeds.append(speed)
                    ways_oneway.append(direction)
                    classes.append(highway)
                ids.append(node.ref)
                lons.append(location.lon)
                lats.append(location.lat)
                piece += 1
            if piece == 1:
                ids.pop(), lons.pop(), lats.pop(), starts.pop()
                way_speeds.pop(), ways_oneway.pop(), classes.pop()
    except RuntimeError as exc:  # libosmium: pbf_error, io_error, format errors
        raise NetworkFormatError(
            f"extrait OpenStreetMap illisible, tronqué ou corrompu : {exc}", path=str(path)) from exc
    if not starts:
        raise NetworkFormatError(
            "aucune route carrossable dans cet extrait (pas de way highway=* praticable en "
            "voiture)", path=str(path))
    starts.append(len(ids))
    return DrivableWays(
        node_id=np.asarray(ids, dtype=np.int64),
        lon=np.asarray(lons, dtype=np.float64),
        lat=np.asarray(lats, dtype=np.float64),
        start=np.asarray(starts, dtype=np.int64),
        speed_kmh=np.asarray(way_speeds, dtype=np.float64),
        oneway=np.asarray(ways_oneway, dtype=np.int8),
        highway=np.asarray(classes, dtype=object),
        skipped_vertices=skipped,
    )
