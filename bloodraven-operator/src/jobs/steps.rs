//! The steps the rendered Jobs run, each reading the Go Jobs' environment ([`super::env`]) and returning the
//! result lines ([`super::result`]) the reconcilers parse. The data plane is `bloodraven-backup`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bloodraven_backup::bloodraven_binlog::archive::ArchiveStore;
use bloodraven_backup::bloodraven_binlog::manifest::ArchiveLayout;
use bloodraven_backup::bloodraven_binlog::pitr::Target;
use bloodraven_backup::format::Compression;
use bloodraven_backup::pitr::PitrOptions;
use bloodraven_backup::verify::{SanityCheck, VerifyOptions};
use bloodraven_backup::{DumpOptions, Passphrase, RestoreOptions, ServerOptions};
use serde_json::Value;

use super::Error;
use super::env::{self, Storage, Vars, required};
use super::result::{DumpResult, EncryptMetrics, Sentinel, VerifyResult, format_line};

/// What a step printed and how it ended.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Outcome {
    /// The result lines, in order (the last one is the verdict).
    pub lines: Vec<String>,
    /// Whether the step succeeded (a verification that found a problem has run fine but failed).
    pub succeeded: bool,
}

impl Outcome {
    fn ok(lines: Vec<String>) -> Outcome {
        Outcome {
            lines,
            succeeded: true,
        }
    }
}

/// `dump`: the native dump of `BLOODRAVEN_MYSQL_HOST` into `BLOODRAVEN_OUTPUT_URL` (encrypted when
/// `BLOODRAVEN_BACKUP_PASSPHRASE_FILE` is set), the `BLOODRAVEN_DUMP_COMPLETE` line.
pub async fn dump(vars: &dyn Vars) -> Result<Outcome, Error> {
    let storage = Storage::from_vars(vars)?;
    let output = required(vars, env::OUTPUT_URL)?;
    let source = env::server(vars)?;
    let passphrase = env::passphrase(vars, env::BACKUP_PASSPHRASE_FILE)?;
    if let Some(alg) = vars.var(env::ENCRYPTION_ALGORITHM)
        && alg != "AES-256-GCM"
    {
        return Err(Error::BadEnv {
            name: env::ENCRYPTION_ALGORITHM,
            reason: format!("{alg:?}: only AES-256-GCM is supported"),
        });
    }
    let options = dump_options(vars.var(env::DUMP_OPTIONS).as_deref(), passphrase)?;
    let encrypted = options.passphrase.is_some();
    let to = storage.open(&output)?;
    let report = bloodraven_backup::dump::dump(&source, &to, &options).await?;
    let m = &report.meta;
    let result = DumpResult {
        location: storage.location_text(&output, encrypted),
        size_bytes: m.total_bytes,
        size: String::new(),
        gtid_executed: m.gtid_executed.clone(),
        binlog_file: m.binlog_file.clone(),
        binlog_pos: m.binlog_position,
        rows: m.total_rows,
        encrypted,
        algorithm: if encrypted {
            "AES-256-GCM".into()
        } else {
            String::new()
        },
        ciphertext_bytes: if encrypted { m.total_bytes } else { 0 },
        files: report.files as u64,
    };
    let mut lines = Vec::new();
    if encrypted {
        // The dump encrypts each object as it streams it: the stage is the whole dump, and its ciphertext is
        // what the store holds.
        let stored: u64 = to.list().await?.iter().map(|(_, size)| size).sum();
        lines.push(
            EncryptMetrics {
                stage: "encrypt".into(),
                result: "success".into(),
                duration_seconds: report.duration.as_secs_f64(),
                bytes: m.total_bytes,
                ciphertext: stored,
                files: report.files as u64,
            }
            .line(),
        );
    }
    lines.push(result.line());
    Ok(Outcome::ok(lines))
}

