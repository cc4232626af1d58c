//! The playground's own small MariaDB launcher: one system-table template per playground (made once with
//! `mariadb-install-db`), one copied data directory per site, the durability settings of durability-and-rpo.txt,
//! a loopback port picked free and retried when someone takes it first.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::playground::Error;

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The Debian package that provides `mariadbd` and `mariadb-install-db`.
pub const MARIADB_PACKAGE: &str = "mariadb-server";

/// The server flags every site runs with: durability-and-rpo.txt (`sync_binlog=1`,
/// `innodb_flush_log_at_trx_commit=2`, GTIDs, `log_slave_updates`), row-based binary logs rotated at 1 MiB so the
/// archiver has sealed files to ship within minutes, and no replication until the engine sets it up.
const DURABILITY: [&str; 9] = [
    "--sync-binlog=1",
    "--innodb-flush-log-at-trx-commit=2",
    "--log-slave-updates",
    "--gtid-strict-mode=1",
    "--binlog-format=ROW",
    "--max-binlog-size=1048576",
    "--skip-slave-start",
    "--read-only=1",
    "--skip-name-resolve",
];
/// Small files: the playground is a demonstration, not a benchmark.
const SMALL_INNODB: [&str; 3] = [
    "--innodb-log-file-size=8M",
    "--innodb-buffer-pool-size=32M",
    "--performance-schema=0",
];

/// Where the MariaDB binaries are.
#[derive(Clone, Debug)]
pub(crate) struct Binaries {
    pub(crate) mariadbd: PathBuf,
    pub(crate) install_db: PathBuf,
}

impl Binaries {
    /// `$MARIADBD` (then its directory for `mariadb-install-db`), else `PATH`, else `/usr/sbin` and `/usr/bin`.
    pub(crate) fn find() -> Result<Binaries, Error> {
        let mariadbd = match std::env::var_os("MARIADBD") {
            Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
            None => search("mariadbd"),
        };
        let Some(mariadbd) = mariadbd else {
            return Err(Error::MissingBinary {
                binary: "mariadbd",
                hint: format!(
                    "install it with `sudo apt-get install -y {MARIADB_PACKAGE}` (Debian/Ubuntu), or point MARIADBD \
                     at it"
                ),
            });
        };
        let beside = mariadbd
            .parent()
            .map(|d| d.join("mariadb-install-db"))
            .filter(|p| p.is_file());
        let Some(install_db) = beside.or_else(|| search("mariadb-install-db")) else {
            return Err(Error::MissingBinary {
                binary: "mariadb-install-db",
                hint: format!("install it with `sudo apt-get install -y {MARIADB_PACKAGE}`"),
            });
        };
        Ok(Binaries {
            mariadbd,
            install_db,
        })
    }
}

/// `name` on `PATH`, else in `/usr/sbin` or `/usr/bin` (Debian's server binaries are in `/usr/sbin`, which a
/// user's `PATH` often lacks).
pub(crate) fn search(name: &str) -> Option<PathBuf> {
    let dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs `mariadb-install-db` into `dir` (the system tables every site's data directory is copied from).
pub(crate) fn make_template(bin: &Binaries, dir: &Path) -> Result<(), Error> {
    let mut cmd = Command::new(&bin.install_db);
    cmd.args([
        "--no-defaults",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    ])
    .arg(format!("--datadir={}", dir.display()))
    .args(&SMALL_INNODB[..2]);
    if running_as_root() {
        cmd.arg("--user=root");
    }
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("running {}", bin.install_db.display()), e))?;
    if !output.status.success() {
        return Err(Error::Server {
            site: "template".into(),
            message: format!(
                "mariadb-install-db failed ({}): {}",
                output.status,
                tail(&String::from_utf8_lossy(&output.stderr), 10)
            ),
        });
    }
    Ok(())
}

/// One site's server.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) site: String,
    pub(crate) server_id: u32,
    pub(crate) root: PathBuf,
    pub(crate) port: u16,
    mariadbd: PathBuf,
    child: Option<Child>,
    /// Stopped with SIGSTOP (hung).
    pub(crate) paused: bool,
}

