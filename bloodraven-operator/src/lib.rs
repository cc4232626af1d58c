//! Bloodraven's failover engine: decides, every poll, what the sites of a failover group are and what to do.
//!
//! This crate knows nothing of Kubernetes. It is split like rustls splits protocol from IO:
//!
//! * [`site`] — the [`site::Site`] trait: the MySQL/MariaDB admin operations (probe, fence, promote steps,
//!   replication, clone) the runner performs on one server. Drivers implement it.
//!
//! The engine model and its state diagram are documented as the modules land.

pub mod site;
