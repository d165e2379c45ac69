//! JSON values → CQL values, driven by the column's CQL type (from the prepared statement).
//!
//! Accepts what Connect's JSON converter and common producers emit: numbers or numeric strings for
//! numeric columns, epoch milliseconds or ISO-8601 text for timestamps, base64 for blobs, arrays for
//! lists/sets/tuples/vectors, objects for maps and UDTs. Anything else is a per-record error that names
//! the expected type, never a panic.

use std::net::IpAddr;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveTime, Timelike};
use scylla::frame::response::result::{CollectionType, ColumnType, NativeType};
use scylla::value::{CqlDate, CqlDecimal, CqlDuration, CqlTime, CqlTimestamp, CqlTimeuuid, CqlValue, CqlVarint};
use serde_json::Value;

/// Converts a non-null JSON value to a CQL value of type `typ`.
pub fn json_to_cql(value: &Value, typ: &ColumnType<'_>) -> Result<CqlValue, String> {
    match typ {
        ColumnType::Native(native) => native_value(value, native),
        ColumnType::Collection { typ: CollectionType::List(elem), .. } => {
            Ok(CqlValue::List(elements(value, elem, "list")?))
        }
        ColumnType::Collection { typ: CollectionType::Set(elem), .. } => {
            Ok(CqlValue::Set(elements(value, elem, "set")?))
        }
        ColumnType::Collection { typ: CollectionType::Map(k, v), .. } => map_value(value, k, v),
        ColumnType::Vector { typ: elem, dimensions } => {
            let items = elements(value, elem, "vector")?;
            if items.len() != usize::from(*dimensions) {
                return Err(format!("expected a vector of {dimensions} elements, got {}", items.len()));
            }
            Ok(CqlValue::Vector(items))
        }
        ColumnType::Tuple(types) => {
            let Value::Array(items) = value else { return Err(expected("a JSON array for a tuple", value)) };
            if items.len() != types.len() {
                return Err(format!("expected a tuple of {} elements, got {}", types.len(), items.len()));
            }
            let fields = items.iter().zip(types).map(|(item, t)| nullable(item, t)).collect::<Result<_, _>>()?;
            Ok(CqlValue::Tuple(fields))
        }
        ColumnType::UserDefinedType { definition, .. } => {
            let Value::Object(object) = value else { return Err(expected("a JSON object for a UDT", value)) };
            if let Some(unknown) = object.keys().find(|k| !definition.field_types.iter().any(|(n, _)| n == k.as_str()))
            {
                return Err(format!("field '{unknown}' is not in type {}.{}", definition.keyspace, definition.name));
            }
            let fields = definition
                .field_types
                .iter()
                .map(|(name, t)| {
                    let v = object.get(name.as_ref()).map(|v| nullable(v, t)).transpose()?.flatten();
                    Ok((name.to_string(), v))
                })
                .collect::<Result<_, String>>()?;
            Ok(CqlValue::UserDefinedType {
                keyspace: definition.keyspace.to_string(),
                name: definition.name.to_string(),
                fields,
            })
        }
        other => Err(format!("column type {other:?} is not supported")),
    }
}

/// JSON null → `None`, anything else converted.
fn nullable(value: &Value, typ: &ColumnType<'_>) -> Result<Option<CqlValue>, String> {
    if value.is_null() { Ok(None) } else { json_to_cql(value, typ).map(Some) }
}

fn elements(value: &Value, elem: &ColumnType<'_>, what: &str) -> Result<Vec<CqlValue>, String> {
    let Value::Array(items) = value else { return Err(expected(&format!("a JSON array for a {what}"), value)) };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            if item.is_null() {
                return Err(format!("element {i}: a {what} cannot hold null"));
            }
            json_to_cql(item, elem).map_err(|e| format!("element {i}: {e}"))
        })
        .collect()
}

