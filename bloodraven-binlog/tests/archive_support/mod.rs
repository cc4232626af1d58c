//! Helpers shared by the archive suites: fixture binlog directories, names, object reads, and the three
//! stores each suite runs on (`InMemory`, the local filesystem, a real S3-protocol server on loopback).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bloodraven_binlog::manifest::{ArchiveLayout, SiteName};
use bloodraven_test_support::s3::S3Server;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, path::Path as ObjPath};
use sha2::{Digest, Sha256};

pub(crate) const FIXTURES: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/binlog");
/// Two files of one MySQL 8 server that chain (000002's previous GTIDs are 000001's end).
pub(crate) const CHAIN: [&str; 2] = [
    "percona-binlog-server/binlog.000001",
    "percona-binlog-server/binlog.000002",
];
pub(crate) const UUID: &str = "396e294c-1ca4-11f1-9ae7-00155da79c6b";

/// A binlog directory with an index, built from fixture files under new names.
pub(crate) struct BinlogDir {
    dir: tempfile::TempDir,
    names: Vec<String>,
}

impl BinlogDir {
    pub(crate) fn new() -> Self {
        BinlogDir {
            dir: tempfile::tempdir().unwrap(),
            names: Vec::new(),
        }
    }

    /// Appends a file (copied from a fixture) and rewrites the index.
    pub(crate) fn push(&mut self, fixture: &str) -> String {
        let name = format!("mysql-bin.{:06}", self.names.len() + 1);
        std::fs::copy(
            Path::new(FIXTURES).join(fixture),
            self.dir.path().join(&name),
        )
        .unwrap();
        self.names.push(name.clone());
        let index: String = self.names.iter().map(|n| format!("./{n}\n")).collect();
        std::fs::write(self.dir.path().join("mysql-bin.index"), index).unwrap();
        name
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    pub(crate) fn bytes(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).unwrap()
    }
}

pub(crate) fn site(s: &str) -> SiteName {
    SiteName::parse(s).unwrap()
}

pub(crate) fn layout() -> ArchiveLayout {
    ArchiveLayout::for_profile_prefix("orders")
}

pub(crate) async fn object(store: &dyn ObjectStore, key: &str) -> Option<Vec<u8>> {
    match store.get(&ObjPath::from(key)).await {
        Ok(r) => Some(r.bytes().await.unwrap().to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("get {key}: {e}"),
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Keeps a store's backing resource alive for the test.
pub(crate) enum Guard {
    None,
    Dir(#[allow(dead_code)] tempfile::TempDir),
    S3(#[allow(dead_code)] S3Server),
}

pub(crate) fn in_memory() -> (Arc<dyn ObjectStore>, Guard) {
    (Arc::new(InMemory::new()), Guard::None)
}

pub(crate) fn local_fs() -> (Arc<dyn ObjectStore>, Guard) {
    let dir = tempfile::tempdir().unwrap();
    let store = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    (Arc::new(store), Guard::Dir(dir))
}

pub(crate) fn s3() -> (Arc<dyn ObjectStore>, Guard) {
    let server = S3Server::start().unwrap();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(server.endpoint())
        .with_bucket_name(server.bucket())
        .with_access_key_id(server.access_key())
        .with_secret_access_key(server.secret_key())
        .with_region(server.region())
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .unwrap();
    (Arc::new(store), Guard::S3(server))
}
