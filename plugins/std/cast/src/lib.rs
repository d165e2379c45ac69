//! Kafka Connect's `Cast$Key` / `Cast$Value`: casts fields of a struct (a JSON object schemaless),
//! or the whole key / value, to `int8`, `int16`, `int32`, `int64`, `float32`, `float64`, `boolean`
//! or `string` (`spec`: `field:type,…`, or one `type` for the whole value). With a schema, the
//! schema is updated (a cast field keeps its optionality; its default is cast too).
//!
//! Conversions are Java's, as Connect performs them: numbers narrow like `Number.byteValue()`
//! (wrapping integers, saturating floats), strings parse like `Integer.parseInt` /
//! `Double.parseDouble` (else "Value (…) was out of range for requested data type"), booleans
//! parse like `Boolean.parseBoolean`, numbers are true when non-zero, and anything casts to a
//! string (`Double.toString`, base64 for bytes, ISO-8601 for Date / Time / Timestamp).
//! Arrays, maps and structs cannot be cast.
//!
//! As in Connect: null (a tombstone) passes unchanged, a null field stays null, and a schemaless
//! field named in `spec` but missing comes out as `null`. One deviation: a whole-value cast of a
//! logical type (Date, Time, Timestamp, Decimal) drops the logical name, where Connect keeps it on
//! the new schema and its converter then refuses the value.

use connect_std::connect_data::{
    DATE, DECIMAL, TIME, TIMESTAMP, base64_decode, connect_type, decimal_scale, decimal_unscaled, field_value,
    float32_json, json_type_name, parse_decimal, schema_default, schema_entries, schema_name, schema_optional,
};
use connect_std::{Form, Side, Subject};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };
const PURPOSE: &str = "cast types";
const DAY_MS: i64 = 86_400_000;

/// Connect's `Schema.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

const ALL: [Type; 12] = [
    Type::Int8,
    Type::Int16,
    Type::Int32,
    Type::Int64,
    Type::Float32,
    Type::Float64,
    Type::Boolean,
    Type::String,
    Type::Bytes,
    Type::Array,
    Type::Map,
    Type::Struct,
];

impl Type {
    fn upper(self) -> &'static str {
        match self {
            Type::Int8 => "INT8",
            Type::Int16 => "INT16",
            Type::Int32 => "INT32",
            Type::Int64 => "INT64",
            Type::Float32 => "FLOAT32",
            Type::Float64 => "FLOAT64",
            Type::Boolean => "BOOLEAN",
            Type::String => "STRING",
            Type::Bytes => "BYTES",
            Type::Array => "ARRAY",
            Type::Map => "MAP",
            Type::Struct => "STRUCT",
        }
    }

    /// `Schema.Type.valueOf(text.trim().toUpperCase())`.
    fn parse(text: &str) -> Option<Type> {
        let upper = text.trim().to_uppercase();
        ALL.into_iter().find(|t| t.upper() == upper)
    }

    /// From a schema's type (`float32` / `float64` in Connect's spelling, see `connect_type`).
    fn of_schema(schema: &Value) -> Option<Type> {
        let t = connect_type(schema);
        ALL.into_iter().find(|x| x.upper().eq_ignore_ascii_case(t))
    }

    fn is_output(self) -> bool {
        !matches!(self, Type::Bytes | Type::Array | Type::Map | Type::Struct)
    }

    fn is_input(self) -> bool {
        !matches!(self, Type::Array | Type::Map | Type::Struct)
    }
}

/// A value as Connect's Cast sees it: its Java class.
#[derive(Debug, Clone, PartialEq)]
enum Java {
    Byte(i8),
    Short(i16),
    Integer(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    /// A `BigDecimal`: unscaled value and scale.
    BigDecimal(i128, i32),
    Boolean(bool),
    Text(String),
    Bytes(Vec<u8>),
    /// A `java.util.Date` (Connect's Date, Time and Timestamp), epoch milliseconds.
    Date(i64),
}

impl Java {
    fn class(&self) -> &'static str {
        match self {
            Java::Byte(_) => "class java.lang.Byte",
            Java::Short(_) => "class java.lang.Short",
            Java::Integer(_) => "class java.lang.Integer",
            Java::Long(_) => "class java.lang.Long",
            Java::Float(_) => "class java.lang.Float",
            Java::Double(_) => "class java.lang.Double",
            Java::BigDecimal(..) => "class java.math.BigDecimal",
            Java::Boolean(_) => "class java.lang.Boolean",
            Java::Text(_) => "class java.lang.String",
            Java::Bytes(_) => "class [B",
            Java::Date(_) => "class java.util.Date",
        }
    }

