"""Helpers for tests and benchmarks, not used by the app: synthetic FINESS extracts
(:mod:`.synthetic`) and a local HTTP source / sample rows for refresh tests (:mod:`.refresh`)."""
