"""Page helpers shared by the browser tests (Playwright): the map iframe and its state, the
counts the app prints and waiting for them to change, the result list's cells, a page in a new
browser context. Fixtures are in ``conftest.py``; this module holds plain functions."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from playwright.sync_api import Error as PlaywrightError

#: Default wait (milliseconds) for an element of the page.
TIMEOUT = 30_000


@contextmanager
def open_page(browser, **context: object) -> Iterator[object]:
    """A page in a new context of ``browser`` (French locale; ``context``: Playwright context
    options such as ``viewport``); the page's JavaScript errors are kept in ``page.errors``."""
    ctx = browser.new_context(locale="fr-FR", **context)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        ctx.close()


def map_frame(page, ready: str = "window.dacMap", timeout: int = TIMEOUT):
    """The streamlit-folium iframe, once the JavaScript expression ``ready`` is true in it (by
    default: the results layer is drawn). ``timeout`` (milliseconds) bounds the wait for the
    iframe, then the wait for ``ready`` (polled every 100 ms)."""
    page.wait_for_selector("iframe[title='streamlit_folium.st_folium']", timeout=timeout)
    deadline = time.monotonic() + timeout / 1000
    while time.monotonic() < deadline:
        for f in page.frames:
            if "streamlit_folium" in f.url:
                try:
                    if f.evaluate(f"() => !!({ready})"):
                        return f
                except PlaywrightError:  # frame still navigating
                    pass
        page.wait_for_timeout(100)
    raise AssertionError("the map was not drawn")


def map_state(page) -> dict:
    """``window.dacMap`` of the map iframe (version, markers drawn...)."""
    return map_frame(page).evaluate("() => Object.assign({}, window.dacMap)")


def wait_map_change(page, version: int) -> dict:
    """The map state once its version is no longer ``version``."""
    frame = map_frame(page)
    frame.wait_for_function(f"() => window.dacMap && window.dacMap.version !== {version}",
                            timeout=TIMEOUT)
    return map_state(page)


def count_shown(page, pattern: str, timeout: int = TIMEOUT) -> int:
    """The number that starts the page text matching ``pattern`` (a regular expression that
    starts with ``^\\d+``), once that text is shown (``timeout`` in milliseconds)."""
    loc = page.get_by_text(re.compile(pattern))
    loc.first.wait_for(timeout=timeout)
    return int(re.match(r"(\d+)", loc.first.inner_text()).group(1))


def wait_change(page, read: Callable[[object], int], before: int, what: str, tries: int = 300) -> int:
    """``read(page)`` once it differs from ``before`` (a page re-rendering reads as unchanged);
    fails after ``tries`` reads 100 ms apart, naming ``what``."""
    for _ in range(tries):
        try:
            n = read(page)
        except (PlaywrightError, AttributeError):  # page re-rendering
            n = before
        if n != before:
            return n
        page.wait_for_timeout(100)
    raise AssertionError(f"{what} stayed {before}")


def reveal(page, header, target, timeout: int = 10_000, pause: int = 500, tries: int = 5) -> None:
    """Open the expander titled by ``header`` until ``target`` (inside it) is visible: a rerun
    on a loaded machine may redraw the expander closed. Waits ``timeout`` ms for ``target``
    after each click and ``pause`` ms before trying again; the caller's next action fails
    if it never shows."""
    for _ in range(tries):
        if not target.is_visible():
            header.click()
        try:
            target.wait_for(timeout=timeout)
            return
        except PlaywrightError:
            page.wait_for_timeout(pause)


def result_count(page) -> int:
    """The « N ressources correspondent » count of the search page."""
    return count_shown(page, r"^\d+ ressources? correspond")


def wait_count_change(page, before: int) -> int:
    """The result count once it is no longer ``before``."""
    return wait_change(page, result_count, before, "the result count")


def list_cells(page) -> list[str]:
    """Texts of the cells of the result list (the grid's accessible table)."""
    page.wait_for_selector("[data-testid='stDataFrame'] [role='gridcell']", timeout=TIMEOUT,
                           state="attached")
    return page.locator("[data-testid='stDataFrame'] [role='gridcell']").all_inner_texts()
