//! A fault-injecting TCP proxy for tests: put it between two components and partition, refuse, slow down or answer
//! for the target at will.
//!
//! [`Proxy::start`] listens on a free loopback port and forwards every connection to the target. [`Proxy::set`]
//! changes the [`Fault`] for new connections and cuts every connection in flight (so a partition takes effect at
//! once, as a real one would for a long-lived connection). Threads and the standard library only; dropping the
//! proxy stops it.
//!
//! ```no_run
//! use bloodraven_test_support::proxy::{Fault, Proxy};
//!
//! let proxy = Proxy::start("127.0.0.1:3306".parse().unwrap())?;
//! println!("connect to {}", proxy.addr());
//! proxy.set(Fault::Blackhole); // accepted, never answered
//! proxy.set(Fault::Respond(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n".to_vec()));
//! proxy.set(Fault::Forward);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What the proxy does with a connection.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Forward both ways (no fault).
    Forward,
    /// Accept and close at once: the client sees a reset or an immediate end of stream.
    Refuse,
    /// Accept, read and discard, never answer: the client's timeout decides.
    Blackhole,
    /// Forward, but hold every chunk of the target's answer for this long first (a slow server).
    Delay(Duration),
    /// Read the start of the request, answer with these bytes and close (e.g. an HTTP 503).
    Respond(Vec<u8>),
}

#[derive(Debug)]
struct Shared {
    target: Mutex<SocketAddr>,
    fault: Mutex<Fault>,
    live: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

/// A running proxy; see the module docs.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts forwarding a free loopback port to `target`.
    pub fn start(target: SocketAddr) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target: Mutex::new(target),
            fault: Mutex::new(Fault::Forward),
            live: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || accept_loop(&listener, &s))?;
        Ok(Proxy {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches to `fault` for new connections and cuts every connection in flight.
    pub fn set(&self, fault: Fault) {
        *lock(&self.shared.fault) = fault;
        cut_all(&self.shared);
    }

    /// Forwards new connections to `target` instead (for components whose address is known only later).
    pub fn set_target(&self, target: SocketAddr) {
        *lock(&self.shared.target) = target;
    }

    /// The current fault.
    pub fn fault(&self) -> Fault {
        lock(&self.shared.fault).clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        cut_all(&self.shared);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn cut_all(shared: &Shared) {
    for s in lock(&shared.live).drain(..) {
        let _ = s.shutdown(Shutdown::Both);
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                let s = shared.clone();
                let _ = thread::Builder::new()
                    .name("fault-proxy-conn".into())
                    .spawn(move || serve(client, &s));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn track(shared: &Shared, s: &TcpStream) {
    if let Ok(c) = s.try_clone() {
        lock(&shared.live).push(c);
    }
}

fn serve(client: TcpStream, shared: &Shared) {
    let fault = lock(&shared.fault).clone();
    match fault {
        Fault::Refuse => {
            let _ = client.shutdown(Shutdown::Both);
        }
        Fault::Blackhole => {
            track(shared, &client);
            let mut sink = [0u8; 8192];
            let mut c = &client;
            while !shared.stop.load(Ordering::Relaxed) {
                match c.read(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        Fault::Respond(bytes) => {
            let _ = client.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 8192];
            let mut seen = Vec::new();
            let mut c = &client;
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = c.write_all(&bytes);
            let _ = client.shutdown(Shutdown::Both);
        }
        Fault::Forward | Fault::Delay(_) => {
            let delay = match fault {
                Fault::Delay(d) => d,
                _ => Duration::ZERO,
            };
            let Ok(upstream) =
                TcpStream::connect_timeout(&lock(&shared.target), Duration::from_secs(5))
            else {
                let _ = client.shutdown(Shutdown::Both);
                return;
            };
            let _ = upstream.set_nodelay(true);
            let _ = client.set_nodelay(true);
            track(shared, &client);
            track(shared, &upstream);
            let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
                return;
            };
            let up = thread::spawn(move || pipe(c2, u2, Duration::ZERO));
            pipe(upstream, client, delay);
            let _ = up.join();
        }
    }
}

/// Copies `from` → `to` until either side closes, holding each chunk for `delay`.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !delay.is_zero() {
                    thread::sleep(delay);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
