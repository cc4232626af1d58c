//! Configuration: the Go sidecar's environment variables (reference-api.md §13.5), each also a flag.
//!
//! [`Flags`] is the raw input: every field is a command-line flag that falls back to the environment variable the
//! operator's rendered Deployment sets (`--lease-timeout` / `LEASE_TIMEOUT`). [`Config::resolve`] turns it into a
//! checked [`Config`] with the reference's defaults and clamping, refusing an invalid value with the variable's name
//! and the accepted form. Apart from reading `MYSQL_CREDS_DIR` files it does no I/O, so it is unit-tested directly.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::Error;

/// Floor of `PEER_CHECK_INTERVAL`.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Floor of `LEASE_TIMEOUT` (it is also at least three intervals).
const MIN_LEASE: Duration = Duration::from_secs(3);
/// The accepted form of a duration.
const GO_DURATION: &str = "a Go duration such as 20s, 1m30s or 500ms";

/// The sidecar's flags; each falls back to the environment variable in its help text. `Debug` prints no secret
/// (the DSN and the password are redacted).
#[derive(Clone, Default, Parser)]
#[command(
    name = "bloodraven-sidecar",
    version,
    about = "Bloodraven sidecar: self-fencing, probes and the binlog archiver"
)]
pub struct Flags {
    /// Go-style DSN of the local server, `user:password@tcp(host:port)/` (takes precedence).
    #[arg(long, env = "MYSQL_DSN", hide_env_values = true)]
    pub mysql_dsn: Option<String>,
    /// Directory with `username` and `password` files (the operator Secret), used when no DSN is set.
    #[arg(long, env = "MYSQL_CREDS_DIR")]
    pub mysql_creds_dir: Option<PathBuf>,
    /// MySQL user (with `MYSQL_PASSWORD`), used when neither a DSN nor a creds dir is set.
    #[arg(long, env = "MYSQL_USER")]
    pub mysql_user: Option<String>,
    /// MySQL password.
    #[arg(long, env = "MYSQL_PASSWORD", hide_env_values = true)]
    pub mysql_password: Option<String>,
    /// This pod's name (logs only).
    #[arg(long, env = "MY_POD_NAME")]
    pub pod_name: Option<String>,
    /// HTTP listen address (`:8080`, `host:port`).
    #[arg(long, env = "LISTEN_ADDR")]
    pub listen_addr: Option<String>,
    /// Peer sidecars, comma-separated `host:port` list.
    #[arg(long, env = "PEER_ADDRESSES")]
    pub peer_addresses: Option<String>,
    /// Legacy single peer, used when `PEER_ADDRESSES` is unset.
    #[arg(long, env = "PEER_ADDRESS")]
    pub peer_address: Option<String>,
    /// The operator's auxiliary server, `host:port`.
    #[arg(long, env = "BLOODRAVEN_ADDRESS")]
    pub bloodraven_address: Option<String>,
    /// Self-fencing lease (default 20s; at least 3s and three check intervals).
    #[arg(long, env = "LEASE_TIMEOUT")]
    pub lease_timeout: Option<String>,
    /// Operator and peer check cadence (default 5s; at least 1s).
    #[arg(long, env = "PEER_CHECK_INTERVAL")]
    pub peer_check_interval: Option<String>,
    /// This pod's site.
    #[arg(long, env = "MY_SITE")]
    pub site: Option<String>,
    /// The failover group's namespace.
    #[arg(long, env = "POD_NAMESPACE")]
    pub namespace: Option<String>,
    /// The failover group's name.
    #[arg(long, env = "FAILOVER_GROUP")]
    pub group: Option<String>,
    /// Binlog archiver on (`1`, `true`); empty, `0` or `false` disables.
    #[arg(long, env = "BLOODRAVEN_PITR_ENABLED")]
    pub pitr_enabled: Option<String>,
    /// Binlog directory (default `/var/lib/mysql`).
    #[arg(long, env = "BLOODRAVEN_PITR_BINLOG_DIR")]
    pub pitr_binlog_dir: Option<PathBuf>,
    /// Binlog index file name inside the directory (default `mysql-bin.index`).
    #[arg(long, env = "BLOODRAVEN_PITR_BINLOG_INDEX")]
    pub pitr_binlog_index: Option<String>,
    /// Scan interval besides inotify (default 60s).
    #[arg(long, env = "BLOODRAVEN_PITR_POLL_INTERVAL")]
    pub pitr_poll_interval: Option<String>,
    /// `S3` or `PVC` (`LOCAL` is accepted as a synonym of `PVC`: any mounted or local directory).
    #[arg(long, env = "BLOODRAVEN_PITR_STORAGE_TYPE")]
    pub pitr_storage_type: Option<String>,
    /// Archive prefix (`<profile prefix>/binlogs`).
    #[arg(long, env = "BLOODRAVEN_PITR_MANIFEST_PREFIX")]
    pub pitr_manifest_prefix: Option<String>,
    /// S3 bucket.
    #[arg(long, env = "BLOODRAVEN_PITR_S3_BUCKET")]
    pub pitr_s3_bucket: Option<String>,
    /// S3 region.
    #[arg(long, env = "BLOODRAVEN_PITR_S3_REGION")]
    pub pitr_s3_region: Option<String>,
    /// S3-compatible endpoint URL (path-style requests; `http://` allowed).
    #[arg(long, env = "BLOODRAVEN_PITR_S3_ENDPOINT_URL")]
    pub pitr_s3_endpoint_url: Option<String>,
    /// Directory with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`, `AWS_REGION`.
    #[arg(long, env = "BLOODRAVEN_PITR_AWS_CREDS_DIR")]
    pub pitr_aws_creds_dir: Option<PathBuf>,
    /// Directory of the PVC store (default `/run/bloodraven/pitr-archive`).
    #[arg(long, env = "BLOODRAVEN_PITR_PVC_MOUNT_PATH")]
    pub pitr_pvc_mount_path: Option<PathBuf>,
    /// BRV1 passphrase file: objects and manifests are encrypted.
    #[arg(long, env = "BLOODRAVEN_PITR_PASSPHRASE_FILE")]
    pub pitr_passphrase_file: Option<PathBuf>,
    /// Accept plaintext objects although a passphrase is set (`1`, `true`).
    #[arg(long, env = "BLOODRAVEN_PITR_ALLOW_PLAINTEXT_FALLBACK")]
    pub pitr_allow_plaintext_fallback: Option<String>,
    /// Backup profile name, for the retention query.
    #[arg(long, env = "BLOODRAVEN_PITR_PROFILE_NAME")]
    pub pitr_profile_name: Option<String>,
    /// How often to ask the operator for the retention cutoff (default 1h).
    #[arg(long, env = "BLOODRAVEN_PITR_RETENTION_INTERVAL")]
    pub pitr_retention_interval: Option<String>,
    /// Object store request timeout (Rust extension; default 30s).
    #[arg(long, env = "BLOODRAVEN_PITR_REQUEST_TIMEOUT")]
    pub pitr_request_timeout: Option<String>,
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Flags")
            .field("mysql_dsn", &redacted(&self.mysql_dsn))
            .field("mysql_creds_dir", &self.mysql_creds_dir)
            .field("mysql_user", &self.mysql_user)
            .field("mysql_password", &redacted(&self.mysql_password))
            .field("listen_addr", &self.listen_addr)
            .field("peer_addresses", &self.peer_addresses)
            .field("bloodraven_address", &self.bloodraven_address)
            .field("lease_timeout", &self.lease_timeout)
            .field("peer_check_interval", &self.peer_check_interval)
            .field("site", &self.site)
            .field("pitr_enabled", &self.pitr_enabled)
            .finish_non_exhaustive()
    }
}

