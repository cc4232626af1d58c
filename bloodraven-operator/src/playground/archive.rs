//! Where the playground's binlog archive lives: `archive/` in the work directory (a local directory object store,
//! the default) or an S3 bucket (`--s3-endpoint`, `--s3-bucket`, credentials from `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY`). The sidecars archive there, the dashboard's continuity check and the point-in-time
//! restore read from there, each through its usual configuration: the sidecar's `BLOODRAVEN_PITR_*` environment
//! and credential files, the tools' object-store URL and `AWS_*` variables.

use std::path::{Path, PathBuf};

use crate::playground::Error;

/// An S3 bucket to archive into.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct S3Archive {
    /// `http(s)://host:port` of the S3 API.
    pub endpoint: String,
    /// The bucket (it must exist).
    pub bucket: String,
    /// The key prefix the archive goes under (`<prefix>/binlogs`), as a backup profile's `s3.prefix`.
    pub prefix: String,
}

/// The archive's location, with the credentials an S3 bucket needs.
#[derive(Clone)]
pub(crate) enum ArchiveLocation {
    /// A directory holding `binlogs/` (a local directory object store).
    Dir(PathBuf),
    /// An S3 bucket.
    S3 {
        bucket: S3Archive,
        region: String,
        access_key_id: String,
        secret_access_key: String,
    },
}

impl std::fmt::Debug for ArchiveLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ArchiveLocation {
    /// The S3 bucket of `s3`, its credentials from the environment; else the directory `archive/` of `dir`.
    pub(crate) fn new(dir: &Path, s3: Option<&S3Archive>) -> Result<ArchiveLocation, Error> {
        let Some(s3) = s3 else {
            return Ok(ArchiveLocation::Dir(dir.join("archive")));
        };
        let var = |variable: &'static str| {
            std::env::var(variable)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::S3Credentials {
                    variable,
                    bucket: s3.bucket.clone(),
                })
        };
        Ok(ArchiveLocation::S3 {
            bucket: s3.clone(),
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            access_key_id: var("AWS_ACCESS_KEY_ID")?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")?,
        })
    }

    /// Where it is, for people: the directory or `s3://bucket/prefix at endpoint`.
    pub(crate) fn describe(&self) -> String {
        match self {
            ArchiveLocation::Dir(d) => d.display().to_string(),
            ArchiveLocation::S3 { bucket, .. } => {
                format!("{} at {}", self.binlogs_url(), bucket.endpoint)
            }
        }
    }

    /// The archive prefix inside the store (`binlogs`, or `<prefix>/binlogs`).
    pub(crate) fn binlogs_prefix(&self) -> String {
        match self {
            ArchiveLocation::Dir(_) => "binlogs".into(),
            ArchiveLocation::S3 { bucket, .. } => {
                let p = bucket.prefix.trim_matches('/');
                if p.is_empty() {
                    "binlogs".into()
                } else {
                    format!("{p}/binlogs")
                }
            }
        }
    }

    /// The store's URL for `bloodraven-binlog --store`: `file:///dir` or `s3://bucket`.
    pub(crate) fn store_url(&self) -> String {
        match self {
            ArchiveLocation::Dir(d) => format!("file://{}", d.display()),
            ArchiveLocation::S3 { bucket, .. } => format!("s3://{}", bucket.bucket),
        }
    }

    /// The archive's URL for `bloodraven-backup restore --binlog-archive`.
    pub(crate) fn binlogs_url(&self) -> String {
        format!("{}/{}", self.store_url(), self.binlogs_prefix())
    }

    /// What the tools need in their environment to reach an S3 bucket (nothing for a directory).
    pub(crate) fn tool_env(&self) -> Vec<(&'static str, String)> {
        match self {
            ArchiveLocation::Dir(_) => Vec::new(),
            ArchiveLocation::S3 {
                bucket,
                region,
                access_key_id,
                secret_access_key,
            } => vec![
                ("AWS_ENDPOINT", bucket.endpoint.clone()),
                (
                    "AWS_ALLOW_HTTP",
                    bucket.endpoint.starts_with("http://").to_string(),
                ),
                ("AWS_REGION", region.clone()),
                ("AWS_ACCESS_KEY_ID", access_key_id.clone()),
                ("AWS_SECRET_ACCESS_KEY", secret_access_key.clone()),
            ],
        }
    }

    /// The sidecar's archiver settings, as a rendered Deployment gives them (reference-formats.md §2.4); an S3
    /// bucket's credentials are written as files into `creds_dir`, as the mounted Secret would hold them.
    pub(crate) fn sidecar_env(
        &self,
        creds_dir: &Path,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        let mut env = vec![("BLOODRAVEN_PITR_MANIFEST_PREFIX", self.binlogs_prefix())];
        match self {
            ArchiveLocation::Dir(d) => {
                std::fs::create_dir_all(d)
                    .map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
                env.push(("BLOODRAVEN_PITR_STORAGE_TYPE", "PVC".into()));
                env.push(("BLOODRAVEN_PITR_PVC_MOUNT_PATH", d.display().to_string()));
            }
            ArchiveLocation::S3 {
                bucket,
                region,
                access_key_id,
                secret_access_key,
            } => {
                write_private_dir(
                    creds_dir,
                    &[
                        ("AWS_ACCESS_KEY_ID", access_key_id),
                        ("AWS_SECRET_ACCESS_KEY", secret_access_key),
                        ("AWS_REGION", region),
                    ],
                )?;
                env.push(("BLOODRAVEN_PITR_STORAGE_TYPE", "S3".into()));
                env.push(("BLOODRAVEN_PITR_S3_BUCKET", bucket.bucket.clone()));
                env.push(("BLOODRAVEN_PITR_S3_ENDPOINT_URL", bucket.endpoint.clone()));
                env.push(("BLOODRAVEN_PITR_S3_REGION", region.clone()));
                env.push((
                    "BLOODRAVEN_PITR_AWS_CREDS_DIR",
                    creds_dir.display().to_string(),
                ));
            }
        }
        Ok(env)
    }
}

