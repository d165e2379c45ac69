//! Kafka Connect's `TimestampConverter$Key` / `TimestampConverter$Value`: converts a timestamp —
//! the whole key/value, or its `field` — between a formatted string (`format`, a Java
//! `SimpleDateFormat` pattern, UTC), unix time (`unix.precision`), and Connect's `Timestamp`,
//! `Date` and `Time`. Tombstones and null fields pass unchanged.
//!
//! In schemaless JSON, `Timestamp` is written as epoch milliseconds, `Date` as the epoch
//! milliseconds of that midnight and `Time` as milliseconds since midnight (the numbers Connect's
//! `java.util.Date` stands for); with a schema (JsonConverter's envelope, or typed values) they
//! carry Connect's logical types.

use connect_std::format::Pattern;
use connect_std::{Form, Side, Subject, edited_struct_schema, plain_object, schema_field_name};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };
const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
const DATE: &str = "org.apache.kafka.connect.data.Date";
const TIME: &str = "org.apache.kafka.connect.data.Time";
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

#[derive(Debug, Clone, Copy)]
enum Precision {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl Precision {
    fn to_ms(self, v: i64) -> i64 {
        match self {
            Precision::Seconds => v.saturating_mul(1000),
            Precision::Milliseconds => v,
            Precision::Microseconds => v.div_euclid(1000),
            Precision::Nanoseconds => v.div_euclid(1_000_000),
        }
    }
    fn of_ms(self, ms: i64) -> i64 {
        match self {
            Precision::Seconds => ms.div_euclid(1000),
            Precision::Milliseconds => ms,
            Precision::Microseconds => ms.saturating_mul(1000),
            Precision::Nanoseconds => ms.saturating_mul(1_000_000),
        }
    }
}

/// The transform; `fused-steps` runs it through [`TimestampConverter::apply_raw`].
pub struct TimestampConverter {
    field: Option<String>,
    target: Target,
    format: Option<Pattern>,
    precision: Precision,
}

impl Plugin for TimestampConverter {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.TimestampConverter${side}"), "0.1.0")
            .alias(&format!("TimestampConverter${side}"))
            .doc("Convert timestamps between different formats such as Unix epoch, strings, and Connect Date/Timestamp types.")
            .param(Param::string("field").default("").doc("The field containing the timestamp, or empty if the entire value is a timestamp."))
            .param(Param::string("target.type").required().doc("The desired timestamp representation: string, unix, Date, Time, or Timestamp."))
            .param(Param::string("format").default("").doc("A SimpleDateFormat-compatible format for the timestamp (UTC). Used to generate the output when type=string or used to parse the input if the input is a string."))
            .param(Param::string("unix.precision").default("milliseconds").doc("The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let target = match config.required("target.type")? {
            "string" => Target::String,
            "unix" => Target::Unix,
            "Date" => Target::Date,
            "Time" => Target::Time,
            "Timestamp" => Target::Timestamp,
            other => {
                return Err(format!(
                    "Unknown timestamp type in TimestampConverter: {other} (string, unix, Date, Time or Timestamp)"
                ));
            }
        };
        let precision = match config.get_or("unix.precision", "milliseconds") {
            "seconds" => Precision::Seconds,
            "milliseconds" => Precision::Milliseconds,
            "microseconds" => Precision::Microseconds,
            "nanoseconds" => Precision::Nanoseconds,
            other => {
                return Err(format!(
                    "Unknown unix.precision '{other}' (seconds, milliseconds, microseconds or nanoseconds)"
                ));
            }
        };
        let format = match config.get_or("format", "") {
            "" => None,
            pattern => Some(Pattern::compile(pattern).map_err(|e| {
                format!("TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: {e}")
            })?),
        };
        if target == Target::String && format.is_none() {
            return Err("TimestampConverter requires format option to be specified when using string timestamps".into());
        }
        let field = Some(config.get_or("field", "").trim().to_string()).filter(|f| !f.is_empty());
        Ok(Self { field, target, format, precision })
    }
}

impl TimestampConverter {
    /// The edit on a plain JSON object, its values left as written; `Ok(false)` when this converter
    /// converts the whole value rather than a field, which this cannot do.
    pub fn apply_raw(&self, object: &mut RawObject<'_>) -> Result<bool, Error> {
        let Some(field) = &self.field else { return Ok(false) };
        let Some(current) = object.field(field).map(RawField::to_value).filter(|v| !v.is_null()) else {
            return Ok(true);
        };
        let ms = self.read(&current, None).map_err(|e| Error::new(format!("field '{field}': {}", e.message)))?;
        object.set(field, self.write(ms, Form::Json).0);
        Ok(true)
    }

