//! Unit tests of the configuration: defaults, clamping, Go durations, refusals and secrets.

use super::*;

fn flags(args: &[&str]) -> Flags {
    let mut all = vec!["bloodraven-sidecar", "--mysql-user", "root"];
    all.extend_from_slice(args);
    Flags::try_parse_from(all).unwrap()
}

#[test]
fn defaults_match_the_reference() {
    let c = Config::resolve(&flags(&[])).unwrap();
    assert_eq!(c.lease_timeout, Duration::from_secs(20));
    assert_eq!(c.peer_check_interval, Duration::from_secs(5));
    assert_eq!(c.listen_addr, "0.0.0.0:8080");
    assert_eq!(c.mysql.host, "127.0.0.1");
    assert_eq!(c.mysql.port, 3306);
    assert!(c.pitr.is_none());
    assert!(c.topology.is_none());
    assert!(c.peers.is_empty());
}

#[test]
fn clamping_follows_the_cel_rules() {
    let s = Duration::from_secs;
    assert_eq!(clamp(Duration::from_millis(200), s(1)), (s(1), s(3)));
    assert_eq!(clamp(s(5), s(10)), (s(5), s(15)));
    assert_eq!(clamp(s(1), s(3)), (s(1), s(3)));
    assert_eq!(clamp(s(2), s(60)), (s(2), s(60)));
    let c = Config::resolve(&flags(&[
        "--lease-timeout",
        "1s",
        "--peer-check-interval",
        "2s",
    ]))
    .unwrap();
    assert_eq!((c.peer_check_interval, c.lease_timeout), (s(2), s(6)));
}

#[test]
fn go_durations_parse() {
    let d = parse_go_duration;
    assert_eq!(d("20s"), Some(Duration::from_secs(20)));
    assert_eq!(d("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(d("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(d("1.5h"), Some(Duration::from_secs(5400)));
    assert_eq!(d("0"), Some(Duration::ZERO));
    for bad in ["", "20", "s", "-5s", "1x", "1..2s", "abc"] {
        assert_eq!(d(bad), None, "{bad}");
    }
}

#[test]
fn invalid_values_name_the_variable_and_the_form() {
    let e = Config::resolve(&flags(&["--lease-timeout", "twenty"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid LEASE_TIMEOUT (--lease-timeout) \"twenty\": expected a Go duration such as 20s, 1m30s or 500ms"
    );
    let e = Config::resolve(&flags(&["--listen-addr", "8080"])).unwrap_err();
    assert!(e.to_string().contains("LISTEN_ADDR"), "{e}");
    let e = Config::resolve(&flags(&[
        "--pitr-enabled",
        "1",
        "--pitr-storage-type",
        "GCS",
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("expected S3 or PVC"), "{e}");
    let e = Config::resolve(&flags(&["--pitr-enabled", "maybe"])).unwrap_err();
    assert!(e.to_string().contains("BLOODRAVEN_PITR_ENABLED"), "{e}");
}

#[test]
fn dsn_forms_and_the_password_is_never_printed() {
    let c = Config::resolve(&flags(&[
        "--mysql-dsn",
        "op:s3cret@tcp(10.0.0.1:3307)/?timeout=5s",
    ]))
    .unwrap();
    assert_eq!(
        (c.mysql.host.as_str(), c.mysql.port, c.mysql.user.as_str()),
        ("10.0.0.1", 3307, "op")
    );
    assert_eq!(c.mysql.password, "s3cret");
    assert!(!format!("{c:?}").contains("s3cret"));
    let f = flags(&[
        "--mysql-dsn",
        "op:s3cret@tcp(h:1)/",
        "--mysql-password",
        "s3cret",
    ]);
    assert!(!format!("{f:?}").contains("s3cret"));
    let c = Config::resolve(&flags(&["--mysql-dsn", "mysql://root@127.0.0.1:4000/"])).unwrap();
    assert_eq!((c.mysql.port, c.mysql.password.as_str()), (4000, ""));
    let e = Config::resolve(&flags(&["--mysql-dsn", "op:s3cret@unix(/x)/"])).unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[test]
fn peers_topology_and_pitr() {
    let c = Config::resolve(&flags(&[
        "--peer-addresses",
        "a:8080, ,b:8080,",
        "--peer-address",
        "legacy:8080",
        "--site",
        "iad",
        "--namespace",
        "db",
        "--group",
        "orders",
        "--pitr-enabled",
        "true",
        "--pitr-storage-type",
        "s3",
        "--pitr-s3-bucket",
        "b",
    ]))
    .unwrap();
    assert_eq!(c.peers, ["a:8080", "b:8080"]);
    assert_eq!(c.topology.unwrap().site, "iad");
    let p = c.pitr.unwrap();
    assert_eq!(p.storage.kind(), "S3");
    assert_eq!(p.poll_interval, Duration::from_secs(60));
    assert_eq!(p.retention_interval, Duration::from_secs(3600));
    assert_eq!(p.binlog_index, "mysql-bin.index");
    let c = Config::resolve(&flags(&["--peer-address", "legacy:8080", "--site", "iad"])).unwrap();
    assert_eq!(c.peers, ["legacy:8080"]);
    assert!(c.topology.is_none());
    assert!(
        Config::resolve(&flags(&["--pitr-enabled", "0"]))
            .unwrap()
            .pitr
            .is_none()
    );
}