/// The dump options of `BLOODRAVEN_DUMP_OPTIONS`.
pub fn dump_options(
    json: Option<&str>,
    passphrase: Option<Passphrase>,
) -> Result<DumpOptions, Error> {
    let mut options = DumpOptions {
        passphrase,
        ..DumpOptions::default()
    };
    let Some(json) = json else {
        return Ok(options);
    };
    let bad = |reason: String| Error::BadEnv {
        name: env::DUMP_OPTIONS,
        reason,
    };
    let v: Value = serde_json::from_str(json).map_err(|e| bad(format!("not JSON: {e}")))?;
    if let Some(t) = v.get("threads").and_then(Value::as_u64) {
        options.threads = usize::try_from(t.max(1)).unwrap_or(1);
    }
    if let Some(b) = v.get("bytesPerChunk").and_then(Value::as_str) {
        options.bytes_per_chunk = env::parse_bytes(b)
            .ok_or_else(|| bad(format!("bytesPerChunk {b:?}: expected e.g. 64M")))?;
    }
    if let Some(c) = v.get("compression").and_then(Value::as_str) {
        options.compression = Compression::parse(c)
            .ok_or_else(|| bad(format!("compression {c:?}: expected zstd, gzip or none")))?;
    }
    let list = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    options.include_schemas = list("includeSchemas");
    options.exclude_schemas = list("excludeSchemas");
    Ok(options)
}

/// `restore`: loads `BLOODRAVEN_INPUT_URL` into `BLOODRAVEN_MYSQL_HOST`, replays the archive at
/// `BLOODRAVEN_PITR_MANIFEST_PREFIX` up to `BLOODRAVEN_PITR_STOP_DATETIME` when both are set (skipping the
/// transactions of `BLOODRAVEN_PITR_EXCLUDE_GTIDS`), and prints
/// `BLOODRAVEN_RESTORE_COMPLETE`. With `BLOODRAVEN_DROP_SCHEMAS` (a per-schema in-place restore) only those
/// schemas are dropped and loaded, binlogged, into the live target, and no replay is allowed.
pub async fn restore(vars: &dyn Vars) -> Result<Outcome, Error> {
    let storage = Storage::from_vars(vars)?;
    let input = required(vars, env::INPUT_URL)?;
    let target = env::server(vars)?;
    let (from, local) = open_input(&storage, &input)?;
    let passphrase = env::passphrase(vars, env::BACKUP_PASSPHRASE_FILE)?;
    let mut preparation = super::in_place::Preparation::from_vars(vars)?;
    let load = LoadOptions::from_vars(vars)?;
    let include_schemas = schema_restore(&load, preparation.as_mut())?;
    let preparation = preparation.filter(|p| *p != super::in_place::Preparation::default());
    let options = RestoreOptions {
        threads: load.threads,
        // A local folder read without a passphrase may be the plaintext copy `decrypt-download` made of an
        // encrypted dump (the Go Job's `/restore-decrypted`): its objects were checked against the marker there.
        decrypted_copy: local && passphrase.is_none(),
        passphrase,
        include_schemas,
        ..RestoreOptions::default()
    };
    let mut pitr = match (
        vars.var(env::PITR_STOP_DATETIME),
        vars.var(env::PITR_LOCAL_DIR),
    ) {
        (Some(t), Some(dir)) => Some(local_pitr_options(&dir, Target::Time(parse_time(&t)?))?),
        (Some(t), None) => pitr_options(vars, &storage, Target::Time(parse_time(&t)?))?,
        (None, _) => None,
    };
    if let Some(text) = vars
        .var(env::PITR_EXCLUDE_GTIDS)
        .filter(|t| !t.trim().is_empty())
    {
        let bad = |reason: String| Error::BadEnv {
            name: env::PITR_EXCLUDE_GTIDS,
            reason,
        };
        let exclude = bloodraven_backup::pitr::ExcludedGtids::parse(&text)
            .map_err(|e| bad(format!("{e}; fix pointInTime.excludeGtids")))?;
        let Some(p) = pitr.as_mut() else {
            return Err(bad(format!(
                "{text:?} is set but nothing is replayed: set {} and {} (or {}) too",
                env::PITR_STOP_DATETIME,
                env::PITR_MANIFEST_PREFIX,
                env::PITR_LOCAL_DIR
            )));
        };
        p.exclude = exclude;
    }
    if vars.var(env::PITR_FILTER_DATABASE).is_some() {
        return Err(Error::BadEnv {
            name: env::PITR_FILTER_DATABASE,
            reason: "a binlog replay filtered to one schema is not supported: the archived transactions carry \
                     GTIDs the target already executed (MariaDB's strict mode refuses them as out of order, MySQL \
                     skips them); drop spec.restoreInPlace.pointInTime, or restore the whole instance"
                .into(),
        });
    }
    if pitr.is_some() && !options.include_schemas.is_empty() {
        return Err(Error::BadEnv {
            name: env::DROP_SCHEMAS,
            reason: "a per-schema restore cannot replay binlogs (the archived transactions carry GTIDs the target \
                     already executed); drop spec.restoreInPlace.pointInTime"
                .into(),
        });
    }
    // The dump must open (the marker, the metadata and the passphrase check out) and bad replay options (an
    // unreachable target, a mistyped excludeGtids) must fail before the target is touched: a wrong source never
    // costs an in-place target its data. The planned binlogs download while the restore runs.
    let dump = bloodraven_backup::restore::open_dump_with(
        &from,
        options.passphrase.as_ref(),
        options.decrypted_copy,
    )
    .await?;
    let download = match &pitr {
        Some(p) => {
            let start = &dump.meta.gtid_executed;
            let plan = bloodraven_backup::pitr::preflight(start, p).await?;
            Some(bloodraven_backup::pitr::DownloadTask::start(plan, start, p).await?)
        }
        None => None,
    };
    // An in-place restore empties the live target first (spec.restoreInPlace).
    if let Some(p) = preparation {
        bloodraven_backup::restore::check_schemas(&dump, &options.include_schemas)?;
        for statement in super::in_place::prepare(&target, &p).await? {
            tracing::info!(%statement, "prepared the target for the in-place restore");
        }
    }
    let mut report = bloodraven_backup::restore::restore_dump(&target, &dump, &options).await?;
    if let (Some(p), Some(download)) = (&pitr, download) {
        let replayed = download
            .finish()
            .await?
            .apply(&target, report.source.flavor, p)
            .await?;
        report.gtid_executed = replayed.gtid_executed.clone();
        report.replay = Some(replayed);
    }
    let mut lines = Vec::new();
    if options.passphrase.is_some() {
        // Decrypted while streaming into the server: the stage is the whole restore.
        lines.push(
            EncryptMetrics {
                stage: "decrypt".into(),
                result: "success".into(),
                duration_seconds: report.duration.as_secs_f64(),
                bytes: report.source.total_bytes,
                ciphertext: 0,
                files: 0,
            }
            .line(),
        );
    }
    lines.push(report.log_line());
    Ok(Outcome::ok(lines))
}

