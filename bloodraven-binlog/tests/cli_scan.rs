//! The `bloodraven-binlog scan` and `events` commands, run as a user would.
#![cfg(feature = "cli")]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/binlog"
    ))
    .join(name);
    path.to_string_lossy().into_owned()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bloodraven-binlog"))
        .args(args)
        .output()
        .unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn scan_json_prints_one_object_per_file_with_the_documented_keys() {
    let mysql = fixture("percona-binlog-server/binlog.000002");
    let first = fixture("percona-binlog-server/binlog.000001");
    let mariadb = fixture("zalora-binlog-parser/mysql-bin.07");
    let old = fixture("rust_mysql_common/ver_trunk_row_v2.001");
    let output = run(&["scan", "--json", &mysql, &first, &mariadb, &old]);
    assert!(output.status.success(), "{output:?}");
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 4);

    let uuid = "396e294c-1ca4-11f1-9ae7-00155da79c6b";
    let m = &lines[0];
    assert_eq!(m["file"], mysql.as_str());
    assert_eq!(m["server_version"], "8.0.45");
    assert_eq!(m["flavor"], "mysql");
    assert_eq!(m["checksum"], "crc32");
    assert_eq!(m["in_use"], false);
    assert_eq!(m["events"], 13);
    assert_eq!(m["previous_gtids"], format!("{uuid}:1-4"));
    assert_eq!(m["gtids"], format!("{uuid}:5-6"));
    assert_eq!(m["end_gtids"], format!("{uuid}:1-6"));
    assert_eq!(m["mariadb_gtids"], serde_json::json!([]));
    assert_eq!(m["mariadb_gtid_list"], Value::Null);
    assert_eq!(m["first_event_time"], "2026-03-10T17:11:54Z");
    assert_eq!(m["last_event_time"], "2026-03-10T17:11:56Z");
    assert_eq!(m["terminal"], "stop");
    assert_eq!(m["next_file"], Value::Null);
    assert_eq!(m["size"], 847);

    // An empty PREVIOUS_GTIDS is "", a rotation names the next file.
    assert_eq!(lines[1]["previous_gtids"], "");
    assert_eq!(lines[1]["terminal"], "rotate");
    assert_eq!(lines[1]["next_file"], "binlog.000002");

    // MariaDB: no PREVIOUS_GTIDS event, so null; the contained MySQL GTID set is still "".
    let d = &lines[2];
    assert_eq!(d["flavor"], "mariadb");
    assert_eq!(d["checksum"], "off");
    assert_eq!(d["in_use"], true);
    assert_eq!(d["previous_gtids"], Value::Null);
    assert_eq!(d["end_gtids"], Value::Null);
    assert_eq!(d["gtids"], "");
    assert_eq!(
        d["mariadb_gtids"],
        serde_json::json!(["0-3704-2815", "0-3704-2816"])
    );
    assert_eq!(d["mariadb_gtid_list"], "0-3704-2814");
    assert_eq!(d["terminal"], Value::Null);

    // A 5.6.4 server without GTIDs.
    assert_eq!(lines[3]["previous_gtids"], Value::Null);
    assert_eq!(lines[3]["checksum"], "off");
}

#[test]
fn scan_reports_bad_files_after_the_good_ones_and_exits_1() {
    let good = fixture("rust_mysql_common/master-bin.000001");
    let truncated = fixture("rust_mysql_common/binlog_truncated_event.000001");
    let corrupt = fixture("rust_mysql_common/corrupt-relay-bin.000624");
    let output = run(&["scan", "--json", &truncated, &good, &corrupt]);
    assert_eq!(output.status.code(), Some(1));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["file"], good.as_str());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let errors: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        errors,
        [
            format!(
                "error: {truncated}: truncated FORMAT_DESCRIPTION event header (10 of 19 bytes) at offset 4"
            ),
            format!(
                "error: {corrupt}: QUERY event: the status variables (16949 bytes at body offset 13) runs past the end of \
                 the 152-byte body at offset 91204"
            ),
        ]
    );
}

#[test]
fn scan_text_summary() {
    let output = run(&[
        "scan",
        &fixture("rust_mysql_common/binlog_transaction_with_GTID_TAG.000001"),
    ]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("  server:            9.6.0 (mysql)\n"),
        "{text}"
    );
    assert!(
        text.contains("  gtids:             55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3\n"),
        "{text}"
    );
    assert!(
        text.contains("  terminal:          rotate to binlog.000005\n"),
        "{text}"
    );
}

#[test]
fn events_lists_offset_type_time_server_size_and_gtid() {
    let file = fixture("percona-binlog-server/binlog.000002");
    let output = run(&["events", &file]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13);
    let cols: Vec<&str> = lines[2].split_whitespace().collect();
    // Magic (4) + FORMAT_DESCRIPTION (122) + PREVIOUS_GTIDS (71); `mariadb-binlog` prints "# at 197" too.
    assert_eq!(
        cols,
        [
            "197",
            "GTID",
            "2026-03-10T17:11:54Z",
            "1",
            "79",
            "396e294c-1ca4-11f1-9ae7-00155da79c6b:5"
        ]
    );
    let cols: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(cols[..2], ["4", "FORMAT_DESCRIPTION"]);

    let output = run(&["events", "--json", &file]);
    let events = json_lines(&output);
    assert_eq!(events.len(), 13);
    assert_eq!(events[12]["type"], "STOP");
    assert_eq!(
        events[12]["offset"],
        847 - events[12]["size"].as_u64().unwrap()
    );
    assert_eq!(events[12]["gtid"], Value::Null);

    // A damaged file: the events before the fault, then the error.
    let bad = fixture("rust_mysql_common/binlog_truncated_prev_gtid_event.000001");
    let output = run(&["events", &bad]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 1);
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "error: {bad}: truncated PREVIOUS_GTIDS event header (9 of 19 bytes) at offset 120\n"
        )
    );
}
