//! The DataStax dialect: `contactPoints`, `loadBalancing.localDc`, `auth.*` and per topic and table
//! `topic.<topic>.<keyspace>.<table>.mapping = col=value.f, col2=key, col3=header.h, col4=now(),
//! __ttl=value.t, __timestamp=value.ts` with `consistencyLevel`, `ttl`, `ttlTimeUnit`,
//! `timestampTimeUnit`, `nullToUnset`, `deletesEnabled`, `query`. Pure.

use std::collections::BTreeMap;

use super::model::{ColumnSpec, Deletes, Source, TableMapping, TimeUnit};
use crate::cassandra::parse_consistency;
use crate::config::{ConfigError, Settings};

/// Global DataStax keys.
pub const KEYS: &[&str] = &[
    "contactPoints",
    "port",
    "loadBalancing.localDc",
    "auth.provider",
    "auth.username",
    "auth.password",
    "ssl.provider",
    "ssl.truststore.path",
    "ssl.truststore.password",
    "ssl.keystore.path",
    "ssl.keystore.password",
    "ssl.openssl.keyCertChain",
    "ssl.openssl.privateKey",
    "ssl.hostnameValidation",
    "ssl.cipherSuites",
    "maxConcurrentRequests",
    "maxNumberOfRecordsInBatch",
    "queryExecutionTimeout",
    "connectionPoolLocalSize",
    "compression",
    "jmx",
    "jmxConnectorDomain",
    "metricsHighestLatency",
    "ignoreErrors",
];
/// Per-table options (`topic.<t>.<ks>.<table>.<option>`).
pub const TABLE_OPTIONS: &[&str] = &[
    "mapping",
    "consistencyLevel",
    "ttl",
    "ttlTimeUnit",
    "timestampTimeUnit",
    "nullToUnset",
    "deletesEnabled",
    "query",
];

/// Warnings for DataStax keys this version accepts without acting on them.
pub fn inert_warnings(s: &Settings) -> Vec<String> {
    const INERT: &[&str] =
        &["connectionPoolLocalSize", "compression", "jmx", "jmxConnectorDomain", "metricsHighestLatency"];
    s.0.keys()
        .filter(|k| INERT.contains(&k.as_str()) || (k.starts_with("topic.") && k.contains(".codec.")))
        .map(|k| format!("setting '{k}' has no effect in this version"))
        .collect()
}

/// Whether the settings use this dialect.
pub fn is_used(s: &Settings) -> bool {
    s.0.keys().any(|k| k.starts_with("topic.") || k == "contactPoints" || k == "loadBalancing.localDc")
}

/// Compiles every `topic.<t>.<ks>.<table>.*` group into a mapping. Every topic needs at least one.
pub fn mappings(s: &Settings, topics: &[String]) -> Result<Vec<TableMapping>, ConfigError> {
    let mut out = Vec::new();
    for topic in topics {
        let prefix = format!("topic.{topic}.");
        let mut tables: BTreeMap<(String, String), BTreeMap<String, (String, String)>> = BTreeMap::new();
        for (key, value) in s.0.iter().filter(|(k, _)| k.starts_with(&prefix)) {
            let rest = &key[prefix.len()..];
            if rest.starts_with("codec.") {
                continue; // reported by `inert_keys`
            }
            let parts: Vec<&str> = rest.splitn(3, '.').collect();
            let [keyspace, table, option] = parts[..] else {
                return Err(ConfigError::invalid(key.as_str(), "expected topic.<topic>.<keyspace>.<table>.<option>"));
            };
            if !TABLE_OPTIONS.contains(&option) {
                return Err(ConfigError::invalid(
                    key.as_str(),
                    format!("unknown table option '{option}' (known: {})", TABLE_OPTIONS.join(", ")),
                ));
            }
            tables
                .entry((keyspace.to_string(), table.to_string()))
                .or_default()
                .insert(option.to_string(), (key.clone(), value.clone()));
        }
        if tables.is_empty() {
            return Err(ConfigError::missing(
                format!("topic.{topic}.<keyspace>.<table>.mapping"),
                format!("topic '{topic}' is in 'topics' but has no mapping"),
            ));
        }
        for ((keyspace, table), options) in tables {
            out.push(table_mapping(topic, &keyspace, &table, &options)?);
        }
    }
    Ok(out)
}

