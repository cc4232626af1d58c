//! Go-style durations (`metav1.Duration`): `2s`, `5m`, `1h30m`, `300ms`, with the text kept as written.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// The OpenAPI pattern of a Go duration, as the CRD schemas carry it.
///
/// It accepts what Go's `time.ParseDuration` accepts: an optional sign, then `0` or a sequence of
/// decimal numbers each followed by a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`).
pub const DURATION_PATTERN: &str =
    r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$";

/// A signed duration with nanosecond precision, written in Go's `time.ParseDuration` syntax.
///
/// Parsing follows Go exactly (including fractions such as `1.5h` and the overflow limit of
/// about 292 years). The text a value was parsed from is kept, so `90s` serializes as `90s` and a
/// manifest survives a round trip unchanged; durations built in code print in the shortest Go
/// form (`1h30m`, `300ms`, `0s`). Equality, ordering and hashing compare the length only.
///
/// ```
/// use bloodraven_api::duration::Duration;
///
/// let d: Duration = "1h30m".parse()?;
/// assert_eq!(d.as_nanos(), 5_400_000_000_000);
/// assert_eq!(d, Duration::from_secs(5400));
/// assert_eq!(Duration::from_secs(5400).to_string(), "1h30m");
/// assert_eq!(Duration::from_millis(300).to_string(), "300ms");
/// assert!("5 minutes".parse::<Duration>().is_err());
/// # Ok::<(), bloodraven_api::Error>(())
/// ```
#[derive(Clone)]
pub struct Duration {
    nanos: i64,
    text: Option<Box<str>>,
}

impl Duration {
    /// The zero duration (`0s`).
    pub const ZERO: Duration = Duration {
        nanos: 0,
        text: None,
    };

    /// A duration of `nanos` nanoseconds (negative values are allowed, as in Go).
    pub const fn from_nanos(nanos: i64) -> Self {
        Duration { nanos, text: None }
    }

    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: i64) -> Self {
        Self::from_nanos(millis * NANOS_PER_MILLI)
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: i64) -> Self {
        Self::from_nanos(secs * NANOS_PER_SEC)
    }

    /// Parses Go's `time.ParseDuration` syntax.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let nanos = parse_go(text).map_err(|problem| Error::Duration {
            value: text.to_owned(),
            problem,
        })?;
        Ok(Duration {
            nanos,
            text: Some(text.into()),
        })
    }

    /// The length in nanoseconds (negative for negative durations).
    pub const fn as_nanos(&self) -> i64 {
        self.nanos
    }

    /// Whether the duration is below zero.
    pub const fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// The length as a [`std::time::Duration`], or `None` when negative.
    pub fn to_std(&self) -> Option<std::time::Duration> {
        u64::try_from(self.nanos)
            .ok()
            .map(std::time::Duration::from_nanos)
    }

    /// The shortest Go spelling of this length (`1h30m`, `1.5s`, `300ms`, `0s`), ignoring the
    /// text it was parsed from.
    pub fn canonical(&self) -> String {
        format_go(self.nanos)
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Duration({self})")
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Some(text) => f.write_str(text),
            None => f.write_str(&format_go(self.nanos)),
        }
    }
}

impl FromStr for Duration {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

impl From<std::time::Duration> for Duration {
    /// Saturates at Go's maximum duration (about 292 years).
    fn from(d: std::time::Duration) -> Self {
        Duration::from_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

impl PartialEq for Duration {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Duration {}

impl PartialOrd for Duration {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Duration {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl Hash for Duration {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
        })
    }
}

const NANOS_PER_MICRO: i64 = 1_000;
const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_SEC: i64 = 1_000_000_000;
const NANOS_PER_MIN: i64 = 60 * NANOS_PER_SEC;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MIN;

/// Go's `time.ParseDuration`, returning nanoseconds or a description of the problem.
fn parse_go(text: &str) -> Result<i64, String> {
    let mut s = text;
    let negative = match s.as_bytes().first() {
        Some(b'-') => {
            s = &s[1..];
            true
        }
        Some(b'+') => {
            s = &s[1..];
            false
        }
        _ => false,
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("expected a number followed by a unit such as 30s, 5m or 1h30m".into());
    }
    // Accumulate in u128 so the limit check is exact, as Go does with uint64.
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, rest) = s.split_at(int_len);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(after) => {
                let n = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(n)
            }
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(format!("expected a number at {rest:?}"));
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let (unit, rest) = rest.split_at(unit_len);
        let scale: i64 = match unit {
            "ns" => 1,
            "us" | "\u{00b5}s" | "\u{03bc}s" => NANOS_PER_MICRO,
            "ms" => NANOS_PER_MILLI,
            "s" => NANOS_PER_SEC,
            "m" => NANOS_PER_MIN,
            "h" => NANOS_PER_HOUR,
            "" => return Err("missing unit (use ns, us, ms, s, m or h)".into()),
            other => {
                return Err(format!(
                    "unknown unit {other:?} (use ns, us, ms, s, m or h)"
                ));
            }
        };
        let scale = scale as u128;
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part
                .parse()
                .map_err(|_| "number too large".to_string())?
        };
        let mut value = int.checked_mul(scale).ok_or("duration too large")?;
        // The fraction, as Go's leadingFraction reads it: digits past 63 bits are ignored and
        // the product is computed in float64, so results match Go to the nanosecond.
        let (mut frac, mut frac_scale, mut overflow) = (0u64, 1f64, false);
        for digit in frac_part.bytes() {
            if overflow {
                continue;
            }
            let next = frac
                .checked_mul(10)
                .and_then(|f| f.checked_add(u64::from(digit - b'0')));
            match next {
                Some(next) if next <= 1 << 63 => {
                    frac = next;
                    frac_scale *= 10.0;
                }
                _ => overflow = true,
            }
        }
        if frac > 0 {
            value += (frac as f64 * (scale as f64 / frac_scale)) as u128;
        }
        total = total.checked_add(value).ok_or("duration too large")?;
        if total > i64::MAX as u128 + u128::from(negative) {
            return Err("duration too large (the limit is about 2562047h)".into());
        }
        s = rest;
    }
    if negative {
        // Two's complement: -(i64::MAX + 1) is representable.
        Ok((total as i128).wrapping_neg() as i64)
    } else {
        Ok(total as i64)
    }
}

