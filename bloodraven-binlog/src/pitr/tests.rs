//! Planner behaviour over synthetic manifests (the live test replays real files).

use chrono::DateTime;

use super::*;
use crate::continuity::tests::{U, V, failover_archive, manifest, mysql_entry};

fn h(s: &str) -> History {
    History::parse(s, "test").unwrap()
}

fn names(plan: &Plan) -> Vec<String> {
    plan.files.iter().map(|f| f.file.to_string()).collect()
}

#[test]
fn latest_follows_gtids_across_the_failover() {
    let plan = plan(
        &failover_archive(),
        &h(&format!("{U}:1-12")),
        &Target::Latest,
    )
    .unwrap();
    // a/000001 starts earliest; then b/000001 (previous U:1-15) ties with a/000002 by content but starts
    // earlier in history; b/000002 needs U:1-30 and comes last, even though its name sorts before a's.
    assert_eq!(
        names(&plan),
        [
            "a/mysql-bin.000001",
            "b/mysql-bin.000001",
            "b/mysql-bin.000002"
        ]
    );
    assert!(plan.is_complete(), "{plan:?}");
    assert_eq!(plan.recovered, h(&format!("{U}:1-30,{V}:1-5")));
    assert_eq!(plan.files[0].adds, h(&format!("{U}:13-20")));
    assert_eq!(plan.files[1].adds, h(&format!("{U}:21-30")));
    assert_eq!(
        plan.last_recoverable_time,
        DateTime::from_timestamp(3059, 0)
    );
    assert!(
        plan.files
            .iter()
            .all(|f| f.stop.is_none() && f.mariadb_start.is_none())
    );
}

#[test]
fn files_already_in_the_dump_are_skipped() {
    let plan = plan(
        &failover_archive(),
        &h(&format!("{U}:1-30")),
        &Target::Latest,
    )
    .unwrap();
    assert_eq!(names(&plan), ["b/mysql-bin.000002"]);
}

#[test]
fn time_target_stops_in_the_file_that_crosses_it() {
    let t = DateTime::from_timestamp(2030, 0).unwrap();
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
                &format!("{U}:1-20"),
                &format!("{U}:21-30"),
                2000,
            ),
            mysql_entry(
                "mysql-bin.000003",
                &format!("{U}:1-30"),
                &format!("{U}:31-40"),
                3000,
            ),
        ],
    )];
    let plan = plan(&archive, &h(&format!("{U}:1-10")), &Target::Time(t)).unwrap();
    assert_eq!(names(&plan), ["a/mysql-bin.000001", "a/mysql-bin.000002"]);
    assert_eq!(plan.files[1].stop, Some(Stop::Datetime(t)));
    assert_eq!(
        plan.files[1].binlog_args(),
        ["--stop-datetime=1970-01-01 00:33:50"]
    );
    assert_eq!(plan.last_recoverable_time, Some(t));
    assert!(plan.is_complete());
    // After the newest event: recover everything and say why the time itself is not reached.
    let late = DateTime::from_timestamp(9999, 0).unwrap();
    let plan = super::plan(&archive, &h(&format!("{U}:1-10")), &Target::Time(late)).unwrap();
    assert_eq!(plan.files.len(), 3);
    assert!(
        plan.unreachable
            .as_deref()
            .unwrap()
            .contains("after the newest archived event")
    );
}

#[test]
fn gtid_target_inclusive_and_exclusive() {
    let start = h(&format!("{U}:1-12"));
    let incl = Target::Gtids {
        set: h(&format!("{U}:25")),
        inclusive: true,
    };
    let plan = plan(&failover_archive(), &start, &incl).unwrap();
    assert_eq!(names(&plan), ["a/mysql-bin.000001", "b/mysql-bin.000001"]);
    assert_eq!(
        plan.files[1].stop,
        Some(Stop::ExcludeGtids(format!("{U}:26-30")))
    );
    assert_eq!(plan.recovered, h(&format!("{U}:1-25")));
    assert!(plan.is_complete());

    let excl = Target::Gtids {
        set: h(&format!("{U}:25")),
        inclusive: false,
    };
    let plan = super::plan(&failover_archive(), &start, &excl).unwrap();
    assert_eq!(
        plan.files.last().unwrap().stop,
        Some(Stop::ExcludeGtids(format!("{U}:25-30")))
    );
    assert_eq!(plan.recovered, h(&format!("{U}:1-24")));

    let beyond = Target::Gtids {
        set: h(&format!("{V}:9")),
        inclusive: true,
    };
    let plan = super::plan(&failover_archive(), &start, &beyond).unwrap();
    assert!(
        plan.unreachable
            .as_deref()
            .unwrap()
            .contains(&format!("{V}:6-9")),
        "{plan:?}"
    );
}

