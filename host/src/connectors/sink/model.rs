//! The sink's mapping model. Both config dialects (Lenses KCQL, DataStax `topic.*.mapping`) compile
//! into `TableMapping`s; the writer resolves them against the live table schema.

use scylla::frame::types::Consistency;

/// Where a column's value comes from in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A path into the converted value; empty = the whole value.
    Value(Vec<String>),
    /// A path into the converted key; empty = the whole key.
    Key(Vec<String>),
    /// A header's value.
    Header(String),
    /// A new time-based UUID (DataStax `now()`).
    Now,
}

impl Source {
    /// Parses a DataStax field expression: `value`, `value.a.b`, `key`, `key.f`, `header.h`, `now()`.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let expr = expr.trim();
        if expr.eq_ignore_ascii_case("now()") {
            return Ok(Self::Now);
        }
        let (root, rest) = expr.split_once('.').map_or((expr, None), |(r, p)| (r, Some(p)));
        let path = |rest: Option<&str>| -> Result<Vec<String>, String> {
            let Some(rest) = rest else { return Ok(Vec::new()) };
            let parts: Vec<String> = rest.split('.').map(|p| p.trim().trim_matches('`').to_string()).collect();
            if parts.iter().any(String::is_empty) {
                return Err(format!("'{expr}' has an empty path element"));
            }
            Ok(parts)
        };
        match root {
            "value" => Ok(Self::Value(path(rest)?)),
            "key" => Ok(Self::Key(path(rest)?)),
            "header" => match rest {
                Some(h) if !h.trim().is_empty() => Ok(Self::Header(h.trim().to_string())),
                _ => Err(format!("'{expr}' names no header (use header.<name>)")),
            },
            _ => Err(format!(
                "invalid field '{expr}': it must be value, value.<path>, key, key.<path>, header.<name> or now()"
            )),
        }
    }

    /// Whether reading this source needs the record key converted.
    pub fn needs_key(&self) -> bool {
        matches!(self, Self::Key(_))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join =
            |root: &str, p: &[String]| if p.is_empty() { root.to_string() } else { format!("{root}.{}", p.join(".")) };
        match self {
            Self::Value(p) => f.write_str(&join("value", p)),
            Self::Key(p) => f.write_str(&join("key", p)),
            Self::Header(h) => write!(f, "header.{h}"),
            Self::Now => f.write_str("now()"),
        }
    }
}

/// One entry of a table's column selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSpec {
    /// One column from one source.
    Column {
        /// Target column.
        column: String,
        /// Where its value comes from.
        source: Source,
    },
    /// Every table column from the value field of the same name under `prefix` (KCQL `*`, `a.*`),
    /// except `ignore`d ones; resolved against the schema when the task starts.
    Star {
        /// Path in the value.
        prefix: Vec<String>,
        /// Columns left out.
        ignore: Vec<String>,
    },
}

/// Units of `__ttl` and `__timestamp` fields (DataStax `ttlTimeUnit`, `timestampTimeUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// ns
    Nanoseconds,
    /// µs
    Microseconds,
    /// ms
    Milliseconds,
    /// s
    Seconds,
    /// min
    Minutes,
    /// h
    Hours,
    /// d
    Days,
}

impl TimeUnit {
    /// Parses Java's `TimeUnit` names.
    pub fn parse(key: &str, value: &str) -> Result<Self, crate::config::ConfigError> {
        Ok(match value.trim().to_ascii_uppercase().as_str() {
            "NANOSECONDS" => Self::Nanoseconds,
            "MICROSECONDS" => Self::Microseconds,
            "MILLISECONDS" => Self::Milliseconds,
            "SECONDS" => Self::Seconds,
            "MINUTES" => Self::Minutes,
            "HOURS" => Self::Hours,
            "DAYS" => Self::Days,
            other => {
                return Err(crate::config::ConfigError::invalid(
                    key,
                    format!(
                        "'{other}' is not a time unit (NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)"
                    ),
                ));
            }
        })
    }

