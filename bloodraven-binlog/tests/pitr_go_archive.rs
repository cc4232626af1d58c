//! PITR over an archive the Go sidecar wrote: its manifests carry only each file's previous GTIDs, so the
//! newest file of a site has no end set, and a server's first file has an empty previous set.
//!
//! The archive is the two consecutive MySQL 8.0.45 fixture files (`percona-binlog-server/`) uploaded into a
//! local-directory store under a Go-shaped `manifest-iad.json`, as a new user would hit it.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use bloodraven_binlog::archive::ArchiveStore;
use bloodraven_binlog::continuity::History;
use bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_binlog::pitr::{self, Target};
use bloodraven_brv1::Passphrase;
use object_store::{ObjectStoreExt, PutPayload, path::Path as ObjPath};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/binlog/percona-binlog-server"
);
const UUID: &str = "396e294c-1ca4-11f1-9ae7-00155da79c6b";
const NAMES: [&str; 2] = ["mysql-bin.000001", "mysql-bin.000002"];

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bloodraven-binlog"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One Go manifest entry (`ManifestEntry` of internal/sidecar/binlog_manifest.go): no `endGtids`, and
/// `previousGtids` omitted when empty.
fn go_entry(name: &str, fixture: &str) -> serde_json::Value {
    let path = Path::new(FIXTURES).join(fixture);
    let s = bloodraven_binlog::reader::summarize_file(&path).unwrap();
    let mut e = serde_json::json!({
        "name": name,
        "remotePath": format!("orders/binlogs/iad/{name}"),
        "size": std::fs::metadata(&path).unwrap().len(),
        "firstEventTime": s.first_event_time.unwrap().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "lastEventTime": s.last_event_time.unwrap().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    });
    let previous = s.previous_gtids.unwrap().to_string();
    if !previous.is_empty() {
        e["previousGtids"] = previous.into();
    }
    e["archivedAt"] = "2026-03-10T12:00:00.123456789Z".into();
    e
}

/// Uploads both fixture files and a Go-shaped manifest into a directory store.
async fn go_archive(dir: &Path) -> ArchiveStore {
    go_archive_sealed(dir, None).await
}

/// [`go_archive`], BRV1-encrypted with `passphrase` (objects and manifest) when given.
async fn go_archive_sealed(dir: &Path, passphrase: Option<&Passphrase>) -> ArchiveStore {
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir).unwrap();
    let store = Arc::new(fs);
    let seal = |plain: Vec<u8>| match passphrase {
        Some(p) => bloodraven_brv1::encrypt(p, &plain).unwrap(),
        None => plain,
    };
    let mut files = Vec::new();
    for (name, fixture) in NAMES.iter().zip(["binlog.000001", "binlog.000002"]) {
        let bytes = seal(std::fs::read(Path::new(FIXTURES).join(fixture)).unwrap());
        store
            .put(
                &ObjPath::from(format!("orders/binlogs/iad/{name}")),
                PutPayload::from(bytes),
            )
            .await
            .unwrap();
        files.push(go_entry(name, fixture));
    }
    let manifest = serde_json::json!({"version": 1, "site": "iad", "files": files});
    store
        .put(
            &ObjPath::from("orders/binlogs/manifest-iad.json"),
            PutPayload::from(seal(serde_json::to_vec_pretty(&manifest).unwrap())),
        )
        .await
        .unwrap();
    let archive = ArchiveStore::new(store, ArchiveLayout::for_profile_prefix("orders"));
    match passphrase {
        Some(p) => archive.with_passphrase(p.clone()),
        None => archive,
    }
}

