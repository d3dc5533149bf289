"""Server mode: PostgreSQL/PostGIS for shared data, sign-in with roles, health, JSON logs.

Server mode is on when ``DAC_MAP_DATABASE_URL`` names a PostgreSQL database
(``postgresql://user@host:port/db``). Without it, dac-map runs embedded (GeoPackage + SQLite,
no sign-in, one local user) exactly as before.

Modules:

* :mod:`~dac_map.server.config` — the server settings (environment, read at call time).
* :mod:`~dac_map.server.db` — the one PostgreSQL gateway (psycopg 3 connections, errors).
* :mod:`~dac_map.server.migrate` — versioned SQL migrations (``migrations/NNNN_name.sql``).
* :mod:`~dac_map.server.versions` — catalogue versions in PostGIS: publish (one schema per
  version), atomic switch of the served version, rollback, pruning, reading.
* :mod:`~dac_map.server.auth` — roles, the principal of a request, the central
  :func:`~dac_map.server.auth.authorize` check, the ``users`` table, the audit log.
* :mod:`~dac_map.server.unmet` — the unmet-need log in PostgreSQL (concurrent writers).
* :mod:`~dac_map.server.health` and :mod:`~dac_map.server.logs` — monitoring and JSON logs.
"""
