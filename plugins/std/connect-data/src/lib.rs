//! Kafka Connect's data model over the SDK's [`Value`]: a JSON value read against a Connect schema
//! (`{"type": "int32", "optional": …, "name": logical, "fields" | "items" | "keys"/"values"}`)
//! becomes a typed value, and back. JsonConverter and AvroConverter share it.

use spillway_plugin_sdk::Value;

/// Connect's logical type names.
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// Days since the epoch, on an int32.
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
/// Milliseconds since midnight, on an int32.
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
/// Milliseconds since the epoch, on an int64.
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

/// A schema's `type`.
pub fn schema_type(schema: &Value) -> &str {
    schema.get("type").and_then(Value::as_str).unwrap_or("")
}

/// A schema's logical `name`.
pub fn schema_name(schema: &Value) -> Option<&str> {
    schema.get("name").and_then(Value::as_str)
}

fn optional(schema: &Value) -> bool {
    schema.get("optional").and_then(Value::as_bool).unwrap_or(false)
}

fn decimal_scale(schema: &Value) -> i32 {
    schema
        .get("parameters")
        .and_then(|p| p.get("scale"))
        .and_then(|s| match s {
            Value::Text(t) => t.parse().ok(),
            other => other.as_i64(),
        })
        .unwrap_or(0) as i32
}

/// Reads a JSON value (as `Value::from_json` parses it) against `schema` into a typed value.
/// `path` names the place in errors.
pub fn from_json(value: Value, schema: &Value, path: &str) -> Result<Value, String> {
    from_json_at(value, schema, path, 0)
}

