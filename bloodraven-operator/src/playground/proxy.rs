//! A fault-injecting TCP proxy in front of each site's server: the site's "network address" as the operator and
//! the other sites' replication threads see it. Partitioning it cuts every open connection and refuses new ones;
//! healing lets connections through again. Clients inside the site (the write load, the sidecar) dial the server
//! directly, as they would on the same side of a partition.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::playground::Error;

/// One site's proxy.
#[derive(Debug)]
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    partitioned: Arc<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on `ip` (a free port) and forwards to `127.0.0.1:backend`.
    pub(crate) async fn start(ip: Ipv4Addr, backend: u16) -> Result<Proxy, Error> {
        let listener = TcpListener::bind((ip, 0))
            .await
            .map_err(|e| Error::io(format!("binding a proxy on {ip}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the proxy address", e))?;
        let (partitioned, rx) = watch::channel(false);
        let task = tokio::spawn(accept(listener, backend, rx));
        Ok(Proxy {
            addr,
            partitioned: Arc::new(partitioned),
            task,
        })
    }

    /// The switch: `send_replace(true)` cuts the site's network, `false` heals it.
    pub(crate) fn handle(&self) -> Arc<watch::Sender<bool>> {
        Arc::clone(&self.partitioned)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, backend: u16, partitioned: watch::Receiver<bool>) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        if *partitioned.borrow() {
            drop(inbound);
            continue;
        }
        let mut cut = partitioned.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect((Ipv4Addr::LOCALHOST, backend)).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = cut.wait_for(|p| *p) => {}
            }
        });
    }
}
