-- dac-map server schema, revision 3: the stewards' DAC territory table (issue 13) shared by every
-- app process (dac_map.territories.store.PostgresTerritoryStore): one row per territory and set,
-- versioned, with its whole history. Same columns as the embedded SQLite table.
CREATE TABLE dac_map.territories (
    set_name    text NOT NULL,
    id          text NOT NULL,
    version     integer NOT NULL CHECK (version > 0),
    data        jsonb,                   -- the Territory (kept when deleted, for the history)
    deleted     boolean NOT NULL DEFAULT false,
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (set_name, id)
);

CREATE TABLE dac_map.territory_history (
    seq         bigserial PRIMARY KEY,
    set_name    text NOT NULL,
    id          text NOT NULL,
    version     integer NOT NULL,
    action      text NOT NULL CHECK (action IN ('creation', 'modification', 'suppression')),
    author      text NOT NULL,
    at          timestamptz NOT NULL,
    comment     text NOT NULL DEFAULT '',
    changes     jsonb NOT NULL,
    data        jsonb,
    UNIQUE (set_name, id, version)         -- two writers can never both write version N
);
CREATE INDEX territory_history_id ON dac_map.territory_history (set_name, id);
