//! The auxiliary server's `/ws/status` WebSocket on a real socket (reference-api.md §13.2): a TopologyMessage per
//! group on connect and after every poll, the client limit (429) and the origin check (403), spoken by a minimal
//! hand-written WebSocket client so the test depends on nothing but the standard library.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use bloodraven_operator::engine::{Config, Engine, Role, SiteConfig};
use bloodraven_operator::http::{GroupView, Topology, WsPolicy, aux_router_with};
use bloodraven_operator::record::Record;
use bloodraven_operator::site::{Flavor, GtidState, Probe};
use serde_json::Value;

const ORIGIN: &str = "http://dashboard.example";

fn view(writable: usize) -> GroupView {
    let config = Config::new(
        "orders",
        vec![
            SiteConfig::new("iad", Role::PrimaryCandidate, "iad.db"),
            SiteConfig::new("pdx", Role::PrimaryCandidate, "pdx.db"),
        ],
    );
    let mut engine = Engine::new(config.clone(), Record::default());
    let set = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10";
    let probe = |read_only: bool| {
        Some(Probe {
            read_only,
            super_read_only: Some(read_only),
            server_id: String::new(),
            version: "8.4.3".into(),
            flavor: Flavor::Mysql,
            executed: GtidState::Mysql(set.parse().unwrap()),
            replica: None,
        })
    };
    let mut decision = None;
    for t in [0, 2] {
        decision = Some(engine.step(
            Duration::from_secs(t),
            vec![probe(writable != 0), probe(writable != 1)],
            vec![],
        ));
    }
    GroupView {
        roles: config.sites.iter().map(|s| s.role).collect(),
        status: decision.unwrap().status,
        poll_time: Duration::from_secs(1_800_000_000),
    }
}

/// Serves the aux router on its own thread; returns the address.
fn serve(topology: Topology, policy: WsPolicy) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, aux_router_with(topology, policy))
                .await
                .unwrap();
        });
    });
    addr
}

/// Sends the upgrade request; returns the status code and, on 101, the open stream.
fn connect(addr: std::net::SocketAddr, origin: Option<&str>) -> (u16, BufReader<TcpStream>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET /ws/status HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let code: u16 = status.split_whitespace().nth(1).unwrap().parse().unwrap();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    (code, reader)
}

/// Reads one unmasked text frame from the server.
fn frame(reader: &mut BufReader<TcpStream>) -> Value {
    let mut head = [0u8; 2];
    reader.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0x81, "a final text frame");
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            reader.read_exact(&mut b).unwrap();
            u64::from(u16::from_be_bytes(b))
        }
        127 => {
            let mut b = [0u8; 8];
            reader.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    reader.read_exact(&mut payload).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn ws_status_pushes_a_topology_message_per_poll_and_enforces_its_policy() {
    let topology = Topology::new();
    topology.publish("shop", "orders", view(0));
    let addr = serve(
        topology.clone(),
        WsPolicy {
            max_clients: 1,
            allowed_origins: Some(vec![ORIGIN.to_owned()]),
        },
    );

    let (code, mut ws) = connect(addr, Some(ORIGIN));
    assert_eq!(code, 101);
    let first = frame(&mut ws);
    assert_eq!(first["namespace"], "shop");
    assert_eq!(first["group"], "orders");
    assert_eq!(first["activeSite"], "iad");
    assert_eq!(first["sites"][0]["name"], "iad");
    assert_eq!(first["sites"][0]["state"], "writable");
    assert_eq!(first["sites"][0]["role"], "primary-candidate");
    assert_eq!(
        first["sites"][0]["gtidExecuted"],
        "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10"
    );
    assert_eq!(first["sites"][1]["replicating"], false);
    assert!(
        first["pollTime"].as_str().unwrap().ends_with('Z'),
        "{first}"
    );

    // The next poll is pushed without asking.
    topology.publish("shop", "orders", view(1));
    assert_eq!(frame(&mut ws)["activeSite"], "pdx");

    // One client allowed: the second is refused; foreign and missing origins are refused.
    assert_eq!(connect(addr, Some(ORIGIN)).0, 429);
    assert_eq!(connect(addr, Some("http://elsewhere.example")).0, 403);
    assert_eq!(connect(addr, None).0, 403);

    // Once the first client goes away its slot is free again.
    drop(ws);
    let mut code = 0;
    for _ in 0..200 {
        code = connect(addr, Some(ORIGIN)).0;
        if code == 101 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(code, 101, "the slot of a closed connection is released");
    assert_eq!(topology.ws_clients(), 1);
}
