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
        // Validated once here, so strings are sliced out without checking each one.
        let text = std::str::from_utf8(bytes).map_err(|e| format!("not valid JSON: not UTF-8 ({e})"))?;
        let mut p = json::Parser { text, bytes, at: 0, depth: 0 };
        p.skip_ws();
        let v = p.value().map_err(|e| format!("not valid JSON: {e} at byte {}", p.at))?;
        p.skip_ws();
        if p.at != bytes.len() {
            return Err(format!("not valid JSON: trailing characters at byte {}", p.at));
        }
        Ok(v)
    }

    /// Renders as JSON (bytes as base64, UUIDs and addresses as strings, dates/times as numbers).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        json::write(&mut out, self);
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

/// A JSON reader and writer for [`Value`], without serde's generic machinery: this is the hot path of
/// most transforms.
pub(crate) mod json {
    use std::borrow::Cow;

    use super::{Value, base64, uuid_string};

    /// Arrays and objects nest at most this deep (`serde_json`'s limit: its 128th level is an error).
    const MAX_DEPTH: usize = 127;
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;

    /// Index of the first byte that ends the plain part of a JSON string (`"`, `\` or a control
    /// character), eight bytes at a time; `bytes.len()` if none.
    fn plain_len(bytes: &[u8]) -> usize {
        let mut i = 0;
        while i + 8 <= bytes.len() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[i..i + 8]);
            let x = u64::from_le_bytes(word);
            let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
            let hits = zero(x ^ (LO * u64::from(b'"')))
                | zero(x ^ (LO * u64::from(b'\\')))
                | (x.wrapping_sub(LO * 0x20) & !x & HI);
            if hits != 0 {
                return i + (hits.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        while i < bytes.len() && !matches!(bytes[i], b'"' | b'\\' | 0..=0x1f) {
            i += 1;
        }
        i
    }

    pub(crate) struct Parser<'a> {
        pub(crate) text: &'a str,
        pub(crate) bytes: &'a [u8],
        pub(crate) at: usize,
        pub(crate) depth: usize,
    }

    impl<'a> Parser<'a> {
        /// A field name: borrowed when it has no escapes.
        pub(crate) fn key(&mut self) -> Result<Cow<'a, str>, &'static str> {
            let start = self.at;
            let plain = start + 1 + plain_len(&self.bytes[start + 1..]);
            if self.bytes.get(plain) == Some(&b'"') {
                let name = self.text.get(start + 1..plain).ok_or("invalid UTF-8")?;
                self.at = plain + 1;
                return Ok(Cow::Borrowed(name));
            }
            self.string().map(Cow::Owned)
        }

        /// Checks a value as [`Parser::value`] does, without building it.
        pub(crate) fn skip(&mut self) -> Result<(), &'static str> {
            match self.peek().ok_or("unexpected end")? {
                b'{' => self.members(|p| {
                    p.skip_string()?;
                    p.colon()?;
                    p.skip()
                }),
                b'[' => self.items(Self::skip),
                b'"' => self.skip_string(),
                b't' => self.expect(b"true", Value::Null).map(drop),
                b'f' => self.expect(b"false", Value::Null).map(drop),
                b'n' => self.expect(b"null", Value::Null).map(drop),
                b'-' | b'0'..=b'9' => self.skip_number(),
                _ => Err("unexpected character"),
            }
        }

