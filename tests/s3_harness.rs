//! Tests of the S3 test harness itself: the moto server enforces auth, keeps
//! open multipart uploads and takes parts down to `MOTO_MIN_PART`; the fault
//! proxy refuses and cuts connections after a byte count and serves again
//! after `restore`. The moto tests create the moto venv when it is missing (tests/common/s3.rs)
//! and skip (with a message) only when that fails.

mod common;

use common::proxy::FaultProxy;
use common::s3::{S3Server, MOTO_MIN_PART};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

#[test]
fn moto_enforces_auth_and_keeps_uploads() {
    let Some(s3) = S3Server::start() else { return };
    s3.make_bucket("harness");
    assert!(s3.list_objects("harness", "").is_empty());

    let wrong_secret = s3
        .try_admin(&s3.endpoint, &s3.key, "wrong", &["list-objects", "harness"])
        .expect_err("a wrong secret must be refused");
    assert!(
        wrong_secret.contains("SignatureDoesNotMatch (403)"),
        "{wrong_secret}"
    );
    let unknown_key = s3
        .try_admin(
            &s3.endpoint,
            "AKIAIOSFODNN7EXAMPLE",
            &s3.secret,
            &["list-objects", "harness"],
        )
        .expect_err("an unknown key must be refused");
    assert!(
        unknown_key.contains("InvalidAccessKeyId (403)"),
        "{unknown_key}"
    );

    let id = s3.admin(&["start-upload", "harness", "open/upload"]);
    assert_eq!(
        s3.list_uploads("harness"),
        vec![("open/upload".to_string(), id.trim().to_string())]
    );

    // Two parts of the lowered minimum and a short last part complete ...
    let ok = format!("multipart-put harness mp/ok --part-size {MOTO_MIN_PART} --parts 2 --last 10");
    s3.admin(&words(&ok));
    assert_eq!(
        s3.list_objects("harness", "mp/"),
        vec![("mp/ok".to_string(), 2 * MOTO_MIN_PART + 10)]
    );
    // ... a part one byte short of it does not.
    let short = format!(
        "multipart-put harness mp/small --part-size {} --parts 2",
        MOTO_MIN_PART - 1
    );
    let too_small = s3
        .try_admin(&s3.endpoint, &s3.key, &s3.secret, &words(&short))
        .expect_err("a part below MOTO_MIN_PART must be refused");
    assert!(too_small.contains("EntityTooSmall"), "{too_small}");

    let env = s3.env();
    assert!(env.contains(&("AWS_ENDPOINT".to_string(), s3.endpoint.clone())));
    assert!(env.contains(&("AWS_SECRET_ACCESS_KEY".to_string(), s3.secret.clone())));
}

#[test]
fn proxy_cuts_moto_requests_and_restores() {
    let Some(s3) = S3Server::start() else { return };
    s3.make_bucket("proxied");
    let proxy = FaultProxy::start(s3.addr());
    let via = |args: &[&str]| s3.try_admin(&proxy.endpoint(), &s3.key, &s3.secret, args);

    via(&["put-object", "proxied", "before", "--size", "10"]).expect("request before the cut");

    let before = proxy.forwarded();
    proxy.cut_after(1000);
    let cut = via(&["put-object", "proxied", "cut", "--size", "100000"])
        .expect_err("a request crossing the cut must fail");
    assert_eq!(
        proxy.forwarded(),
        before + 1000,
        "exactly the budget is sent"
    );
    assert!(cut.contains("ConnectionClosedError"), "{cut}");

    let refused = via(&["list-objects", "proxied"]).expect_err("the cut proxy must refuse");
    assert!(refused.contains("Could not connect"), "{refused}");

    proxy.restore();
    via(&["put-object", "proxied", "after", "--size", "10"]).expect("request after restore");
    assert_eq!(
        s3.list_objects("proxied", ""),
        vec![("after".to_string(), 10), ("before".to_string(), 10)]
    );
}

/// `s3_admin.py` arguments from a space-separated command line.
fn words(line: &str) -> Vec<&str> {
    line.split(' ').collect()
}

