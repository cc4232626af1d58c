//! Every `bloodraven-binlog …` command the user docs and the README show is one the binary accepts (see
//! `bloodraven_test_support::docs`).

#[test]
fn every_documented_bloodraven_binlog_command_parses() {
    let n = bloodraven_test_support::docs::check(
        "bloodraven-binlog",
        env!("CARGO_BIN_EXE_bloodraven-binlog"),
    );
    assert!(
        n >= 3,
        "only {n} bloodraven-binlog commands found in the docs"
    );
}
