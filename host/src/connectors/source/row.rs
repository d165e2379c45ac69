//! Cassandra rows as Connect data: each CQL type's Connect schema (for JsonConverter's envelope)
//! and its value in JSON.
//!
//! | CQL | Connect |
//! |---|---|
//! | text, varchar, ascii, uuid, timeuuid, inet | string |
//! | tinyint, smallint, int, bigint, counter | int8, int16, int32, int64 |
//! | float, double, boolean | float32, float64, boolean |
//! | blob | bytes (base64 in JSON) |
//! | timestamp | int64 `org.apache.kafka.connect.data.Timestamp` (ms) |
//! | date | int32 `org.apache.kafka.connect.data.Date` (days since 1970-01-01) |
//! | time | int64, nanoseconds since midnight (Connect's Time has only milliseconds) |
//! | decimal, varint | string, exact (CQL decimals have a scale per value, Connect's one per schema) |
//! | duration | string, CQL's `1mo2d3ns` form |
//! | list, set, vector | array |
//! | map | map (an array of `[key, value]` pairs in the envelope when the key is not text) |
//! | tuple | struct with fields `field1`, `field2`, … |
//! | user-defined type | struct with the type's fields |
//!
//! With `connect.cassandra.mapping.collection.to.json=true` (Lenses' default) collections are
//! JSON text instead (a string schema).

use std::collections::HashMap;

use base64::Engine;
use scylla::value::CqlValue;
use serde_json::{Map, Value, json};

/// A CQL type, as `system_schema` spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CqlType {
    /// A type without parameters (`int`, `text`, …).
    Native(String),
    /// `list<t>`, `set<t>`, `vector<t, n>`.
    List(Box<CqlType>),
    /// `map<k, v>`.
    Map(Box<CqlType>, Box<CqlType>),
    /// `tuple<a, b, …>`.
    Tuple(Vec<CqlType>),
    /// A user-defined type of the keyspace, by name.
    Udt(String),
}

const NATIVE: &[&str] = &[
    "ascii",
    "bigint",
    "blob",
    "boolean",
    "counter",
    "date",
    "decimal",
    "double",
    "duration",
    "float",
    "inet",
    "int",
    "smallint",
    "text",
    "time",
    "timestamp",
    "timeuuid",
    "tinyint",
    "uuid",
    "varchar",
    "varint",
];

impl CqlType {
    /// Parses type text such as `frozen<map<text, list<int>>>` (`frozen` is dropped).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (t, rest) = Self::parse_at(text.trim())?;
        if !rest.trim().is_empty() {
            return Err(format!("unexpected '{rest}' after a type in '{text}'"));
        }
        Ok(t)
    }

    fn parse_at(s: &str) -> Result<(Self, &str), String> {
        let s = s.trim_start();
        let end = s.find(['<', '>', ',']).unwrap_or(s.len());
        let name = s[..end].trim().trim_matches('"').to_string();
        let mut rest = &s[end..];
        let mut params = Vec::new();
        if let Some(r) = rest.strip_prefix('<') {
            rest = r;
            loop {
                if name == "vector" && !params.is_empty() {
                    // vector<t, n>: skip the dimension.
                    let close = rest.find('>').ok_or("an unclosed '<'")?;
                    rest = &rest[close..];
                } else {
                    let (p, r) = Self::parse_at(rest)?;
                    params.push(p);
                    rest = r.trim_start();
                }
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                } else if let Some(r) = rest.strip_prefix('>') {
                    rest = r;
                    break;
                } else {
                    return Err(format!("expected ',' or '>' in a type, found '{rest}'"));
                }
            }
        }
        let lower = name.to_ascii_lowercase();
        let t = match (lower.as_str(), params.len()) {
            ("frozen", 1) => params.pop().expect("one"),
            ("list" | "set" | "vector", 1) => Self::List(Box::new(params.pop().expect("one"))),
            ("map", 2) => {
                let v = params.pop().expect("two");
                Self::Map(Box::new(params.pop().expect("two")), Box::new(v))
            }
            ("tuple", n) if n > 0 => Self::Tuple(params),
            (n, 0) if NATIVE.contains(&n) => Self::Native(n.to_string()),
            (_, 0) if !name.is_empty() => Self::Udt(name),
            _ => return Err(format!("'{s}' is not a CQL type")),
        };
        Ok((t, rest))
    }

    fn is_collection(&self) -> bool {
        matches!(self, Self::List(_) | Self::Map(..))
    }
}

