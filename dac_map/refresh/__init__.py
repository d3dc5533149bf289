"""Data steward refresh: fetch the sources, build, validate, compare and swap in the store.

Public API:

* :func:`load_config` (:mod:`.config`): the TOML configuration -> :class:`RefreshConfig`;
* :func:`refresh` (:mod:`.pipeline`) -> :class:`RefreshResult`; :func:`rollback`,
  :func:`list_versions`;
* :func:`fetch` (:mod:`.download`): one source to disk, complete and checked;
* :func:`compare_stores` (:mod:`.diff`) -> :class:`ChangeReport`, with its writers, and
  :func:`load_latest_changes` / :func:`load_change_summary` for the app's news panel;
* :func:`register` (:mod:`.cli`): adds the ``refresh`` command to a Typer app.
"""

from dac_map.refresh.config import ConfigError, RefreshConfig, Source, load_config
from dac_map.refresh.diff import (
    CHANGE_LABELS,
    CHANGE_TYPES,
    CHANGES_LAYER,
    Change,
    ChangeReport,
    VersionInfo,
    compare_stores,
    load_change_summary,
    load_latest_changes,
    render_html,
    render_markdown,
    write_csv,
    write_reports,
)
from dac_map.refresh.download import Fetched, fetch
from dac_map.refresh.lock import RefreshLock
from dac_map.refresh.pipeline import RefreshResult, list_versions, refresh, rollback
from dac_map.refresh.validate import Check

__all__ = [
    "CHANGES_LAYER", "CHANGE_LABELS", "CHANGE_TYPES", "Change", "ChangeReport", "Check",
    "ConfigError", "Fetched", "RefreshConfig", "RefreshLock", "RefreshResult", "Source",
    "VersionInfo", "compare_stores", "fetch", "list_versions", "load_change_summary",
    "load_config", "load_latest_changes", "refresh", "render_html", "render_markdown",
    "rollback", "write_csv", "write_reports",
]


def register(app):  # noqa: ANN001 - lazy import keeps typer out of the UI's imports
    """Add the ``refresh`` command to ``app`` (see :func:`dac_map.refresh.cli.register`)."""
    from dac_map.refresh.cli import register as _register

    _register(app)