fn table_mapping(
    topic: &str,
    keyspace: &str,
    table: &str,
    options: &BTreeMap<String, (String, String)>,
) -> Result<TableMapping, ConfigError> {
    let key_of = |option: &str| format!("topic.{topic}.{keyspace}.{table}.{option}");
    let get = |option: &str| options.get(option).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
    let mapping_key = key_of("mapping");
    let mapping =
        get("mapping").ok_or_else(|| ConfigError::missing(&mapping_key, "col=value.field, … for this table"))?;
    let entries = parse_mapping(mapping).map_err(|e| ConfigError::invalid(&mapping_key, e))?;
    let ttl_unit = get("ttlTimeUnit")
        .map(|v| TimeUnit::parse(&key_of("ttlTimeUnit"), v))
        .transpose()?
        .unwrap_or(TimeUnit::Seconds);
    let ts_unit = get("timestampTimeUnit")
        .map(|v| TimeUnit::parse(&key_of("timestampTimeUnit"), v))
        .transpose()?
        .unwrap_or(TimeUnit::Microseconds);
    let (mut columns, mut ttl_source, mut timestamp_source) = (Vec::new(), None, None);
    for (column, source) in entries {
        match column.as_str() {
            "__ttl" => ttl_source = Some((source, ttl_unit)),
            "__timestamp" => timestamp_source = Some((source, ts_unit)),
            _ => columns.push(ColumnSpec::Column { column, source }),
        }
    }
    let bool_of = |option: &str, default: bool| -> Result<bool, ConfigError> {
        match get(option).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(ConfigError::invalid(key_of(option), format!("'{v}' is not a boolean (true or false)"))),
        }
    };
    let ttl_seconds = match get("ttl") {
        None => None,
        Some(v) => {
            let n: i64 = v
                .parse()
                .map_err(|_| ConfigError::invalid(key_of("ttl"), format!("'{v}' is not a whole number of seconds")))?;
            if n < -1 {
                return Err(ConfigError::invalid(key_of("ttl"), "must be -1 (disabled) or a number of seconds"));
            }
            u32::try_from(n).ok().filter(|n| *n > 0)
        }
    };
    let query = get("query").map(str::to_string);
    let deletes_enabled = bool_of("deletesEnabled", true)?;
    if query.is_some() && get("deletesEnabled").is_some() && deletes_enabled {
        return Err(ConfigError::invalid(
            key_of("deletesEnabled"),
            "you cannot provide both a custom query and deletesEnabled=true; set deletesEnabled=false",
        ));
    }
    Ok(TableMapping {
        topic: topic.to_string(),
        keyspace: keyspace.to_string(),
        table: table.to_string(),
        columns,
        ttl_seconds,
        ttl_source,
        timestamp_source,
        consistency: Some(
            get("consistencyLevel")
                .map(|v| parse_consistency(&key_of("consistencyLevel"), v))
                .transpose()?
                .unwrap_or(scylla::frame::types::Consistency::LocalOne),
        ),
        null_to_unset: bool_of("nullToUnset", true)?,
        deletes: if deletes_enabled && query.is_none() { Deletes::Row } else { Deletes::Disabled },
        query,
    })
}

/// Parses `col=expr, "Quoted Col"=expr, …` into (column, source) pairs. Unquoted column names are
/// lower-cased, as CQL does; double-quoted ones keep their case.
pub fn parse_mapping(mapping: &str) -> Result<Vec<(String, Source)>, String> {
    let mut out: Vec<(String, Source)> = Vec::new();
    for entry in split_top_level(mapping) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (column, expr) =
            entry.split_once('=').ok_or_else(|| format!("'{entry}' is not of the form column=field"))?;
        let column = column.trim();
        let column = match column.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => column.to_ascii_lowercase(),
        };
        if column.is_empty() {
            return Err(format!("'{entry}' has no column name"));
        }
        if out.iter().any(|(c, _)| *c == column) {
            return Err(format!("column '{column}' is mapped twice"));
        }
        let source = Source::parse(expr)?;
        out.push((column, source));
    }
    if out.is_empty() {
        return Err("the mapping is empty".into());
    }
    Ok(out)
}

