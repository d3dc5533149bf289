"""``python -m dac_map.refresh [OPTIONS]``: the ``refresh`` command on its own (what
``scripts/refresh`` runs; ``dac-map refresh`` is the same command once registered in the CLI)."""

from __future__ import annotations

import typer

from dac_map.refresh.cli import register


def main() -> None:
    app = typer.Typer(add_completion=False)
    register(app)  # a single command: typer runs it without a subcommand name
    app(prog_name="dac-map refresh")


if __name__ == "__main__":
    main()
