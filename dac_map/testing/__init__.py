"""Helpers for tests, benchmarks and scripts, never imported by the app: one synthetic generator
per source (:mod:`.synthetic` etalab establishments with :mod:`.synthetic_tables`,
:mod:`.synthetic_equipment`, :mod:`.finess_plus`, :mod:`.inclusion`, :mod:`.roads`), a local HTTP
source, sample rows and workspaces for refresh tests (:mod:`.refresh`), Streamlit ``AppTest``
helpers (:mod:`.apptest`), a benchmark timer (:mod:`.timing`) and server-mode load workers
(:mod:`.server_load`)."""
