"""The coordinator's guide in the app, and the page language (Streamlit).

:func:`french_page` marks the page as French (``<html lang="fr">``: screen readers, spelling,
hyphenation); Streamlit writes ``lang="en"`` and has no setting for it, so a zero-height
component sets it on the parent document. :func:`render_guide` shows
``docs/guide-coordinateur.md`` (screenshots in ``docs/img/``, taken by the browser tests on the
demo data) as a page of the app.
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from dac_map import settings

#: The guide (Markdown, French) and its screenshots, in the checkout.
GUIDE_PATH = settings.PROJECT_DIR / "docs" / "guide-coordinateur.md"

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def french_page() -> None:
    """Set ``lang="fr"`` on the page (once per run, invisible)."""
    st.iframe("<script>try{window.parent.document.documentElement.lang='fr';}"
              "catch(e){}</script>", height=1)


def guide_blocks(text: str, base: Path) -> list[tuple[str, str, Path | None]]:
    """Split the guide into ``("md", text, None)`` and ``("img", caption, path)`` blocks;
    images are resolved relative to ``base`` and must stay inside it (no path escapes)."""
    out: list[tuple[str, str, Path | None]] = []
    pos = 0
    root = base.resolve()
    for m in _IMAGE.finditer(text):
        if m.start() > pos:
            out.append(("md", text[pos:m.start()], None))
        path = (base / m.group(2)).resolve()
        if path.is_relative_to(root):
            out.append(("img", m.group(1), path))
        pos = m.end()
    if pos < len(text):
        out.append(("md", text[pos:], None))
    return out


def render_guide(path: Path | None = None) -> None:
    """The guide page: Markdown text, screenshots when they exist (taken by the browser tests;
    a missing one is said, not hidden)."""
    path = Path(GUIDE_PATH if path is None else path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        st.error(f"Guide introuvable : {path.name}.")
        return
    for kind, value, img in guide_blocks(text, path.parent):
        if kind == "md":
            st.markdown(value)
        elif img is not None and img.exists():
            st.image(str(img), caption=value or None)
        else:
            st.caption(f"(capture « {value} » non générée : lancer `make test`)")


__all__ = ["GUIDE_PATH", "french_page", "guide_blocks", "render_guide"]