fn from_json_at(value: Value, schema: &Value, path: &str, depth: usize) -> Result<Value, String> {
    if depth > 64 {
        return Err(format!("{path}: nested deeper than 64 levels"));
    }
    let typ = schema_type(schema);
    let at = |p: &str| if p.is_empty() { "the value".to_string() } else { format!("field '{p}'") };
    if value.is_null() {
        if let Some(default) = schema.get("default").filter(|d| !d.is_null()) {
            return from_json_at(default.clone(), &without_default(schema), path, depth + 1);
        }
        if optional(schema) {
            return Ok(Value::Null);
        }
        return Err(format!("{} is null but its schema ({typ}) is not optional", at(path)));
    }
    let wrong = |v: &Value| format!("{}: expected {typ}, found {}", at(path), v.kind());
    let int = |v: &Value, min: i64, max: i64| -> Result<i64, String> {
        let n = match v {
            Value::Int64(n) => *n,
            Value::Float64(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => *f as i64,
            other => return Err(wrong(other)),
        };
        if n < min || n > max {
            return Err(format!("{}: {n} does not fit in {typ}", at(path)));
        }
        Ok(n)
    };
    Ok(match (typ, schema_name(schema)) {
        ("int8", _) => Value::Int8(int(&value, i8::MIN.into(), i8::MAX.into())? as i8),
        ("int16", _) => Value::Int16(int(&value, i16::MIN.into(), i16::MAX.into())? as i16),
        ("int32", Some(DATE)) => Value::Date(int(&value, i32::MIN.into(), i32::MAX.into())? as i32),
        ("int32", Some(TIME)) => Value::Time(int(&value, 0, 86_400_000)? * 1_000_000),
        ("int32", _) => Value::Int32(int(&value, i32::MIN.into(), i32::MAX.into())? as i32),
        ("int64", Some(TIMESTAMP)) => Value::Timestamp(int(&value, i64::MIN, i64::MAX)?),
        ("int64", _) => Value::Int64(int(&value, i64::MIN, i64::MAX)?),
        ("float32", _) => Value::Float32(value.as_f64().ok_or_else(|| wrong(&value))? as f32),
        ("float64", _) => Value::Float64(value.as_f64().ok_or_else(|| wrong(&value))?),
        ("boolean", _) => Value::Bool(value.as_bool().ok_or_else(|| wrong(&value))?),
        ("string", _) => match value {
            Value::Text(s) => Value::Text(s),
            other => return Err(wrong(&other)),
        },
        ("bytes", Some(DECIMAL)) => {
            let scale = decimal_scale(schema);
            match value {
                Value::Text(s) => {
                    Value::Decimal { unscaled: unbase64(&s).map_err(|e| format!("{}: {e}", at(path)))?, scale }
                }
                Value::Int64(_) | Value::Float64(_) => Value::Decimal { unscaled: unscaled_of(&value, scale), scale },
                other => return Err(wrong(&other)),
            }
        }
        ("bytes", _) => match value {
            Value::Text(s) => Value::Bytes(unbase64(&s).map_err(|e| format!("{}: {e}", at(path)))?),
            other => return Err(wrong(&other)),
        },
        ("array", _) => {
            let items = schema.get("items").ok_or_else(|| format!("{}: array schema without items", at(path)))?;
            match value {
                Value::List(list) => Value::List(
                    list.into_iter()
                        .enumerate()
                        .map(|(i, v)| from_json_at(v, items, &format!("{path}[{i}]"), depth + 1))
                        .collect::<Result<_, _>>()?,
                ),
                other => return Err(wrong(&other)),
            }
        }
        ("map", _) => {
            let keys = schema.get("keys").ok_or_else(|| format!("{}: map schema without keys", at(path)))?;
            let values = schema.get("values").ok_or_else(|| format!("{}: map schema without values", at(path)))?;
            match value {
                // String keys: a JSON object.
                Value::Struct(fields) => Value::Map(
                    fields
                        .into_iter()
                        .map(|(k, v)| {
                            let child = format!("{path}.{k}");
                            Ok((
                                from_json_at(Value::Text(k), keys, &child, depth + 1)?,
                                from_json_at(v, values, &child, depth + 1)?,
                            ))
                        })
                        .collect::<Result<_, String>>()?,
                ),
                // Other keys: a list of [key, value] pairs.
                Value::List(pairs) => Value::Map(
                    pairs
                        .into_iter()
                        .map(|pair| match pair {
                            Value::List(kv) if kv.len() == 2 => {
                                let mut kv = kv.into_iter();
                                let (k, v) = (kv.next().unwrap_or_default(), kv.next().unwrap_or_default());
                                Ok((from_json_at(k, keys, path, depth + 1)?, from_json_at(v, values, path, depth + 1)?))
                            }
                            other => Err(format!(
                                "{}: a map entry must be a [key, value] pair, found {}",
                                at(path),
                                other.kind()
                            )),
                        })
                        .collect::<Result<_, String>>()?,
                ),
                other => return Err(wrong(&other)),
            }
        }
        ("struct", _) => {
            let Value::Struct(mut given) = value else { return Err(wrong(&value)) };
            let fields = match schema.get("fields") {
                Some(Value::List(fields)) => fields,
                _ => return Ok(Value::Struct(Vec::new())),
            };
            let mut out = Vec::with_capacity(fields.len());
            for field in fields {
                let name = field.get("field").and_then(Value::as_str).unwrap_or_default();
                let v = match given.iter().position(|(n, _)| n == name) {
                    Some(i) => given.swap_remove(i).1,
                    None => Value::Null,
                };
                let child = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
                out.push((name.to_string(), from_json_at(v, field, &child, depth + 1)?));
            }
            Value::Struct(out)
        }
        ("", _) => return Err(format!("{}: the schema has no type", at(path))),
        (other, _) => return Err(format!("{}: unknown schema type '{other}'", at(path))),
    })
}

fn without_default(schema: &Value) -> Value {
    let mut s = schema.clone();
    s.remove("default");
    s
}

/// A typed value as JSON for JsonConverter: bytes as base64, dates as days, times as
/// milliseconds, timestamps as milliseconds, decimals as base64 of the unscaled bytes (or as a
/// number with `decimal.format=NUMERIC`), maps with non-text keys as `[key, value]` pairs.
pub fn to_json_value(value: &Value, numeric_decimals: bool) -> Value {
    match value {
        Value::Date(d) => Value::Int32(*d),
        Value::Time(nanos) => Value::Int32((nanos / 1_000_000) as i32),
        Value::Timestamp(ms) => Value::Int64(*ms),
        Value::Bytes(b) => Value::Text(spillway_plugin_sdk::base64(b)),
        Value::Decimal { unscaled, scale } if numeric_decimals => decimal_number(unscaled, *scale),
        Value::Decimal { unscaled, .. } => Value::Text(spillway_plugin_sdk::base64(unscaled)),
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
            Value::List(items.iter().map(|v| to_json_value(v, numeric_decimals)).collect())
        }
        Value::Map(pairs) if pairs.iter().all(|(k, _)| matches!(k, Value::Text(_))) => Value::Struct(
            pairs
                .iter()
                .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), to_json_value(v, numeric_decimals)))
                .collect(),
        ),
        Value::Map(pairs) => Value::List(
            pairs
                .iter()
                .map(|(k, v)| Value::List(vec![to_json_value(k, numeric_decimals), to_json_value(v, numeric_decimals)]))
                .collect(),
        ),
        Value::Struct(fields) => {
            Value::Struct(fields.iter().map(|(n, v)| (n.clone(), to_json_value(v, numeric_decimals))).collect())
        }
        other => other.clone(),
    }
}