/// The checked configuration.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Config {
    /// The local server.
    pub mysql: MysqlTarget,
    /// This pod's name.
    pub pod_name: Option<String>,
    /// HTTP listen address, `host:port` (`:8080` becomes `0.0.0.0:8080`).
    pub listen_addr: String,
    /// Peer sidecars, `host:port`.
    pub peers: Vec<String>,
    /// The operator's auxiliary server, `host:port`.
    pub operator: Option<String>,
    /// Self-fencing lease, clamped.
    pub lease_timeout: Duration,
    /// Check cadence, clamped.
    pub peer_check_interval: Duration,
    /// Site, namespace and group, when all three are set (topology-aware fencing and the safety net need them).
    pub topology: Option<Topology>,
    /// The binlog archiver, when enabled.
    pub pitr: Option<PitrConfig>,
}

/// Who this sidecar is in the failover group.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Topology {
    /// `MY_SITE`.
    pub site: String,
    /// `POD_NAMESPACE`.
    pub namespace: String,
    /// `FAILOVER_GROUP`.
    pub group: String,
}

/// The local server and the account the sidecar uses.
#[derive(Clone, Eq, PartialEq)]
pub struct MysqlTarget {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User.
    pub user: String,
    /// Password (never printed: `Debug` redacts it).
    pub password: String,
}

impl fmt::Debug for MysqlTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MysqlTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The binlog archiver's settings.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PitrConfig {
    /// Directory of the binlogs and their index.
    pub binlog_dir: PathBuf,
    /// Index file name.
    pub binlog_index: String,
    /// Scan interval besides inotify.
    pub poll_interval: Duration,
    /// Where the archive is.
    pub storage: Storage,
    /// Archive prefix.
    pub manifest_prefix: String,
    /// BRV1 passphrase file.
    pub passphrase_file: Option<PathBuf>,
    /// Accept plaintext objects although a passphrase is set.
    pub allow_plaintext_fallback: bool,
    /// Backup profile for retention.
    pub profile: Option<String>,
    /// Retention query interval.
    pub retention_interval: Duration,
    /// Object store request timeout.
    pub request_timeout: Duration,
}