#[test]
fn a_gap_makes_the_target_unreachable_and_says_where() {
    let mut archive = failover_archive();
    archive[0].files.remove(1);
    archive[1].files.remove(0);
    let plan = plan(&archive, &h(&format!("{U}:1-12")), &Target::Latest).unwrap();
    assert_eq!(names(&plan), ["a/mysql-bin.000001"]);
    let why = plan.unreachable.as_deref().unwrap();
    assert!(
        why.contains(&format!(
            "missing {U}:21-30 between a/mysql-bin.000001 and b/mysql-bin.000002"
        )),
        "{why}"
    );
    assert_eq!(plan.recovered, h(&format!("{U}:1-20")));
}

/// A MariaDB file's manifest entry with its starting and end GTID lists.
fn mariadb_entry(name: &str, start: &str, end: &str) -> ManifestEntry {
    ManifestEntry {
        name: name.into(),
        remote_path: format!("p/{name}"),
        mariadb_gtid_list: Some(start.into()),
        mariadb_end_gtid_list: Some(end.into()),
        ..Default::default()
    }
}

#[test]
fn mariadb_plan_carries_start_and_stop_positions() {
    let archive = vec![
        manifest(
            "a",
            vec![
                mariadb_entry("mariadb-bin.000001", "", "0-1-10"),
                mariadb_entry("mariadb-bin.000002", "0-1-10", "0-1-25"),
            ],
        ),
        // b replicated up to 0-1-20 in its file 1 (duplicates), then was promoted.
        manifest(
            "b",
            vec![
                mariadb_entry("mariadb-bin.000001", "0-1-5", "0-1-20"),
                mariadb_entry("mariadb-bin.000002", "0-1-25", "0-2-40"),
            ],
        ),
    ];
    let plan = plan(&archive, &h("0-1-3"), &Target::Latest).unwrap();
    assert_eq!(
        names(&plan),
        [
            "a/mariadb-bin.000001",
            "b/mariadb-bin.000001",
            "a/mariadb-bin.000002",
            "b/mariadb-bin.000002"
        ]
    );
    let starts: Vec<_> = plan
        .files
        .iter()
        .map(|f| f.mariadb_start.clone().unwrap())
        .collect();
    assert_eq!(starts, ["0-0-3", "0-1-10", "0-1-20", "0-1-25"]);
    assert_eq!(plan.files[1].binlog_args(), ["--start-position=0-1-10"]);
    let target = Target::Gtids {
        set: h("0-2-30"),
        inclusive: true,
    };
    let plan = super::plan(&archive, &h("0-1-3"), &target).unwrap();
    assert_eq!(
        plan.files.last().unwrap().stop,
        Some(Stop::MariadbGtid("0-0-30".into()))
    );
    assert_eq!(plan.recovered, h("0-2-30"));
}

/// A Go-written site: only previous GTIDs, so the newest file has no end set.
fn go_archive() -> Vec<Manifest> {
    let go = |name: &str, prev: &str, first: i64| ManifestEntry {
        name: name.into(),
        previous_gtids: prev.into(),
        first_event_time: DateTime::from_timestamp(first, 0),
        last_event_time: DateTime::from_timestamp(first + 59, 0),
        ..Default::default()
    };
    vec![manifest(
        "a",
        vec![
            go("mysql-bin.000001", "", 1000),
            go("mysql-bin.000002", &format!("{U}:1-10"), 2000),
        ],
    )]
}

