//! Typed values: Kafka Connect's schema types and CQL's, in one enum that feels like
//! `serde_json::Value`.

use std::fmt;
use std::net::IpAddr;

/// A typed value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// Null.
    #[default]
    Null,
    /// Boolean.
    Bool(bool),
    /// Connect INT8, CQL tinyint.
    Int8(i8),
    /// Connect INT16, CQL smallint.
    Int16(i16),
    /// Connect INT32, CQL int.
    Int32(i32),
    /// Connect INT64, CQL bigint / counter; JSON integers.
    Int64(i64),
    /// Connect FLOAT32, CQL float.
    Float32(f32),
    /// Connect FLOAT64, CQL double; JSON numbers with a fraction.
    Float64(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// CQL varint, big-endian two's complement.
    Varint(Vec<u8>),
    /// A decimal: unscaled big-endian two's complement × 10^-scale.
    Decimal {
        /// Unscaled value.
        unscaled: Vec<u8>,
        /// Scale.
        scale: i32,
    },
    /// A UUID.
    Uuid(u128),
    /// A time-based UUID.
    Timeuuid(u128),
    /// An IP address.
    Inet(IpAddr),
    /// Days since 1970-01-01.
    Date(i32),
    /// Nanoseconds since midnight.
    Time(i64),
    /// Milliseconds since the epoch.
    Timestamp(i64),
    /// CQL duration.
    Duration {
        /// Months.
        months: i32,
        /// Days.
        days: i32,
        /// Nanoseconds.
        nanos: i64,
    },
    /// A list.
    List(Vec<Value>),
    /// A set.
    Set(Vec<Value>),
    /// A map, in order.
    Map(Vec<(Value, Value)>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A struct / UDT / JSON object, fields in order.
    Struct(Vec<(String, Value)>),
}

static NULL: Value = Value::Null;

impl Value {
    /// An empty struct.
    pub fn object() -> Self {
        Value::Struct(Vec::new())
    }

    /// The field `name` of a struct.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The field `name` of a struct, mutable.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Struct(fields) => fields.iter_mut().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets field `name` (replacing it in place, or appending it). Returns false when `self` is
    /// not a struct.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) -> bool {
        let Value::Struct(fields) = self else { return false };
        let (name, value) = (name.into(), value.into());
        match fields.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = value,
            None => fields.push((name, value)),
        }
        true
    }

    /// Removes field `name` and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let Value::Struct(fields) = self else { return None };
        let at = fields.iter().position(|(k, _)| k == name)?;
        Some(fields.remove(at).1)
    }

    /// Renames field `from` to `to`, keeping its position. Returns whether it was there.
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        let Value::Struct(fields) = self else { return false };
        match fields.iter_mut().find(|(k, _)| k == from) {
            Some((k, _)) => {
                *k = to.to_string();
                true
            }
            None => false,
        }
    }

    /// The fields of a struct.
    pub fn fields(&self) -> &[(String, Value)] {
        match self {
            Value::Struct(fields) => fields,
            _ => &[],
        }
    }

    /// Text content.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Any integer kind, widened.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(v) => Some(v.into()),
            Value::Int16(v) => Some(v.into()),
            Value::Int32(v) => Some(v.into()),
            Value::Int64(v) | Value::Timestamp(v) | Value::Time(v) => Some(v),
            Value::Date(v) => Some(v.into()),
            _ => None,
        }
    }

    /// Any number, as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float32(v) => Some(v.into()),
            Value::Float64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// A boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The kind's name, for error messages ("struct", "text", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int8(_) => "int8",
            Value::Int16(_) => "int16",
            Value::Int32(_) => "int32",
            Value::Int64(_) => "int64",
            Value::Float32(_) => "float32",
            Value::Float64(_) => "float64",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Varint(_) => "varint",
            Value::Decimal { .. } => "decimal",
            Value::Uuid(_) => "uuid",
            Value::Timeuuid(_) => "timeuuid",
            Value::Inet(_) => "inet",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Timestamp(_) => "timestamp",
            Value::Duration { .. } => "duration",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Tuple(_) => "tuple",
            Value::Struct(_) => "struct",
        }
    }

    /// Parses JSON: objects become structs (field order kept), arrays lists, integers Int64,
    /// other numbers Float64.
    pub fn from_json(bytes: &[u8]) -> Result<Value, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))
    }

    /// Renders as JSON (bytes as base64, UUIDs and addresses as strings, dates/times as numbers).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        serde_json::to_writer(&mut out, self).expect("writing to a Vec cannot fail");
        out
    }
}

impl std::ops::Index<&str> for Value {
    type Output = Value;
    fn index(&self, name: &str) -> &Value {
        self.get(name).unwrap_or(&NULL)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int64(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int32(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float64(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_json()))
    }
}

fn uuid_string(u: u128) -> String {
    let h = format!("{u:032x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Standard base64 with padding (Kafka Connect's JSON form of bytes).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int8(v) => s.serialize_i8(*v),
            Value::Int16(v) => s.serialize_i16(*v),
            Value::Int32(v) | Value::Date(v) => s.serialize_i32(*v),
            Value::Int64(v) | Value::Time(v) | Value::Timestamp(v) => s.serialize_i64(*v),
            Value::Float32(v) => s.serialize_f32(*v),
            Value::Float64(v) => s.serialize_f64(*v),
            Value::Text(t) => s.serialize_str(t),
            Value::Bytes(b) | Value::Varint(b) | Value::Decimal { unscaled: b, .. } => s.serialize_str(&base64(b)),
            Value::Uuid(u) | Value::Timeuuid(u) => s.serialize_str(&uuid_string(*u)),
            Value::Inet(ip) => s.serialize_str(&ip.to_string()),
            Value::Duration { months, days, nanos } => s.serialize_str(&format!("{months}mo{days}d{nanos}ns")),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    match k {
                        Value::Text(t) => map.serialize_entry(t, v)?,
                        other => map.serialize_entry(&other.to_string(), v)?,
                    }
                }
                map.end()
            }
            Value::Struct(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int64(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(i64::try_from(v).map(Value::Int64).unwrap_or(Value::Float64(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float64(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Text(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::Text(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Value::List(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    fields.push((k, v));
                }
                Ok(Value::Struct(fields))
            }
        }
        d.deserialize_any(Visitor)
    }
}
