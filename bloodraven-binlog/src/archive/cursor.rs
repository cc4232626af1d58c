//! DR cursors: sentinels a disaster-recovery standby writes under `<profile prefix>/dr-cursors/` so the
//! source's retention keeps the binlog window the standby verifies.
//!
//! A cursor is a small plaintext JSON object (it holds no secret):
//!
//! ```json
//! {"version":1,"standby":"dr/orders-dr","keepFrom":"2026-12-07T01:00:00Z","writtenAt":"2026-12-07T03:00:00Z","expiresAt":"2026-12-10T03:00:00Z"}
//! ```
//!
//! [`Archiver::prune`](super::Archiver::prune) never removes an entry whose last event is at or after the
//! oldest `keepFrom` of the unexpired cursors ([`retention_cutoff`]). A cursor past its `expiresAt` (a standby
//! that was deleted or stopped refreshing it) no longer holds retention back. A cursor that cannot be read or
//! decoded stops the prune (an error naming the key): losing a DR window silently is worse than keeping binlogs
//! a little longer.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::Error;
use crate::manifest::ArchiveLayout;

/// The cursor format version this crate writes and reads.
pub const CURSOR_VERSION: u64 = 1;

/// One standby's claim on the archive: keep every binlog whose last event is at or after `keep_from`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct DrCursor {
    /// Who holds the claim (`<namespace>/<name>` of the standby), for people reading the bucket.
    pub standby: String,
    /// Binlogs whose last event is at or after this time are kept.
    pub keep_from: DateTime<Utc>,
    /// When the standby last wrote the cursor.
    pub written_at: DateTime<Utc>,
    /// After this time the claim lapses (`None`: never).
    pub expires_at: Option<DateTime<Utc>>,
}

impl DrCursor {
    /// The JSON text stored in the bucket.
    pub fn to_json(&self) -> String {
        let t = |d: &DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut v = json!({
            "version": CURSOR_VERSION,
            "standby": self.standby,
            "keepFrom": t(&self.keep_from),
            "writtenAt": t(&self.written_at),
        });
        if let Some(e) = &self.expires_at {
            v["expiresAt"] = json!(t(e));
        }
        v.to_string()
    }

    /// Decodes a stored cursor; `key` names it in the error.
    pub fn parse(key: &str, bytes: &[u8]) -> Result<DrCursor, Error> {
        let bad = |path: &str, what: String| Error::DrCursorDecode {
            key: key.to_owned(),
            path: path.to_owned(),
            what,
        };
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad("$", e.to_string()))?;
        match v.get("version").and_then(Value::as_u64) {
            Some(CURSOR_VERSION) => {}
            other => {
                return Err(bad(
                    "version",
                    format!("{other:?}: expected {CURSOR_VERSION}"),
                ));
            }
        }
        let time = |field: &str, required: bool| -> Result<Option<DateTime<Utc>>, Error> {
            match v.get(field) {
                None | Some(Value::Null) if !required => Ok(None),
                None | Some(Value::Null) => Err(bad(field, "missing".into())),
                Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|e| bad(field, format!("{s:?} is not RFC 3339: {e}"))),
                Some(other) => Err(bad(field, format!("{other} is not a string"))),
            }
        };
        let keep_from = time("keepFrom", true)?.unwrap_or_default();
        let written_at = time("writtenAt", false)?.unwrap_or(keep_from);
        Ok(DrCursor {
            standby: v
                .get("standby")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            keep_from,
            written_at,
            expires_at: time("expiresAt", false)?,
        })
    }

    /// Whether the claim still holds at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

/// The cutoff retention may apply: `cutoff`, moved back to the oldest `keepFrom` of the live cursors.
pub fn retention_cutoff(
    cutoff: DateTime<Utc>,
    cursors: &[DrCursor],
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    cursors
        .iter()
        .filter(|c| c.is_live(now))
        .map(|c| c.keep_from)
        .fold(cutoff, DateTime::min)
}

impl ArchiveLayout {
    /// `<profile prefix>/dr-cursors/`: beside `binlogs/` when the archive prefix ends in `binlogs` (the layout
    /// the operator configures), else below the archive prefix.
    pub fn dr_cursor_dir(&self) -> String {
        let p = self.prefix();
        let root = if p == "binlogs" {
            ""
        } else {
            p.strip_suffix("/binlogs").unwrap_or(p)
        };
        if root.is_empty() {
            "dr-cursors/".to_owned()
        } else {
            format!("{root}/dr-cursors/")
        }
    }

    /// The key of the cursor named `name` (`<namespace>.<standby>`; `/` is replaced by `.`).
    pub fn dr_cursor_key(&self, name: &str) -> String {
        format!("{}{}.json", self.dr_cursor_dir(), name.replace('/', "."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_name_the_field() {
        let c = DrCursor {
            standby: "dr/orders-dr".into(),
            keep_from: at("2026-12-07T01:00:00Z"),
            written_at: at("2026-12-07T03:00:00Z"),
            expires_at: Some(at("2026-12-10T03:00:00Z")),
        };
        let text = c.to_json();
        assert_eq!(
            text,
            r#"{"expiresAt":"2026-12-10T03:00:00Z","keepFrom":"2026-12-07T01:00:00Z","standby":"dr/orders-dr","version":1,"writtenAt":"2026-12-07T03:00:00Z"}"#
        );
        assert_eq!(DrCursor::parse("k", text.as_bytes()).unwrap(), c);
        let e = DrCursor::parse("o/dr-cursors/x.json", br#"{"version":1,"keepFrom":"soon"}"#)
            .unwrap_err();
        assert!(
            e.to_string().contains("o/dr-cursors/x.json") && e.to_string().contains("keepFrom"),
            "{e}"
        );
        let e = DrCursor::parse("k", br#"{"version":2,"keepFrom":"2026-12-07T01:00:00Z"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("version"), "{e}");
    }

    #[test]
    fn the_oldest_live_cursor_moves_the_cutoff_back() {
        let now = at("2026-12-07T12:00:00Z");
        let cutoff = at("2026-12-07T10:00:00Z");
        let cursor = |keep: &str, expires: Option<&str>| DrCursor {
            standby: "s".into(),
            keep_from: at(keep),
            written_at: now,
            expires_at: expires.map(at),
        };
        assert_eq!(retention_cutoff(cutoff, &[], now), cutoff);
        let live = cursor("2026-12-07T02:00:00Z", Some("2026-12-08T00:00:00Z"));
        let newer = cursor("2026-12-07T11:00:00Z", None);
        let expired = cursor("2026-12-01T00:00:00Z", Some("2026-12-07T11:59:59Z"));
        assert_eq!(
            retention_cutoff(cutoff, &[newer.clone(), live.clone(), expired], now),
            live.keep_from
        );
        // A cursor after the cutoff does not move it forward.
        assert_eq!(retention_cutoff(cutoff, &[newer], now), cutoff);
    }

    #[test]
    fn cursor_keys_sit_beside_the_archive() {
        assert_eq!(
            ArchiveLayout::for_profile_prefix("orders/west").dr_cursor_key("dr/orders-dr"),
            "orders/west/dr-cursors/dr.orders-dr.json"
        );
        assert_eq!(
            ArchiveLayout::for_profile_prefix("").dr_cursor_dir(),
            "dr-cursors/"
        );
        assert_eq!(
            ArchiveLayout::new("custom/archive").dr_cursor_dir(),
            "custom/archive/dr-cursors/"
        );
    }
}