/// Where the restore Job's `decrypt-download` init container writes the decrypted dump (as the Go Job).
pub const DECRYPTED_DIR: &str = "/restore-decrypted";

/// Opens the restore's input: a key in the bucket, a path below the PVC mount, or (the decrypted staging folder, a
/// mounted source PVC at `/restore`) any other absolute local folder.
/// Says whether it is such a local folder.
fn open_input(
    storage: &Storage,
    input: &str,
) -> Result<(bloodraven_backup::DumpLocation, bool), Error> {
    let path = std::path::Path::new(input);
    let below_mount = matches!(storage, Storage::Pvc { mount } if path.starts_with(mount));
    if path.is_absolute() && !below_mount {
        let location = bloodraven_backup::DumpLocation::parse(input.trim_end_matches('/'))?;
        return Ok((location, true));
    }
    Ok((storage.open(input)?, false))
}

/// The archive `pitr-download` left in `dir`: the downloaded (already decrypted) binlogs under `<site>/` and the
/// manifests of what it downloaded.
fn local_pitr_options(dir: &str, target: Target) -> Result<PitrOptions, Error> {
    let location = bloodraven_backup::DumpLocation::parse(dir.trim_end_matches('/'))?;
    let archive = ArchiveStore::new(
        std::sync::Arc::clone(location.store()),
        ArchiveLayout::new(location.prefix().as_ref()),
    );
    Ok(PitrOptions::new(archive, target))
}

