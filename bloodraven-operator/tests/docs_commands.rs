//! Every `kubectl bloodraven …` and `bloodraven …` command the user docs and the README show is one the binaries
//! accept (see `bloodraven_test_support::docs`).

use std::process::Command;

use bloodraven_test_support::docs::{check, commands, words};

#[test]
fn every_documented_plugin_command_parses() {
    let n = check(
        "kubectl bloodraven",
        env!("CARGO_BIN_EXE_kubectl-bloodraven"),
    );
    assert!(n >= 20, "only {n} plugin commands found in the docs");
}

#[test]
fn every_documented_bloodraven_command_parses() {
    let n = check("bloodraven", env!("CARGO_BIN_EXE_bloodraven"));
    assert!(n >= 3, "only {n} bloodraven commands found in the docs");
}

#[test]
fn a_wrong_flag_in_a_document_would_be_caught() {
    let text = "```sh\nkubectl bloodraven promote orders pdx --max-lag 30s\n```\nand `kubectl bloodraven status orders`";
    let found = commands(text, "kubectl bloodraven");
    assert_eq!(
        found,
        vec![
            vec!["promote", "orders", "pdx", "--max-lag", "30s"],
            vec!["status", "orders"]
        ]
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-bloodraven"))
        .args(&found[0])
        .arg("--help")
        .output()
        .unwrap();
    assert!(!out.status.success(), "--max-lag is not a flag of promote");
    assert_eq!(
        words("pitr-plan orders --to '2026-12-07 10:00:00'"),
        vec!["pitr-plan", "orders", "--to", "2026-12-07 10:00:00"]
    );
}