    /// `Number.longValue()` (for the integral casts, narrowed further by the caller), or `None`
    /// for what is not a `Number`. Floats saturate; a BigDecimal keeps the low bits of its integer part.
    fn long_value(&self) -> Option<i64> {
        Some(match *self {
            Java::Byte(v) => v.into(),
            Java::Short(v) => v.into(),
            Java::Integer(v) => v.into(),
            Java::Long(v) => v,
            Java::Float(v) => v as i64,
            Java::Double(v) => v as i64,
            Java::BigDecimal(unscaled, scale) => big_integer(unscaled, scale) as i64,
            _ => return None,
        })
    }

    /// `Number.intValue()`: floats saturate to int (then `byteValue` / `shortValue` wrap it).
    fn int_value(&self) -> Option<i32> {
        Some(match *self {
            Java::Float(v) => v as i32,
            Java::Double(v) => v as i32,
            _ => self.long_value()? as i32,
        })
    }

    /// `Number.doubleValue()`.
    fn double_value(&self) -> Option<f64> {
        Some(match *self {
            Java::Float(v) => v.into(),
            Java::Double(v) => v,
            Java::BigDecimal(unscaled, scale) => unscaled as f64 / 10f64.powi(scale),
            _ => self.long_value()? as f64,
        })
    }

    /// `Number.floatValue()`.
    fn float_value(&self) -> Option<f32> {
        Some(match *self {
            Java::Float(v) => v,
            Java::Byte(_) | Java::Short(_) | Java::Integer(_) | Java::Long(_) => self.long_value()? as f32,
            _ => self.double_value()? as f32,
        })
    }
}

/// The integer part of a BigDecimal (`toBigInteger()`), low 128 bits.
fn big_integer(unscaled: i128, scale: i32) -> i128 {
    match scale {
        0 => unscaled,
        s if s > 0 => 10i128.checked_pow(s.unsigned_abs()).map_or(0, |p| unscaled / p),
        s => 10i128.checked_pow(s.unsigned_abs()).map_or(0, |p| unscaled.wrapping_mul(p)),
    }
}

fn out_of_range(value: &str) -> Error {
    Error::new(format!("Value ({value}) was out of range for requested data type"))
}

fn unexpected(value: &Java) -> Error {
    Error::new(format!("Unexpected type in Cast transformation: {}", value.class()))
}

/// `Float.parseFloat` / `Double.parseDouble`'s syntax (decimal forms; surrounding whitespace, a
/// trailing `f` / `d`, `NaN` and `Infinity` accepted), cleaned up for Rust's parser.
fn java_float_text(text: &str) -> Option<String> {
    let t = text.trim_matches(|c: char| c <= ' ');
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    match body {
        "NaN" => return Some("NaN".into()),
        "Infinity" => return Some(format!("{sign}inf")),
        _ => {}
    }
    let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    if let Some(e) = exponent {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e.is_empty() || !digits(e) {
            return None;
        }
    }
    Some(format!("{sign}{body}"))
}

/// Java's `Double.toString` / `Float.toString` from the shortest round-trip digits (`{:e}`):
/// plain between 10^-3 and 10^7 (always with a fraction digit), else `d.dddE±n`.
fn java_float_string(sci: &str, negative: bool) -> String {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-3..7).contains(&exp) {
        let (int, frac) = if exp >= 0 {
            let point = exp as usize + 1;
            let padded = format!("{digits:0<point$}");
            (padded[..point].to_string(), padded[point..].to_string())
        } else {
            ("0".to_string(), format!("{}{digits}", "0".repeat((-exp - 1) as usize)))
        };
        format!("{sign}{int}.{}", if frac.is_empty() { "0" } else { &frac })
    } else {
        let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{rest}E{exp}", &digits[..1])
    }
}

