//! A throwaway MariaDB server for verification restores: its own data directory under the system temp
//! folder, bound to 127.0.0.1 on a free port, binary log and GTIDs on, removed when dropped (or kept for
//! inspection after a failure).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::process::{Child, Command};

use crate::conn::ConnectOptions;
use crate::error::Error;

/// How to start a throwaway server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The server binary (default: `$MARIADBD`, else `mariadbd` on `PATH`, `/usr/sbin` or `/usr/bin`).
    pub mariadbd: PathBuf,
    /// The data directory initialiser (default: `$MARIADB_INSTALL_DB`, else `mariadb-install-db`).
    pub install_db: PathBuf,
    /// Folder to create the server's directory in (default: the system temp folder).
    pub parent_dir: PathBuf,
    /// Extra arguments for both `mariadb-install-db` and `mariadbd`, e.g. `--innodb-buffer-pool-size=1G`.
    pub extra_args: Vec<String>,
    /// How long initialisation and start may take (default 120 s).
    pub start_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            mariadbd: binary("MARIADBD", "mariadbd"),
            install_db: binary("MARIADB_INSTALL_DB", "mariadb-install-db"),
            parent_dir: std::env::temp_dir(),
            extra_args: Vec::new(),
            start_timeout: Duration::from_secs(120),
        }
    }
}

/// A running throwaway server; see the module docs.
#[derive(Debug)]
pub struct ThrowawayServer {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    keep: bool,
}

impl ThrowawayServer {
    /// Initialises a data directory and starts the server; returns once it accepts connections as `root`
    /// without a password on 127.0.0.1.
    pub async fn start(options: &ServerOptions) -> Result<ThrowawayServer, Error> {
        let dir = unique_dir(&options.parent_dir)?;
        let mut server = ThrowawayServer {
            dir,
            port: 0,
            child: None,
            keep: false,
        };
        server.install(options).await?;
        let mut last = None;
        for _ in 0..5 {
            server.port = free_port().map_err(|e| program(&options.mariadbd, e.to_string()))?;
            match server.spawn(options).await {
                Ok(()) => return Ok(server),
                Err(e) if server.error_log().contains("Address already in use") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| program(&options.mariadbd, "no free port".into())))
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `root` without password at 127.0.0.1 and the server's port.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions::new("127.0.0.1", self.port)
    }

    /// The server's directory (`data/`, `binlog/`, `error.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Stops the server and removes its directory.
    pub async fn remove(mut self) {
        self.kill().await;
        let _ = tokio::fs::remove_dir_all(&self.dir).await;
        self.keep = true; // nothing left for Drop to do
    }

