//! Storage options: `--storage-option key=value` pairs. Keys of the store's own
//! builder (`aws_endpoint`, `aws_region`, `allow_http`, `google_service_account`,
//! `azure_storage_account_name`, ...) configure the client; the keys below tune
//! retries and I/O sizes. Credentials otherwise come from the usual environment
//! variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`).

use crate::{Error, Result};
#[cfg(feature = "object-store")]
use object_store::{BackoffConfig, RetryConfig};
#[cfg(feature = "object-store")]
use std::time::Duration;

/// Parse `256MiB`, `1GiB`, `500MB`, `4096` into bytes.
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid size '{s}'"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => return Err(format!("unknown size unit '{other}'")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size '{s}' too large"))
}

/// I/O sizes and retries for one store (the keys `prefix-merge` itself reads).
#[derive(Debug, Clone)]
pub struct Tuning {
    /// `part_size`: bytes per multipart-upload part (default 5 MiB, S3's
    /// minimum for every part but the last; doubled every 1000 parts).
    pub part_size: usize,
    /// `upload_concurrency`: parts of one output in flight while the next one
    /// fills (default 1).
    pub upload_concurrency: usize,
    /// `fetch_size`: bytes per ranged GET of an input: runs of whole row groups
    /// up to this size (a bigger row group is one GET of its own; default 1 MiB).
    pub fetch_size: u64,
    /// `prefetch`: bytes fetched ahead of the merge, per input, in whole GETs
    /// (at least one unless 0; default 1 MiB).
    pub prefetch: u64,
    /// `max_retries` and `retry_timeout`: object_store's retries with backoff of
    /// transient failures (default 10 retries within 3 minutes).
    #[cfg(feature = "object-store")]
    pub retry: RetryConfig,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            part_size: 5 << 20,
            upload_concurrency: 1,
            fetch_size: 1 << 20,
            prefetch: 1 << 20,
            #[cfg(feature = "object-store")]
            retry: RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 10,
                retry_timeout: Duration::from_secs(180),
            },
        }
    }
}

#[cfg(feature = "object-store")]
/// The keys [`Tuning`] reads; everything else goes to the store's builder.
pub(crate) const TUNING_KEYS: &[&str] = &[
    "part_size",
    "upload_concurrency",
    "fetch_size",
    "prefetch",
    "max_retries",
    "retry_timeout",
];

#[cfg(feature = "object-store")]
impl Tuning {
    /// Apply one tuning option (`key` is one of [`TUNING_KEYS`]).
    pub(crate) fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let bad =
            |why: String| Error::InvalidArgument(format!("storage option {key}='{value}': {why}"));
        let size = || parse_size(value).map_err(bad);
        match key {
            "part_size" => {
                self.part_size = usize::try_from(size()?).map_err(|_| bad("too large".into()))?;
                if self.part_size == 0 {
                    return Err(bad("must be positive".into()));
                }
            }
            "upload_concurrency" => {
                self.upload_concurrency = value
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("expected a positive integer".into()))?
            }
            "fetch_size" => self.fetch_size = size()?.max(1),
            "prefetch" => self.prefetch = size()?,
            "max_retries" => {
                self.retry.max_retries = value
                    .parse()
                    .map_err(|_| bad("expected an integer".into()))?
            }
            "retry_timeout" => {
                self.retry.retry_timeout =
                    humantime::parse_duration(value).map_err(|e| bad(e.to_string()))?
            }
            _ => return Err(bad("not a tuning option".into())),
        }
        Ok(())
    }
}

/// Split `key=value`.
pub fn parse_pair(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => {
            Ok((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        }
        _ => Err(Error::InvalidArgument(format!(
            "storage option '{s}': expected key=value"
        ))),
    }
}

#[cfg(all(test, feature = "object-store"))]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_tuning() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert!(parse_size("5 parsecs").is_err());
        let mut t = Tuning::default();
        t.set("part_size", "5MiB").expect("valid");
        t.set("retry_timeout", "2s").expect("valid");
        assert_eq!(t.part_size, 5 << 20);
        assert_eq!(t.retry.retry_timeout, Duration::from_secs(2));
        assert!(t.set("part_size", "0").is_err());
        assert!(parse_pair("novalue").is_err());
        assert_eq!(
            parse_pair("AWS_REGION=eu-west-1").expect("pair"),
            ("aws_region".into(), "eu-west-1".into())
        );
    }
}