fn java_double(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        v if v.is_infinite() => if v > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        v if v == 0.0 => if v.is_sign_negative() { "-0.0" } else { "0.0" }.into(),
        v => java_float_string(&format!("{:e}", v.abs()), v < 0.0),
    }
}

fn java_float(v: f32) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        v if v.is_infinite() => if v > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        v if v == 0.0 => if v.is_sign_negative() { "-0.0" } else { "0.0" }.into(),
        v => java_float_string(&format!("{:e}", v.abs()), v < 0.0),
    }
}

/// `BigDecimal.toString()`: plain unless the scale is negative or the number is tiny.
fn big_decimal_string(unscaled: i128, scale: i32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let adjusted = i64::from(-scale) + digits.len() as i64 - 1;
    if scale >= 0 && adjusted >= -6 {
        let scale = scale as usize;
        if scale == 0 {
            format!("{sign}{digits}")
        } else if digits.len() > scale {
            format!("{sign}{}.{}", &digits[..digits.len() - scale], &digits[digits.len() - scale..])
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    } else {
        let rest = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let plus = if adjusted > 0 { "+" } else { "" };
        format!("{sign}{}{rest}E{plus}{adjusted}", &digits[..1])
    }
}

/// `Values.dateFormatFor(date).format(date)` in UTC: a time of day below one day, a date at
/// midnight, else a full timestamp.
fn date_string(ms: i64) -> String {
    let (days, in_day) = (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS));
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    );
    let (y, m, d) = connect_std::format::civil_from_days(days);
    let date = if y < 0 { format!("{:04}-{m:02}-{d:02}", 1 - y) } else { format!("{y:04}-{m:02}-{d:02}") };
    if ms < DAY_MS {
        time
    } else if in_day == 0 {
        date
    } else {
        format!("{date}T{time}")
    }
}

/// Reads a value into its Java form: by its schema when it has one, else by its own kind.
fn read(value: &Value, schema: Option<&Value>) -> Result<Java, Error> {
    let Some(schema) = schema else {
        return Ok(match value {
            Value::Int8(v) => Java::Byte(*v),
            Value::Int16(v) => Java::Short(*v),
            Value::Int32(v) => Java::Integer(*v),
            Value::Int64(v) => Java::Long(*v),
            Value::Float32(v) => Java::Float(*v),
            Value::Float64(v) => Java::Double(*v),
            Value::Bool(v) => Java::Boolean(*v),
            Value::Text(v) => Java::Text(v.clone()),
            Value::Bytes(v) => Java::Bytes(v.clone()),
            Value::List(_) | Value::Set(_) | Value::Tuple(_) => return Err(not_input(Type::Array)),
            Value::Struct(_) | Value::Map(_) => return Err(not_input(Type::Map)),
            Value::Decimal { .. } => return Err(not_connect("class java.math.BigDecimal")),
            Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => return Err(not_connect("class java.util.Date")),
            other => return Err(not_connect(other.kind())),
        });
    };
    let Some(typ) = Type::of_schema(schema) else {
        return Err(Error::new(format!("Unknown schema type in Cast transformation: {}", connect_type(schema))));
    };
    if !typ.is_input() {
        return Err(not_input(typ));
    }
    let mismatch =
        || Error::new(format!("Invalid {} value for its schema: {}", typ.upper().to_lowercase(), value.kind()));
    let int = || value.as_i64().or_else(|| value.as_f64().map(|f| f as i64)).ok_or_else(mismatch);
    Ok(match schema_name(schema) {
        Some(DATE) => Java::Date(match value {
            Value::Date(days) => i64::from(*days) * DAY_MS,
            _ => int()? * DAY_MS,
        }),
        Some(TIME) => Java::Date(match value {
            Value::Time(nanos) => nanos.div_euclid(1_000_000),
            _ => int()?,
        }),
        Some(TIMESTAMP) => Java::Date(int()?),
        Some(DECIMAL) => match value {
            Value::Decimal { unscaled, scale } => {
                Java::BigDecimal(decimal_unscaled(unscaled).ok_or_else(mismatch)?, *scale)
            }
            Value::Text(b64) => Java::BigDecimal(
                base64_decode(b64).and_then(|b| decimal_unscaled(&b)).ok_or_else(mismatch)?,
                decimal_scale(schema),
            ),
            Value::Int64(_) | Value::Float64(_) => {
                let (unscaled, scale) = parse_decimal(&value.to_string()).ok_or_else(mismatch)?;
                Java::BigDecimal(unscaled, scale)
            }
            _ => return Err(mismatch()),
        },
        _ => match typ {
            Type::Int8 => Java::Byte(int()? as i8),
            Type::Int16 => Java::Short(int()? as i16),
            Type::Int32 => Java::Integer(int()? as i32),
            Type::Int64 => Java::Long(int()?),
            Type::Float32 => Java::Float(value.as_f64().ok_or_else(mismatch)? as f32),
            Type::Float64 => Java::Double(value.as_f64().ok_or_else(mismatch)?),
            Type::Boolean => Java::Boolean(value.as_bool().ok_or_else(mismatch)?),
            Type::String => Java::Text(value.as_str().ok_or_else(mismatch)?.to_string()),
            _ => Java::Bytes(match value {
                Value::Bytes(b) => b.clone(),
                Value::Text(b64) => base64_decode(b64).ok_or_else(mismatch)?,
                _ => return Err(mismatch()),
            }),
        },
    })
}