fn map_value(value: &Value, k: &ColumnType<'_>, v: &ColumnType<'_>) -> Result<CqlValue, String> {
    let pairs: Vec<(Value, &Value)> = match value {
        // JSON object keys are strings; a numeric key type parses them.
        Value::Object(object) => object.iter().map(|(key, val)| (Value::String(key.clone()), val)).collect(),
        // [[k, v], …] keeps non-string keys typed.
        Value::Array(items) => items
            .iter()
            .map(|item| match item.as_array().map(Vec::as_slice) {
                Some([key, val]) => Ok((key.clone(), val)),
                _ => Err(expected("a [key, value] pair", item)),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(expected("a JSON object for a map", value)),
    };
    let entries = pairs
        .into_iter()
        .map(|(key, val)| {
            let ck = json_to_cql(&key, k).map_err(|e| format!("map key {key}: {e}"))?;
            if val.is_null() {
                return Err(format!("map value for key {key} is null"));
            }
            let cv = json_to_cql(val, v).map_err(|e| format!("map value for key {key}: {e}"))?;
            Ok((ck, cv))
        })
        .collect::<Result<_, String>>()?;
    Ok(CqlValue::Map(entries))
}

fn native_value(value: &Value, typ: &NativeType) -> Result<CqlValue, String> {
    Ok(match typ {
        NativeType::Text => CqlValue::Text(text(value)),
        NativeType::Ascii => {
            let s = text(value);
            if !s.is_ascii() {
                return Err(format!("'{s}' is not ASCII"));
            }
            CqlValue::Ascii(s)
        }
        NativeType::Boolean => CqlValue::Boolean(match value {
            Value::Bool(b) => *b,
            Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            Value::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => return Err(expected("a boolean", value)),
        }),
        NativeType::TinyInt => CqlValue::TinyInt(narrow(integer(value)?, "tinyint")?),
        NativeType::SmallInt => CqlValue::SmallInt(narrow(integer(value)?, "smallint")?),
        NativeType::Int => CqlValue::Int(narrow(integer(value)?, "int")?),
        NativeType::BigInt => CqlValue::BigInt(narrow(integer(value)?, "bigint")?),
        NativeType::Counter => {
            return Err("counter columns are updated, not inserted; map them with a custom query".into());
        }
        NativeType::Float => CqlValue::Float(float(value)? as f32),
        NativeType::Double => CqlValue::Double(float(value)?),
        NativeType::Varint => CqlValue::Varint(CqlVarint::from_signed_bytes_be(twos_complement(integer(value)?))),
        NativeType::Decimal => {
            let (unscaled, scale) = decimal(value)?;
            CqlValue::Decimal(CqlDecimal::from_signed_be_bytes_and_exponent(twos_complement(unscaled), scale))
        }
        NativeType::Timestamp => CqlValue::Timestamp(CqlTimestamp(timestamp_ms(value)?)),
        NativeType::Date => CqlValue::Date(date(value)?),
        NativeType::Time => CqlValue::Time(time(value)?),
        NativeType::Uuid => CqlValue::Uuid(uuid(value)?),
        NativeType::Timeuuid => {
            let u = uuid(value)?;
            if u.get_version_num() != 1 {
                return Err(format!("{u} is not a time-based (version 1) UUID"));
            }
            CqlValue::Timeuuid(CqlTimeuuid::from(u))
        }
        NativeType::Inet => {
            let s = value.as_str().ok_or_else(|| expected("an IP address string", value))?;
            CqlValue::Inet(s.parse::<IpAddr>().map_err(|e| format!("'{s}' is not an IP address: {e}"))?)
        }
        NativeType::Blob => {
            let s = value.as_str().ok_or_else(|| expected("base64 text for a blob", value))?;
            CqlValue::Blob(
                base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("blob is not base64: {e}"))?,
            )
        }
        NativeType::Duration => CqlValue::Duration(duration(value)?),
        other => return Err(format!("CQL type {other:?} is not supported")),
    })
}

fn expected(what: &str, got: &Value) -> String {
    let shown = got.to_string();
    let shown = if shown.len() > 80 { format!("{}…", &shown[..shown.floor_char_boundary(80)]) } else { shown };
    format!("expected {what}, got {shown}")
}

/// Text columns take strings as they are and any other JSON as its JSON text.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn integer(value: &Value) -> Result<i128, String> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Ok(i128::from(u))
            } else {
                n.to_string().parse::<i128>().map_err(|_| expected("an integer", value))
            }
        }
        Value::String(s) => s.trim().parse::<i128>().map_err(|_| expected("an integer", value)),
        _ => Err(expected("an integer", value)),
    }
}

fn narrow<T: TryFrom<i128>>(v: i128, type_name: &str) -> Result<T, String> {
    T::try_from(v).map_err(|_| format!("{v} is out of range for {type_name}"))
}

fn float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| expected("a number", value)),
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| expected("a number", value)),
        _ => Err(expected("a number", value)),
    }
}

/// Minimal big-endian two's complement bytes of `v`.
fn twos_complement(v: i128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// A decimal from a JSON number or numeric string: (unscaled value, scale). Up to 38 digits.
fn decimal(value: &Value) -> Result<(i128, i32), String> {
    let s = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(expected("a decimal number", value)),
    };
    let bad = || format!("'{s}' is not a decimal number (at most 38 digits)");
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (s.as_str(), 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int_part}{frac_part}");
    let unscaled: i128 = digits.parse().map_err(|_| bad())?;
    let scale = i32::try_from(frac_part.len()).map_err(|_| bad())? - exponent;
    Ok((unscaled, scale))
}

