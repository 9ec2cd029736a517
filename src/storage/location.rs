//! Objects behind a URL (`s3://`, `gs://`, `az://` and the other Azure forms,
//! `http(s)://`; `file://` is a local path) and their stores: [`Storage`] turns
//! strings into [`Location`]s and keeps one client per bucket.

use super::error::storage_error;
use super::options::{parse_pair, Tuning, TUNING_KEYS};
use super::path::{is_url, Location};
use super::runtime::block_on;
use super::stats;
use crate::{Error, Result};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjPath;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutMode, PutOptions,
};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use url::Url;

/// One bucket (or container, or HTTP server) and its client.
pub struct Store {
    /// `scheme://bucket` (no trailing slash).
    pub base: String,
    object: Arc<dyn ObjectStore>,
    /// The same client's multipart API (`None` for HTTP stores, which cannot take
    /// outputs).
    multipart: Option<Arc<dyn MultipartStore>>,
    /// Retries and I/O sizes (`--storage-option`).
    pub tuning: Tuning,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// An object (or, for a directory-like URL, a key prefix) in a store.
#[derive(Clone)]
pub struct RemoteObject {
    /// The store the object lives in.
    pub store: Arc<Store>,
    /// The object's key within the store.
    pub key: ObjPath,
}

impl fmt::Debug for RemoteObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

impl RemoteObject {
    /// `scheme://bucket/key`.
    pub fn url(&self) -> String {
        if self.key.as_ref().is_empty() {
            self.store.base.clone()
        } else {
            format!("{}/{}", self.store.base, self.key)
        }
    }

    /// The object `name` under this key prefix.
    pub fn child(&self, name: &str) -> RemoteObject {
        RemoteObject {
            store: self.store.clone(),
            key: self.key.clone().join(name),
        }
    }

    /// The last segment of the key.
    pub fn file_name(&self) -> Option<&str> {
        self.key.filename()
    }

    pub(crate) fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store.object
    }

    pub(crate) fn multipart(&self) -> Result<&Arc<dyn MultipartStore>> {
        self.store.multipart.as_ref().ok_or_else(|| Error::Storage {
            url: self.url(),
            detail: "this kind of URL can be read but not written (use s3://, gs:// or az://)"
                .into(),
        })
    }

    fn err(&self, e: object_store::Error) -> Error {
        storage_error(&self.url(), e)
    }

