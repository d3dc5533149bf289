"""DAC territories as data that stewards own (issue 13).

* :mod:`~dac_map.territories.model`: the :class:`Territory` (communes, departments as a
  shortcut, the DAC's FINESS number or defined by hand), validation, change descriptions;
* :mod:`~dac_map.territories.store`: the versioned table behind the :class:`TerritoryStore`
  interface (SQLite in embedded mode, PostgreSQL in server mode), with optimistic concurrency
  and the role check inside every write;
* :mod:`~dac_map.territories.table`: CSV import/export;
* :mod:`~dac_map.territories.check`: overlaps, gaps, unknown codes, the DAC of a commune;
* :mod:`~dac_map.territories.vintages`: successors of commune codes (INSEE COG moves);
* :mod:`~dac_map.territories.directory`: the DAC directory (FINESS 606/801) and the lookup
  "which DAC for this commune";
* :mod:`~dac_map.territories.service`: opening the table, the current territories;
* :mod:`~dac_map.territories.cli`: ``dac-map territories list|import|export|check|history``.
"""

from dac_map._lazy import lazy_exports

#: Submodule -> its public names, imported on first use (``dac-map --help`` stays cheap).
_EXPORTS = {
    "check": ("CheckReport", "CommuneReference", "check_territories", "primary_dac"),
    "directory": ("DAC_CATEGORIES", "DacContact", "DacLookup", "dac_directory"),
    "model": ("ConflictError", "Territory", "TerritoryError", "Versioned", "split_codes", "validate"),
    "store": ("MAIN_SET", "PostgresTerritoryStore", "SqliteTerritoryStore", "TerritoryStore"),
    "table": ("read_table", "table_bytes", "table_text"),
    "service": ("DEMO_FILE", "DEMO_SET", "SEED_AUTHOR", "current_territories", "demo_table",
                "open_store", "seeds", "shipped_table", "territories_stamp", "territory_frame"),
}
__getattr__, __dir__, __all__ = lazy_exports("dac_map.territories", _EXPORTS)
