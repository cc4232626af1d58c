//! The `bloodraven-backup` binary: dump and restore by URL with `--json`, exit codes, and a dump killed
//! with SIGKILL half-way that no restore accepts.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bloodraven-backup"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_and_restore_by_url_print_results_and_exit_zero() {
    let source = server(1);
    exec(&source, FIXTURE).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/nightly", dir.path().display());
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "a passphrase\n").unwrap();
    let out = bin()
        .args([
            "dump",
            "--to",
            &url,
            "--port",
            &source.port().to_string(),
            "--threads",
            "2",
        ])
        .args(["--json", "--passphrase-file", pass.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("BLOODRAVEN_DUMP_COMPLETE location="),
        "{stderr}"
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let gtid = result["meta"]["gtidExecuted"].as_str().unwrap().to_owned();
    assert_eq!(gtid, source.sql("SELECT @@gtid_binlog_pos").unwrap().trim());
    assert!(result["meta"]["end"].as_str().unwrap().ends_with('Z'));

    let target = server(2);
    let out = bin()
        .args([
            "restore",
            "--from",
            &url,
            "--port",
            &target.port().to_string(),
        ])
        .args(["--json", "--passphrase-file", pass.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("BLOODRAVEN_RESTORE_COMPLETE"), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["gtidExecuted"], gtid.as_str());
    assert_eq!(checksums(&target).await, checksums(&source).await);

    // Verification: exit 0 when the sanity query passes, 1 when it does not.
    for (min, code) in [("3000", 0), ("3001", 1)] {
        let out = bin()
            .args([
                "verify",
                "--from",
                &url,
                "--passphrase-file",
                pass.to_str().unwrap(),
            ])
            .args([
                "--sanity-query",
                "SELECT COUNT(*) FROM shop.items",
                "--min-rows",
                min,
            ])
            .args([
                "--no-keep-on-failure",
                "--json",
                "--server-arg=--innodb-log-file-size=8M",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result["gtidActual"], gtid.as_str());
        assert_eq!(result["sanityCheck"]["resultRow"], "3000");
        if code == 1 {
            assert_eq!(result["reason"], "SanityCheckFailed");
        }
        assert!(
            stderr.contains("BLOODRAVEN_VERIFY_SANITY_COMPLETE ran=1"),
            "{stderr}"
        );
    }

    // Without the passphrase: exit 2 and a message that says what to do.
    let other = server(3);
    let out = bin()
        .args([
            "restore",
            "--from",
            &url,
            "--port",
            &other.port().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("bloodraven-backup: restore failed: dump "),
        "{stderr}"
    );
    assert!(stderr.contains("--passphrase-file"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_killed_half_way_is_never_restored() {
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
    let dir = tempfile::tempdir().unwrap();
    let dump_dir = dir.path().join("killed");
    let url = format!("file://{}", dump_dir.display());
    let mut child = bin()
        .args(["dump", "--to", &url, "--port", &source.port().to_string()])
        .args([
            "--threads",
            "1",
            "--bytes-per-chunk",
            "4096",
            "--no-progress",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let chunks = std::fs::read_dir(&dump_dir)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tsv.zst"))
                })
                .count()
            })
            .unwrap_or(0);
        if chunks >= 3 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the dump finished before it could be killed"
        );
        assert!(Instant::now() < deadline, "no chunk appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!dump_dir.join("@.done.json").exists());

    let target = server(2);
    let out = bin()
        .args([
            "restore",
            "--from",
            &url,
            "--port",
            &target.port().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is incomplete: @.done.json is missing"),
        "{stderr}"
    );
    assert_eq!(target.sql("SHOW DATABASES LIKE 'big'").unwrap(), "");
}

/// The library's warnings reach the command line's stderr: a passphrase given for a plain dump is ignored, and
/// the dry run says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passphrase_for_a_plain_dump_is_ignored_with_a_warning() {
    let source = server(1);
    exec(&source, FIXTURE).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/plain", dir.path().display());
    let out = bin()
        .args(["dump", "--to", &url, "--port", &source.port().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "a passphrase\n").unwrap();
    let out = bin()
        .args(["restore", "--from", &url, "--dry-run", "--passphrase-file"])
        .arg(&pass)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("WARN")
            && stderr.contains("dump is not encrypted; ignoring the passphrase"),
        "{stderr}"
    );
}
