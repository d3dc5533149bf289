"""What every ``dac-map`` command line shares: the options that mean the same thing in several
commands, declared once with one French help text each, and the one error exit :func:`fail`.

An option left out is ``None``: the command reads the setting its help names when it runs
(``settings.X if x is None else x``), never when this module is imported, so that
``DAC_MAP_<NAME>`` overrides and tests' monkeypatching apply. Imports only Typer and Rich
(``dac-map --help`` stays fast).

Use in a command::

    from dac_map.cli_common import DacOpt, StoreOpt, fail

    def build(dac: DacOpt = None, store: StoreOpt = None) -> None: ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.text import Text

from dac_map.errors import DacMapError

#: Help of every option naming the catalogue GeoPackage (``--store``, ``etl``/``demo`` ``--output``).
STORE_HELP = "GeoPackage dac-map (défaut : réglage STORE, data/build/dac_map.gpkg)"

#: ``--store``: the catalogue GeoPackage read (default: setting STORE_PATH).
StoreOpt = Annotated[Optional[Path], typer.Option("--store", help=STORE_HELP)]

#: ``--dac``: the territory a command works on (default: setting DEFAULT_DAC).
DacOpt = Annotated[Optional[str], typer.Option(
    "--dac", help="Territoire DAC, ex. DAC-80 (défaut : réglage DEFAULT_DAC)")]

#: ``--dac``: keep only what concerns one territory (default: every territory).
DacFilterOpt = Annotated[Optional[str], typer.Option(
    "--dac", help="Territoire DAC, ex. DAC-80 (défaut : tous)")]

#: ``--db``: the unmet-need log (default: setting UNMET_NEEDS_DB).
UnmetDbOpt = Annotated[Optional[Path], typer.Option(
    "--db", help="Journal des besoins non couverts, SQLite (défaut : réglage UNMET_NEEDS_DB)")]

#: ``--until``: last day of a period, included (default: no limit).
UntilOpt = Annotated[Optional[str], typer.Option("--until", help="Fin de période AAAA-MM-JJ")]

_err = Console(stderr=True)


def report_error(message: object) -> None:
    """Print « Erreur / error: ``message`` » as one line on stderr; the message (an exception,
    often quoting a file name or a value from the input) is never read as Rich markup."""
    _err.print(Text("Erreur / error", style="bold red") + Text(f": {message}"), highlight=False,
               soft_wrap=True)


def fail(exc: DacMapError) -> NoReturn:
    """Print ``exc`` (:func:`report_error`) and leave with its exit code (:mod:`dac_map.errors`)."""
    report_error(exc)
    raise typer.Exit(exc.exit_code)
