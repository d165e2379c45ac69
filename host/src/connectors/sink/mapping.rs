//! Binding records to Cassandra: a KCQL statement resolved against the live table schema becomes a
//! prepared `INSERT … USING TIMESTAMP ?` and a list of (column, field path, CQL type).

use scylla::client::session::Session;
use scylla::frame::response::result::ColumnType;
use scylla::frame::types::Consistency;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlValue, MaybeUnset};
use serde_json::Value;

use super::kcql::{Projection, SinkStatement};
use crate::cassandra::{self, CassandraError, Column, quote_identifier, values::json_to_cql};

/// Bound values of one row: the mapped columns, then the write timestamp.
pub type BoundRow = Vec<MaybeUnset<Option<CqlValue>>>;

/// Where a column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSource {
    /// Target column.
    pub column: String,
    /// Path into the record value.
    pub path: Vec<String>,
    /// Whether the column is part of the primary key (so it must have a value).
    pub primary_key: bool,
}

/// Resolves a statement's projections against the table's columns. Pure; errors name the column.
pub fn resolve_columns(st: &SinkStatement, columns: &[Column], target: &str) -> Result<Vec<ColumnSource>, String> {
    let find = |name: &str| {
        columns.iter().find(|c| c.name == name).or_else(|| columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
    };
    let ignored = |name: &str| st.ignore.iter().any(|i| i.eq_ignore_ascii_case(name));
    let mut out: Vec<ColumnSource> = Vec::new();
    let push = |column: &Column, path: Vec<String>, out: &mut Vec<ColumnSource>| -> Result<(), String> {
        if out.iter().any(|s| s.column == column.name) {
            return Err(format!("column '{}' of {target} is selected twice", column.name));
        }
        out.push(ColumnSource { column: column.name.clone(), path, primary_key: column.is_primary_key() });
        Ok(())
    };
    for projection in &st.projections {
        match projection {
            Projection::All | Projection::AllUnder(_) => {
                let prefix = match projection {
                    Projection::AllUnder(p) => p.clone(),
                    _ => Vec::new(),
                };
                for column in columns.iter().filter(|c| !ignored(&c.name) || c.is_primary_key()) {
                    let mut path = prefix.clone();
                    path.push(column.name.clone());
                    push(column, path, &mut out)?;
                }
            }
            Projection::Field { path, column } => {
                let Some(col) = find(column) else {
                    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                    return Err(format!("column '{column}' is not in {target} (its columns: {})", names.join(", ")));
                };
                push(col, path.clone(), &mut out)?;
            }
        }
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| c.is_primary_key() && !out.iter().any(|s| s.column == c.name))
        .map(|c| c.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "primary key column(s) {} of {target} are not mapped by the KCQL statement",
            missing.join(", ")
        ));
    }
    Ok(out)
}

/// Looks a path up in a JSON value: exact field names first, then case-insensitively (CQL names
/// are case-insensitive unless quoted, JSON producers often use camelCase).
pub fn lookup<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| {
        let object = v.as_object()?;
        object.get(key).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
    })
}

/// A prepared write into one table.
#[derive(Debug)]
pub struct TableWriter {
    /// `keyspace.table`, for logs and errors.
    pub target: String,
    statement: PreparedStatement,
    sources: Vec<ColumnSource>,
    types: Vec<ColumnType<'static>>,
}

impl TableWriter {
    /// Reads the table schema, resolves the mapping and prepares the insert.
    pub async fn prepare(
        session: &Session,
        default_keyspace: &str,
        st: &SinkStatement,
        consistency: Option<Consistency>,
    ) -> Result<Self, CassandraError> {
        let keyspace = st.keyspace.as_deref().unwrap_or(default_keyspace);
        let target = format!("{keyspace}.{}", st.table);
        let columns = cassandra::table_columns(session, keyspace, &st.table).await?;
        let sources = resolve_columns(st, &columns, &target).map_err(CassandraError::Schema)?;
        let names: Vec<String> = sources.iter().map(|s| quote_identifier(&s.column)).collect();
        let marks = vec!["?"; sources.len()].join(", ");
        let ttl = st.ttl_seconds.map(|t| format!(" AND TTL {t}")).unwrap_or_default();
        let cql = format!(
            "INSERT INTO {}.{} ({}) VALUES ({marks}) USING TIMESTAMP ?{ttl}",
            quote_identifier(keyspace),
            quote_identifier(&st.table),
            names.join(", ")
        );
        let mut statement = session
            .prepare(cql.as_str())
            .await
            .map_err(|source| CassandraError::Prepare { statement: cql.clone(), source: Box::new(source) })?;
        // Every write carries an explicit timestamp, so replaying it converges: safe to retry.
        statement.set_is_idempotent(true);
        if let Some(c) = consistency {
            statement.set_consistency(c);
        }
        let types = statement
            .get_variable_col_specs()
            .iter()
            .take(sources.len())
            .map(|spec| spec.typ().clone().into_owned())
            .collect();
        Ok(Self { target, statement, sources, types })
    }

