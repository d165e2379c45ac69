//! Records → bound Cassandra statements: a `TableMapping` resolved against the live table schema
//! becomes prepared statements (insert, or the user's `query`; delete when enabled) and the list of
//! (column, source, CQL type) that binds a record to them.

use std::borrow::Cow;
use std::sync::OnceLock;

use scylla::frame::response::result::NativeType;

use scylla::client::session::Session;
use scylla::frame::response::result::ColumnType;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlTimestamp, CqlValue};
use serde_json::Value;

use super::model::{ColumnSpec, Deletes, Source, TableMapping, TimeUnit};
pub use crate::cassandra::row::BoundRow;
use crate::cassandra::row::Cell;
use crate::cassandra::{self, CassandraError, Column, quote_identifier, values::json_to_cql};
use crate::pipeline::json::{Doc, Field};

const BIGINT: ColumnType<'static> = ColumnType::Native(NativeType::BigInt);
const INT: ColumnType<'static> = ColumnType::Native(NativeType::Int);

/// What a record looks like to the mapping: converted value and key, raw headers, timestamp.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The converted value, read lazily; `None` for a tombstone.
    pub value: Option<&'a Doc<'a>>,
    /// The converted key, when a mapping needs it.
    pub key: Option<&'a Value>,
    /// Headers as read.
    pub headers: &'a [(String, Option<Vec<u8>>)],
    /// Record timestamp (ms since the epoch).
    pub timestamp_ms: Option<i64>,
}

/// Which prepared statement a bound row is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// The insert (or the user's query).
    Upsert,
    /// The delete.
    Delete,
}

/// One record's statement for one table, ready to execute or batch.
#[derive(Debug, Clone)]
pub struct BoundStatement {
    /// Which statement.
    pub kind: StatementKind,
    /// Its values.
    pub values: BoundRow,
    /// Approximate size of the values in bytes.
    pub size: usize,
}

/// Where a column's value comes from, resolved against the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSource {
    /// Target column (as the schema names it).
    pub column: String,
    /// Where the value comes from.
    pub source: Source,
    /// Whether the column is part of the primary key (so it must have a value).
    pub primary_key: bool,
    /// Whether the column is part of the partition key (statements are grouped by it).
    pub partition_key: bool,
}

/// Resolves a mapping's column selection against the table's columns. Pure; errors name the column.
pub fn resolve_columns(mapping: &TableMapping, columns: &[Column]) -> Result<Vec<ColumnSource>, String> {
    let target = mapping.target();
    let find = |name: &str| {
        columns.iter().find(|c| c.name == name).or_else(|| columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
    };
    let mut out: Vec<ColumnSource> = Vec::new();
    let mut push = |column: &Column, source: Source| -> Result<(), String> {
        if out.iter().any(|s| s.column == column.name) {
            return Err(format!("column '{}' of {target} is mapped twice", column.name));
        }
        out.push(ColumnSource {
            column: column.name.clone(),
            source,
            primary_key: column.is_primary_key(),
            partition_key: column.is_partition_key(),
        });
        Ok(())
    };
    for spec in &mapping.columns {
        match spec {
            ColumnSpec::Star { prefix, ignore } => {
                let ignored =
                    |c: &Column| !c.is_primary_key() && ignore.iter().any(|i| i.eq_ignore_ascii_case(&c.name));
                for column in columns.iter().filter(|c| !ignored(c)) {
                    let mut path = prefix.clone();
                    path.push(column.name.clone());
                    push(column, Source::Value(path))?;
                }
            }
            ColumnSpec::Column { column, source } => {
                let Some(col) = find(column) else {
                    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                    return Err(format!("column '{column}' is not in {target} (its columns: {})", names.join(", ")));
                };
                push(col, source.clone())?;
            }
        }
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| c.is_primary_key() && !out.iter().any(|s| s.column == c.name))
        .map(|c| c.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!("primary key column(s) {} of {target} are not mapped", missing.join(", ")));
    }
    Ok(out)
}

