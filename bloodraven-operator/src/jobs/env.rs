//! The environment the Go operator's Jobs pass (reference-formats §3.4, §3.6; reference-api §13.5), read into
//! typed settings: where the artifact lives, which server to talk to, with which credentials.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bloodraven_backup::{ConnectOptions, DumpLocation, Passphrase};

use super::Error;
use crate::secret::Password;

/// `BLOODRAVEN_STORAGE_TYPE`: `S3` or `PVC`.
pub const STORAGE_TYPE: &str = "BLOODRAVEN_STORAGE_TYPE";
/// `BLOODRAVEN_S3_BUCKET`.
pub const S3_BUCKET: &str = "BLOODRAVEN_S3_BUCKET";
/// `BLOODRAVEN_S3_ENDPOINT_OVERRIDE`: an S3-compatible endpoint.
pub const S3_ENDPOINT_OVERRIDE: &str = "BLOODRAVEN_S3_ENDPOINT_OVERRIDE";
/// `BLOODRAVEN_AWS_CREDS_DIR`: the mounted Secret with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional
/// `AWS_SESSION_TOKEN` and `AWS_REGION`.
pub const AWS_CREDS_DIR: &str = "BLOODRAVEN_AWS_CREDS_DIR";
/// `AWS_REGION`.
pub const AWS_REGION: &str = "AWS_REGION";
/// `BLOODRAVEN_PVC_MOUNT_PATH` (default `/backups`).
pub const PVC_MOUNT_PATH: &str = "BLOODRAVEN_PVC_MOUNT_PATH";
/// `BLOODRAVEN_MYSQL_HOST`: `host[:port]` (`[v6]:port` allowed).
pub const MYSQL_HOST: &str = "BLOODRAVEN_MYSQL_HOST";
/// `BLOODRAVEN_MYSQL_CREDS_DIR`: files `MYSQL_USER` and `MYSQL_PASSWORD` (else the same-named variables).
pub const MYSQL_CREDS_DIR: &str = "BLOODRAVEN_MYSQL_CREDS_DIR";
/// `BLOODRAVEN_OUTPUT_URL`: where a dump goes.
pub const OUTPUT_URL: &str = "BLOODRAVEN_OUTPUT_URL";
/// `BLOODRAVEN_INPUT_URL`: the dump a restore or verification reads.
pub const INPUT_URL: &str = "BLOODRAVEN_INPUT_URL";
/// `BLOODRAVEN_DUMP_OPTIONS`: JSON with `threads`, `bytesPerChunk`, `compression`, `includeSchemas`,
/// `excludeSchemas` (`consistent` and `ocimds` are accepted and ignored: dumps here are always consistent).
pub const DUMP_OPTIONS: &str = "BLOODRAVEN_DUMP_OPTIONS";
/// `BLOODRAVEN_LOAD_OPTIONS`: JSON with `threads` (other mysqlsh keys are accepted and ignored).
pub const LOAD_OPTIONS: &str = "BLOODRAVEN_LOAD_OPTIONS";
/// `BLOODRAVEN_BACKUP_PASSPHRASE_FILE`: the BRV1 passphrase of the artifact.
pub const BACKUP_PASSPHRASE_FILE: &str = "BLOODRAVEN_BACKUP_PASSPHRASE_FILE";
/// `BLOODRAVEN_ENCRYPTION_ALGORITHM` (only `AES-256-GCM`).
pub const ENCRYPTION_ALGORITHM: &str = "BLOODRAVEN_ENCRYPTION_ALGORITHM";
/// `BLOODRAVEN_BACKUP_NAME`: the MysqlBackup's name.
pub const BACKUP_NAME: &str = "BLOODRAVEN_BACKUP_NAME";
/// `BLOODRAVEN_SOURCE_DIR`: the staging directory `encrypt-upload` reads.
pub const SOURCE_DIR: &str = "BLOODRAVEN_SOURCE_DIR";
/// `BLOODRAVEN_TARGET_DIR`: where `decrypt-download` writes (default `/restore-decrypted`).
pub const TARGET_DIR: &str = "BLOODRAVEN_TARGET_DIR";
/// `BLOODRAVEN_SOURCE_PREFIX`: what `decrypt-download` reads.
pub const SOURCE_PREFIX: &str = "BLOODRAVEN_SOURCE_PREFIX";
/// `BLOODRAVEN_ALLOW_PLAINTEXT_FALLBACK`: `1`/`true` copies non-BRV1 objects as they are.
pub const ALLOW_PLAINTEXT_FALLBACK: &str = "BLOODRAVEN_ALLOW_PLAINTEXT_FALLBACK";
/// `BLOODRAVEN_PITR_STOP_DATETIME`: replay transactions before this time.
pub const PITR_STOP_DATETIME: &str = "BLOODRAVEN_PITR_STOP_DATETIME";
/// `BLOODRAVEN_PITR_MANIFEST_PREFIX`: the binlog archive's key prefix (`<profile prefix>/binlogs`).
pub const PITR_MANIFEST_PREFIX: &str = "BLOODRAVEN_PITR_MANIFEST_PREFIX";
/// `BLOODRAVEN_PITR_LOCAL_DIR`: where the restore Job's `pitr-download` init container left the binlogs to replay
/// (`/pitr-binlogs`).
pub const PITR_LOCAL_DIR: &str = "BLOODRAVEN_PITR_LOCAL_DIR";
/// `BLOODRAVEN_PITR_EXCLUDE_GTIDS`: GTIDs the replay skips (MariaDB GTIDs or a MySQL GTID set).
pub const PITR_EXCLUDE_GTIDS: &str = "BLOODRAVEN_PITR_EXCLUDE_GTIDS";
/// `BLOODRAVEN_RESET_REPLICATION=1` (in-place restore): stop and forget replication on the target first.
pub const RESET_REPLICATION: &str = "BLOODRAVEN_RESET_REPLICATION";
/// `BLOODRAVEN_DROP_ALL_USER_SCHEMAS=1` (full-instance in-place restore): drop every user schema first.
pub const DROP_ALL_USER_SCHEMAS: &str = "BLOODRAVEN_DROP_ALL_USER_SCHEMAS";
/// `BLOODRAVEN_DROP_SCHEMAS` (per-schema in-place restore): comma-separated schemas to drop first.
pub const DROP_SCHEMAS: &str = "BLOODRAVEN_DROP_SCHEMAS";
/// `BLOODRAVEN_PITR_FILTER_DATABASE` (per-schema in-place restore): the replay's `--database` filter.
pub const PITR_FILTER_DATABASE: &str = "BLOODRAVEN_PITR_FILTER_DATABASE";
/// `BLOODRAVEN_PITR_PASSPHRASE_FILE`: the archive's passphrase.
pub const PITR_PASSPHRASE_FILE: &str = "BLOODRAVEN_PITR_PASSPHRASE_FILE";
/// `BLOODRAVEN_VERIFY_PITR_MODE`: `none`, `latest` or `timestamp`.
pub const VERIFY_PITR_MODE: &str = "BLOODRAVEN_VERIFY_PITR_MODE";
/// `BLOODRAVEN_VERIFY_SANITY_QUERY`.
pub const VERIFY_SANITY_QUERY: &str = "BLOODRAVEN_VERIFY_SANITY_QUERY";
/// `BLOODRAVEN_VERIFY_SANITY_MIN_ROWS` (default 0).
pub const VERIFY_SANITY_MIN_ROWS: &str = "BLOODRAVEN_VERIFY_SANITY_MIN_ROWS";
/// `BLOODRAVEN_VERIFY_SANITY_MAX_SECONDS` (default 60).
pub const VERIFY_SANITY_MAX_SECONDS: &str = "BLOODRAVEN_VERIFY_SANITY_MAX_SECONDS";
/// `BLOODRAVEN_DATA_DIR`: where the throwaway verification server lives (default `/var/lib/mysql-verify`).
pub const DATA_DIR: &str = "BLOODRAVEN_DATA_DIR";
/// `BLOODRAVEN_VERIFY_KEEP_ON_FAILURE`: `false` removes the server's directory even when verification fails.
pub const VERIFY_KEEP_ON_FAILURE: &str = "BLOODRAVEN_VERIFY_KEEP_ON_FAILURE";
/// `BLOODRAVEN_RESULT_FILE`: where the result line is also written (default `/dev/termination-log` when it
/// exists): the container's termination message, which the operator reads from the Pod's status.
pub const RESULT_FILE: &str = "BLOODRAVEN_RESULT_FILE";

