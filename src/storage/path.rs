//! Paths and URLs told apart: [`is_url`], and [`Location`] (a local path or a
//! remote object), the same with and without the `object-store` feature.

use super::{RemoteObject, Storage};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Whether `s` is a URL (`scheme://...`) rather than a local path.
pub fn is_url(s: &str) -> bool {
    match s.split_once("://") {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
        }
        None => false,
    }
}

/// Where a file (or an output directory) lives.
#[derive(Clone, Debug)]
pub enum Location {
    /// A local path.
    Local(PathBuf),
    /// An object (or key prefix) in a store.
    Remote(RemoteObject),
}

impl Location {
    /// The name errors and reports use: the local path, or the URL.
    pub fn name(&self) -> PathBuf {
        match self {
            Location::Local(p) => p.clone(),
            Location::Remote(r) => PathBuf::from(r.url()),
        }
    }

    /// The entry `name` inside this directory-like location.
    pub fn join(&self, name: &str) -> Location {
        match self {
            Location::Local(p) => Location::Local(p.join(name)),
            Location::Remote(r) => Location::Remote(r.child(name)),
        }
    }

    /// The remote object, when the location is one.
    pub fn remote(&self) -> Option<&RemoteObject> {
        match self {
            Location::Remote(r) => Some(r),
            Location::Local(_) => None,
        }
    }
}

impl Storage {
    /// Remove the file or object at `path`; a missing one is not an error.
    pub fn remove(&self, path: &Path) -> Result<()> {
        match self.resolve(path)? {
            Location::Local(p) => match std::fs::remove_file(&p) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io(&p, e)),
            },
            Location::Remote(o) => o.delete(),
        }
    }
}