fn planned_names(plan: &serde_json::Value) -> Vec<String> {
    plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Without the objects the planner cannot know the newest file's end set: the plan includes what it can
/// (the first file too, despite its empty previous set) and is not complete.
#[tokio::test]
async fn planning_without_the_store_reports_the_newest_file_as_unverifiable() {
    let dir = tempfile::tempdir().unwrap();
    let store = go_archive(dir.path()).await;
    let manifest = store
        .load_manifest(&SiteName::parse("iad").unwrap())
        .await
        .unwrap();
    let plan = pitr::plan(
        std::slice::from_ref(&manifest),
        &History::new(),
        &Target::Latest,
    )
    .unwrap();
    let planned: Vec<&str> = plan.files.iter().map(|f| f.file.name.as_str()).collect();
    assert_eq!(planned, [NAMES[0]], "{plan:?}");
    assert_eq!(plan.recovered.to_string(), format!("{UUID}:1-4"));
    assert_eq!(plan.unverifiable.len(), 1);
    assert_eq!(plan.unverifiable[0].to_string(), "iad/mysql-bin.000002");
    assert!(!plan.is_complete(), "{plan:?}");
}

/// With the store, the library learns the newest file's end set from its (encrypted) object and plans
/// both files; a target before that file needs no read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learning_from_the_store_plans_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let pass = Passphrase::new(b"correct horse battery staple".to_vec()).unwrap();
    let store = go_archive_sealed(dir.path(), Some(&pass)).await;
    let manifests = vec![
        store
            .load_manifest(&SiteName::parse("iad").unwrap())
            .await
            .unwrap(),
    ];
    let learned = pitr::learn_end_sets(&store, &manifests, &Target::Latest)
        .await
        .unwrap();
    assert!(learned.failed.is_empty(), "{:?}", learned.failed);
    let scanned: Vec<String> = learned.scanned.iter().map(ToString::to_string).collect();
    assert_eq!(scanned, ["iad/mysql-bin.000002"]);
    let entry = &learned.manifests[0].files[1];
    assert_eq!(entry.gtids.as_deref(), Some(format!("{UUID}:5-6").as_str()));
    assert_eq!(entry.end_gtids, format!("{UUID}:1-6"));
    assert!(entry.sha256.is_some());

    let plan = pitr::plan(&learned.manifests, &History::new(), &Target::Latest).unwrap();
    assert!(plan.is_complete(), "{plan:?}");
    let planned: Vec<&str> = plan.files.iter().map(|f| f.file.name.as_str()).collect();
    assert_eq!(planned, NAMES);
    assert_eq!(plan.recovered.to_string(), format!("{UUID}:1-6"));
    assert!(plan.unverifiable.is_empty());

    // The download verifies the file against what was learned from it.
    let out = tempfile::tempdir().unwrap();
    let paths = pitr::download(&store, &plan, out.path()).await.unwrap();
    assert_eq!(
        std::fs::read(&paths[1]).unwrap(),
        std::fs::read(Path::new(FIXTURES).join("binlog.000002")).unwrap()
    );

    // A time target before the newest file's first event leaves it outside the window: nothing to read,
    // and the plan without it is complete.
    let first = manifests[0].files[1].first_event_time.unwrap();
    let target = Target::Time(first);
    let learned = pitr::learn_end_sets(&store, &manifests, &target)
        .await
        .unwrap();
    assert!(learned.scanned.is_empty() && learned.failed.is_empty());
    let plan = pitr::plan(&learned.manifests, &History::new(), &target).unwrap();
    assert!(plan.unverifiable_in_window.is_empty(), "{plan:?}");
    assert_eq!(plan.recovered.to_string(), format!("{UUID}:1-4"));

    // A wrong passphrase: the file cannot be read, stays unverifiable, and the plan is incomplete.
    let wrong = store
        .clone()
        .with_passphrase(Passphrase::new(b"wrong".to_vec()).unwrap());
    let learned = pitr::learn_end_sets(&wrong, &manifests, &Target::Latest)
        .await
        .unwrap();
    assert_eq!(learned.failed.len(), 1);
    assert_eq!(learned.failed[0].0.to_string(), "iad/mysql-bin.000002");
    let plan = pitr::plan(&learned.manifests, &History::new(), &Target::Latest).unwrap();
    assert!(!plan.is_complete());
    assert_eq!(plan.unverifiable_in_window, plan.unverifiable);
}

/// `pitr-plan` reads the unverifiable file from the store, learns its end set and recovers everything.
#[test]
fn pitr_plan_recovers_both_files_of_a_go_archive() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(go_archive(dir.path()));
    let s = dir.path().to_str().unwrap();

    let o = run(&[
        "pitr-plan",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--json",
    ]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let plan: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(plan["complete"], true, "{plan}");
    assert_eq!(planned_names(&plan), NAMES);
    assert_eq!(plan["recovered"], format!("{UUID}:1-6"));
    assert_eq!(plan["unverifiable"], serde_json::json!([]));

    // The text form too.
    let o = run(&["pitr-plan", "--store", s, "--prefix", "orders/binlogs"]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).contains(&format!("recovered: {UUID}:1-6")),
        "{}",
        text(&o.stdout)
    );

    // And the download fetches both files.
    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "pitr-download",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--dir",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    for (name, fixture) in NAMES.iter().zip(["binlog.000001", "binlog.000002"]) {
        assert_eq!(
            std::fs::read(out.path().join("iad").join(name)).unwrap(),
            std::fs::read(Path::new(FIXTURES).join(fixture)).unwrap()
        );
    }
}

/// When the newest file's object cannot be read, its end set stays unknown: the plan is incomplete,
/// `pitr-plan` and `pitr-download` exit 1 and name the file.
#[test]
fn an_unreadable_newest_file_makes_the_plan_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(go_archive(dir.path()));
    // Corrupt the object: the reader stops at a bad checksum.
    let object = dir.path().join("orders/binlogs/iad/mysql-bin.000002");
    let mut bytes = std::fs::read(&object).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xff;
    std::fs::write(&object, bytes).unwrap();
    let s = dir.path().to_str().unwrap();

    let o = run(&["pitr-plan", "--store", s, "--prefix", "orders/binlogs"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).contains("iad/mysql-bin.000002"),
        "{}",
        text(&o.stdout)
    );
    assert!(
        text(&o.stdout).contains(&format!("recovered: {UUID}:1-4")),
        "{}",
        text(&o.stdout)
    );

    let o = run(&[
        "pitr-plan",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let plan: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(plan["complete"], false);
    assert_eq!(
        plan["unverifiable"],
        serde_json::json!(["iad/mysql-bin.000002"])
    );

    let out = tempfile::tempdir().unwrap();
    let o = run(&[
        "pitr-download",
        "--store",
        s,
        "--prefix",
        "orders/binlogs",
        "--dir",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("iad/mysql-bin.000002"),
        "{}",
        text(&o.stdout)
    );
}
