//! A loopback TCP fault proxy for fault tests: forwards every connection to an
//! upstream address and, on demand, behaves like a server that stopped after
//! receiving a given number of bytes.
//!
//! After a cut the listener is shut down (new connections are refused) and
//! every open connection is shut down, so clients see EOF/reset mid-request or
//! mid-response. `restore` listens on the same socket again.
//!
//! Closing the listener's descriptor alone is not enough: a process spawned by
//! another thread of the test holds a copy of every descriptor between its
//! fork and its exec, and while it does the socket keeps listening and accepts
//! connections that should be refused. `shutdown` acts on the socket itself.
//!
//! Nor may a cut release the port: another socket bound meanwhile (any
//! `bind("127.0.0.1:0")` of another test thread or process may be given it)
//! would accept the connections a cut proxy must refuse, and `restore` could
//! not bind it again. Linux unbinds a listening socket that is shut down, so
//! the port is held by a second socket, bound (never listening, so it accepts
//! nothing) for the proxy's whole life: the listeners and it share the port
//! through `SO_REUSEPORT`, which sockets of other tests do not set, so their
//! `bind` fails or picks another port. `restore` binds a new listener there.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Sleep of the accept loop when nothing is waiting (non-blocking accept).
const POLL: Duration = Duration::from_millis(5);
/// `limit` when no cut is armed.
const NO_LIMIT: u64 = u64::MAX;

/// A running proxy; its threads end when it is dropped.
pub struct FaultProxy {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    addr: SocketAddr,
    /// Client→server bytes handed to upstream sockets since start.
    forwarded: AtomicU64,
    /// Cut once `forwarded` reaches this.
    limit: AtomicU64,
    state: Mutex<State>,
}

struct State {
    /// `None` while cut (or after drop): connections are refused.
    listener: Option<TcpListener>,
    /// Bound to the port, never listening: keeps the port ours during cuts.
    _port: TcpListener,
    /// Both sockets of every open connection, to shut them down on a cut.
    conns: HashMap<u64, [TcpStream; 2]>,
    next_id: u64,
    /// Bumped by every cut: a connection accepted before it is not kept.
    cuts: u64,
    stopped: bool,
}

