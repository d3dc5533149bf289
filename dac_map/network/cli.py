"""CLI of the road network: ``dac-map network build|info``.

Wire it into the main Typer app with :func:`register` (``dac_map/cli.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from dac_map import settings
from dac_map.cli_common import DacOpt, StoreOpt, fail
from dac_map.errors import DacMapError

_out = Console()
network_app = typer.Typer(add_completion=False, no_args_is_help=True,
                          help="Réseau routier (temps de trajet en voiture, extrait OpenStreetMap).")


def territory_points(store: Path, territory: str):
    """WGS84 lon/lat arrays of the located establishments of ``territory`` in the store (to
    check that an extract covers it), or (None, None) when the store or territory is absent."""
    import numpy as np

    from dac_map import query as q
    from dac_map.store import open_store

    if not open_store(store).exists():
        return None, None
    catalogue = q.load_catalogue(store)
    if territory not in catalogue.territory_row:
        return None, None
    mask = q.TerritoryFilter(dac_id=territory).mask(catalogue) & catalogue.has_point
    return np.asarray(catalogue.lon[mask]), np.asarray(catalogue.lat[mask])


@network_app.command("build")
def build(
    pbf: Annotated[Path, typer.Argument(help="Extrait OpenStreetMap .osm.pbf (département, région)")],
    dac: DacOpt = None,
    store: StoreOpt = None,
    speeds: Annotated[Optional[Path], typer.Option("--speeds", help="Fichier TOML [speeds] "
                      "(km/h par classe de route)")] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="Ne pas vérifier que l'extrait "
                        "couvre les ressources du territoire")] = False,
) -> None:
    """Construit le réseau routier d'un territoire (remplacement atomique du précédent) ; vérifie
    que l'extrait couvre les ressources du territoire dans le GeoPackage (sauf --no-check)."""
    from dac_map.network.build import build_network

    dac = dac or settings.DEFAULT_DAC
    store = store or settings.STORE_PATH
    try:
        lon, lat = (None, None) if no_check else territory_points(store, dac)
        report = build_network(pbf, dac, check_lon=lon, check_lat=lat, speeds_file=speeds)
    except DacMapError as exc:
        fail(exc)
    _out.print(f"Réseau routier de {dac} écrit : {report.path}", highlight=False, soft_wrap=True)
    _out.print(f"  {report.n_nodes} nœuds, {report.n_edges} tronçons orientés "
               f"({report.n_main} nœuds dans la composante principale), {report.n_ways} voies",
               highlight=False)
    if report.check_points:
        _out.print(f"  ressources du territoire : {report.check_points}, dont {report.off_network} "
                   f"à plus de {settings.NETWORK_MAX_SNAP_M / 1000:g} km d'une route", highlight=False)
    if report.skipped_vertices:
        _out.print(f"  {report.skipped_vertices} nœud(s) absent(s) de l'extrait (voies coupées au bord)",
                   highlight=False)
    _out.print("Durées (s) : " + ", ".join(f"{k} {v}" for k, v in report.timings.items()),
               highlight=False)


@network_app.command("info")
def info(dac: DacOpt = None) -> None:
    """Décrit le réseau routier en cache d'un territoire."""
    from dac_map.network import cache

    dac = dac or settings.DEFAULT_DAC
    try:
        path = cache.cache_path(dac)
        _, meta = cache.read_arrays(path)
    except DacMapError as exc:
        fail(exc)
    source = meta.get("source", {})
    _out.print(f"{path}\n  source : {source.get('name')} ({source.get('size')} octets, sha256 "
               f"{str(source.get('sha256'))[:12]}…)\n  construit le {meta.get('built')} ; "
               f"{meta.get('n_nodes')} nœuds, {meta.get('n_edges')} tronçons ; EPSG:{meta.get('epsg')}",
               highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``network`` command group to a Typer app."""
    app.add_typer(network_app, name="network")