    /// Converts an amount of this unit to another unit (truncating, saturating).
    pub fn convert(self, amount: i64, to: TimeUnit) -> i64 {
        let nanos = |u: TimeUnit| -> i128 {
            match u {
                Self::Nanoseconds => 1,
                Self::Microseconds => 1_000,
                Self::Milliseconds => 1_000_000,
                Self::Seconds => 1_000_000_000,
                Self::Minutes => 60_000_000_000,
                Self::Hours => 3_600_000_000_000,
                Self::Days => 86_400_000_000_000,
            }
        };
        let v = i128::from(amount) * nanos(self) / nanos(to);
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

/// How records become deletions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletes {
    /// Never delete; a tombstone is a bad record.
    Disabled,
    /// DataStax: a record whose mapped non-key columns are all null (a tombstone included, when the
    /// key columns come from the record key) deletes the row.
    Row,
    /// Lenses: a tombstone runs `statement`, binding `key_fields` of the record key in order.
    Statement {
        /// e.g. `DELETE FROM orders WHERE id = ? AND product = ?`.
        cql: String,
        /// Key fields bound in order (empty: the whole key is bound to the single marker).
        key_fields: Vec<String>,
    },
}

/// One topic → one table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableMapping {
    /// Source topic.
    pub topic: String,
    /// Target keyspace.
    pub keyspace: String,
    /// Target table.
    pub table: String,
    /// Columns.
    pub columns: Vec<ColumnSpec>,
    /// Static TTL in seconds.
    pub ttl_seconds: Option<u32>,
    /// Per-record TTL (`__ttl`), and its unit.
    pub ttl_source: Option<(Source, TimeUnit)>,
    /// Per-record write time (`__timestamp`), and its unit; default: the record timestamp.
    pub timestamp_source: Option<(Source, TimeUnit)>,
    /// Consistency for this table's writes.
    pub consistency: Option<Consistency>,
    /// Null fields are left unset (true) or written as null, i.e. a cell tombstone (false).
    pub null_to_unset: bool,
    /// Deletion behaviour.
    pub deletes: Deletes,
    /// A user statement replacing the generated insert; its `:name` markers bind mapped columns.
    pub query: Option<String>,
}

impl TableMapping {
    /// `keyspace.table`.
    pub fn target(&self) -> String {
        format!("{}.{}", self.keyspace, self.table)
    }

    /// Whether reading this mapping may need the record key: always when a source reads it, and
    /// for tombstones when deletes bind key fields.
    pub fn needs_key(&self, tombstone: bool) -> bool {
        self.sources().any(Source::needs_key) || (tombstone && matches!(self.deletes, Deletes::Statement { .. }))
    }

    /// Whether a column, the TTL or the write time of this mapping is read from a record header.
    pub fn reads_headers(&self) -> bool {
        self.sources().any(|s| matches!(s, Source::Header(_)))
    }

    /// Every source this mapping reads: its columns', its TTL's and its write time's.
    fn sources(&self) -> impl Iterator<Item = &Source> {
        let column_sources = self.columns.iter().filter_map(|c| match c {
            ColumnSpec::Column { source, .. } => Some(source),
            ColumnSpec::Star { .. } => None,
        });
        column_sources.chain(self.ttl_source.iter().chain(&self.timestamp_source).map(|(s, _)| s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(Source::parse("value.a.b").unwrap(), Source::Value(vec!["a".into(), "b".into()]));
        assert_eq!(Source::parse("value").unwrap(), Source::Value(vec![]));
        assert_eq!(Source::parse(" key ").unwrap(), Source::Key(vec![]));
        assert_eq!(Source::parse("key.id").unwrap(), Source::Key(vec!["id".into()]));
        assert_eq!(Source::parse("header.trace-id").unwrap(), Source::Header("trace-id".into()));
        assert_eq!(Source::parse("NOW()").unwrap(), Source::Now);
        assert!(Source::parse("values.a").unwrap_err().contains("invalid field 'values.a'"));
        assert!(Source::parse("value..a").is_err());
        assert!(Source::parse("header.").is_err());
        assert_eq!(Source::parse("key.id").unwrap().to_string(), "key.id");
    }

    #[test]
    fn time_units() {
        assert_eq!(TimeUnit::Milliseconds.convert(1500, TimeUnit::Seconds), 1);
        assert_eq!(TimeUnit::Seconds.convert(2, TimeUnit::Microseconds), 2_000_000);
        assert_eq!(TimeUnit::Days.convert(i64::MAX, TimeUnit::Nanoseconds), i64::MAX);
        assert!(TimeUnit::parse("k", "fortnights").unwrap_err().to_string().contains("'k'"));
        assert_eq!(TimeUnit::parse("k", "seconds").unwrap(), TimeUnit::Seconds);
    }
}
