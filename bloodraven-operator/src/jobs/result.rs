//! The result lines Jobs print and reconcilers parse (reference-formats §3.5): `BLOODRAVEN_DUMP_COMPLETE`,
//! `BLOODRAVEN_RESTORE_COMPLETE`, `BLOODRAVEN_VERIFY_*`, `BLOODRAVEN_ENCRYPT_METRICS`.
//!
//! A line is a sentinel word followed by space-separated `key=value` pairs (the key ends at the first `=`).
//! The Go scripts replaced spaces in values by `_` and the Go reconciler turned every `_` back into a space, so
//! a value holding `_` came back changed. Lines written here are lossless instead: every byte outside
//! `A–Z a–z 0–9 - . _ ~` is percent-encoded, and the line ends with the field `encoding=percent` that tells the
//! parser so. Lines without that field are read with the Go rules, so the output of Jobs the Go operator
//! rendered (mysqlsh scripts) is still understood.
//!
//! ```
//! use bloodraven_operator::jobs::result::DumpResult;
//!
//! let dump = DumpResult {
//!     location: "orders/nightly 1".into(),
//!     size_bytes: 2048,
//!     size: "2.0 KiB".into(),
//!     gtid_executed: "0-1-42".into(),
//!     binlog_file: "mysql-bin.000003".into(),
//!     binlog_pos: 1234,
//!     ..DumpResult::default()
//! };
//! let line = dump.line();
//! let log = format!("starting\n{line}\nbye\n");
//! assert_eq!(DumpResult::parse_last(&log), Some(dump));
//! ```

use std::collections::BTreeMap;

/// The field that marks a line as percent-encoded.
const ENCODING_FIELD: &str = "encoding";
/// Its value.
const ENCODING_PERCENT: &str = "percent";

/// The sentinel words.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Sentinel {
    /// `BLOODRAVEN_DUMP_COMPLETE`: a dump (and its upload) finished.
    DumpComplete,
    /// `BLOODRAVEN_ENCRYPT_METRICS`: one encrypt or decrypt stage.
    EncryptMetrics,
    /// `BLOODRAVEN_PITR_DOWNLOAD_COMPLETE`: `pitr-download` fetched the binlogs (this implementation's addition).
    PitrDownloadComplete,
    /// `BLOODRAVEN_RESTORE_COMPLETE`: a restore (and its PITR replay) finished.
    RestoreComplete,
    /// `BLOODRAVEN_VERIFY_COMPLETE`: a verification's verdict (this implementation's addition).
    VerifyComplete,
    /// `BLOODRAVEN_VERIFY_REPLAY_COMPLETE`: how far a verification's binlog replay reached.
    VerifyReplayComplete,
    /// `BLOODRAVEN_VERIFY_SANITY_COMPLETE`: the sanity query's outcome.
    VerifySanityComplete,
}

impl Sentinel {
    /// The word that starts the line.
    pub fn word(self) -> &'static str {
        match self {
            Sentinel::DumpComplete => "BLOODRAVEN_DUMP_COMPLETE",
            Sentinel::EncryptMetrics => "BLOODRAVEN_ENCRYPT_METRICS",
            Sentinel::PitrDownloadComplete => "BLOODRAVEN_PITR_DOWNLOAD_COMPLETE",
            Sentinel::RestoreComplete => "BLOODRAVEN_RESTORE_COMPLETE",
            Sentinel::VerifyComplete => "BLOODRAVEN_VERIFY_COMPLETE",
            Sentinel::VerifyReplayComplete => "BLOODRAVEN_VERIFY_REPLAY_COMPLETE",
            Sentinel::VerifySanityComplete => "BLOODRAVEN_VERIFY_SANITY_COMPLETE",
        }
    }
}

/// Writes a line: the sentinel, each field percent-encoded, then `encoding=percent`.
pub fn format_line(sentinel: Sentinel, fields: &[(&str, String)]) -> String {
    let mut line = sentinel.word().to_owned();
    for (key, value) in fields {
        line.push(' ');
        line.push_str(key);
        line.push('=');
        line.push_str(&percent_encode(value));
    }
    line.push_str(&format!(" {ENCODING_FIELD}={ENCODING_PERCENT}"));
    line
}

/// The fields of the last line of `text` that starts with `sentinel` (leading whitespace and a log prefix up to
/// the sentinel are ignored), decoded; `None` when there is none.
pub fn parse_last(text: &str, sentinel: Sentinel) -> Option<BTreeMap<String, String>> {
    text.lines()
        .rev()
        .find_map(|line| parse_line(line, sentinel))
}

