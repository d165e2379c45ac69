//! Kafka Connect's `MaskField$Key` / `MaskField$Value`: replaces the value of each of `fields` with
//! the "null value" of its type (0, 0.0, false, "", an empty list or map; epoch 0 for dates), or
//! with `replacement` converted to the field's type (numeric and string fields only). With a
//! schema the type is the field's schema type; schemaless, the JSON value's type.
//!
//! As in Connect (`MaskField.applySchemaless` puts `masked(value.get(field))` for every configured
//! field): a schemaless field that is missing comes out as `null`; a null field stays null; bytes
//! and nested structs cannot be masked. Connect requires a Map / Struct, so a tombstone (null
//! key/value) is a per-record error ("… found: null"), not passed through: pair the transform with
//! the `RecordIsTombstone` predicate (negated) on compacted topics.

use connect_std::connect_data::{
    DATE, DECIMAL, TIME, TIMESTAMP, connect_type, decimal_bytes, decimal_scale, field_value, float32_json,
    invalid_config, parse_decimal, schema_entries, schema_name,
};
use connect_std::{Form, Side, Subject};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };
const PURPOSE: &str = "mask fields";

struct MaskField {
    fields: Vec<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

/// A value's Java class in Connect's data API, which decides how it is masked.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Class {
    Boolean,
    Byte,
    Short,
    Integer,
    Long,
    Float,
    Double,
    /// A Decimal, with its schema's scale (none schemaless).
    BigDecimal(Option<i32>),
    Date(&'static str),
    String,
    Bytes,
    List,
    Map,
    Struct,
    Other(&'static str),
}

impl Class {
    /// Schemaless: by the value itself (JSON numbers are Long or Double, objects Maps).
    fn of_value(v: &Value) -> Class {
        match v {
            Value::Bool(_) => Class::Boolean,
            Value::Int8(_) => Class::Byte,
            Value::Int16(_) => Class::Short,
            Value::Int32(_) => Class::Integer,
            Value::Int64(_) => Class::Long,
            Value::Float32(_) => Class::Float,
            Value::Float64(_) => Class::Double,
            Value::Decimal { .. } => Class::BigDecimal(None),
            Value::Date(_) => Class::Date(DATE),
            Value::Time(_) => Class::Date(TIME),
            Value::Timestamp(_) => Class::Date(TIMESTAMP),
            Value::Text(_) => Class::String,
            Value::Bytes(_) => Class::Bytes,
            Value::List(_) => Class::List,
            Value::Struct(_) | Value::Map(_) => Class::Map,
            other => Class::Other(other.kind()),
        }
    }

    /// With a schema: by the field's schema (the JSON payload of an envelope carries no width).
    fn of_schema(schema: &Value) -> Class {
        match schema_name(schema) {
            Some(DECIMAL) => return Class::BigDecimal(Some(decimal_scale(schema))),
            Some(DATE) => return Class::Date(DATE),
            Some(TIME) => return Class::Date(TIME),
            Some(TIMESTAMP) => return Class::Date(TIMESTAMP),
            _ => {}
        }
        match connect_type(schema) {
            "boolean" => Class::Boolean,
            "int8" => Class::Byte,
            "int16" => Class::Short,
            "int32" => Class::Integer,
            "int64" => Class::Long,
            "float32" => Class::Float,
            "float64" => Class::Double,
            "string" => Class::String,
            "bytes" => Class::Bytes,
            "array" => Class::List,
            "map" => Class::Map,
            "struct" => Class::Struct,
            _ => Class::Other("unknown"),
        }
    }

    fn java_name(self) -> &'static str {
        match self {
            Class::Boolean => "java.lang.Boolean",
            Class::Byte => "java.lang.Byte",
            Class::Short => "java.lang.Short",
            Class::Integer => "java.lang.Integer",
            Class::Long => "java.lang.Long",
            Class::Float => "java.lang.Float",
            Class::Double => "java.lang.Double",
            Class::BigDecimal(_) => "java.math.BigDecimal",
            Class::Date(_) => "java.util.Date",
            Class::String => "java.lang.String",
            Class::Bytes => "[B",
            Class::List => "java.util.ArrayList",
            Class::Map => "java.util.HashMap",
            Class::Struct => "org.apache.kafka.connect.data.Struct",
            Class::Other(kind) => kind,
        }
    }
}

/// A float as it leaves: `Float32` for typed values, its shortest decimal in JSON.
fn float32(f: f32, typed: bool) -> Value {
    if typed { Value::Float32(f) } else { float32_json(f) }
}

/// A Decimal as it leaves: typed, or as JsonConverter writes it (base64 of the unscaled bytes, or a
/// number when the input used `decimal.format=NUMERIC`).
fn decimal(unscaled: i128, scale: i32, typed: bool, was: &Value) -> Value {
    match was {
        _ if typed => Value::Decimal { unscaled: decimal_bytes(unscaled), scale },
        Value::Int64(_) | Value::Float64(_) if scale <= 0 => Value::Int64(unscaled as i64),
        Value::Int64(_) | Value::Float64(_) => Value::Float64(unscaled as f64 / 10f64.powi(scale)),
        _ => Value::Text(base64(&decimal_bytes(unscaled))),
    }
}

/// Connect's `Values.convertToLong(null, text)`: `new BigDecimal(text).longValue()`.
fn integral(text: &str) -> Option<i64> {
    let (unscaled, scale) = parse_decimal(text)?;
    let truncated = if scale >= 0 {
        10i128.checked_pow(scale.unsigned_abs()).map_or(0, |p| unscaled / p)
    } else {
        unscaled.wrapping_mul(10i128.checked_pow(scale.unsigned_abs())?)
    };
    Some(truncated as i64)
}

/// Connect's `Values.convertToDouble(null, text)`: `new BigDecimal(text).doubleValue()`.
fn floating(text: &str) -> Option<f64> {
    parse_decimal(text)?;
    text.parse().ok()
}

impl MaskField {
    fn mask(&self, value: Value, class: Class, typed: bool) -> Result<Value, Error> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        match &self.replacement {
            None => Self::zero(value, class, typed),
            Some(r) => Self::replace(value, class, r, typed),
        }
    }

