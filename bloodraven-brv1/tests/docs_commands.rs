//! Every `brv1 …` command the user docs and the README show is one the binary accepts (see
//! `bloodraven_test_support::docs`).

#[test]
fn every_documented_brv1_command_parses() {
    let n = bloodraven_test_support::docs::check("brv1", env!("CARGO_BIN_EXE_brv1"));
    assert!(n >= 3, "only {n} brv1 commands found in the docs");
}