    /// The object's size, or `None` if there is no such object.
    pub fn size(&self) -> Result<Option<u64>> {
        match block_on(self.store.object.head(&self.key))? {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Bytes `range` of the object, with one GET.
    pub fn get_range(&self, range: Range<u64>) -> Result<Bytes> {
        let bytes =
            block_on(self.store.object.get_range(&self.key, range))?.map_err(|e| self.err(e))?;
        stats::count_get(bytes.len() as u64);
        Ok(bytes)
    }

    /// The last `n` bytes of the object (all of it if shorter) and its size, with
    /// one GET: how a footer is read without knowing the size first.
    pub fn get_tail(&self, n: u64) -> Result<(Bytes, u64)> {
        let object = self.store.object.clone();
        let key = self.key.clone();
        let got = block_on(async move {
            let options = GetOptions {
                range: Some(GetRange::Suffix(n)),
                ..Default::default()
            };
            let result = object.get_opts(&key, options).await?;
            let size = result.meta.size;
            Ok::<_, object_store::Error>((result.bytes().await?, size))
        })?
        .map_err(|e| self.err(e))?;
        stats::count_get(got.0.len() as u64);
        Ok(got)
    }

    /// Write `bytes` as the whole object with one PUT, failing if it exists (where
    /// the store supports conditional puts).
    pub fn put_new(&self, bytes: Bytes) -> Result<()> {
        let len = bytes.len() as u64;
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        block_on(self.store.object.put_opts(&self.key, bytes.into(), options))?.map_err(
            |e| match e {
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. } => Error::OutputExists {
                    path: PathBuf::from(self.url()),
                },
                e => self.err(e),
            },
        )?;
        stats::count_put(len);
        Ok(())
    }

    /// Delete the object; a missing object is not an error.
    pub fn delete(&self) -> Result<()> {
        match block_on(self.store.object.delete(&self.key))? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Every object under this key prefix, with its size.
    pub fn list(&self) -> Result<Vec<(RemoteObject, u64)>> {
        let object = self.store.object.clone();
        let prefix = self.key.clone();
        let metas: Vec<object_store::ObjectMeta> =
            block_on(async move { object.list(Some(&prefix)).try_collect::<Vec<_>>().await })?
                .map_err(|e| self.err(e))?;
        Ok(metas
            .into_iter()
            .map(|m| {
                (
                    RemoteObject {
                        store: self.store.clone(),
                        key: m.location,
                    },
                    m.size,
                )
            })
            .collect())
    }
}

/// Turns paths and URLs into [`Location`]s: storage options, and one client per
/// `scheme://bucket` shared by every file there.
#[derive(Default)]
pub struct Storage {
    options: Vec<(String, String)>,
    stores: Mutex<HashMap<String, Arc<Store>>>,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Option values may be secrets: show the keys only.
        let keys: Vec<&str> = self.options.iter().map(|(k, _)| k.as_str()).collect();
        write!(f, "Storage {{ options: {keys:?} }}")
    }
}

impl Storage {
    /// Storage with `key=value` options (see `storage::options` and
    /// [`Tuning`](super::Tuning)).
    pub fn with_options<S: AsRef<str>>(pairs: impl IntoIterator<Item = S>) -> Result<Self> {
        let options = pairs
            .into_iter()
            .map(|p| parse_pair(p.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let mut tuning = Tuning::default();
        for (k, v) in options
            .iter()
            .filter(|(k, _)| TUNING_KEYS.contains(&k.as_str()))
        {
            tuning.set(k, v)?;
        }
        Ok(Storage {
            options,
            stores: Mutex::new(HashMap::new()),
        })
    }

    /// The location `path` names: a URL is remote (`file://` is local), anything
    /// else a local path.
    pub fn resolve(&self, path: &Path) -> Result<Location> {
        let Some(s) = path.to_str().filter(|s| is_url(s)) else {
            return Ok(Location::Local(path.to_path_buf()));
        };
        let bad = |why: String| Error::InvalidArgument(format!("'{s}': {why}"));
        let url = Url::parse(s).map_err(|e| bad(e.to_string()))?;
        if url.scheme() == "file" {
            return url
                .to_file_path()
                .map(Location::Local)
                .map_err(|_| bad("not a local file URL".into()));
        }
        let (scheme, key) =
            ObjectStoreScheme::parse(&url).map_err(|_| bad("unsupported URL scheme".into()))?;
        let base = store_base(&url, &key);
        let store = self.store(&base, &scheme, &url)?;
        Ok(Location::Remote(RemoteObject { store, key }))
    }

    fn store(&self, base: &str, scheme: &ObjectStoreScheme, url: &Url) -> Result<Arc<Store>> {
        let mut stores = self
            .stores
            .lock()
            .map_err(|_| Error::Internal("storage client cache lock poisoned".into()))?;
        if let Some(s) = stores.get(base) {
            return Ok(s.clone());
        }
        let store = Arc::new(build_store(base, scheme, url, &self.options)?);
        stores.insert(base.to_string(), store.clone());
        Ok(store)
    }
}

/// `scheme://host` plus, where the URL form carries the bucket in the path, that
/// first path segment: the URL up to where the object key begins.
fn store_base(url: &Url, key: &ObjPath) -> String {
    let full = url.as_str().trim_end_matches('/');
    let key = key.as_ref();
    let base = if key.is_empty() {
        full
    } else {
        full.strip_suffix(key)
            .map(|b| b.trim_end_matches('/'))
            .unwrap_or(full)
    };
    base.to_string()
}

fn unknown_option(key: &str, scheme: &str) -> Error {
    Error::InvalidArgument(format!(
        "unknown storage option '{key}' for {scheme} URLs (see README, Object storage)"
    ))
}

/// A client for `base` from the environment plus `options` (unknown keys are
/// errors, not silently ignored).
fn build_store(
    base: &str,
    scheme: &ObjectStoreScheme,
    url: &Url,
    options: &[(String, String)],
) -> Result<Store> {
    let mut tuning = Tuning::default();
    let client_options = options
        .iter()
        .filter(|(k, _)| !TUNING_KEYS.contains(&k.as_str()));
    for (k, v) in options
        .iter()
        .filter(|(k, _)| TUNING_KEYS.contains(&k.as_str()))
    {
        tuning.set(k, v)?;
    }
    let failed = |e: object_store::Error| storage_error(base, e);
    // One shape for every builder: the client options (strictly), the retries,
    // then build.
    macro_rules! configured {
        ($builder:expr, $scheme:literal) => {{
            let mut b = $builder;
            for (k, v) in client_options {
                let key = k.parse().map_err(|_| unknown_option(k, $scheme))?;
                b = b.with_config(key, v);
            }
            Arc::new(b.with_retry(tuning.retry.clone()).build().map_err(failed)?)
        }};
    }
    let url_text = url.as_str();
    let (object, multipart): (Arc<dyn ObjectStore>, Option<Arc<dyn MultipartStore>>) =
        match scheme {
            ObjectStoreScheme::AmazonS3 => {
                let s = configured!(
                    object_store::aws::AmazonS3Builder::from_env().with_url(url_text),
                    "s3"
                );
                (s.clone(), Some(s))
            }
            ObjectStoreScheme::GoogleCloudStorage => {
                let s = configured!(
                    object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(url_text),
                    "gs"
                );
                (s.clone(), Some(s))
            }
            ObjectStoreScheme::MicrosoftAzure => {
                let s = configured!(
                    object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url_text),
                    "azure"
                );
                (s.clone(), Some(s))
            }
            ObjectStoreScheme::Http => {
                let s = configured!(object_store::http::HttpBuilder::new().with_url(base), "http");
                (s, None)
            }
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "'{url}': unsupported URL scheme (use a path, file://, s3://, gs://, az:// or http(s)://)"
                )))
            }
        };
    Ok(Store {
        base: base.to_string(),
        object,
        multipart,
        tuning,
    })
}

