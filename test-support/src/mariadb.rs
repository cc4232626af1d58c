//! A real MariaDB server for tests: temporary data directory, loopback port, binary log, GTIDs.
//!
//! The system tables are created once per machine and server version by `mariadb-install-db` into a template
//! directory under the system temp folder; each server copies the template (about 25 MB), so a start takes a
//! fraction of a second. Dropping a [`MariaDb`] kills the server and removes its directory.
//!
//! The root account has no password and is reachable over TCP from 127.0.0.1, so it can also be used as the
//! replication user. Binaries are found on `PATH` or in `/usr/sbin`/`/usr/bin`; the environment variables
//! `MARIADBD`, `MARIADB_INSTALL_DB` and `MARIADB_CLIENT` override them.

use std::fs;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server may take to accept connections or to stop.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Settings shared by `mariadb-install-db` and every server start: files sized for tests.
const FAST_INNODB: [&str; 2] = ["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M"];

/// Options for a server; create with [`MariaDb::builder`].
#[derive(Clone, Debug)]
pub struct Builder {
    server_id: u32,
    log_bin: bool,
    gtid_domain_id: Option<u32>,
    log_slave_updates: bool,
    extra_args: Vec<String>,
}

impl Builder {
    /// The `--server-id` (default 1).
    #[must_use]
    pub fn server_id(mut self, id: u32) -> Self {
        self.server_id = id;
        self
    }

    /// Whether the server writes a binary log (default true), as `<binlog_dir>/mysql-bin.NNNNNN`.
    #[must_use]
    pub fn log_bin(mut self, on: bool) -> Self {
        self.log_bin = on;
        self
    }

    /// The `--gtid-domain-id` (default: the server's, 0).
    #[must_use]
    pub fn gtid_domain_id(mut self, domain: u32) -> Self {
        self.gtid_domain_id = Some(domain);
        self
    }

    /// Whether a replica writes replicated transactions to its own binary log (default true).
    #[must_use]
    pub fn log_slave_updates(mut self, on: bool) -> Self {
        self.log_slave_updates = on;
        self
    }

    /// An extra `mariadbd` argument such as `--max-binlog-size=4096`.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Creates a data directory from the template and starts the server; returns once it accepts connections.
    pub fn start(self) -> io::Result<MariaDb> {
        let template = template_dir()?;
        let root = unique_temp_dir("bloodraven-mariadb")?;
        let mut server = MariaDb {
            options: self,
            datadir: root.join("data"),
            binlog_dir: root.join("binlog"),
            root,
            port: 0,
            child: None,
        };
        copy_dir(&template, &server.datadir)?;
        fs::create_dir_all(&server.binlog_dir)?;
        // A port picked by binding port 0 can be taken by someone else before mariadbd binds it: retry.
        let mut last_error = None;
        for _ in 0..5 {
            server.port = free_port()?;
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(e) if server.error_log().contains("Address already in use") => {
                    last_error = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("could not find a free port")))
    }
}

/// A running (or stopped) MariaDB server owned by a test.
#[derive(Debug)]
pub struct MariaDb {
    options: Builder,
    root: PathBuf,
    datadir: PathBuf,
    binlog_dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl MariaDb {
    /// Options for a new server: server id 1, binary log on, `log_slave_updates` on.
    pub fn builder() -> Builder {
        Builder {
            server_id: 1,
            log_bin: true,
            gtid_domain_id: None,
            log_slave_updates: true,
            extra_args: Vec::new(),
        }
    }

    /// The loopback TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The directory holding the binary logs (`mysql-bin.NNNNNN`) and their index (`mysql-bin.index`).
    pub fn binlog_dir(&self) -> &Path {
        &self.binlog_dir
    }

    /// The binary log index file, listing the binary logs oldest first.
    pub fn binlog_index(&self) -> PathBuf {
        self.binlog_dir.join("mysql-bin.index")
    }

    /// The server's `--server-id`.
    pub fn server_id(&self) -> u32 {
        self.options.server_id
    }

    /// `mysql://root@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Runs SQL statements (`;`-separated) with the `mariadb` client in batch mode as root; returns the result
    /// rows without column names, columns separated by tabs, each row ending in a newline.
    pub fn sql(&self, sql: &str) -> io::Result<String> {
        let output = Command::new(client_binary())
            .args([
                "--no-defaults",
                "--protocol=tcp",
                "--host=127.0.0.1",
                "--user=root",
            ])
            .arg(format!("--port={}", self.port))
            .args(["--batch", "--skip-column-names", "--execute", sql])
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "sql failed on port {} ({}): {sql}: {}",
                self.port,
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        String::from_utf8(output.stdout).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Runs `query` until its output (trimmed) equals `expected`, or fails after `timeout` with the last output.
    pub fn wait_for(&self, query: &str, expected: &str, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.sql(query)?;
            if got.trim() == expected {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{query} returned {got:?}, not {expected:?}, within {timeout:?}"),
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Makes this server a GTID replica of `primary` (`MASTER_USE_GTID=slave_pos`, root user) and starts it.
    pub fn replicate_from(&self, primary: &MariaDb) -> io::Result<()> {
        self.sql(&format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', \
             MASTER_PASSWORD='', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos; START SLAVE",
            primary.port
        ))
        .map(drop)
    }

    /// Kills the server with SIGKILL, as a crash would; [`restart`](Self::restart) brings it back.
    pub fn kill(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Stops the server cleanly (SIGTERM, then waits for it to exit).
    pub fn stop(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "kill -TERM {} failed",
                child.id()
            )));
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                child.kill()?;
                child.wait()?;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "mariadbd did not stop; killed it",
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Stops the server cleanly if it runs, then starts it again on the same port and data directory.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// The server's error log so far (empty if there is none yet).
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.root.join("error.log")).unwrap_or_default()
    }

