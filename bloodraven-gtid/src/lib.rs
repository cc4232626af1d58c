//! MySQL GTID set algebra.
