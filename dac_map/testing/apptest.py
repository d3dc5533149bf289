"""Streamlit ``AppTest`` helpers shared by the tests of the app (a checkout's ``app.py``), and
the text of a PDF the app produced.

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


def unescape(markdown: str) -> str:
    """What a reader sees of escaped Markdown (:func:`dac_map.ui.text.md`): the backslash
    escapes dropped, and the invisible word joiners md() puts in web and e-mail addresses."""
    from dac_map.ui.text import WORD_JOINER

    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


def unmet_pages_script(store: str, db: str, reports: str) -> None:
    """An ``AppTest.from_function`` script: the unmet-need list of DAC-80 (log ``db``, store
    ``store``) and the ARS report button (reports written to ``reports``, no population table)."""
    from dac_map.ui.coverage_view import render_ars_report_download
    from dac_map.ui.unmet_view import render_unmet_needs_page

    render_unmet_needs_page(db, store, "DAC-80")
    render_ars_report_download(store, "DAC-80", db_path=db, reports_dir=reports,
                               population_path="none")


def pdf_text(data: bytes) -> str:
    """The text of a PDF document (pypdf), page after page; fails unless ``data`` is a PDF."""
    import io

    from pypdf import PdfReader

    assert data[:5] == b"%PDF-", data[:40]
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


__all__ = ["APP", "markdown_text", "pdf_text", "result_count", "run_app", "unmet_pages_script"]