/// Where termination messages go unless the pod spec says otherwise.
pub const DEFAULT_TERMINATION_LOG: &str = "/dev/termination-log";

/// A source of variables: the process environment, or a map in tests.
pub trait Vars {
    /// The value of `name`, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Vars for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// A required variable.
pub fn required(vars: &dyn Vars, name: &'static str) -> Result<String, Error> {
    vars.var(name).ok_or(Error::MissingEnv { name })
}

/// An access key pair (the secret never shows in `Debug`).
#[derive(Clone, Eq, PartialEq)]
pub struct S3Keys {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Password,
    /// `AWS_SESSION_TOKEN`, if any.
    pub session_token: Option<Password>,
}

impl std::fmt::Debug for S3Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Keys")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Where the Job's artifacts live: an S3 bucket or a mounted PVC.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Storage {
    /// An S3 (or S3-compatible) bucket.
    S3 {
        /// The bucket.
        bucket: String,
        /// The endpoint override, if any.
        endpoint: Option<String>,
        /// The region, if known.
        region: Option<String>,
        /// The mounted credentials directory, if any.
        creds_dir: Option<PathBuf>,
        /// Keys given directly (the operator reads them from the credentials Secret).
        keys: Option<S3Keys>,
    },
    /// A PVC mounted at this path.
    Pvc {
        /// The mount path.
        mount: PathBuf,
    },
}