    fn spawn(&mut self) -> io::Result<()> {
        let o = &self.options;
        // A starting mariadbd deletes every `#sql*` file in its tmpdir: with a shared /tmp it would remove the
        // temporary tables of the other servers a parallel test run has going.
        let tmpdir = self.root.join("tmp");
        fs::create_dir_all(&tmpdir)?;
        let mut cmd = Command::new(server_binary());
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.datadir.display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!(
                "--socket={}",
                self.root.join("mysqld.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                self.root.join("mysqld.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                self.root.join("error.log").display()
            ))
            .arg(format!("--tmpdir={}", tmpdir.display()))
            .arg("--user=root")
            .arg(format!("--server-id={}", o.server_id))
            .args(FAST_INNODB)
            .args([
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=2",
                "--innodb-doublewrite=0",
                "--innodb-fast-shutdown=1",
                "--sync-binlog=0",
                "--performance-schema=0",
                "--binlog-format=ROW",
                "--skip-slave-start",
            ]);
        if o.log_bin {
            cmd.arg(format!(
                "--log-bin={}",
                self.binlog_dir.join("mysql-bin").display()
            ));
        }
        if let Some(domain) = o.gtid_domain_id {
            cmd.arg(format!("--gtid-domain-id={domain}"));
        }
        if o.log_slave_updates {
            cmd.arg("--log-slave-updates");
        }
        cmd.args(&o.extra_args);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .map(Child::try_wait)
                .transpose()?
                .flatten()
            {
                self.child = None;
                return Err(io::Error::other(format!(
                    "mariadbd exited with {status} while starting; error log:\n{}",
                    tail(&self.error_log(), 20)
                )));
            }
            // mariadbd binds its port only after recovery and initialisation are complete.
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.error_log().contains("ready for connections")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "mariadbd not ready after {START_TIMEOUT:?}; error log:\n{}",
                        tail(&self.error_log(), 20)
                    ),
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The template data directory, created once per machine and `mariadbd` build (install in a scratch directory,
/// then rename into place, so concurrent test processes never see a half-made template).
fn template_dir() -> io::Result<PathBuf> {
    static TEMPLATE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| make_template().map_err(|e| e.to_string()))
        .clone()
        .map_err(io::Error::other)
}

fn make_template() -> io::Result<PathBuf> {
    let server = server_binary();
    let meta = fs::metadata(&server).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{}: {e} (install mariadb-server)", server.display()),
        )
    })?;
    let stamp = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let template = std::env::temp_dir().join(format!(
        "bloodraven-mariadb-template-{}-{stamp}",
        meta.len()
    ));
    if template.join("mysql").is_dir() {
        return Ok(template);
    }
    let scratch = unique_temp_dir("bloodraven-mariadb-install")?;
    let output = Command::new(install_db_binary())
        .args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ])
        .arg(format!("--datadir={}", scratch.join("data").display()))
        .args(FAST_INNODB)
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        let _ = fs::remove_dir_all(&scratch);
        return Err(io::Error::other(format!(
            "mariadb-install-db failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    if fs::rename(scratch.join("data"), &template).is_err() && !template.join("mysql").is_dir() {
        return Err(io::Error::other(format!(
            "cannot create template {}",
            template.display()
        )));
    }
    let _ = fs::remove_dir_all(&scratch);
    Ok(template)
}

fn unique_temp_dir(prefix: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn server_binary() -> PathBuf {
    binary("MARIADBD", "mariadbd")
}

fn install_db_binary() -> PathBuf {
    binary("MARIADB_INSTALL_DB", "mariadb-install-db")
}

fn client_binary() -> PathBuf {
    binary("MARIADB_CLIENT", "mariadb")
}

/// `$var`, else `name` on `PATH`, else `/usr/sbin/name` or `/usr/bin/name`, else plain `name`.
fn binary(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return PathBuf::from(path);
    }
    let path_dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    path_dirs
        .into_iter()
        .flatten()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}
