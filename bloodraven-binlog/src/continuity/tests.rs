//! Continuity over synthetic manifests: failovers, duplicates, gaps, chain breaks, both GTID flavours.

use super::*;
use crate::manifest::{Manifest, ManifestEntry, SiteName};

pub(crate) const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
pub(crate) const V: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

pub(crate) fn mysql_entry(name: &str, prev: &str, gtids: &str, first: i64) -> ManifestEntry {
    let p = History::parse(prev, "p").unwrap();
    let g = History::parse(gtids, "g").unwrap();
    ManifestEntry {
        name: name.into(),
        remote_path: format!("x/{name}"),
        previous_gtids: prev.into(),
        gtids: Some(gtids.into()),
        end_gtids: p.union(&g).mysql().to_compact_string(),
        first_event_time: chrono::DateTime::from_timestamp(first, 0),
        last_event_time: chrono::DateTime::from_timestamp(first + 59, 0),
        ..Default::default()
    }
}

pub(crate) fn manifest(site: &str, entries: Vec<ManifestEntry>) -> Manifest {
    let mut m = Manifest::new(&SiteName::parse(site).unwrap());
    for e in entries {
        m.upsert(e);
    }
    m
}

/// Site `a` was primary for U:1-30, then `b` (which replicated U) took over and wrote V:1-5.
pub(crate) fn failover_archive() -> Vec<Manifest> {
    vec![
        manifest(
            "a",
            vec![
                mysql_entry(
                    "mysql-bin.000001",
                    &format!("{U}:1-10"),
                    &format!("{U}:11-20"),
                    1000,
                ),
                mysql_entry(
                    "mysql-bin.000002",
                    &format!("{U}:1-20"),
                    &format!("{U}:21-30"),
                    2000,
                ),
            ],
        ),
        manifest(
            "b",
            vec![
                // Replica-era file: U's transactions again (log_slave_updates).
                mysql_entry(
                    "mysql-bin.000001",
                    &format!("{U}:1-15"),
                    &format!("{U}:16-30"),
                    1500,
                ),
                mysql_entry(
                    "mysql-bin.000002",
                    &format!("{U}:1-30"),
                    &format!("{V}:1-5"),
                    3000,
                ),
            ],
        ),
    ]
}

fn h(s: &str) -> History {
    History::parse(s, "test").unwrap()
}

#[test]
fn failover_history_is_gap_free_across_sites() {
    let report = check(&failover_archive(), &h(&format!("{U}:1-12"))).unwrap();
    assert!(report.gaps.is_empty(), "{:?}", report.gaps);
    assert!(report.chain_breaks.is_empty(), "{:?}", report.chain_breaks);
    assert_eq!(report.covered, h(&format!("{U}:1-30,{V}:1-5")));
    assert!(report.unreachable().is_empty());
    assert!(report.is_continuous());
}

#[test]
fn a_missing_file_is_a_precise_gap() {
    let mut archive = failover_archive();
    archive[0].files.remove(1); // a/mysql-bin.000002
    archive[1].files.remove(0); // b/mysql-bin.000001
    let report = check(&archive, &h(&format!("{U}:1-12"))).unwrap();
    assert_eq!(report.gaps.len(), 1);
    let gap = &report.gaps[0];
    assert_eq!(gap.missing, h(&format!("{U}:21-30")));
    assert_eq!(
        gap.after.as_ref().unwrap().to_string(),
        "a/mysql-bin.000001"
    );
    assert_eq!(gap.before.to_string(), "b/mysql-bin.000002");
    assert_eq!(
        gap.to_string(),
        format!("missing {U}:21-30 between a/mysql-bin.000001 and b/mysql-bin.000002")
    );
    assert_eq!(report.unreachable(), h(&format!("{U}:21-30,{V}:1-5")));
    assert!(!report.is_continuous());
}

#[test]
fn a_start_set_behind_the_archive_is_a_gap_after_the_start() {
    let report = check(&failover_archive(), &h(&format!("{U}:1-5"))).unwrap();
    let gap = &report.gaps[0];
    assert_eq!(gap.after, None);
    assert_eq!(gap.missing, h(&format!("{U}:6-10")));
    assert_eq!(gap.before.to_string(), "a/mysql-bin.000001");
}

