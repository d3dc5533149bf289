-- dac-map server schema, revision 2: the coded reason of an unmet need (issue 15: REASONS of
-- dac_map.coverage.unmet); rows written before it read "other" (the reason was not recorded).
ALTER TABLE dac_map.unmet_needs ADD COLUMN reason text NOT NULL DEFAULT 'other';
