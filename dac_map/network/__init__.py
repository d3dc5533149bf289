"""Road network: car travel times from an OpenStreetMap extract, embedded (no routing server).

* :mod:`.profile`: speeds by road class (km/h, configurable) and car access / one-way rules;
* :mod:`.osm`: reading the drivable ways of an ``.osm.pbf`` with pyosmium;
* :mod:`.graph`: the directed graph (intersections, travel time in seconds per edge);
* :mod:`.router`: :class:`RoadNetwork`: snapping, Dijkstra (scipy.sparse.csgraph), nearest N by
  time, multi-source times per commune, reachable area;
* :mod:`.cache` and :mod:`.build`: the per-territory cache under the data folder, written
  atomically, and its (re)build.
"""

from dac_map._lazy import lazy_exports

#: Submodule -> its public names, imported on first use (``import dac_map.network`` stays cheap:
#: ``dac-map --help`` does not load numpy).
_EXPORTS = {
    "build": ("BuildReport", "build_network", "load_network", "needs_rebuild",
              "network_from_edges", "try_load_network"),
    "errors": ("NetworkAreaError", "NetworkCacheError", "NetworkError", "NetworkFormatError",
               "NetworkInputMissingError"),
    "router": ("FROM_RESOURCE", "TO_RESOURCE", "RoadNetwork", "Snap"),
}
__getattr__, __dir__, __all__ = lazy_exports("dac_map.network", _EXPORTS)
