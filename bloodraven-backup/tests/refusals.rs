//! Bad input: a restore refuses an incomplete dump, a missing, truncated or tampered object, and a target
//! that is not empty — each with an error naming the object, and never a successful report.

mod common;

use std::path::Path;

use bloodraven_backup::{DumpOptions, Error, RestoreOptions, dump, restore};

use common::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_dumps_and_busy_targets_are_refused_with_the_object_named() {
    let source = server(1);
    exec(&source, FIXTURE).await;
    let root = tempfile::tempdir().unwrap();
    let good = root.path().join("good");
    let report = dump::dump(
        &conn_opts(&source),
        &dir_location(&good),
        &DumpOptions {
            threads: 2,
            bytes_per_chunk: 16 * 1024,
            ..DumpOptions::default()
        },
    )
    .await
    .unwrap();
    let chunk = "shop@items@1.tsv.zst";
    assert!(good.join(chunk).is_file());

    // A second dump into the same directory is refused: dumps never mix.
    let again = dump::dump(
        &conn_opts(&source),
        &dir_location(&good),
        &DumpOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(again, Error::Options(ref m) if m.contains("not empty")),
        "{again}"
    );

    let target = server(2);
    let restore_from = |dir: &Path| {
        let location = dir_location(dir);
        let target = conn_opts(&target);
        async move {
            restore::restore(&target, &location, &RestoreOptions::default())
                .await
                .unwrap_err()
        }
    };
    let variant = |name: &str, change: &dyn Fn(&Path)| {
        let dir = root.path().join(name);
        copy_dir(&good, &dir);
        change(&dir);
        dir
    };

    let incomplete = variant("incomplete", &|d| {
        std::fs::remove_file(d.join("@.done.json")).unwrap()
    });
    let err = restore_from(&incomplete).await;
    assert!(matches!(err, Error::Incomplete { .. }), "{err}");
    assert!(err.to_string().contains("@.done.json is missing"), "{err}");

    let missing = variant("missing", &|d| std::fs::remove_file(d.join(chunk)).unwrap());
    let err = restore_from(&missing).await;
    assert!(
        matches!(err, Error::MissingObject { ref object, .. } if object.ends_with(chunk)),
        "{err}"
    );

    let truncated = variant("truncated", &|d| {
        let bytes = std::fs::read(d.join(chunk)).unwrap();
        std::fs::write(d.join(chunk), &bytes[..bytes.len() - 10]).unwrap();
    });
    let err = restore_from(&truncated).await;
    assert!(
        matches!(err, Error::Corrupt { ref object, what: "stored size", .. } if object.ends_with(chunk)),
        "{err}"
    );
    // Nothing was loaded: refusals happen before the target is touched.
    assert_eq!(target.sql("SHOW DATABASES LIKE 'shop'").unwrap(), "");

    // Same size, one byte changed in the middle and at the end: the digest (or the chunk) gives it away.
    for (name, at_end) in [("tampered-middle", false), ("tampered-end", true)] {
        let tampered = variant(name, &|d| {
            let mut bytes = std::fs::read(d.join(chunk)).unwrap();
            let i = if at_end {
                bytes.len() - 1
            } else {
                bytes.len() / 2
            };
            bytes[i] ^= 0x01;
            std::fs::write(d.join(chunk), &bytes).unwrap();
        });
        let target = server(3);
        let err = restore::restore(
            &conn_opts(&target),
            &dir_location(&tampered),
            &RestoreOptions::default(),
        )
        .await
        .unwrap_err();
        match &err {
            Error::Corrupt {
                object,
                what,
                expected,
                actual,
            } => {
                assert!(object.ends_with(chunk), "{err}");
                assert_eq!(*what, "sha256");
                assert_ne!(expected, actual);
            }
            other => panic!("{name}: {other}"),
        }
        // The chunk's transaction was rolled back: none of its rows are there.
        let meta: bloodraven_backup::format::TableMeta =
            serde_json::from_slice(&std::fs::read(good.join("shop@items.json")).unwrap()).unwrap();
        let range = &meta.chunks[1].range;
        assert_eq!(
            target
                .sql(&format!("SELECT COUNT(*) FROM shop.items WHERE {range}"))
                .unwrap()
                .trim(),
            "0",
            "{name}: rows of the tampered chunk were left behind"
        );
    }

    // A target that already holds data is refused before anything is loaded.
    target.sql("CREATE DATABASE busy").unwrap();
    let err = restore_from(&good).await;
    assert!(
        matches!(err, Error::Target { ref reason, .. } if reason.contains("busy")),
        "{err}"
    );
    target.sql("DROP DATABASE busy").unwrap();

    // The untouched dump restores.
    let ok = restore::restore(
        &conn_opts(&target),
        &dir_location(&good),
        &RestoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(ok.gtid_executed, report.meta.gtid_executed);
}
