//! End sets learned from the files themselves, for entries the manifest cannot bound.
//!
//! A Go-written manifest records only each file's previous GTIDs. The continuity rules bound a file by the
//! next file of its site, so the newest file of each site has no end set and the planner cannot tell what
//! it holds ([`Plan::unverifiable_in_window`](super::Plan::unverifiable_in_window)). Whoever can read the
//! archive's objects can do better: [`learn_end_sets`] streams each such object (decrypting BRV1 when
//! needed), reads it with the crate's own [`reader`](crate::reader), and completes its entry with the
//! GTIDs the file contains and its end set, exactly as the Rust archiver would have written them.

use std::io;

use sha2::Digest as _;

use super::Target;
use super::download::{object_key, open_plaintext, stream_object};
use crate::Error;
use crate::archive::{ArchiveStore, Tee, gtid_fields};
use crate::continuity::{self, FileRef};
use crate::manifest::{Manifest, ManifestEntry};
use crate::reader::{self, FileSummary};

/// What [`learn_end_sets`] found.
#[derive(Debug, Default)]
pub struct Learned {
    /// The manifests with every entry that was read completed (contained GTIDs, end set, plaintext
    /// SHA-256; the MariaDB lists for MariaDB files). Only this copy changes: nothing is written back.
    pub manifests: Vec<Manifest>,
    /// Files read and completed.
    pub scanned: Vec<FileRef>,
    /// Files that could not be read, with the reason; they stay unverifiable, so a plan that needs them
    /// is incomplete.
    pub failed: Vec<(FileRef, Error)>,
}

/// Reads every archived file that has no end set and could hold transactions for `target` (see
/// [`plan`](super::plan)), and completes its entry from the file's own events.
///
/// Each object is streamed once, checked against the entry's plaintext `size` (and `sha256` when
/// present) and against its `previousGtids`; a file that fails is reported in [`Learned::failed`] and
/// left as it was. Errors in the manifests' GTID text are returned, as [`plan`](super::plan) would.
pub async fn learn_end_sets(
    store: &ArchiveStore,
    manifests: &[Manifest],
    target: &Target,
) -> Result<Learned, Error> {
    let (_, unverifiable) = continuity::archived_files(manifests)?;
    // The dump's state is not known here, and an exclusive MySQL stop moves up with it (to before the
    // set's lowest GNO the dump does not hold): aim at the widest goal, the inclusive one, which at worst
    // reads a file the plan does not need.
    let widest = match target {
        Target::Gtids { set, .. } => Target::Gtids {
            set: set.clone(),
            inclusive: true,
        },
        other => other.clone(),
    };
    let goal = super::goal(&widest, &crate::continuity::History::new());
    let mut learned = Learned {
        manifests: manifests.to_vec(),
        ..Default::default()
    };
    for file in unverifiable {
        let Some(entry) = learned
            .manifests
            .iter_mut()
            .filter(|m| m.site == file.site)
            .flat_map(|m| m.files.iter_mut())
            .find(|e| e.name == file.name)
        else {
            continue;
        };
        if !super::in_window(entry, target, goal.as_ref()) {
            continue;
        }
        match scan(store, &file.site, entry).await {
            Ok(completed) => {
                *entry = completed;
                learned.scanned.push(file);
            }
            Err(e) => {
                tracing::warn!(file = %file, error = %e, "cannot learn the end set of an archived binlog");
                learned.failed.push((file, e));
            }
        }
    }
    Ok(learned)
}

/// Reads the object of `entry` and returns the entry completed from its summary.
async fn scan(
    store: &ArchiveStore,
    site: &str,
    entry: &ManifestEntry,
) -> Result<ManifestEntry, Error> {
    let (_, _, key) = object_key(store, site, entry)?;
    let passphrase = store.passphrase.clone();
    let allow_plaintext = store.allow_plaintext;
    let task_key = key.clone();
    let (summary, size, sha256) = stream_object(store, &key, move |src| {
        let plain = open_plaintext(src, &task_key, passphrase.as_ref(), allow_plaintext)?;
        let mut tee = Tee::new(plain, io::sink());
        let summary = reader::summarize(&mut tee)?;
        io::copy(&mut tee, &mut io::sink()).map_err(|cause| Error::Io {
            offset: summary.size,
            cause,
        })?;
        Ok((
            summary,
            tee.count,
            crate::archive::hex(&tee.hasher.finalize()),
        ))
    })
    .await
    .map_err(|join| Error::Mismatch {
        key: key.clone(),
        what: format!("reading the object failed: {join}"),
    })??;
    check(&key, entry, &summary, size, &sha256)?;
    let mut completed = entry.clone();
    gtid_fields(&mut completed, &summary);
    completed.sha256.get_or_insert(sha256);
    Ok(completed)
}

/// The object must be the file the entry describes: same size, digest and start state.
fn check(
    key: &str,
    entry: &ManifestEntry,
    summary: &FileSummary,
    size: u64,
    sha256: &str,
) -> Result<(), Error> {
    let mismatch = |what: String| {
        Err(Error::Mismatch {
            key: key.to_owned(),
            what,
        })
    };
    if size != entry.size {
        return mismatch(format!(
            "{size} plaintext bytes, the manifest says {}",
            entry.size
        ));
    }
    if let Some(want) = &entry.sha256
        && !want.eq_ignore_ascii_case(sha256)
    {
        return mismatch(format!("sha256 {sha256}, the manifest says {want}"));
    }
    if !entry.previous_gtids.is_empty() {
        let file = summary
            .previous_gtids
            .as_ref()
            .map(|p| p.to_compact_string())
            .unwrap_or_default();
        let same = bloodraven_gtid::GtidSet::parse(&entry.previous_gtids)
            .ok()
            .zip(summary.previous_gtids.as_ref())
            .is_some_and(|(a, b)| a == *b);
        if !same {
            return mismatch(format!(
                "previous GTIDs {file:?} in the file, the manifest says {:?}",
                entry.previous_gtids
            ));
        }
    }
    Ok(())
}
