//! `encrypt-upload` / `decrypt-download` of an external dump directory through the loopback S3 server:
//! every file a BRV1 envelope, the plaintext marker, digests checked on the way back, and the Go
//! envelopes of the shared fixtures downloaded byte for byte.

mod common;

use std::path::Path;

use bloodraven_backup::format::EncryptionMarker;
use bloodraven_backup::object_store::path::Path as ObjectPath;
use bloodraven_backup::transfer::{decrypt_download, encrypt_upload};
use bloodraven_backup::{Error, Passphrase};
use bloodraven_test_support::s3::S3Server;

use common::*;

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/brv1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_directories_round_trip_encrypted_through_s3() {
    let s3 = S3Server::start().unwrap();
    let location = s3_location(&s3, "orders");
    let store = location.store().clone();
    let src = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.path().join("@.json"), br#"{"gtidExecuted":"0-1-5"}"#).unwrap();
    std::fs::write(src.path().join("shop@t@0.tsv.zst"), &big).unwrap();
    std::fs::write(src.path().join("empty"), b"").unwrap();
    std::fs::create_dir(src.path().join("sub")).unwrap();
    std::fs::write(
        src.path().join("sub/shop%40x.sql"),
        b"CREATE TABLE x (a INT);",
    )
    .unwrap();
    std::fs::write(src.path().join("BLOODRAVEN_DUMP_META.json"), b"{}").unwrap();
    let pass = Passphrase::new(b"swordfish".to_vec()).unwrap();

    let prefix = ObjectPath::from("orders/ext-1");
    let up = encrypt_upload(src.path(), &store, &prefix, &pass)
        .await
        .unwrap();
    assert_eq!(
        up.files.keys().collect::<Vec<_>>(),
        ["@.json", "empty", "shop@t@0.tsv.zst", "sub/shop%40x.sql"]
    );
    let stored = s3.root().join(s3.bucket()).join("orders/ext-1");
    let marker_text = std::fs::read_to_string(stored.join("BLOODRAVEN_ENCRYPTION.json")).unwrap();
    assert!(marker_text.starts_with(
        "{\n  \"version\": 1,\n  \"algorithm\": \"AES-256-GCM\",\n  \"createdAt\": \""
    ));
    assert!(!marker_text.ends_with('\n'));
    let marker: EncryptionMarker = serde_json::from_str(&marker_text).unwrap();
    assert_eq!(marker.file_count, 4);
    assert_eq!(marker.files, up.files);
    // Each object is one BRV1 envelope of the file, nothing else.
    let sealed = std::fs::read(stored.join("shop@t@0.tsv.zst")).unwrap();
    assert_eq!(bloodraven_brv1::decrypt(&pass, &sealed).unwrap(), big);
    assert!(!stored.join("BLOODRAVEN_DUMP_META.json").exists());

    let back = tempfile::tempdir().unwrap();
    let down = decrypt_download(&store, &prefix, back.path(), &pass, false)
        .await
        .unwrap();
    assert_eq!(down.files, up.files);
    assert_eq!(
        std::fs::read(back.path().join("shop@t@0.tsv.zst")).unwrap(),
        big
    );
    assert_eq!(
        std::fs::read(back.path().join("sub/shop%40x.sql")).unwrap(),
        b"CREATE TABLE x (a INT);"
    );
    assert_eq!(std::fs::read(back.path().join("empty")).unwrap(), b"");

    // A wrong passphrase, and a digest that does not match the marker, fail.
    let wrong = Passphrase::new(b"not it".to_vec()).unwrap();
    let err = decrypt_download(
        &store,
        &prefix,
        tempfile::tempdir().unwrap().path(),
        &wrong,
        false,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let mut bad = marker.clone();
    bad.files.insert("empty".into(), "00".repeat(32));
    std::fs::write(stored.join("BLOODRAVEN_ENCRYPTION.json"), bad.to_go_json()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = decrypt_download(&store, &prefix, out.path(), &pass, false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { what: "sha256", ref object, .. } if object.ends_with("empty")),
        "{err}"
    );
    assert!(!out.path().join("empty").exists());

    // A symlink in the source is refused.
    std::os::unix::fs::symlink("/etc/hostname", src.path().join("link")).unwrap();
    let err = encrypt_upload(src.path(), &store, &ObjectPath::from("orders/ext-2"), &pass)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");

    // Envelopes written by the Go implementation (shared fixtures) download to their plaintext.
    for name in ["v1-empty", "v2-hello", "v3-one-chunk"] {
        let body = std::fs::read(fixtures().join(format!("{name}.brv1"))).unwrap();
        let go = ObjectPath::from(format!("orders/go-{name}"));
        bloodraven_backup::object_store::ObjectStoreExt::put(
            store.as_ref(),
            &ObjectPath::from(format!("orders/go-{name}/{name}")),
            body.into(),
        )
        .await
        .unwrap();
        let go_pass = Passphrase::from_file(fixtures().join(format!("{name}.pass"))).unwrap();
        let out = tempfile::tempdir().unwrap();
        decrypt_download(&store, &go, out.path(), &go_pass, false)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(out.path().join(name)).unwrap(),
            std::fs::read(fixtures().join(format!("{name}.plain"))).unwrap(),
            "{name}"
        );
    }
}