/// `verify`: restores `BLOODRAVEN_INPUT_URL` into a throwaway server under `BLOODRAVEN_DATA_DIR` (127.0.0.1
/// only), replays binlogs per `BLOODRAVEN_VERIFY_PITR_MODE`, runs the sanity query, and prints the
/// `BLOODRAVEN_VERIFY_*` lines. A failed check is `succeeded: false`, not an error.
pub async fn verify(vars: &dyn Vars) -> Result<Outcome, Error> {
    let storage = Storage::from_vars(vars)?;
    let input = required(vars, env::INPUT_URL)?;
    let from = storage.open(&input)?;
    let mut options = VerifyOptions {
        restore: RestoreOptions {
            threads: LoadOptions::from_vars(vars)?.threads,
            passphrase: env::passphrase(vars, env::BACKUP_PASSPHRASE_FILE)?,
            ..RestoreOptions::default()
        },
        keep_on_failure: env::flag(vars, env::VERIFY_KEEP_ON_FAILURE).unwrap_or(true),
        ..VerifyOptions::default()
    };
    let data_dir = PathBuf::from(
        vars.var(env::DATA_DIR)
            .unwrap_or_else(|| "/var/lib/mysql-verify".into()),
    );
    std::fs::create_dir_all(&data_dir).map_err(|cause| Error::File {
        path: data_dir.clone(),
        cause,
    })?;
    options.server = ServerOptions {
        parent_dir: data_dir,
        ..ServerOptions::default()
    };
    if let Some(query) = vars.var(env::VERIFY_SANITY_QUERY) {
        let min_rows = match vars.var(env::VERIFY_SANITY_MIN_ROWS) {
            Some(n) => Some(n.parse::<i64>().map_err(|_| Error::BadEnv {
                name: env::VERIFY_SANITY_MIN_ROWS,
                reason: format!("{n:?}: expected an integer"),
            })?),
            None => None,
        };
        let seconds = match vars.var(env::VERIFY_SANITY_MAX_SECONDS) {
            Some(n) => n.parse::<u64>().map_err(|_| Error::BadEnv {
                name: env::VERIFY_SANITY_MAX_SECONDS,
                reason: format!("{n:?}: expected seconds"),
            })?,
            None => 60,
        };
        options.sanity = Some(SanityCheck {
            query,
            min_rows,
            max_duration: Duration::from_secs(seconds.max(1)),
        });
    }
    let mode = vars
        .var(env::VERIFY_PITR_MODE)
        .unwrap_or_else(|| "none".into());
    let target = match mode.as_str() {
        "none" => None,
        "latest" => Some(Target::Latest),
        "timestamp" => Some(Target::Time(parse_time(&required(
            vars,
            env::PITR_STOP_DATETIME,
        )?)?)),
        other => {
            return Err(Error::BadEnv {
                name: env::VERIFY_PITR_MODE,
                reason: format!("{other:?}: expected none, latest or timestamp"),
            });
        }
    };
    if let Some(target) = target {
        options.pitr = pitr_options(vars, &storage, target)?;
        if options.pitr.is_none() {
            return Err(Error::MissingEnv {
                name: env::PITR_MANIFEST_PREFIX,
            });
        }
    }
    let report = bloodraven_backup::verify::verify(&from, &options).await;
    let replay = report.replayed_through_binlog.as_ref();
    let result = VerifyResult {
        succeeded: report.succeeded,
        reason: report
            .reason
            .map(|r| format!("{r:?}"))
            .unwrap_or_else(|| "Verified".into()),
        message: report.message.clone(),
        gtid_executed: report.gtid_actual.clone(),
        tables: report.tables.len() as u64,
        replayed_file: replay.map(|r| r.file.clone()),
        replayed_position: replay.map_or(0, |r| r.position),
        replayed_timestamp: replay.and_then(|r| r.timestamp.clone()),
        sanity_ran: report.sanity_check.ran,
        sanity_duration_ms: report.sanity_check.duration_ms,
        sanity_result_row: report.sanity_check.result_row.clone(),
        sanity_error: report.sanity_check.error.clone(),
    };
    if let Some(dir) = &report.kept_dir {
        tracing::warn!(dir = %dir.display(), "kept the verification server's directory");
    }
    Ok(Outcome {
        lines: result.lines(),
        succeeded: report.succeeded,
    })
}

