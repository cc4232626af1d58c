//! Divergent-GTID computation (§2.2): the transactions an old primary committed that the new primary lacks.

use bloodraven_gtid::MariadbGtid;

use crate::site::{GtidState, MariadbState};

/// The divergent transactions of an old primary.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Divergence {
    /// Canonical text (MySQL: compact GTID set; MariaDB: `domain-server-first..last` ranges, comma separated).
    pub text: String,
    /// Number of transactions.
    pub count: u64,
}

/// `old − new`, or `None` when the new primary contains everything the old one executed (rejoin is safe).
///
/// MySQL: GTID set difference. MariaDB: per (domain, server id) of the old server's `gtid_binlog_state`, the
/// sequence numbers beyond what the new server's binlog state (or, for its own domain positions,
/// `gtid_current_pos`) holds for the same pair. States of different flavours are reported as wholly divergent.
pub fn divergence(old: &GtidState, new: &GtidState) -> Option<Divergence> {
    match (old, new) {
        (GtidState::Mysql(o), GtidState::Mysql(n)) => {
            let d = o.difference(n);
            (!d.is_empty()).then(|| Divergence {
                text: d.to_compact_string(),
                count: u64::try_from(d.count()).unwrap_or(u64::MAX),
            })
        }
        (GtidState::Mariadb(o), GtidState::Mariadb(n)) => mariadb(o, n),
        _ => Some(Divergence {
            text: old.to_string(),
            count: 0,
        }),
    }
}

fn mariadb(old: &MariadbState, new: &MariadbState) -> Option<Divergence> {
    let mut entries: Vec<MariadbGtid> = old.binlog_state.clone();
    if entries.is_empty() {
        entries = old.binlog_pos.iter().copied().collect();
    }
    let mut parts = Vec::new();
    let mut count = 0u64;
    for g in entries {
        let have = new
            .binlog_state
            .iter()
            .chain(
                new.current_pos
                    .iter()
                    .filter(|c| c.server_id == g.server_id),
            )
            .filter(|h| h.domain == g.domain && h.server_id == g.server_id)
            .map(|h| h.seq)
            .max()
            .unwrap_or(0);
        if g.seq > have {
            let first = have + 1;
            count += g.seq - have;
            parts.push(if first == g.seq {
                format!("{}-{}-{}", g.domain, g.server_id, g.seq)
            } else {
                format!("{}-{}-{first}..{}", g.domain, g.server_id, g.seq)
            });
        }
    }
    (!parts.is_empty()).then(|| Divergence {
        text: parts.join(","),
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

    fn my(s: &str) -> GtidState {
        GtidState::Mysql(s.parse().unwrap())
    }

    #[test]
    fn mysql_divergence_is_set_difference() {
        let old = my(&format!("{A}:1-105"));
        let new = my(&format!("{A}:1-100,{B}:1-7"));
        let d = divergence(&old, &new).unwrap();
        assert_eq!(d.text, format!("{A}:101-105"));
        assert_eq!(d.count, 5);
        assert_eq!(divergence(&my(&format!("{A}:1-100")), &new), None);
        assert_eq!(divergence(&my(""), &new), None);
    }

    #[test]
    fn mariadb_divergence_counts_sequences_per_server() {
        let g = |s: &str| s.parse::<MariadbGtid>().unwrap();
        let old = GtidState::Mariadb(MariadbState {
            binlog_state: vec![g("0-1-105")],
            ..Default::default()
        });
        let new = GtidState::Mariadb(MariadbState {
            binlog_state: vec![g("0-1-100"), g("0-2-110")],
            ..Default::default()
        });
        let d = divergence(&old, &new).unwrap();
        assert_eq!(d.text, "0-1-101..105");
        assert_eq!(d.count, 5);
        let caught = GtidState::Mariadb(MariadbState {
            binlog_state: vec![g("0-1-105"), g("0-2-1")],
            ..Default::default()
        });
        assert_eq!(divergence(&old, &caught), None);
    }
}