#[cfg(test)]
impl RemoteObject {
    /// An object `key` holding `data` in an in-memory store (`memory://test`).
    pub(crate) fn in_memory(tuning: Tuning, key: &str, data: Bytes) -> Self {
        let store = Arc::new(object_store::memory::InMemory::new());
        let key = ObjPath::from(key);
        let put = store.clone();
        let k = key.clone();
        block_on(async move { put.put(&k, data.into()).await })
            .expect("runtime")
            .expect("in-memory put");
        RemoteObject {
            store: Arc::new(Store {
                base: "memory://test".into(),
                object: store.clone(),
                multipart: Some(store),
                tuning,
            }),
            key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        assert!(is_url("s3://bucket/key"));
        assert!(!is_url("/tmp/a.parquet"));
        assert!(!is_url("relative/dir"));
        let storage = Storage::default();
        match storage.resolve(Path::new("file:///tmp/x.parquet")) {
            Ok(Location::Local(p)) => assert_eq!(p, PathBuf::from("/tmp/x.parquet")),
            other => panic!("file URL resolved to {other:?}"),
        }
        let remote = storage
            .resolve(Path::new("s3://bucket/dir/x.parquet"))
            .expect("s3 URL");
        let r = remote.remote().expect("remote");
        assert_eq!(r.url(), "s3://bucket/dir/x.parquet");
        assert_eq!(r.store.base, "s3://bucket");
        assert_eq!(
            remote.join("y").name(),
            PathBuf::from("s3://bucket/dir/x.parquet/y")
        );
        let bad = Storage::with_options(["no_such_key=1"]).expect("parsed");
        let err = bad
            .resolve(Path::new("s3://other/x"))
            .expect_err("unknown option");
        assert!(err
            .to_string()
            .contains("unknown storage option 'no_such_key'"));
    }
}