    /// The "null value" of the type (Connect's `PRIMITIVE_VALUE_MAPPING`, empty list and map).
    fn zero(value: Value, class: Class, typed: bool) -> Result<Value, Error> {
        Ok(match class {
            Class::Boolean => Value::Bool(false),
            Class::Byte => Value::Int8(0),
            Class::Short => Value::Int16(0),
            Class::Integer => Value::Int32(0),
            Class::Long => Value::Int64(0),
            Class::Float => float32(0.0, typed),
            Class::Double => Value::Float64(0.0),
            Class::BigDecimal(scale) => {
                let scale = scale.unwrap_or(match value {
                    Value::Decimal { scale, .. } => scale,
                    _ => 0,
                });
                decimal(0, scale, typed, &value)
            }
            Class::Date(logical) if typed => match logical {
                DATE => Value::Date(0),
                TIME => Value::Time(0),
                _ => Value::Timestamp(0),
            },
            Class::Date(_) => Value::Int64(0),
            Class::String => Value::Text(String::new()),
            Class::List => Value::List(Vec::new()),
            Class::Map if matches!(value, Value::Map(_)) || typed => Value::Map(Vec::new()),
            Class::Map => Value::Struct(Vec::new()),
            Class::Bytes | Class::Struct | Class::Other(_) => {
                return Err(Error::new(format!("Cannot mask value of type: class {}", class.java_name())));
            }
        })
    }

