//! `bloodraven-sim`: runs the deterministic failover simulation over many seeds.

fn main() {}