/// Splits on commas outside double quotes and backquotes.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quote) = (Vec::new(), 0, None);
    for (i, c) in s.char_indices() {
        match (c, quote) {
            ('"' | '`', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            (',', None) => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_pairs(pairs)
    }

    #[test]
    fn inert_keys_are_reported() {
        let w = inert_warnings(&settings(&[("jmx", "true"), ("topic.t.codec.timeZone", "UTC"), ("port", "1")]));
        assert_eq!(
            w,
            vec![
                "setting 'jmx' has no effect in this version",
                "setting 'topic.t.codec.timeZone' has no effect in this version"
            ]
        );
    }

    #[test]
    fn mapping_syntax() {
        let m = parse_mapping(r#"id=key, Name=value.name, "Mixed Case"=value.a.b, h=header.trace, u=now()"#).unwrap();
        assert_eq!(m[0], ("id".into(), Source::Key(vec![])));
        assert_eq!(m[1], ("name".into(), Source::Value(vec!["name".into()])));
        assert_eq!(m[2], ("Mixed Case".into(), Source::Value(vec!["a".into(), "b".into()])));
        assert_eq!(m[3], ("h".into(), Source::Header("trace".into())));
        assert_eq!(m[4], ("u".into(), Source::Now));
        assert!(parse_mapping("a=value.x, a=value.y").unwrap_err().contains("mapped twice"));
        assert!(parse_mapping("a").unwrap_err().contains("column=field"));
        assert!(parse_mapping("a=foo.bar").unwrap_err().contains("invalid field"));
        assert!(parse_mapping(" ").unwrap_err().contains("empty"));
    }

    #[test]
    fn tables_with_options() {
        let s = settings(&[
            (
                "topic.orders.shop.orders_by_id.mapping",
                "id=value.id, total=value.total, __ttl=value.ttl, __timestamp=value.ts",
            ),
            ("topic.orders.shop.orders_by_id.ttlTimeUnit", "MILLISECONDS"),
            ("topic.orders.shop.orders_by_id.timestampTimeUnit", "MILLISECONDS"),
            ("topic.orders.shop.orders_by_id.consistencyLevel", "QUORUM"),
            ("topic.orders.shop.orders_by_id.ttl", "3600"),
            ("topic.orders.shop.orders_by_customer.mapping", "customer=value.customer, id=value.id"),
            ("topic.orders.shop.orders_by_customer.deletesEnabled", "false"),
            ("topic.orders.codec.timeZone", "UTC"),
        ]);
        let m = mappings(&s, &["orders".into()]).unwrap();
        assert_eq!(m.len(), 2);
        let by_id = m.iter().find(|t| t.table == "orders_by_id").unwrap();
        assert_eq!(by_id.ttl_seconds, Some(3600));
        assert_eq!(by_id.ttl_source, Some((Source::Value(vec!["ttl".into()]), TimeUnit::Milliseconds)));
        assert_eq!(by_id.timestamp_source, Some((Source::Value(vec!["ts".into()]), TimeUnit::Milliseconds)));
        assert_eq!(by_id.consistency, Some(scylla::frame::types::Consistency::Quorum));
        assert_eq!(by_id.deletes, Deletes::Row);
        assert_eq!(by_id.columns.len(), 2);
        let by_customer = m.iter().find(|t| t.table == "orders_by_customer").unwrap();
        assert_eq!(by_customer.deletes, Deletes::Disabled);
        assert_eq!(by_customer.consistency, Some(scylla::frame::types::Consistency::LocalOne));
    }

    #[test]
    fn errors_name_the_key() {
        for (pairs, needle) in [
            (vec![], "topic.orders.<keyspace>.<table>.mapping"),
            (vec![("topic.orders.ks.t.ttl", "5")], "topic.orders.ks.t.mapping"),
            (
                vec![("topic.orders.ks.t.mapping", "a=value.a"), ("topic.orders.ks.t.colour", "red")],
                "unknown table option 'colour'",
            ),
            (vec![("topic.orders.ks.mapping", "a=value.a")], "topic.<topic>.<keyspace>.<table>.<option>"),
            (
                vec![("topic.orders.ks.t.mapping", "a=value.a"), ("topic.orders.ks.t.ttl", "soon")],
                "topic.orders.ks.t.ttl",
            ),
            (
                vec![("topic.orders.ks.t.mapping", "a=value.a"), ("topic.orders.ks.t.nullToUnset", "maybe")],
                "nullToUnset",
            ),
            (
                vec![
                    ("topic.orders.ks.t.mapping", "a=value.a"),
                    ("topic.orders.ks.t.query", "INSERT"),
                    ("topic.orders.ks.t.deletesEnabled", "true"),
                ],
                "both a custom query",
            ),
        ] {
            let err = mappings(&settings(&pairs), &["orders".into()]).unwrap_err().to_string();
            assert!(err.contains(needle), "{pairs:?}: {err}");
        }
    }
}
