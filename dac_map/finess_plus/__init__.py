"""FINESS+ JSON flows (ANS, data.gouv.fr): *Structures* (legal entities, establishments,
addresses with BAN geocoding) and *Activités* (authorised and exercised activities, their
capacities and intervention zones as lists of INSEE communes).

* :mod:`~dac_map.finess_plus.source`: opening (plain or gzipped), sniffing, streaming items;
* :mod:`~dac_map.finess_plus.structures`, :mod:`~dac_map.finess_plus.activites`: the readers
  (tolerant by default, ``strict=True`` validates against the shipped schemas);
* :mod:`~dac_map.finess_plus.deviations`: the deviation report (counts per kind, examples with
  their JSON path);
* :mod:`~dac_map.finess_plus.labels`: labels from the ANS code tables (TRE);
* :mod:`~dac_map.finess_plus.model`: the store layers (``etablissements`` rows, ``activites``,
  ``capacites``, ``zones_intervention``);
* :mod:`~dac_map.finess_plus.load`: both flows into the ETL's layers (with or without etalab).
"""

from dac_map.finess_plus.activites import ActivitesTables, read_activites
from dac_map.finess_plus.deviations import DeviationReport
from dac_map.finess_plus.structures import StructuresTables, read_structures

__all__ = ["read_activites", "read_structures", "ActivitesTables", "StructuresTables", "DeviationReport"]
