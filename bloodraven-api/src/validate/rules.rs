//! Semantic rules of `MysqlBackup` and `MysqlBackupVerification`, and value checks shared by all kinds.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Violation, field};
use crate::backup::MysqlBackupSpec;
use crate::verification::{
    MysqlBackupVerificationSpec, PointInTimeMode, PointInTimeVerificationSpec,
};

/// `MysqlBackup` has no rule beyond its schema.
pub(crate) fn backup(_: &MysqlBackupSpec, _: &str, _: &mut Vec<Violation>) {}

/// Rules of a `MysqlBackupVerification` spec.
pub(crate) fn verification(
    spec: &MysqlBackupVerificationSpec,
    path: &str,
    out: &mut Vec<Violation>,
) {
    if let Some(pit) = &spec.point_in_time {
        check_point_in_time_verification(pit, &field(path, "pointInTime"), out);
    }
}

pub(crate) fn check_point_in_time_verification(
    pit: &PointInTimeVerificationSpec,
    path: &str,
    out: &mut Vec<Violation>,
) {
    let p = field(path, "timestamp");
    match (pit.mode.unwrap_or_default(), pit.timestamp.as_deref()) {
        (PointInTimeMode::Timestamp, None | Some("")) => out.push(Violation::new(
            p,
            "required when mode is timestamp: set an RFC 3339 time such as 2026-05-20T14:32:00Z",
        )),
        (_, Some(ts)) if !ts.is_empty() => check_rfc3339(ts, &p, out),
        _ => {}
    }
}

/// An RFC 3339 timestamp, as the Kubernetes `Time` type reads it.
pub(crate) fn check_rfc3339(value: &str, path: &str, out: &mut Vec<Violation>) {
    if !is_rfc3339(value) {
        out.push(Violation::new(
            path,
            format!("{value:?} is not an RFC 3339 time: write it like 2026-05-20T14:32:00Z"),
        ));
    }
}

/// A mysqlbinlog stop point: RFC 3339 or `YYYY-MM-DD HH:MM:SS` (UTC).
pub(crate) fn check_stop_datetime(value: &str, path: &str, out: &mut Vec<Violation>) {
    if !is_rfc3339(value) && !is_sql_datetime(value) {
        out.push(Violation::new(
            path,
            format!(
                "{value:?} is not a stop point: write an RFC 3339 time (2026-05-20T14:32:00Z) or YYYY-MM-DD HH:MM:SS in UTC"
            ),
        ));
    }
}

/// A standard five-field cron expression (minute hour day-of-month month day-of-week), or a
/// `@hourly`-style macro as Kubernetes CronJobs accept.
pub(crate) fn check_cron(value: &str, path: &str, out: &mut Vec<Violation>) {
    if let Err(problem) = cron_problem(value) {
        out.push(Violation::new(
            path,
            format!("{value:?} is not a five-field cron expression ({problem}): write it like \"0 5 * * *\""),
        ));
    }
}

fn cron_problem(value: &str) -> Result<(), String> {
    const MACROS: [&str; 8] = [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
        "@every",
    ];
    let value = value.trim();
    if let Some(m) = MACROS.iter().find(|m| value.starts_with(**m)) {
        return if *m == "@every" || value == *m {
            Ok(())
        } else {
            Err(format!("unknown macro {value}"))
        };
    }
    let fields: Vec<&str> = value.split_whitespace().collect();
    // Kubernetes forbids TZ= inside the schedule; use timeZone instead.
    if fields
        .first()
        .is_some_and(|f| f.starts_with("TZ=") || f.starts_with("CRON_TZ="))
    {
        return Err("set the zone with timeZone, not inside the schedule".into());
    }
    if fields.len() != 5 {
        return Err(format!("found {} fields", fields.len()));
    }
    let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    for (i, (f, (lo, hi))) in fields.iter().zip(ranges).enumerate() {
        let names: &[&str] = match i {
            3 => &MONTHS,
            4 => &DAYS,
            _ => &[],
        };
        for part in f.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if let Some(step) = step
                && step.parse::<u32>().map_or(true, |s| s == 0)
            {
                return Err(format!("bad step {step:?}"));
            }
            if range == "*" || (range == "?" && (i == 2 || i == 4)) {
                continue;
            }
            let bounds: Vec<&str> = range.splitn(2, '-').collect();
            for b in &bounds {
                let n = b.parse::<u32>().ok().or_else(|| {
                    names
                        .iter()
                        .position(|name| name.eq_ignore_ascii_case(b))
                        .map(|p| p as u32 + lo)
                });
                match n {
                    Some(n) if (lo..=hi).contains(&n) => {}
                    _ => return Err(format!("{b:?} is out of range {lo}-{hi}")),
                }
            }
        }
    }
    Ok(())
}

fn is_rfc3339(value: &str) -> bool {
    serde_json::from_value::<Time>(serde_json::Value::String(value.to_owned())).is_ok()
        && value.len() >= 20
        && value
            .as_bytes()
            .get(10)
            .is_some_and(|b| *b == b'T' || *b == b't')
}

fn is_sql_datetime(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_expressions() {
        for ok in [
            "0 5 * * *",
            "*/15 * * * *",
            "0 2 * * 1-5",
            "0 0 1 jan,jul *",
            "@daily",
            "30 3 * * SUN",
        ] {
            assert!(cron_problem(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0 5 * *",
            "60 * * * *",
            "0 5 * * * *",
            "* * * * 8",
            "*/0 * * * *",
            "@sometimes",
            "TZ=UTC 0 5 * * *",
        ] {
            assert!(cron_problem(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_formats() {
        assert!(is_rfc3339("2026-05-20T14:32:00Z"));
        assert!(is_rfc3339("2026-05-20T14:32:00.5+02:00"));
        assert!(!is_rfc3339("2026-05-20 14:32:00"));
        assert!(!is_rfc3339("yesterday"));
        assert!(is_sql_datetime("2026-05-20 14:32:00"));
        assert!(!is_sql_datetime("2026-05-20T14:32:00"));
    }
}