/// `encrypt-upload`: BRV1-encrypts `BLOODRAVEN_SOURCE_DIR` into `BLOODRAVEN_OUTPUT_URL` with the marker, and
/// prints `BLOODRAVEN_ENCRYPT_METRICS` and `BLOODRAVEN_DUMP_COMPLETE` (GTID and binlog position from the dump
/// script's `BLOODRAVEN_DUMP_META.json`).
pub async fn encrypt_upload(vars: &dyn Vars) -> Result<Outcome, Error> {
    let storage = Storage::from_vars(vars)?;
    let source = PathBuf::from(required(vars, env::SOURCE_DIR)?);
    let output = required(vars, env::OUTPUT_URL)?;
    let passphrase =
        env::passphrase(vars, env::BACKUP_PASSPHRASE_FILE)?.ok_or(Error::MissingEnv {
            name: env::BACKUP_PASSPHRASE_FILE,
        })?;
    let to = storage.open(&output)?;
    let started = Instant::now();
    let report =
        bloodraven_backup::transfer::encrypt_upload(&source, to.store(), to.prefix(), &passphrase)
            .await?;
    let side: Value = std::fs::read(source.join("BLOODRAVEN_DUMP_META.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let metrics = EncryptMetrics {
        stage: "encrypt".into(),
        result: "success".into(),
        duration_seconds: started.elapsed().as_secs_f64(),
        bytes: report.plaintext_bytes,
        ciphertext: report.ciphertext_bytes,
        files: report.files.len() as u64,
    };
    let dump = DumpResult {
        location: storage.location_text(&output, true),
        size_bytes: report.plaintext_bytes,
        gtid_executed: side["gtidExecuted"]
            .as_str()
            .unwrap_or("")
            .replace([' ', '\n'], ""),
        binlog_file: side["binlogFile"].as_str().unwrap_or("").to_owned(),
        binlog_pos: side["binlogPos"].as_u64().unwrap_or(0),
        encrypted: true,
        algorithm: "AES-256-GCM".into(),
        ciphertext_bytes: report.ciphertext_bytes,
        files: report.files.len() as u64,
        ..DumpResult::default()
    };
    Ok(Outcome::ok(vec![metrics.line(), dump.line()]))
}

/// `decrypt-download`: downloads and decrypts `BLOODRAVEN_SOURCE_PREFIX` into `BLOODRAVEN_TARGET_DIR`,
/// checking the marker's digests, and prints `BLOODRAVEN_ENCRYPT_METRICS`.
pub async fn decrypt_download(vars: &dyn Vars) -> Result<Outcome, Error> {
    let storage = Storage::from_vars(vars)?;
    let prefix = required(vars, env::SOURCE_PREFIX)?;
    let target = PathBuf::from(
        vars.var(env::TARGET_DIR)
            .unwrap_or_else(|| "/restore-decrypted".into()),
    );
    let passphrase =
        env::passphrase(vars, env::BACKUP_PASSPHRASE_FILE)?.ok_or(Error::MissingEnv {
            name: env::BACKUP_PASSPHRASE_FILE,
        })?;
    let from = storage.open(&prefix)?;
    let started = Instant::now();
    let report = bloodraven_backup::transfer::decrypt_download(
        from.store(),
        from.prefix(),
        &target,
        &passphrase,
        env::flag(vars, env::ALLOW_PLAINTEXT_FALLBACK).unwrap_or(false),
    )
    .await?;
    let metrics = EncryptMetrics {
        stage: "decrypt".into(),
        result: "success".into(),
        duration_seconds: started.elapsed().as_secs_f64(),
        bytes: report.plaintext_bytes,
        ciphertext: report.ciphertext_bytes,
        files: report.files.len() as u64,
    };
    Ok(Outcome::ok(vec![metrics.line()]))
}

/// The variables of `pitr-download`: `BLOODRAVEN_PITR_*` first, then the plain backup names.
struct PitrVars<'a>(&'a dyn Vars);

