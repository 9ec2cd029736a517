//! Opening an input file: the footer is parsed once and everything the plan needs
//! (sort schema, P, window, per-row-group rows, bytes and prefix keys) is derived
//! from it.
//!
//! - [`InputFile`] (`file`): the opened file, local or remote;
//! - [`FileContract`]: the `qh.*` keys and the sort schema; `prefix`: row-group
//!   prefix keys; `column`, `region_bytes`: reading columns and byte ranges;
//! - `legacy`: the adapter for P = 0 files ([`scan_virtual_regions`]);
//! - `fingerprint`, `identity`, `footer_check`, `guard`, `time_stats`: content
//!   hashes, same-file checks, footer sanity, decoder-panic guard, time bounds.

mod column;
mod file;
mod file_contract;
mod fingerprint;
mod footer_check;
mod guard;
mod identity;
mod legacy;
mod prefix;
mod region_bytes;
mod time_stats;

pub use column::{read_row_group_columns, read_row_groups, ReadSpec};
pub use file::{InputFile, InputSource, RowGroupInfo, FOOTER_GUESS};
pub use file_contract::{
    describe_window, FileContract, SchemaSource, Window, KEY_NUM_MERGE_OPS, KEY_PREFIX_LEN,
    KEY_SORT_FIELDS, KEY_WINDOW_DURATION, KEY_WINDOW_START,
};
pub use fingerprint::content_hash;
pub use guard::{catch_decoder_panic, in_guarded_decode, Guarded};
pub use identity::{same_file, FileIdentity};
pub use legacy::{scan_virtual_regions, VirtualRegion};
pub use prefix::{KeySource, MixedPrefix, RowGroupPrefix};
pub use region_bytes::{
    fetch_blocks, row_groups_range, ChunkRead, ChunkSource, RegionBytes, COALESCE_LIMIT,
};
pub use time_stats::{row_group_int_bounds, row_group_min_max};
