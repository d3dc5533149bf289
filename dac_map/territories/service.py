"""The steward table as the rest of dac-map uses it: opening it (seeded from the shipped CSVs),
the current territories (read only), and the ETL's territory frame.

:func:`open_store` is THE factory: the PostgreSQL table in server mode (``DAC_MAP_DATABASE_URL``
set, or a ``postgresql://`` location), else the SQLite file ``settings.TERRITORIES_DB``. The
steward page, ``dac-map territories``, the ETL, the catalogue load and coverage all read
through it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dac_map import settings
from dac_map.server import auth, config
from dac_map.territories.model import Territory
from dac_map.territories.store import (
    MAIN_SET,
    PostgresTerritoryStore,
    SqliteTerritoryStore,
    TerritoryStore,
)
from dac_map.territories.table import read_table

#: FICTITIOUS alternative set shipped for the demo: the Somme split into two DACs.
DEMO_SET = "demo-fictif-somme-2-dac"
DEMO_FILE = "DEMO-FICTIF_territoires_somme_2_dac.csv"
SEED_AUTHOR = "dac-map (table livrée)"


def shipped_table() -> Path:
    """The shipped territory table (``data/reference/territoires_dac.csv``): seed of the
    ``principal`` set (``settings.DATA_DIR`` read at call time)."""
    from dac_map.etl.reference import default_reference

    return default_reference("territories")


def demo_table() -> Path:
    """The FICTITIOUS demo set's CSV (``data/reference/DEMO-FICTIF_...``)."""
    return settings.DATA_DIR / "reference" / DEMO_FILE


def seeds() -> dict[str, Path]:
    """Set name -> CSV loaded into the table the first time the set is opened."""
    return {MAIN_SET: shipped_table(), DEMO_SET: demo_table()}


def _is_url(location: object) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


def _store(location: str | Path | None, principal: auth.Principal | None) -> TerritoryStore:
    """The table at ``location`` (a SQLite path or a PostgreSQL URL); None: the database of
    server mode, else ``settings.TERRITORIES_DB`` (both read at call time). ``principal`` None:
    the local user in embedded mode, an anonymous visitor (read only) in PostgreSQL."""
    if location is None:
        location = config.database_url() or settings.TERRITORIES_DB
    if _is_url(location):
        return PostgresTerritoryStore(str(location), principal or auth.ANONYMOUS)
    return SqliteTerritoryStore(location, principal=principal or auth.LOCAL)


def open_store(path: str | Path | None = None, seed: bool = True,
               principal: auth.Principal | None = None) -> TerritoryStore:
    """The steward table (see :func:`_store` for ``path`` and ``principal``: writes are
    authorised for that principal, inside the store). With ``seed``, a set that never existed
    is loaded from its shipped CSV (:func:`seeds`), recorded in the history, once even when
    several processes open the table at the same time."""
    store = _store(path, principal)
    if seed:
        for name, csv_path in seeds().items():
            if Path(csv_path).exists() and not store.has_history(name):
                read = read_table(csv_path)
                store.seed(name, read.territories, SEED_AUTHOR,
                           comment=f"import initial de {Path(csv_path).name}")
    return store


def current_territories(set_name: str = MAIN_SET, path: str | Path | None = None) -> list[Territory]:
    """The territories the ETL, the search and the app use, read-only: the steward table when
    it holds the set, else the shipped CSV (nothing is created)."""
    store = _store(path, None)
    if store.has_history(set_name):
        return [v.territory for v in store.list(set_name)]
    seed = seeds().get(set_name)
    return read_table(seed).territories if seed is not None and Path(seed).exists() else []


def territories_stamp(path: str | Path | None = None) -> int:
    """A number that changes at every write to the steward table (0 when empty), whichever
    process wrote: the app keys its cached catalogue on it."""
    return _store(path, None).stamp()


def territory_frame(territories: list[Territory]) -> pd.DataFrame:
    """Territories as the ETL's table: ``dac_id, name, phone, website, departments (list),
    communes (list), finess, note``."""
    return pd.DataFrame(
        [{"dac_id": t.id, "name": t.name, "phone": t.phone, "website": t.website,
          "departments": list(t.departments), "communes": list(t.communes), "finess": t.finess,
          "note": t.note} for t in territories],
        columns=["dac_id", "name", "phone", "website", "departments", "communes", "finess", "note"])
