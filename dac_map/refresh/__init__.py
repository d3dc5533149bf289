"""Data steward refresh: fetch the sources, build, validate, compare and swap in the store.

Public API:

* :func:`load_config` (:mod:`.config`): the TOML configuration -> :class:`RefreshConfig`;
* :func:`refresh` (:mod:`.pipeline`) -> :class:`RefreshResult`; :func:`rollback`;
* :func:`list_versions` (:mod:`.versions`): the kept versions;
* :func:`fetch` (:mod:`.download`): one source to disk, complete and checked;
* :func:`compare_stores` (:mod:`.diff`) -> :class:`ChangeReport`, with its writers (:mod:`.reports`), and
  :func:`load_latest_changes` / :func:`load_change_summary` for the app's news panel;
* :func:`register` (:mod:`.cli`): adds the ``refresh`` command to a Typer app.
"""

from dac_map._lazy import lazy_exports

#: Submodule -> its public names, imported on first use (``import dac_map.refresh`` stays cheap).
_EXPORTS = {
    "config": ("ConfigError", "RefreshConfig", "Source", "load_config"),
    "diff": ("CHANGE_LABELS", "CHANGE_TYPES", "CHANGES_LAYER", "Change", "ChangeReport",
        "VersionInfo", "compare_stores", "load_change_summary", "load_latest_changes"),
    "reports": ("render_html", "render_markdown", "write_csv", "write_reports"),
    "download": ("Fetched", "fetch"),
    "lock": ("RefreshLock",),
    "pipeline": ("refresh", "rollback"),
    "result": ("RefreshResult",),
    "versions": ("list_versions",),
    "validate": ("Check",),
    "cli": ("register",),
}
__getattr__, __dir__, __all__ = lazy_exports("dac_map.refresh", _EXPORTS)
