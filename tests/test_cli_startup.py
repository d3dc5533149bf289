"""`dac-map --help` stays fast: the CLI imports its heavy libraries only inside the commands
(the timing itself is a benchmark figure, not a test; this checks the cause)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "geopandas", "pyogrio", "shapely", "pyproj", "pyarrow", "numpy", "folium",
         "streamlit", "rapidfuzz")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return set(json.loads(out.splitlines()[-1]))


@pytest.mark.parametrize("code", [
    "import dac_map.cli",
    "import dac_map.etl, dac_map.store, dac_map.coverage, dac_map.refresh, dac_map.codes",
])
def test_cli_and_packages_import_no_heavy_library(code):
    loaded = _modules_after(code)
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_help_lists_every_command():
    out = subprocess.run([sys.executable, "-c", "from dac_map.cli import main; main()", "--help"],
                         capture_output=True, text=True, timeout=120).stdout
    for command in ("etl", "demo", "info", "search", "refresh", "coverage", "report"):
        assert f" {command} " in out


def _command_paths(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _command_paths(command, (*prefix, name))


def test_every_command_has_a_working_help():
    """``dac-map <command> --help`` for every command and sub-command (options shared through
    ``dac_map.cli_common`` included)."""
    import typer.main
    from typer.testing import CliRunner

    from dac_map.cli import app

    paths = list(_command_paths(typer.main.get_command(app)))
    assert ("network", "build") in paths and ("unmet", "export") in paths and len(paths) > 20
    for path in paths:
        res = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0 and "Usage" in res.output, (path, res.output)


def test_lazy_package_export_is_the_module_object():
    import dac_map.coverage as coverage
    import dac_map.refresh as refresh
    from dac_map.coverage import report
    from dac_map.refresh import pipeline

    assert coverage.build_report is report.build_report
    assert refresh.refresh is pipeline.refresh
    with pytest.raises(AttributeError):
        coverage.no_such_name  # noqa: B018


@pytest.mark.parametrize("argv", [["--help"], ["search", "--no-such-option"]])
def test_the_entry_point_leaves_nothing_for_a_final_collection(argv):
    # after the command (success or usage error), the live objects are frozen: the interpreter's
    # last garbage collection then has nothing to walk (atexit handlers run after main returns)
    probe = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print('frozen', gc.get_freeze_count()))\n"
             f"sys.argv = ['dac-map', *{argv!r}]\n"
             "from dac_map.cli import main\n"
             "main()\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("frozen ")][-1]
    assert int(line.split()[1]) > 10_000  # every module's objects, not a handful