impl Vars for PitrVars<'_> {
    fn var(&self, name: &str) -> Option<String> {
        let pitr = match name {
            env::STORAGE_TYPE => Some("BLOODRAVEN_PITR_STORAGE_TYPE"),
            env::S3_BUCKET => Some("BLOODRAVEN_PITR_S3_BUCKET"),
            env::S3_ENDPOINT_OVERRIDE => Some("BLOODRAVEN_PITR_S3_ENDPOINT_URL"),
            env::AWS_REGION => Some("BLOODRAVEN_PITR_S3_REGION"),
            env::AWS_CREDS_DIR => Some("BLOODRAVEN_PITR_AWS_CREDS_DIR"),
            env::PVC_MOUNT_PATH => Some("BLOODRAVEN_PITR_PVC_MOUNT_PATH"),
            _ => None,
        };
        pitr.and_then(|p| self.0.var(p))
            .or_else(|| self.0.var(name))
    }
}

/// `pitr-download` (reference-formats §2.7): every archived binlog of the sites in `BLOODRAVEN_PITR_SITES` (else
/// every site with a manifest) whose first event is not after `BLOODRAVEN_PITR_STOP_DATETIME`, downloaded,
/// decrypted and checked into `BLOODRAVEN_PITR_OUTPUT_DIR/<site>/<name>`.
pub async fn pitr_download(vars: &dyn Vars) -> Result<Outcome, Error> {
    use bloodraven_backup::bloodraven_binlog::continuity::FileRef;
    use bloodraven_backup::bloodraven_binlog::manifest::SiteName;
    use bloodraven_backup::bloodraven_binlog::pitr::{Plan, PlannedFile, download};
    let stop = parse_time(&required(vars, env::PITR_STOP_DATETIME)?)?;
    let pitr_vars = PitrVars(vars);
    let storage = Storage::from_vars(&pitr_vars)?;
    let prefix = required(vars, env::PITR_MANIFEST_PREFIX)?;
    let out = PathBuf::from(
        vars.var("BLOODRAVEN_PITR_OUTPUT_DIR")
            .unwrap_or_else(|| "/pitr-binlogs".into()),
    );
    let location = storage.open(&prefix)?;
    let mut archive = ArchiveStore::new(
        std::sync::Arc::clone(location.store()),
        ArchiveLayout::new(location.prefix().as_ref()),
    );
    if let Some(p) = env::passphrase(vars, env::PITR_PASSPHRASE_FILE)? {
        archive = archive.with_passphrase(p);
    }
    let listed: Vec<String> = vars
        .var("BLOODRAVEN_PITR_SITES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let sites: Vec<SiteName> = if listed.is_empty() {
        archive
            .sites()
            .await
            .map_err(bloodraven_backup::Error::from)?
    } else {
        listed
            .iter()
            .map(|s| SiteName::parse(s))
            .collect::<Result<_, _>>()
            .map_err(bloodraven_backup::Error::from)?
    };
    let mut plan = Plan::default();
    let mut kept = Vec::new();
    for site in &sites {
        let manifest = archive
            .load_manifest(site)
            .await
            .map_err(bloodraven_backup::Error::from)?;
        let mut local = bloodraven_backup::bloodraven_binlog::manifest::Manifest::new(site);
        for entry in manifest.files {
            if entry.first_event_time.is_some_and(|t| t > stop) {
                continue;
            }
            local.upsert(entry.clone());
            plan.files.push(PlannedFile {
                file: FileRef {
                    site: site.as_str().to_owned(),
                    name: entry.name.clone(),
                },
                entry,
                adds: Default::default(),
                mariadb_start: None,
                stop: None,
                mariadb_ignore_domains: Vec::new(),
            });
        }
        kept.push((site.clone(), local));
    }
    std::fs::create_dir_all(&out).map_err(|cause| Error::File {
        path: out.clone(),
        cause,
    })?;
    let paths = download(&archive, &plan, &out)
        .await
        .map_err(bloodraven_backup::Error::from)?;
    // The manifests of what was downloaded, in plaintext beside the files: the restore step plans its replay from
    // them (`BLOODRAVEN_PITR_LOCAL_DIR`) as it would from the archive itself.
    for (site, manifest) in kept {
        let path = out.join(format!("manifest-{site}.json"));
        std::fs::write(&path, manifest.encode()).map_err(|cause| Error::File { path, cause })?;
    }
    Ok(Outcome::ok(vec![format_line(
        Sentinel::PitrDownloadComplete,
        &[
            ("files", paths.len().to_string()),
            ("sites", sites.len().to_string()),
            ("stopDatetime", stop.to_rfc3339()),
            ("outputDir", out.to_string_lossy().into_owned()),
        ],
    )]))
}

