//! Kafka Connect's data model over the SDK's [`Value`], shared by the converters and the transforms
//! of `plugins/std/`: reading Connect schemas (in JsonConverter's JSON shape) and values the way
//! Connect's `Schema`, `Struct` and KIP-821's `SingleFieldPath` do (types, logical names, field
//! entries, defaults, `field.syntax.version` paths); a JSON value read against a Connect schema
//! into a typed value, and back (JsonConverter, AvroConverter); decimals and base64.

use spillway_plugin_sdk::{Config, Value};

/// `org.apache.kafka.connect.data.Decimal`.
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// `org.apache.kafka.connect.data.Date` (int32 days).
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
/// `org.apache.kafka.connect.data.Time` (int32 milliseconds since midnight).
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
/// `org.apache.kafka.connect.data.Timestamp` (int64 epoch milliseconds).
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";

/// A schema's type in Connect's own spelling (`int8` … `int64`, `float32`, `float64`, `boolean`,
/// `string`, `bytes`, `array`, `map`, `struct`): JsonConverter's `float` / `double` are read as
/// `float32` / `float64`. Empty when the schema has no type.
pub fn connect_type(schema: &Value) -> &str {
    match schema.get("type").and_then(Value::as_str) {
        Some("float") => "float32",
        Some("double") => "float64",
        Some(t) => t,
        None => "",
    }
}

/// JsonConverter's spelling of a Connect type: `float32` → `float`, `float64` → `double`.
pub fn json_type_name(connect: &str) -> &str {
    match connect {
        "float32" => "float",
        "float64" => "double",
        other => other,
    }
}

/// A schema's (logical) `name`.
pub fn schema_name(schema: &Value) -> Option<&str> {
    schema.get("name").and_then(Value::as_str)
}

/// Whether a schema is `optional`.
pub fn schema_optional(schema: &Value) -> bool {
    schema.get("optional").and_then(Value::as_bool).unwrap_or(false)
}

/// A schema's `default`, when it has a non-null one.
pub fn schema_default(schema: &Value) -> Option<&Value> {
    schema.get("default").filter(|d| !d.is_null())
}

/// The entries of a struct schema's `fields` (each one the field's schema plus `"field": name`).
pub fn schema_entries(schema: &Value) -> &[Value] {
    match schema.get("fields") {
        Some(Value::List(items)) => items,
        _ => &[],
    }
}

/// The entry of struct schema `schema` for field `name`.
pub fn schema_entry<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    schema_entries(schema).iter().find(|f| f.get("field").and_then(Value::as_str) == Some(name))
}

/// The schema of a field entry: the entry without its `field` key.
pub fn entry_schema(entry: &Value) -> Value {
    let mut schema = entry.clone();
    schema.remove("field");
    schema
}

/// A field entry for a struct schema: `schema` with `"field": name` (replacing any other name).
pub fn schema_as_entry(name: &str, schema: &Value) -> Value {
    let mut entry = schema.clone();
    entry.remove("field");
    entry.insert("field", name);
    entry
}

