//! `BLOODRAVEN_ENCRYPT_METRICS` end to end without a cluster: the real `bloodraven encrypt-upload` and
//! `decrypt-download` sub-commands run on a PVC-style directory, and what they print (stdout) and leave in their
//! termination message (the result file the controllers read) is parsed into the `bloodraven_backup_encrypt_*` /
//! `decrypt_*` families the controllers export.

use std::path::Path;
use std::process::{Command, Output};

use bloodraven_operator::controller::backup::metrics::BackupMetrics;
use bloodraven_operator::jobs::result::EncryptMetrics;
use prometheus_client::registry::Registry;

struct Run {
    output: Output,
    /// The result file (`/dev/termination-log` in a pod).
    termination_message: String,
}

fn bloodraven(step: &str, mount: &Path, env: &[(&str, &Path)], result: &Path) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_bloodraven"))
        .arg(step)
        .env("BLOODRAVEN_STORAGE_TYPE", "PVC")
        .env("BLOODRAVEN_PVC_MOUNT_PATH", mount)
        .env("BLOODRAVEN_RESULT_FILE", result)
        .envs(env.iter().map(|(k, v)| (k, v.as_os_str())))
        .output()
        .unwrap();
    Run {
        output,
        termination_message: std::fs::read_to_string(result).unwrap_or_default(),
    }
}

fn render(m: BackupMetrics) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(m));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text
}

