//! Dump → restore round trips against real MariaDB servers: every table's `CHECKSUM TABLE`, every view,
//! routine, trigger and event, and the GTID state come back, for plain and encrypted dumps, in a local
//! directory and in the loopback S3 server.

mod common;

use bloodraven_backup::format::{DONE_MARKER, DUMP_META, ENCRYPTION_MARKER, EncryptionMarker};
use bloodraven_backup::{DumpOptions, Error, Passphrase, RestoreOptions, dump, restore};
use bloodraven_test_support::s3::S3Server;

use common::*;

fn small_chunks(threads: usize) -> DumpOptions {
    DumpOptions {
        threads,
        bytes_per_chunk: 16 * 1024,
        ..DumpOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_dump_in_a_directory_restores_every_table_and_object() {
    let source = server(1);
    exec(&source, FIXTURE).await;
    exec(
        &source,
        &[
            "CREATE USER 'app'@'10.%' IDENTIFIED BY 'app-secret'",
            "GRANT SELECT, INSERT ON shop.* TO 'app'@'10.%'",
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let location = dir_location(dir.path());
    let report = dump::dump(
        &conn_opts(&source),
        &location,
        &DumpOptions {
            users: true,
            ..small_chunks(3)
        },
    )
    .await
    .unwrap();
    assert!(report.meta.users);
    let meta = &report.meta;
    assert_eq!(
        meta.gtid_executed,
        source.sql("SELECT @@gtid_binlog_pos").unwrap().trim()
    );
    assert!(!meta.binlog_file.is_empty() && meta.binlog_position > 0);
    assert_eq!(meta.schemas, ["odd db", "shop"]);
    assert_eq!(
        meta.total_rows,
        3000 + 900 + 502 + 201 + 1001 + 3 + 2 + 2 + 3
    );
    assert!(
        report
            .log_line()
            .starts_with("BLOODRAVEN_DUMP_COMPLETE location=")
    );
    // The integer-keyed tables were cut into several chunks, the table without a key is one stream.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names
            .iter()
            .filter(|n| n.starts_with("shop@items@"))
            .count()
            > 2,
        "{names:?}"
    );
    assert!(names.contains(&"shop@log.tsv.zst".to_owned()), "{names:?}");
    assert!(
        names.contains(&"odd=20db@we=40ird=2Et=C3=A5ble.json".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&DONE_MARKER.to_owned()) && names.contains(&DUMP_META.to_owned()));

    let target = server(2);
    let restored = restore::restore(
        &conn_opts(&target),
        &location,
        &RestoreOptions {
            threads: 3,
            ..RestoreOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(restored.gtid_executed, meta.gtid_executed);
    assert_eq!(restored.rows, meta.total_rows);
    assert_eq!(checksums(&target).await, checksums(&source).await);
    assert_eq!(objects(&target), objects(&source));
    // Secondary indexes were added after the data (items: 3, auto: the one not on the AUTO_INCREMENT
    // column, parent: 1; child has a foreign key and keeps its own), and every definition reads as on the
    // source.
    assert_eq!(restored.deferred_indexes, 5);
    assert_eq!(definitions(&target), definitions(&source));
    assert!(
        definitions(&target)
            .iter()
            .any(|d| d.contains("KEY `by_price_note` (`price`,`note`(20)) COMMENT 'two, columns'"))
    );
    assert_eq!(
        target
            .sql("SELECT @@gtid_slave_pos, @@gtid_binlog_pos")
            .unwrap()
            .trim(),
        format!("{0}\t{0}", meta.gtid_executed)
    );
    // The account and its grants came along.
    assert_eq!(
        target.sql("SHOW GRANTS FOR 'app'@'10.%'").unwrap(),
        source.sql("SHOW GRANTS FOR 'app'@'10.%'").unwrap()
    );
    // The trigger exists but did not fire during the load, the function works.
    assert_eq!(
        target
            .sql("SELECT name FROM shop.items WHERE id = 7; SELECT shop.twice(21)")
            .unwrap(),
        "item 7\n42\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_dump_in_s3_restores_and_refuses_a_wrong_passphrase() {
    let source = server(1);
    exec(&source, FIXTURE).await;
    let s3 = S3Server::start().unwrap();
    let location = s3_location(&s3, "orders/nightly-1");
    let passphrase = Passphrase::new(b"correct horse battery staple".to_vec()).unwrap();
    let report = dump::dump(
        &conn_opts(&source),
        &location,
        &DumpOptions {
            passphrase: Some(passphrase.clone()),
            ..small_chunks(2)
        },
    )
    .await
    .unwrap();
    assert!(report.meta.encrypted);
    assert!(
        report
            .log_line()
            .contains(" encrypted=true algorithm=AES-256-GCM")
    );

    // Every object but the marker is BRV1; the marker lists each one's plaintext digest.
    let bucket_dir = s3.root().join(s3.bucket()).join("orders/nightly-1");
    let marker: EncryptionMarker =
        serde_json::from_slice(&std::fs::read(bucket_dir.join(ENCRYPTION_MARKER)).unwrap())
            .unwrap();
    assert_eq!(marker.algorithm, "AES-256-GCM");
    let mut stored = 0;
    for entry in std::fs::read_dir(&bucket_dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name == ENCRYPTION_MARKER
            || !entry.file_type().unwrap().is_file()
            || name.starts_with('.')
        {
            continue;
        }
        let head = std::fs::read(entry.path()).unwrap();
        assert!(
            bloodraven_brv1::looks_encrypted(&head),
            "{name} is not BRV1"
        );
        assert!(
            marker.files.contains_key(&name),
            "{name} missing from the marker"
        );
        stored += 1;
    }
    assert_eq!(marker.file_count, stored);

    let target = server(2);
    let wrong = Passphrase::new(b"not the passphrase".to_vec()).unwrap();
    for pass in [None, Some(wrong)] {
        let err = restore::restore(
            &conn_opts(&target),
            &location,
            &RestoreOptions {
                passphrase: pass,
                ..RestoreOptions::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Encryption(_)), "{err}");
    }
    let restored = restore::restore(
        &conn_opts(&target),
        &location,
        &RestoreOptions {
            passphrase: Some(passphrase.clone()),
            threads: 2,
            ..RestoreOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(restored.gtid_executed, report.meta.gtid_executed);
    assert_eq!(checksums(&target).await, checksums(&source).await);
    assert_eq!(objects(&target), objects(&source));

    // The plaintext copy decrypt-download makes (the marker left out) loads only when it is declared one.
    let copy = tempfile::tempdir().unwrap();
    bloodraven_backup::transfer::decrypt_download(
        location.store(),
        location.prefix(),
        copy.path(),
        &passphrase,
        false,
    )
    .await
    .unwrap();
    let copied = dir_location(copy.path());
    let fresh = server(3);
    let err = restore::restore(&conn_opts(&fresh), &copied, &RestoreOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("encrypted is true"), "{err}");
    restore::restore(
        &conn_opts(&fresh),
        &copied,
        &RestoreOptions {
            decrypted_copy: true,
            ..RestoreOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(checksums(&fresh).await, checksums(&source).await);
}
