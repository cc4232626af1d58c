//! Counters a running dump or restore updates and a caller may read at any time (for a progress line).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Live counters of a dump or restore; share an `Arc<Progress>` and read [`Progress::snapshot`].
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    rows: AtomicU64,
    data_bytes: AtomicU64,
    tables_done: AtomicU64,
    tables_total: AtomicU64,
    estimated_bytes: AtomicU64,
}

/// A reading of [`Progress`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ProgressSnapshot {
    /// Rows written or loaded so far.
    pub rows: u64,
    /// Uncompressed data bytes so far.
    pub data_bytes: u64,
    /// Tables whose every chunk is done.
    pub tables_done: u64,
    /// Tables in the dump.
    pub tables_total: u64,
    /// Expected uncompressed bytes (the server's estimate for a dump, the recorded total for a restore).
    pub estimated_bytes: u64,
    /// Time since the start.
    pub elapsed: Duration,
}

impl ProgressSnapshot {
    /// Estimated time left, from the byte rate so far (`None` before any byte or past the estimate).
    pub fn eta(&self) -> Option<Duration> {
        if self.data_bytes == 0 || self.data_bytes >= self.estimated_bytes {
            return None;
        }
        let rate = self.data_bytes as f64 / self.elapsed.as_secs_f64().max(1e-3);
        Some(Duration::from_secs_f64(
            (self.estimated_bytes - self.data_bytes) as f64 / rate,
        ))
    }
}

impl Progress {
    /// Counters at zero, clock started now.
    pub fn new() -> Progress {
        Progress {
            started: Instant::now(),
            rows: AtomicU64::new(0),
            data_bytes: AtomicU64::new(0),
            tables_done: AtomicU64::new(0),
            tables_total: AtomicU64::new(0),
            estimated_bytes: AtomicU64::new(0),
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            rows: self.rows.load(Ordering::Relaxed),
            data_bytes: self.data_bytes.load(Ordering::Relaxed),
            tables_done: self.tables_done.load(Ordering::Relaxed),
            tables_total: self.tables_total.load(Ordering::Relaxed),
            estimated_bytes: self.estimated_bytes.load(Ordering::Relaxed),
            elapsed: self.started.elapsed(),
        }
    }

    pub(crate) fn add(&self, rows: u64, bytes: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.data_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn table_done(&self) {
        self.tables_done.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_totals(&self, tables: u64, bytes: u64) {
        self.tables_total.store(tables, Ordering::Relaxed);
        self.estimated_bytes.store(bytes, Ordering::Relaxed);
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}
