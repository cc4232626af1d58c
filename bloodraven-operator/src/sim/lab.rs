//! [`Lab`]: a few simulated servers as plain [`Site`](crate::site::Site)s, with the world ticking on tokio's clock,
//! so a test can drive the simulation's model of a server exactly as it drives a real one (the `Site` conformance
//! suite does both, which keeps the model from drifting from the drivers). [`Lab::for_group`] gives a manager's
//! group such servers instead of MySQL (`bloodraven --simulate-sites`, the scale benchmark).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::{Role, SiteConfig};
use crate::site::Flavor;

use super::TICK;
use super::site::{SimSite, lock};
use super::world::{Rng, World, WorldParams};

/// `n` simulated servers named `site0`, `site1`, … with hosts `site<i>.db`: server 0 writable, the others
/// replicating from it; no client writes but [`Lab::write`], no faults, sidecars that never fence.
#[derive(Debug)]
pub struct Lab {
    world: Arc<Mutex<World>>,
    ticker: tokio::task::JoinHandle<()>,
}

impl Lab {
    /// Starts the servers and the world's ticker (call inside a tokio runtime; the paused test clock works).
    pub fn start(n: usize, flavor: Flavor) -> Lab {
        let names: Vec<(String, Role)> = (0..n)
            .map(|i| (format!("site{i}"), Role::PrimaryCandidate))
            .collect();
        Lab::with_servers(&names, flavor)
    }

    /// A healthy group's servers (call inside a tokio runtime): one per configured site, with its name, role and
    /// host; the first site writable with one committed transaction, every other site read-only and replicating
    /// from it. Sidecars never fence and no other client writes, so nothing changes unless the operator changes it.
    pub fn for_group(sites: &[SiteConfig], flavor: Flavor) -> Lab {
        let names: Vec<(String, Role)> = sites.iter().map(|s| (s.name.clone(), s.role)).collect();
        let lab = Lab::with_servers(&names, flavor);
        {
            let mut w = lock(&lab.world);
            for (server, site) in w.servers.iter_mut().zip(sites) {
                server.host.clone_from(&site.host);
            }
            if !w.servers.is_empty() {
                w.client_write(0);
            }
        }
        lab
    }

    /// Every server as a site, in order.
    pub fn sites(&self) -> Vec<Arc<SimSite>> {
        let n = lock(&self.world).servers.len();
        (0..n).map(|i| Arc::new(self.site(i))).collect()
    }

    fn with_servers(names: &[(String, Role)], flavor: Flavor) -> Lab {
        let params = WorldParams {
            replication_lag: Duration::from_millis(300),
            apply_per_tick: 10,
            mariadb: flavor == Flavor::Mariadb,
            write_probability: 0.0,
            lease_timeout: Duration::from_secs(24 * 3600),
            peer_check_interval: Duration::from_secs(5),
        };
        let world = Arc::new(Mutex::new(World::new(names, params, Rng::new(1))));
        let ticking = Arc::clone(&world);
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                let mut w = lock(&ticking);
                w.now += TICK;
                w.tick();
            }
        });
        Lab { world, ticker }
    }

    /// Server `i` as a site.
    pub fn site(&self, i: usize) -> SimSite {
        let name = lock(&self.world).servers[i].name.clone();
        SimSite::new(Arc::clone(&self.world), i, name)
    }

    /// The host other servers replicate from server `i` by.
    pub fn host(&self, i: usize) -> String {
        lock(&self.world).servers[i].host.clone()
    }

    /// One acknowledged client write on server `i`; `false` when a client cannot write there (read-only).
    pub fn write(&self, i: usize) -> bool {
        lock(&self.world).client_write(i)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}
