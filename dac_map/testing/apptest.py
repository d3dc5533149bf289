"""Streamlit ``AppTest`` helpers shared by the tests of the app (a checkout's ``app.py``).

>>> at = run_app({"dac": "DAC-80", "famille": "pa_hebergement"})   # doctest: +SKIP
>>> result_count(at)                                               # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

#: The app's entry point in the checkout (``dac_map/testing/`` -> the repository root).
APP = str(Path(__file__).resolve().parents[2] / "app.py")


def run_app(params: dict[str, str] | None = None, timeout: float = 90) -> AppTest:
    """Run ``app.py`` once with the URL parameters ``params`` (``timeout`` in seconds, generous:
    the test machine may be loaded); fails when the script raised (the exception messages are
    the assertion's)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def result_count(at: AppTest) -> int:
    """The « **N ressources** » count of the result summary."""
    for m in at.markdown:
        hit = re.match(r"\*\*(\d+) ressources?\*\*", m.value)
        if hit:
            return int(hit.group(1))
    raise AssertionError("no result count on the page")


def markdown_text(at: AppTest) -> str:
    """Every Markdown element of the page, one per line."""
    return "\n".join(m.value for m in at.markdown)


__all__ = ["APP", "markdown_text", "result_count", "run_app"]
