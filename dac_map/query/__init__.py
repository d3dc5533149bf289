"""Query layer of dac-map: find the right resource by type, specialty, capacity, territory,
distance and name, over the GeoPackage built by the ETL. Pure Python (no Streamlit).

>>> from dac_map.query import load_catalogue, search, TerritoryFilter, FamilyFilter
>>> cat = load_catalogue()                                                  # doctest: +SKIP
>>> search(cat, [TerritoryFilter(dac_id="DAC-80"), FamilyFilter(["hopitaux"])]).records  # doctest: +SKIP

Public API: :func:`load_catalogue`, :func:`search`, :func:`fold_text`, the filters
(:class:`TerritoryFilter`, :class:`FamilyFilter`, :class:`CategoryFilter`,
:class:`SpecialtyFilter`, :class:`CapacityFilter`, :class:`DistanceFilter`,
:class:`TextFilter`, :class:`StatusFilter`, :class:`NearestFilter` — the N nearest, by road
time with a :class:`~dac_map.network.RoadNetwork` given to :func:`search`), :class:`Catalogue`,
:class:`SearchResult`,
:class:`QueryError`, and the exports :func:`to_french_table` and :func:`to_geojson`.
"""

from dac_map.query.catalogue import Catalogue, load_catalogue
from dac_map.query.distance import DistanceFilter
from dac_map.query.errors import QueryError
from dac_map.query.export import FRENCH_HEADERS, to_french_table, to_geojson
from dac_map.query.filters import (
    CategoryFilter,
    FamilyFilter,
    QueryFilter,
    StatusFilter,
    TerritoryFilter,
    TextFilter,
)
from dac_map.query.nearest import NearestFilter
from dac_map.query.search import SORTS, SearchResult, search
from dac_map.query.specialty import CapacityFilter, SpecialtyFilter
from dac_map.query.serving import ServesCommuneFilter
from dac_map.query.text import fold_text

# FINESS+ activity filters (issue 11); imported last: they build on the filters above.
from dac_map.finess_plus.filters import (  # noqa: E402
    ActivityCapacityFilter,
    ActivityTypeFilter,
)

__all__ = [
    "Catalogue", "load_catalogue", "search", "SearchResult", "SORTS", "fold_text", "QueryError",
    "QueryFilter", "StatusFilter", "TerritoryFilter", "FamilyFilter", "CategoryFilter",
    "SpecialtyFilter", "CapacityFilter", "DistanceFilter", "TextFilter", "NearestFilter",
    "to_french_table", "to_geojson", "FRENCH_HEADERS",
    "ServesCommuneFilter", "ActivityTypeFilter", "ActivityCapacityFilter",
]
