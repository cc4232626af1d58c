//! MySQL GTID set algebra.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

mod error;
mod gtid;
mod mariadb;
#[cfg(feature = "serde")]
mod serde_impl;
mod set;
mod tag;
mod uuid;

pub use error::Error;
pub use gtid::{Gtid, Interval, MAX_GNO};
pub use mariadb::{MariadbGtid, MariadbGtidList};
pub use set::{EncodingFormat, GtidSet, GtidSetBuilder, SetRelation};
pub use tag::Tag;
pub use uuid::ServerUuid;
