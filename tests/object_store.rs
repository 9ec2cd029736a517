//! Merges and tables through a real S3-compatible server (moto, started on
//! loopback by the test; skipped with a message when it cannot start): the
//! outputs must be byte-identical to the local-file run, the manifest must name
//! the objects, nothing partial may be visible after a failure and no upload
//! may stay open.
#![cfg(all(feature = "cli", feature = "object-store"))]

mod common;

use common::proxy::FaultProxy;
use common::s3::{S3Server, MOTO_MIN_PART};
use common::{bin, gen_splits};
use std::path::{Path, PathBuf};
use std::process::Output;

const BUCKET: &str = "pm-test";

/// A started server with the test bucket, a temporary directory and the
/// journal directory in it (`None`, after a `skipping:` line, without a server).
struct Fixture {
    server: S3Server,
    dir: tempfile::TempDir,
    journal: PathBuf,
}

impl Fixture {
    fn start() -> Option<Fixture> {
        let server = S3Server::start()?;
        server.make_bucket(BUCKET);
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = dir.path().join("journal");
        Some(Fixture {
            server,
            dir,
            journal,
        })
    }
}

/// `prefix-merge ARGS` with the server's credentials and a journal directory.
fn run(env: &[(String, String)], journal: &Path, args: &[&str]) -> Output {
    bin()
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PREFIX_MERGE_JOURNAL_DIR", journal)
        .output()
        .expect("run prefix-merge")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The storage the library uses to reach the server directly.
fn storage(s: &S3Server) -> prefix_merge::storage::Storage {
    prefix_merge::storage::Storage::with_options([
        format!("aws_endpoint={}", s.endpoint),
        format!("aws_access_key_id={}", s.key),
        format!("aws_secret_access_key={}", s.secret),
        "allow_http=true".to_string(),
        "aws_region=us-east-1".to_string(),
        "aws_virtual_hosted_style_request=false".to_string(),
    ])
    .expect("storage options")
}

fn object(s: &prefix_merge::storage::Storage, url: &str) -> prefix_merge::storage::RemoteObject {
    s.resolve(Path::new(url))
        .expect("resolve")
        .remote()
        .cloned()
        .expect("remote URL")
}

fn get(s: &prefix_merge::storage::Storage, url: &str) -> Vec<u8> {
    let o = object(s, url);
    let size = o.size().expect("head").expect("object exists");
    o.get_range(0..size).expect("get").to_vec()
}

fn put(s: &prefix_merge::storage::Storage, url: &str, path: &Path) {
    let bytes = std::fs::read(path).expect("read input");
    object(s, url).put_new(bytes.into()).expect("put input");
}

/// Upload `inputs` under `in/` and return their URLs.
fn upload_inputs(s: &prefix_merge::storage::Storage, inputs: &[PathBuf]) -> Vec<String> {
    inputs
        .iter()
        .map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).expect("file name");
            let url = format!("s3://{BUCKET}/in/{name}");
            put(s, &url, p);
            url
        })
        .collect()
}