#[test]
fn an_unverifiable_file_in_the_window_makes_the_plan_incomplete() {
    let archive = go_archive();
    let newest = [FileRef {
        site: "a".into(),
        name: "mysql-bin.000002".into(),
    }];
    let plan_for = |target: &Target| plan(&archive, &History::new(), target).unwrap();

    let latest = plan_for(&Target::Latest);
    assert_eq!(names(&latest), ["a/mysql-bin.000001"]);
    assert_eq!(latest.recovered, h(&format!("{U}:1-10")));
    assert_eq!(latest.unverifiable, newest);
    assert_eq!(latest.unverifiable_in_window, newest);
    assert!(!latest.is_complete());

    // A time before the newest file's first event: the file cannot matter.
    let before = plan_for(&Target::Time(DateTime::from_timestamp(2000, 0).unwrap()));
    assert!(before.unverifiable_in_window.is_empty(), "{before:?}");
    assert_eq!(before.unverifiable, newest);
    assert!(before.is_complete(), "{before:?}");
    let after = plan_for(&Target::Time(DateTime::from_timestamp(2030, 0).unwrap()));
    assert_eq!(after.unverifiable_in_window, newest);
    assert!(!after.is_complete());

    // A GTID target the newest file's previous set contains is reached before it.
    let inside = plan_for(&Target::Gtids {
        set: h(&format!("{U}:7")),
        inclusive: true,
    });
    assert!(inside.is_complete(), "{inside:?}");
    let beyond = plan_for(&Target::Gtids {
        set: h(&format!("{U}:11")),
        inclusive: false,
    });
    assert!(beyond.unverifiable_in_window.is_empty(), "{beyond:?}");
    let beyond = plan_for(&Target::Gtids {
        set: h(&format!("{U}:11")),
        inclusive: true,
    });
    assert_eq!(beyond.unverifiable_in_window, newest);
    assert!(!beyond.is_complete());
}

/// Two MariaDB sites: a's two files, then b promoted at 0-1-25 (b's first file repeats a's transactions).
fn mariadb_archive() -> Vec<Manifest> {
    vec![
        manifest(
            "a",
            vec![
                mariadb_entry("mariadb-bin.000001", "", "0-1-10"),
                mariadb_entry("mariadb-bin.000002", "0-1-10", "0-1-25"),
            ],
        ),
        manifest(
            "b",
            vec![
                mariadb_entry("mariadb-bin.000001", "0-1-5", "0-1-20"),
                mariadb_entry("mariadb-bin.000002", "0-1-25", "0-2-40"),
            ],
        ),
    ]
}

#[test]
fn mariadb_domains_stop_in_their_own_files() {
    let archive = vec![manifest(
        "a",
        vec![
            mariadb_entry("mariadb-bin.000001", "", "0-1-3,1-1-1"),
            mariadb_entry("mariadb-bin.000002", "0-1-3,1-1-1", "0-1-4,1-1-3"),
            mariadb_entry("mariadb-bin.000003", "0-1-4,1-1-3", "0-1-5,1-1-4"),
        ],
    )];
    let start = h("0-1-3,1-1-1");
    // Domain 1 stops at seq 2 in the second file, domain 0 at seq 5 in the third.
    let target = Target::Gtids {
        set: h("0-1-5,1-1-2"),
        inclusive: true,
    };
    let p = plan(&archive, &start, &target).unwrap();
    assert!(p.is_complete(), "{p:?}");
    let args: Vec<Vec<String>> = p.files.iter().map(PlannedFile::binlog_args).collect();
    assert_eq!(
        args,
        [
            vec![
                "--start-position=0-1-3,1-1-1".to_owned(),
                "--stop-position=0-1-5,1-0-2".to_owned(),
            ],
            // Domain 1 starts from the file's own state (mariadb-binlog wants one) and is left out.
            vec![
                "--start-position=0-1-4,1-1-3".to_owned(),
                "--stop-position=0-1-5".to_owned(),
                "--ignore-domain-ids=1".to_owned(),
            ],
        ]
    );
    // A file that adds nothing to a domain leaves that domain out instead of starting it at its last
    // transaction there (which mariadb-binlog refuses).
    let latest = plan(&archive, &h("0-1-3"), &Target::Latest).unwrap();
    assert_eq!(latest.files[0].binlog_args(), ["--ignore-domain-ids=0"]);
    assert_eq!(
        latest.files[1].binlog_args(),
        ["--start-position=0-1-3,1-1-1"]
    );
    assert_eq!(p.recovered, h("0-1-5,1-1-2"));
    // Both stops in the last file: one stop list, nothing left out.
    let target = Target::Gtids {
        set: h("0-1-5,1-1-4"),
        inclusive: true,
    };
    let p = plan(&archive, &start, &target).unwrap();
    assert_eq!(p.files[0].stop, None);
    assert_eq!(
        p.files[1].binlog_args(),
        [
            "--start-position=0-1-4,1-1-3",
            "--stop-position=0-1-5,1-1-4"
        ]
    );
}