/// Parses `messages` (one stage line each) as the controllers do, checks the exported families hold one
/// encrypt stage of `encrypt_bytes`, one decrypt stage and one failed decrypt, and returns the exposition.
fn exported(messages: &[&str], encrypt_bytes: u64) -> String {
    let m = BackupMetrics::default();
    for message in messages {
        assert_eq!(
            m.encrypt_stages("orders", "nightly", message),
            1,
            "{message}"
        );
    }
    let text = render(m);
    for line in [
        r#"bloodraven_backup_encrypt_duration_seconds_count{group="orders",profile="nightly"} 1"#,
        r#"bloodraven_backup_decrypt_duration_seconds_count{group="orders",profile="nightly"} 1"#,
        &format!(
            r#"bloodraven_backup_encrypt_bytes_total{{group="orders",profile="nightly"}} {encrypt_bytes}"#
        ),
        r#"bloodraven_backup_encrypt_failures_total{group="orders",profile="nightly",stage="decrypt"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    text
}

#[test]
fn encrypt_and_decrypt_stages_are_parsed_into_the_go_metric_families() {
    let tmp = tempfile::tempdir().unwrap();
    let staging = tmp.path().join("staging/orders-1");
    std::fs::create_dir_all(staging.join("d")).unwrap();
    let table = vec![b'x'; 300_000];
    std::fs::write(staging.join("d/t@@0.tsv.zst"), &table).unwrap();
    std::fs::write(staging.join("@.json"), br#"{"dump":"meta"}"#).unwrap();
    std::fs::write(
        staging.join("BLOODRAVEN_DUMP_META.json"),
        br#"{"gtidExecuted": "0-1-7", "binlogFile": "mysql-bin.000002", "binlogPos": 42}"#,
    )
    .unwrap();
    let mount = tmp.path().join("backups");
    std::fs::create_dir_all(&mount).unwrap();
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase").unwrap();
    let output = mount.join("orders-1");

    let up = bloodraven(
        "encrypt-upload",
        &mount,
        &[
            ("BLOODRAVEN_BACKUP_NAME", Path::new("orders-1")),
            ("BLOODRAVEN_SOURCE_DIR", &staging),
            ("BLOODRAVEN_OUTPUT_URL", &output),
            ("BLOODRAVEN_BACKUP_PASSPHRASE_FILE", &pass),
        ],
        &tmp.path().join("encrypt.log"),
    );
    assert!(
        up.output.status.success(),
        "{}",
        String::from_utf8_lossy(&up.output.stderr)
    );
    let stdout = String::from_utf8_lossy(&up.output.stdout).into_owned();
    let encrypt = EncryptMetrics::parse_last(&up.termination_message).unwrap();
    assert_eq!(EncryptMetrics::parse_last(&stdout), Some(encrypt.clone()));
    assert_eq!(encrypt.stage, "encrypt");
    assert!(encrypt.succeeded(), "{encrypt:?}");
    assert_eq!(encrypt.files, 2, "{encrypt:?}");
    assert_eq!(encrypt.bytes, 300_000 + 15, "{encrypt:?}");
    assert!(encrypt.ciphertext > encrypt.bytes, "{encrypt:?}");

    let good = bloodraven(
        "decrypt-download",
        &mount,
        &[
            ("BLOODRAVEN_SOURCE_PREFIX", &output),
            ("BLOODRAVEN_TARGET_DIR", &tmp.path().join("decrypted")),
            ("BLOODRAVEN_BACKUP_PASSPHRASE_FILE", &pass),
        ],
        &tmp.path().join("decrypt.log"),
    );
    assert!(
        good.output.status.success(),
        "{}",
        String::from_utf8_lossy(&good.output.stderr)
    );
    assert_eq!(
        std::fs::read(tmp.path().join("decrypted/d/t@@0.tsv.zst")).unwrap(),
        table
    );
    let decrypt = EncryptMetrics::parse_last(&good.termination_message).unwrap();
    assert_eq!(
        (decrypt.stage.as_str(), decrypt.succeeded()),
        ("decrypt", true)
    );
    assert_eq!(decrypt.bytes, encrypt.bytes);

    // A wrong passphrase: exit 2, and the termination message carries the failure line before the error.
    let bad = bloodraven(
        "decrypt-download",
        &mount,
        &[
            ("BLOODRAVEN_SOURCE_PREFIX", &output),
            ("BLOODRAVEN_TARGET_DIR", &tmp.path().join("decrypted-wrong")),
            ("BLOODRAVEN_BACKUP_PASSPHRASE_FILE", &wrong),
        ],
        &tmp.path().join("decrypt-wrong.log"),
    );
    assert_eq!(bad.output.status.code(), Some(2));
    let failed = EncryptMetrics::parse_last(&bad.termination_message).unwrap();
    assert_eq!(
        (failed.stage.as_str(), failed.succeeded()),
        ("decrypt", false)
    );
    assert!(
        bad.termination_message
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("bloodraven: ")),
        "{}",
        bad.termination_message
    );
    assert!(
        String::from_utf8_lossy(&bad.output.stdout).contains("BLOODRAVEN_ENCRYPT_METRICS"),
        "the failure line is also printed"
    );

    // The controllers' parse of those three termination messages.
    let text = exported(
        &[
            &up.termination_message,
            &good.termination_message,
            &bad.termination_message,
        ],
        encrypt.bytes,
    );
    assert!(
        !text.contains(r#"stage="encrypt"} "#),
        "no encrypt failure was reported: {text}"
    );
}

#[test]
fn go_lines_and_several_stages_in_one_message_are_all_recorded() {
    // The Go encrypt-upload's own lines (no percent encoding), one failed attempt and one success in one log.
    let log = "BLOODRAVEN_ENCRYPT_UPLOAD_START src=/staging/b output=s3://x/b algorithm=AES-256-GCM\n\
               BLOODRAVEN_ENCRYPT_METRICS stage=encrypt result=failure duration=0.250 bytes=10 files=1\n\
               BLOODRAVEN_ENCRYPT_METRICS stage=encrypt result=success duration=2.500 bytes=4096 ciphertext=4200 files=3\n\
               BLOODRAVEN_DUMP_COMPLETE location=s3://x/b/ sizeBytes=4096\n";
    let m = BackupMetrics::default();
    assert_eq!(m.encrypt_stages("orders", "weekly", log), 2);
    let text = render(m);
    for line in [
        r#"bloodraven_backup_encrypt_failures_total{group="orders",profile="weekly",stage="encrypt"} 1"#,
        r#"bloodraven_backup_encrypt_bytes_total{group="orders",profile="weekly"} 4096"#,
        r#"bloodraven_backup_encrypt_duration_seconds_sum{group="orders",profile="weekly"} 2.5"#,
        r#"bloodraven_backup_encrypt_duration_seconds_bucket{le="5.0",group="orders",profile="weekly"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(
        !text.contains("bloodraven_backup_decrypt_duration_seconds_count{"),
        "{text}"
    );
}

/// The Rust Jobs encrypt inside `bloodraven dump` and decrypt inside `bloodraven restore`: both report the
/// stage, so the encrypt and decrypt families fill without the Go `encrypt-upload` step; a restore with the
/// wrong passphrase reports a failed decrypt stage.
#[test]
fn an_encrypting_dump_and_a_decrypting_restore_report_their_stages() {
    use bloodraven_test_support::mariadb::MariaDb;
    let source = MariaDb::builder().server_id(1).start().unwrap();
    source
        .sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT); INSERT INTO d.t SELECT seq, REPEAT('v', seq % 500) FROM d.seq_1_to_3000")
        .unwrap();
    let target = MariaDb::builder().server_id(2).start().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("backups");
    std::fs::create_dir_all(&mount).unwrap();
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase").unwrap();
    let dump_dir = mount.join("orders-1");
    let host = |db: &MariaDb| format!("127.0.0.1:{}", db.port());
    let source_host = host(&source);
    let target_host = host(&target);

    let dumped = bloodraven(
        "dump",
        &mount,
        &[
            ("BLOODRAVEN_MYSQL_HOST", Path::new(&source_host)),
            ("BLOODRAVEN_OUTPUT_URL", &dump_dir),
            ("BLOODRAVEN_BACKUP_PASSPHRASE_FILE", &pass),
        ],
        &tmp.path().join("dump.log"),
    );
    assert!(
        dumped.output.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.output.stderr)
    );
    let encrypt = EncryptMetrics::parse_last(&dumped.termination_message).unwrap();
    assert_eq!(
        (encrypt.stage.as_str(), encrypt.result.as_str()),
        ("encrypt", "success")
    );
    let stored: u64 = std::fs::read_dir(&dump_dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(encrypt.ciphertext, stored);
    assert!(encrypt.bytes > 0 && encrypt.bytes < stored, "{encrypt:?}");
    assert!(encrypt.files > 3, "{encrypt:?}");

    let restore = |passphrase: &Path, log: &str| {
        bloodraven(
            "restore",
            &mount,
            &[
                ("BLOODRAVEN_MYSQL_HOST", Path::new(&target_host)),
                ("BLOODRAVEN_INPUT_URL", &dump_dir),
                ("BLOODRAVEN_BACKUP_PASSPHRASE_FILE", passphrase),
            ],
            &tmp.path().join(log),
        )
    };
    let refused = restore(&wrong, "wrong.log");
    assert!(!refused.output.status.success());
    let failed = EncryptMetrics::parse_last(&refused.termination_message).unwrap();
    assert_eq!(
        (failed.stage.as_str(), failed.result.as_str()),
        ("decrypt", "failure")
    );

    let restored = restore(&pass, "restore.log");
    assert!(
        restored.output.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.output.stderr)
    );
    let decrypt = EncryptMetrics::parse_last(&restored.termination_message).unwrap();
    assert_eq!(
        (decrypt.stage.as_str(), decrypt.result.as_str()),
        ("decrypt", "success")
    );
    assert_eq!(decrypt.bytes, encrypt.bytes);
    assert_eq!(
        target.sql("SELECT COUNT(*) FROM d.t").unwrap().trim(),
        "3000"
    );

    exported(
        &[
            &dumped.termination_message,
            &restored.termination_message,
            &refused.termination_message,
        ],
        encrypt.bytes,
    );
}
