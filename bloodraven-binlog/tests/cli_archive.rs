//! The `archive-check`, `pitr-plan` and `pitr-download` subcommands on a local-filesystem archive.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use bloodraven_binlog::archive::{ArchiveStore, Archiver};
use bloodraven_binlog::manifest::{ArchiveLayout, SiteName};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/binlog/percona-binlog-server"
);
const UUID: &str = "396e294c-1ca4-11f1-9ae7-00155da79c6b";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bloodraven-binlog"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Archives the two chained fixture files (plus an active one) into a directory store.
async fn archive(store_dir: &Path, binlogs: &Path) -> ArchiveStore {
    for (i, name) in ["binlog.000001", "binlog.000002", "binlog.000002"]
        .iter()
        .enumerate()
    {
        std::fs::copy(
            Path::new(FIXTURES).join(name),
            binlogs.join(format!("mysql-bin.00000{}", i + 1)),
        )
        .unwrap();
    }
    std::fs::write(
        binlogs.join("mysql-bin.index"),
        "./mysql-bin.000001\n./mysql-bin.000002\n./mysql-bin.000003\n",
    )
    .unwrap();
    let fs = object_store::local::LocalFileSystem::new_with_prefix(store_dir).unwrap();
    let store = ArchiveStore::new(Arc::new(fs), ArchiveLayout::for_profile_prefix("orders"));
    let report = Archiver::new(store.clone(), SiteName::parse("iad").unwrap(), binlogs)
        .run_cycle(&true)
        .await
        .unwrap();
    assert_eq!(report.archived.len(), 2);
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_check_and_download_from_the_command_line() {
    let (store_dir, binlogs, out) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let store = archive(store_dir.path(), binlogs.path()).await;
    let s = store_dir.path().to_str().unwrap();

    let o = run(&[
        "pitr-plan",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(plan["complete"], true);
    let names: Vec<_> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["mysql-bin.000001", "mysql-bin.000002"]);
    assert_eq!(plan["recovered"], format!("{UUID}:1-6"));

    let o = run(&["archive-check", "--store", s, "--prefix", "orders/binlogs"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).ends_with("continuous\n"), "{}", stdout(&o));

    // A GTID target beyond the archive is unreachable: exit 1 with the reason.
    let o = run(&[
        "pitr-plan",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--stop-gtids",
        &format!("{UUID}:9"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(&format!(
            "unreachable: the archive does not contain {UUID}:7-9"
        )),
        "{}",
        stdout(&o)
    );

    // Exclusive: just before UUID:4, so the plan stops with UUID:1-3 and leaves 4-6 out.
    let o = run(&[
        "pitr-plan",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--stop-gtids",
        &format!("{UUID}:4"),
        "--exclusive",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(plan["complete"], true, "{plan}");
    assert_eq!(plan["recovered"], format!("{UUID}:1-3"), "{plan}");
    assert!(
        plan.to_string()
            .contains(&format!("--exclude-gtids={UUID}:4")),
        "{plan}"
    );
    // A start set that already holds the transaction to stop before: unreachable, exit 1.
    let o = run(&[
        "pitr-plan",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--start",
        &format!("{UUID}:1-5"),
        "--stop-gtids",
        &format!("{UUID}:2-5"),
        "--exclusive",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("the dump already holds {UUID}:2-5")),
        "{}",
        stdout(&o)
    );

    let dir = out.path().to_str().unwrap();
    let o = run(&[
        "pitr-download",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--dir",
        dir,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in ["mysql-bin.000001", "mysql-bin.000002"] {
        let got = std::fs::read(out.path().join("iad").join(name)).unwrap();
        assert_eq!(got, std::fs::read(binlogs.path().join(name)).unwrap());
    }
    assert!(!out.path().join("iad/mysql-bin.000002.part").exists());

    // Drop the first entry: the history from the empty set now has a gap before the second file.
    store
        .update_manifest(&SiteName::parse("iad").unwrap(), |m| m.files.remove(0))
        .await
        .unwrap();
    let o = run(&["archive-check", "--store", s, "--prefix", "orders/binlogs"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(&format!(
            "gap: missing {UUID}:1-4 between the starting set and iad/mysql-bin.000002"
        )),
        "{}",
        stdout(&o)
    );
    // With the dump's set the remaining file suffices.
    let o = run(&[
        "archive-check",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--start",
        &format!("{UUID}:1-4"),
    ]);
    assert!(o.status.success(), "{}", stdout(&o));

    let o = run(&["archive-check", "--store", "nope://x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with("error: --store"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