/// Without moto: an echo upstream behind the proxy.
#[test]
fn proxy_cuts_and_restores_echo() {
    let upstream = TcpListener::bind("127.0.0.1:0").expect("bind the echo upstream");
    let upstream_addr = upstream.local_addr().expect("echo upstream address");
    // Exactly two connections reach the upstream: the cut one and the restored one.
    let echo = thread::spawn(move || {
        let mut received = Vec::new();
        for _ in 0..2 {
            let (mut conn, _) = upstream.accept().expect("accept at the echo upstream");
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        let _ = conn.write_all(&buf[..n]);
                    }
                }
            }
            received.push(got);
        }
        received
    });

    let proxy = FaultProxy::start(upstream_addr);
    let connect = || {
        let conn = TcpStream::connect(proxy.addr())?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok::<_, std::io::Error>(conn)
    };
    let mut a = connect().expect("connect through the proxy");
    a.write_all(b"hello").expect("write before the cut");
    let mut echoed = [0u8; 5];
    a.read_exact(&mut echoed).expect("echo before the cut");
    assert_eq!(&echoed, b"hello");

    proxy.cut_after(3);
    a.write_all(b"abcdef").expect("write across the cut");
    let mut rest = Vec::new();
    let _ = a.read_to_end(&mut rest); // EOF or reset: the proxy closed it
    assert!(rest.len() <= 3, "at most the forwarded bytes echo back");
    assert_eq!(proxy.forwarded(), 8);
    let refused = connect().expect_err("the cut proxy must refuse connections");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");

    proxy.restore();
    let mut b = connect().expect("connect after restore");
    b.write_all(b"again").expect("write after restore");
    b.read_exact(&mut echoed).expect("echo after restore");
    assert_eq!(&echoed, b"again");
    drop(b);
    drop(proxy);

    let received = echo.join().expect("echo upstream thread");
    assert_eq!(received, vec![b"helloabc".to_vec(), b"again".to_vec()]);
}

/// The flake this pins: a cut closed the listener's descriptor, but a process
/// spawned by another thread holds a copy of it between its fork and its exec,
/// and meanwhile the socket kept accepting. Cuts now shut the socket down, so a
/// cut proxy refuses connections whatever else the test process is spawning.
#[test]
fn proxy_refuses_while_other_threads_spawn() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    /// At least this many cuts, and more until `MIN_SPAWNS` processes were
    /// spawned meanwhile (a loaded machine may spawn none in 200 cuts), up to
    /// `MAX_CUTS`. Counted, not timed.
    const CUTS: usize = 200;
    const MIN_SPAWNS: u64 = 5;
    const MAX_CUTS: usize = 200_000;
    let upstream = TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
    let proxy = FaultProxy::start(upstream.local_addr().expect("upstream address"));
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let spawned = std::sync::Arc::new(AtomicU64::new(0));
    let spawner = {
        let (stop, spawned) = (stop.clone(), spawned.clone());
        thread::spawn(move || {
            while !stop.load(SeqCst) {
                let _ = std::process::Command::new("true").status();
                spawned.fetch_add(1, SeqCst);
            }
        })
    };
    let mut accepted_while_cut = 0;
    let mut cuts = 0;
    while cuts < MAX_CUTS && (cuts < CUTS || spawned.load(SeqCst) < MIN_SPAWNS) {
        proxy.cut_after(0);
        if TcpStream::connect(proxy.addr()).is_ok() {
            accepted_while_cut += 1;
        }
        proxy.restore();
        cuts += 1;
    }
    stop.store(true, SeqCst);
    spawner.join().expect("spawner thread");
    let spawned = spawned.load(SeqCst);
    assert!(spawned > 0, "no process was spawned during {cuts} cuts");
    assert_eq!(
        accepted_while_cut, 0,
        "connections accepted by a cut proxy in {cuts} cuts ({spawned} processes spawned meanwhile)"
    );
}

/// The race behind "the cut proxy must refuse connections" that remained after
/// the fix above: a cut released the proxy's port, so any socket bound meanwhile
/// (`bind("127.0.0.1:0")` in another test thread or process, or moto's port)
/// could get that port and accept the connection a cut proxy must refuse; and
/// `restore` could then not bind it again. Here the other socket binds the port
/// on purpose: a cut proxy keeps its port, so that bind fails, the connection
/// is refused, and `restore` serves on the same port.
#[test]
fn cut_proxy_keeps_its_port() {
    let upstream = TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
    let proxy = FaultProxy::start(upstream.local_addr().expect("upstream address"));
    for _ in 0..3 {
        proxy.cut_after(0);
        let intruder = TcpListener::bind(proxy.addr());
        let refused = TcpStream::connect(proxy.addr());
        assert!(
            intruder.is_err(),
            "another socket could bind the cut proxy's port {}",
            proxy.addr()
        );
        let refused = refused.expect_err("the cut proxy must refuse connections");
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
        proxy.restore();
        let mut conn = TcpStream::connect(proxy.addr()).expect("connect after restore");
        let (mut at_upstream, _) = upstream.accept().expect("the restored proxy forwards");
        conn.write_all(b"ping").expect("write after restore");
        let mut got = [0u8; 4];
        at_upstream
            .read_exact(&mut got)
            .expect("read at the upstream");
        assert_eq!(&got, b"ping");
    }
}
