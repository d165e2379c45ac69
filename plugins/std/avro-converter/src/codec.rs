//! Avro's binary encoding: read against a parsed Avro schema (into typed values shaped as
//! Confluent's `AvroData` shapes them), written from a typed value and its Connect schema.

use connect_data::{DATE, DECIMAL, TIME, TIMESTAMP, connect_type as schema_type, schema_name};
use spillway_plugin_sdk::Value;

use crate::schema::{Avro, branch_name, nullable};

pub struct Reader<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or_else(|| {
            format!("truncated: {n} bytes wanted at byte {}, {} left", self.at, self.bytes.len() - self.at)
        })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn long(&mut self) -> Result<i64, String> {
        let (mut n, mut shift) = (0u64, 0u32);
        loop {
            let b = *self.take(1)?.first().unwrap_or(&0);
            if shift >= 64 {
                return Err("a variable-length integer is longer than 10 bytes".into());
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    fn int(&mut self) -> Result<i32, String> {
        let n = self.long()?;
        i32::try_from(n).map_err(|_| format!("{n} does not fit in an Avro int"))
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.long()?;
        usize::try_from(n).ok().filter(|n| *n <= self.bytes.len()).ok_or_else(|| format!("bad length {n}"))
    }

    /// Reads array and map blocks: calls `item` `count` times per block until the 0 block.
    fn blocks(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), String>) -> Result<(), String> {
        loop {
            let mut count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                count = -count;
                self.long()?; // the block's size in bytes
            }
            if count as usize > self.bytes.len() {
                return Err(format!("bad block count {count}"));
            }
            for _ in 0..count {
                item(self)?;
            }
        }
    }

    pub fn value(&mut self, schema: &Avro, depth: usize) -> Result<Value, String> {
        if depth > 64 {
            return Err("nested deeper than 64 levels".into());
        }
        Ok(match schema {
            Avro::Null => Value::Null,
            Avro::Boolean => Value::Bool(self.take(1)?[0] != 0),
            Avro::Int(Some(l)) if *l == DATE => Value::Date(self.int()?),
            Avro::Int(Some(_)) => Value::Time(i64::from(self.int()?) * 1_000_000),
            Avro::Int(None) => Value::Int32(self.int()?),
            Avro::Long(Some(_)) => Value::Timestamp(self.long()?),
            Avro::Long(None) => Value::Int64(self.long()?),
            Avro::Float => Value::Float32(f32::from_le_bytes(self.take(4)?.try_into().map_err(|_| "float")?)),
            Avro::Double => Value::Float64(f64::from_le_bytes(self.take(8)?.try_into().map_err(|_| "double")?)),
            Avro::Bytes(decimal) => {
                let n = self.len()?;
                let b = self.take(n)?.to_vec();
                match decimal {
                    Some((_, scale)) => Value::Decimal { unscaled: b, scale: *scale },
                    None => Value::Bytes(b),
                }
            }
            Avro::Fixed { size, decimal, .. } => {
                let b = self.take(*size)?.to_vec();
                match decimal {
                    Some((_, scale)) => Value::Decimal { unscaled: b, scale: *scale },
                    None => Value::Bytes(b),
                }
            }
            Avro::String => {
                let n = self.len()?;
                let b = self.take(n)?;
                Value::Text(std::str::from_utf8(b).map_err(|_| "a string that is not UTF-8")?.to_string())
            }
            Avro::Record { fields, .. } => Value::Struct(
                fields
                    .iter()
                    .map(|(name, f)| Ok((name.clone(), self.value(f, depth + 1)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Avro::Enum { name, symbols } => {
                let i = self.int()?;
                let symbol = usize::try_from(i).ok().and_then(|i| symbols.get(i));
                Value::Text(symbol.ok_or_else(|| format!("enum {name} has no symbol {i}"))?.clone())
            }
            Avro::Array(items) => {
                let mut out = Vec::new();
                self.blocks(|r| {
                    out.push(r.value(items, depth + 1)?);
                    Ok(())
                })?;
                Value::List(out)
            }
            Avro::Map(values) => {
                let mut out = Vec::new();
                self.blocks(|r| {
                    let key = r.value(&Avro::String, depth + 1)?;
                    out.push((key, r.value(values, depth + 1)?));
                    Ok(())
                })?;
                Value::Map(out)
            }
            Avro::Union(branches) => {
                let i = self.long()?;
                let branch = usize::try_from(i)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| format!("union branch {i} does not exist"))?;
                let value = self.value(branch, depth + 1)?;
                match nullable(branches) {
                    (others, true) if others.len() == 1 => value,
                    _ if *branch == Avro::Null => Value::Null,
                    (others, _) => Value::Struct(
                        others
                            .iter()
                            .map(|b| {
                                let v = if *b == branch { value.clone() } else { Value::Null };
                                (branch_name(b), v)
                            })
                            .collect(),
                    ),
                }
            }
        })
    }
}

fn long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    long(out, b.len() as i64);
    out.extend_from_slice(b);
}

/// Writes `value` by its Connect `schema`, the way `schema::from_connect` declared it (optional
/// values as the union `[null, T]`).
pub fn write(out: &mut Vec<u8>, value: &Value, schema: &Value, depth: usize) -> Result<(), String> {
    if depth > 64 {
        return Err("nested deeper than 64 levels".into());
    }
    if schema.get("optional").and_then(Value::as_bool).unwrap_or(false) {
        if value.is_null() {
            out.push(0);
            return Ok(());
        }
        out.push(2); // branch 1, zigzag
    } else if value.is_null() {
        return Err(format!("a null value for a required {} field", schema_type(schema)));
    }
    let typ = schema_type(schema);
    let wrong = || format!("a {typ} was expected, found {}", value.kind());
    match (typ, schema_name(schema)) {
        ("int8" | "int16" | "int32", Some(DATE)) => match value {
            Value::Date(d) => long(out, i64::from(*d)),
            other => long(out, other.as_i64().ok_or_else(wrong)?),
        },
        ("int32", Some(TIME)) => match value {
            Value::Time(nanos) => long(out, nanos / 1_000_000),
            other => long(out, other.as_i64().ok_or_else(wrong)?),
        },
        ("int8" | "int16" | "int32" | "int64", s) => {
            let n = match value {
                Value::Timestamp(ms) if s == Some(TIMESTAMP) => *ms,
                other => other.as_i64().ok_or_else(wrong)?,
            };
            long(out, n)
        }
        ("float32", _) => out.extend_from_slice(&(value.as_f64().ok_or_else(wrong)? as f32).to_le_bytes()),
        ("float64", _) => out.extend_from_slice(&value.as_f64().ok_or_else(wrong)?.to_le_bytes()),
        ("boolean", _) => out.push(u8::from(value.as_bool().ok_or_else(wrong)?)),
        ("string", _) => bytes(out, value.as_str().ok_or_else(wrong)?.as_bytes()),
        ("bytes", Some(DECIMAL)) => match value {
            Value::Decimal { unscaled, .. } => bytes(out, unscaled),
            Value::Bytes(b) => bytes(out, b),
            _ => return Err(wrong()),
        },
        ("bytes", _) => match value {
            Value::Bytes(b) => bytes(out, b),
            _ => return Err(wrong()),
        },
        ("array", _) => {
            let items = schema.get("items").ok_or("an array schema has no items")?;
            let (Value::List(list) | Value::Set(list)) = value else { return Err(wrong()) };
            if !list.is_empty() {
                long(out, list.len() as i64);
                for v in list {
                    write(out, v, items, depth + 1)?;
                }
            }
            out.push(0);
        }
        ("map", _) => {
            let values = schema.get("values").ok_or("a map schema has no values")?;
            let pairs: Vec<(&str, &Value)> = match value {
                Value::Map(pairs) => pairs
                    .iter()
                    .map(|(k, v)| Ok((k.as_str().ok_or("a map key that is not text")?, v)))
                    .collect::<Result<_, String>>()?,
                Value::Struct(fields) => fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
                _ => return Err(wrong()),
            };
            if !pairs.is_empty() {
                long(out, pairs.len() as i64);
                for (k, v) in pairs {
                    bytes(out, k.as_bytes());
                    write(out, v, values, depth + 1)?;
                }
            }
            out.push(0);
        }
        ("struct", _) => {
            let Value::Struct(given) = value else { return Err(wrong()) };
            if let Some(Value::List(fields)) = schema.get("fields") {
                for f in fields {
                    let name = f.get("field").and_then(Value::as_str).unwrap_or_default();
                    let v = given.iter().find(|(n, _)| n == name).map(|(_, v)| v).unwrap_or(&Value::Null);
                    write(out, v, f, depth + 1).map_err(|e| format!("field '{name}': {e}"))?;
                }
            }
        }
        (other, _) => return Err(format!("cannot write a Connect schema of type '{other}'")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{from_connect, parse, to_connect};

    #[test]
    fn values_round_trip_through_the_binary_encoding() {
        let connect = Value::from_json(
            br#"{"type":"struct","name":"com.acme.Reading","optional":false,"fields":[
                {"field":"id","type":"int64","optional":false},
                {"field":"name","type":"string","optional":true},
                {"field":"day","type":"int32","name":"org.apache.kafka.connect.data.Date","optional":false},
                {"field":"at","type":"int64","name":"org.apache.kafka.connect.data.Timestamp","optional":false},
                {"field":"tags","type":"array","items":{"type":"string","optional":false},"optional":false},
                {"field":"m","type":"map","keys":{"type":"string","optional":false},"values":{"type":"float64","optional":false},"optional":false}
            ]}"#,
        )
        .unwrap();
        let value = Value::Struct(vec![
            ("id".into(), Value::Int64(-7)),
            ("name".into(), Value::Null),
            ("day".into(), Value::Date(20000)),
            ("at".into(), Value::Timestamp(1_767_225_600_000)),
            ("tags".into(), Value::List(vec![Value::Text("a".into()), Value::Text("b".into())])),
            ("m".into(), Value::Map(vec![(Value::Text("x".into()), Value::Float64(1.5))])),
        ]);
        let avro_json = from_connect(&connect, &mut 0).unwrap();
        let avro = parse(&String::from_utf8(avro_json.to_json()).unwrap()).unwrap();
        let mut out = Vec::new();
        write(&mut out, &value, &connect, 0).unwrap();
        let mut r = Reader { bytes: &out, at: 0 };
        assert_eq!(r.value(&avro, 0).unwrap(), value);
        assert_eq!(r.at, out.len());
        let back = to_connect(&avro, false);
        assert_eq!(back["name"], Value::Text("com.acme.Reading".into()));
        let (Value::List(got), Value::List(want)) = (&back["fields"], &connect["fields"]) else { panic!("fields") };
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            for key in ["field", "type", "optional", "name"] {
                assert_eq!(g[key], w[key], "{key} of {}", w["field"]);
            }
        }

        let mut short = Reader { bytes: &out[..out.len() - 3], at: 0 };
        assert!(short.value(&avro, 0).unwrap_err().contains("truncated"));
    }
}
