//! Bloodraven's Kubernetes API: the five `shipstream.io/v1alpha1` custom resources as typed Rust,
//! the CRDs the API server serves, and the same validation offline.
//!
//! # The model
//!
//! A [`MysqlFailoverGroup`] is 2–16 single-instance MySQL *sites* replicating with GTIDs; the
//! operator keeps exactly one writable primary, moves a DNS record to it and fails over when it
//! dies. Around it: a [`MysqlBackup`](backup::MysqlBackup) is one dump of a group through one of
//! its backup profiles, a [`MysqlBackupVerification`](verification::MysqlBackupVerification)
//! restores a backup into a throw-away server to prove it loads, a
//! [`MysqlStandbyCluster`](standby::MysqlStandbyCluster) watches a group's backup bucket from
//! another cluster and holds the group `template` to create there on activation, and a
//! [`MysqlDatabase`](database::MysqlDatabase) is a tenant database with its accounts.
//!
//! The types keep the Go operator's JSON exactly (including `lbIP`, `endpointURL`, `s3UseHTTPS`,
//! `lastIOSecondsAgo`), so existing manifests read and write unchanged: optional and tri-state
//! fields are `Option`s that are never serialized when `None`, durations are
//! [`Duration`](duration::Duration)s that keep the Go text (`2s`, `1h30m`), sizes are k8s-openapi
//! `Quantity`s and embedded Kubernetes types come from k8s-openapi. Defaults live in the CRD
//! schema, where the API server applies them; `*_or_default` helpers give the same values to code.
//!
//! # Validating
//!
//! [`Validate`] checks an object the way the API server would (schema bounds,
//! enums, patterns, the CEL rules) and adds the operator's cross-field rules, returning *every*
//! violation with its field path and how to fix it. [`manifest`] reads YAML streams of any kind.
//!
//! ```
//! use bloodraven_api::MysqlFailoverGroup;
//! use bloodraven_api::validate::Validate;
//!
//! let yaml = r#"
//! apiVersion: shipstream.io/v1alpha1
//! kind: MysqlFailoverGroup
//! metadata: { name: orders }
//! spec:
//!   credentials: { operatorSecret: mysql-operator-creds }
//!   dns: { hostname: orders.example.com }
//!   pollInterval: 1s
//!   sites:
//!     - name: iad
//!       zone: us-east-1a
//!       taintNodeSelector: { shipstream.io/site.orders: iad }
//!       lbIP: 10.0.1.1
//!       storage: { storageClassName: gp3, size: 50Gi }
//!     - name: pdx
//!       role: read-only
//!       zone: us-west-2a
//!       storage: { storageClassName: gp3, size: 50Gi }
//! "#;
//! let group: MysqlFailoverGroup = bloodraven_api::manifest::from_yaml(yaml)?;
//! assert_eq!(group.spec.poll_interval_or_default().as_nanos(), 1_000_000_000);
//!
//! // One promotable site is not enough to fail over.
//! let violations = group.violations();
//! assert_eq!(violations.len(), 1);
//! assert_eq!(violations[0].path, "spec.sites");
//! println!("{}", violations[0]); // spec.sites: 1 site is primary-candidate, at least two are needed ...
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! - [`failovergroup`], [`backup`], [`verification`], [`standby`], [`database`]: the five kinds,
//!   their specs and statuses.
//! - [`crd`]: the CRDs as the API server should receive them (also `bloodraven-api crds`).
//! - [`validate`] and [`manifest`]: validation and reading YAML (also `bloodraven-api lint`).
//! - [`annotations`]: the parsed grammars of the `planned-failover` and `reclone-site` annotations.
//! - [`reference`](mod@reference): the CRD reference in Markdown (also `bloodraven-api crd-reference`).
//! - [`names`]: every label, annotation, finalizer, taint, Event reason and metric name.
//! - [`conditions`]: `metav1.Condition` helpers with Kubernetes semantics.
//! - [`duration`]: Go-style durations.
//!
//! # Crate features
//!
//! - `cli` (default): the `bloodraven-api` binary (`crds`, `lint`, `crd-reference`). Library users who want no
//!   command-line dependencies set `default-features = false`.
//!
//! The crate enables k8s-openapi's newest Kubernetes version (`latest`); it does no IO and starts
//! no runtime. kube is used only for its `CustomResource` derive.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

pub mod annotations;
pub mod backup;
pub mod conditions;
pub mod crd;
pub mod database;
pub mod duration;
mod error;
pub mod failovergroup;
pub mod manifest;
pub mod names;
pub mod reference;
pub(crate) mod schema;
pub mod standby;
pub mod validate;
pub mod verification;

pub use error::Error;
pub use failovergroup::{MysqlFailoverGroup, MysqlFailoverGroupSpec};
/// Re-exported because its types (`Quantity`, `Time`, `Condition`, core types) are part of this API.
pub use k8s_openapi;
pub use manifest::Manifest;
pub use validate::{Validate, Violation};