fn not_input(typ: Type) -> Error {
    Error::new(format!(
        "Cast transformation does not support casting from {}; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]",
        typ.upper()
    ))
}

fn not_connect(class: &str) -> Error {
    Error::new(format!(
        "Cast transformation was passed a value of type {class} which is not supported by Connect's data API"
    ))
}

/// `Cast.castValueToType`: `value` (non-null) read by `schema`, cast to `target`; `typed` keeps
/// float32 as `Float32` (JSON gets its shortest decimal).
fn cast(value: &Value, schema: Option<&Value>, target: Type, typed: bool) -> Result<Value, Error> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let mut java = read(value, schema)?;
    // encodeLogicalType: Date → int days, Time → int milliseconds, Timestamp → long, for non-strings.
    if target != Type::String
        && let Java::Date(ms) = java
    {
        java = match schema.and_then(schema_name) {
            Some(DATE) => Java::Integer(ms.div_euclid(DAY_MS) as i32),
            Some(TIME) => Java::Integer(ms as i32),
            _ => Java::Long(ms),
        };
    }
    let text_or = |f: &dyn Fn(&Java) -> Option<Value>, parse: &dyn Fn(&str) -> Option<Value>| match &java {
        Java::Boolean(b) => Ok(f(&Java::Integer(i32::from(*b))).unwrap_or(Value::Null)),
        Java::Text(s) => parse(s).ok_or_else(|| out_of_range(s)),
        other => f(other).ok_or_else(|| unexpected(other)),
    };
    match target {
        Type::Int8 => text_or(&|j| j.int_value().map(|v| Value::Int8(v as i8)), &|s| s.parse().ok().map(Value::Int8)),
        Type::Int16 => {
            text_or(&|j| j.int_value().map(|v| Value::Int16(v as i16)), &|s| s.parse().ok().map(Value::Int16))
        }
        Type::Int32 => text_or(&|j| j.int_value().map(Value::Int32), &|s| s.parse().ok().map(Value::Int32)),
        Type::Int64 => text_or(&|j| j.long_value().map(Value::Int64), &|s| s.parse().ok().map(Value::Int64)),
        Type::Float32 => {
            let out = |f: f32| if typed { Value::Float32(f) } else { float32_json(f) };
            text_or(&|j| j.float_value().map(out), &|s| java_float_text(s).and_then(|t| t.parse::<f32>().ok()).map(out))
        }
        Type::Float64 => text_or(&|j| j.double_value().map(Value::Float64), &|s| {
            java_float_text(s).and_then(|t| t.parse::<f64>().ok()).map(Value::Float64)
        }),
        Type::Boolean => Ok(Value::Bool(match &java {
            Java::Boolean(b) => *b,
            Java::Text(s) => s.eq_ignore_ascii_case("true"),
            other => other.long_value().ok_or_else(|| unexpected(other))? != 0,
        })),
        Type::String => Ok(Value::Text(match java {
            Java::Byte(v) => v.to_string(),
            Java::Short(v) => v.to_string(),
            Java::Integer(v) => v.to_string(),
            Java::Long(v) => v.to_string(),
            Java::Float(v) => java_float(v),
            Java::Double(v) => java_double(v),
            Java::BigDecimal(unscaled, scale) => big_decimal_string(unscaled, scale),
            Java::Boolean(b) => b.to_string(),
            Java::Text(s) => s,
            Java::Bytes(b) => base64(&b),
            Java::Date(ms) => date_string(ms),
        })),
        other => Err(Error::new(format!("{} is not supported in the Cast transformation.", other.upper()))),
    }
}

