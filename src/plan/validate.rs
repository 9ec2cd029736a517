//! Up-front validation of a set of inputs (DESIGN §2, §6): everything that can be
//! known from footers is checked before a byte is written.

use crate::input::InputFile;
use crate::plan::check_alignment;
use crate::{Error, Result};

/// Check that inputs agree on sort schema, P and window, that P stays within the
/// series columns, and that every input keeps its alignment claim.
pub fn validate_inputs(inputs: &[InputFile]) -> Result<()> {
    let Some(first) = inputs.first() else {
        return Err(Error::InvalidArgument("no input files".into()));
    };
    for input in &inputs[1..] {
        let mismatch = |what: &'static str, found: String, expected: String| Error::InputMismatch {
            path: input.path.clone(),
            other_path: first.path.clone(),
            what,
            found,
            expected,
        };
        if !input.sort_schema().same_order(first.sort_schema()) {
            return Err(mismatch(
                "sort schema",
                input.sort_schema().to_string(),
                first.sort_schema().to_string(),
            ));
        }
        if input.prefix_len() != first.prefix_len() {
            return Err(mismatch(
                "prefix length P",
                input.prefix_len().to_string(),
                first.prefix_len().to_string(),
            ));
        }
        if input.contract.window != first.contract.window {
            return Err(mismatch(
                "window",
                format!("{:?}", input.contract.window),
                format!("{:?}", first.contract.window),
            ));
        }
    }
    for input in inputs {
        let series_len = input.sort_schema().series_len();
        if input.prefix_len() > series_len {
            return Err(Error::BadMetadata {
                path: input.path.clone(),
                key: crate::input::KEY_PREFIX_LEN.into(),
                value: input.prefix_len().to_string(),
                reason: format!("P exceeds the {series_len} series columns"),
            });
        }
        let report = check_alignment(input);
        if let Some(v) = report.violations.first() {
            return Err(Error::Alignment {
                path: input.path.clone(),
                rule: v.rule,
                detail: v.detail.clone(),
            });
        }
    }
    Ok(())
}