impl Storage {
    /// The storage settings of the environment.
    pub fn from_vars(vars: &dyn Vars) -> Result<Storage, Error> {
        let kind = vars
            .var(STORAGE_TYPE)
            .unwrap_or_else(|| {
                if vars.var(S3_BUCKET).is_some() {
                    "S3".into()
                } else {
                    "PVC".into()
                }
            })
            .to_ascii_uppercase();
        match kind.as_str() {
            "S3" => Ok(Storage::S3 {
                bucket: required(vars, S3_BUCKET)?,
                endpoint: vars.var(S3_ENDPOINT_OVERRIDE),
                region: vars.var(AWS_REGION),
                creds_dir: vars.var(AWS_CREDS_DIR).map(PathBuf::from),
                keys: None,
            }),
            "PVC" => Ok(Storage::Pvc {
                mount: PathBuf::from(
                    vars.var(PVC_MOUNT_PATH)
                        .unwrap_or_else(|| "/backups".into()),
                ),
            }),
            other => Err(Error::BadEnv {
                name: STORAGE_TYPE,
                reason: format!("{other:?}: expected S3 or PVC"),
            }),
        }
    }

    /// Opens `location`: an `s3://bucket/key/` display form, a key in the bucket, or (PVC) an absolute path
    /// under the mount or one relative to it.
    pub fn open(&self, location: &str) -> Result<DumpLocation, Error> {
        match self {
            Storage::S3 {
                bucket,
                endpoint,
                region,
                creds_dir,
                keys,
            } => {
                let (bucket, key) = match location.strip_prefix("s3://") {
                    Some(rest) => rest.split_once('/').unwrap_or((rest, "")),
                    None => (bucket.as_str(), location),
                };
                let url = url_for(bucket)?;
                let mut options = s3_options(endpoint.as_deref(), region.as_deref(), creds_dir)?;
                if let Some(k) = keys {
                    options.push(("aws_access_key_id".into(), k.access_key_id.clone()));
                    options.push((
                        "aws_secret_access_key".into(),
                        k.secret_access_key.expose().to_owned(),
                    ));
                    if let Some(t) = &k.session_token {
                        options.push(("aws_session_token".into(), t.expose().to_owned()));
                    }
                }
                let (store, _) = bloodraven_backup::object_store::parse_url_opts(&url, options)
                    .map_err(|e| Error::BadEnv {
                        name: S3_BUCKET,
                        reason: format!("cannot open bucket {bucket:?}: {e}"),
                    })?;
                Ok(DumpLocation::new(Arc::from(store), key.trim_matches('/')))
            }
            Storage::Pvc { mount } => {
                let path = Path::new(location);
                let full = if path.is_absolute() {
                    path.to_owned()
                } else {
                    mount.join(path)
                };
                if !full.starts_with(mount) || full == *mount {
                    return Err(Error::BadEnv {
                        name: PVC_MOUNT_PATH,
                        reason: format!(
                            "{} is not a directory below the mount {}",
                            full.display(),
                            mount.display()
                        ),
                    });
                }
                Ok(DumpLocation::parse(&full.to_string_lossy())?)
            }
        }
    }

