//! The fault-injecting proxy forwards, refuses, blackholes, delays and answers for its target.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use bloodraven_test_support::proxy::{Fault, Proxy};

/// An echo server on a free port.
fn echo() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn round_trip(addr: std::net::SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    s.write_all(b"ping\r\n\r\n")?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    Ok(buf[..n].to_vec())
}

#[test]
fn every_fault_behaves() {
    let proxy = Proxy::start(echo()).unwrap();
    assert_eq!(round_trip(proxy.addr()).unwrap(), b"ping\r\n\r\n");

    proxy.set(Fault::Refuse);
    assert!(round_trip(proxy.addr()).map_or(true, |b| b.is_empty()));

    proxy.set(Fault::Blackhole);
    let e = round_trip(proxy.addr()).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{e}"
    );

    proxy.set(Fault::Respond(b"HTTP/1.1 503 x\r\n\r\n".to_vec()));
    assert_eq!(round_trip(proxy.addr()).unwrap(), b"HTTP/1.1 503 x\r\n\r\n");

    proxy.set(Fault::Delay(Duration::from_millis(200)));
    let t = Instant::now();
    assert_eq!(round_trip(proxy.addr()).unwrap(), b"ping\r\n\r\n");
    assert!(t.elapsed() >= Duration::from_millis(200));

    proxy.set(Fault::Forward);
    assert_eq!(round_trip(proxy.addr()).unwrap(), b"ping\r\n\r\n");
}

#[test]
fn a_partition_cuts_connections_in_flight() {
    let proxy = Proxy::start(echo()).unwrap();
    let mut s = TcpStream::connect(proxy.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"a").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut buf).unwrap(), 1);
    proxy.set(Fault::Blackhole);
    let _ = s.write_all(b"b");
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
}
