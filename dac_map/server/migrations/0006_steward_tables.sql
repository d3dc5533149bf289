-- dac-map server schema, revision 6: the social side's versioned steward tables (issue 16,
-- dac_map.inclusion.tables.PostgresTable): the DAC's local resources (kind 'ressources_locales')
-- and the stewards' FINESS <-> data·inclusion match decisions (kind 'correspondances'). One row
-- per record with its version (optimistic check), every change kept in the history.
CREATE TABLE dac_map.steward_rows (
    kind        text NOT NULL,
    key         text NOT NULL,
    position    bigserial,               -- display order (order of first addition)
    version     integer NOT NULL CHECK (version > 0),
    data        jsonb,                   -- the row (kept when deleted, for the history)
    deleted     boolean NOT NULL DEFAULT false,
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
);

CREATE TABLE dac_map.steward_row_history (
    seq         bigserial PRIMARY KEY,
    kind        text NOT NULL,
    key         text NOT NULL,
    version     integer NOT NULL,
    action      text NOT NULL CHECK (action IN ('ajout', 'modification', 'suppression')),
    author      text NOT NULL,
    at          timestamptz NOT NULL,
    comment     text NOT NULL DEFAULT '',
    fields      text[] NOT NULL DEFAULT '{}',
    data        jsonb,
    UNIQUE (kind, key, version)            -- two writers can never both write version N
);
CREATE INDEX steward_row_history_key ON dac_map.steward_row_history (kind, key);
