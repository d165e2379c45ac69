//! Time for the source, always UTC: offset text (Lenses' `yyyy-MM-dd HH:mm:ss.SSS'Z'` and ISO-8601),
//! the next slice window, and the buckets of a bucketed table a window covers.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Lenses' default `initial.offset`: the beginning of 1900.
pub const LENSES_EPOCH: &str = "1900-01-01 00:00:00.0000000Z";

/// Parses a point in time: Lenses' `2024-05-01 10:00:00.000Z` (any number of fraction digits, `Z`
/// optional), ISO-8601 (`2024-05-01T10:00:00Z`, `…+02:00`), a date alone (midnight), or
/// milliseconds since the epoch. Text without an offset is UTC, never the machine's zone.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    let plain = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')).unwrap_or(t).replacen('T', " ", 1);
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&plain, format) {
            return Ok(dt.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(&plain, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis());
    }
    Err(format!(
        "'{text}' is not a time: use yyyy-MM-dd HH:mm:ss.SSSZ (UTC, as Lenses writes offsets), ISO-8601 or epoch milliseconds"
    ))
}

/// Formats as Lenses stores offsets: `yyyy-MM-dd HH:mm:ss.SSSZ`, UTC.
pub fn format_time(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// The next window to read from `from` (inclusive): `[from, min(from + width, now - delay)]`, or
/// `None` when `from` is already at `now - delay` (caught up: wait for the poll interval).
pub fn next_window(from: i64, width: i64, now: i64, delay: i64) -> Option<(i64, i64)> {
    let limit = now.saturating_sub(delay);
    if from >= limit {
        return None;
    }
    Some((from, from.saturating_add(width.max(1)).min(limit)))
}

/// The bucket width of a bucketed table (`bucket.timeseries.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketUnit {
    /// One bucket per UTC day.
    Day,
    /// Per hour.
    Hour,
    /// Per minute.
    Minute,
    /// Per second.
    Second,
}

impl BucketUnit {
    /// Parses `DAY`, `HOUR`, `MINUTE`, `SECOND`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "DAY" | "DAYS" => Some(Self::Day),
            "HOUR" | "HOURS" => Some(Self::Hour),
            "MINUTE" | "MINUTES" => Some(Self::Minute),
            "SECOND" | "SECONDS" => Some(Self::Second),
            _ => None,
        }
    }

    /// The width in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Self::Day => 86_400_000,
            Self::Hour => 3_600_000,
            Self::Minute => 60_000,
            Self::Second => 1_000,
        }
    }
}

/// How bucket names are written: a Java `DateTimeFormatter` pattern, turned into chrono's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    /// Bucket width.
    pub unit: BucketUnit,
    /// The pattern as given (for messages).
    pub pattern: String,
    chrono: String,
}

