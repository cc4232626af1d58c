//! The `scan` and `events` commands.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bloodraven_binlog::FileSummary;
use bloodraven_binlog::reader::{self, Event, EventData, Reader, Terminal};
use bloodraven_gtid::GtidSet;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Prints each file's summary; returns whether every file was read to its end.
pub(crate) fn scan(out: &mut impl Write, files: &[PathBuf], as_json: bool) -> io::Result<bool> {
    let mut all_ok = true;
    for path in files {
        match File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| reader::summarize(f).map_err(|e| e.to_string()))
        {
            Ok(summary) if as_json => writeln!(out, "{}", summary_json(path, &summary))?,
            Ok(summary) => write_summary(out, path, &summary)?,
            Err(e) => {
                out.flush()?;
                eprintln!("error: {}: {e}", path.display());
                all_ok = false;
            }
        }
    }
    Ok(all_ok)
}

/// Prints one line per event; returns whether the file was read to its end.
pub(crate) fn events(out: &mut impl Write, path: &Path, as_json: bool) -> io::Result<bool> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return Ok(false);
        }
    };
    let mut reader = Reader::new(file);
    loop {
        let (event, gtid) = match next_with_gtid(&mut reader) {
            Ok(Some(next)) => next,
            Ok(None) => return Ok(true),
            Err(e) => {
                out.flush()?;
                eprintln!("error: {}: {e}", path.display());
                return Ok(false);
            }
        };
        let h = event.header();
        if as_json {
            let line = json!({
                "offset": event.offset(),
                "type": h.event_type.to_string(),
                "timestamp": time(h.timestamp),
                "server_id": h.server_id,
                "size": h.event_size,
                "gtid": gtid,
            });
            writeln!(out, "{line}")?;
        } else {
            let t = time(h.timestamp).unwrap_or_else(|| "-".into());
            let (ty, server_id, size) = (h.event_type.to_string(), h.server_id, h.event_size);
            let gtid = gtid.unwrap_or_default();
            writeln!(
                out,
                "{:>10}  {ty:<26} {t:<20}  {server_id:>10}  {size:>9}  {gtid}",
                event.offset()
            )?;
        }
    }
}

/// The next event and the GTID it assigns.
fn next_with_gtid(
    reader: &mut Reader<File>,
) -> Result<Option<(Event, Option<String>)>, bloodraven_binlog::Error> {
    let Some(event) = reader.next_event()? else {
        return Ok(None);
    };
    let gtid = gtid_text(&event)?;
    Ok(Some((event, gtid)))
}

/// The GTID an event assigns, as text: `uuid[:tag]:gno`, `anonymous`, or MariaDB `d-s-n`.
fn gtid_text(event: &Event) -> Result<Option<String>, bloodraven_binlog::Error> {
    Ok(match event.data()? {
        EventData::Gtid(g) => Some(
            g.gtid
                .map_or_else(|| "anonymous".to_string(), |g| g.to_string()),
        ),
        EventData::MariadbGtid(g) => Some(g.gtid.to_string()),
        _ => None,
    })
}

fn summary_json(path: &Path, s: &FileSummary) -> Value {
    let set = |g: &GtidSet| g.to_compact_string();
    let (terminal, next_file) = match &s.terminal {
        Some(Terminal::Rotate { next_file }) => (Some("rotate"), Some(next_file.as_str())),
        Some(Terminal::Stop) => (Some("stop"), None),
        None => (None, None),
    };
    json!({
        "file": path.display().to_string(),
        "server_version": s.server_version,
        "flavor": s.flavor.as_str(),
        "checksum": s.checksum.as_str(),
        "in_use": s.in_use,
        "events": s.event_count,
        "events_by_type": s.events_by_type,
        "previous_gtids": s.previous_gtids.as_ref().map(set),
        "gtids": set(&s.gtids),
        "end_gtids": s.end_gtids.as_ref().map(set),
        "mariadb_gtids": s.mariadb_gtids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "mariadb_gtid_list": s.mariadb_gtid_list.as_ref().map(ToString::to_string),
        "first_event_time": s.first_event_time.map(rfc3339),
        "last_event_time": s.last_event_time.map(rfc3339),
        "terminal": terminal,
        "next_file": next_file,
        "size": s.size,
    })
}

fn write_summary(out: &mut impl Write, path: &Path, s: &FileSummary) -> io::Result<()> {
    let opt_set = |g: &Option<GtidSet>| {
        g.as_ref()
            .map_or("(no PREVIOUS_GTIDS event)".into(), show_set)
    };
    let opt_time = |t: Option<DateTime<Utc>>| t.map_or("-".into(), rfc3339);
    writeln!(out, "{}", path.display())?;
    writeln!(
        out,
        "  server:            {} ({})",
        s.server_version,
        s.flavor.as_str()
    )?;
    writeln!(out, "  checksum:          {}", s.checksum.as_str())?;
    writeln!(
        out,
        "  in use:            {}",
        if s.in_use { "yes" } else { "no" }
    )?;
    let by_type: Vec<String> = s
        .events_by_type
        .iter()
        .map(|(ty, n)| format!("{ty} {n}"))
        .collect();
    writeln!(
        out,
        "  events:            {} ({})",
        s.event_count,
        by_type.join(", ")
    )?;
    writeln!(out, "  previous gtids:    {}", opt_set(&s.previous_gtids))?;
    writeln!(out, "  gtids:             {}", show_set(&s.gtids))?;
    writeln!(out, "  end gtids:         {}", opt_set(&s.end_gtids))?;
    if s.flavor == reader::Flavor::Mariadb || !s.mariadb_gtids.is_empty() {
        let list = match &s.mariadb_gtid_list {
            None => "(no GTID_LIST event)".to_string(),
            Some(l) if l.is_empty() => "(empty)".to_string(),
            Some(l) => l.to_string(),
        };
        writeln!(out, "  mariadb gtid list: {list}")?;
        let gtids = match s.mariadb_gtids.as_slice() {
            [] => "(none)".to_string(),
            [one] => one.to_string(),
            [first, .., last] => format!("{} GTIDs, {first} .. {last}", s.mariadb_gtids.len()),
        };
        writeln!(out, "  mariadb gtids:     {gtids}")?;
    }
    writeln!(out, "  first event:       {}", opt_time(s.first_event_time))?;
    writeln!(out, "  last event:        {}", opt_time(s.last_event_time))?;
    let terminal = match &s.terminal {
        Some(Terminal::Rotate { next_file }) => format!("rotate to {next_file}"),
        Some(Terminal::Stop) => "stop".into(),
        None => "none (still open, or the server crashed)".into(),
    };
    writeln!(out, "  terminal:          {terminal}")?;
    writeln!(out, "  size:              {} bytes", s.size)?;
    Ok(())
}

fn show_set(set: &GtidSet) -> String {
    if set.is_empty() {
        "(empty)".into()
    } else {
        set.to_compact_string()
    }
}

fn time(timestamp: u32) -> Option<String> {
    (timestamp > 0)
        .then(|| DateTime::from_timestamp(i64::from(timestamp), 0).map(rfc3339))
        .flatten()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