    /// The prepared statement.
    pub fn statement(&self) -> &PreparedStatement {
        &self.statement
    }

    /// Binds one record value. Absent and null fields are left UNSET (no tombstones); a primary key
    /// column without a value, or a value of the wrong type, is an error naming the column.
    pub fn bind(&self, value: &Value, write_timestamp_micros: i64) -> Result<BoundRow, String> {
        if !value.is_object() {
            return Err(format!("{}: the record value is not a JSON object", self.target));
        }
        let mut row = Vec::with_capacity(self.sources.len() + 1);
        for (source, typ) in self.sources.iter().zip(&self.types) {
            match lookup(value, &source.path).filter(|v| !v.is_null()) {
                None if source.primary_key => {
                    return Err(format!(
                        "{}: primary key column '{}' has no value (field '{}' is missing or null)",
                        self.target,
                        source.column,
                        source.path.join(".")
                    ));
                }
                None => row.push(MaybeUnset::Unset),
                Some(v) => {
                    let cql = json_to_cql(v, typ).map_err(|e| {
                        format!("{}: column '{}' (field '{}'): {e}", self.target, source.column, source.path.join("."))
                    })?;
                    row.push(MaybeUnset::Set(Some(cql)));
                }
            }
        }
        row.push(MaybeUnset::Set(Some(CqlValue::BigInt(write_timestamp_micros))));
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::sink::kcql;
    use serde_json::json;

    fn columns() -> Vec<Column> {
        [("sensor_id", "partition_key"), ("ts", "clustering"), ("temperature", "regular"), ("site", "regular")]
            .into_iter()
            .map(|(n, k)| Column { name: n.into(), kind: k.into(), cql_type: "text".into() })
            .collect()
    }

    fn resolve(kcql_text: &str) -> Result<Vec<ColumnSource>, String> {
        resolve_columns(&kcql::parse(kcql_text).unwrap()[0], &columns(), "ks.t")
    }

    #[test]
    fn star_maps_every_column_but_ignored_ones() {
        let s = resolve("INSERT INTO t SELECT * FROM x IGNORE site").unwrap();
        let names: Vec<&str> = s.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(names, vec!["sensor_id", "ts", "temperature"]);
        assert!(s[0].primary_key && s[1].primary_key && !s[2].primary_key);
    }

    #[test]
    fn explicit_fields_with_aliases_and_nesting() {
        let s = resolve("INSERT INTO t SELECT id AS sensor_id, meta.time AS ts, temp AS temperature FROM x").unwrap();
        assert_eq!(
            s[1],
            ColumnSource { column: "ts".into(), path: vec!["meta".into(), "time".into()], primary_key: true }
        );
    }

    #[test]
    fn schema_errors_name_the_column() {
        assert!(
            resolve("INSERT INTO t SELECT id AS sensor_id, x AS nope FROM x")
                .unwrap_err()
                .contains("'nope' is not in ks.t")
        );
        assert!(
            resolve("INSERT INTO t SELECT id AS sensor_id FROM x").unwrap_err().contains("ts of ks.t are not mapped")
        );
        assert!(resolve("INSERT INTO t SELECT *, a AS site FROM x").unwrap_err().contains("selected twice"));
    }

    #[test]
    fn lookup_is_exact_then_case_insensitive() {
        let v = json!({"sensorId": "a", "meta": {"Time": 1}, "sensorid": "exact"});
        assert_eq!(lookup(&v, &["sensorid".into()]), Some(&json!("exact")));
        assert_eq!(lookup(&v, &["meta".into(), "time".into()]), Some(&json!(1)));
        assert_eq!(lookup(&v, &["meta".into(), "x".into()]), None);
        assert_eq!(lookup(&json!(3), &["a".into()]), None);
    }
}