impl Server {
    /// Copies the template into `root/data` and starts the server on a free port.
    pub(crate) fn create(
        bin: &Binaries,
        template: &Path,
        root: PathBuf,
        site: &str,
        server_id: u32,
    ) -> Result<Server, Error> {
        let data = root.join("data");
        copy_dir(template, &data)
            .map_err(|e| Error::io(format!("copying {}", data.display()), e))?;
        for d in ["binlog", "tmp"] {
            fs::create_dir_all(root.join(d))
                .map_err(|e| Error::io(format!("creating {}", root.join(d).display()), e))?;
        }
        let mut server = Server {
            site: site.to_owned(),
            server_id,
            root,
            port: 0,
            mariadbd: bin.mariadbd.clone(),
            child: None,
            paused: false,
        };
        let mut last = None;
        for _ in 0..5 {
            server.port = free_port(std::net::Ipv4Addr::LOCALHOST)?;
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(e) if server.error_log().contains("Address already in use") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Server {
            site: site.to_owned(),
            message: "no free port".into(),
        }))
    }

    /// The server's process id while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is alive (running or paused).
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// SIGKILL, as a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.paused {
                let _ = signal(child.id(), "-CONT");
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    /// SIGSTOP (`hang = true`) or SIGCONT.
    pub(crate) fn pause(&mut self, hang: bool) -> Result<(), Error> {
        let Some(pid) = self.pid() else {
            return Err(Error::Chaos(format!("{} is not running", self.site)));
        };
        signal(pid, if hang { "-STOP" } else { "-CONT" })
            .map_err(|e| Error::io(format!("signalling {}", self.site), e))?;
        self.paused = hang;
        Ok(())
    }

    /// Starts a killed server again on the same port and data directory (read-only, as every start is).
    pub(crate) fn restart(&mut self) -> Result<(), Error> {
        if self.is_running() {
            return Ok(());
        }
        self.spawn()
    }

    /// Replaces the data directory and binary logs with the template's and starts again on the same port.
    pub(crate) fn rebuild(&mut self, template: &Path) -> Result<(), Error> {
        self.kill();
        for d in ["data", "binlog", "tmp"] {
            let dir = self.root.join(d);
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let data = self.root.join("data");
        copy_dir(template, &data)
            .map_err(|e| Error::io(format!("copying {}", data.display()), e))?;
        self.spawn()
    }

    /// SIGTERM, waiting up to 30 s, then SIGKILL.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if self.paused {
            let _ = signal(child.id(), "-CONT");
            self.paused = false;
        }
        let _ = signal(child.id(), "-TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The Unix socket (unused: everything speaks TCP): in the site's directory unless that path is longer than
    /// a socket address allows, then in `/tmp`.
    fn socket(&self) -> PathBuf {
        let inside = self.root.join("mysqld.sock");
        if inside.as_os_str().len() <= 100 {
            inside
        } else {
            PathBuf::from(format!(
                "/tmp/bloodraven-playground-{}-{}.sock",
                std::process::id(),
                self.site
            ))
        }
    }

    pub(crate) fn error_log(&self) -> String {
        fs::read_to_string(self.root.join("error.log")).unwrap_or_default()
    }

    fn spawn(&mut self) -> Result<(), Error> {
        let r = &self.root;
        let mut cmd = Command::new(&self.mariadbd);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", r.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--pid-file={}", r.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", r.join("error.log").display()))
            .arg(format!("--tmpdir={}", r.join("tmp").display()))
            .arg(format!(
                "--log-bin={}",
                r.join("binlog/mysql-bin").display()
            ))
            .arg(format!("--server-id={}", self.server_id))
            .args(DURABILITY)
            .args(SMALL_INNODB);
        if running_as_root() {
            cmd.arg("--user=root");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", self.mariadbd.display()), e))?;
        tracing::info!(site = %self.site, port = self.port, pid = child.id(), "mariadbd started");
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        let log_start = self.error_log().len();
        loop {
            let exited = self
                .child
                .as_mut()
                .map(Child::try_wait)
                .and_then(Result::ok)
                .flatten();
            if let Some(status) = exited {
                self.child = None;
                return Err(Error::Server {
                    site: self.site.clone(),
                    message: format!(
                        "mariadbd exited with {status} while starting; error log:\n{}",
                        tail(&self.error_log(), 15)
                    ),
                });
            }
            let log = self.error_log();
            if log.len() > log_start
                && log[log_start..].contains("ready for connections")
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(Error::Server {
                    site: self.site.clone(),
                    message: format!(
                        "mariadbd not ready after {START_TIMEOUT:?}; error log:\n{}",
                        tail(&self.error_log(), 15)
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_file(self.socket());
        let _ = fs::remove_file(self.socket().with_extension("sock.lock"));
    }
}

/// A port free right now on `ip` (someone may take it before it is bound: callers retry).
pub(crate) fn free_port(ip: std::net::Ipv4Addr) -> Result<u16, Error> {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::io(format!("finding a free port on {ip}"), e))
}

/// `kill -SIG pid` (no `unsafe` in this crate).
fn signal(pid: u32, sig: &str) -> std::io::Result<()> {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("kill {sig} {pid} failed")))
    }
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
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

pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