#[test]
fn chain_breaks_name_both_files() {
    let archive = vec![manifest(
        "a",
        vec![
            mysql_entry(
                "mysql-bin.000001",
                &format!("{U}:1-10"),
                &format!("{U}:11-20"),
                1000,
            ),
            mysql_entry(
                "mysql-bin.000002",
                &format!("{U}:1-22"),
                &format!("{U}:23-30"),
                2000,
            ),
        ],
    )];
    let report = check(&archive, &h(&format!("{U}:1-10"))).unwrap();
    assert_eq!(report.chain_breaks.len(), 1);
    let b = &report.chain_breaks[0];
    assert_eq!(
        (b.before.name.as_str(), b.after.name.as_str()),
        ("mysql-bin.000001", "mysql-bin.000002")
    );
    assert_eq!(b.missing, h(&format!("{U}:21-22")));
    assert!(b.unexpected.is_empty());
    assert_eq!(report.gaps[0].missing, h(&format!("{U}:21-22")));
}

#[test]
fn mariadb_failover_continues_the_domain_sequence() {
    let entry = |name: &str, start: &str, end: &str| ManifestEntry {
        name: name.into(),
        mariadb_gtid_list: Some(start.into()),
        mariadb_end_gtid_list: Some(end.into()),
        ..Default::default()
    };
    let archive = vec![
        manifest(
            "a",
            vec![
                entry("mariadb-bin.000001", "", "0-1-10"),
                entry("mariadb-bin.000002", "0-1-10", "0-1-25"),
            ],
        ),
        manifest("b", vec![entry("mariadb-bin.000002", "0-1-25", "0-2-40")]),
    ];
    let report = check(&archive, &h("0-1-3")).unwrap();
    assert!(report.is_continuous(), "{report:?}");
    assert_eq!(report.covered, h("0-2-40"));
    let without_middle = vec![archive[0].clone(), archive[1].clone()]
        .into_iter()
        .map(|mut m| {
            m.files
                .retain(|e| !(m.site == "a" && e.name == "mariadb-bin.000002"));
            m
        })
        .collect::<Vec<_>>();
    let report = check(&without_middle, &h("0-1-3")).unwrap();
    assert_eq!(report.gaps[0].missing.to_string(), "domain 0 seq 11-25");
}

#[test]
fn go_written_entries_are_unverifiable() {
    let go = ManifestEntry {
        name: "mysql-bin.000009".into(),
        previous_gtids: format!("{U}:1-5"),
        ..Default::default()
    };
    let report = check(&[manifest("a", vec![go])], &History::new()).unwrap();
    assert_eq!(
        report.unverifiable,
        [FileRef {
            site: "a".into(),
            name: "mysql-bin.000009".into()
        }]
    );
    assert!(!report.is_continuous());
}

#[test]
fn bad_gtid_text_names_the_field() {
    let mut e = mysql_entry("f", &format!("{U}:1-5"), &format!("{U}:6"), 0);
    e.previous_gtids = "zz".into();
    let err = check(&[manifest("a", vec![e])], &History::new()).unwrap_err();
    assert!(err.to_string().contains("previousGtids"), "{err}");
}

#[test]
fn go_written_entries_take_their_end_from_the_next_file() {
    let go = |name: &str, prev: &str| ManifestEntry {
        name: name.into(),
        previous_gtids: prev.into(),
        ..Default::default()
    };
    let archive = [manifest(
        "a",
        vec![
            go("mysql-bin.000001", &format!("{U}:1-5")),
            go("mysql-bin.000002", &format!("{U}:1-9")),
            go("mysql-bin.000003", &format!("{U}:1-12")),
        ],
    )];
    let report = check(&archive, &h(&format!("{U}:1-5"))).unwrap();
    assert_eq!(report.covered, h(&format!("{U}:1-12")));
    assert!(report.gaps.is_empty());
    // The last file's end is unknown.
    assert_eq!(report.unverifiable.len(), 1);
    assert_eq!(report.unverifiable[0].name, "mysql-bin.000003");
}

#[test]
fn a_go_written_first_file_with_an_empty_previous_set_chains() {
    // Go omits `previousGtids` when it is empty: a server's first file.
    let go = |name: &str, prev: &str| ManifestEntry {
        name: name.into(),
        previous_gtids: prev.into(),
        ..Default::default()
    };
    let archive = [manifest(
        "a",
        vec![
            go("mysql-bin.000001", ""),
            go("mysql-bin.000002", &format!("{U}:1-4")),
        ],
    )];
    let report = check(&archive, &History::new()).unwrap();
    assert_eq!(report.covered, h(&format!("{U}:1-4")));
    assert!(report.gaps.is_empty(), "{:?}", report.gaps);
    assert_eq!(report.unverifiable.len(), 1);
    assert_eq!(report.unverifiable[0].name, "mysql-bin.000002");
}