        /// Checks a number by JSON's grammar, as [`Parser::number`] reads it.
        fn skip_number(&mut self) -> Result<(), &'static str> {
            let digits = |p: &mut Self| {
                let from = p.at;
                while let Some(b'0'..=b'9') = p.peek() {
                    p.at += 1;
                }
                p.at - from
            };
            if self.peek() == Some(b'-') {
                self.at += 1;
            }
            let int_start = self.at;
            let int_digits = digits(self);
            if int_digits == 0 || (int_digits > 1 && self.bytes[int_start] == b'0') {
                return Err("bad number");
            }
            if self.peek() == Some(b'.') {
                self.at += 1;
                if digits(self) == 0 {
                    return Err("bad number");
                }
            }
            if let Some(b'e' | b'E') = self.peek() {
                self.at += 1;
                if let Some(b'+' | b'-') = self.peek() {
                    self.at += 1;
                }
                if digits(self) == 0 {
                    return Err("bad number");
                }
            }
            Ok(())
        }

        /// Checks a string; only one with escapes is decoded (to check them).
        fn skip_string(&mut self) -> Result<(), &'static str> {
            let start = self.at;
            let plain = start + 1 + plain_len(&self.bytes[start + 1..]);
            if self.bytes.get(plain) == Some(&b'"') {
                self.at = plain + 1;
                return Ok(());
            }
            self.string().map(drop)
        }

        pub(crate) fn skip_ws(&mut self) {
            while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
                self.at += 1;
            }
        }

        fn peek(&self) -> Option<u8> {
            self.bytes.get(self.at).copied()
        }

        fn expect(&mut self, word: &[u8], v: Value) -> Result<Value, &'static str> {
            if self.bytes[self.at..].starts_with(word) {
                self.at += word.len();
                Ok(v)
            } else {
                Err("unexpected character")
            }
        }

        pub(crate) fn value(&mut self) -> Result<Value, &'static str> {
            match self.peek().ok_or("unexpected end")? {
                b'{' => self.object(),
                b'[' => self.array(),
                b'"' => self.string().map(Value::Text),
                b't' => self.expect(b"true", Value::Bool(true)),
                b'f' => self.expect(b"false", Value::Bool(false)),
                b'n' => self.expect(b"null", Value::Null),
                b'-' | b'0'..=b'9' => self.number(),
                _ => Err("unexpected character"),
            }
        }

        fn nested(&mut self) -> Result<(), &'static str> {
            self.depth += 1;
            if self.depth > MAX_DEPTH { Err("nested too deeply") } else { Ok(()) }
        }

        fn object(&mut self) -> Result<Value, &'static str> {
            let mut fields = Vec::with_capacity(12);
            self.members(|p| {
                let key = p.string()?;
                p.colon()?;
                fields.push((key, p.value()?));
                Ok(())
            })?;
            Ok(Value::Struct(fields))
        }

        fn array(&mut self) -> Result<Value, &'static str> {
            let mut items = Vec::new();
            self.items(|p| {
                items.push(p.value()?);
                Ok(())
            })?;
            Ok(Value::List(items))
        }

        /// An object at `{`: `member` reads each `"name": value` (the parser at its name).
        pub(crate) fn members(
            &mut self,
            mut member: impl FnMut(&mut Self) -> Result<(), &'static str>,
        ) -> Result<(), &'static str> {
            self.nested()?;
            self.at += 1;
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.at += 1;
                self.depth -= 1;
                return Ok(());
            }
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err("expected a field name");
                }
                member(self)?;
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        self.depth -= 1;
                        return Ok(());
                    }
                    _ => return Err("expected ',' or '}'"),
                }
            }
        }

        /// An array at `[`: `item` reads each element (the parser at its first character).
        fn items(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), &'static str>) -> Result<(), &'static str> {
            self.nested()?;
            self.at += 1;
            self.skip_ws();
            if self.peek() == Some(b']') {
                self.at += 1;
                self.depth -= 1;
                return Ok(());
            }
            loop {
                self.skip_ws();
                item(self)?;
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b']') => {
                        self.at += 1;
                        self.depth -= 1;
                        return Ok(());
                    }
                    _ => return Err("expected ',' or ']'"),
                }
            }
        }

        /// The `:` after a field name, with the spaces around it.
        pub(crate) fn colon(&mut self) -> Result<(), &'static str> {
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err("expected ':'");
            }
            self.at += 1;
            self.skip_ws();
            Ok(())
        }

        fn string(&mut self) -> Result<String, &'static str> {
            self.at += 1;
            let start = self.at;
            // Fast path: no escapes.
            self.at += plain_len(&self.bytes[self.at..]);
            match self.bytes.get(self.at) {
                None => return Err("unterminated string"),
                Some(b'"') => {
                    let s = self.text.get(start..self.at).ok_or("invalid UTF-8")?;
                    self.at += 1;
                    return Ok(s.to_string());
                }
                Some(b'\\') => {}
                Some(_) => return Err("control character in a string"),
            }
            let mut out: Vec<u8> = self.bytes[start..self.at].to_vec();
            loop {
                let b = *self.bytes.get(self.at).ok_or("unterminated string")?;
                self.at += 1;
                match b {
                    b'"' => return String::from_utf8(out).map_err(|_| "invalid UTF-8"),
                    b'\\' => {
                        let e = *self.bytes.get(self.at).ok_or("unterminated string")?;
                        self.at += 1;
                        match e {
                            b'"' | b'\\' | b'/' => out.push(e),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            b'n' => out.push(b'\n'),
                            b'r' => out.push(b'\r'),
                            b't' => out.push(b'\t'),
                            b'u' => {
                                let mut c = self.hex4()?;
                                if (0xD800..0xDC00).contains(&c) {
                                    if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                                        return Err("lone surrogate");
                                    }
                                    self.at += 2;
                                    let low = self.hex4()?;
                                    if !(0xDC00..0xE000).contains(&low) {
                                        return Err("lone surrogate");
                                    }
                                    c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
                                }
                                let ch = char::from_u32(c).ok_or("invalid escape")?;
                                let mut buf = [0u8; 4];
                                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            }
                            _ => return Err("invalid escape"),
                        }
                    }
                    0..=0x1f => return Err("control character in a string"),
                    _ => out.push(b),
                }
            }
        }

        fn hex4(&mut self) -> Result<u32, &'static str> {
            let digits = self.bytes.get(self.at..self.at + 4).ok_or("short \\u escape")?;
            let text = std::str::from_utf8(digits).map_err(|_| "bad \\u escape")?;
            self.at += 4;
            u32::from_str_radix(text, 16).map_err(|_| "bad \\u escape")
        }

        /// A number, by JSON's grammar (no leading zeros; digits after `.` and in an exponent).
        fn number(&mut self) -> Result<Value, &'static str> {
            let start = self.at;
            let negative = self.peek() == Some(b'-');
            if negative {
                self.at += 1;
            }
            // Digits and a fraction go into one mantissa; most numbers need nothing more.
            let mut mantissa = 0u64;
            let mut digits = |p: &mut Self| {
                let from = p.at;
                while let Some(b @ b'0'..=b'9') = p.peek() {
                    mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
                    p.at += 1;
                }
                p.at - from
            };
            let int_start = self.at;
            let int_digits = digits(self);
            if int_digits == 0 || (int_digits > 1 && self.bytes[int_start] == b'0') {
                return Err("bad number");
            }
            let fraction = if self.peek() == Some(b'.') {
                self.at += 1;
                match digits(self) {
                    0 => return Err("bad number"),
                    n => Some(n),
                }
            } else {
                None
            };
            let exponent = matches!(self.peek(), Some(b'e' | b'E'));
            if exponent {
                self.at += 1;
                if let Some(b'+' | b'-') = self.peek() {
                    self.at += 1;
                }
                let from = self.at;
                while let Some(b'0'..=b'9') = self.peek() {
                    self.at += 1;
                }
                if self.at == from {
                    return Err("bad number");
                }
            }
            if !exponent && int_digits + fraction.unwrap_or(0) <= 18 {
                match fraction {
                    None => {
                        let v = mantissa as i64;
                        return Ok(Value::Int64(if negative { -v } else { v }));
                    }
                    // Exact: the mantissa and 10^f are exactly representable (Clinger's fast path).
                    Some(f @ 1..=15) if mantissa < (1 << 53) => {
                        let v = mantissa as f64 / POW10[f];
                        return Ok(Value::Float64(if negative { -v } else { v }));
                    }
                    Some(_) => {}
                }
            }
            let text = self.text.get(start..self.at).ok_or("bad number")?;
            if fraction.is_none()
                && !exponent
                && let Ok(i) = text.parse::<i64>()
            {
                return Ok(Value::Int64(i));
            }
            text.parse::<f64>().map(Value::Float64).map_err(|_| "bad number")
        }
    }

    const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

    pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
        let bytes = s.as_bytes();
        out.push(b'"');
        // Most strings need no escaping: copy them in one go.
        if plain_len(bytes) == bytes.len() {
            out.extend_from_slice(bytes);
            out.push(b'"');
            return;
        }
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f => b"",
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i]);
            if escape.is_empty() {
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
            } else {
                out.extend_from_slice(escape);
            }
            start = i + 1;
        }
        out.extend_from_slice(&bytes[start..]);
        out.push(b'"');
    }

    fn write_int(out: &mut Vec<u8>, v: i64) {
        let mut buf = [0u8; 20];
        let mut n = v.unsigned_abs();
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            out.push(b'-');
        }
        out.extend_from_slice(&buf[at..]);
    }

    fn write_float(out: &mut Vec<u8>, v: f64) {
        if !v.is_finite() {
            out.extend_from_slice(b"null");
            return;
        }
        // serde_json's shortest round-trip formatting (much faster than core::fmt for floats).
        let _ = serde_json::to_writer(&mut *out, &v);
    }

    pub(crate) fn write(out: &mut Vec<u8>, v: &Value) {
        match v {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Int8(i) => write_int(out, (*i).into()),
            Value::Int16(i) => write_int(out, (*i).into()),
            Value::Int32(i) | Value::Date(i) => write_int(out, (*i).into()),
            Value::Int64(i) | Value::Time(i) | Value::Timestamp(i) => write_int(out, *i),
            Value::Float32(f) => write_float(out, (*f).into()),
            Value::Float64(f) => write_float(out, *f),
            Value::Text(t) => write_str(out, t),
            Value::Bytes(b) | Value::Varint(b) | Value::Decimal { unscaled: b, .. } => write_str(out, &base64(b)),
            Value::Uuid(u) | Value::Timeuuid(u) => write_str(out, &uuid_string(*u)),
            Value::Inet(ip) => write_str(out, &ip.to_string()),
            Value::Duration { months, days, nanos } => write_str(out, &format!("{months}mo{days}d{nanos}ns")),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(out, item);
                }
                out.push(b']');
            }
            Value::Map(entries) => {
                out.push(b'{');
                for (i, (k, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    match k {
                        Value::Text(t) => write_str(out, t),
                        other => write_str(out, &other.to_string()),
                    }
                    out.push(b':');
                    write(out, item);
                }
                out.push(b'}');
            }
            Value::Struct(fields) => {
                out.push(b'{');
                for (i, (k, item)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k);
                    out.push(b':');
                    write(out, item);
                }
                out.push(b'}');
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::super::Value;
        use super::plain_len;

        #[test]
        fn plain_len_finds_the_first_special_byte_at_every_position() {
            for len in 0..40 {
                let base: Vec<u8> = (0..len).map(|i| if i % 3 == 0 { 0xC3 } else { b'a' + (i % 26) as u8 }).collect();
                assert_eq!(plain_len(&base), len);
                for at in 0..len {
                    for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                        let mut b = base.clone();
                        b[at] = special;
                        assert_eq!(plain_len(&b), at, "len {len}, {special:#x} at {at}");
                    }
                }
            }
        }

        #[test]
        fn round_trips_and_agrees_with_serde_json() {
            let text = r#"{"a":1,"b":-2.5,"c":"x\"y\\z\n\u00e9\ud83d\ude00","d":[true,false,null],"e":{},"f":[],"g":1e3,"h":20.0,"i":"\u0001"}"#;
            let v = Value::from_json(text.as_bytes()).unwrap();
            assert_eq!(v["a"], Value::Int64(1));
            assert_eq!(v["c"].as_str(), Some("x\"y\\z\né😀"));
            assert_eq!(v["g"], Value::Float64(1000.0));
            let ours: serde_json::Value = serde_json::from_slice(&v.to_json()).unwrap();
            let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs);
            for (text, want) in [
                ("0.1", 0.1),
                ("-20.375", -20.375),
                ("1013.25", 1013.25),
                ("123456789.123456", 123456789.123456),
                ("1e-7", 1e-7),
                ("2.5E+3", 2500.0),
                ("0.30000000000000004", 0.30000000000000004),
            ] {
                assert_eq!(Value::from_json(text.as_bytes()).unwrap(), Value::Float64(want), "{text}");
            }
            assert_eq!(Value::from_json(b"-9223372036854775808").unwrap(), Value::Int64(i64::MIN));
            assert_eq!(Value::from_json(b"18446744073709551616").unwrap(), Value::Float64(18446744073709551616.0));
            for bad in ["{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "{\"a\":1} x", "\"\\x\"", "1.2.3e", "-", "1.", "-.5"]
            {
                assert!(Value::from_json(bad.as_bytes()).is_err(), "{bad}");
            }
        }
    }
}
