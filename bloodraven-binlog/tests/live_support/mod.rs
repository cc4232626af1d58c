//! Helpers shared by the live PITR tests: SQL on a test server, dumps and loads, and replay of planned files
//! with `mariadb-binlog | mariadb`.

use std::path::Path;
use std::process::{Command, Stdio};

use bloodraven_binlog::pitr::Plan;
use bloodraven_test_support::mariadb::MariaDb;

/// Runs `q` on `db`, panicking with the server's error log on failure.
pub(crate) fn sql(db: &MariaDb, q: &str) -> String {
    db.sql(q)
        .unwrap_or_else(|e| panic!("{q}: {e}\n{}", db.error_log()))
}

/// Inserts `n` rows tagged `tag` into `d.t`, one transaction each.
pub(crate) fn write_rows(db: &MariaDb, tag: &str, n: usize) {
    let stmts: Vec<_> = (0..n)
        .map(|i| format!("INSERT INTO d.t (tag, v) VALUES ('{tag}', {i})"))
        .collect();
    sql(db, &stmts.join(";"));
}

/// Every row of `d.t`, in id order.
pub(crate) fn rows(db: &MariaDb) -> String {
    sql(db, "SELECT id, tag, v FROM d.t ORDER BY id")
}

/// `mariadb-dump --databases d` of `from`.
pub(crate) fn dump(from: &MariaDb) -> Vec<u8> {
    let out = Command::new("mariadb-dump")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &from.port().to_string(),
            "-u",
            "root",
        ])
        .args(["--databases", "d"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Loads `dump` into `into` without writing it to the binlog.
pub(crate) fn load(into: &MariaDb, dump: &[u8]) {
    let status = Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &into.port().to_string(),
            "-u",
            "root",
        ])
        .arg("--init-command=SET sql_log_bin = 0")
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(dump)?;
            child.wait()
        })
        .unwrap();
    assert!(status.success());
}

/// Replays downloaded files in plan order, one `mariadb-binlog` per file, into `target`.
pub(crate) fn replay(plan: &Plan, dir: &Path, target: &MariaDb) {
    for f in &plan.files {
        let args: Vec<_> = f.binlog_args().iter().map(|a| format!("'{a}'")).collect();
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; mariadb-binlog {} '{}' | mariadb --binary-mode -h 127.0.0.1 -P {} -u root",
                args.join(" "),
                f.local_path(dir).display(),
                target.port()
            ))
            .env("TZ", "UTC")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "replay of {} {:?} failed ({}): {} {}",
            f.file,
            f.binlog_args(),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