/// One MariaDB transaction, not the position up to it.
fn one_transaction(gtid: &str) -> History {
    let g: bloodraven_gtid::MariadbGtid = gtid.parse().unwrap();
    let before = bloodraven_gtid::MariadbGtid {
        seq: g.seq - 1,
        ..g
    };
    History::from_mariadb_state(&std::iter::once(g).collect()).difference(
        &History::from_mariadb_state(&std::iter::once(before).collect()),
    )
}

#[test]
fn mariadb_gtid_target_names_one_transaction_inclusive_or_exclusive() {
    let start = h("0-1-3");
    let target = |set: History, inclusive| Target::Gtids { set, inclusive };
    // `0-2-30` as text (read as the position 1..=30) and as the single transaction: the same target.
    for set in [h("0-2-30"), one_transaction("0-2-30")] {
        let excl = plan(&mariadb_archive(), &start, &target(set.clone(), false)).unwrap();
        assert!(excl.is_complete(), "{excl:?}");
        assert_eq!(
            names(&excl),
            [
                "a/mariadb-bin.000001",
                "b/mariadb-bin.000001",
                "a/mariadb-bin.000002",
                "b/mariadb-bin.000002"
            ]
        );
        assert_eq!(
            excl.files.last().unwrap().binlog_args(),
            ["--start-position=0-1-25", "--stop-position=0-0-29"]
        );
        assert_eq!(excl.recovered, h("0-2-29"));

        let incl = plan(&mariadb_archive(), &start, &target(set, true)).unwrap();
        assert!(incl.is_complete(), "{incl:?}");
        assert_eq!(
            incl.files.last().unwrap().stop,
            Some(Stop::MariadbGtid("0-0-30".into()))
        );
        assert_eq!(incl.recovered, h("0-2-30"));
    }

    // Just before the first transaction of a file: the plan ends with the file before it.
    let excl = plan(&mariadb_archive(), &start, &target(h("0-1-11"), false)).unwrap();
    assert_eq!(names(&excl), ["a/mariadb-bin.000001"]);
    assert_eq!(excl.recovered, h("0-1-10"));
    assert!(excl.is_complete(), "{excl:?}");

    // The next transaction after the dump: nothing to replay, and that is the target.
    let next = plan(&mariadb_archive(), &start, &target(h("0-1-4"), false)).unwrap();
    assert!(next.files.is_empty() && next.is_complete(), "{next:?}");
    assert_eq!(next.recovered, start);

    // The dump already holds the transaction to stop before: unreachable, never an empty success.
    for (set, inclusive) in [("0-1-3", false), ("0-1-2", true)] {
        let past = plan(&mariadb_archive(), &start, &target(h(set), inclusive)).unwrap();
        assert!(!past.is_complete(), "{set}: {past:?}");
        let why = past.unreachable.as_deref().unwrap();
        assert!(
            why.contains("the dump already holds domain 0 seq 3"),
            "{why}"
        );
        let t = target(h(set), inclusive);
        assert!(past_target(&start, &t).is_some_and(|p| p.to_string().contains("seq 3")));
    }
    // A dump before the target is not past it, and other targets never are.
    assert_eq!(past_target(&start, &target(h("0-1-4"), false)), None);
    assert_eq!(past_target(&start, &Target::Latest), None);
    // Beyond the archive: unreachable, naming what is missing.
    let beyond = plan(&mariadb_archive(), &start, &target(h("0-2-42"), false)).unwrap();
    assert!(
        beyond
            .unreachable
            .as_deref()
            .unwrap()
            .contains("domain 0 seq 41"),
        "{beyond:?}"
    );
}

