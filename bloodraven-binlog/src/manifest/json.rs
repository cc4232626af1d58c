//! The manifest's JSON text: a hand-written encoder that reproduces Go's `json.MarshalIndent` byte for
//! byte, and a tolerant decoder with field-path errors.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::{MANIFEST_VERSION, Manifest, ManifestEntry, SiteName};
use crate::Error;

/// Go's zero `time.Time` in RFC 3339.
pub(crate) const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub(super) fn encode(m: &Manifest) -> Vec<u8> {
    let mut out = String::with_capacity(256 + m.files.len() * 512);
    out.push_str("{\n  \"version\": ");
    out.push_str(&m.version.to_string());
    out.push_str(",\n  \"site\": ");
    push_string(&mut out, &m.site);
    out.push_str(",\n  \"files\": ");
    if m.files.is_empty() {
        out.push_str(if m.files_null { "null" } else { "[]" });
    } else {
        out.push_str("[\n");
        let none = Map::new();
        for (i, e) in m.files.iter().enumerate() {
            if i > 0 {
                out.push_str(",\n");
            }
            encode_entry(
                &mut out,
                e,
                m.unknown_in_entries.get(&e.name).unwrap_or(&none),
            );
        }
        out.push_str("\n  ]");
    }
    push_unknown(&mut out, &m.unknown, "  ");
    out.push_str("\n}");
    out.into_bytes()
}

/// Writes back keys another version wrote that this one does not know, after the known ones (compact values).
fn push_unknown(out: &mut String, unknown: &Map<String, Value>, indent: &str) {
    for (key, value) in unknown {
        out.push_str(",\n");
        out.push_str(indent);
        push_string(out, key);
        out.push_str(": ");
        out.push_str(&value.to_string());
    }
}

/// The keys this version reads (Go matches them case-insensitively).
const TOP_KEYS: &[&str] = &["version", "site", "files"];
const ENTRY_KEYS: &[&str] = &[
    "name",
    "remotePath",
    "size",
    "firstEventTime",
    "lastEventTime",
    "previousGtids",
    "endGtids",
    "archivedAt",
    "gtids",
    "sha256",
    "serverUuid",
    "mariadbGtidList",
    "mariadbEndGtidList",
];

