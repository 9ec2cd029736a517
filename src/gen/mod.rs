//! Deterministic, realistic metrics data (`prefix-merge gen`, `demo`, benches).
//!
//! Each file holds the same set of series; a series is a metric name plus tags.
//! `disjoint` files each cover a consecutive time slice; `interleave` files
//! alternate timestamps within every series.
//!
//! - `files`: the parameters ([`GenConfig`]) and [`generate`];
//! - `metrics`: the schema, the sort schema and the generated batches.

mod files;
mod metrics;

pub use files::{
    generate, generate_split, generate_windows, GenConfig, Layout, Overlap, LEGACY_ROW_GROUP_ROWS,
};
pub use metrics::{
    metrics_batch, metrics_batch_at, metrics_schema, sort_schema, WINDOW_DURATION_SECS,
    WINDOW_START,
};