/// The fields of one line, if it carries `sentinel`.
pub fn parse_line(line: &str, sentinel: Sentinel) -> Option<BTreeMap<String, String>> {
    let word = sentinel.word();
    let at = line.find(word)?;
    let rest = &line[at + word.len()..];
    // `BLOODRAVEN_DUMP_COMPLETE` must not match `BLOODRAVEN_DUMP_COMPLETED…`; the Go sentinels may end in `:`.
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let raw: Vec<(&str, &str)> = rest
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .collect();
    let percent = raw
        .iter()
        .any(|(k, v)| *k == ENCODING_FIELD && *v == ENCODING_PERCENT);
    let mut fields = BTreeMap::new();
    for (key, value) in raw {
        if percent && key == ENCODING_FIELD {
            continue;
        }
        let value = if percent {
            percent_decode(value)
        } else {
            // The Go reconciler's rules: every `_` is a space, and a GTID set loses its spaces.
            let spaced = value.replace('_', " ");
            if key.ends_with("GtidExecuted") || key == "gtidExecuted" {
                spaced.replace(' ', "")
            } else {
                spaced
            }
        };
        fields.insert(key.to_owned(), value);
    }
    Some(fields)
}

/// What a `BLOODRAVEN_DUMP_COMPLETE` line reports.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct DumpResult {
    /// Where the dump is (`status.location`).
    pub location: String,
    /// Plaintext bytes.
    pub size_bytes: u64,
    /// Human-readable size (`18.0 MiB`); empty means "derive it from `size_bytes`".
    pub size: String,
    /// GTID set at the dump's consistency point.
    pub gtid_executed: String,
    /// Binlog file at that point.
    pub binlog_file: String,
    /// Binlog position at that point.
    pub binlog_pos: u64,
    /// Rows dumped (this implementation's addition; 0 when unknown).
    pub rows: u64,
    /// Whether the artifact is encrypted.
    pub encrypted: bool,
    /// The cipher (`AES-256-GCM`) when encrypted.
    pub algorithm: String,
    /// Stored (ciphertext) bytes when encrypted.
    pub ciphertext_bytes: u64,
    /// Objects written.
    pub files: u64,
}

impl DumpResult {
    /// The line.
    pub fn line(&self) -> String {
        let size = if self.size.is_empty() {
            bloodraven_backup::dump::human_size(self.size_bytes)
        } else {
            self.size.clone()
        };
        let mut fields = vec![
            ("location", self.location.clone()),
            ("sizeBytes", self.size_bytes.to_string()),
            ("size", size),
            ("gtidExecuted", self.gtid_executed.clone()),
            ("binlogFile", self.binlog_file.clone()),
            ("binlogPos", self.binlog_pos.to_string()),
            ("rows", self.rows.to_string()),
            ("files", self.files.to_string()),
        ];
        if self.encrypted {
            fields.push(("ciphertextBytes", self.ciphertext_bytes.to_string()));
            fields.push(("encrypted", "true".into()));
            fields.push(("algorithm", self.algorithm.clone()));
        }
        format_line(Sentinel::DumpComplete, &fields)
    }

    /// The last such line of `text`.
    pub fn parse_last(text: &str) -> Option<DumpResult> {
        let f = parse_last(text, Sentinel::DumpComplete)?;
        Some(DumpResult {
            location: text_field(&f, "location"),
            size_bytes: number(&f, "sizeBytes"),
            size: text_field(&f, "size"),
            gtid_executed: text_field(&f, "gtidExecuted"),
            binlog_file: text_field(&f, "binlogFile"),
            binlog_pos: number(&f, "binlogPos"),
            rows: number(&f, "rows"),
            encrypted: f.get("encrypted").is_some_and(|v| v == "true"),
            algorithm: text_field(&f, "algorithm"),
            ciphertext_bytes: number(&f, "ciphertextBytes"),
            files: number(&f, "files"),
        })
    }
}

