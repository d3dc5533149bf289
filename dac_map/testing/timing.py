"""Timing helper of the benchmarks (in-process figures; whole-process figures are measured
by each benchmark around a child process)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    """Median wall time (seconds, ``time.perf_counter``) of ``runs`` calls of ``fn()``."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


__all__ = ["median_seconds"]