/// The archive's store.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Storage {
    /// A directory (a mounted PVC or any local directory).
    Pvc {
        /// The directory.
        mount_path: PathBuf,
    },
    /// Amazon S3 or an S3-compatible store.
    S3 {
        /// Bucket.
        bucket: String,
        /// Region.
        region: Option<String>,
        /// Custom endpoint.
        endpoint: Option<String>,
        /// Credential files directory.
        creds_dir: Option<PathBuf>,
    },
}

impl Storage {
    /// `S3` or `PVC`, as `/archiver/status` reports `storageType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Storage::Pvc { .. } => "PVC",
            Storage::S3 { .. } => "S3",
        }
    }
}

impl Config {
    /// Applies defaults and clamping and checks every value; see the module docs.
    pub fn resolve(flags: &Flags) -> Result<Config, Error> {
        let f = flags;
        let interval = duration(
            "PEER_CHECK_INTERVAL (--peer-check-interval)",
            f.peer_check_interval.as_deref(),
            Duration::from_secs(5),
        )?;
        let lease = duration(
            "LEASE_TIMEOUT (--lease-timeout)",
            f.lease_timeout.as_deref(),
            Duration::from_secs(20),
        )?;
        let (peer_check_interval, lease_timeout) = clamp(interval, lease);
        let peers = match non_empty(&f.peer_addresses) {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            None => non_empty(&f.peer_address).into_iter().collect(),
        };
        let topology = match (
            non_empty(&f.site),
            non_empty(&f.namespace),
            non_empty(&f.group),
        ) {
            (Some(site), Some(namespace), Some(group)) => Some(Topology {
                site,
                namespace,
                group,
            }),
            _ => None,
        };
        Ok(Config {
            mysql: mysql_target(f)?,
            pod_name: non_empty(&f.pod_name),
            listen_addr: listen_addr(non_empty(&f.listen_addr).as_deref().unwrap_or(":8080"))?,
            peers,
            operator: non_empty(&f.bloodraven_address),
            lease_timeout,
            peer_check_interval,
            topology,
            pitr: pitr(f)?,
        })
    }
}

/// The reference's clamping: interval ≥ 1 s, lease ≥ max(3 s, 3 × interval).
pub fn clamp(interval: Duration, lease: Duration) -> (Duration, Duration) {
    let interval = interval.max(MIN_INTERVAL);
    (interval, lease.max(MIN_LEASE).max(interval * 3))
}

/// Parses a Go duration (`1h2m3.5s`, `500ms`, `0`): a sequence of decimal numbers with units `ns`, `us`, `µs`,
/// `ms`, `s`, `m`, `h`. Negative durations are refused.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let s = text.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

fn duration(name: &'static str, value: Option<&str>, default: Duration) -> Result<Duration, Error> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => parse_go_duration(v).ok_or_else(|| Error::Config {
            name,
            value: v.to_owned(),
            expected: GO_DURATION,
        }),
    }
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn truthy(v: &Option<String>) -> Result<bool, &str> {
    match non_empty(v).as_deref() {
        None => Ok(false),
        Some(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(v.as_deref().unwrap_or_default()),
        },
    }
}

fn flag(name: &'static str, v: &Option<String>) -> Result<bool, Error> {
    truthy(v).map_err(|value| Error::Config {
        name,
        value: value.to_owned(),
        expected: "1, true, 0, false or empty",
    })
}

/// `:8080` → `0.0.0.0:8080`; `host:port` kept; anything without a numeric port refused.
fn listen_addr(v: &str) -> Result<String, Error> {
    let bad = || Error::Config {
        name: "LISTEN_ADDR (--listen-addr)",
        value: v.to_owned(),
        expected: ":PORT or HOST:PORT",
    };
    let (host, port) = v.rsplit_once(':').ok_or_else(bad)?;
    port.parse::<u16>().map_err(|_| bad())?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(format!("{host}:{port}"))
}

