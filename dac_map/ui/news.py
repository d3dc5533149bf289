"""The "Nouveautés depuis la dernière mise à jour" panel: what changed at the last refresh.

Reads only the store (the ``changements`` layer and the ``changes_*`` metadata a
``dac-map refresh`` writes, see :mod:`dac_map.refresh.diff`). :func:`load_news`,
:func:`news_table` and :func:`news_counts` are pure pandas; :func:`render_news` draws them with
Streamlit (cached until the GeoPackage file changes). Untrusted
text (names, addresses from FINESS) only goes to ``st.dataframe``; the few values put in
Markdown are escaped; no HTML is ever rendered.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dac_map import settings
from dac_map.refresh.diff import (
    CHANGE_LABELS,
    CHANGE_TYPES,
    load_change_summary,
    load_latest_changes,
)
from dac_map.refresh.reports import md

TITLE = "Nouveautés depuis la dernière mise à jour"

#: French headers of :func:`news_table`.
TABLE_COLUMNS = {"change_label": "Changement", "finess": "FINESS", "name": "Nom",
                 "before": "Avant", "after": "Après", "distance_m": "Distance (m)",
                 "dac_id": "DAC", "family_label": "Famille"}


def _for_territory(changes: pd.DataFrame, dac_id: str | None) -> pd.DataFrame:
    if dac_id is None:
        return changes
    return changes[changes["dac_id"].fillna("") == dac_id]


def news_table(changes: pd.DataFrame, dac_id: str | None = None) -> pd.DataFrame:
    """The changes (of one DAC territory when ``dac_id`` is given), French headers, in the
    order opened, closed, moved, renamed, category, phone, capacity."""
    rows = _for_territory(changes, dac_id).copy()
    order = {k: i for i, k in enumerate(CHANGE_TYPES)}
    rows["_order"] = rows["change"].map(order).fillna(len(order))
    rows = rows.sort_values(["_order", "dac_id", "finess"], kind="stable", na_position="last")
    rows["family_label"] = rows["family_label"].fillna(rows["family"])
    table = rows[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    return table.reset_index(drop=True)


def news_counts(changes: pd.DataFrame, dac_id: str | None = None) -> pd.DataFrame:
    """Number of changes per type (types with at least one change), French labels."""
    counts = _for_territory(changes, dac_id)["change"].value_counts()
    kinds = [k for k in CHANGE_TYPES if counts.get(k, 0)]
    return pd.DataFrame({"Changement": [CHANGE_LABELS[k] for k in kinds],
                         "Nombre": [int(counts[k]) for k in kinds]})


def _mtime(path: str | Path) -> float:
    if str(path).startswith(("postgresql://", "postgres://")):  # server mode: the switch serial
        from dac_map.server.versions import served_stamp_cached

        return float(served_stamp_cached(str(path))[1])
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


def load_news(store_path: str | Path) -> tuple[pd.DataFrame, dict[str, object]] | None:
    """The changes and the summary of the last refresh, or ``None`` (pure, no Streamlit)."""
    changes = load_latest_changes(store_path)
    if changes is None:
        return None
    return changes, load_change_summary(store_path) or {}


@st.cache_data(show_spinner=False, max_entries=4)
def _cached(path: str, mtime: float) -> tuple[pd.DataFrame, dict[str, object]] | None:
    """:func:`load_news` cached per (path, modification time): a refresh swaps a new file in,
    which changes the key."""
    return load_news(path)


def render_news(store_path: str | Path | None = None, dac_id: str | None = None,
                expanded: bool = False) -> None:
    """Draw the news panel (an expander); nothing when the store was not built by a refresh.

    ``dac_id``: show the changes of this DAC territory only (all territories when ``None``).
    """
    store_path = settings.STORE_PATH if store_path is None else store_path
    loaded = _cached(str(store_path), _mtime(store_path))
    if loaded is None:
        return
    changes, summary = loaded
    shown = _for_territory(changes, dac_id)
    with st.expander(f"{TITLE} ({len(shown)})", expanded=expanded):
        when = str(summary.get("refresh_time") or "")[:10]
        new_date = summary.get("source_date")
        old_date = summary.get("previous_source_date")
        if summary.get("previous_version") is None:
            st.markdown("Première mise à jour : pas de version précédente à comparer.")
        else:
            st.markdown(
                f"Extrait FINESS du **{md(new_date or '?')}** comparé à celui du "
                f"**{md(old_date or '?')}**" + (f", mis à jour le {md(when)}" if when else "")
                + (f" — territoire {md(dac_id)}" if dac_id else "") + ".")
        if not len(shown):
            st.info("Aucun changement." if len(changes) == 0 else
                    "Aucun changement sur ce territoire.")
            return
        st.dataframe(news_counts(changes, dac_id), hide_index=True)
        st.dataframe(news_table(changes, dac_id), hide_index=True)
        threshold = summary.get("changes_moved_threshold_m")
        notes = [str(n) for n in (summary.get("changes_notes") or [])]
        if isinstance(threshold, (int, float)):
            notes.insert(0, f"Déplacements de plus de {threshold:g} m.")
        for note in notes:
            st.caption(md(note))
