"""ETL: raw FINESS extracts and reference files -> the store.

Stages, one module each:

* :mod:`.layouts`: the etalab FINESS layouts (cs1100507 / cs1100505 sections, columns);
* :mod:`.parser`: raw read -> typed tables (establishments, projections, equipment);
* :mod:`.reference`: nomenclatures, boundaries and DAC territories;
* :mod:`.build`: typed tables -> domain layers, written through :mod:`dac_map.store`.

Public API: :class:`EtlInputs`, :class:`EtlReport`, :func:`run_etl`.
"""

from dac_map._lazy import lazy_exports

#: Submodule -> its public names, imported on first use (``import dac_map.etl`` stays cheap).
_EXPORTS = {
    "build": ("EtlInputs", "EtlReport", "run_etl"),
    "domain": ("commune_codes",),
}
__getattr__, __dir__, __all__ = lazy_exports("dac_map.etl", _EXPORTS)
