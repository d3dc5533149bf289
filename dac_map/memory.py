"""Process-wide memory set-up for the Arrow-heavy stages (ETL, catalogue load, imports).

:func:`use_arrow_pool` makes the pool named by :data:`dac_map.settings.ARROW_MEMORY_POOL`
(read at call time) pyarrow's default pool for the allocations that follow. Arrays already
allocated keep the pool they came from, so switching is safe at any time; the stages call it
first thing and it does nothing when the pool is already the one asked for.
"""

from __future__ import annotations

from dac_map import settings
from dac_map.errors import DacMapError

#: Pool names accepted by the setting.
POOLS = ("jemalloc", "system", "mimalloc", "default")


def use_arrow_pool(name: str | None = None) -> str:
    """Make the Arrow memory pool ``name`` (default: the setting) the process default and
    return the backend actually in use (``jemalloc`` falls back to ``system`` when the
    installed pyarrow is built without it; ``mimalloc`` raises when missing).

    Raises :class:`~dac_map.errors.DacMapError` (field: the environment variable) for an unknown
    name.
    """
    import pyarrow as pa

    wanted = (name or settings.ARROW_MEMORY_POOL).strip().lower()
    if wanted not in POOLS:
        raise DacMapError(f"unknown Arrow memory pool {wanted!r}: one of {', '.join(POOLS)} "
                          "/ pool mémoire Arrow inconnu", field="DAC_MAP_ARROW_MEMORY_POOL")
    if wanted == "default":
        return pa.default_memory_pool().backend_name
    if pa.default_memory_pool().backend_name == wanted:
        return wanted
    factory = {"jemalloc": pa.jemalloc_memory_pool, "system": pa.system_memory_pool,
               "mimalloc": pa.mimalloc_memory_pool}[wanted]
    try:
        pool = factory()
    except NotImplementedError:
        if wanted != "jemalloc":
            raise DacMapError(f"this pyarrow has no {wanted} memory pool / pool mémoire "
                              "Arrow absent", field="DAC_MAP_ARROW_MEMORY_POOL") from None
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    return pool.backend_name