    /// Reads a timestamp as epoch milliseconds, by its schema when it has one, else by its kind.
    fn read(&self, value: &Value, schema: Option<&Value>) -> Result<i64, Error> {
        let logical = schema.and_then(|s| s.get("name")).and_then(Value::as_str);
        match (value, logical) {
            (Value::Timestamp(ms), _) => Ok(*ms),
            (Value::Date(days), _) => Ok(i64::from(*days) * DAY_MS),
            (Value::Time(nanos), _) => Ok(nanos.div_euclid(1_000_000)),
            (v, Some(TIMESTAMP)) => v.as_i64().ok_or_else(|| unexpected(v)),
            (v, Some(DATE)) => v.as_i64().map(|d| d * DAY_MS).ok_or_else(|| unexpected(v)),
            (v, Some(TIME)) => v.as_i64().ok_or_else(|| unexpected(v)),
            (Value::Text(text), _) => {
                let Some(format) = &self.format else {
                    return Err(Error::new(
                        "TimestampConverter requires format option to be specified when using string timestamps",
                    ));
                };
                format.parse(text).map_err(|e| {
                    Error::new(format!(
                        "Could not parse timestamp: value ({text}) does not match pattern ({}): {e}",
                        format.source()
                    ))
                })
            }
            (Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_), _) => {
                Ok(self.precision.to_ms(value.as_i64().expect("an integer")))
            }
            (other, _) => Err(unexpected(other)),
        }
    }

    /// The converted value and its schema type entry (type, logical name).
    fn write(&self, ms: i64, form: Form) -> (Value, &'static str, Option<&'static str>) {
        let typed = form == Form::Typed;
        let with_schema = form != Form::Json;
        match self.target {
            Target::String => {
                (Value::Text(self.format.as_ref().expect("checked in configure").format(ms)), "string", None)
            }
            Target::Unix => (Value::Int64(self.precision.of_ms(ms)), "int64", None),
            Target::Timestamp => {
                (if typed { Value::Timestamp(ms) } else { Value::Int64(ms) }, "int64", Some(TIMESTAMP))
            }
            Target::Date => {
                let days = ms.div_euclid(DAY_MS);
                let v = match (typed, with_schema) {
                    (true, _) => Value::Date(days as i32),
                    (false, true) => Value::Int32(days as i32),
                    (false, false) => Value::Int64(days * DAY_MS),
                };
                (v, "int32", Some(DATE))
            }
            Target::Time => {
                let of_day = ms.rem_euclid(DAY_MS);
                let v = match (typed, with_schema) {
                    (true, _) => Value::Time(of_day * 1_000_000),
                    (false, true) => Value::Int32(of_day as i32),
                    (false, false) => Value::Int64(of_day),
                };
                (v, "int32", Some(TIME))
            }
        }
    }
}

fn unexpected(v: &Value) -> Error {
    Error::new(format!("Expected a timestamp (a string, a number, or a Date/Time/Timestamp) but found {}", v.kind()))
}

fn schema_type(base: Option<&Value>, typ: &str, logical: Option<&str>) -> Value {
    let mut s = Value::object();
    s.insert("type", typ);
    let optional = base.and_then(|b| b.get("optional")).and_then(Value::as_bool).unwrap_or(false);
    s.insert("optional", optional);
    if let Some(name) = logical {
        s.insert("name", name);
        s.insert("version", Value::Int64(1));
    }
    if let Some(field) = base.and_then(|b| b.get("field")).and_then(Value::as_str) {
        s.insert("field", field);
    }
    s
}

impl Transform for TimestampConverter {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let data = SIDE.data(record);
        if self.field.is_some()
            && let Some(mut object) = plain_object(&data)
        {
            self.apply_raw(&mut object)?;
            return Ok(SIDE.replace(record, Payload::Bytes(object.to_json())));
        }
        let Some(subject) = Subject::read(&data)? else { return Ok(Outcome::Keep) };
        let (value, schema) = match &self.field {
            None => {
                if subject.value.is_null() {
                    return Ok(Outcome::Keep);
                }
                let ms = self.read(&subject.value, subject.schema.as_ref())?;
                let (v, typ, logical) = self.write(ms, subject.form);
                (v, subject.schema.as_ref().map(|s| schema_type(Some(s), typ, logical)))
            }
            Some(field) => {
                subject.require_struct("converting timestamp formats")?;
                let field_schema = subject.schema.as_ref().and_then(|s| match s.get("fields") {
                    Some(Value::List(fields)) => fields.iter().find(|f| schema_field_name(f) == Some(field.as_str())),
                    _ => None,
                });
                let mut value = subject.value.clone();
                let Some(current) = subject.value.get(field).filter(|v| !v.is_null()) else {
                    return Ok(Outcome::Keep);
                };
                let ms = self
                    .read(current, field_schema)
                    .map_err(|e| Error::new(format!("field '{field}': {}", e.message)))?;
                let (v, typ, logical) = self.write(ms, subject.form);
                value.insert(field.as_str(), v);
                let schema = subject.schema.as_ref().map(|s| {
                    let fields = match s.get("fields") {
                        Some(Value::List(fields)) => fields
                            .iter()
                            .map(|f| {
                                if schema_field_name(f) == Some(field.as_str()) {
                                    schema_type(Some(f), typ, logical)
                                } else {
                                    f.clone()
                                }
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    edited_struct_schema(s, fields)
                });
                (value, schema)
            }
        };
        let out = subject.with(value, schema).into_payload();
        Ok(SIDE.replace(record, out))
    }
}

#[cfg(any(feature = "key", feature = "value"))]
export_transform!(TimestampConverter);