#[test]
fn mysql_exclusive_stops_before_the_sets_first_transaction_the_dump_lacks() {
    let start = h(&format!("{U}:1-12"));
    let target = |set: &str, inclusive| Target::Gtids {
        set: h(set),
        inclusive,
    };
    // U:10-12 are in the dump, U:18 is the first one the replay would apply: stop just before it.
    let excl = plan(
        &failover_archive(),
        &start,
        &target(&format!("{U}:10-12:18-19"), false),
    )
    .unwrap();
    assert!(excl.is_complete(), "{excl:?}");
    assert_eq!(names(&excl), ["a/mysql-bin.000001"]);
    assert_eq!(
        excl.files[0].stop,
        Some(Stop::ExcludeGtids(format!("{U}:18-20")))
    );
    assert_eq!(excl.recovered, h(&format!("{U}:1-17")));
    // Inclusive: through the set's highest GNO.
    let incl = plan(
        &failover_archive(),
        &start,
        &target(&format!("{U}:10-12:18-19"), true),
    )
    .unwrap();
    assert_eq!(
        incl.files.last().unwrap().stop,
        Some(Stop::ExcludeGtids(format!("{U}:20")))
    );
    assert_eq!(incl.recovered, h(&format!("{U}:1-19")));
    // A gtid_executed-style set whose next transaction is right after the dump: nothing to replay.
    let next = plan(
        &failover_archive(),
        &start,
        &target(&format!("{U}:1-40"), false),
    )
    .unwrap();
    assert!(next.files.is_empty() && next.is_complete(), "{next:?}");
    assert_eq!(next.recovered, start);
    // The dump holds all of the set (exclusive) or more than it (inclusive): unreachable.
    for (set, inclusive, held) in [
        (format!("{U}:10"), false, format!("{U}:10-12")),
        (format!("{U}:11"), true, format!("{U}:12")),
    ] {
        let past = plan(&failover_archive(), &start, &target(&set, inclusive)).unwrap();
        let why = past.unreachable.as_deref().unwrap_or_default();
        assert!(
            why.contains(&format!("the dump already holds {held}")),
            "{set}: {past:?}"
        );
        assert_eq!(
            past_target(&start, &target(&set, inclusive)),
            Some(h(&held))
        );
    }
    // A source whose stop is before its first transaction replays none of it in the last file.
    let two = plan(
        &failover_archive(),
        &start,
        &target(&format!("{U}:28,{V}:1"), false),
    )
    .unwrap();
    assert_eq!(names(&two), ["a/mysql-bin.000001", "b/mysql-bin.000001"]);
    assert_eq!(
        two.files.last().unwrap().stop,
        Some(Stop::ExcludeGtids(format!("{U}:28-30")))
    );
    assert_eq!(two.recovered, h(&format!("{U}:1-27")));
}

#[test]
fn mysql_sources_stop_each_in_their_own_file() {
    // U stops before 13 (in the first file); V before 3, which takes files that also hold U:13-30.
    let target = Target::Gtids {
        set: h(&format!("{U}:13,{V}:3")),
        inclusive: false,
    };
    let plan = plan(&failover_archive(), &h(&format!("{U}:1-12")), &target).unwrap();
    assert!(plan.is_complete(), "{plan:?}");
    let stops: Vec<_> = plan.files.iter().map(|f| f.stop.clone()).collect();
    assert_eq!(
        stops,
        [
            Some(Stop::ExcludeGtids(format!("{U}:13-20"))),
            Some(Stop::ExcludeGtids(format!("{U}:21-30"))),
            Some(Stop::ExcludeGtids(format!("{V}:3-5"))),
        ]
    );
    assert_eq!(plan.recovered, h(&format!("{U}:1-12,{V}:1-2")));
}
