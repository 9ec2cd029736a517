//! The catalog's schema in PostgreSQL: versions, migrations and the database clock.

/// The schema version this build writes and reads (`pm_schema.version`).
pub const SCHEMA_VERSION: i32 = 2;

/// Advisory lock key held while the schema is created or migrated.
pub(super) const MIGRATION_LOCK: i64 = 0x706d_5f73_6368_656d; // "pm_schem"

/// Schema version 1.
pub(super) const SCHEMA_V1: &str = "
CREATE TABLE pm_tables (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    location TEXT NOT NULL,
    next_seq BIGINT NOT NULL DEFAULT 1,
    collected_until BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE pm_splits (
    tbl TEXT NOT NULL REFERENCES pm_tables(name),
    id TEXT NOT NULL,
    rows BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    window_start BIGINT,
    window_secs BIGINT,
    level BIGINT NOT NULL,
    min_key TEXT NOT NULL,
    max_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    retired_at BIGINT,
    skipped TEXT,
    seq_min BIGINT NOT NULL,
    seq_max BIGINT NOT NULL,
    first_prefix TEXT,
    last_prefix TEXT,
    time_min TEXT,
    time_max TEXT,
    source TEXT,
    lease_job TEXT,
    PRIMARY KEY (tbl, id)
);
CREATE UNIQUE INDEX pm_splits_source ON pm_splits (tbl, source) WHERE source IS NOT NULL;
CREATE INDEX pm_splits_state ON pm_splits (tbl, state);
CREATE INDEX pm_splits_lease ON pm_splits (tbl, lease_job) WHERE lease_job IS NOT NULL;
CREATE TABLE pm_jobs (
    tbl TEXT NOT NULL REFERENCES pm_tables(name),
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    renewals BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tbl, id)
);
CREATE TABLE pm_history (
    seq BIGSERIAL PRIMARY KEY,
    tbl TEXT NOT NULL REFERENCES pm_tables(name),
    job TEXT NOT NULL,
    kind TEXT NOT NULL,
    inputs TEXT[] NOT NULL,
    outputs TEXT[] NOT NULL,
    bytes_in BIGINT NOT NULL,
    bytes_out BIGINT NOT NULL,
    committed_at BIGINT NOT NULL,
    UNIQUE (tbl, job)
);
";

/// Schema version 2: deletes (tombstones, and what each split has applied).
pub(super) const SCHEMA_V2: &str = "
ALTER TABLE pm_splits ADD COLUMN applied_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE pm_tombstones (
    id BIGSERIAL PRIMARY KEY,
    tbl TEXT NOT NULL REFERENCES pm_tables(name),
    seq BIGINT NOT NULL,
    predicate TEXT NOT NULL,
    time_from BIGINT,
    time_to BIGINT,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX pm_tombstones_pending ON pm_tombstones (tbl, seq) WHERE retired_at IS NULL;
";

/// The database clock in Unix seconds, as SQL.
pub(super) const DB_NOW: &str = "floor(EXTRACT(EPOCH FROM now()))::bigint";