/// Writes `files` into `dir` (created `0700`), each `0600`.
fn write_private_dir(dir: &Path, files: &[(&str, &String)]) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    for (name, value) in files {
        let path = dir.join(name);
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)?;
            f.write_all(value.as_bytes())
        };
        write().map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_and_a_directory_give_the_urls_the_tools_take() {
        let dir = ArchiveLocation::Dir("/tmp/pg/archive".into());
        assert_eq!(dir.store_url(), "file:///tmp/pg/archive");
        assert_eq!(dir.binlogs_url(), "file:///tmp/pg/archive/binlogs");
        assert!(dir.tool_env().is_empty());
        let s3 = ArchiveLocation::S3 {
            bucket: S3Archive {
                endpoint: "http://127.0.0.1:9000".into(),
                bucket: "archive".into(),
                prefix: "/playground/".into(),
            },
            region: "us-east-1".into(),
            access_key_id: "AK".into(),
            secret_access_key: "SK".into(),
        };
        assert_eq!(s3.binlogs_prefix(), "playground/binlogs");
        assert_eq!(s3.binlogs_url(), "s3://archive/playground/binlogs");
        assert!(s3.tool_env().contains(&("AWS_ALLOW_HTTP", "true".into())));
        assert!(!format!("{s3:?}").contains("SK"), "no secret in Debug");
        let creds = tempfile::tempdir().unwrap();
        let env = s3.sidecar_env(creds.path()).unwrap();
        assert!(env.contains(&("BLOODRAVEN_PITR_STORAGE_TYPE", "S3".into())));
        assert_eq!(
            std::fs::read_to_string(creds.path().join("AWS_SECRET_ACCESS_KEY")).unwrap(),
            "SK"
        );
    }
}
