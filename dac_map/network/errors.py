"""Errors of the road network (:mod:`dac_map.network`), in the :mod:`dac_map.errors` hierarchy.

Every error names the file it is about; when one is raised during a build, the previous
cached network is untouched (the cache is replaced atomically, only after every check).
"""

from __future__ import annotations

from dac_map.errors import DacMapError, InputFormatError, InputMissingError, ValidationError


class NetworkError(DacMapError):
    """Base class of the road-network errors."""


class NetworkInputMissingError(NetworkError, InputMissingError):
    """The OpenStreetMap extract does not exist or cannot be read."""


class NetworkFormatError(NetworkError, InputFormatError):
    """The file is not an OpenStreetMap PBF extract, is truncated, or has no drivable road."""


class NetworkAreaError(NetworkError, ValidationError):
    """The extract does not cover the territory (most resources are far from any road)."""


class NetworkCacheError(NetworkError):
    """The cached network is missing, unreadable or from an incompatible version."""

    exit_code = 6