fn mysql_target(f: &Flags) -> Result<MysqlTarget, Error> {
    if let Some(dsn) = non_empty(&f.mysql_dsn) {
        return parse_dsn(&dsn).ok_or(Error::Config {
            name: "MYSQL_DSN (--mysql-dsn)",
            // The DSN holds the password: never echo it.
            value: "<redacted>".into(),
            expected: "user:password@tcp(host:port)/ (Go DSN) or mysql://user:password@host:port/",
        });
    }
    let local = |user: String, password: String| MysqlTarget {
        host: "127.0.0.1".into(),
        port: 3306,
        user,
        password,
    };
    if let Some(dir) = &f.mysql_creds_dir {
        let read = |what: &'static str, name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|cause| Error::File { what, path, cause })
        };
        return Ok(local(
            read("MYSQL_CREDS_DIR username file", "username")?,
            read("MYSQL_CREDS_DIR password file", "password")?,
        ));
    }
    match non_empty(&f.mysql_user) {
        Some(user) => Ok(local(user, f.mysql_password.clone().unwrap_or_default())),
        None => Err(Error::Missing {
            name: "MYSQL_DSN, MYSQL_CREDS_DIR or MYSQL_USER",
            why: "the sidecar needs an account on the local server",
        }),
    }
}

/// `user:pass@tcp(host:port)/db?params` (Go), or `mysql://user:pass@host:port/db`.
fn parse_dsn(dsn: &str) -> Option<MysqlTarget> {
    let (userinfo, rest) = if let Some(url) = dsn.strip_prefix("mysql://") {
        let (userinfo, rest) = url.rsplit_once('@').unwrap_or(("", url));
        let hostport = rest.split(['/', '?']).next().unwrap_or("");
        (userinfo, hostport.to_owned())
    } else {
        let (userinfo, rest) = dsn.rsplit_once('@').unwrap_or(("", dsn));
        let rest = rest.split('/').next().unwrap_or("");
        let addr = if let Some(inner) = rest.strip_prefix("tcp(").and_then(|r| r.strip_suffix(')'))
        {
            inner.to_owned()
        } else if rest.is_empty() {
            "127.0.0.1:3306".to_owned()
        } else {
            return None;
        };
        (userinfo, addr)
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse().ok()?),
        None => (rest.clone(), 3306),
    };
    if user.is_empty() || host.is_empty() {
        return None;
    }
    Some(MysqlTarget {
        host,
        port,
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

fn pitr(f: &Flags) -> Result<Option<PitrConfig>, Error> {
    if !flag("BLOODRAVEN_PITR_ENABLED (--pitr-enabled)", &f.pitr_enabled)? {
        return Ok(None);
    }
    let kind = non_empty(&f.pitr_storage_type).unwrap_or_default();
    let storage = match kind.to_ascii_uppercase().as_str() {
        "S3" => Storage::S3 {
            bucket: non_empty(&f.pitr_s3_bucket).ok_or(Error::Missing {
                name: "BLOODRAVEN_PITR_S3_BUCKET (--pitr-s3-bucket)",
                why: "the S3 archive needs a bucket",
            })?,
            region: non_empty(&f.pitr_s3_region),
            endpoint: non_empty(&f.pitr_s3_endpoint_url),
            creds_dir: f.pitr_aws_creds_dir.clone(),
        },
        "PVC" | "LOCAL" => Storage::Pvc {
            mount_path: f
                .pitr_pvc_mount_path
                .clone()
                .unwrap_or_else(|| PathBuf::from("/run/bloodraven/pitr-archive")),
        },
        _ => {
            return Err(Error::Config {
                name: "BLOODRAVEN_PITR_STORAGE_TYPE (--pitr-storage-type)",
                value: kind,
                expected: "S3 or PVC",
            });
        }
    };
    Ok(Some(PitrConfig {
        binlog_dir: f
            .pitr_binlog_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/var/lib/mysql")),
        binlog_index: non_empty(&f.pitr_binlog_index).unwrap_or_else(|| "mysql-bin.index".into()),
        poll_interval: duration(
            "BLOODRAVEN_PITR_POLL_INTERVAL (--pitr-poll-interval)",
            f.pitr_poll_interval.as_deref(),
            Duration::from_secs(60),
        )?
        .max(Duration::from_millis(100)),
        storage,
        manifest_prefix: non_empty(&f.pitr_manifest_prefix).unwrap_or_else(|| "binlogs".into()),
        passphrase_file: f.pitr_passphrase_file.clone(),
        allow_plaintext_fallback: flag(
            "BLOODRAVEN_PITR_ALLOW_PLAINTEXT_FALLBACK (--pitr-allow-plaintext-fallback)",
            &f.pitr_allow_plaintext_fallback,
        )?,
        profile: non_empty(&f.pitr_profile_name),
        retention_interval: duration(
            "BLOODRAVEN_PITR_RETENTION_INTERVAL (--pitr-retention-interval)",
            f.pitr_retention_interval.as_deref(),
            Duration::from_secs(3600),
        )?,
        request_timeout: duration(
            "BLOODRAVEN_PITR_REQUEST_TIMEOUT (--pitr-request-timeout)",
            f.pitr_request_timeout.as_deref(),
            Duration::from_secs(30),
        )?,
    }))
}

#[cfg(test)]
mod tests;