/// Decodes standard base64 (padding optional).
pub fn unbase64(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return Err(format!("'{text}' is not base64")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// The unscaled two's complement bytes of a JSON number at `scale`.
fn unscaled_of(value: &Value, scale: i32) -> Vec<u8> {
    let n: i128 = match value {
        Value::Int64(i) => i128::from(*i) * 10i128.pow(scale.max(0) as u32),
        Value::Float64(f) => (f * 10f64.powi(scale)).round() as i128,
        _ => 0,
    };
    let bytes = n.to_be_bytes();
    // Minimal two's complement: drop leading bytes that only repeat the sign.
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

fn decimal_number(unscaled: &[u8], scale: i32) -> Value {
    if unscaled.is_empty() || unscaled.len() > 16 {
        return Value::Null;
    }
    let fill = if unscaled[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut bytes = [fill; 16];
    bytes[16 - unscaled.len()..].copy_from_slice(unscaled);
    let n = i128::from_be_bytes(bytes);
    if scale == 0 && i64::try_from(n).is_ok() {
        return Value::Int64(n as i64);
    }
    Value::Float64(n as f64 / 10f64.powi(scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        Value::from_json(text.as_bytes()).unwrap()
    }

    #[test]
    fn values_are_typed_by_their_schema() {
        let schema = json(
            r#"{"type":"struct","fields":[
                {"field":"i","type":"int32"},
                {"field":"d","type":"int32","name":"org.apache.kafka.connect.data.Date"},
                {"field":"ts","type":"int64","name":"org.apache.kafka.connect.data.Timestamp"},
                {"field":"b","type":"bytes","optional":true},
                {"field":"m","type":"map","keys":{"type":"string"},"values":{"type":"int16"}},
                {"field":"x","type":"string","optional":true,"default":"dflt"},
                {"field":"dec","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}}
            ]}"#,
        );
        let typed = from_json(json(r#"{"i":1,"d":3,"ts":5,"b":"AQI=","m":{"k":7},"dec":12.5}"#), &schema, "").unwrap();
        assert_eq!(typed["i"], Value::Int32(1));
        assert_eq!(typed["d"], Value::Date(3));
        assert_eq!(typed["ts"], Value::Timestamp(5));
        assert_eq!(typed["b"], Value::Bytes(vec![1, 2]));
        assert_eq!(typed["m"], Value::Map(vec![(Value::Text("k".into()), Value::Int16(7))]));
        assert_eq!(typed["x"], Value::Text("dflt".into()));
        assert_eq!(typed["dec"], Value::Decimal { unscaled: vec![0x04, 0xe2], scale: 2 });
        assert_eq!(to_json_value(&typed["dec"], true), Value::Float64(12.5));
        assert_eq!(to_json_value(&typed["b"], false), Value::Text("AQI=".into()));

        let err = from_json(json(r#"{"i":"one"}"#), &schema, "").unwrap_err();
        assert!(err.contains("field 'i': expected int32, found text"), "{err}");
        let err = from_json(json(r#"{"i":1,"d":1}"#), &schema, "").unwrap_err();
        assert!(err.contains("field 'ts' is null"), "{err}");
        let err = from_json(json(r#"{"i":4000000000}"#), &schema, "").unwrap_err();
        assert!(err.contains("does not fit in int32"), "{err}");
    }
}