/// The `BLOODRAVEN_ENCRYPT_METRICS` line of a failed stage.
pub fn encrypt_failure_line(stage: &str, started: Instant) -> String {
    format_line(
        Sentinel::EncryptMetrics,
        &[
            ("stage", stage.to_owned()),
            ("result", "failure".into()),
            (
                "duration",
                format!("{:.3}", started.elapsed().as_secs_f64()),
            ),
        ],
    )
}

/// `BLOODRAVEN_LOAD_OPTIONS`, mysqlsh `util.loadDump` options as JSON: the keys this loader reads (`threads`,
/// default 4, and `includeSchemas`); the others are accepted and ignored.
struct LoadOptions {
    threads: usize,
    include_schemas: Option<Vec<String>>,
}

impl LoadOptions {
    fn from_vars(vars: &dyn Vars) -> Result<LoadOptions, Error> {
        let Some(json) = vars.var(env::LOAD_OPTIONS) else {
            return Ok(LoadOptions {
                threads: 4,
                include_schemas: None,
            });
        };
        let v: Value = serde_json::from_str(&json).map_err(|e| Error::BadEnv {
            name: env::LOAD_OPTIONS,
            reason: format!("not JSON: {e}"),
        })?;
        Ok(LoadOptions {
            threads: v
                .get("threads")
                .and_then(Value::as_u64)
                .map_or(4, |t| usize::try_from(t.max(1)).unwrap_or(1)),
            include_schemas: v.get("includeSchemas").and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            }),
        })
    }
}

/// A per-schema in-place restore (`BLOODRAVEN_DROP_SCHEMAS`, Go's variable): the schemas to restore, which the
/// loader drops itself once it checked that the dump has them (so they leave the preparation). The load options'
/// `includeSchemas`, when set, must name the same schemas. Empty for every other restore.
fn schema_restore(
    load: &LoadOptions,
    preparation: Option<&mut super::in_place::Preparation>,
) -> Result<Vec<String>, Error> {
    let Some(p) = preparation.filter(|p| !p.drop_schemas.is_empty()) else {
        return Ok(Vec::new());
    };
    if p.drop_all_user_schemas {
        return Err(Error::BadEnv {
            name: env::DROP_SCHEMAS,
            reason: format!(
                "{} drops every schema already: set one of the two",
                env::DROP_ALL_USER_SCHEMAS
            ),
        });
    }
    let schemas = std::mem::take(&mut p.drop_schemas);
    if let Some(listed) = &load.include_schemas {
        let mut listed: Vec<&str> = listed.iter().map(String::as_str).collect();
        let mut dropped: Vec<&str> = schemas.iter().map(String::as_str).collect();
        listed.sort_unstable();
        dropped.sort_unstable();
        if !listed.is_empty() && listed != dropped {
            return Err(Error::BadEnv {
                name: env::LOAD_OPTIONS,
                reason: format!(
                    "includeSchemas {listed:?} differs from {} {dropped:?}: a per-schema restore drops and \
                     loads the same schemas",
                    env::DROP_SCHEMAS
                ),
            });
        }
    }
    Ok(schemas)
}

