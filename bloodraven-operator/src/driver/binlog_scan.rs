//! The exact MariaDB divergent-GTID audit: which transactions in the old primary's binary logs the new primary
//! lacks.
//!
//! A transaction `d-s-n` of the old primary is on the new primary exactly when the new primary's binlog state
//! holds `d-s-m` with `m ≥ n` (each server's transactions reach every replica in order). The state alone gives
//! the last transaction of each (domain, server) but not where the divergent run starts, nor gaps in it; the
//! binary log does. The scan reads only the newest files: it walks back over each file's `Gtid_list` event (the
//! binlog state before the file) until one starts at a point the new primary already has, then lists the `Gtid`
//! events from there on, streaming rows.

use std::collections::BTreeMap;

use bloodraven_gtid::MariadbGtid;

use super::{DriverSite, mariadb_sql, parse};
use crate::engine::{Divergence, divergence};
use crate::site::{Flavor, GtidState, MariadbState, SiteError};

impl DriverSite {
    /// The transactions this (old primary, fenced) MariaDB server committed that `new_primary` lacks, read from
    /// this server's binary logs; `None` when there are none.
    ///
    /// When the binary logs that would hold the start of the divergent run were purged, the answer falls back
    /// to [`engine::divergence`](crate::engine::divergence) on the two states (which assumes consecutive
    /// sequence numbers). MySQL sites answer [`SiteError::Unsupported`]: their GTID sets are exact already.
    pub async fn mariadb_divergence(
        &self,
        new_primary: &MariadbState,
    ) -> Result<Option<Divergence>, SiteError> {
        if self.flavor != Flavor::Mariadb {
            return Err(SiteError::Unsupported {
                site: self.name.clone(),
                operation: "binary log divergence scan".into(),
                flavor: self.flavor,
            });
        }
        let mut s = self.open().await?;
        let result = async {
            let rows = self.rows_on(&mut s, mariadb_sql::SQL.executed).await?;
            let row = rows.first().ok_or_else(|| self.no_row(mariadb_sql::SQL.executed))?;
            let old = parse::mariadb_state(row, 0).map_err(|b| self.bad(b))?;
            let have = Known::of(new_primary);
            if old.binlog_state.iter().all(|g| have.has(g)) {
                return Ok(None);
            }
            let files: Vec<String> = self
                .rows_on(&mut s, mariadb_sql::BINARY_LOGS)
                .await?
                .iter()
                .filter_map(|r| r.get(&["Log_name"]).map(str::to_string))
                .collect();
            let mut start = None;
            for (i, file) in files.iter().enumerate().rev() {
                let head = self.rows_on(&mut s, &mariadb_sql::binlog_head(file)).await?;
                let before = head
                    .iter()
                    .find(|r| r.get(&["Event_type"]) == Some("Gtid_list"))
                    .map(|r| gtid_list_event(r.get(&["Info"]).unwrap_or("")))
                    .transpose()
                    .map_err(|b| self.bad(b))?
                    .unwrap_or_default();
                if before.iter().all(|g| have.has(g)) {
                    start = Some(i);
                    break;
                }
            }
            let Some(start) = start else {
                tracing::warn!(site = %self.name, "binary logs purged past the divergence point; estimating from GTID states");
                return Ok(divergence(&GtidState::Mariadb(old), &GtidState::Mariadb(new_primary.clone())));
            };
            let mut runs = Runs::default();
            for file in &files[start..] {
                let mut bad = None;
                s.each_row(&mariadb_sql::binlog_events(file), |r| {
                    if r.get(&["Event_type"]) != Some("Gtid") || bad.is_some() {
                        return;
                    }
                    match gtid_event(r.get(&["Info"]).unwrap_or("")) {
                        Ok(g) if !have.has(&g) => runs.push(g),
                        Ok(_) => {}
                        Err(b) => bad = Some(b),
                    }
                })
                .await
                .map_err(|f| self.failed(&mariadb_sql::binlog_events(file), f))?;
                if let Some(b) = bad {
                    return Err(self.bad(b));
                }
            }
            Ok(runs.into_divergence())
        }
        .await;
        s.close().await;
        result
    }
}

/// The last sequence number the new primary has per (domain, server).
struct Known(BTreeMap<(u32, u32), u64>);