impl Buckets {
    /// Translates a `DateTimeFormatter` pattern (`yyyy`, `yy`, `MM`, `dd`, `HH`, `mm`, `ss`, `DDD`,
    /// quoted literals, other characters as they are).
    pub fn new(unit: BucketUnit, pattern: &str) -> Result<Self, String> {
        let mut out = String::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let run = chars[i..].iter().take_while(|x| **x == c).count();
            match c {
                '\'' => {
                    let end = chars[i + 1..].iter().position(|x| *x == '\'').ok_or("an unterminated quote")?;
                    chars[i + 1..i + 1 + end].iter().for_each(|ch| push_literal(&mut out, *ch));
                    i += end + 2;
                    continue;
                }
                'y' | 'u' => out.push_str(if run == 2 { "%y" } else { "%Y" }),
                'M' if run == 2 => out.push_str("%m"),
                'M' if run == 1 => out.push_str("%-m"),
                'd' if run == 2 => out.push_str("%d"),
                'd' if run == 1 => out.push_str("%-d"),
                'D' => out.push_str("%j"),
                'H' if run == 2 => out.push_str("%H"),
                'H' if run == 1 => out.push_str("%-H"),
                'm' if run == 2 => out.push_str("%M"),
                's' if run == 2 => out.push_str("%S"),
                c if c.is_ascii_alphabetic() => {
                    return Err(format!(
                        "'{}' is not supported in a bucket format (use y, M, d, D, H, mm, ss and quoted literals)",
                        c.to_string().repeat(run)
                    ));
                }
                c => (0..run).for_each(|_| push_literal(&mut out, c)),
            }
            i += run;
        }
        Ok(Self { unit, pattern: pattern.to_string(), chrono: out })
    }

    /// The bucket holding `ms`.
    pub fn name(&self, ms: i64) -> String {
        let floor = ms.div_euclid(self.unit.millis()) * self.unit.millis();
        DateTime::<Utc>::from_timestamp_millis(floor).map(|d| d.format(&self.chrono).to_string()).unwrap_or_default()
    }

    /// Every bucket that `[from, to]` touches, oldest first.
    pub fn covering(&self, from: i64, to: i64) -> Vec<String> {
        let w = self.unit.millis();
        let (first, last) = (from.div_euclid(w), to.div_euclid(w));
        let mut names: Vec<String> = (first..=last).map(|b| self.name(b * w)).collect();
        names.dedup();
        names
    }

    /// How many buckets `[from, to]` touches.
    pub fn count(&self, from: i64, to: i64) -> i64 {
        let w = self.unit.millis();
        to.div_euclid(w) - from.div_euclid(w) + 1
    }
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' { out.push_str("%%") } else { out.push(c) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_in_every_accepted_form() {
        let expected = 1_714_557_600_123; // 2024-05-01T10:00:00.123Z
        for text in [
            "2024-05-01 10:00:00.123Z",
            "2024-05-01 10:00:00.1230000Z",
            "2024-05-01T10:00:00.123Z",
            "2024-05-01T12:00:00.123+02:00",
            "2024-05-01 10:00:00.123",
            "1714557600123",
        ] {
            assert_eq!(parse_time(text).unwrap(), expected, "{text}");
        }
        assert_eq!(parse_time("2024-05-01").unwrap(), 1_714_521_600_000);
        assert_eq!(parse_time(LENSES_EPOCH).unwrap(), -2_208_988_800_000);
        assert_eq!(format_time(expected), "2024-05-01 10:00:00.123Z");
        assert_eq!(parse_time(&format_time(expected)).unwrap(), expected);
        let err = parse_time("yesterday").unwrap_err();
        assert!(err.contains("'yesterday'") && err.contains("UTC"), "{err}");
    }

    #[test]
    fn windows_stop_at_now_minus_delay() {
        assert_eq!(next_window(0, 10, 100, 30), Some((0, 10)));
        assert_eq!(next_window(65, 10, 100, 30), Some((65, 70)));
        assert_eq!(next_window(70, 10, 100, 30), None);
        assert_eq!(next_window(i64::MIN / 2, i64::MAX, 100, 30), Some((i64::MIN / 2, 70)));
    }

    #[test]
    fn buckets_of_a_window() {
        let day = Buckets::new(BucketUnit::Day, "yyyy-MM-dd").unwrap();
        let t = parse_time("2024-05-01 23:59:59.999Z").unwrap();
        assert_eq!(day.name(t), "2024-05-01");
        assert_eq!(day.covering(t, t + 1), ["2024-05-01", "2024-05-02"]);
        assert_eq!(day.count(t, t + 1), 2);
        let hour = Buckets::new(BucketUnit::Hour, "yyMMddHH").unwrap();
        assert_eq!(hour.name(t), "24050123");
        let quoted = Buckets::new(BucketUnit::Minute, "'b-'yyyyMMdd'T'HHmm").unwrap();
        assert_eq!(quoted.name(t), "b-20240501T2359");
        assert!(Buckets::new(BucketUnit::Day, "yyyy-MMM").unwrap_err().contains("'MMM'"));
        assert!(Buckets::new(BucketUnit::Day, "yyyy'x").unwrap_err().contains("quote"));
    }
}
