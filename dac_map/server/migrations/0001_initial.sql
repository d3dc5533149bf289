-- dac-map server schema, revision 1: catalogue versions, served version, users, audit log,
-- unmet-need log, coordinators' notes. Applied by `dac-map db upgrade` in one transaction.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS dac_map;

-- One row per published catalogue version; its tables live in schema `schema_name`.
CREATE TABLE dac_map.catalogue_versions (
    version       text PRIMARY KEY,
    schema_name   text NOT NULL UNIQUE,
    published_at  timestamptz NOT NULL DEFAULT now(),
    published_by  text NOT NULL,
    source        text,
    layers        jsonb NOT NULL,          -- {"layer": row count}
    metadata      jsonb NOT NULL
);

-- Exactly one row: the version every app process serves. Switched by one UPDATE.
CREATE TABLE dac_map.served_version (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version       text REFERENCES dac_map.catalogue_versions (version),
    previous      text,
    switched_at   timestamptz NOT NULL DEFAULT now(),
    switched_by   text NOT NULL DEFAULT 'dac-map',
    serial        bigint NOT NULL DEFAULT 0  -- incremented at each switch: the cheap stamp
);
INSERT INTO dac_map.served_version (singleton, version) VALUES (true, NULL);

-- Role mapping managed with `dac-map users` (wins over the token claims).
CREATE TABLE dac_map.users (
    subject       text PRIMARY KEY,        -- OIDC `sub` or e-mail address
    roles         text[] NOT NULL,
    dacs          text[] NOT NULL DEFAULT '{}',
    label         text,                    -- a function, never needed to be a name
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Who did what, when (no personal data beyond the account identifier).
CREATE TABLE dac_map.audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor         text NOT NULL,
    roles         text[] NOT NULL DEFAULT '{}',
    action        text NOT NULL,
    target        text,
    details       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON dac_map.audit_log (at);

-- The unmet-need log (same fields as the embedded SQLite log, dac_map.coverage.unmet).
CREATE TABLE dac_map.unmet_needs (
    id               bigserial PRIMARY KEY,
    recorded_at      text NOT NULL,
    dac_id           text NOT NULL,
    commune          text,
    resource_type    text NOT NULL,
    filters_json     text NOT NULL,
    filters_label    text NOT NULL,
    comment          text NOT NULL DEFAULT '',
    recorded_by_role text,
    client_key       text UNIQUE          -- idempotency key: a retried write is not duplicated
);
CREATE INDEX unmet_needs_when ON dac_map.unmet_needs (recorded_at);
CREATE INDEX unmet_needs_dac ON dac_map.unmet_needs (dac_id, commune);

-- Coordinators' notes per resource, keyed by FINESS number (dac_map.notes).
CREATE TABLE dac_map.notes (
    id                 bigserial PRIMARY KEY,
    finess             text NOT NULL,
    dac_id             text NOT NULL,
    shared             boolean NOT NULL DEFAULT false,
    opening_hours      text NOT NULL DEFAULT '',
    contact_role       text NOT NULL DEFAULT '',
    admission_criteria text NOT NULL DEFAULT '',
    waiting_time       text NOT NULL DEFAULT '',
    other              text NOT NULL DEFAULT '',
    verified_on        date,
    author             text NOT NULL,
    created_at         text NOT NULL,
    updated_at         text NOT NULL,
    client_key         text UNIQUE
);
CREATE INDEX notes_finess ON dac_map.notes (finess);
CREATE INDEX notes_dac ON dac_map.notes (dac_id);