impl Known {
    fn of(state: &MariadbState) -> Known {
        let mut known = BTreeMap::new();
        let all = state
            .binlog_state
            .iter()
            .chain(&state.current_pos)
            .chain(&state.slave_pos);
        for g in all {
            let seq = known.entry((g.domain, g.server_id)).or_insert(0);
            *seq = (*seq).max(g.seq);
        }
        Known(known)
    }

    fn has(&self, g: &MariadbGtid) -> bool {
        self.0
            .get(&(g.domain, g.server_id))
            .is_some_and(|&seq| seq >= g.seq)
    }
}

/// Divergent GTIDs as runs of consecutive sequence numbers per (domain, server).
#[derive(Default)]
struct Runs {
    runs: BTreeMap<(u32, u32), Vec<(u64, u64)>>,
    count: u64,
}

impl Runs {
    fn push(&mut self, g: MariadbGtid) {
        self.count += 1;
        let runs = self.runs.entry((g.domain, g.server_id)).or_default();
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == g.seq => *last = g.seq,
            _ => runs.push((g.seq, g.seq)),
        }
    }

    /// The engine's text form: `domain-server-first..last` (or `domain-server-seq`), comma separated, sorted.
    fn into_divergence(self) -> Option<Divergence> {
        let mut parts = Vec::new();
        for ((domain, server), runs) in &self.runs {
            let mut runs = runs.clone();
            runs.sort_unstable();
            for (first, last) in runs {
                parts.push(if first == last {
                    format!("{domain}-{server}-{first}")
                } else {
                    format!("{domain}-{server}-{first}..{last}")
                });
            }
        }
        (self.count > 0).then(|| Divergence {
            text: parts.join(","),
            count: self.count,
        })
    }
}

/// The GTID of a `Gtid` event's `Info` (`BEGIN GTID 0-1-5`, `GTID 0-1-1`, possibly followed by ` cid=…`).
fn gtid_event(info: &str) -> Result<MariadbGtid, parse::BadValue> {
    let token = info
        .split_whitespace()
        .skip_while(|w| *w != "GTID")
        .nth(1)
        .unwrap_or("");
    parse::gtid_vec("Gtid event", Some(token))
        .ok()
        .and_then(|v| (v.len() == 1).then(|| v[0]))
        .ok_or_else(|| parse::BadValue {
            what: "Gtid event".into(),
            value: info.into(),
            message: "expected `GTID <domain>-<server>-<seq>`".into(),
        })
}

/// The GTIDs of a `Gtid_list` event's `Info` (`[0-1-4,1-2-7]`).
fn gtid_list_event(info: &str) -> Result<Vec<MariadbGtid>, parse::BadValue> {
    let inner = info.trim().trim_start_matches('[').trim_end_matches(']');
    parse::gtid_vec("Gtid_list event", Some(inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> MariadbGtid {
        s.parse().unwrap()
    }

    #[test]
    fn event_infos_parse() {
        assert_eq!(gtid_event("BEGIN GTID 0-1-5").unwrap(), g("0-1-5"));
        assert_eq!(gtid_event("GTID 0-1-1").unwrap(), g("0-1-1"));
        assert_eq!(gtid_event("BEGIN GTID 2-3-40 cid=17").unwrap(), g("2-3-40"));
        assert!(gtid_event("BEGIN").is_err());
        assert_eq!(gtid_list_event("[]").unwrap(), vec![]);
        assert_eq!(
            gtid_list_event("[0-1-4,1-2-7]").unwrap(),
            vec![g("0-1-4"), g("1-2-7")]
        );
    }

    #[test]
    fn known_takes_the_highest_sequence_per_server() {
        let new = MariadbState {
            binlog_state: vec![g("0-1-90"), g("0-2-150")],
            slave_pos: "0-1-95".parse().unwrap(),
            ..Default::default()
        };
        let k = Known::of(&new);
        assert!(k.has(&g("0-1-95")));
        assert!(!k.has(&g("0-1-96")));
        assert!(!k.has(&g("0-3-1")));
        assert!(k.has(&g("0-2-150")));
    }

    #[test]
    fn runs_compress_consecutive_sequences_with_gaps_kept() {
        let mut r = Runs::default();
        for s in ["0-1-91", "0-1-92", "0-1-93", "0-1-95", "1-1-7", "0-3-94"] {
            r.push(g(s));
        }
        let d = r.into_divergence().unwrap();
        assert_eq!(d.text, "0-1-91..93,0-1-95,0-3-94,1-1-7");
        assert_eq!(d.count, 6);
        assert_eq!(Runs::default().into_divergence(), None);
    }
}
