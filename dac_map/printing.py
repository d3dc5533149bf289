"""Real PDF files, generated on the server: the A4 sheet of selected resources and the ARS
report (issue 15). One function, :func:`html_to_pdf`, turns the project's own printable HTML
(A4 ``@page`` rules, no script, no external resource) into PDF bytes with WeasyPrint, which
needs the Debian Pango libraries (``libpango-1.0-0``, ``libpangoft2-1.0-0``; installed by
``.ci/run`` and the README set-up).

Nothing is fetched while rendering: the URL fetcher refuses every URL except inline ``data:``
ones, so a name or a note holding ``<img src=http://...>`` (escaped anyway) can never make
the server call out. Local time for « édité le » is :data:`TIMEZONE` (Europe/Paris).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dac_map.errors import DacMapError

#: Time zone of the dates printed on sheets and reports (the DAC's local time).
TIMEZONE = ZoneInfo("Europe/Paris")


class PdfError(DacMapError):
    """The PDF could not be produced (WeasyPrint or its system libraries missing)."""


def now_local() -> datetime:
    """The current time in :data:`TIMEZONE` (aware datetime)."""
    return datetime.now(TIMEZONE)


def _data_only_fetcher():
    """A WeasyPrint URL fetcher that loads inline ``data:`` URLs only."""
    from weasyprint import urls

    if hasattr(urls, "URLFetcher"):  # WeasyPrint >= 68
        return urls.URLFetcher(allowed_protocols={"data"})

    def fetch(url: str, *args, **kwargs):  # older WeasyPrint: a function
        if url.startswith("data:"):
            return urls.default_url_fetcher(url, *args, **kwargs)
        raise ValueError(f"external resource refused: {url[:80]}")

    return fetch


def html_to_pdf(html: str) -> bytes:
    """PDF bytes of a printable HTML page (A4 page rules honoured). Raises
    :class:`PdfError` with a French message when WeasyPrint cannot run."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango libraries missing
        raise PdfError("PDF indisponible : WeasyPrint ou ses bibliothèques Pango manquent "
                       f"(apt-get install libpango-1.0-0 libpangoft2-1.0-0) / {exc}") from exc
    doc = HTML(string=html, url_fetcher=_data_only_fetcher(), base_url=".")
    return bytes(doc.write_pdf())


__all__ = ["PdfError", "TIMEZONE", "html_to_pdf", "now_local"]