/// Looks a path up in a JSON value: exact field names first, then case-insensitively (CQL names
/// are case-insensitive unless quoted; JSON producers often use camelCase). An empty path is the value.
pub fn lookup<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| {
        let object = v.as_object()?;
        object.get(key).or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
    })
}

/// How the generated or user insert takes its values.
#[derive(Debug)]
enum InsertBinds {
    /// Columns in order, then the write timestamp, then the TTL when `ttl` is set.
    Generated { ttl: bool },
    /// The user's query: for each of its markers, the index of the column bound to it.
    Query(Vec<usize>),
}

#[derive(Debug)]
enum DeleteStatement {
    /// `DELETE … USING TIMESTAMP ? WHERE <pk> = ? …`: the timestamp, then these column indexes.
    Row { statement: PreparedStatement, key_columns: Vec<usize> },
    /// The Lenses statement, bound from key fields.
    Custom { statement: PreparedStatement, key_fields: Vec<String>, types: Vec<ColumnType<'static>> },
}

/// A table's prepared statements and bindings.
#[derive(Debug)]
pub struct TableWriter {
    /// `keyspace.table`, for logs and errors.
    pub target: String,
    mapping: TableMapping,
    columns: Vec<ColumnSource>,
    types: Vec<ColumnType<'static>>,
    insert: PreparedStatement,
    insert_binds: InsertBinds,
    delete: Option<DeleteStatement>,
    /// Batches of n upserts, by n, built on first use ([`TableWriter::batch`]).
    upsert_batches: BatchCache,
}

/// Batches by their number of statements (the driver's `Batch` has no `Debug`).
struct BatchCache(Vec<OnceLock<Batch>>);

impl std::fmt::Debug for BatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let built: Vec<usize> = self.0.iter().enumerate().filter(|(_, b)| b.get().is_some()).map(|(n, _)| n).collect();
        f.debug_struct("BatchCache").field("built", &built).finish()
    }
}

/// Batches of up to this many upserts are built once and reused (the default batch is 32).
const CACHED_BATCH_SIZES: usize = 128;

