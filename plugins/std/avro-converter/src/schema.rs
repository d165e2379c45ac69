//! Avro schemas: parsed from their JSON text, mapped to Kafka Connect schemas as Confluent's
//! `AvroData` does, and generated from Connect schemas for writing.

use std::collections::HashMap;

use connect_data::{DATE, DECIMAL, TIME, TIMESTAMP, connect_type as schema_type, schema_name};
use spillway_plugin_sdk::Value;

/// A parsed Avro schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Avro {
    Null,
    Boolean,
    /// `logicalType` date or time-millis, when given.
    Int(Option<&'static str>),
    /// `logicalType` timestamp-millis, when given.
    Long(Option<&'static str>),
    Float,
    Double,
    /// (precision, scale) for `logicalType: decimal`.
    Bytes(Option<(u32, i32)>),
    String,
    Record {
        name: String,
        fields: Vec<(String, Avro)>,
    },
    Enum {
        name: String,
        symbols: Vec<String>,
    },
    Array(Box<Avro>),
    Map(Box<Avro>),
    Union(Vec<Avro>),
    Fixed {
        name: String,
        size: usize,
        decimal: Option<(u32, i32)>,
    },
}

/// Parses a schema's JSON text.
pub fn parse(text: &str) -> Result<Avro, String> {
    let json = Value::from_json(text.as_bytes()).map_err(|e| format!("the Avro schema is not JSON: {e}"))?;
    let mut names = HashMap::new();
    parse_value(&json, "", &mut names, 0)
}

fn full_name(json: &Value, namespace: &str) -> (String, String) {
    let name = json.get("name").and_then(Value::as_str).unwrap_or("");
    let ns = json.get("namespace").and_then(Value::as_str).unwrap_or(namespace);
    if name.contains('.') || ns.is_empty() {
        let ns = name.rsplit_once('.').map(|(n, _)| n).unwrap_or(ns);
        (name.to_string(), ns.to_string())
    } else {
        (format!("{ns}.{name}"), ns.to_string())
    }
}

fn parse_value(json: &Value, namespace: &str, names: &mut HashMap<String, Avro>, depth: usize) -> Result<Avro, String> {
    if depth > 64 {
        return Err("the Avro schema is nested deeper than 64 levels (or is recursive)".into());
    }
    match json {
        Value::Text(name) => primitive(name).map(Ok).unwrap_or_else(|| {
            let qualified =
                if name.contains('.') || namespace.is_empty() { name.clone() } else { format!("{namespace}.{name}") };
            names
                .get(&qualified)
                .or_else(|| names.get(name.as_str()))
                .cloned()
                .ok_or_else(|| format!("the Avro schema names type '{name}', which it does not define"))
        }),
        Value::List(branches) => Ok(Avro::Union(
            branches.iter().map(|b| parse_value(b, namespace, names, depth + 1)).collect::<Result<_, _>>()?,
        )),
        Value::Struct(_) => {
            let typ = json.get("type").ok_or("an Avro schema object has no type")?;
            let logical = json.get("logicalType").and_then(Value::as_str);
            let decimal = || {
                (logical == Some("decimal")).then(|| {
                    let precision = json.get("precision").and_then(Value::as_i64).unwrap_or(0) as u32;
                    (precision, json.get("scale").and_then(Value::as_i64).unwrap_or(0) as i32)
                })
            };
            let Value::Text(t) = typ else { return parse_value(typ, namespace, names, depth + 1) };
            Ok(match t.as_str() {
                "int" => Avro::Int(match logical {
                    Some("date") => Some(DATE),
                    Some("time-millis") => Some(TIME),
                    _ => None,
                }),
                "long" => Avro::Long(match logical {
                    Some("timestamp-millis") => Some(TIMESTAMP),
                    _ => None,
                }),
                "bytes" => Avro::Bytes(decimal()),
                "record" | "error" => {
                    let (name, ns) = full_name(json, namespace);
                    let Some(Value::List(fields)) = json.get("fields") else {
                        return Err(format!("Avro record '{name}' has no fields list"));
                    };
                    let mut parsed = Vec::with_capacity(fields.len());
                    for f in fields {
                        let fname = f.get("name").and_then(Value::as_str).ok_or("an Avro record field has no name")?;
                        let ftype = f.get("type").ok_or_else(|| format!("Avro field '{fname}' has no type"))?;
                        parsed.push((fname.to_string(), parse_value(ftype, &ns, names, depth + 1)?));
                    }
                    let record = Avro::Record { name: name.clone(), fields: parsed };
                    names.insert(name, record.clone());
                    record
                }
                "enum" => {
                    let (name, _) = full_name(json, namespace);
                    let symbols = match json.get("symbols") {
                        Some(Value::List(s)) => s.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                        _ => return Err(format!("Avro enum '{name}' has no symbols")),
                    };
                    let e = Avro::Enum { name: name.clone(), symbols };
                    names.insert(name, e.clone());
                    e
                }
                "array" => Avro::Array(Box::new(parse_value(
                    json.get("items").ok_or("an Avro array has no items")?,
                    namespace,
                    names,
                    depth + 1,
                )?)),
                "map" => Avro::Map(Box::new(parse_value(
                    json.get("values").ok_or("an Avro map has no values")?,
                    namespace,
                    names,
                    depth + 1,
                )?)),
                "fixed" => {
                    let (name, _) = full_name(json, namespace);
                    let size = json
                        .get("size")
                        .and_then(Value::as_i64)
                        .ok_or_else(|| format!("Avro fixed '{name}' has no size"))?;
                    let f = Avro::Fixed { name: name.clone(), size: size as usize, decimal: decimal() };
                    names.insert(name, f.clone());
                    f
                }
                other => primitive(other).ok_or_else(|| format!("unknown Avro type '{other}'"))?,
            })
        }
        other => Err(format!("an Avro schema cannot be a {}", other.kind())),
    }
}

fn primitive(name: &str) -> Option<Avro> {
    Some(match name {
        "null" => Avro::Null,
        "boolean" => Avro::Boolean,
        "int" => Avro::Int(None),
        "long" => Avro::Long(None),
        "float" => Avro::Float,
        "double" => Avro::Double,
        "bytes" => Avro::Bytes(None),
        "string" => Avro::String,
        _ => return None,
    })
}

fn connect(typ: &str, optional: bool) -> Value {
    let mut s = Value::object();
    s.insert("type", typ);
    s.insert("optional", optional);
    s
}

fn named(mut s: Value, name: &str) -> Value {
    s.insert("name", name);
    s
}

fn decimal_schema(precision: u32, scale: i32, optional: bool) -> Value {
    let mut s = named(connect("bytes", optional), DECIMAL);
    let mut params = Value::object();
    params.insert("scale", scale.to_string());
    params.insert("connect.decimal.precision", precision.to_string());
    s.insert("parameters", params);
    s
}

/// The union's branches other than null, and whether null is one of them.
pub fn nullable(branches: &[Avro]) -> (Vec<&Avro>, bool) {
    let others: Vec<&Avro> = branches.iter().filter(|b| **b != Avro::Null).collect();
    let has_null = others.len() < branches.len();
    (others, has_null)
}

/// The name Confluent gives a union branch's field in `io.confluent.connect.avro.Union`.
pub fn branch_name(a: &Avro) -> String {
    match a {
        Avro::Null => "null".into(),
        Avro::Boolean => "boolean".into(),
        Avro::Int(_) => "int".into(),
        Avro::Long(_) => "long".into(),
        Avro::Float => "float".into(),
        Avro::Double => "double".into(),
        Avro::Bytes(_) => "bytes".into(),
        Avro::String => "string".into(),
        Avro::Record { name, .. } | Avro::Enum { name, .. } | Avro::Fixed { name, .. } => {
            name.rsplit('.').next().unwrap_or(name).to_string()
        }
        Avro::Array(_) => "array".into(),
        Avro::Map(_) => "map".into(),
        Avro::Union(_) => "union".into(),
    }
}

/// The Connect schema of an Avro schema (as Confluent's `AvroData.toConnectSchema`).
pub fn to_connect(a: &Avro, optional: bool) -> Value {
    match a {
        Avro::Null => connect("string", true),
        Avro::Boolean => connect("boolean", optional),
        Avro::Int(Some(logical)) => named(connect("int32", optional), logical),
        Avro::Int(None) => connect("int32", optional),
        Avro::Long(Some(logical)) => named(connect("int64", optional), logical),
        Avro::Long(None) => connect("int64", optional),
        Avro::Float => connect("float32", optional),
        Avro::Double => connect("float64", optional),
        Avro::Bytes(Some((p, s))) | Avro::Fixed { decimal: Some((p, s)), .. } => decimal_schema(*p, *s, optional),
        Avro::Bytes(None) => connect("bytes", optional),
        Avro::Fixed { name, size, .. } => {
            let mut s = named(connect("bytes", optional), name);
            let mut params = Value::object();
            params.insert("connect.fixed.size", size.to_string());
            s.insert("parameters", params);
            s
        }
        Avro::String => connect("string", optional),
        Avro::Enum { name, symbols } => {
            let mut s = named(connect("string", optional), name);
            let mut params = Value::object();
            params.insert("io.confluent.connect.avro.Enum", name.as_str());
            for sym in symbols {
                params.insert(format!("io.confluent.connect.avro.Enum.{sym}"), sym.as_str());
            }
            s.insert("parameters", params);
            s
        }
        Avro::Record { name, fields } => {
            let mut s = connect("struct", optional);
            s.insert("name", name.as_str());
            let fields = fields
                .iter()
                .map(|(fname, ftype)| {
                    let mut f = to_connect(ftype, false);
                    f.insert("field", fname.as_str());
                    f
                })
                .collect();
            s.insert("fields", Value::List(fields));
            s
        }
        Avro::Array(items) => {
            let mut s = connect("array", optional);
            s.insert("items", to_connect(items, false));
            s
        }
        Avro::Map(values) => {
            let mut s = connect("map", optional);
            s.insert("keys", connect("string", false));
            s.insert("values", to_connect(values, false));
            s
        }
        Avro::Union(branches) => match nullable(branches) {
            (others, true) if others.len() == 1 => to_connect(others[0], true),
            (others, has_null) => {
                let mut s = named(connect("struct", optional || has_null), "io.confluent.connect.avro.Union");
                let fields = others
                    .iter()
                    .map(|b| {
                        let mut f = to_connect(b, true);
                        f.insert("field", branch_name(b));
                        f
                    })
                    .collect();
                s.insert("fields", Value::List(fields));
                s
            }
        },
    }
}

/// The Avro schema (JSON) for a Connect schema, as Confluent's `AvroData.fromConnectSchema` writes
/// it: optional → a union with null first (default null), unnamed structs `ConnectDefault<n>` in
/// namespace `io.confluent.connect.avro`.
pub fn from_connect(schema: &Value, unnamed: &mut u32) -> Result<Value, String> {
    let base = from_connect_required(schema, unnamed)?;
    Ok(if schema.get("optional").and_then(Value::as_bool).unwrap_or(false) {
        Value::List(vec![Value::Text("null".into()), base])
    } else {
        base
    })
}

fn logical(avro_type: &str, logical: &str) -> Value {
    let mut s = Value::object();
    s.insert("type", avro_type);
    s.insert("logicalType", logical);
    s
}

fn from_connect_required(schema: &Value, unnamed: &mut u32) -> Result<Value, String> {
    let name = schema_name(schema);
    Ok(match (schema_type(schema), name) {
        ("int8" | "int16", _) => Value::Text("int".into()),
        ("int32", Some(DATE)) => logical("int", "date"),
        ("int32", Some(TIME)) => logical("int", "time-millis"),
        ("int32", _) => Value::Text("int".into()),
        ("int64", Some(TIMESTAMP)) => logical("long", "timestamp-millis"),
        ("int64", _) => Value::Text("long".into()),
        ("float32", _) => Value::Text("float".into()),
        ("float64", _) => Value::Text("double".into()),
        ("boolean", _) => Value::Text("boolean".into()),
        ("string", _) => Value::Text("string".into()),
        ("bytes", Some(DECIMAL)) => {
            let params = schema.get("parameters");
            let param = |k: &str| -> i64 {
                params
                    .and_then(|p| p.get(k))
                    .and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_i64()))
                    .unwrap_or(0)
            };
            let mut s = logical("bytes", "decimal");
            let precision = param("connect.decimal.precision");
            s.insert("precision", Value::Int64(if precision > 0 { precision } else { 64 }));
            s.insert("scale", Value::Int64(param("scale")));
            s
        }
        ("bytes", _) => Value::Text("bytes".into()),
        ("array", _) => {
            let mut s = Value::object();
            s.insert("type", "array");
            s.insert("items", from_connect(schema.get("items").ok_or("an array schema has no items")?, unnamed)?);
            s
        }
        ("map", _) => {
            let keys = schema.get("keys").ok_or("a map schema has no keys")?;
            if schema_type(keys) != "string" {
                return Err(format!(
                    "AvroConverter writes maps with string keys only; this one has {} keys",
                    schema_type(keys)
                ));
            }
            let mut s = Value::object();
            s.insert("type", "map");
            s.insert("values", from_connect(schema.get("values").ok_or("a map schema has no values")?, unnamed)?);
            s
        }
        ("struct", _) => {
            let mut s = Value::object();
            s.insert("type", "record");
            match name {
                Some(n) => {
                    s.insert("name", n.rsplit('.').next().unwrap_or(n));
                    if let Some((ns, _)) = n.rsplit_once('.') {
                        s.insert("namespace", ns);
                    }
                }
                None => {
                    *unnamed += 1;
                    let n =
                        if *unnamed == 1 { "ConnectDefault".to_string() } else { format!("ConnectDefault{unnamed}") };
                    s.insert("name", n);
                    s.insert("namespace", "io.confluent.connect.avro");
                }
            }
            let mut fields = Vec::new();
            if let Some(Value::List(given)) = schema.get("fields") {
                for f in given {
                    let fname = f.get("field").and_then(Value::as_str).ok_or("a struct schema field has no name")?;
                    let mut out = Value::object();
                    out.insert("name", fname);
                    let optional = f.get("optional").and_then(Value::as_bool).unwrap_or(false);
                    out.insert("type", from_connect(f, unnamed)?);
                    if optional {
                        out.insert("default", Value::Null);
                    }
                    fields.push(out);
                }
            }
            s.insert("fields", Value::List(fields));
            s
        }
        (other, _) => return Err(format!("AvroConverter cannot write a Connect schema of type '{other}'")),
    })
}