    /// The `status.location` of an artifact at `key` (S3: the key, or the `s3://bucket/key/` display form when
    /// encrypted, as the Go uploader; PVC: the absolute path).
    pub fn location_text(&self, key: &str, encrypted: bool) -> String {
        match self {
            Storage::S3 { bucket, .. } if encrypted => {
                format!("s3://{bucket}/{}/", key.trim_matches('/'))
            }
            Storage::S3 { .. } => key.trim_end_matches('/').to_owned(),
            Storage::Pvc { mount } => {
                let p = Path::new(key);
                if p.is_absolute() {
                    key.to_owned()
                } else {
                    mount.join(p).to_string_lossy().into_owned()
                }
            }
        }
    }
}

fn url_for(bucket: &str) -> Result<url::Url, Error> {
    url::Url::parse(&format!("s3://{bucket}")).map_err(|e| Error::BadEnv {
        name: S3_BUCKET,
        reason: format!("{bucket:?} is not a bucket name: {e}"),
    })
}

fn s3_options(
    endpoint: Option<&str>,
    region: Option<&str>,
    creds_dir: &Option<PathBuf>,
) -> Result<Vec<(String, String)>, Error> {
    let mut options = Vec::new();
    if let Some(e) = endpoint {
        options.push(("aws_endpoint".to_owned(), e.to_owned()));
        options.push((
            "aws_virtual_hosted_style_request".to_owned(),
            "false".to_owned(),
        ));
        if e.starts_with("http://") {
            options.push(("aws_allow_http".to_owned(), "true".to_owned()));
        }
    }
    let mut region = region.map(str::to_owned);
    if let Some(dir) = creds_dir {
        for (file, key) in [
            ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
            ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
            ("AWS_SESSION_TOKEN", "aws_session_token"),
            ("AWS_REGION", "aws_region"),
        ] {
            let path = dir.join(file);
            match std::fs::read_to_string(&path) {
                Ok(v) => {
                    let v = v.trim().to_owned();
                    if key == "aws_region" {
                        region = region.or(Some(v));
                    } else if !v.is_empty() {
                        options.push((key.to_owned(), v));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(cause) => return Err(Error::File { path, cause }),
            }
        }
    }
    options.push((
        "aws_region".to_owned(),
        region.unwrap_or_else(|| "us-east-1".into()),
    ));
    Ok(options)
}

/// The server of `BLOODRAVEN_MYSQL_HOST` with the credentials of `BLOODRAVEN_MYSQL_CREDS_DIR`.
pub fn server(vars: &dyn Vars) -> Result<ConnectOptions, Error> {
    let text = required(vars, MYSQL_HOST)?;
    let (host, port) = split_host_port(&text).ok_or_else(|| Error::BadEnv {
        name: MYSQL_HOST,
        reason: format!("{text:?}: expected host, host:port or [v6]:port"),
    })?;
    let (user, password) = credentials(vars)?;
    Ok(ConnectOptions::new(host, port).with_credentials(user, Some(password.expose().to_owned())))
}

/// `host`, `host:port`, `[v6]:port`.
pub fn split_host_port(text: &str) -> Option<(String, u16)> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if tail.is_empty() => 3306,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => Some((text.to_owned(), 3306)),
        None if text.is_empty() => None,
        None => Some((text.to_owned(), 3306)),
    }
}