/// What a verification's lines report (`BLOODRAVEN_VERIFY_COMPLETE`, `…_REPLAY_COMPLETE`, `…_SANITY_COMPLETE`).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct VerifyResult {
    /// Whether the restore and every check passed.
    pub succeeded: bool,
    /// The failure reason (`SanityCheckFailed`, `SanityCheckTimeout`, `RestoreFailed`, …) or `Verified`.
    pub reason: String,
    /// The human-readable outcome.
    pub message: String,
    /// The restored server's GTID state.
    pub gtid_executed: String,
    /// Tables checked.
    pub tables: u64,
    /// Last binlog file replayed, when PITR ran.
    pub replayed_file: Option<String>,
    /// Position reached in it.
    pub replayed_position: u64,
    /// Event time reached (RFC 3339), when known.
    pub replayed_timestamp: Option<String>,
    /// Whether the sanity query ran.
    pub sanity_ran: bool,
    /// Its duration.
    pub sanity_duration_ms: u64,
    /// Its first row.
    pub sanity_result_row: Option<String>,
    /// Its error.
    pub sanity_error: Option<String>,
}

impl VerifyResult {
    /// The lines, replay and sanity lines first, verdict last.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(file) = &self.replayed_file {
            lines.push(format_line(
                Sentinel::VerifyReplayComplete,
                &[
                    ("file", file.clone()),
                    ("position", self.replayed_position.to_string()),
                    (
                        "timestamp",
                        self.replayed_timestamp.clone().unwrap_or_default(),
                    ),
                ],
            ));
        }
        if self.sanity_ran {
            let mut fields = vec![
                ("ran", "1".to_owned()),
                ("durationMs", self.sanity_duration_ms.to_string()),
            ];
            if let Some(row) = &self.sanity_result_row {
                fields.push(("resultRow", row.clone()));
            }
            if let Some(e) = &self.sanity_error {
                fields.push(("error", e.clone()));
            }
            lines.push(format_line(Sentinel::VerifySanityComplete, &fields));
        }
        lines.push(format_line(
            Sentinel::VerifyComplete,
            &[
                ("succeeded", self.succeeded.to_string()),
                ("reason", self.reason.clone()),
                ("gtidExecuted", self.gtid_executed.clone()),
                ("tables", self.tables.to_string()),
                ("message", self.message.clone()),
            ],
        ));
        lines
    }

    /// The verdict of `text`; `None` without a `BLOODRAVEN_VERIFY_COMPLETE` line.
    pub fn parse_last(text: &str) -> Option<VerifyResult> {
        let f = parse_last(text, Sentinel::VerifyComplete)?;
        let mut result = VerifyResult {
            succeeded: f.get("succeeded").is_some_and(|v| v == "true"),
            reason: text_field(&f, "reason"),
            message: text_field(&f, "message"),
            gtid_executed: text_field(&f, "gtidExecuted"),
            tables: number(&f, "tables"),
            ..VerifyResult::default()
        };
        if let Some(r) = parse_last(text, Sentinel::VerifyReplayComplete) {
            result.replayed_file = r.get("file").cloned();
            result.replayed_position = number(&r, "position");
            result.replayed_timestamp = r.get("timestamp").filter(|t| !t.is_empty()).cloned();
        }
        if let Some(s) = parse_last(text, Sentinel::VerifySanityComplete) {
            result.sanity_ran = s.get("ran").is_some_and(|v| v == "1" || v == "true");
            result.sanity_duration_ms = number(&s, "durationMs");
            result.sanity_result_row = s.get("resultRow").cloned();
            result.sanity_error = s.get("error").cloned();
        }
        Some(result)
    }
}

/// What a `BLOODRAVEN_ENCRYPT_METRICS` line reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncryptMetrics {
    /// `encrypt` or `decrypt`.
    pub stage: String,
    /// `success` or `failure`.
    pub result: String,
    /// Seconds.
    pub duration_seconds: f64,
    /// Plaintext bytes.
    pub bytes: u64,
    /// Ciphertext bytes.
    pub ciphertext: u64,
    /// Files.
    pub files: u64,
}

impl EncryptMetrics {
    /// The line (`duration` with millisecond precision, as the Go one).
    pub fn line(&self) -> String {
        format_line(
            Sentinel::EncryptMetrics,
            &[
                ("stage", self.stage.clone()),
                ("result", self.result.clone()),
                ("duration", format!("{:.3}", self.duration_seconds)),
                ("bytes", self.bytes.to_string()),
                ("ciphertext", self.ciphertext.to_string()),
                ("files", self.files.to_string()),
            ],
        )
    }

    /// The last such line of `text`.
    pub fn parse_last(text: &str) -> Option<EncryptMetrics> {
        Some(EncryptMetrics::from_fields(&parse_last(
            text,
            Sentinel::EncryptMetrics,
        )?))
    }

    /// Every such line of `text`, in order (a Job's pod may run an encrypt and a decrypt stage, or print one
    /// line per attempt).
    pub fn parse_all(text: &str) -> Vec<EncryptMetrics> {
        text.lines()
            .filter_map(|l| parse_line(l, Sentinel::EncryptMetrics))
            .map(|f| EncryptMetrics::from_fields(&f))
            .collect()
    }

