//! The source's KCQL (Lenses' grammar, unchanged), parsed into a typed statement:
//!
//! ```text
//! INSERT INTO <topic> SELECT <* | col, …> FROM <table> [IGNORE c, …] [PK <col>]
//!   [INCREMENTALMODE=TIMESTAMP|TIMEUUID|BUCKETTIMESERIES|TOKEN] [WITHKEY(c1, c2) [KEYDELIMITER='.']]
//!   [WITHFORMAT JSON] [WITHUNWRAP] [BATCH=<n>]
//! ```
//! Several statements are separated by `;`, one per table.

use crate::connectors::sink::kcql::{Cursor, parse_each, tokenize};

/// How a table is read (`INCREMENTALMODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Time slices on a `timestamp` column (Lenses' ALLOW FILTERING query).
    Timestamp,
    /// Time slices on a `timeuuid` column (Lenses' ALLOW FILTERING query).
    TimeUuid,
    /// Time slices on the clustering column of a table partitioned by time bucket: each bucket of
    /// a slice read on its own, in parallel, without ALLOW FILTERING.
    BucketTimeSeries,
    /// A snapshot of the whole table: the token ring split into ranges read in parallel.
    Token,
}

impl Mode {
    /// Lenses' name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timestamp => "TIMESTAMP",
            Self::TimeUuid => "TIMEUUID",
            Self::BucketTimeSeries => "BUCKETTIMESERIES",
            Self::Token => "TOKEN",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_uppercase().as_str() {
            "TIMESTAMP" => Ok(Self::Timestamp),
            "TIMEUUID" => Ok(Self::TimeUuid),
            "BUCKETTIMESERIES" => Ok(Self::BucketTimeSeries),
            "TOKEN" => Ok(Self::Token),
            "DSESEARCHTIMESTAMP" => Err("INCREMENTALMODE=DSESEARCHTIMESTAMP needs DataStax Enterprise Search (solr_query), which Apache Cassandra does not have; use TIMESTAMP, or BUCKETTIMESERIES on a bucketed table".into()),
            other => Err(format!(
                "INCREMENTALMODE={other} is not a mode; use TIMESTAMP, TIMEUUID, BUCKETTIMESERIES or TOKEN (an unknown mode is never read as a bulk re-read of the table)"
            )),
        }
    }
}

/// A parsed source statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatement {
    /// Target topic.
    pub topic: String,
    /// Source table (in `connect.cassandra.key.space`).
    pub table: String,
    /// Selected columns; empty = `*`.
    pub columns: Vec<String>,
    /// Columns left out (`IGNORE`).
    pub ignore: Vec<String>,
    /// The tracking column (`PK`).
    pub pk: Option<String>,
    /// `INCREMENTALMODE`.
    pub mode: Option<Mode>,
    /// Columns of the record key (`WITHKEY`).
    pub key_columns: Vec<String>,
    /// Joins the key columns (`KEYDELIMITER`, default `,`).
    pub key_delimiter: String,
    /// `WITHFORMAT JSON`: the value is the row as a JSON string.
    pub json: bool,
    /// `WITHUNWRAP`: the value is the column values themselves, not a struct.
    pub unwrap: bool,
    /// `BATCH=n`: rows per token-range page in TOKEN mode.
    pub batch: Option<u32>,
}

/// Parses one or more `;`-separated statements.
pub fn parse(kcql: &str) -> Result<Vec<SourceStatement>, String> {
    parse_each(kcql, parse_one)
}

fn equals(c: &mut Cursor, after: &str) -> Result<(), String> {
    let eq = c.next(&format!("'=' after {after}"))?;
    if eq.text == "=" && !eq.quoted { Ok(()) } else { Err(format!("expected '=' after {after}, found '{}'", eq.text)) }
}

fn names(c: &mut Cursor, what: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    loop {
        out.push(c.name(what)?);
        if !c.comma() {
            return Ok(out);
        }
    }
}

