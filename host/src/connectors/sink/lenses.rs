//! The Lenses (stream-reactor) dialect: `connect.cassandra.*` keys and KCQL statements. Pure.

use super::kcql::{self, Projection};
use super::model::{ColumnSpec, Deletes, Source, TableMapping};
use crate::cassandra::parse_consistency;
use crate::config::{ConfigError, Settings, split_list};

/// Lenses keys this dialect reads (connection keys are read by `config`).
pub const KEYS: &[&str] = &[
    "connect.cassandra.key.space",
    "connect.cassandra.kcql",
    "connect.cassandra.consistency.level",
    "connect.cassandra.delete.enabled",
    "connect.cassandra.delete.statement",
    "connect.cassandra.delete.struct_flds",
];

/// Whether the settings use this dialect.
pub fn is_used(s: &Settings) -> bool {
    s.non_blank("connect.cassandra.kcql").is_some()
}

/// Compiles the KCQL statements into mappings; every statement's topic must be in `topics` and
/// every topic needs a statement.
pub fn mappings(s: &Settings, topics: &[String]) -> Result<Vec<TableMapping>, ConfigError> {
    let keyspace = s.required("connect.cassandra.key.space", "the keyspace of the target tables")?;
    let text = s.required("connect.cassandra.kcql", "e.g. INSERT INTO my_table SELECT * FROM my_topic")?;
    let statements = kcql::parse(text).map_err(|e| ConfigError::invalid("connect.cassandra.kcql", e))?;
    for st in &statements {
        if !topics.contains(&st.topic) {
            return Err(ConfigError::invalid(
                "connect.cassandra.kcql",
                format!("reads topic '{}', which is not in 'topics' ({})", st.topic, topics.join(",")),
            ));
        }
    }
    if let Some(orphan) = topics.iter().find(|t| !statements.iter().any(|st| &st.topic == *t)) {
        return Err(ConfigError::invalid(
            "topics",
            format!(
                "topic '{orphan}' has no KCQL statement in connect.cassandra.kcql, so its records would have nowhere to go"
            ),
        ));
    }
    let consistency = s
        .non_blank("connect.cassandra.consistency.level")
        .map(|v| parse_consistency("connect.cassandra.consistency.level", v))
        .transpose()?;
    let delete = if s.bool_or("connect.cassandra.delete.enabled", false)? {
        let cql = s.required("connect.cassandra.delete.statement", "e.g. DELETE FROM orders WHERE id = ?")?;
        let cql =
            qualify_table(cql, keyspace).map_err(|e| ConfigError::invalid("connect.cassandra.delete.statement", e))?;
        let key_fields = split_list(s.non_blank("connect.cassandra.delete.struct_flds").unwrap_or(""));
        Some(Deletes::Statement { cql, key_fields })
    } else {
        None
    };
    let mut out: Vec<TableMapping> = Vec::new();
    for st in statements {
        let columns = st
            .projections
            .iter()
            .map(|p| match p {
                Projection::All => ColumnSpec::Star { prefix: Vec::new(), ignore: st.ignore.clone() },
                Projection::AllUnder(prefix) => ColumnSpec::Star { prefix: prefix.clone(), ignore: st.ignore.clone() },
                Projection::Field { path, column } => {
                    ColumnSpec::Column { column: column.clone(), source: Source::Value(path.clone()) }
                }
            })
            .collect();
        // The delete statement runs once per tombstone: it goes with the topic's first table.
        let first_of_topic = !out.iter().any(|m| m.topic == st.topic);
        out.push(TableMapping {
            keyspace: st.keyspace.clone().unwrap_or_else(|| keyspace.to_string()),
            table: st.table,
            topic: st.topic,
            columns,
            ttl_seconds: st.ttl_seconds,
            ttl_source: None,
            timestamp_source: None,
            consistency,
            null_to_unset: true,
            deletes: delete.clone().filter(|_| first_of_topic).unwrap_or(Deletes::Disabled),
            query: None,
        });
    }
    Ok(out)
}