    fn from_fields(f: &BTreeMap<String, String>) -> EncryptMetrics {
        EncryptMetrics {
            stage: text_field(f, "stage"),
            result: text_field(f, "result"),
            duration_seconds: f
                .get("duration")
                .and_then(|d| d.parse().ok())
                .unwrap_or(0.0),
            bytes: number(f, "bytes"),
            ciphertext: number(f, "ciphertext"),
            files: number(f, "files"),
        }
    }

    /// Whether the stage succeeded (`result=success`).
    pub fn succeeded(&self) -> bool {
        self.result == "success"
    }
}

fn text_field(fields: &BTreeMap<String, String>, key: &str) -> String {
    fields.get(key).cloned().unwrap_or_default()
}

fn number(fields: &BTreeMap<String, String>, key: &str) -> u64 {
    fields.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and, as Go's `url.QueryUnescape`, `+` as a space); a malformed escape is kept as it
/// is, and invalid UTF-8 is replaced.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_line_round_trips_values_with_underscores_spaces_and_colons() {
        let dump = DumpResult {
            location: "s3://bucket/my_prefix/orders nightly/".into(),
            size_bytes: 18 * 1024 * 1024,
            gtid_executed: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10,\n0-1-5".into(),
            binlog_file: "bin_log.000001".into(),
            binlog_pos: 77,
            rows: 3,
            encrypted: true,
            algorithm: "AES-256-GCM".into(),
            ciphertext_bytes: 19 * 1024 * 1024,
            files: 12,
            ..DumpResult::default()
        };
        let line = dump.line();
        assert!(!line.contains("orders nightly"), "{line}");
        let parsed = DumpResult::parse_last(&line).unwrap();
        assert_eq!(parsed.size, "18.0 MiB");
        assert_eq!(
            parsed,
            DumpResult {
                size: "18.0 MiB".into(),
                ..dump
            }
        );
    }

    #[test]
    fn the_last_line_wins_and_a_longer_word_is_not_a_match() {
        let text = "BLOODRAVEN_DUMP_COMPLETE location=a encoding=percent\n\
                    BLOODRAVEN_DUMP_COMPLETED location=x\n\
                    2026-01-01T00:00:00Z BLOODRAVEN_DUMP_COMPLETE location=b encoding=percent\n";
        assert_eq!(DumpResult::parse_last(text).unwrap().location, "b");
        assert_eq!(DumpResult::parse_last("nothing here"), None);
    }

    #[test]
    fn a_go_line_is_read_with_the_go_rules() {
        let go = "BLOODRAVEN_DUMP_COMPLETE location=orders/orders-nightly-x7k2p sizeBytes=18874368 \
                  size=18.0_MiB gtidExecuted=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10 \
                  binlogFile=mysql-bin.000003 binlogPos=4711";
        let d = DumpResult::parse_last(go).unwrap();
        assert_eq!(d.size, "18.0 MiB");
        assert_eq!(d.location, "orders/orders-nightly-x7k2p");
        assert_eq!(d.gtid_executed, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10");
        assert_eq!(d.binlog_pos, 4711);
        assert!(!d.encrypted);
    }

    #[test]
    fn verify_lines_round_trip_including_a_failed_sanity_check() {
        let v = VerifyResult {
            succeeded: false,
            reason: "SanityCheckFailed".into(),
            message: "sanity query returned 0 < min_rows 5".into(),
            gtid_executed: "0-1-9".into(),
            tables: 2,
            replayed_file: Some("mysql-bin.000002".into()),
            replayed_position: 900,
            replayed_timestamp: Some("2026-05-20T04:00:00Z".into()),
            sanity_ran: true,
            sanity_duration_ms: 4,
            sanity_result_row: Some("0".into()),
            sanity_error: None,
        };
        let text = v.lines().join("\n");
        assert_eq!(VerifyResult::parse_last(&text), Some(v));
    }

    #[test]
    fn encrypt_metrics_round_trip() {
        let m = EncryptMetrics {
            stage: "decrypt".into(),
            result: "success".into(),
            duration_seconds: 1.25,
            bytes: 10,
            ciphertext: 42,
            files: 3,
        };
        assert_eq!(EncryptMetrics::parse_last(&m.line()), Some(m));
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert_eq!(percent_decode(&percent_encode("ä %_+")), "ä %_+");
    }
}
