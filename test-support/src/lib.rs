//! Test helpers shared by the Bloodraven crates (unpublished).
//!
//! [`kube::kubeconfig`] brings up a real Kubernetes API server (v1.20, built from Debian's sources) for the
//! controller tests.
//!
//! [`mariadb::MariaDb`] starts a real `mariadbd` (Debian's `mariadb-server`) on a temporary data directory and a
//! free loopback port, with binary logging and GTIDs configured for replication tests. Everything here is
//! synchronous and uses only the standard library, so any crate can add it as a dev-dependency cheaply.
//! [`docs::check`] runs every command the user docs show through the real binary's argument parser.
//! [`proxy::Proxy`] is a fault-injecting TCP proxy (forward, refuse, blackhole, delay, canned answer) to put between
//! components.
//!
//! ```no_run
//! use bloodraven_test_support::mariadb::MariaDb;
//!
//! let server = MariaDb::builder().server_id(7).log_bin(true).start()?;
//! server.sql("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t VALUES (1)")?;
//! assert_eq!(server.sql("SELECT id FROM d.t")?, "1\n");
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod docs;
pub mod kube;
pub mod mariadb;
pub mod proxy;
#[cfg(feature = "s3")]
pub mod s3;