fn unknown_keys(obj: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    obj.iter()
        .filter(|(k, _)| !known.iter().any(|n| n.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn encode_entry(out: &mut String, e: &ManifestEntry, unknown: &Map<String, Value>) {
    let mut fields: Vec<(&str, String)> = vec![
        ("name", quoted(&e.name)),
        ("remotePath", quoted(&e.remote_path)),
        ("size", e.size.to_string()),
        ("firstEventTime", quoted(&format_time(e.first_event_time))),
        ("lastEventTime", quoted(&format_time(e.last_event_time))),
    ];
    if !e.previous_gtids.is_empty() {
        fields.push(("previousGtids", quoted(&e.previous_gtids)));
    }
    if !e.end_gtids.is_empty() {
        fields.push(("endGtids", quoted(&e.end_gtids)));
    }
    fields.push(("archivedAt", quoted(&format_time(e.archived_at))));
    let additive = [
        ("gtids", &e.gtids),
        ("sha256", &e.sha256),
        ("serverUuid", &e.server_uuid),
        ("mariadbGtidList", &e.mariadb_gtid_list),
        ("mariadbEndGtidList", &e.mariadb_end_gtid_list),
    ];
    for (key, value) in additive {
        if let Some(v) = value {
            fields.push((key, quoted(v)));
        }
    }
    out.push_str("    {\n");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str("      \"");
        out.push_str(key);
        out.push_str("\": ");
        out.push_str(value);
    }
    push_unknown(out, unknown, "      ");
    out.push_str("\n    }");
}

/// Go's RFC 3339 with trailing fractional zeros trimmed (`time.RFC3339Nano`), UTC as `Z`.
pub(crate) fn format_time(t: Option<DateTime<Utc>>) -> String {
    match t {
        None => GO_ZERO_TIME.to_owned(),
        Some(t) => {
            let s = t.to_rfc3339_opts(SecondsFormat::Nanos, true);
            // `...SS.fffffffffZ`: trim zeros, then a bare dot.
            let body = &s[..s.len() - 1];
            match body.split_once('.') {
                Some((whole, frac)) => {
                    let frac = frac.trim_end_matches('0');
                    if frac.is_empty() {
                        format!("{whole}Z")
                    } else {
                        format!("{whole}.{frac}Z")
                    }
                }
                None => s,
            }
        }
    }
}

/// Parses RFC 3339 (any offset, optional fraction) to UTC; Go's zero time is `None`.
pub(crate) fn parse_time(s: &str) -> Option<Option<DateTime<Utc>>> {
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    if t.timestamp() == ZERO_UNIX && t.timestamp_subsec_nanos() == 0 {
        Some(None)
    } else {
        Some(Some(t))
    }
}

/// Unix seconds of `0001-01-01T00:00:00Z`.
const ZERO_UNIX: i64 = -62_135_596_800;

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_string(&mut out, s);
    out
}

/// Go `encoding/json` string escaping with HTML escaping on (the `MarshalIndent` default).
fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
                let n = c as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((n >> shift) & 0xf) as usize] as char);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(super) fn decode(bytes: &[u8], key: &str, site: &SiteName) -> Result<Manifest, Error> {
    let err = |path: &str, what: String| Error::ManifestDecode {
        key: key.to_owned(),
        path: path.to_owned(),
        what,
    };
    let root: Value = serde_json::from_slice(bytes).map_err(|e| {
        err(
            "$",
            format!(
                "not JSON: {e} (the manifest is damaged; restore it from a copy or re-archive)"
            ),
        )
    })?;
    let Value::Object(root) = root else {
        return Err(err(
            "$",
            format!("expected an object, found {}", kind(&root)),
        ));
    };
    let version = match field(&root, "version") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                err(
                    "version",
                    format!("expected a small non-negative integer, found {v}"),
                )
            })?,
    };
    let version = if version == 0 {
        MANIFEST_VERSION
    } else {
        version
    };
    let mut site_text = string(&root, "site", "site", &err)?;
    if site_text.is_empty() {
        site_text = site.as_str().to_owned();
    }
    let mut unknown_in_entries = std::collections::BTreeMap::new();
    let (files, files_null) = match field(&root, "files") {
        None | Some(Value::Null) => (Vec::new(), true),
        Some(Value::Array(items)) => {
            let mut files = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let entry = decode_entry(item, i, &err)?;
                if let Value::Object(obj) = item {
                    let unknown = unknown_keys(obj, ENTRY_KEYS);
                    if !unknown.is_empty() {
                        unknown_in_entries.insert(entry.name.clone(), unknown);
                    }
                }
                files.push(entry);
            }
            (files, false)
        }
        Some(other) => {
            return Err(err(
                "files",
                format!("expected an array, found {}", kind(other)),
            ));
        }
    };
    Ok(Manifest {
        version,
        site: site_text,
        files,
        files_null,
        unknown: unknown_keys(&root, TOP_KEYS),
        unknown_in_entries,
    })
}

fn decode_entry(
    item: &Value,
    i: usize,
    err: &impl Fn(&str, String) -> Error,
) -> Result<ManifestEntry, Error> {
    let Value::Object(obj) = item else {
        return Err(err(
            &format!("files[{i}]"),
            format!("expected an object, found {}", kind(item)),
        ));
    };
    let s = |name: &str| string(obj, name, &format!("files[{i}].{name}"), err);
    let opt = |name: &str| -> Result<Option<String>, Error> {
        let v = s(name)?;
        Ok(
            if v.is_empty() && field(obj, name).is_none_or(Value::is_null) {
                None
            } else {
                Some(v)
            },
        )
    };
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, Error> {
        let text = s(name)?;
        if text.is_empty() {
            return Ok(None);
        }
        parse_time(&text).ok_or_else(|| {
            err(
                &format!("files[{i}].{name}"),
                format!("expected an RFC 3339 time, found {text:?}"),
            )
        })
    };
    let size = match field(obj, "size") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_u64().ok_or_else(|| {
            err(
                &format!("files[{i}].size"),
                format!("expected a non-negative integer, found {v}"),
            )
        })?,
    };
    Ok(ManifestEntry {
        name: s("name")?,
        remote_path: s("remotePath")?,
        size,
        first_event_time: time("firstEventTime")?,
        last_event_time: time("lastEventTime")?,
        previous_gtids: s("previousGtids")?,
        end_gtids: s("endGtids")?,
        archived_at: time("archivedAt")?,
        gtids: opt("gtids")?,
        sha256: opt("sha256")?,
        server_uuid: opt("serverUuid")?,
        mariadb_gtid_list: opt("mariadbGtidList")?,
        mariadb_end_gtid_list: opt("mariadbEndGtidList")?,
    })
}

/// Go's field lookup: the exact key first, else the first case-insensitive match.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn string(
    obj: &Map<String, Value>,
    name: &str,
    path: &str,
    err: &impl Fn(&str, String) -> Error,
) -> Result<String, Error> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(err(
            path,
            format!("expected a string, found {}", kind(other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
