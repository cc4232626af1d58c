//! Dumps under a prefix: listing them, choosing the newest complete one, and retention.
//!
//! Each directory one level below the prefix is a dump. It is **complete** when its `@.done.json` exists;
//! its completion time is that marker's modification time in the store (readable without the passphrase
//! of an encrypted dump). A dump without the marker is incomplete — failed, killed, or still running — and is
//! never chosen as the newest.
//!
//! [`plan`] is pure: given the dumps, a [`RetentionPolicy`] and the time now it says which to delete.
//! [`prune`] deletes whole dump directories, the completion marker first, so a dump whose deletion is cut
//! short is incomplete and never restored.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;

use crate::error::Error;
use crate::format::{DONE_MARKER, ENCRYPTION_MARKER};

/// One dump directory.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpSummary {
    /// The directory name (one level below the prefix).
    pub name: String,
    /// `@.done.json` exists.
    pub complete: bool,
    /// Complete: when the marker was written; incomplete: the newest object's time.
    pub time: DateTime<Utc>,
    /// Stored bytes of all its objects.
    pub stored_bytes: u64,
    /// Number of objects.
    pub objects: usize,
}

/// How many dumps to keep (the `retentionPolicy` of a backup profile).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RetentionPolicy {
    /// Keep at most this many complete dumps.
    pub count: Option<usize>,
    /// Delete complete dumps older than this many days.
    pub max_age_days: Option<u32>,
    /// Never keep fewer complete dumps than this (default 1; the newest complete dump is always kept).
    pub min_keep: usize,
    /// Keep at most this many incomplete dumps (default 10), newest first; an incomplete dump newer than the
    /// newest complete one may still be running and is never deleted.
    pub max_failed_keep: usize,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            count: None,
            max_age_days: None,
            min_keep: 1,
            max_failed_keep: 10,
        }
    }
}

/// Which dumps to delete, with the reason for each.
pub fn plan(
    dumps: &[DumpSummary],
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let mut complete: Vec<&DumpSummary> = dumps.iter().filter(|d| d.complete).collect();
    complete.sort_by(|a, b| b.time.cmp(&a.time).then(a.name.cmp(&b.name)));
    let mut incomplete: Vec<&DumpSummary> = dumps.iter().filter(|d| !d.complete).collect();
    incomplete.sort_by(|a, b| b.time.cmp(&a.time).then(a.name.cmp(&b.name)));
    let floor = policy.min_keep.max(1);
    let mut delete = Vec::new();
    for (i, d) in complete.iter().enumerate() {
        if i < floor {
            continue;
        }
        if let Some(count) = policy.count
            && i >= count
        {
            delete.push((
                d.name.clone(),
                format!("beyond the newest {count} complete dumps"),
            ));
            continue;
        }
        if let Some(days) = policy.max_age_days
            && now - d.time > Duration::days(i64::from(days))
        {
            delete.push((
                d.name.clone(),
                format!("complete and older than {days} days"),
            ));
        }
    }
    let newest_complete = complete.first().map(|d| d.time);
    let mut kept_failed = 0;
    for d in incomplete {
        if newest_complete.is_none_or(|t| d.time > t) {
            continue; // may still be running
        }
        if kept_failed < policy.max_failed_keep {
            kept_failed += 1;
            continue;
        }
        delete.push((
            d.name.clone(),
            format!(
                "incomplete, beyond the newest {} incomplete dumps",
                policy.max_failed_keep
            ),
        ));
    }
    delete
}

/// Lists the dumps directly under `prefix` of `store`.
pub async fn list_dumps(
    store: &Arc<dyn ObjectStore>,
    prefix: &Path,
) -> Result<Vec<DumpSummary>, Error> {
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(prefix))
        .try_collect()
        .await
        .map_err(|e| Error::store(prefix.as_ref(), e))?;
    let depth = prefix.parts().count();
    let mut dirs: BTreeMap<String, DumpSummary> = BTreeMap::new();
    for o in listed {
        let parts: Vec<_> = o.location.parts().collect();
        if parts.len() != depth + 2 {
            continue; // the prefix's own files, or deeper nesting
        }
        let name = parts[depth].as_ref().to_owned();
        let file = parts[depth + 1].as_ref();
        let d = dirs.entry(name.clone()).or_insert_with(|| DumpSummary {
            name,
            complete: false,
            time: DateTime::<Utc>::MIN_UTC,
            stored_bytes: 0,
            objects: 0,
        });
        d.objects += 1;
        d.stored_bytes += o.size;
        if file == DONE_MARKER {
            d.complete = true;
            d.time = o.last_modified;
        } else if !d.complete && o.last_modified > d.time {
            d.time = o.last_modified;
        }
    }
    Ok(dirs.into_values().collect())
}

