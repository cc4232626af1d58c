//! Every `bloodraven-backup …` command the user docs and the README show is one the binary accepts (see
//! `bloodraven_test_support::docs`).

#[test]
fn every_documented_bloodraven_backup_command_parses() {
    let n = bloodraven_test_support::docs::check(
        "bloodraven-backup",
        env!("CARGO_BIN_EXE_bloodraven-backup"),
    );
    assert!(
        n >= 3,
        "only {n} bloodraven-backup commands found in the docs"
    );
}