impl TableWriter {
    /// Reads the table schema, resolves the mapping and prepares the statements.
    pub async fn prepare(session: &Session, mapping: &TableMapping) -> Result<Self, CassandraError> {
        let target = mapping.target();
        let schema = cassandra::table_columns(session, &mapping.keyspace, &mapping.table).await?;
        let columns = resolve_columns(mapping, &schema).map_err(CassandraError::Schema)?;
        if schema.iter().any(|c| c.cql_type.starts_with("counter")) {
            return Err(CassandraError::Schema(format!(
                "{target} is a counter table; counter updates are not idempotent and are not supported by this sink"
            )));
        }
        let table = format!("{}.{}", quote_identifier(&mapping.keyspace), quote_identifier(&mapping.table));
        let (insert, insert_binds) = match &mapping.query {
            Some(query) => {
                let statement = prepare(session, query, mapping).await?;
                let order = statement
                    .get_variable_col_specs()
                    .iter()
                    .map(|spec| {
                        columns.iter().position(|c| c.column.eq_ignore_ascii_case(spec.name())).ok_or_else(|| {
                            CassandraError::Schema(format!(
                                "{target}: the query's marker :{} is not a mapped column",
                                spec.name()
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (statement, InsertBinds::Query(order))
            }
            None => {
                let names: Vec<String> = columns.iter().map(|s| quote_identifier(&s.column)).collect();
                let marks = vec!["?"; columns.len()].join(", ");
                let ttl = mapping.ttl_source.is_some() || mapping.ttl_seconds.is_some();
                let cql = format!(
                    "INSERT INTO {table} ({}) VALUES ({marks}) USING TIMESTAMP ?{}",
                    names.join(", "),
                    if ttl { " AND TTL ?" } else { "" }
                );
                (prepare(session, &cql, mapping).await?, InsertBinds::Generated { ttl })
            }
        };
        let types: Vec<ColumnType<'static>> = match &insert_binds {
            InsertBinds::Generated { .. } => insert
                .get_variable_col_specs()
                .iter()
                .take(columns.len())
                .map(|s| s.typ().clone().into_owned())
                .collect(),
            // Types by column, from the schema-ordered markers of the user's query.
            InsertBinds::Query(order) => {
                let specs = insert.get_variable_col_specs();
                let mut types = vec![None; columns.len()];
                for (spec, index) in specs.iter().zip(order) {
                    types[*index] = Some(spec.typ().clone().into_owned());
                }
                // A mapped column the query does not use is never bound; give it the text type.
                types
                    .into_iter()
                    .map(|t| t.unwrap_or(ColumnType::Native(scylla::frame::response::result::NativeType::Text)))
                    .collect()
            }
        };
        let delete = match &mapping.deletes {
            Deletes::Disabled => None,
            Deletes::Row if columns.len() < schema.len() => {
                tracing::warn!(table = %target, "deletes are disabled for this table: they need every column mapped");
                None
            }
            Deletes::Row => {
                let key_columns: Vec<usize> =
                    columns.iter().enumerate().filter(|(_, c)| c.primary_key).map(|(i, _)| i).collect();
                let conditions: Vec<String> =
                    key_columns.iter().map(|i| format!("{} = ?", quote_identifier(&columns[*i].column))).collect();
                let cql = format!("DELETE FROM {table} USING TIMESTAMP ? WHERE {}", conditions.join(" AND "));
                Some(DeleteStatement::Row { statement: prepare(session, &cql, mapping).await?, key_columns })
            }
            Deletes::Statement { cql, key_fields } => {
                let statement = prepare(session, cql, mapping).await?;
                let types: Vec<_> =
                    statement.get_variable_col_specs().iter().map(|s| s.typ().clone().into_owned()).collect();
                let expected = key_fields.len().max(1);
                if types.len() != expected {
                    return Err(CassandraError::Schema(format!(
                        "connect.cassandra.delete.statement has {} markers but connect.cassandra.delete.struct_flds names {expected} key field(s)",
                        types.len()
                    )));
                }
                Some(DeleteStatement::Custom { statement, key_fields: key_fields.clone(), types })
            }
        };
        let upsert_batches = BatchCache((0..=CACHED_BATCH_SIZES).map(|_| OnceLock::new()).collect());
        Ok(Self { target, mapping: mapping.clone(), columns, types, insert, insert_binds, delete, upsert_batches })
    }

    /// Source topic.
    pub fn topic(&self) -> &str {
        &self.mapping.topic
    }

    /// The prepared statement for a kind.
    pub fn statement(&self, kind: StatementKind) -> &PreparedStatement {
        match (kind, &self.delete) {
            (
                StatementKind::Delete,
                Some(DeleteStatement::Row { statement, .. } | DeleteStatement::Custom { statement, .. }),
            ) => statement,
            _ => &self.insert,
        }
    }

    /// An UNLOGGED, idempotent batch of these statements (at the first one's consistency level).
    /// Batches of upserts only — nearly all of them — are built once per size and lent out.
    pub fn batch(&self, kinds: impl ExactSizeIterator<Item = StatementKind> + Clone) -> Cow<'_, Batch> {
        let n = kinds.len();
        let build = |kinds: &mut dyn Iterator<Item = StatementKind>| {
            let mut batch = Batch::new(BatchType::Unlogged);
            let mut first = None;
            for kind in kinds {
                let statement = self.statement(kind);
                first.get_or_insert(statement);
                batch.append_statement(statement.clone());
            }
            batch.set_is_idempotent(true);
            if let Some(c) = first.and_then(PreparedStatement::get_consistency) {
                batch.set_consistency(c);
            }
            batch
        };
        match self.upsert_batches.0.get(n) {
            Some(cached) if kinds.clone().all(|k| k == StatementKind::Upsert) => {
                Cow::Borrowed(cached.get_or_init(|| build(&mut kinds.clone())))
            }
            _ => Cow::Owned(build(&mut kinds.clone())),
        }
    }

    /// Binds one record: an upsert, or a delete (a tombstone, or a record whose mapped non-key
    /// columns are all null, when deletes are enabled). Errors name the table, column and field.
    ///
    /// The statement's partition key (statements with the same one may share an UNLOGGED batch) is
    /// appended to `key`, a buffer the caller reuses; on an error, `key` may hold part of it.
    pub fn bind(&self, record: &RecordView<'_>, key: &mut Vec<u8>) -> Result<BoundStatement, String> {
        let (kind, values, from_cells) = self.bind_values(record, key)?;
        if !from_cells {
            let computed = self
                .statement(kind)
                .compute_partition_key(&values)
                .map_err(|e| format!("{}: cannot compute the partition key: {e}", self.target))?;
            key.extend_from_slice(&computed);
        }
        let size = values.byte_len() + 8;
        Ok(BoundStatement { kind, values, size })
    }

    /// The statement kind, its values, and whether the mapped cells gave the grouping key (then
    /// appended to `key`).
    fn bind_values(
        &self,
        record: &RecordView<'_>,
        key: &mut Vec<u8>,
    ) -> Result<(StatementKind, BoundRow, bool), String> {
        if let (None, Some(DeleteStatement::Custom { key_fields, types, .. })) = (record.value, &self.delete) {
            return self.bind_custom_delete(record, key_fields, types).map(|row| (StatementKind::Delete, row, false));
        }
        if record.value.is_none() && !matches!(self.delete, Some(DeleteStatement::Row { .. })) {
            return Err(format!(
                "{}: the record value is null (a tombstone) and deletes are not enabled for this table",
                self.target
            ));
        }
        // Cells are serialized as they are read, in column order; the partition key is the
        // serialized partition-key cells (statements of one table group by it).
        let mut row = BoundRow::with_capacity(self.columns.len() * 16 + 32);
        let mut only_key = true;
        for (column, typ) in self.columns.iter().zip(&self.types) {
            let start = row.byte_len();
            let field = match (&column.source, record.value) {
                // A top-level field of an object: looked up here, not returned through `read`.
                (Source::Value(path), Some(doc @ Doc::Object(_))) if path.len() == 1 => {
                    doc.raw_field(&path[0]).map(Field::Raw)
                }
                _ => self.read(&column.source, record)?,
            };
            match field.filter(|v| !v.is_null()) {
                None if column.primary_key => {
                    let hint = if record.value.is_none() {
                        " (a tombstone carries only the key: map key columns from key.<field>)"
                    } else {
                        ""
                    };
                    return Err(format!(
                        "{}: primary key column '{}' has no value ({} is missing or null){hint}",
                        self.target, column.column, column.source
                    ));
                }
                None if self.mapping.null_to_unset => row.push_unset(),
                None => row.push_null(),
                Some(v) => {
                    only_key &= column.primary_key;
                    push_field(&mut row, &v, typ)
                        .map_err(|e| format!("{}: column '{}' ({}): {e}", self.target, column.column, column.source))?;
                }
            }
            if column.partition_key {
                key.extend_from_slice(row.bytes_since(start));
            }
        }
        let write_time = self.write_time_micros(record)?;
        if let Some(DeleteStatement::Row { key_columns, .. }) = &self.delete
            && only_key
        {
            let cells: Vec<Cell<'_>> = row.cells().collect();
            let mut delete = BoundRow::with_capacity(row.byte_len() + 12);
            delete.push(&write_time, &BIGINT)?;
            key_columns.iter().for_each(|i| delete.push_cell(cells[*i]));
            return Ok((StatementKind::Delete, delete, true));
        }
        let row = match &self.insert_binds {
            InsertBinds::Query(order) => {
                let cells: Vec<Cell<'_>> = row.cells().collect();
                let mut ordered = BoundRow::with_capacity(row.byte_len());
                order.iter().for_each(|i| ordered.push_cell(cells[*i]));
                ordered
            }
            InsertBinds::Generated { ttl } => {
                row.push(&write_time, &BIGINT)?;
                if *ttl {
                    row.push(&self.ttl_seconds(record)?, &INT)?;
                }
                row
            }
        };
        Ok((StatementKind::Upsert, row, true))
    }

    fn bind_custom_delete(
        &self,
        record: &RecordView<'_>,
        key_fields: &[String],
        types: &[ColumnType<'static>],
    ) -> Result<BoundRow, String> {
        let key = record.key.ok_or_else(|| format!("{}: a tombstone without a key cannot be deleted", self.target))?;
        let paths: Vec<Vec<String>> =
            if key_fields.is_empty() { vec![Vec::new()] } else { key_fields.iter().map(|f| vec![f.clone()]).collect() };
        let mut row = BoundRow::default();
        for (path, typ) in paths.iter().zip(types) {
            let name = if path.is_empty() { "key".to_string() } else { format!("key.{}", path.join(".")) };
            let v = lookup(key, path)
                .filter(|v| !v.is_null())
                .ok_or_else(|| format!("{}: delete needs {name}, which is missing", self.target))?;
            json_to_cql(v, typ)
                .and_then(|c| row.push(&c, typ))
                .map_err(|e| format!("{}: delete ({name}): {e}", self.target))?;
        }
        Ok(row)
    }

    fn read<'r>(&self, source: &Source, record: &'r RecordView<'r>) -> Result<Option<Field<'r>>, String> {
        Ok(match source {
            Source::Value(path) => match record.value {
                Some(doc) => doc.get(path).map_err(|e| format!("{}: {source}: {e}", self.target))?,
                None => None,
            },
            Source::Key(path) => record.key.and_then(|k| lookup(k, path)).map(|v| Field::Value(Cow::Borrowed(v))),
            Source::Header(name) => {
                record.headers.iter().rev().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref()).map(|bytes| {
                    let text = String::from_utf8_lossy(bytes);
                    Field::Value(Cow::Owned(serde_json::from_str(&text).unwrap_or(Value::String(text.into_owned()))))
                })
            }
            Source::Now => Some(Field::Value(Cow::Owned(Value::String(now_timeuuid().to_string())))),
        })
    }

    fn integer(&self, source: &Source, record: &RecordView<'_>, what: &str) -> Result<Option<i64>, String> {
        let Some(field) = self.read(source, record)?.filter(|v| !v.is_null()) else { return Ok(None) };
        let v = field.to_value()?;
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(Some)
            .ok_or_else(|| format!("{}: {what} ({source}) is not an integer: {v}", self.target))
    }

    /// `__timestamp` in its unit, else the record timestamp, else now; in microseconds.
    fn write_time_micros(&self, record: &RecordView<'_>) -> Result<i64, String> {
        if let Some((source, unit)) = &self.mapping.timestamp_source
            && let Some(t) = self.integer(source, record, "__timestamp")?
        {
            return Ok(unit.convert(t, TimeUnit::Microseconds));
        }
        Ok(record.timestamp_ms.filter(|t| *t >= 0).map_or_else(now_micros, |ms| ms.saturating_mul(1000)))
    }

    /// `__ttl` in its unit, else the static TTL, else 0 (none); in seconds.
    fn ttl_seconds(&self, record: &RecordView<'_>) -> Result<i32, String> {
        if let Some((source, unit)) = &self.mapping.ttl_source
            && let Some(t) = self.integer(source, record, "__ttl")?
        {
            let seconds = unit.convert(t, TimeUnit::Seconds);
            return i32::try_from(seconds.max(0))
                .map_err(|_| format!("{}: __ttl {seconds}s is too large", self.target));
        }
        Ok(self.mapping.ttl_seconds.map_or(0, |t| t as i32))
    }
}

async fn prepare(session: &Session, cql: &str, mapping: &TableMapping) -> Result<PreparedStatement, CassandraError> {
    let mut statement = session
        .prepare(cql)
        .await
        .map_err(|source| CassandraError::Prepare { statement: cql.to_string(), source: Box::new(source) })?;
    // Writes carry an explicit timestamp, so replaying one converges: safe to retry.
    statement.set_is_idempotent(true);
    if let Some(c) = mapping.consistency {
        statement.set_consistency(c);
    }
    Ok(statement)
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn now_timeuuid() -> uuid::Uuid {
    static NODE: std::sync::OnceLock<[u8; 6]> = std::sync::OnceLock::new();
    let node = NODE.get_or_init(|| {
        let b = uuid::Uuid::new_v4().into_bytes();
        [b[0] | 0x01, b[1], b[2], b[3], b[4], b[5]]
    });
    uuid::Uuid::now_v1(node)
}

/// Converts a field to a column's CQL type; text goes straight from the JSON string, without a
/// `serde_json::Value` in between.
fn field_to_cql(field: &Field<'_>, typ: &ColumnType<'_>) -> Result<CqlValue, String> {
    if let ColumnType::Native(NativeType::Text) = typ
        && let Some(s) = field.as_string()
    {
        return Ok(CqlValue::Text(s.into_owned()));
    }
    json_to_cql(&*field.to_value()?, typ)
}

/// Appends a field as a cell of the column's type. The common scalar cases (a JSON string into
/// text or uuid, an integer literal into int, bigint or timestamp, a number into double, a
/// boolean) are serialized straight from the JSON text; everything else goes through
/// [`json_to_cql`], which decides what is accepted and words the errors.
fn push_field(row: &mut BoundRow, field: &Field<'_>, typ: &ColumnType<'_>) -> Result<(), String> {
    if let (Field::Raw(raw), ColumnType::Native(native)) = (field, typ) {
        let text = *raw;
        // A JSON string without escapes is its own content.
        let plain = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).filter(|t| !t.contains('\\'));
        let pushed = match native {
            NativeType::Text => plain.map(|s| row.push(s, typ)),
            NativeType::Uuid => plain.and_then(|s| uuid::Uuid::try_parse(s).ok()).map(|u| row.push(&u, typ)),
            NativeType::BigInt => text.parse::<i64>().ok().map(|i| row.push(&i, typ)),
            NativeType::Int => text.parse::<i32>().ok().map(|i| row.push(&i, typ)),
            NativeType::Timestamp => text.parse::<i64>().ok().map(|ms| row.push(&CqlTimestamp(ms), typ)),
            NativeType::Double if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                text.parse::<f64>().ok().map(|f| row.push(&f, typ))
            }
            NativeType::Boolean => match text {
                "true" => Some(row.push(&true, typ)),
                "false" => Some(row.push(&false, typ)),
                _ => None,
            },
            _ => None,
        };
        if let Some(result) = pushed {
            return result;
        }
    }
    row.push(&field_to_cql(field, typ)?, typ)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::connectors::sink::kcql;
    use crate::connectors::sink::lenses;
    use serde_json::json;

    fn columns() -> Vec<Column> {
        [("sensor_id", "partition_key"), ("ts", "clustering"), ("temperature", "regular"), ("site", "regular")]
            .into_iter()
            .map(|(n, k)| Column { name: n.into(), kind: k.into(), cql_type: "text".into() })
            .collect()
    }

    fn mapping(kcql_text: &str) -> TableMapping {
        let topic = kcql::parse(kcql_text).unwrap()[0].topic.clone();
        let s = Settings(
            [("connect.cassandra.key.space", "ks"), ("connect.cassandra.kcql", kcql_text)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        lenses::mappings(&s, &[topic]).unwrap().remove(0)
    }

    fn resolve(kcql_text: &str) -> Result<Vec<ColumnSource>, String> {
        resolve_columns(&mapping(kcql_text), &columns())
    }

    #[test]
    fn star_maps_every_column_but_ignored_ones() {
        let s = resolve("INSERT INTO t SELECT * FROM x IGNORE site, sensor_id").unwrap();
        let names: Vec<&str> = s.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(names, vec!["sensor_id", "ts", "temperature"], "primary key columns are never ignored");
        assert!(s[0].primary_key && s[1].primary_key && !s[2].primary_key);
    }

    #[test]
    fn explicit_fields_with_aliases_and_nesting() {
        let s = resolve("INSERT INTO t SELECT id AS sensor_id, meta.time AS ts, temp AS temperature FROM x").unwrap();
        assert_eq!(
            s[1],
            ColumnSource {
                column: "ts".into(),
                source: Source::Value(vec!["meta".into(), "time".into()]),
                primary_key: true,
                partition_key: false,
            }
        );
        assert!(s[0].partition_key);
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
        assert!(resolve("INSERT INTO t SELECT *, a AS site FROM x").unwrap_err().contains("mapped twice"));
    }

    #[test]
    fn lookup_is_exact_then_case_insensitive() {
        let v = json!({"sensorId": "a", "meta": {"Time": 1}, "sensorid": "exact"});
        assert_eq!(lookup(&v, &["sensorid".into()]), Some(&json!("exact")));
        assert_eq!(lookup(&v, &["meta".into(), "time".into()]), Some(&json!(1)));
        assert_eq!(lookup(&v, &["meta".into(), "x".into()]), None);
        assert_eq!(lookup(&json!(3), &["a".into()]), None);
        assert_eq!(lookup(&json!(3), &[]), Some(&json!(3)));
    }

    #[test]
    fn scalar_fast_paths_serialize_as_the_general_conversion_does() {
        let cases: &[(&str, NativeType)] = &[
            (r#""sensor-001""#, NativeType::Text),
            (r#""""#, NativeType::Text),
            (r#""caf\u00e9 \"q\"""#, NativeType::Text),
            ("12.5", NativeType::Text),
            (r#""00000000-0000-4000-8000-00000000002a""#, NativeType::Uuid),
            ("-9007199254740993", NativeType::BigInt),
            (r#""42""#, NativeType::BigInt),
            ("2147483647", NativeType::Int),
            ("1767225600000", NativeType::Timestamp),
            (r#""2026-01-01T00:00:00Z""#, NativeType::Timestamp),
            ("21.5", NativeType::Double),
            ("-0.1", NativeType::Double),
            ("1e3", NativeType::Double),
            ("17", NativeType::Double),
            ("true", NativeType::Boolean),
            (r#""false""#, NativeType::Boolean),
        ];
        for (json, native) in cases {
            let typ = ColumnType::Native(native.clone());
            let mut fast = BoundRow::default();
            push_field(&mut fast, &Field::Raw(json), &typ).unwrap();
            let mut general = BoundRow::default();
            general.push(&json_to_cql(&serde_json::from_str(json).unwrap(), &typ).unwrap(), &typ).unwrap();
            assert_eq!(fast, general, "{json} as {native:?}");
        }
    }

    #[test]
    fn scalar_fast_paths_leave_bad_values_to_the_general_errors() {
        let cases: &[(&str, NativeType, &str)] = &[
            ("2147483648", NativeType::Int, "out of range for int"),
            (r#""not-a-uuid""#, NativeType::Uuid, "not-a-uuid"),
            ("1.5", NativeType::BigInt, "expected an integer"),
            (r#""warm""#, NativeType::Double, "expected a number"),
            ("1", NativeType::Boolean, "expected a boolean"),
        ];
        for (json, native, message) in cases {
            let mut row = BoundRow::default();
            let error = push_field(&mut row, &Field::Raw(json), &ColumnType::Native(native.clone())).unwrap_err();
            assert!(error.contains(message), "{json} as {native:?}: {error}");
            assert!(row.is_empty());
        }
    }

    #[test]
    fn now_is_a_time_uuid() {
        assert_eq!(now_timeuuid().get_version_num(), 1);
        assert_ne!(now_timeuuid(), now_timeuuid());
    }
}
