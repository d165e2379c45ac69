//! Kafka Connect's `Flatten$Key` / `Flatten$Value`: flattens nested structs (JSON objects
//! schemaless) into one level, naming each field `parent<delimiter>child`. Arrays, maps (with a
//! schema) and other values are left as they are. With a schema, a flattened field is optional when
//! it or any ancestor is, and takes its own default or its ancestors'; the new struct schema keeps
//! the name, version, doc and parameters of the old one (Connect's `SchemaUtil.copySchemaBasics`,
//! which does not copy `optional`: the flattened schema is required). Tombstones pass unchanged.

use connect_std::connect_data::{connect_type, field_value, schema_default, schema_entries, schema_optional};
use connect_std::{Side, Subject};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };
const PURPOSE: &str = "flattening";

struct Flatten {
    delimiter: String,
}

impl Flatten {
    fn name(&self, prefix: &str, field: &str) -> String {
        if prefix.is_empty() { field.to_string() } else { format!("{prefix}{}{field}", self.delimiter) }
    }

    /// Schemaless: nested maps (JSON objects) are flattened, anything else (null, arrays, scalars) is kept.
    fn flatten_map(&self, map: &Value, prefix: &str, out: &mut Value) {
        let entries: Vec<(String, &Value)> = match map {
            Value::Struct(fields) => fields.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Value::Map(entries) => {
                entries.iter().map(|(k, v)| (k.as_str().map_or_else(|| k.to_string(), str::to_string), v)).collect()
            }
            _ => Vec::new(),
        };
        for (key, v) in entries {
            let name = self.name(prefix, &key);
            if matches!(v, Value::Struct(_) | Value::Map(_)) {
                self.flatten_map(v, &name, out);
            } else {
                out.insert(name, v.clone());
            }
        }
    }

    /// With a schema: the flattened field entries and their values, in schema order.
    /// `value` is `None` under a null struct; `optional` and `parent_default` come from ancestors.
    fn flatten_struct(
        &self,
        value: Option<&Value>,
        schema: &Value,
        prefix: &str,
        optional: bool,
        parent_default: Option<&Value>,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<(), Error> {
        for entry in schema_entries(schema) {
            let field = entry.get("field").and_then(Value::as_str).unwrap_or_default();
            let name = self.name(prefix, field);
            let field_optional = optional || schema_optional(entry);
            let default =
                schema_default(entry).or_else(|| parent_default.and_then(|d| d.get(field)).filter(|d| !d.is_null()));
            let field_value = value.map(|v| field_value(v, entry, true)).unwrap_or(Value::Null);
            match connect_type(entry) {
                "struct" => {
                    let inner = matches!(field_value, Value::Struct(_)).then_some(&field_value);
                    self.flatten_struct(inner, entry, &name, field_optional, default, out)?;
                }
                "int8" | "int16" | "int32" | "int64" | "float32" | "float64" | "boolean" | "string" | "bytes"
                | "array" | "map" => {
                    let mut flat = entry.clone();
                    for key in ["field", "optional", "default"] {
                        flat.remove(key);
                    }
                    flat.insert("optional", field_optional);
                    if let Some(d) = default {
                        flat.insert("default", d.clone());
                    }
                    flat.insert("field", name.as_str());
                    if out.iter().any(|(e, _)| e.get("field").and_then(Value::as_str) == Some(name.as_str())) {
                        return Err(Error::new(format!(
                            "Cannot create field because of field name duplication {name}"
                        )));
                    }
                    // A null (or absent) field reads its default, as Struct.get does.
                    let v = match field_value {
                        Value::Null => default.cloned().unwrap_or(Value::Null),
                        v => v,
                    };
                    out.push((flat, v));
                }
                other => {
                    return Err(Error::new(format!(
                        "Flatten transformation does not support {} for record with schemas (for field {name}).",
                        other.to_uppercase()
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Plugin for Flatten {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.Flatten${side}"), "0.1.0")
            .alias(&format!("Flatten${side}"))
            .doc(&format!(
                "Flatten a nested data structure in the record {}, generating names for each field by concatenating the field names at each level with a configurable delimiter character. Applies to Struct when schema present, or a Map in the case of schemaless data. Array fields and their contents are not modified. The default delimiter is '.'.",
                side.to_lowercase()
            ))
            .param(Param::string("delimiter").default(".").doc(
                "Delimiter to insert between field names from the input record when generating field names for the output record",
            ))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        Ok(Self { delimiter: config.get_or("delimiter", ".").to_string() })
    }
}

impl Transform for Flatten {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let Some(subject) = Subject::read(&SIDE.data(record))? else { return Ok(Outcome::Keep) };
        if subject.value.is_null() {
            return Ok(Outcome::Keep);
        }
        let (value, schema) = match &subject.schema {
            None => {
                subject.require_struct(PURPOSE)?;
                let mut out = Value::object();
                self.flatten_map(&subject.value, "", &mut out);
                (out, None)
            }
            Some(schema) => {
                if connect_type(schema) != "struct" || !matches!(subject.value, Value::Struct(_)) {
                    return Err(Error::new(format!(
                        "Only Struct objects supported for [{PURPOSE}], found: {}",
                        connect_type(schema)
                    )));
                }
                let mut flat = Vec::new();
                self.flatten_struct(
                    Some(&subject.value),
                    schema,
                    "",
                    schema_optional(schema),
                    schema_default(schema),
                    &mut flat,
                )?;
                let mut new_schema = Value::object();
                new_schema.insert("type", "struct");
                for key in ["name", "version", "doc", "parameters"] {
                    if let Some(v) = schema.get(key).filter(|v| !v.is_null()) {
                        new_schema.insert(key, v.clone());
                    }
                }
                new_schema.insert("optional", false);
                let (entries, values): (Vec<Value>, Vec<Value>) = flat.into_iter().unzip();
                let fields = entries
                    .iter()
                    .zip(values)
                    .map(|(e, v)| (e.get("field").and_then(Value::as_str).unwrap_or_default().to_string(), v))
                    .collect();
                new_schema.insert("fields", Value::List(entries));
                (Value::Struct(fields), Some(new_schema))
            }
        };
        Ok(SIDE.replace(record, subject.with(value, schema).into_payload()))
    }
}

export_transform!(Flatten);