/// The fields of the keyspace's user-defined types, by type name.
pub type Udts = HashMap<String, Vec<(String, CqlType)>>;

/// How rows become Connect data.
#[derive(Debug, Clone, Default)]
pub struct RowShape {
    /// Collections as JSON text (`connect.cassandra.mapping.collection.to.json`).
    pub collections_as_json: bool,
    /// The keyspace's user-defined types.
    pub udts: Udts,
}

impl RowShape {
    /// The Connect schema of a column type (JsonConverter's form), optional as every column is.
    pub fn schema(&self, t: &CqlType) -> Value {
        let mut s = self.schema_inner(t);
        s["optional"] = Value::Bool(true);
        s
    }

    fn schema_inner(&self, t: &CqlType) -> Value {
        if self.collections_as_json && t.is_collection() {
            return json!({"type": "string"});
        }
        match t {
            CqlType::Native(n) => match n.as_str() {
                "tinyint" => json!({"type": "int8"}),
                "smallint" => json!({"type": "int16"}),
                "int" => json!({"type": "int32"}),
                "bigint" | "counter" => json!({"type": "int64"}),
                "float" => json!({"type": "float"}),
                "double" => json!({"type": "double"}),
                "boolean" => json!({"type": "boolean"}),
                "blob" => json!({"type": "bytes"}),
                "timestamp" => {
                    json!({"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1})
                }
                "date" => json!({"type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1}),
                "time" => json!({"type": "int64"}),
                _ => json!({"type": "string"}),
            },
            CqlType::List(item) => json!({"type": "array", "items": self.schema(item)}),
            CqlType::Map(k, v) => json!({"type": "map", "keys": self.schema(k), "values": self.schema(v)}),
            CqlType::Tuple(items) => {
                let fields: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .map(|(i, t)| with_field(self.schema(t), &format!("field{}", i + 1)))
                    .collect();
                json!({"type": "struct", "fields": fields})
            }
            CqlType::Udt(name) => {
                let fields: Vec<Value> = self
                    .udts
                    .get(name)
                    .map(|fs| fs.iter().map(|(f, t)| with_field(self.schema(t), f)).collect())
                    .unwrap_or_default();
                json!({"type": "struct", "name": name, "fields": fields})
            }
        }
    }

    /// The struct schema of a row (`name`: Lenses' `<keyspace>.<table>`).
    pub fn struct_schema(&self, name: &str, columns: &[(String, CqlType)]) -> Value {
        let fields: Vec<Value> = columns.iter().map(|(c, t)| with_field(self.schema(t), c)).collect();
        json!({"type": "struct", "name": name, "optional": false, "fields": fields})
    }

    /// A column value in JSON. `enveloped`: JsonConverter's envelope is written, so a map with
    /// keys that are not text is an array of `[key, value]` pairs, as Connect writes it.
    pub fn value(&self, t: &CqlType, v: Option<&CqlValue>, enveloped: bool) -> Value {
        let Some(v) = v else { return Value::Null };
        if self.collections_as_json && t.is_collection() {
            return Value::String(self.value_inner(t, v, false).to_string());
        }
        self.value_inner(t, v, enveloped)
    }

    fn value_inner(&self, t: &CqlType, v: &CqlValue, enveloped: bool) -> Value {
        let item = |i: usize| -> CqlType {
            match t {
                CqlType::List(item) => (**item).clone(),
                CqlType::Tuple(items) => items.get(i).cloned().unwrap_or(CqlType::Native("text".into())),
                _ => CqlType::Native("text".into()),
            }
        };
        match v {
            CqlValue::Ascii(s) | CqlValue::Text(s) => Value::String(s.clone()),
            CqlValue::Boolean(b) => Value::Bool(*b),
            CqlValue::Blob(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
            CqlValue::Counter(c) => json!(c.0),
            CqlValue::Decimal(d) => {
                let (bytes, scale) = d.as_signed_be_bytes_slice_and_exponent();
                Value::String(decimal_text(bytes, scale))
            }
            CqlValue::Varint(i) => Value::String(decimal_text(i.as_signed_bytes_be_slice(), 0)),
            CqlValue::Date(d) => json!(i64::from(d.0) - (1_i64 << 31)),
            CqlValue::Double(d) => json!(d),
            CqlValue::Float(f) => json!(f),
            CqlValue::Duration(d) => Value::String(format!("{}mo{}d{}ns", d.months, d.days, d.nanoseconds)),
            CqlValue::Empty => Value::Null,
            CqlValue::Int(i) => json!(i),
            CqlValue::BigInt(i) => json!(i),
            CqlValue::SmallInt(i) => json!(i),
            CqlValue::TinyInt(i) => json!(i),
            CqlValue::Timestamp(ts) => json!(ts.0),
            CqlValue::Time(t) => json!(t.0),
            CqlValue::Inet(a) => Value::String(a.to_string()),
            CqlValue::Uuid(u) => Value::String(u.to_string()),
            CqlValue::Timeuuid(u) => Value::String(u.to_string()),
            CqlValue::List(items) | CqlValue::Set(items) | CqlValue::Vector(items) => {
                let it = item(0);
                Value::Array(items.iter().map(|x| self.value(&it, Some(x), enveloped)).collect())
            }
            CqlValue::Map(pairs) => {
                let (kt, vt) = match t {
                    CqlType::Map(k, v) => ((**k).clone(), (**v).clone()),
                    _ => (CqlType::Native("text".into()), CqlType::Native("text".into())),
                };
                let text_keys = matches!(&kt, CqlType::Native(n) if matches!(n.as_str(), "text" | "varchar" | "ascii"));
                if enveloped && !text_keys {
                    Value::Array(
                        pairs
                            .iter()
                            .map(|(k, v)| json!([self.value(&kt, Some(k), true), self.value(&vt, Some(v), true)]))
                            .collect(),
                    )
                } else {
                    let mut m = Map::new();
                    for (k, v) in pairs {
                        let key = match self.value(&kt, Some(k), enveloped) {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        m.insert(key, self.value(&vt, Some(v), enveloped));
                    }
                    Value::Object(m)
                }
            }
            CqlValue::Tuple(items) => {
                let mut m = Map::new();
                for (i, x) in items.iter().enumerate() {
                    m.insert(format!("field{}", i + 1), self.value(&item(i), x.as_ref(), enveloped));
                }
                Value::Object(m)
            }
            CqlValue::UserDefinedType { name, fields, .. } => {
                let types = self.udts.get(name);
                let mut m = Map::new();
                for (f, x) in fields {
                    let ft = types
                        .and_then(|ts| ts.iter().find(|(n, _)| n == f))
                        .map(|(_, t)| t.clone())
                        .unwrap_or(CqlType::Native("text".into()));
                    m.insert(f.clone(), self.value(&ft, x.as_ref(), enveloped));
                }
                Value::Object(m)
            }
            other => Value::String(other.to_string()),
        }
    }
}

fn with_field(mut schema: Value, name: &str) -> Value {
    schema["field"] = Value::String(name.to_string());
    schema
}

/// A two's complement big-endian integer scaled by 10^-scale, as exact decimal text.
pub fn decimal_text(bytes: &[u8], scale: i32) -> String {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    // Magnitude, big-endian base 256.
    let mut mag: Vec<u8> = if negative {
        let mut m: Vec<u8> = bytes.iter().map(|b| !b).collect();
        for b in m.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        m
    } else {
        bytes.to_vec()
    };
    let mut digits = Vec::new();
    while mag.iter().any(|b| *b != 0) {
        let mut rem = 0u32;
        for b in mag.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    let mut text = String::from_utf8(digits).expect("ascii digits");
    if scale > 0 {
        let scale = scale as usize;
        if text.len() <= scale {
            text = format!("{}{text}", "0".repeat(scale - text.len() + 1));
        }
        text.insert(text.len() - scale, '.');
    } else if scale < 0 {
        text.push_str(&"0".repeat(scale.unsigned_abs() as usize));
    }
    if negative { format!("-{text}") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scylla::value::{CqlDate, CqlTimestamp};

    #[test]
    fn types_parse() {
        assert_eq!(CqlType::parse("int").unwrap(), CqlType::Native("int".into()));
        assert_eq!(
            CqlType::parse("frozen<map<text, list<int>>>").unwrap(),
            CqlType::Map(
                Box::new(CqlType::Native("text".into())),
                Box::new(CqlType::List(Box::new(CqlType::Native("int".into()))))
            )
        );
        assert_eq!(
            CqlType::parse("tuple<int, frozen<address>>").unwrap(),
            CqlType::Tuple(vec![CqlType::Native("int".into()), CqlType::Udt("address".into())])
        );
        assert_eq!(
            CqlType::parse("vector<float, 3>").unwrap(),
            CqlType::List(Box::new(CqlType::Native("float".into())))
        );
        assert!(CqlType::parse("map<int>").is_err());
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal_text(&[0x30, 0x39], 2), "123.45");
        assert_eq!(decimal_text(&[0xcf, 0xc7], 2), "-123.45");
        assert_eq!(decimal_text(&[0x05], 3), "0.005");
        assert_eq!(decimal_text(&[0x00], 0), "0");
        assert_eq!(decimal_text(&[0x01, 0x00], -2), "25600");
        assert_eq!(decimal_text(&[0xff], 0), "-1");
    }

    #[test]
    fn values_and_schemas() {
        let shape = RowShape::default();
        let ts = CqlType::Native("timestamp".into());
        assert_eq!(
            shape.value(&ts, Some(&CqlValue::Timestamp(CqlTimestamp(1_700_000_000_000))), true),
            json!(1_700_000_000_000_i64)
        );
        assert_eq!(shape.schema(&ts)["name"], "org.apache.kafka.connect.data.Timestamp");
        let date = CqlType::Native("date".into());
        assert_eq!(shape.value(&date, Some(&CqlValue::Date(CqlDate((1 << 31) + 3))), true), json!(3));
        let map = CqlType::parse("map<int, text>").unwrap();
        let v = CqlValue::Map(vec![(CqlValue::Int(1), CqlValue::Text("a".into()))]);
        assert_eq!(shape.value(&map, Some(&v), true), json!([[1, "a"]]));
        assert_eq!(shape.value(&map, Some(&v), false), json!({"1": "a"}));
        let as_json = RowShape { collections_as_json: true, ..RowShape::default() };
        assert_eq!(as_json.value(&map, Some(&v), true), json!("{\"1\":\"a\"}"));
        assert_eq!(as_json.schema(&map)["type"], "string");
        assert_eq!(shape.value(&map, None, true), Value::Null);
        let tuple = CqlType::parse("tuple<int, text>").unwrap();
        let tv = CqlValue::Tuple(vec![Some(CqlValue::Int(7)), None]);
        assert_eq!(shape.value(&tuple, Some(&tv), true), json!({"field1": 7, "field2": null}));
        assert_eq!(shape.schema(&tuple)["fields"][1]["field"], "field2");
    }
}