/// The value of the field an `entry` describes, as Connect's `Struct.get` reads it: a null (or
/// missing) value is the field's default when `replace_null_with_default` is set (Connect's
/// `replace.null.with.default`, KIP-1040; `Struct.getWithoutDefault` otherwise).
pub fn field_value(value: &Value, entry: &Value, replace_null_with_default: bool) -> Value {
    let name = entry.get("field").and_then(Value::as_str).unwrap_or_default();
    match value.get(name) {
        Some(v) if !v.is_null() => v.clone(),
        _ if replace_null_with_default => schema_default(entry).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Connect's `ConfigException(name, value, message)` text.
pub fn invalid_config(name: &str, value: &str, message: &str) -> String {
    format!("Invalid value {value} for configuration {name}: {message}")
}

/// Reads `field.syntax.version` (`V1`, the default, or `V2`, case-insensitive): whether paths are
/// KIP-821's dotted V2 paths.
pub fn field_syntax_v2(config: &Config) -> Result<bool, String> {
    let version = config.get_or("field.syntax.version", "V1");
    match version.to_ascii_uppercase().as_str() {
        "V1" => Ok(false),
        "V2" => Ok(true),
        _ => Err(invalid_config("field.syntax.version", version, "String must be one of (case insensitive): V1, V2")),
    }
}

/// The steps of a field path: V1 takes the whole text as one field name; V2 (KIP-821) splits it at
/// dots, with backtick pairs around a name that holds dots (`` `a.b`.c ``) and `` \` `` for a
/// backtick followed by a dot inside such a pair — as Connect's `SingleFieldPath` does.
pub fn field_path(path: &str, v2: bool) -> Result<Vec<String>, String> {
    if !v2 {
        return Ok(vec![path.to_string()]);
    }
    let incomplete = |at: usize| {
        format!(
            "Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick at position {at} to escape it"
        )
    };
    let b = path.as_bytes();
    let mut steps = Vec::new();
    let mut idx = 0;
    while idx < b.len() {
        if b[idx] != b'`' {
            match path[idx..].find('.') {
                Some(dot) => {
                    steps.push(path[idx..idx + dot].to_string());
                    idx += dot + 1;
                }
                None => {
                    steps.push(path[idx..].to_string());
                    idx = b.len();
                }
            }
            continue;
        }
        let backtick_at = idx;
        idx += 1;
        let mut field = String::new();
        let mut start = idx;
        loop {
            let Some(found) = path[idx..].find('`') else { return Err(incomplete(backtick_at)) };
            idx += found;
            let escaped = b[idx - 1] == b'\\';
            if idx >= b.len() - 1 {
                if escaped {
                    return Err(incomplete(backtick_at));
                }
                field.push_str(&path[start..idx]);
                steps.push(field);
                idx += 1;
                break;
            }
            if b[idx + 1] != b'.' {
                idx += 1;
                continue;
            }
            if escaped {
                field.push_str(&path[start..idx - 1]);
                field.push('`');
                idx += 1;
                start = idx;
                continue;
            }
            field.push_str(&path[start..idx]);
            steps.push(field);
            idx += 2;
            break;
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}

/// A float32 value as it should leave in JSON: the shortest decimal that reads back as the same
/// float32 (what Jackson writes for a Java `float`), not the float64 widening of it
/// (`0.1f32` is `0.1`, not `0.10000000149011612`). Typed values keep `Value::Float32`.
pub fn float32_json(f: f32) -> Value {
    Value::Float64(format!("{f}").parse().unwrap_or(f64::from(f)))
}

/// The `scale` parameter of a Decimal schema (0 when missing).
pub fn decimal_scale(schema: &Value) -> i32 {
    match schema.get("parameters").and_then(|p| p.get("scale")) {
        Some(Value::Text(s)) => s.trim().parse().unwrap_or(0),
        Some(v) => v.as_i64().and_then(|i| i32::try_from(i).ok()).unwrap_or(0),
        None => 0,
    }
}

/// Parses Java's `new BigDecimal(text)` syntax (`-12.50`, `1E+3`) into (unscaled, scale); `None`
/// where Java throws `NumberFormatException` (or the unscaled value exceeds 128 bits).
pub fn parse_decimal(text: &str) -> Option<(i128, i32)> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let digits = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let negative = mantissa.starts_with('-');
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut unscaled: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        unscaled = unscaled.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    let exponent: i32 = match exponent {
        None => 0,
        Some(e) => {
            let body = e.strip_prefix(['+', '-']).unwrap_or(e);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            e.strip_prefix('+').unwrap_or(e).parse().ok()?
        }
    };
    let scale = i32::try_from(frac.len()).ok()?.checked_sub(exponent)?;
    Some((if negative { -unscaled } else { unscaled }, scale))
}

/// A Decimal's unscaled value as Connect encodes it: minimal big-endian two's complement.
pub fn decimal_bytes(unscaled: i128) -> Vec<u8> {
    let bytes = unscaled.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// A Decimal's unscaled value from big-endian two's complement bytes (`None` beyond 128 bits).
pub fn decimal_unscaled(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() || bytes.len() > 16 {
        return if bytes.is_empty() { Some(0) } else { None };
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xFF } else { 0 };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(full))
}

/// Decodes standard base64 (with or without padding), as JsonConverter writes bytes.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
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
    let typ = connect_type(schema);
    let at = |p: &str| if p.is_empty() { "the value".to_string() } else { format!("field '{p}'") };
    if value.is_null() {
        if let Some(default) = schema.get("default").filter(|d| !d.is_null()) {
            return from_json_at(default.clone(), &without_default(schema), path, depth + 1);
        }
        if schema_optional(schema) {
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
                Value::Text(s) => Value::Decimal {
                    unscaled: base64_decode(&s).ok_or_else(|| format!("{}: '{s}' is not base64", at(path)))?,
                    scale,
                },
                Value::Int64(_) | Value::Float64(_) => Value::Decimal { unscaled: unscaled_of(&value, scale), scale },
                other => return Err(wrong(&other)),
            }
        }
        ("bytes", _) => match value {
            Value::Text(s) => {
                Value::Bytes(base64_decode(&s).ok_or_else(|| format!("{}: '{s}' is not base64", at(path)))?)
            }
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

/// The unscaled two's complement bytes of a JSON number at `scale`.
fn unscaled_of(value: &Value, scale: i32) -> Vec<u8> {
    let n: i128 = match value {
        Value::Int64(i) => i128::from(*i) * 10i128.pow(scale.max(0) as u32),
        Value::Float64(f) => (f * 10f64.powi(scale)).round() as i128,
        _ => 0,
    };
    decimal_bytes(n)
}

fn decimal_number(unscaled: &[u8], scale: i32) -> Value {
    match decimal_unscaled(unscaled) {
        Some(n) if scale == 0 && i64::try_from(n).is_ok() => Value::Int64(n as i64),
        Some(n) => Value::Float64(n as f64 / 10f64.powi(scale)),
        None => Value::Null,
    }
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

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn v2_paths_split_at_dots_outside_backticks() {
        let p = |s: &str| field_path(s, true).unwrap();
        assert_eq!(p("a"), ["a"]);
        assert_eq!(p("a.b.c"), ["a", "b", "c"]);
        assert_eq!(p("`a.b`.c"), ["a.b", "c"]);
        assert_eq!(p("a.`b.c`"), ["a", "b.c"]);
        assert_eq!(p("`a\\`.b`.c"), ["a`.b", "c"]);
        assert_eq!(p("a."), ["a", ""]);
        assert_eq!(field_path("a.b", false).unwrap(), ["a.b"]);
        assert!(field_path("`a.b", true).unwrap_err().contains("Incomplete backtick pair in path: [`a.b]"));
    }

    #[test]
    fn null_fields_read_their_defaults() {
        let entry = Value::Struct(vec![
            ("type".into(), "int32".into()),
            ("default".into(), Value::Int64(7)),
            ("field".into(), "a".into()),
        ]);
        let v = Value::Struct(vec![("a".into(), Value::Null)]);
        assert_eq!(field_value(&v, &entry, true), Value::Int64(7));
        assert_eq!(field_value(&v, &entry, false), Value::Null);
    }

    #[test]
    fn decimals_parse_like_big_decimal_and_encode_like_connect() {
        assert_eq!(parse_decimal("-12.50"), Some((-1250, 2)));
        assert_eq!(parse_decimal("1E+3"), Some((1, -3)));
        assert_eq!(parse_decimal("+.5"), Some((5, 1)));
        for bad in ["", "-", "1.2.3", "abc", "1e", " 1", "1e+"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        for v in [0i128, 1, -1, 127, 128, -128, -129, 255, 65535, i128::from(i64::MIN)] {
            assert_eq!(decimal_unscaled(&decimal_bytes(v)), Some(v), "{v}");
        }
        assert_eq!(decimal_bytes(128), vec![0, 128]);
        assert_eq!(base64_decode("AA=="), Some(vec![0]));
        assert_eq!(base64_decode("AIA="), Some(vec![0, 128]));
    }
}
