"""Social services in the data·inclusion schema (v1, PyPI ``data-inclusion-schema``) and the
local resources a DAC curates (patient associations, caregiver groups...).

Modules: ``reader`` (streaming JSON/JSONL/CSV, gzip), ``validate`` (official models, tolerant
or strict, deviation report), ``legacy`` (the API's 2024 field set -> v1), ``vocab``
(thematics -> plain-French families, publics, fees), ``zones`` (intervention areas), ``hours``
(OSM opening hours in French), ``resources`` (services -> catalogue resources), ``dedup``
(FINESS matching), ``steward`` (the DAC's versioned local table), ``importer`` (the import
pipeline), ``filters`` (the social-resource filters, "Intervient à <commune>"), ``cli``.
"""