/// The schema of a cast value: the target type, and (as `SchemaBuilder`) optional and default.
fn target_schema(target: Type, source: &Value, typed: bool) -> Result<Value, Error> {
    let mut s = Value::object();
    s.insert("type", json_type_name(&target.upper().to_lowercase()));
    s.insert("optional", schema_optional(source));
    if let Some(default) = schema_default(source) {
        s.insert("default", cast(default, Some(source), target, typed)?);
    }
    Ok(s)
}

struct Cast {
    /// `field → type`; `None` as the field: the whole value.
    casts: Vec<(Option<String>, Type)>,
    replace_null_with_default: bool,
}

impl Cast {
    fn whole(&self) -> Option<Type> {
        self.casts.iter().find(|(f, _)| f.is_none()).map(|(_, t)| *t)
    }

    fn target(&self, field: &str) -> Option<Type> {
        self.casts.iter().rev().find(|(f, _)| f.as_deref() == Some(field)).map(|(_, t)| *t)
    }
}

fn parse_spec(spec: &[String]) -> Result<Vec<(Option<String>, Type)>, String> {
    if spec.is_empty() {
        return Err("Must specify at least one field to cast.".into());
    }
    let output = |t: Type| {
        if t.is_output() {
            Ok(t)
        } else {
            Err(format!(
                "Cast transformation does not support casting to {}; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]",
                t.upper()
            ))
        }
    };
    let mut casts = Vec::with_capacity(spec.len());
    for mapping in spec {
        // Java's String.split(":") drops trailing empty parts.
        let mut parts: Vec<&str> = mapping.split(':').collect();
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        match parts[..] {
            [whole] => {
                let t = Type::parse(whole).ok_or_else(|| {
                    format!(
                        "No enum constant org.apache.kafka.connect.data.Schema.Type.{}",
                        whole.trim().to_uppercase()
                    )
                })?;
                casts.push((None, output(t)?));
            }
            [field, typ] => {
                let t =
                    Type::parse(typ).ok_or_else(|| format!("Invalid type found in casting spec: {}", typ.trim()))?;
                casts.push((Some(field.trim().to_string()), output(t)?));
            }
            _ => {
                return Err(format!(
                    "Invalid value [{}] for configuration renames: Invalid rename mapping: {mapping}",
                    spec.join(", ")
                ));
            }
        }
    }
    if casts.iter().any(|(f, _)| f.is_none()) && spec.len() > 1 {
        return Err("Cast transformations that specify a type to cast the entire value to may ony specify a single cast in their spec".into());
    }
    Ok(casts)
}

impl Plugin for Cast {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.Cast${side}"), "0.1.0")
            .alias(&format!("Cast${side}"))
            .doc(&format!(
                "Cast fields or the entire {} to a specific type, e.g. to force an integer field to a smaller width. Cast from integers, floats, boolean and string to any other type, and cast binary to string (base64 encoded).",
                side.to_lowercase()
            ))
            .param(Param::list("spec").required().doc(
                "List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string. Note that binary fields can only be cast to string.",
            ))
            .param(Param::boolean("replace.null.with.default").default(true).doc(
                "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.",
            ))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let casts = parse_spec(&config.list("spec"))?;
        let replace_null_with_default = config.bool_or("replace.null.with.default", true)?;
        Ok(Self { casts, replace_null_with_default })
    }
}