fn parse_one(statement: &str) -> Result<SourceStatement, String> {
    let mut c = Cursor { tokens: tokenize(statement)?, at: 0 };
    c.keyword("INSERT")?;
    c.keyword("INTO")?;
    let topic = c.name("a topic name")?;
    c.keyword("SELECT")?;
    let columns = if c.peek().is_some_and(|t| t.is_keyword("FROM")) {
        return Err("expected a column name, or *, found FROM".into());
    } else if c.peek().is_some_and(|t| t.text == "*" && !t.quoted) {
        c.at += 1;
        Vec::new()
    } else {
        names(&mut c, "a column name, or *")?
    };
    c.keyword("FROM")?;
    let table = c.name("a table name")?;
    if table.contains('.') {
        return Err(format!("'{table}': name the table alone; its keyspace is connect.cassandra.key.space"));
    }
    let mut s = SourceStatement {
        topic,
        table,
        columns,
        ignore: Vec::new(),
        pk: None,
        mode: None,
        key_columns: Vec::new(),
        key_delimiter: ",".into(),
        json: false,
        unwrap: false,
        batch: None,
    };
    while let Some(t) = c.peek().cloned() {
        c.at += 1;
        if t.is_keyword("IGNORE") {
            s.ignore = names(&mut c, "a column name after IGNORE")?;
        } else if t.is_keyword("PK") {
            let pks = names(&mut c, "a column name after PK")?;
            if pks.len() != 1 {
                return Err(format!(
                    "PK names the one column slices are tracked by, not {} ({})",
                    pks.len(),
                    pks.join(", ")
                ));
            }
            s.pk = pks.into_iter().next();
        } else if t.is_keyword("INCREMENTALMODE") {
            equals(&mut c, "INCREMENTALMODE")?;
            s.mode = Some(Mode::parse(&c.next("a mode after INCREMENTALMODE=")?.text)?);
        } else if t.is_keyword("WITHKEY") {
            let open = c.next("'(' after WITHKEY")?;
            if open.text != "(" {
                return Err(format!("expected '(' after WITHKEY, found '{}'", open.text));
            }
            s.key_columns = names(&mut c, "a column name in WITHKEY(…)")?;
            let close = c.next("')' closing WITHKEY(…)")?;
            if close.text != ")" {
                return Err(format!("expected ')' closing WITHKEY(…), found '{}'", close.text));
            }
        } else if t.is_keyword("KEYDELIMITER") {
            if c.peek().is_some_and(|t| t.text == "=" && !t.quoted) {
                c.at += 1;
            }
            s.key_delimiter = c.next("a quoted delimiter after KEYDELIMITER")?.text;
        } else if t.is_keyword("WITHFORMAT") {
            let format = c.next("a format after WITHFORMAT")?;
            if !format.is_keyword("JSON") {
                return Err(format!("WITHFORMAT {} is not supported by the source (only JSON)", format.text));
            }
            s.json = true;
        } else if t.is_keyword("WITHUNWRAP") {
            s.unwrap = true;
        } else if t.is_keyword("BATCH") {
            equals(&mut c, "BATCH")?;
            let n = c.next("a number after BATCH=")?;
            s.batch = Some(
                n.text
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("BATCH must be a positive whole number, not '{}'", n.text))?,
            );
        } else {
            return Err(format!(
                "'{}' is not a source KCQL clause (supported: IGNORE, PK, INCREMENTALMODE, WITHKEY, KEYDELIMITER, WITHFORMAT JSON, WITHUNWRAP, BATCH)",
                t.text
            ));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clause() {
        let s = parse(
            "INSERT INTO orders-topic SELECT id, created, product FROM orders IGNORE product PK created \
             INCREMENTALMODE=TIMEUUID WITHKEY(id, product) KEYDELIMITER='.' WITHFORMAT JSON WITHUNWRAP BATCH=500; \
             INSERT INTO t2 SELECT * FROM readings PK ts INCREMENTALMODE=buckettimeseries",
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        let a = &s[0];
        assert_eq!((a.topic.as_str(), a.table.as_str()), ("orders-topic", "orders"));
        assert_eq!(a.columns, ["id", "created", "product"]);
        assert_eq!(a.ignore, ["product"]);
        assert_eq!(a.pk.as_deref(), Some("created"));
        assert_eq!(a.mode, Some(Mode::TimeUuid));
        assert_eq!(a.key_columns, ["id", "product"]);
        assert_eq!(a.key_delimiter, ".");
        assert!(a.json && a.unwrap);
        assert_eq!(a.batch, Some(500));
        let b = &s[1];
        assert!(b.columns.is_empty());
        assert_eq!(b.mode, Some(Mode::BucketTimeSeries));
        assert_eq!(b.key_delimiter, ",");
        assert!(!b.json && !b.unwrap);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (kcql, expected) in [
            ("INSERT INTO t SELECT * FROM x PK ts INCREMENTALMODE=INT", "INCREMENTALMODE=INT is not a mode"),
            ("INSERT INTO t SELECT * FROM x INCREMENTALMODE=DSESEARCHTIMESTAMP", "DataStax Enterprise"),
            ("INSERT INTO t SELECT * FROM x PK a, b", "not 2"),
            ("INSERT INTO t SELECT * FROM ks.x", "connect.cassandra.key.space"),
            ("INSERT INTO t SELECT * FROM x WITHKEY id", "expected '('"),
            ("INSERT INTO t SELECT * FROM x WITHKEY(id", "')' closing"),
            ("INSERT INTO t SELECT * FROM x WITHFORMAT AVRO", "only JSON"),
            ("INSERT INTO t SELECT * FROM x BATCH=0", "BATCH must be"),
            ("INSERT INTO t SELECT * FROM x TTL=5", "not a source KCQL clause"),
            ("INSERT INTO t SELECT FROM x", "expected a column name"),
            ("", "no KCQL statement"),
        ] {
            let err = parse(kcql).unwrap_err();
            assert!(err.contains(expected), "`{kcql}`: {err}");
        }
    }
}
