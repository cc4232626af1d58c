//! Bloodraven's failover engine: decides, every poll, what the sites of a failover group are and what to do.
//!
//! This crate knows nothing of Kubernetes. It is split like rustls splits protocol from IO:
//!
//! * [`engine`] — the pure core. [`engine::Engine::step`] takes one poll's observations (per-site probes with
//!   read-only flags, GTID sets and replica status), the outcomes of the previous actions and the time, plus the
//!   durable [`record::Record`] it was built from, and returns a [`engine::Decision`]: the state of every site, the
//!   reason and conditions, events, and the ordered [`engine::Action`]s to take. No IO, no clock, no randomness.
//! * [`site`] — the [`site::Site`] trait: the MySQL/MariaDB admin operations (probe, fence, promotion steps,
//!   replication, clone) the runner performs on one server. Drivers implement it.
//! * [`record`] — the durable failover record: cooldown stamp, promotion history, recovery markers, the planned
//!   failover in flight.
//! * [`annotations`] — the planned-failover and reclone annotation grammars, with the GTID-prefix interlock.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod annotations;
pub mod driver;
pub mod engine;
pub mod platform;
pub mod record;
pub mod runner;
pub mod sim;
pub mod site;