    /// Stops the server and keeps its directory for inspection; returns the directory.
    pub async fn stop_and_keep(mut self) -> PathBuf {
        self.kill().await;
        self.keep = true;
        self.dir.clone()
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    async fn install(&self, options: &ServerOptions) -> Result<(), Error> {
        let mut cmd = Command::new(&options.install_db);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(&options.extra_args)
            .stdin(Stdio::null());
        if running_as_root() {
            cmd.arg("--user=root");
        }
        let out = tokio::time::timeout(options.start_timeout, cmd.output())
            .await
            .map_err(|_| program(&options.install_db, "timed out".into()))?
            .map_err(|e| program(&options.install_db, format!("cannot run it: {e}")))?;
        if !out.status.success() {
            return Err(program(
                &options.install_db,
                format!(
                    "failed ({}): {}",
                    out.status,
                    tail(&String::from_utf8_lossy(&out.stderr), 10)
                ),
            ));
        }
        for sub in ["binlog", "tmp"] {
            std::fs::create_dir_all(self.dir.join(sub))
                .map_err(|e| Error::io(self.dir.display().to_string(), e))?;
        }
        Ok(())
    }

    async fn spawn(&mut self, options: &ServerOptions) -> Result<(), Error> {
        let d = &self.dir;
        let mut cmd = Command::new(&options.mariadbd);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", d.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", d.join("error.log").display()))
            .arg(format!(
                "--log-bin={}",
                d.join("binlog/mysql-bin").display()
            ))
            // Its own tmpdir: a starting server deletes every `#sql*` file in its tmpdir.
            .arg(format!("--tmpdir={}", d.join("tmp").display()))
            .args([
                "--server-id=4242",
                "--binlog-format=ROW",
                "--skip-name-resolve",
                "--skip-slave-start",
                "--local-infile=1",
                "--performance-schema=0",
                "--event-scheduler=OFF",
            ])
            // Replayed binlogs of big transactions are statements of more than the default 16 MiB.
            .arg(format!("--max-allowed-packet={}", crate::pitr::MAX_PACKET))
            .args(throughput_args(memory_limit()))
            .args(&options.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if running_as_root() {
            cmd.arg("--user=root");
        }
        let child = cmd
            .spawn()
            .map_err(|e| program(&options.mariadbd, format!("cannot run it: {e}")))?;
        self.child = Some(child);
        let deadline = Instant::now() + options.start_timeout;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(program(
                    &options.mariadbd,
                    format!(
                        "exited with {status} while starting; error log:\n{}",
                        tail(&self.error_log(), 20)
                    ),
                ));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
                && self.error_log().contains("ready for connections")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill().await;
                return Err(program(
                    &options.mariadbd,
                    format!(
                        "not ready after {:?}; error log:\n{}",
                        options.start_timeout,
                        tail(&self.error_log(), 20)
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for ThrowawayServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        if !self.keep {
            // The server may still hold files for a moment after the kill; removal is best effort.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn program(path: &Path, reason: String) -> Error {
    Error::Program {
        program: path.display().to_string(),
        reason,
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

fn unique_dir(parent: &Path) -> Result<PathBuf, Error> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = parent.join(format!(
        "bloodraven-verify-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    Ok(dir)
}

/// Settings for loading fast into a server whose data is thrown away: no log flush or doublewrite at
/// commit (a crash only costs the verification, which fails and can be run again), a redo log large
/// enough that a load does not stall on checkpoints, and a buffer pool of a quarter of the memory limit
/// (cgroup), between 128 MiB and 1 GiB. `ServerOptions::extra_args` come later and win.
fn throughput_args(memory_limit: Option<u64>) -> Vec<String> {
    const MIB: u64 = 1024 * 1024;
    let pool = memory_limit.map_or(1024 * MIB, |limit| (limit / 4).clamp(128 * MIB, 1024 * MIB));
    let pool = pool / MIB * MIB;
    vec![
        "--innodb-flush-log-at-trx-commit=0".into(),
        "--innodb-doublewrite=0".into(),
        "--sync-binlog=0".into(),
        "--innodb-log-file-size=512M".into(),
        format!("--innodb-buffer-pool-size={pool}"),
    ]
}

/// The memory limit of this process's cgroup (v2 `memory.max`, else v1 `memory.limit_in_bytes`), when
/// there is one.
fn memory_limit() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| std::fs::read_to_string(path).ok())
    .and_then(|text| text.trim().parse::<u64>().ok())
    // v1 reports "no limit" as a number near 2^63.
    .filter(|&limit| limit < 1 << 60)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `$var`, else `name` on `PATH`, else `/usr/sbin/name` or `/usr/bin/name`, else plain `name`.
fn binary(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .into_iter()
        .flatten()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_pool_is_a_quarter_of_the_memory_limit_within_bounds() {
        const MIB: u64 = 1024 * 1024;
        let pool = |limit| {
            throughput_args(limit)
                .into_iter()
                .find_map(|a| {
                    a.strip_prefix("--innodb-buffer-pool-size=")
                        .map(|v| v.parse::<u64>().unwrap())
                })
                .unwrap()
        };
        assert_eq!(pool(None), 1024 * MIB);
        assert_eq!(pool(Some(2048 * MIB)), 512 * MIB);
        assert_eq!(pool(Some(256 * MIB)), 128 * MIB);
        assert_eq!(pool(Some(64 * 1024 * MIB)), 1024 * MIB);
        assert_eq!(pool(Some(2048 * MIB + 3)) % MIB, 0);
    }
}
