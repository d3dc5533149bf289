"""Road network: car travel times from an OpenStreetMap extract, embedded (no routing server).

* :mod:`.profile`: speeds by road class (km/h, configurable) and car access / one-way rules;
* :mod:`.osm`: reading the drivable ways of an ``.osm.pbf`` with pyosmium;
* :mod:`.graph`: the directed graph (intersections, travel time in seconds per edge);
* :mod:`.router`: :class:`RoadNetwork`: snapping, Dijkstra (scipy.sparse.csgraph), nearest N by
  time, multi-source times per commune, reachable area;
* :mod:`.cache` and :mod:`.build`: the per-territory cache under the data folder, written
  atomically, and its (re)build.
"""

from dac_map.network.build import (BuildReport, build_network, load_network, needs_rebuild,
                                   network_from_edges, try_load_network)
from dac_map.network.errors import (NetworkAreaError, NetworkCacheError, NetworkError,
                                    NetworkFormatError, NetworkInputMissingError)
from dac_map.network.router import FROM_RESOURCE, TO_RESOURCE, RoadNetwork, Snap

__all__ = [
    "BuildReport", "FROM_RESOURCE", "NetworkAreaError", "NetworkCacheError", "NetworkError",
    "NetworkFormatError", "NetworkInputMissingError", "RoadNetwork", "Snap", "TO_RESOURCE",
    "build_network", "load_network", "needs_rebuild", "network_from_edges", "try_load_network",
]
