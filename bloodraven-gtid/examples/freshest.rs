//! Picks the freshest of several replicas from their `@@gtid_executed`, as a failover would, and prints
//! what each other replica lacks and whether any of them diverged.
//!
//! ```sh
//! cargo run -p bloodraven-gtid --example freshest -- \
//!     a=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100 \
//!     b=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-97 \
//!     c=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-98:101
//! ```

use std::error::Error;

use bloodraven_gtid::{GtidSet, SetRelation};

fn main() -> Result<(), Box<dyn Error>> {
    let mut replicas = Vec::new();
    for arg in std::env::args().skip(1) {
        let (name, text) = arg
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=GTID_SET, got {arg:?}"))?;
        let set = GtidSet::parse(text).map_err(|e| format!("replica {name}: {e}"))?;
        replicas.push((name.to_owned(), set));
    }
    // The freshest replica holds the most transactions; ties keep the first one named.
    let Some((best, best_set)) = replicas
        .iter()
        .max_by(|a, b| a.1.count().cmp(&b.1.count()).then(b.0.cmp(&a.0)))
    else {
        return Err("give at least one replica as NAME=GTID_SET".into());
    };
    println!("freshest: {best} ({} transactions)", best_set.count());
    for (name, set) in &replicas {
        if name == best {
            continue;
        }
        match set.compare(best_set) {
            SetRelation::Equal => println!("{name}: up to date"),
            SetRelation::Subset => println!(
                "{name}: lacks {}",
                best_set.difference(set).to_compact_string()
            ),
            relation => println!(
                "{name}: diverged ({relation}); it alone has {}",
                set.difference(best_set).to_compact_string()
            ),
        }
    }
    Ok(())
}
