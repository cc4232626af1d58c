//! Conformance: every case of `shared/fixtures/gtid/cases.jsonl`, through the library and through the `gtid` CLI.
//!
//! Where a case is marked `flavor: go-mysql`, the MySQL server's behaviour (`mysql_expect`) is the expectation.

use std::process::Command;

use bloodraven_gtid::{
    EncodingFormat, Gtid, GtidSet, MariadbGtid, MariadbGtidList, ServerUuid, Tag,
};
use serde_json::{Value, json};

const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/gtid/cases.jsonl"
);

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(CASES).expect("read cases.jsonl");
    let cases: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("case is JSON"))
        .collect();
    assert_eq!(cases.len(), 145, "the README promises 145 cases");
    cases
}

/// The expectation under MySQL semantics.
fn expectation(case: &Value) -> &Value {
    if case["flavor"] == "go-mysql" {
        &case["mysql_expect"]
    } else {
        &case["expect"]
    }
}

fn s<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("{}: field {field} is not a string", case["id"]))
}

fn set(case: &Value, field: &str) -> Result<GtidSet, String> {
    GtidSet::parse(s(case, field)).map_err(|e| e.to_string())
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex in fixture"))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs one case through the library; returns the result in the fixture's JSON shape ("error" on error).
fn run_library(case: &Value) -> Value {
    let text = |r: Result<GtidSet, String>| r.map_or(json!("error"), |set| json!(set.to_string()));
    let two = |f: fn(&GtidSet, &GtidSet) -> Value| match (set(case, "a"), set(case, "b")) {
        (Ok(a), Ok(b)) => f(&a, &b),
        _ => json!("error"),
    };
    let mariadb_list = |field| s(case, field).parse::<MariadbGtidList>();
    match s(case, "op") {
        "parse" => text(set(case, "input")),
        "union" => two(|a, b| json!(a.union(b).to_string())),
        "subtract" => two(|a, b| json!(a.difference(b).to_string())),
        "intersection" => two(|a, b| json!(a.intersection(b).to_string())),
        "symmetric_difference" => two(|a, b| json!(a.symmetric_difference(b).to_string())),
        "subset" => two(|a, b| json!(a.is_subset(b))),
        "proper_subset" => two(|a, b| json!(a.is_subset(b) && a != b)),
        "equal" => two(|a, b| json!(a == b)),
        "disjoint" => two(|a, b| json!(a.is_disjoint(b))),
        "disjoint_union" => match (set(case, "a"), set(case, "b"), set(case, "sum")) {
            (Ok(a), Ok(b), Ok(sum)) => json!(a.is_disjoint(&b) && a.union(&b) == sum),
            _ => json!("error"),
        },
        "count" => set(case, "input").map_or(json!("error"), |set| json!(set.count() as u64)),
        "subtract_uuid" | "intersection_with_uuid" => {
            let uuid: ServerUuid = s(case, "uuid").parse().expect("uuid in fixture");
            match set(case, "a") {
                Ok(a) if case["op"] == "subtract_uuid" => json!(a.without_uuid(uuid).to_string()),
                Ok(a) => json!(a.project(uuid).to_string()),
                Err(_) => json!("error"),
            }
        }
        "contains_gtid" => match (set(case, "set"), s(case, "gtid").parse::<Gtid>()) {
            (Ok(set), Ok(gtid)) => json!(set.contains(&gtid)),
            _ => json!("error"),
        },
        "parse_tag" => Tag::parse(s(case, "input")).map_or(json!("error"), |t| json!(t.as_str())),
        "encode" => set(case, "input").map_or(json!("error"), |set| json!(to_hex(&set.encode()))),
        "decode" => text(GtidSet::decode(&hex(s(case, "hex"))).map_err(|e| e.to_string())),
        "decode_nsids" => match GtidSet::decode_header(&hex(s(case, "hex"))) {
            Ok((format, n)) => {
                let format = if format == EncodingFormat::Tagged {
                    "tagged"
                } else {
                    "untagged"
                };
                json!({ "format": format, "n_sids": n })
            }
            Err(_) => json!("error"),
        },
        "roundtrip_binary" => match set(case, "input") {
            Ok(set) => text(GtidSet::decode(&set.encode()).map_err(|e| e.to_string())),
            Err(_) => json!("error"),
        },
        // A single MariaDB GTID; the empty text is the empty position, which this crate models as an
        // empty `MariadbGtidList`.
        "mariadb_parse_gtid" => match s(case, "input") {
            "" => mariadb_list("input").map_or(json!("error"), |l| json!(l.to_string())),
            input => input
                .parse::<MariadbGtid>()
                .map_or(json!("error"), |g| json!(g.to_string())),
        },
        "mariadb_gtid_contains" => match (mariadb_list("a"), mariadb_list("b")) {
            (Ok(a), Ok(b)) if a.len() <= 1 && b.len() <= 1 => json!(a.contains(&b)),
            _ => json!("error"),
        },
        "mariadb_parse_set" => {
            mariadb_list("input").map_or(json!("error"), |l| json!(l.to_string()))
        }
        "mariadb_set_equal" => match (mariadb_list("a"), mariadb_list("b")) {
            (Ok(a), Ok(b)) => json!(a == b),
            _ => json!("error"),
        },
        "mariadb_set_contains" => match (mariadb_list("a"), mariadb_list("b")) {
            (Ok(a), Ok(b)) => json!(a.contains(&b)),
            _ => json!("error"),
        },
        "mariadb_set_update" => match (mariadb_list("a"), mariadb_list("b")) {
            (Ok(mut a), Ok(b)) => {
                a.update(&b);
                json!(a.to_string())
            }
            _ => json!("error"),
        },
        other => panic!(
            "{}: op {other:?} has no mapping onto the library; add one",
            case["id"]
        ),
    }
}

#[test]
fn every_case_passes_through_the_library() {
    let mut failures = Vec::new();
    for case in cases() {
        let got = run_library(&case);
        if &got != expectation(&case) {
            failures.push(format!(
                "{}: {} expected {}, got {got}",
                case["id"],
                case["op"],
                expectation(&case)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The CLI arguments for a case, when the op maps onto a `gtid` command.
fn cli_args(case: &Value) -> Option<Vec<String>> {
    let arg = |field: &str| case[field].as_str().map(str::to_owned);
    let two = |cmd: &str| Some(vec![cmd.to_owned(), arg("a")?, arg("b")?]);
    match case["op"].as_str()? {
        "parse" => Some(vec!["normalize".to_owned(), arg("input")?]),
        "union" => two("union"),
        "subtract" => two("subtract"),
        "intersection" => two("intersect"),
        "subset" => two("subset"),
        "equal" => two("equal"),
        "disjoint" => two("disjoint"),
        "count" => Some(vec!["count".to_owned(), arg("input")?]),
        "contains_gtid" => Some(vec!["contains".to_owned(), arg("set")?, arg("gtid")?]),
        "encode" => Some(vec!["encode".to_owned(), arg("input")?]),
        "decode" => Some(vec!["decode".to_owned(), arg("hex")?]),
        _ => None,
    }
}

#[test]
fn every_set_case_passes_through_the_cli() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases() {
        let Some(args) = cli_args(&case) else {
            continue;
        };
        ran += 1;
        let out = Command::new(env!("CARGO_BIN_EXE_gtid"))
            .args(&args)
            .output()
            .expect("run gtid");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = expectation(&case);
        let ok = if expected == "error" {
            out.status.code() == Some(2)
                && stdout.is_empty()
                && stderr.starts_with("error: ")
                && stderr.trim_end().lines().count() == 1
        } else {
            let want = match expected {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            out.status.code() == Some(0) && stdout == format!("{want}\n") && stderr.is_empty()
        };
        if !ok {
            failures.push(format!(
                "{}: gtid {args:?} -> status {:?}, stdout {stdout:?}, stderr {stderr:?}; expected {expected}",
                case["id"],
                out.status.code()
            ));
        }
    }
    assert!(ran >= 70, "only {ran} cases map onto the CLI");
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