fn timestamp_ms(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(_) => narrow(integer(value)?, "timestamp"),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(ms) = s.parse::<i64>() {
                return Ok(ms);
            }
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_millis())
                .or_else(|_| {
                    // ISO-8601 without an offset is read as UTC (Connect's and Cassandra's habit).
                    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                        .map(|t| t.and_utc().timestamp_millis())
                })
                .map_err(|_| format!("'{s}' is not epoch milliseconds or an ISO-8601 timestamp"))
        }
        _ => Err(expected("epoch milliseconds or an ISO-8601 timestamp", value)),
    }
}

fn date(value: &Value) -> Result<CqlDate, String> {
    const EPOCH_OFFSET: i64 = 1 << 31;
    let days = match value {
        Value::Number(_) => narrow::<i64>(integer(value)?, "date")?,
        Value::String(s) => {
            let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| format!("'{s}' is not a date (YYYY-MM-DD)"))?;
            d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid epoch")).num_days()
        }
        _ => return Err(expected("a date (YYYY-MM-DD or days since the epoch)", value)),
    };
    u32::try_from(days + EPOCH_OFFSET)
        .map(CqlDate)
        .map_err(|_| format!("date {days} days from the epoch is out of range"))
}

fn time(value: &Value) -> Result<CqlTime, String> {
    match value {
        Value::Number(_) => Ok(CqlTime(narrow(integer(value)?, "time")?)),
        Value::String(s) => {
            let t = NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f")
                .map_err(|_| format!("'{s}' is not a time (HH:MM:SS[.fff])"))?;
            Ok(CqlTime(i64::from(t.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(t.nanosecond())))
        }
        _ => Err(expected("a time (HH:MM:SS[.fff] or nanoseconds since midnight)", value)),
    }
}

fn uuid(value: &Value) -> Result<uuid::Uuid, String> {
    let s = value.as_str().ok_or_else(|| expected("a UUID string", value))?;
    uuid::Uuid::parse_str(s.trim()).map_err(|e| format!("'{s}' is not a UUID: {e}"))
}

/// CQL's duration literal: `1y2mo3w4d5h6m7s8ms9us10ns` (any subset, in that order, optional leading `-`).
fn duration(value: &Value) -> Result<CqlDuration, String> {
    let s = value.as_str().ok_or_else(|| expected("a duration such as \"1h30m\"", value))?.trim();
    let bad = || format!("'{s}' is not a duration such as 1d12h30m");
    let (negative, body) = s.strip_prefix('-').map_or((false, s), |rest| (true, rest));
    if body.is_empty() {
        return Err(bad());
    }
    let (mut months, mut days, mut nanos) = (0i64, 0i64, 0i64);
    let mut rest = body;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        match unit.to_ascii_lowercase().as_str() {
            "y" => months += n * 12,
            "mo" => months += n,
            "w" => days += n * 7,
            "d" => days += n,
            "h" => nanos += n * 3_600_000_000_000,
            "m" => nanos += n * 60_000_000_000,
            "s" => nanos += n * 1_000_000_000,
            "ms" => nanos += n * 1_000_000,
            "us" | "µs" => nanos += n * 1_000,
            "ns" => nanos += n,
            _ => return Err(bad()),
        }
    }
    let sign = if negative { -1 } else { 1 };
    Ok(CqlDuration {
        months: narrow(i128::from(sign * months), "duration months")?,
        days: narrow(i128::from(sign * days), "duration days")?,
        nanoseconds: sign * nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn native(t: NativeType) -> ColumnType<'static> {
        ColumnType::Native(t)
    }

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(json_to_cql(&json!(7), &native(NativeType::Int)).unwrap(), CqlValue::Int(7));
        assert_eq!(json_to_cql(&json!("7"), &native(NativeType::BigInt)).unwrap(), CqlValue::BigInt(7));
        assert!(json_to_cql(&json!(300), &native(NativeType::TinyInt)).unwrap_err().contains("out of range"));
        assert!(json_to_cql(&json!(1.5), &native(NativeType::Int)).unwrap_err().contains("an integer"));
        assert_eq!(json_to_cql(&json!(21.5), &native(NativeType::Double)).unwrap(), CqlValue::Double(21.5));
        assert!(json_to_cql(&json!(true), &native(NativeType::Float)).unwrap_err().contains("a number"));
    }

    #[test]
    fn decimals_and_varints() {
        assert_eq!(decimal(&json!("12.345")).unwrap(), (12345, 3));
        assert_eq!(decimal(&json!("1.5e3")).unwrap(), (15, -2));
        assert_eq!(decimal(&json!(2.25)).unwrap(), (225, 2));
        assert_eq!(decimal(&json!("-0.01")).unwrap(), (-1, 2));
        assert!(decimal(&json!("abc")).is_err());
        assert_eq!(twos_complement(0), vec![0]);
        assert_eq!(twos_complement(127), vec![0x7f]);
        assert_eq!(twos_complement(128), vec![0x00, 0x80]);
        assert_eq!(twos_complement(-1), vec![0xff]);
        assert_eq!(twos_complement(-129), vec![0xff, 0x7f]);
    }

    #[test]
    fn times_dates_and_ids() {
        let ts = native(NativeType::Timestamp);
        assert_eq!(
            json_to_cql(&json!(1700000000123i64), &ts).unwrap(),
            CqlValue::Timestamp(CqlTimestamp(1700000000123))
        );
        assert_eq!(
            json_to_cql(&json!("2023-11-14T22:13:20.123Z"), &ts).unwrap(),
            CqlValue::Timestamp(CqlTimestamp(1700000000123))
        );
        assert_eq!(
            json_to_cql(&json!("2023-11-14 22:13:20.123"), &ts).unwrap(),
            CqlValue::Timestamp(CqlTimestamp(1700000000123))
        );
        assert!(json_to_cql(&json!("yesterday"), &ts).unwrap_err().contains("ISO-8601"));
        assert_eq!(
            json_to_cql(&json!("1970-01-02"), &native(NativeType::Date)).unwrap(),
            CqlValue::Date(CqlDate((1 << 31) + 1))
        );
        assert_eq!(
            json_to_cql(&json!("00:00:01.5"), &native(NativeType::Time)).unwrap(),
            CqlValue::Time(CqlTime(1_500_000_000))
        );
        let u = "8a3c8e4e-3f0e-4a5c-9d3c-2b7f8f1e0a11";
        assert!(matches!(json_to_cql(&json!(u), &native(NativeType::Uuid)).unwrap(), CqlValue::Uuid(_)));
        assert!(json_to_cql(&json!(u), &native(NativeType::Timeuuid)).unwrap_err().contains("version 1"));
        assert!(json_to_cql(&json!("10.0.0.300"), &native(NativeType::Inet)).is_err());
        assert_eq!(json_to_cql(&json!("AQI="), &native(NativeType::Blob)).unwrap(), CqlValue::Blob(vec![1, 2]));
        assert_eq!(
            json_to_cql(&json!("1d2h"), &native(NativeType::Duration)).unwrap(),
            CqlValue::Duration(CqlDuration { months: 0, days: 1, nanoseconds: 7_200_000_000_000 })
        );
        assert!(json_to_cql(&json!("2 days"), &native(NativeType::Duration)).is_err());
    }

    #[test]
    fn collections_tuples_and_udts() {
        let list =
            ColumnType::Collection { frozen: false, typ: CollectionType::List(Box::new(native(NativeType::Int))) };
        assert_eq!(
            json_to_cql(&json!([1, 2]), &list).unwrap(),
            CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)])
        );
        assert!(json_to_cql(&json!([1, "x"]), &list).unwrap_err().contains("element 1"));
        let map = ColumnType::Collection {
            frozen: false,
            typ: CollectionType::Map(Box::new(native(NativeType::Int)), Box::new(native(NativeType::Text))),
        };
        assert_eq!(
            json_to_cql(&json!({"1": "a"}), &map).unwrap(),
            CqlValue::Map(vec![(CqlValue::Int(1), CqlValue::Text("a".into()))])
        );
        let tuple = ColumnType::Tuple(vec![native(NativeType::Int), native(NativeType::Text)]);
        assert_eq!(
            json_to_cql(&json!([1, null]), &tuple).unwrap(),
            CqlValue::Tuple(vec![Some(CqlValue::Int(1)), None])
        );
        let udt = ColumnType::UserDefinedType {
            frozen: true,
            definition: Arc::new(scylla::frame::response::result::UserDefinedType {
                name: "addr".into(),
                keyspace: "ks".into(),
                field_types: vec![("city".into(), native(NativeType::Text))],
            }),
        };
        assert!(matches!(json_to_cql(&json!({"city": "Oslo"}), &udt).unwrap(), CqlValue::UserDefinedType { .. }));
        assert!(json_to_cql(&json!({"town": "Oslo"}), &udt).unwrap_err().contains("'town'"));
    }

    #[test]
    fn text_takes_any_json() {
        assert_eq!(
            json_to_cql(&json!({"a": 1}), &native(NativeType::Text)).unwrap(),
            CqlValue::Text("{\"a\":1}".into())
        );
        assert!(json_to_cql(&json!("ø"), &native(NativeType::Ascii)).unwrap_err().contains("ASCII"));
    }
}