/// The shortest Go spelling of a duration: Go's `String()` without zero-valued trailing units.
fn format_go(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let n = nanos.unsigned_abs();
    if n < NANOS_PER_SEC as u64 {
        let (unit, scale) = if n < NANOS_PER_MICRO as u64 {
            ("ns", 1)
        } else if n < NANOS_PER_MILLI as u64 {
            ("µs", NANOS_PER_MICRO as u64)
        } else {
            ("ms", NANOS_PER_MILLI as u64)
        };
        push_fraction(&mut out, n / scale, n % scale, scale);
        out.push_str(unit);
        return out;
    }
    let hours = n / NANOS_PER_HOUR as u64;
    let minutes = (n / NANOS_PER_MIN as u64) % 60;
    let sub_minute = n % NANOS_PER_MIN as u64;
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if sub_minute > 0 {
        let secs = sub_minute / NANOS_PER_SEC as u64;
        push_fraction(
            &mut out,
            secs,
            sub_minute % NANOS_PER_SEC as u64,
            NANOS_PER_SEC as u64,
        );
        out.push('s');
    }
    out
}

fn push_fraction(out: &mut String, whole: u64, frac: u64, scale: u64) {
    out.push_str(&whole.to_string());
    if frac > 0 {
        let width = scale.ilog10() as usize;
        let digits = format!("{frac:0width$}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_syntax() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("0s", 0),
            ("-0", 0),
            ("+5s", 5 * NANOS_PER_SEC),
            ("2s", 2 * NANOS_PER_SEC),
            ("5m", 5 * NANOS_PER_MIN),
            ("1h30m", 90 * NANOS_PER_MIN),
            ("300ms", 300 * NANOS_PER_MILLI),
            ("1.5h", 90 * NANOS_PER_MIN),
            (".5s", 500 * NANOS_PER_MILLI),
            ("1.s", NANOS_PER_SEC),
            ("10us", 10_000),
            ("10µs", 10_000),
            ("10μs", 10_000),
            ("7ns", 7),
            ("-1m30s", -90 * NANOS_PER_SEC),
            (
                "1h1m1s1ms1us1ns",
                NANOS_PER_HOUR + NANOS_PER_MIN + NANOS_PER_SEC + 1_001_001,
            ),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.3333333333333333333h", 1_200_000_000_000),
        ];
        for (text, nanos) in cases {
            let d = Duration::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(d.as_nanos(), *nanos, "{text}");
            assert_eq!(d.to_string(), *text, "text is kept");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        for text in [
            "",
            "-",
            "s",
            "5",
            "1.5",
            ".s",
            "5 m",
            "5min",
            "1d",
            "1h-5m",
            "9223372036854775808ns",
            "3000000h",
            "+-5s",
            "1e3s",
        ] {
            let err = Duration::parse(text).expect_err(text);
            assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
        }
    }

    #[test]
    fn formats_shortest_go_form() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (5 * NANOS_PER_MIN, "5m"),
            (90 * NANOS_PER_MIN, "1h30m"),
            (90 * NANOS_PER_SEC, "1m30s"),
            (300 * NANOS_PER_MILLI, "300ms"),
            (1_500 * NANOS_PER_MILLI, "1.5s"),
            (NANOS_PER_HOUR + 1, "1h0.000000001s"),
            (1_500, "1.5µs"),
            (-2 * NANOS_PER_SEC, "-2s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, text) in cases {
            let d = Duration::from_nanos(*nanos);
            assert_eq!(d.to_string(), *text);
            assert_eq!(Duration::parse(text).unwrap().as_nanos(), *nanos, "{text}");
        }
    }

    #[test]
    fn pattern_agrees_with_parser() {
        let re = regex::Regex::new(DURATION_PATTERN).unwrap();
        for text in [
            "0", "2s", "1h30m", "-1.5h", ".5ms", "10µs", "5", "5 m", "1d", "", "1e3s",
        ] {
            let parses = parse_go(text).is_ok();
            assert_eq!(re.is_match(text), parses, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn canonical_form_parses_back(nanos in proptest::prelude::any::<i64>()) {
            let text = format_go(nanos);
            proptest::prop_assert_eq!(parse_go(&text), Ok(nanos), "{}", text);
        }

        #[test]
        fn unit_sequences_add_up(h in 0i64..1000, m in 0i64..60, s in 0i64..60, ms in 0i64..1000) {
            let text = format!("{h}h{m}m{s}s{ms}ms");
            let expected = h * NANOS_PER_HOUR + m * NANOS_PER_MIN + s * NANOS_PER_SEC + ms * NANOS_PER_MILLI;
            proptest::prop_assert_eq!(parse_go(&text), Ok(expected));
        }
    }

    #[test]
    fn serde_is_a_string() {
        let d: Duration = serde_json::from_str("\"1m30s\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"1m30s\"");
        assert!(serde_json::from_str::<Duration>("\"soon\"").is_err());
        assert!(serde_json::from_str::<Duration>("30").is_err());
    }
}
