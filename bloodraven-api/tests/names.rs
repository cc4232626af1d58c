//! `names` holds every metric, Event reason, label, annotation and finalizer the reference lists.

use std::collections::BTreeSet;

use bloodraven_api::names::{annotation, event, finalizer, label, metric, taint};

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/spec/reference-api.md"
);

/// The text of the reference section starting at `heading` up to the next `## `.
fn section(heading: &str) -> String {
    let text = std::fs::read_to_string(REFERENCE).unwrap();
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no section {heading}"));
    let rest = &text[start + heading.len()..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
}

/// Backticked tokens of a text.
fn ticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metric_of_the_reference() {
    let listed: BTreeSet<String> = section("## 12. Prometheus metrics")
        .lines()
        .filter(|l| l.starts_with("| `bloodraven_"))
        .map(|l| ticked(l).remove(0))
        .collect();
    assert!(listed.len() > 50, "{listed:?}");
    let ours: BTreeSet<String> = metric::ALL
        .iter()
        .filter(|m| !metric::ADDITIONS.contains(m))
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ours, listed);
    assert!(metric::ADDITIONS.iter().all(|m| metric::ALL.contains(m)));
}

#[test]
fn every_event_reason_of_the_reference() {
    let text = section("## 11. Kubernetes Event reasons");
    let listed: BTreeSet<String> = ticked(&text).into_iter().collect();
    assert!(listed.len() > 60, "{listed:?}");
    let ours: BTreeSet<String> = event::ALL
        .iter()
        .filter(|r| !event::ADDITIONS.contains(r))
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ours, listed);
    assert!(event::ADDITIONS.iter().all(|r| event::ALL.contains(r)));
    // Reasons the reference marks (W) are warnings.
    for line in text.lines() {
        for part in line.split(',') {
            if part.contains("(W)") {
                let reason = ticked(part).pop().unwrap();
                assert!(
                    event::WARNINGS.contains(&reason.as_str()),
                    "{reason} is a Warning"
                );
            }
        }
    }
}

#[test]
fn every_label_annotation_finalizer_and_taint_of_the_reference() {
    let labels: BTreeSet<String> = section("## 9. Labels stamped by the operator")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| ticked(l).remove(0))
        .collect();
    let ours: BTreeSet<String> = label::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(ours, labels);

    let annotations: BTreeSet<String> = section("## 8. Annotations")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| ticked(l).remove(0))
        .collect();
    let ours: BTreeSet<String> = annotation::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(ours, annotations);

    let text = section("## 10. Finalizers");
    let paragraph = &text[..text.find("Leader-election").unwrap()];
    let finalizers: BTreeSet<String> = ticked(paragraph)
        .into_iter()
        .filter(|t| t.starts_with("shipstream.io/"))
        .collect();
    assert!(text.contains(&format!(
        "Leader-election ID: `{}`",
        bloodraven_api::names::LEADER_ELECTION_ID
    )));
    let ours: BTreeSet<String> = finalizer::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(ours, finalizers);

    let taint_line = section("## 9. Labels stamped by the operator");
    assert!(taint_line.contains(&format!("key `{}`", taint::key("<group>"))));
    assert!(taint_line.contains(&format!(
        "value `{}`, effect `{}`",
        taint::VALUE,
        taint::EFFECT
    )));
}