    /// `replacement` converted to the type (Connect's `REPLACEMENT_MAPPING_FUNC`).
    fn replace(value: Value, class: Class, replacement: &str, typed: bool) -> Result<Value, Error> {
        let not_number = || Error::new(format!("Unable to convert {replacement} (class java.lang.String) to number"));
        Ok(match class {
            Class::Byte => Value::Int8(integral(replacement).ok_or_else(not_number)? as i8),
            Class::Short => Value::Int16(integral(replacement).ok_or_else(not_number)? as i16),
            Class::Integer => Value::Int32(integral(replacement).ok_or_else(not_number)? as i32),
            Class::Long => Value::Int64(integral(replacement).ok_or_else(not_number)?),
            Class::Float => float32(floating(replacement).ok_or_else(not_number)? as f32, typed),
            Class::Double => Value::Float64(floating(replacement).ok_or_else(not_number)?),
            Class::String => Value::Text(replacement.to_string()),
            Class::BigDecimal(scale) => {
                let (unscaled, given) = parse_decimal(replacement).ok_or_else(not_number)?;
                // Connect's Decimal.fromLogical refuses another scale than the schema's.
                if scale.is_some_and(|s| s != given) {
                    return Err(Error::new("BigDecimal has mismatching scale value for given Decimal schema"));
                }
                decimal(unscaled, given, typed, &value)
            }
            _ => {
                return Err(Error::new(format!(
                    "Cannot mask value of type class {} with custom replacement.",
                    class.java_name()
                )));
            }
        })
    }
}

impl Plugin for MaskField {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.MaskField${side}"), "0.1.0")
            .alias(&format!("MaskField${side}"))
            .doc(&format!(
                "Mask specified fields of the record {} with a valid null value for the field type (i.e. 0, false, empty string, and so on). For numeric and string fields, an optional replacement value can be specified that is converted to the correct type.",
                side.to_lowercase()
            ))
            .param(Param::list("fields").required().doc("Names of fields to mask."))
            .param(Param::string("replacement").doc(
                "Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only).",
            ))
            .param(Param::boolean("replace.null.with.default").default(true).doc(
                "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.",
            ))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let fields = config.list("fields");
        if fields.is_empty() {
            return Err(invalid_config("fields", "[]", "Empty list"));
        }
        let replacement = config.get("replacement").map(str::to_string);
        if replacement.as_deref() == Some("") {
            return Err(invalid_config("replacement", "", "String must be non-empty"));
        }
        let replace_null_with_default = config.bool_or("replace.null.with.default", true)?;
        Ok(Self { fields, replacement, replace_null_with_default })
    }
}

impl Transform for MaskField {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let Some(subject) = Subject::read(&SIDE.data(record))? else {
            return Err(Error::new(format!(
                "Only Map objects supported in absence of schema for [{PURPOSE}], found: null"
            )));
        };
        let typed = subject.form == Form::Typed;
        let value = match &subject.schema {
            None => {
                subject.require_struct(PURPOSE)?;
                let mut value = subject.value.clone();
                for field in &self.fields {
                    let masked = match value.remove_in_place(field) {
                        Some(v) => {
                            let class = Class::of_value(&v);
                            self.mask(v, class, typed)?
                        }
                        None => Value::Null,
                    };
                    value.insert(field.as_str(), masked);
                }
                value
            }
            Some(schema) => {
                if connect_type(schema) != "struct" || !matches!(subject.value, Value::Struct(_)) {
                    let found = if subject.value.is_null() { "null" } else { Class::of_schema(schema).java_name() };
                    return Err(Error::new(format!("Only Struct objects supported for [{PURPOSE}], found: {found}")));
                }
                let mut fields = Vec::with_capacity(schema_entries(schema).len());
                for entry in schema_entries(schema) {
                    let name = entry.get("field").and_then(Value::as_str).unwrap_or_default();
                    let v = field_value(&subject.value, entry, self.replace_null_with_default);
                    let v = if self.fields.iter().any(|f| f == name) {
                        self.mask(v, Class::of_schema(entry), typed)?
                    } else {
                        v
                    };
                    fields.push((name.to_string(), v));
                }
                Value::Struct(fields)
            }
        };
        let schema = subject.schema.clone();
        Ok(SIDE.replace(record, subject.with(value, schema).into_payload()))
    }
}

/// Takes a struct field's value out, leaving null in its place (so the field keeps its position).
trait TakeField {
    fn remove_in_place(&mut self, name: &str) -> Option<Value>;
}

impl TakeField for Value {
    fn remove_in_place(&mut self, name: &str) -> Option<Value> {
        self.get_mut(name).map(std::mem::take)
    }
}

export_transform!(MaskField);