/// The newest complete dump under the prefix (ties: the lexicographically smallest name), if any.
pub fn latest(dumps: &[DumpSummary]) -> Option<&DumpSummary> {
    dumps
        .iter()
        .filter(|d| d.complete)
        .min_by(|a, b| b.time.cmp(&a.time).then(a.name.cmp(&b.name)))
}

/// Deletes the dump directory `name` under `prefix`: `@.done.json` first, then the encryption marker, then
/// everything else. Returns the number of objects deleted.
pub async fn delete_dump(
    store: &Arc<dyn ObjectStore>,
    prefix: &Path,
    name: &str,
) -> Result<usize, Error> {
    let dir = prefix.clone().join(name);
    let mut objects: Vec<Path> = store
        .list(Some(&dir))
        .map_ok(|o| o.location)
        .try_collect()
        .await
        .map_err(|e| Error::store(dir.as_ref(), e))?;
    let rank = |p: &Path| match p.filename() {
        Some(DONE_MARKER) => 0,
        Some(ENCRYPTION_MARKER) => 1,
        _ => 2,
    };
    objects.sort_by_key(rank);
    for o in &objects {
        match store.delete(o).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::store(o.as_ref(), e)),
        }
    }
    Ok(objects.len())
}

/// Applies `policy` to the dumps under `prefix`: deletes what [`plan`] says (unless `dry_run`) and returns
/// the plan.
pub async fn prune(
    store: &Arc<dyn ObjectStore>,
    prefix: &Path,
    policy: &RetentionPolicy,
    dry_run: bool,
) -> Result<Vec<(String, String)>, Error> {
    let dumps = list_dumps(store, prefix).await?;
    let decisions = plan(&dumps, policy, Utc::now());
    if !dry_run {
        for (name, reason) in &decisions {
            let n = delete_dump(store, prefix, name).await?;
            tracing::info!(dump = name, reason, objects = n, "deleted dump");
        }
    }
    Ok(decisions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str, complete: bool, days_ago: i64, now: DateTime<Utc>) -> DumpSummary {
        DumpSummary {
            name: name.into(),
            complete,
            time: now - Duration::days(days_ago),
            stored_bytes: 1,
            objects: 1,
        }
    }

    #[test]
    fn keeps_the_newest_count_and_never_the_last_complete_dump() {
        let now = Utc::now();
        let dumps = vec![
            d("a", true, 30, now),
            d("b", true, 20, now),
            d("c", true, 10, now),
            d("x", false, 5, now),
        ];
        let policy = RetentionPolicy {
            count: Some(2),
            ..RetentionPolicy::default()
        };
        assert_eq!(
            plan(&dumps, &policy, now)
                .iter()
                .map(|p| p.0.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        // Everything is too old, but the newest complete dump stays (min_keep 0 still keeps one).
        let policy = RetentionPolicy {
            max_age_days: Some(1),
            min_keep: 0,
            ..RetentionPolicy::default()
        };
        let names: Vec<_> = plan(&dumps, &policy, now)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(latest(&dumps).map(|d| d.name.as_str()), Some("c"));
    }

    #[test]
    fn incomplete_dumps_are_capped_but_a_running_one_is_left_alone() {
        let now = Utc::now();
        let dumps = vec![
            d("done", true, 10, now),
            d("f1", false, 11, now),
            d("f2", false, 12, now),
            d("f3", false, 13, now),
            d("running", false, 0, now),
        ];
        let policy = RetentionPolicy {
            max_failed_keep: 1,
            ..RetentionPolicy::default()
        };
        let names: Vec<_> = plan(&dumps, &policy, now)
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(names, ["f2", "f3"]);
        assert_eq!(latest(&dumps).map(|d| d.name.as_str()), Some("done"));
        assert_eq!(latest(&dumps[1..]), None);
    }
}