impl Transform for Cast {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let Some(subject) = Subject::read(&SIDE.data(record))? else { return Ok(Outcome::Keep) };
        if subject.value.is_null() {
            return Ok(Outcome::Keep);
        }
        let typed = subject.form == Form::Typed;
        let (value, schema) = match (&subject.schema, self.whole()) {
            (None, Some(target)) => (cast(&subject.value, None, target, typed)?, None),
            (None, None) => {
                subject.require_struct(PURPOSE)?;
                let mut value = subject.value.clone();
                for (field, target) in &self.casts {
                    let field = field.as_deref().unwrap_or_default();
                    let cast = match subject.value.get(field) {
                        Some(v) => cast(v, None, *target, typed)?,
                        None => Value::Null,
                    };
                    value.insert(field, cast);
                }
                (value, None)
            }
            (Some(schema), Some(target)) => {
                let mut new_schema = target_schema(target, schema, typed)?;
                // copySchemaBasics, except a logical type's name (see the module doc).
                let logical = matches!(schema_name(schema), Some(DATE | TIME | TIMESTAMP | DECIMAL));
                for key in ["name", "version", "doc", "parameters"] {
                    if let Some(v) = schema.get(key).filter(|v| !v.is_null() && !logical) {
                        new_schema.insert(key, v.clone());
                    }
                }
                (cast(&subject.value, Some(schema), target, typed)?, Some(new_schema))
            }
            (Some(schema), None) => {
                if connect_type(schema) != "struct" || !matches!(subject.value, Value::Struct(_)) {
                    return Err(Error::new(format!(
                        "Only Struct objects supported for [{PURPOSE}], found: {}",
                        connect_type(schema)
                    )));
                }
                let mut entries = Vec::with_capacity(schema_entries(schema).len());
                let mut fields = Vec::with_capacity(entries.capacity());
                for entry in schema_entries(schema) {
                    let name = entry.get("field").and_then(Value::as_str).unwrap_or_default();
                    let v = field_value(&subject.value, entry, self.replace_null_with_default);
                    match self.target(name) {
                        Some(target) => {
                            let mut e = target_schema(target, entry, typed)?;
                            e.insert("field", name);
                            entries.push(e);
                            fields.push((name.to_string(), cast(&v, Some(entry), target, typed)?));
                        }
                        None => {
                            entries.push(entry.clone());
                            fields.push((name.to_string(), v));
                        }
                    }
                }
                let mut new_schema = Value::object();
                new_schema.insert("type", "struct");
                for key in ["name", "version", "doc", "parameters"] {
                    if let Some(v) = schema.get(key).filter(|v| !v.is_null()) {
                        new_schema.insert(key, v.clone());
                    }
                }
                new_schema.insert("optional", schema_optional(schema));
                if schema_default(schema).is_some() {
                    // Connect casts the struct's default to STRUCT, which it refuses.
                    return Err(not_input(Type::Struct));
                }
                new_schema.insert("fields", Value::List(entries));
                (Value::Struct(fields), Some(new_schema))
            }
        };
        Ok(SIDE.replace(record, subject.with(value, schema).into_payload()))
    }
}

export_transform!(Cast);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_java() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(100.0), "100.0");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1234567.5), "1234567.5");
        assert_eq!(java_double(-2.5e-10), "-2.5E-10");
        assert_eq!(java_float(0.1), "0.1");
        assert_eq!(java_float(3.4028235e38), "3.4028235E38");
    }

    #[test]
    fn decimals_and_dates_print_like_java() {
        assert_eq!(big_decimal_string(12345, 2), "123.45");
        assert_eq!(big_decimal_string(-5, 3), "-0.005");
        assert_eq!(big_decimal_string(5, 10), "5E-10");
        assert_eq!(big_decimal_string(12, -3), "1.2E+4");
        assert_eq!(date_string(0), "00:00:00.000Z");
        assert_eq!(date_string(3_723_004), "01:02:03.004Z");
        assert_eq!(date_string(1_767_225_600_000), "2026-01-01");
        assert_eq!(date_string(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
    }

    #[test]
    fn specs_parse_like_connect() {
        let spec = |s: &str| parse_spec(&s.split(',').map(String::from).collect::<Vec<_>>());
        assert_eq!(spec("a:int8,b:STRING").unwrap().len(), 2);
        assert!(spec("a:bytes").unwrap_err().contains("does not support casting to BYTES"));
        assert!(spec("a:nope").unwrap_err().contains("Invalid type found in casting spec: nope"));
        assert!(spec("int8,a:int8").unwrap_err().contains("may ony specify a single cast"));
        assert!(spec("a:b:c").unwrap_err().contains("Invalid rename mapping: a:b:c"));
    }
}
