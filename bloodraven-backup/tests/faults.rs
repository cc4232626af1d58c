//! The store failing in the middle of a dump: the dump fails with the store's error, writes no completion
//! marker, and no restore accepts what it left.

mod common;

use std::time::{Duration, Instant};

use bloodraven_backup::{DumpOptions, Error, RestoreOptions, dump, restore};
use bloodraven_test_support::s3::S3Server;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failing_mid_dump_fails_the_dump_and_leaves_no_marker() {
    let source = server(1);
    exec(
        &source,
        &[
            "CREATE DATABASE big",
            "USE big",
            "CREATE TABLE big.t (id INT PRIMARY KEY, pad VARCHAR(200))",
            "INSERT INTO big.t SELECT seq, REPEAT('p', 200) FROM seq_1_to_40000",
            "ANALYZE TABLE big.t",
        ],
    )
    .await;
    let s3 = S3Server::start().unwrap();
    let location = s3_location(&s3, "nightly/broken");
    let dir = s3.root().join(s3.bucket()).join("nightly/broken");
    let options = DumpOptions {
        threads: 1,
        bytes_per_chunk: 16 * 1024,
        ..DumpOptions::default()
    };
    let running = tokio::spawn({
        let source = conn_opts(&source);
        let location = location.clone();
        async move { dump::dump(&source, &location, &options).await }
    });
    // Once a few chunks are stored, the bucket disappears.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) < 5 {
        assert!(
            !running.is_finished(),
            "the dump finished before the store failed"
        );
        assert!(Instant::now() < deadline, "no chunk appeared");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A file where the bucket's folder was: every later write fails.
    let bucket = s3.root().join(s3.bucket());
    let mut replaced = false;
    for _ in 0..200 {
        // Writes race with the removal: retry until the file takes the folder's place.
        let _ = std::fs::remove_dir_all(&bucket);
        if std::fs::write(&bucket, "not a bucket").is_ok() {
            replaced = true;
            break;
        }
    }
    assert!(replaced, "could not replace the bucket folder");
    let err = running.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Store { .. } | Error::Io { .. }),
        "{err:?}"
    );
    // The bucket comes back without any marker; whatever is there is not a dump.
    std::fs::remove_file(&bucket).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    assert!(!dir.join("@.done.json").exists());
    let target = server(2);
    let refused = restore::restore(&conn_opts(&target), &location, &RestoreOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Incomplete { .. }), "{refused}");
}