fn credentials(vars: &dyn Vars) -> Result<(String, Password), Error> {
    let from_dir = |name: &str| -> Result<Option<String>, Error> {
        let Some(dir) = vars.var(MYSQL_CREDS_DIR) else {
            return Ok(None);
        };
        let path = Path::new(&dir).join(name);
        match std::fs::read_to_string(&path) {
            Ok(v) => Ok(Some(v.trim_end_matches(['\n', '\r']).to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(cause) => Err(Error::File { path, cause }),
        }
    };
    let user = from_dir("MYSQL_USER")?
        .or_else(|| vars.var("MYSQL_USER"))
        .unwrap_or_else(|| "root".into());
    let password = from_dir("MYSQL_PASSWORD")?
        .or_else(|| vars.var("MYSQL_PASSWORD"))
        .unwrap_or_default();
    Ok((user, Password::from(password)))
}

/// The passphrase of the file named by `name`, if set.
pub fn passphrase(vars: &dyn Vars, name: &'static str) -> Result<Option<Passphrase>, Error> {
    let Some(path) = vars.var(name) else {
        return Ok(None);
    };
    Passphrase::from_file(&path)
        .map(Some)
        .map_err(|e| Error::BadEnv {
            name,
            reason: format!("cannot read the passphrase file {path}: {e}"),
        })
}

/// A boolean variable (`1`, `true`, `yes`).
pub fn flag(vars: &dyn Vars, name: &str) -> Option<bool> {
    vars.var(name)
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// `64M`, `1G`, `4096`: a byte count with an optional binary suffix.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let n: u64 = number.parse().ok()?;
    let factor: u64 = match unit
        .trim()
        .to_ascii_lowercase()
        .trim_end_matches(['b', 'i'])
    {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn host_and_port_forms() {
        assert_eq!(split_host_port("db:3307"), Some(("db".into(), 3307)));
        assert_eq!(split_host_port("db"), Some(("db".into(), 3306)));
        assert_eq!(split_host_port("[::1]:3310"), Some(("::1".into(), 3310)));
        assert_eq!(split_host_port("db:x"), None);
        assert_eq!(split_host_port(""), None);
    }

    #[test]
    fn storage_needs_a_bucket_and_names_the_variable() {
        let e = Storage::from_vars(&vars(&[(STORAGE_TYPE, "S3")])).unwrap_err();
        assert_eq!(e.to_string(), "BLOODRAVEN_S3_BUCKET is not set");
        let e = Storage::from_vars(&vars(&[(STORAGE_TYPE, "NFS")])).unwrap_err();
        assert!(e.to_string().contains("expected S3 or PVC"), "{e}");
    }

    #[test]
    fn locations_as_the_go_operator_writes_them() {
        let s3 = Storage::from_vars(&vars(&[(S3_BUCKET, "b")])).unwrap();
        assert_eq!(s3.location_text("orders/x", false), "orders/x");
        assert_eq!(s3.location_text("orders/x", true), "s3://b/orders/x/");
        let pvc = Storage::from_vars(&vars(&[(STORAGE_TYPE, "PVC")])).unwrap();
        assert_eq!(pvc.location_text("x", false), "/backups/x");
        assert!(pvc.open("/etc/passwd").is_err());
        assert!(pvc.open("/backups").is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("64M"), Some(64 << 20));
        assert_eq!(parse_bytes("1Gi"), Some(1 << 30));
        assert_eq!(parse_bytes("512"), Some(512));
        assert_eq!(parse_bytes("5X"), None);
    }
}