/// Qualifies the table of `DELETE … FROM <table>` with the keyspace when it names none, as the
/// Lenses connector's keyspace-bound session would.
fn qualify_table(cql: &str, keyspace: &str) -> Result<String, String> {
    let upper = cql.to_ascii_uppercase();
    if !upper.trim_start().starts_with("DELETE") {
        return Err(format!("'{cql}' is not a DELETE statement"));
    }
    let from = upper.find(" FROM ").ok_or_else(|| format!("'{cql}' has no FROM"))? + " FROM ".len();
    let rest = &cql[from..];
    let start = from + (rest.len() - rest.trim_start().len());
    let end = cql[start..].find(char::is_whitespace).map_or(cql.len(), |i| start + i);
    let table = &cql[start..end];
    if table.is_empty() {
        return Err(format!("'{cql}' names no table"));
    }
    if table.contains('.') {
        return Ok(cql.to_string());
    }
    Ok(format!("{}{}.{table}{}", &cql[..start], crate::cassandra::quote_identifier(keyspace), &cql[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs)
    }

    #[test]
    fn statements_become_mappings() {
        let s = settings(&[
            ("connect.cassandra.key.space", "ks"),
            (
                "connect.cassandra.kcql",
                "INSERT INTO a SELECT * FROM t IGNORE x; INSERT INTO other.b SELECT id, v AS w FROM t TTL=60",
            ),
            ("connect.cassandra.delete.enabled", "true"),
            ("connect.cassandra.delete.statement", "DELETE FROM a WHERE id = ?"),
            ("connect.cassandra.delete.struct_flds", "id"),
        ]);
        let m = mappings(&s, &["t".into()]).unwrap();
        assert_eq!(m[0].target(), "ks.a");
        assert_eq!(m[0].columns, vec![ColumnSpec::Star { prefix: vec![], ignore: vec!["x".into()] }]);
        assert!(matches!(m[0].deletes, Deletes::Statement { .. }));
        assert!(m[0].needs_key(true));
        assert!(!m[0].needs_key(false), "only tombstones need the key");
        assert_eq!(m[1].target(), "other.b");
        assert_eq!(m[1].ttl_seconds, Some(60));
        assert_eq!(m[1].deletes, Deletes::Disabled);
        assert_eq!(m[1].columns[1], ColumnSpec::Column { column: "w".into(), source: Source::Value(vec!["v".into()]) });
    }

    #[test]
    fn delete_statements_are_qualified() {
        assert_eq!(qualify_table("DELETE FROM t WHERE a = ?", "ks").unwrap(), "DELETE FROM ks.t WHERE a = ?");
        assert_eq!(
            qualify_table("delete from  other.t where a = ?", "ks").unwrap(),
            "delete from  other.t where a = ?"
        );
        assert!(qualify_table("SELECT * FROM t", "ks").unwrap_err().contains("not a DELETE"));
    }

    #[test]
    fn errors_name_the_key() {
        let base = [("connect.cassandra.key.space", "ks"), ("connect.cassandra.kcql", "INSERT INTO a SELECT * FROM t")];
        for (extra, topics, needle) in [
            (vec![], vec!["t", "u"], "'u' has no KCQL"),
            (vec![("connect.cassandra.kcql", "INSERT INTO a SELECT * FROM z")], vec!["t"], "not in 'topics'"),
            (vec![("connect.cassandra.delete.enabled", "true")], vec!["t"], "connect.cassandra.delete.statement"),
            (vec![("connect.cassandra.consistency.level", "MOST")], vec!["t"], "connect.cassandra.consistency.level"),
        ] {
            let mut s = settings(&base);
            for (k, v) in extra {
                s.0.insert(k.into(), v.into());
            }
            let topics: Vec<String> = topics.into_iter().map(String::from).collect();
            let err = mappings(&s, &topics).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