#[test]
fn merges_between_s3_and_local_match_the_local_run() {
    let Some(Fixture {
        server,
        dir,
        journal,
    }) = Fixture::start()
    else {
        return;
    };
    let env = server.env();
    let st = storage(&server);
    let inputs = gen_splits(dir.path(), 4, 6000, 20);
    let urls = upload_inputs(&st, &inputs);
    let local_inputs: Vec<&str> = inputs.iter().map(|p| p.to_str().expect("utf8")).collect();
    let url_inputs: Vec<&str> = urls.iter().map(String::as_str).collect();

    // The reference: local files to a local directory.
    let reference_dir = dir.path().join("ref");
    let mut args = vec!["merge", "--output-prefix", "m", "--output-dir"];
    args.push(reference_dir.to_str().expect("utf8"));
    args.extend(&local_inputs);
    ok(&run(&env, &journal, &args));
    let reference = std::fs::read(reference_dir.join("m_00000.parquet")).expect("reference");

    // s3 -> local
    let s2l = dir.path().join("s2l");
    let mut args = vec!["merge", "--output-prefix", "m", "--output-dir"];
    args.push(s2l.to_str().expect("utf8"));
    args.extend(&url_inputs);
    let stdout = ok(&run(&env, &journal, &args));
    assert!(stdout.contains("storage: "), "no storage line: {stdout}");
    assert_eq!(
        std::fs::read(s2l.join("m_00000.parquet")).expect("s2l output"),
        reference,
        "s3 -> local differs from local -> local"
    );

    // local -> s3 and s3 -> s3, each with its manifest in the bucket.
    for (name, ins) in [("l2s", &local_inputs), ("s2s", &url_inputs)] {
        let out = format!("s3://{BUCKET}/{name}");
        let manifest = format!("{out}/manifest.json");
        let mut args = vec![
            "merge",
            "--output-prefix",
            "m",
            "--output-dir",
            &out,
            "--manifest",
            &manifest,
        ];
        args.extend(ins.iter());
        ok(&run(&env, &journal, &args));
        let output_url = format!("{out}/m_00000.parquet");
        assert_eq!(get(&st, &output_url), reference, "{name} output differs");
        let m: serde_json::Value =
            serde_json::from_slice(&get(&st, &manifest)).expect("manifest is JSON");
        assert_eq!(m["rows_in"], 24000, "{name} manifest: {m}");
        assert_eq!(m["rows_out"], 24000, "{name} manifest: {m}");
        assert_eq!(m["outputs"][0]["path"], output_url.as_str(), "{name}: {m}");
        assert_eq!(
            m["outputs"][0]["bytes"],
            reference.len() as u64,
            "{name}: {m}"
        );
        let inputs_named: Vec<&str> = m["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .filter_map(|i| i["path"].as_str())
            .collect();
        assert_eq!(inputs_named, *ins, "{name}: manifest inputs");
    }
    // An output name that is taken is refused, and nothing is left open.
    let out = format!("s3://{BUCKET}/l2s");
    let mut args = vec!["merge", "--output-prefix", "m", "--output-dir", &out];
    args.extend(&local_inputs);
    let again = run(&env, &journal, &args);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(server.list_uploads(BUCKET), Vec::<(String, String)>::new());
}

#[test]
fn table_in_a_bucket_compacts_and_gc_deletes_objects() {
    let Some(Fixture {
        server,
        dir,
        journal,
    }) = Fixture::start()
    else {
        return;
    };
    let env = server.env();
    let table = dir.path().join("t");
    let t = table.to_str().expect("utf8");
    let splits = format!("s3://{BUCKET}/tbl");
    ok(&run(
        &env,
        &journal,
        &[
            "table",
            "create",
            t,
            "--splits-url",
            &splits,
            "--sort-schema",
            &prefix_merge::gen::sort_schema().to_string(),
        ],
    ));
    let gen_dir = dir.path().join("in");
    ok(&run(
        &env,
        &journal,
        &[
            "gen",
            "--output-dir",
            gen_dir.to_str().expect("utf8"),
            "--files",
            "12",
            "--rows",
            "2000",
            "--windows",
            "2",
        ],
    ));
    let mut files: Vec<String> = std::fs::read_dir(&gen_dir)
        .expect("gen dir")
        .map(|e| e.expect("entry").path().display().to_string())
        .collect();
    files.sort();
    let mut args = vec!["table", "add", t];
    args.extend(files.iter().map(String::as_str));
    ok(&run(&env, &journal, &args));
    ok(&run(&env, &journal, &["compact", t, "--until-stable"]));
    ok(&run(&env, &journal, &["table", "gc", t, "--grace", "0s"]));
    let ls: serde_json::Value =
        serde_json::from_str(&ok(&run(&env, &journal, &["table", "ls", t, "--json"])))
            .expect("ls json");
    let live = ls["splits"].as_array().expect("live splits");
    let rows: u64 = live.iter().map(|s| s["rows"].as_u64().unwrap_or(0)).sum();
    assert_eq!(rows, 24000, "rows after compaction: {ls}");
    assert_eq!(live.len(), 2, "one split per window: {ls}");
    // The bucket holds exactly the live splits: gc deleted the replaced ones.
    let mut objects: Vec<String> = server
        .list_objects(BUCKET, "tbl/")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    objects.sort();
    let mut expected: Vec<String> = live
        .iter()
        .map(|s| format!("tbl/{}.parquet", s["id"].as_str().unwrap_or("?")))
        .collect();
    expected.sort();
    assert_eq!(objects, expected);
    // Every live split passes verify, read back from the bucket through its url.
    for s in live {
        let url = format!("{splits}/{}.parquet", s["id"].as_str().unwrap_or("?"));
        assert_eq!(s["url"], url.as_str());
        ok(&run(&env, &journal, &["verify", &url]));
    }
    // A query engine (pyarrow) reads every url; rows, typed prefix keys and
    // time bounds are what the live set says.
    if let Some(python) = common::s3::pyarrow_python() {
        let text = ok(&run(&env, &journal, &["table", "ls", t, "--json"]));
        let read = common::s3::read_live_set(&python, &text, &env);
        common::s3::assert_live_set_reads_back(&ls, &read);
    }
    assert_eq!(server.list_uploads(BUCKET), Vec::<(String, String)>::new());

    // A delete: recorded, applied by the windows' rewrites in the bucket, retired.
    let metric_rows: usize = files
        .iter()
        .flat_map(|f| common::read_rows(Path::new(f), &["metric_name"]))
        .filter(|r| r[0] == common::Cell::Str("cpu.usage".into()))
        .count();
    assert!(metric_rows > 0);
    ok(&run(
        &env,
        &journal,
        &["table", "delete", t, "--where", "metric_name = 'cpu.usage'"],
    ));
    ok(&run(&env, &journal, &["compact", t, "--until-stable"]));
    let ls: serde_json::Value =
        serde_json::from_str(&ok(&run(&env, &journal, &["table", "ls", t, "--json"])))
            .expect("ls json");
    let rows: u64 = ls["splits"]
        .as_array()
        .expect("live splits")
        .iter()
        .map(|s| s["rows"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        rows as usize,
        24000 - metric_rows,
        "rows after the delete: {ls}"
    );
    assert_eq!(ls["tombstones"], serde_json::json!([]), "{ls}");
    assert_eq!(server.list_uploads(BUCKET), Vec::<(String, String)>::new());
}

#[test]
fn server_stopped_mid_merge_leaves_nothing_visible_and_cleanup_aborts_uploads() {
    let Some(Fixture {
        server,
        dir,
        journal,
    }) = Fixture::start()
    else {
        return;
    };
    let proxy = FaultProxy::start(server.addr());
    let env = server.with_endpoint_env(&proxy.endpoint());
    let inputs = gen_splits(dir.path(), 4, 60000, 20);
    let part = format!("part_size={MOTO_MIN_PART}");
    let out = format!("s3://{BUCKET}/cut");
    let mut args = vec![
        "merge",
        "--storage-option",
        &part,
        "--storage-option",
        "upload_concurrency=1",
        "--storage-option",
        "max_retries=2",
        "--storage-option",
        "retry_timeout=2s",
        "--output-dir",
        &out,
    ];
    let names: Vec<&str> = inputs.iter().map(|p| p.to_str().expect("utf8")).collect();
    args.extend(&names);
    // The server "stops" after about three parts have gone up.
    proxy.cut_after(3 * MOTO_MIN_PART);
    let failed = run(&env, &journal, &args);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one error line: {stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("s3://"),
        "{stderr}"
    );
    proxy.restore();
    // Nothing visible.
    assert_eq!(
        server.list_objects(BUCKET, "cut/"),
        Vec::<(String, u64)>::new()
    );
    // The uploads the run could not abort (the server was gone) are in its
    // journal; cleanup aborts them once the server is back.
    let open = server.list_uploads(BUCKET);
    let report = ok(&run(
        &server.env(),
        &journal,
        &["cleanup", journal.to_str().expect("utf8"), "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&report).expect("cleanup json");
    let aborted = report["aborted_uploads"].as_array().map_or(0, Vec::len);
    assert!(
        aborted >= open.len(),
        "aborted {aborted} of {open:?}: {report}"
    );
    assert_eq!(server.list_uploads(BUCKET), Vec::<(String, String)>::new());
    assert_eq!(
        server.list_objects(BUCKET, "cut/"),
        Vec::<(String, u64)>::new()
    );
    println!(
        "open uploads after the failure: {}; aborted by cleanup: {aborted}",
        open.len()
    );
}

#[test]
fn failure_with_the_server_up_aborts_every_upload() {
    let Some(Fixture {
        server,
        dir,
        journal,
    }) = Fixture::start()
    else {
        return;
    };
    let env = server.env();
    let mut inputs = gen_splits(dir.path(), 3, 60000, 20);
    // The last input's data pages are garbage: the merge fails after the first
    // inputs' rows were uploaded.
    let bad = inputs.last().expect("inputs").clone();
    let mut bytes = std::fs::read(&bad).expect("read");
    let half = bytes.len() / 2;
    for b in bytes.iter_mut().skip(100).take(half) {
        *b = 0x5a;
    }
    let corrupt = dir.path().join("corrupt.parquet");
    std::fs::write(&corrupt, bytes).expect("write");
    *inputs.last_mut().expect("inputs") = corrupt;
    let part = format!("part_size={MOTO_MIN_PART}");
    let out = format!("s3://{BUCKET}/bad");
    let mut args = vec![
        "merge",
        "--storage-option",
        &part,
        "--num-outputs",
        "3",
        "--output-dir",
        &out,
    ];
    let names: Vec<&str> = inputs.iter().map(|p| p.to_str().expect("utf8")).collect();
    args.extend(&names);
    let failed = run(&env, &journal, &args);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    assert_eq!(
        server.list_objects(BUCKET, "bad/"),
        Vec::<(String, u64)>::new()
    );
    assert_eq!(server.list_uploads(BUCKET), Vec::<(String, String)>::new());
    // The run cleaned up after itself: its journal is gone.
    let left: Vec<_> = std::fs::read_dir(&journal).map_or(Vec::new(), |d| d.collect());
    assert!(left.is_empty(), "journal left: {left:?}");
}

#[test]
fn wrong_secret_is_one_clear_error_line() {
    let Some(Fixture {
        server,
        dir,
        journal,
    }) = Fixture::start()
    else {
        return;
    };
    let mut env = server.env();
    for (k, v) in env.iter_mut() {
        if k == "AWS_SECRET_ACCESS_KEY" {
            *v = "not-the-secret".into();
        }
    }
    let url = format!("s3://{BUCKET}/in/x.parquet");
    let out = run(
        &env,
        &journal,
        &[
            "merge",
            "--output-dir",
            dir.path().to_str().expect("utf8"),
            &url,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(&url) && lines[0].contains("access denied"),
        "{stderr}"
    );
    println!("{}", lines[0]);
}

/// A split added to a table from a bucket URL records its real size as the add
/// job's `bytes_in` (the size comes from the storage layer, not the local file
/// system, where the URL is no file).
#[test]
fn bucket_add_records_the_real_size() {
    let Some(Fixture {
        server,
        dir,
        journal,
    }) = Fixture::start()
    else {
        return;
    };
    let env = server.env();
    let inputs = gen_splits(dir.path(), 1, 500, 3);
    let size = std::fs::metadata(&inputs[0]).expect("input size").len();
    let urls = upload_inputs(&storage(&server), &inputs);
    let table = dir.path().join("t");
    let t = table.to_str().expect("utf8");
    ok(&run(
        &env,
        &journal,
        &[
            "table",
            "create",
            t,
            "--sort-schema",
            &prefix_merge::gen::sort_schema().to_string(),
        ],
    ));
    ok(&run(&env, &journal, &["table", "add", t, &urls[0]]));
    let mut opened = prefix_merge::compact::Table::open(&table).expect("open table");
    let history = prefix_merge::compact::Catalog::history(opened.catalog()).expect("history");
    let adds: Vec<u64> = history
        .iter()
        .filter(|j| j.kind == "add")
        .map(|j| j.bytes_in)
        .collect();
    assert_eq!(adds, vec![size], "bytes_in of the add job: {history:?}");
}