fn pitr_options(
    vars: &dyn Vars,
    storage: &Storage,
    target: Target,
) -> Result<Option<PitrOptions>, Error> {
    let Some(prefix) = vars.var(env::PITR_MANIFEST_PREFIX) else {
        return Ok(None);
    };
    let location = storage.open(&prefix)?;
    let mut archive = ArchiveStore::new(
        std::sync::Arc::clone(location.store()),
        ArchiveLayout::new(location.prefix().as_ref()),
    );
    let passphrase = match env::passphrase(vars, env::PITR_PASSPHRASE_FILE)? {
        Some(p) => Some(p),
        None => env::passphrase(vars, env::BACKUP_PASSPHRASE_FILE)?,
    };
    if let Some(p) = passphrase {
        archive = archive.with_passphrase(p);
    }
    Ok(Some(PitrOptions::new(archive, target)))
}

/// RFC 3339 (fractions allowed) or `YYYY-MM-DD HH:MM:SS` as UTC, as the Go `pitr-download`.
pub fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    let t = text.trim();
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").map(|n| n.and_utc())
        })
        .map_err(|_| Error::BadEnv {
            name: env::PITR_STOP_DATETIME,
            reason: format!("{text:?}: expected RFC 3339 or YYYY-MM-DD HH:MM:SS"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_options_from_the_go_json() {
        let o = dump_options(
            Some(r#"{"threads":2,"bytesPerChunk":"1M","compression":"gzip","excludeSchemas":["tmp"],"consistent":true}"#),
            None,
        )
        .unwrap();
        assert_eq!(o.threads, 2);
        assert_eq!(o.bytes_per_chunk, 1 << 20);
        assert_eq!(o.compression, Compression::Gzip);
        assert_eq!(o.exclude_schemas, vec!["tmp".to_owned()]);
        let e = dump_options(Some(r#"{"compression":"lz4"}"#), None).unwrap_err();
        assert!(e.to_string().starts_with("BLOODRAVEN_DUMP_OPTIONS"), "{e}");
    }

    #[test]
    fn stop_times() {
        assert_eq!(
            parse_time("2026-05-20 04:00:00").unwrap(),
            parse_time("2026-05-20T04:00:00Z").unwrap()
        );
        assert!(parse_time("yesterday").is_err());
    }

    /// What `restore` restores for the variables, and what is left of the preparation.
    fn schemas(
        pairs: Vec<(&'static str, &'static str)>,
    ) -> Result<(Vec<String>, Option<super::super::in_place::Preparation>), Error> {
        let vars: std::collections::BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut p = super::super::in_place::Preparation::from_vars(&vars)?;
        let s = schema_restore(&LoadOptions::from_vars(&vars)?, p.as_mut())?;
        Ok((s, p))
    }

    #[test]
    fn the_go_drop_schemas_variable_selects_a_schema_restore() {
        // Per-schema (Go's Job): the loader restores the schema and drops it itself.
        let (s, p) = schemas(vec![
            (env::DROP_SCHEMAS, "shop"),
            (
                env::LOAD_OPTIONS,
                r#"{"includeSchemas":["shop"],"skipBinlog":false}"#,
            ),
        ])
        .unwrap();
        assert_eq!(s, ["shop"]);
        assert!(p.unwrap().drop_schemas.is_empty());
        // Full instance and ordinary restores restore everything.
        let (s, p) = schemas(vec![
            (env::DROP_ALL_USER_SCHEMAS, "1"),
            (env::RESET_REPLICATION, "1"),
        ])
        .unwrap();
        assert!(s.is_empty() && p.unwrap().drop_all_user_schemas);
        assert_eq!(schemas(vec![]).unwrap(), (vec![], None));
        // Contradictions are refused naming the variable.
        let e = schemas(vec![
            (env::DROP_SCHEMAS, "shop"),
            (env::LOAD_OPTIONS, r#"{"includeSchemas":["crm"]}"#),
        ])
        .unwrap_err();
        assert!(e.to_string().starts_with("BLOODRAVEN_LOAD_OPTIONS"), "{e}");
        assert!(e.to_string().contains("differs"), "{e}");
        let e = schemas(vec![
            (env::DROP_SCHEMAS, "shop"),
            (env::DROP_ALL_USER_SCHEMAS, "1"),
        ])
        .unwrap_err();
        assert!(e.to_string().starts_with("BLOODRAVEN_DROP_SCHEMAS"), "{e}");
    }
}
