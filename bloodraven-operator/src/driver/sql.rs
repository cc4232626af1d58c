//! The shape of a flavour's SQL table ([`Sql`]) and the statement type that keeps passwords out of error messages.
//!
//! Each flavour fills one [`Sql`] table in its own module (`mysql_sql`, `mariadb_sql`); the driver never spells a
//! statement anywhere else.

use std::fmt;
use std::time::Duration;

use crate::site::SourceSpec;

/// One statement to send, and the text to show for it in logs and errors (the password replaced).
#[derive(Clone, Eq, PartialEq)]
pub(crate) struct Statement {
    /// What the server receives.
    pub(crate) sql: String,
    /// What humans see: `sql` with every secret replaced by `'<redacted>'`.
    pub(crate) shown: String,
}

impl Statement {
    /// A statement without secrets.
    pub(crate) fn plain(sql: impl Into<String>) -> Statement {
        let sql = sql.into();
        Statement {
            shown: sql.clone(),
            sql,
        }
    }
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Every statement one flavour sends, by operation.
pub(crate) struct Sql {
    /// One row: `read_only`, `super_read_only` (MySQL) or `server_id` (MariaDB), version, GTID columns.
    pub(crate) probe: &'static str,
    /// Replication channel status; no row when the server is not a replica.
    pub(crate) replica_status: &'static str,
    /// Fencing, in order.
    pub(crate) fence: &'static [&'static str],
    /// Making writable, in order.
    pub(crate) unfence: &'static [&'static str],
    /// The ids of the sessions to kill (one `ID` column).
    pub(crate) list_client_sessions: &'static str,
    /// Kills one session.
    pub(crate) kill: fn(u64) -> String,
    /// Starts the applier only.
    pub(crate) start_sql_thread: &'static str,
    /// Stops both replication threads.
    pub(crate) stop_replication: &'static str,
    /// Forgets the replication channel.
    pub(crate) reset_replication: &'static str,
    /// Starts both replication threads.
    pub(crate) start_replication: &'static str,
    /// One row with the executed GTID state columns.
    pub(crate) executed: &'static str,
    /// Points the channel at a source with GTID auto-positioning.
    pub(crate) change_source: fn(&SourceSpec) -> Statement,
    /// Waits for a GTID state (MySQL set text or MariaDB position list) with a timeout; one row, one column.
    pub(crate) wait_for_executed: fn(&str, Duration) -> String,
    /// One row, one column: 1 when a schema other than the system schemas exists.
    pub(crate) has_user_schemas: &'static str,
}

/// `'text'` with backslashes and single quotes escaped, as the reference does.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A timeout in seconds as a SQL decimal literal with millisecond precision (`2`, `0.5`, `1.25`).
pub(crate) fn seconds(timeout: Duration) -> String {
    let millis = timeout.as_millis();
    let (whole, frac) = (millis / 1000, millis % 1000);
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:03}")
            .trim_end_matches('0')
            .to_string()
    }
}

/// The server version, the same in both flavours (flavour detection).
pub(crate) const VERSION: &str = "SELECT @@version";

/// The placeholder shown instead of a password.
pub(crate) const REDACTED: &str = "'<redacted>'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_quotes_and_backslashes() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote(r"it's a\b"), r"'it\'s a\\b'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn seconds_render_as_decimals() {
        assert_eq!(seconds(Duration::from_secs(30)), "30");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5");
        assert_eq!(seconds(Duration::from_millis(1250)), "1.25");
        assert_eq!(seconds(Duration::from_millis(1001)), "1.001");
        assert_eq!(seconds(Duration::ZERO), "0");
    }

    #[test]
    fn statement_debug_shows_the_redacted_text() {
        let s = Statement {
            sql: "SET PASSWORD = 'secret'".into(),
            shown: format!("SET PASSWORD = {REDACTED}"),
        };
        assert!(!format!("{s:?}").contains("secret"));
    }
}
