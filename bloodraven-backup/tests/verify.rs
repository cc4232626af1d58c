//! Verification by restore into a throwaway server the library starts itself: success with the per-table
//! report, and each failure reason.

mod common;

use std::time::Duration;

use bloodraven_backup::verify::{self, FailureReason, SanityCheck, VerifyOptions};
use bloodraven_backup::{DumpOptions, ServerOptions, dump};

use common::*;

fn options(sanity: Option<(&str, Option<i64>, u64)>) -> VerifyOptions {
    VerifyOptions {
        server: ServerOptions {
            extra_args: vec![
                "--innodb-log-file-size=8M".into(),
                "--innodb-buffer-pool-size=32M".into(),
            ],
            ..ServerOptions::default()
        },
        sanity: sanity.map(|(q, min, secs)| SanityCheck {
            query: q.into(),
            min_rows: min,
            max_duration: Duration::from_secs(secs),
        }),
        ..VerifyOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_succeeds_and_reports_each_failure_reason() {
    let source = server(1);
    exec(&source, FIXTURE).await;
    let root = tempfile::tempdir().unwrap();
    let good = root.path().join("good");
    let report = dump::dump(
        &conn_opts(&source),
        &dir_location(&good),
        &DumpOptions::default(),
    )
    .await
    .unwrap();

    let ok = verify::verify(
        &dir_location(&good),
        &options(Some(("SELECT COUNT(*) FROM shop.items", Some(3000), 30))),
    )
    .await;
    assert!(ok.succeeded, "{}", ok.message);
    assert_eq!(ok.gtid_actual, report.meta.gtid_executed);
    assert_eq!(ok.gtid_expected, report.meta.gtid_executed);
    assert_eq!(ok.sanity_check.result_row.as_deref(), Some("3000"));
    assert!(ok.sanity_line().unwrap().ends_with("resultRow=3000"));
    let source_sums = checksums(&source).await;
    let mut reported: Vec<String> = ok
        .tables
        .iter()
        .map(|t| format!("{} {}", t.table, t.checksum))
        .collect();
    reported.sort();
    assert_eq!(reported, source_sums);
    let items = ok.tables.iter().find(|t| t.table == "shop.items").unwrap();
    assert_eq!(items.rows, 3000);
    assert!(ok.kept_dir.is_none());

    let below = verify::verify(
        &dir_location(&good),
        &options(Some(("SELECT COUNT(*) FROM shop.items", Some(3001), 30))),
    )
    .await;
    assert_eq!(
        below.reason,
        Some(FailureReason::SanityCheckFailed),
        "{}",
        below.message
    );
    assert!(!below.succeeded);
    let kept = below.kept_dir.clone().expect("kept on failure");
    assert!(kept.join("data").is_dir());
    std::fs::remove_dir_all(kept).unwrap();

    let bad_query = verify::verify(
        &dir_location(&good),
        &VerifyOptions {
            keep_on_failure: false,
            ..options(Some(("SELECT * FROM shop.nope", None, 30)))
        },
    )
    .await;
    assert_eq!(bad_query.reason, Some(FailureReason::SanityCheckFailed));
    assert!(
        bad_query
            .sanity_check
            .error
            .as_deref()
            .unwrap()
            .contains("nope")
    );
    assert!(bad_query.kept_dir.is_none());

    let slow = verify::verify(
        &dir_location(&good),
        &VerifyOptions {
            keep_on_failure: false,
            ..options(Some(("SELECT SLEEP(5)", None, 1)))
        },
    )
    .await;
    assert_eq!(
        slow.reason,
        Some(FailureReason::SanityCheckTimeout),
        "{}",
        slow.message
    );

    std::fs::remove_file(good.join("@.done.json")).unwrap();
    let incomplete = verify::verify(
        &dir_location(&good),
        &VerifyOptions {
            keep_on_failure: false,
            ..options(None)
        },
    )
    .await;
    assert_eq!(incomplete.reason, Some(FailureReason::RestoreFailed));
    assert!(
        incomplete.message.contains("incomplete"),
        "{}",
        incomplete.message
    );
}
