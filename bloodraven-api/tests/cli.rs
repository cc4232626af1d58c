//! The `bloodraven-api` binary: `crds` and `lint`, their output formats and exit codes.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/manifests"
);

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bloodraven-api"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run bloodraven-api")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// A scratch directory under the target's temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("bloodraven-api-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

#[test]
fn crds_to_stdout_is_five_documents_matching_the_committed_files() {
    let out = run(&["crds"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
    let kinds: Vec<&str> = docs
        .iter()
        .map(|d| d["spec"]["names"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "MysqlFailoverGroup",
            "MysqlBackup",
            "MysqlBackupVerification",
            "MysqlStandbyCluster",
            "MysqlDatabase"
        ]
    );
    let mut committed = String::new();
    for plural in [
        "mysqlfailovergroups",
        "mysqlbackups",
        "mysqlbackupverifications",
        "mysqlstandbyclusters",
        "mysqldatabases",
    ] {
        let path = format!(
            "{}/crds/shipstream.io_{plural}.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        committed.push_str(&std::fs::read_to_string(path).unwrap());
    }
    assert!(
        text == committed,
        "stdout differs from the committed crds/ files"
    );
}

#[test]
fn crds_out_writes_one_file_per_kind() {
    let scratch = Scratch::new("crds");
    let dir = scratch.0.join("nested/out");
    let out = run(&["crds", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "shipstream.io_mysqlbackups.yaml",
            "shipstream.io_mysqlbackupverifications.yaml",
            "shipstream.io_mysqldatabases.yaml",
            "shipstream.io_mysqlfailovergroups.yaml",
            "shipstream.io_mysqlstandbyclusters.yaml",
        ]
    );
    for f in &files {
        let written = std::fs::read_to_string(dir.join(f)).unwrap();
        let committed =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("crds").join(f))
                .unwrap();
        assert!(written == committed, "{f} differs");
        assert!(stderr(&out).contains(&format!("wrote {}", dir.join(f).display())));
    }
}

#[test]
fn crds_json_is_one_crd_per_line() {
    let out = run(&["crds", "--json"]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(
        lines
            .iter()
            .all(|l| l["kind"] == "CustomResourceDefinition")
    );
}

#[test]
fn lint_accepts_every_fixture() {
    let mut args = vec!["lint".to_owned()];
    for e in std::fs::read_dir(FIXTURES).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "yaml") {
            args.push(path.display().to_string());
        }
    }
    assert!(args.len() > 6);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).is_empty() && stderr(&out).is_empty());
}

const BAD_MULTI_DOC: &str = r#"# A Secret, a broken group and a valid backup in one stream.
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {dsn: "u:p@tcp(h:3306)/"}
---
apiVersion: shipstream.io/v1alpha1
kind: MysqlFailoverGroup
metadata: {name: orders}
spec:
  credentials: {operatorSecret: creds}
  dns: {hostname: orders.example.com}
  pollInterval: 5 minutes
  sites:
    - {name: iad, zone: a, taintNodeSelector: {k: v}, lbIP: 10.0.0.1, storage: {storageClassName: gp3, size: 5Gi}}
    - {name: iad, zone: b, taintNodeSelector: {k: v}, lbIP: 10.0.0.2, storage: {storageClassName: gp3, size: 5Gi}}
---
---
apiVersion: shipstream.io/v1alpha1
kind: MysqlBackup
metadata: {name: b1}
spec: {failoverGroupRef: {name: orders}, profileName: nightly}
"#;

#[test]
fn lint_reports_each_violation_as_file_kind_name_path_message() {
    let scratch = Scratch::new("lint");
    let file = scratch.write("bad.yaml", BAD_MULTI_DOC);
    let out = run(&["lint", &file]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let expected = [
        format!(
            "{file}: MysqlFailoverGroup/orders: spec.pollInterval: \"5 minutes\" is not a Go duration: write a number and a unit, such as 30s, 5m, 1h30m or 300ms"
        ),
        format!(
            "{file}: MysqlFailoverGroup/orders: spec.sites[1].name: duplicate site name \"iad\" (also used by spec.sites[0]): site names must be unique"
        ),
    ];
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), expected);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    // Valid files next to an invalid one still exit 1; --json gives one object per violation.
    let out = run(&[
        "lint",
        "--json",
        &fixture("failovergroup-minimal.yaml"),
        &file,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["path"], "spec.sites[1].name");
    assert_eq!(lines[1]["kind"], "MysqlFailoverGroup");
    assert_eq!(lines[1]["file"], file.as_str());
}

#[test]
fn lint_flags_wrong_versions_and_unknown_kinds_of_our_group() {
    let scratch = Scratch::new("kinds");
    let file = scratch.write(
        "kinds.yaml",
        "apiVersion: shipstream.io/v1\nkind: MysqlBackup\nmetadata: {name: a}\nspec: {}\n---\n\
         apiVersion: shipstream.io/v1alpha1\nkind: MysqlReplicaPair\nmetadata: {generateName: p-}\n",
    );
    let out = run(&["lint", &file]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains(&format!("{file}: MysqlBackup/a: apiVersion: unsupported apiVersion \"shipstream.io/v1\": use shipstream.io/v1alpha1")), "{text}");
    assert!(
        text.contains(&format!(
            "{file}: MysqlReplicaPair/p-*: kind: unsupported kind \"MysqlReplicaPair\""
        )),
        "{text}"
    );
}

#[test]
fn lint_exit_2_when_a_file_is_missing_or_not_yaml() {
    let scratch = Scratch::new("broken");
    let not_yaml = scratch.write("broken.yaml", "spec: [unclosed\n  - {a: \n");
    let missing = scratch.0.join("missing.yaml").display().to_string();
    let bad = scratch.write("bad.yaml", BAD_MULTI_DOC);
    let out = run(&[
        "lint",
        &bad,
        &not_yaml,
        &missing,
        &fixture("standbycluster.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    // The readable files are still checked and reported.
    assert_eq!(stdout(&out).lines().count(), 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("bloodraven-api: {not_yaml}: invalid YAML")),
        "{err}"
    );
    assert!(
        err.contains(&format!("bloodraven-api: {missing}: cannot read file")),
        "{err}"
    );
}

#[test]
fn lint_reads_stdin_and_needs_a_file() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bloodraven-api"))
        .args(["lint", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(BAD_MULTI_DOC.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("-: MysqlFailoverGroup/orders: spec.pollInterval:"));

    let out = run(&["lint"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}
