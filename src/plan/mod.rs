//! Planning from metadata only: alignment checks now; regions and their
//! assignment to outputs build on these.

pub mod alignment;

pub use alignment::{check_alignment, AlignmentReport, Violation};
