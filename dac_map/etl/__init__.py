"""ETL: raw FINESS extracts and reference files -> the store.

Stages, one module each:

* :mod:`.layouts`: the etalab FINESS layouts (cs1100507 / cs1100505 sections, columns);
* :mod:`.rawtext` and :mod:`.sections`: bytes -> text (encoding, repairs) -> one text table
  per section (Arrow's CSV reader, the csv reference engine, row issues);
* :mod:`.parser`: section tables -> typed extracts (codes, dates, coordinates, capacities);
* :mod:`.reference`: nomenclatures and boundaries;
* :mod:`.domain`: typed extracts -> domain tables (``etablissements``, ``equipements``);
* :mod:`.build`: the run (:func:`run_etl`): reference tables, territories, writing through
  :mod:`dac_map.store`. :mod:`.columns` holds the Arrow helpers on text columns.

Public API: :class:`EtlInputs`, :class:`EtlReport`, :func:`run_etl`.
"""

from dac_map._lazy import lazy_exports

#: Submodule -> its public names, imported on first use (``import dac_map.etl`` stays cheap).
_EXPORTS = {
    "build": ("EtlInputs", "EtlReport", "run_etl"),
    "domain": ("commune_codes",),
}
__getattr__, __dir__, __all__ = lazy_exports("dac_map.etl", _EXPORTS)
