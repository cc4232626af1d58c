//! The `gtid` binary: output forms, standard input, exit statuses, one-line errors, and help examples that
//! actually hold.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const V: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

fn gtid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gtid"))
        .args(args)
        .output()
        .expect("run gtid")
}

fn gtid_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gtid"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gtid");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for gtid")
}

fn stdout(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

/// Asserts exit status 2 and a single `error: ...` line; returns that line.
fn error_line(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr.clone()).expect("utf-8 stderr");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.ends_with('\n') && stderr.lines().count() == 1,
        "not one line: {stderr:?}"
    );
    stderr.trim_end().to_owned()
}

#[test]
fn sets_print_canonical_compact_or_json() {
    let input = format!("{V}:5, {U}:3-4:1-2:T1:9");
    assert_eq!(
        stdout(&gtid(&["normalize", &input])),
        format!("{U}:1-4:t1:9,\n{V}:5\n")
    );
    assert_eq!(
        stdout(&gtid(&["normalize", "--compact", &input])),
        format!("{U}:1-4:t1:9,{V}:5\n")
    );
    assert_eq!(
        stdout(&gtid(&["--json", "normalize", &input])),
        format!("{{\"set\":\"{U}:1-4:t1:9,{V}:5\"}}\n")
    );
    assert_eq!(stdout(&gtid(&["normalize", ""])), "\n");
    assert_eq!(
        stdout(&gtid(&[
            "union",
            &format!("{U}:1"),
            &format!("{U}:2"),
            &format!("{U}:3")
        ])),
        format!("{U}:1-3\n")
    );
}

#[test]
fn answers_print_in_text_and_json_and_false_exits_zero() {
    let (a, b) = (format!("{U}:1-10"), format!("{U}:5-20"));
    assert_eq!(stdout(&gtid(&["subset", &a, &b])), "false\n");
    assert_eq!(
        stdout(&gtid(&["--json", "subset", &a, &b])),
        "{\"result\":false}\n"
    );
    assert_eq!(stdout(&gtid(&["disjoint", &a, &b])), "false\n");
    assert_eq!(stdout(&gtid(&["equal", &a, &a])), "true\n");
    assert_eq!(stdout(&gtid(&["compare", &a, &b])), "incomparable\n");
    assert_eq!(
        stdout(&gtid(&["compare", "--json", "", &b])),
        "{\"relation\":\"subset\"}\n"
    );
    assert_eq!(
        stdout(&gtid(&[
            "count",
            "--json",
            &format!("{U}:1-9223372036854775806,{V}:1-9223372036854775806")
        ])),
        "{\"count\":18446744073709551612}\n"
    );
    assert_eq!(
        stdout(&gtid(&["contains", &a, &format!("{U}:11")])),
        "false\n"
    );
    assert_eq!(stdout(&gtid(&["intersect", &a, &b])), format!("{U}:5-10\n"));
    assert_eq!(stdout(&gtid(&["subtract", &a, &b])), format!("{U}:1-4\n"));
}

#[test]
fn dash_reads_standard_input() {
    let out = gtid_stdin(
        &["subtract", "-", &format!("{U}:1-5")],
        &format!("{U}:1-10,\n{V}:1\n"),
    );
    assert_eq!(stdout(&out), format!("{U}:6-10,\n{V}:1\n"));
    let out = gtid_stdin(&["decode", "-"], "00000000 00000000\n");
    assert_eq!(stdout(&out), "\n");
    let line = error_line(&gtid_stdin(&["union", "-", "-"], ""));
    assert!(line.contains("only one argument may be '-'"), "{line}");
}

#[test]
fn bad_input_is_one_line_with_the_byte_offset() {
    let line = error_line(&gtid(&["normalize", &format!("{U}:1:")]));
    assert!(
        line.contains("at byte 39") && line.contains("expected a tag or a gno"),
        "{line}"
    );
    let line = error_line(&gtid(&["subtract", &format!("{U}:1"), &format!("{U}:0")]));
    assert!(
        line.starts_with("error: B ") && line.contains("out of range"),
        "{line}"
    );
    let line = error_line(&gtid(&["contains", &format!("{U}:1"), "nope"]));
    assert!(line.contains("GTID"), "{line}");
    let line = error_line(&gtid(&["decode", "01zz"]));
    assert!(line.contains("at byte 2"), "{line}");
    let line = error_line(&gtid(&["decode", "0100000000000000"]));
    assert!(line.contains("truncated"), "{line}");
    let line = error_line(&gtid(&["frobnicate"]));
    assert!(line.contains("frobnicate"), "{line}");
    error_line(&gtid(&["union", &format!("{U}:1")]));
    error_line(&gtid(&["normalize", "--compact", "--json", ""]));
}

#[test]
fn encode_uses_the_tagged_format_only_with_tags() {
    let untagged = stdout(&gtid(&["encode", &format!("{U}:1-2")]));
    assert!(untagged.starts_with("0100000000000000"), "{untagged}");
    let tagged = stdout(&gtid(&["encode", &format!("{U}:1-2:t:1")]));
    assert!(tagged.starts_with("0102000000000001"), "{tagged}");
    assert_eq!(
        stdout(&gtid(&["decode", tagged.trim()])),
        format!("{U}:1-2:t:1\n")
    );
}

#[test]
fn help_lists_every_command() {
    let help = stdout(&gtid(&["--help"]));
    for cmd in COMMANDS {
        assert!(help.contains(&format!("\n  {cmd} ")), "--help lacks {cmd}");
    }
}

const COMMANDS: [&str; 12] = [
    "normalize",
    "union",
    "subtract",
    "intersect",
    "subset",
    "equal",
    "disjoint",
    "compare",
    "count",
    "contains",
    "encode",
    "decode",
];

/// Every `gtid <command> --help` shows an example; running it must print exactly what the help claims.
#[test]
fn every_help_example_holds() {
    for cmd in COMMANDS {
        let help = stdout(&gtid(&[cmd, "--help"]));
        let lines: Vec<&str> = help.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.trim_start().starts_with("$ gtid "))
            .unwrap_or_else(|| {
                panic!("`gtid {cmd} --help` has no example:\n{help}");
            });
        // The command, possibly continued with trailing backslashes.
        let mut words = Vec::new();
        let mut i = start;
        loop {
            let line = lines[i].trim();
            let line = line.strip_prefix("$ ").unwrap_or(line);
            let continued = line.ends_with('\\');
            words.extend(
                line.trim_end_matches('\\')
                    .split_whitespace()
                    .map(|w| w.trim_matches('\'').to_owned()),
            );
            i += 1;
            if !continued {
                break;
            }
        }
        let expected: Vec<&str> = lines[i..]
            .iter()
            .take_while(|l| !l.trim().is_empty())
            .map(|l| l.trim())
            .collect();
        assert_eq!(words[0], "gtid");
        assert_eq!(words[1], cmd);
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let got = stdout(&gtid(&args));
        assert_eq!(
            got.lines().collect::<Vec<_>>(),
            expected,
            "example of `gtid {cmd}`"
        );
    }
}
