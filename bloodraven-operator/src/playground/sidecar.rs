//! A `bloodraven-sidecar` process per site, configured through the Go sidecar's environment (reference-api.md
//! §13.5) as the rendered Deployment configures it: the local server, the operator's auxiliary server, the peer
//! sidecars, and the binlog archiver into a local directory object store (`PVC` storage) or an S3 bucket.
//!
//! The operator crate cannot depend on the sidecar crate (the sidecar depends on it), so the binary is spawned.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::playground::Error;

/// Finds the sidecar: `explicit`, else next to this executable (or one directory up, for test binaries in
/// `target/*/deps`), else on `PATH`.
pub(crate) fn find(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    let missing = |hint: String| Error::MissingBinary {
        binary: "bloodraven-sidecar",
        hint,
    };
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(missing(format!(
                "{} does not exist; build it with `cargo build -p bloodraven-sidecar`",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe().ok();
    let beside = exe
        .as_deref()
        .and_then(Path::parent)
        .into_iter()
        .flat_map(|d| {
            [
                d.join("bloodraven-sidecar"),
                d.parent()
                    .map(|p| p.join("bloodraven-sidecar"))
                    .unwrap_or_default(),
            ]
        });
    beside
        .chain(crate::playground::server::search("bloodraven-sidecar"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            missing(
                "not next to this executable nor on PATH; build it with `cargo build -p bloodraven-sidecar` \
                 (it lands beside `bloodraven` in the target directory), pass --sidecar PATH, or run with \
                 --no-sidecars"
                    .into(),
            )
        })
}

/// What one sidecar is told.
pub(crate) struct SidecarConfig<'a> {
    pub(crate) bin: &'a Path,
    pub(crate) site: &'a str,
    pub(crate) mysql_port: u16,
    pub(crate) listen: u16,
    pub(crate) peers: &'a str,
    pub(crate) operator: &'a str,
    pub(crate) binlog_dir: &'a Path,
    /// The archiver's storage settings ([`super::archive::ArchiveLocation::sidecar_env`]).
    pub(crate) archive: &'a [(&'static str, String)],
    pub(crate) log: &'a Path,
    pub(crate) check_interval: Duration,
}

/// A running sidecar.
#[derive(Debug)]
pub(crate) struct Sidecar {
    child: Option<Child>,
}

impl Sidecar {
    pub(crate) fn spawn(c: SidecarConfig<'_>) -> Result<Sidecar, Error> {
        let log = std::fs::File::create(c.log)
            .map_err(|e| Error::io(format!("creating {}", c.log.display()), e))?;
        let interval = format!("{}s", c.check_interval.as_secs().max(1));
        let child = Command::new(c.bin)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "MYSQL_DSN",
                format!("root:@tcp(127.0.0.1:{})/", c.mysql_port),
            )
            .env("MY_POD_NAME", format!("playground-{}", c.site))
            .env("MY_SITE", c.site)
            .env("POD_NAMESPACE", crate::playground::NAMESPACE)
            .env("FAILOVER_GROUP", crate::playground::GROUP)
            .env("LISTEN_ADDR", format!("127.0.0.1:{}", c.listen))
            .env("PEER_ADDRESSES", c.peers)
            .env("BLOODRAVEN_ADDRESS", c.operator)
            .env("PEER_CHECK_INTERVAL", &interval)
            .env("LEASE_TIMEOUT", "20s")
            .env("BLOODRAVEN_PITR_ENABLED", "true")
            .envs(c.archive.iter().map(|(k, v)| (*k, v.as_str())))
            .env("BLOODRAVEN_PITR_BINLOG_DIR", c.binlog_dir)
            .env("BLOODRAVEN_PITR_BINLOG_INDEX", "mysql-bin.index")
            .env("BLOODRAVEN_PITR_POLL_INTERVAL", "2s")
            .stdin(Stdio::null())
            .stdout(
                log.try_clone()
                    .map_err(|e| Error::io("duplicating the sidecar log", e))?,
            )
            .stderr(log)
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", c.bin.display()), e))?;
        tracing::info!(site = c.site, pid = child.id(), "sidecar started");
        Ok(Sidecar { child: Some(child) })
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        self.stop();
    }
}