impl FaultProxy {
    /// Listen on `127.0.0.1:0` and forward every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let port = reuse_port_socket(SocketAddr::from(([127, 0, 0, 1], 0)));
        let addr = port.local_addr().expect("proxy port address");
        let listener = listen_on(addr);
        let shared = Arc::new(Shared {
            upstream,
            addr,
            forwarded: AtomicU64::new(0),
            limit: AtomicU64::new(NO_LIMIT),
            state: Mutex::new(State {
                listener: Some(listener),
                _port: port,
                conns: HashMap::new(),
                next_id: 0,
                cuts: 0,
                stopped: false,
            }),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fault-proxy-accept".into())
                .spawn(move || accept_loop(&shared))
                .expect("spawn the proxy accept thread")
        };
        FaultProxy {
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The proxy's listening address (the same after `restore`).
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Cut once `client_to_server_bytes` more bytes (counted from this call,
    /// over all connections) have been forwarded; 0 cuts now. Exactly that
    /// many reach the upstream: the chunk that crosses the limit is truncated.
    /// Arm it while no request is in flight for an exact count.
    pub fn cut_after(&self, client_to_server_bytes: u64) {
        let now = self.shared.forwarded.load(SeqCst);
        self.shared
            .limit
            .store(now.saturating_add(client_to_server_bytes), SeqCst);
        if client_to_server_bytes == 0 {
            self.shared.cut();
        }
    }

    /// Serve again on the same port, with no cut armed.
    pub fn restore(&self) {
        let mut state = self.shared.lock();
        self.shared.limit.store(NO_LIMIT, SeqCst);
        if state.listener.is_none() && !state.stopped {
            state.listener = Some(listen_on(self.shared.addr));
        }
    }

    /// Client→server bytes forwarded since start.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.cut();
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking proxy thread must not hide the test's own failure.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stop listening, then shut down every open connection.
    fn cut(&self) {
        let mut state = self.lock();
        if let Some(listener) = state.listener.take() {
            stop_listening(&listener);
        }
        state.cuts += 1;
        for (_, socks) in state.conns.drain() {
            for s in socks {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    /// Take up to `want` bytes of the budget: (bytes allowed, limit reached).
    fn reserve(&self, want: u64) -> (u64, bool) {
        let mut cur = self.forwarded.load(SeqCst);
        loop {
            let limit = self.limit.load(SeqCst);
            let allowed = want.min(limit.saturating_sub(cur));
            match self
                .forwarded
                .compare_exchange(cur, cur + allowed, SeqCst, SeqCst)
            {
                Ok(_) => return (allowed, limit != NO_LIMIT && cur + allowed >= limit),
                Err(now) => cur = now,
            }
        }
    }

    /// Connect `client` to the upstream and start forwarding, unless a cut or
    /// drop happened since it was accepted.
    fn connect(self: &Arc<Self>, client: TcpStream, cuts: u64) -> Option<JoinHandle<()>> {
        client.set_nonblocking(false).ok()?;
        let server = TcpStream::connect_timeout(&self.upstream, Duration::from_secs(5)).ok()?;
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let socks = [client.try_clone().ok()?, server.try_clone().ok()?];
        let id = {
            let mut state = self.lock();
            if state.stopped || state.cuts != cuts {
                return None;
            }
            let id = state.next_id;
            state.next_id += 1;
            state.conns.insert(id, socks);
            id
        };
        let shared = Arc::clone(self);
        thread::Builder::new()
            .name("fault-proxy-conn".into())
            .spawn(move || shared.serve(id, client, server))
            .ok()
    }

    /// Forward both directions of one connection until both end.
    fn serve(self: Arc<Self>, id: u64, client: TcpStream, server: TcpStream) {
        let (Ok(client_r), Ok(server_w)) = (client.try_clone(), server.try_clone()) else {
            self.lock().conns.remove(&id);
            return;
        };
        let shared = Arc::clone(&self);
        let up = thread::Builder::new()
            .name("fault-proxy-up".into())
            .spawn(move || shared.pump_up(client_r, server_w));
        pump(server, client);
        if let Ok(up) = up {
            let _ = up.join();
        }
        self.lock().conns.remove(&id);
    }

    /// Client→server, within the byte budget; the byte that exhausts it cuts.
    fn pump_up(&self, mut from: TcpStream, mut to: TcpStream) {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (allowed, reached) = self.reserve(n as u64);
            let written = to.write_all(&buf[..allowed as usize]).is_ok();
            if reached {
                self.cut();
                return;
            }
            if !written {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    }
}

/// Server→client, unmetered.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Accept (non-blocking, polled) until the proxy is dropped; then wait for
/// the connection threads, whose sockets the drop shut down.
fn accept_loop(shared: &Arc<Shared>) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    loop {
        let accepted = {
            let state = shared.lock();
            if state.stopped {
                break;
            }
            match state.listener.as_ref().map(TcpListener::accept) {
                // WouldBlock, or an error worth retrying (e.g. EMFILE).
                Some(Ok((client, _))) => Some((client, state.cuts)),
                _ => None,
            }
        };
        match accepted {
            Some((client, cuts)) => conns.extend(shared.connect(client, cuts)),
            None => thread::sleep(POLL),
        }
        conns.retain(|h| !h.is_finished());
    }
    for h in conns {
        let _ = h.join();
    }
}

/// Make `listener` refuse connections now, even while a copy of its descriptor
/// lives on in a child process between fork and exec (see the module doc).
fn stop_listening(listener: &TcpListener) {
    // SAFETY: shutdown(2) on a descriptor `listener` owns and keeps open for the
    // duration of the call; it touches no memory.
    unsafe {
        libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR);
    }
}

/// A non-blocking listener on `addr`, which the proxy's port socket holds.
fn listen_on(addr: SocketAddr) -> TcpListener {
    let listener = reuse_port_socket(addr);
    // SAFETY: listen(2) on a descriptor `listener` owns; it touches no memory.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), 128) };
    assert_eq!(
        rc,
        0,
        "listen on {addr}: {}",
        std::io::Error::last_os_error()
    );
    listener
        .set_nonblocking(true)
        .expect("make the proxy listener non-blocking");
    listener
}

/// An IPv4 TCP socket with `SO_REUSEPORT`, bound to `addr` (port 0: any free
/// port) and not listening.
fn reuse_port_socket(addr: SocketAddr) -> TcpListener {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(v4) = addr else {
        panic!("the fault proxy listens on IPv4 loopback, not {addr}");
    };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let on: libc::c_int = 1;
    // SAFETY: socket(2) returns a new descriptor we own (checked below);
    // setsockopt(2) reads `on` and bind(2) reads `sin`, both live values whose
    // sizes are passed.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // Owned from here: dropped (closed) on any failure below.
        let socket = TcpListener::from_raw_fd(fd);
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "SO_REUSEPORT: {}", std::io::Error::last_os_error());
        let rc = libc::bind(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "bind {addr}: {}", std::io::Error::last_os_error());
        socket
    }
}
