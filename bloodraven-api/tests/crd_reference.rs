//! `docs/crd-reference.md` is the output of `bloodraven-api crd-reference` (the schemas' documentation cannot
//! drift from the types).

#[test]
fn docs_crd_reference_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/crd-reference.md");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = bloodraven_api::reference::markdown().unwrap();
    assert!(
        committed == generated,
        "docs/crd-reference.md is stale: regenerate with `cargo run -p bloodraven-api -- crd-reference > docs/crd-reference.md`"
    );
}
