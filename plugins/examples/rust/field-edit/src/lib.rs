//! Renames fields and inserts a static field in JSON (or typed) values.
//!
//! ```properties
//! transforms=edit
//! transforms.edit.type=field-edit
//! transforms.edit.renames=device:device_id,temp:temperature
//! transforms.edit.static.field=source
//! transforms.edit.static.value=spillway
//! ```

use spillway_plugin_sdk::*;

struct FieldEdit {
    renames: Vec<(String, String)>,
    field: Option<(String, String)>,
    topic: Option<String>,
}

impl Plugin for FieldEdit {
    fn describe() -> Descriptor {
        Descriptor::new("field-edit", "0.1.0")
            .doc("Renames fields and inserts a static text field in struct (JSON object) values.")
            .param(Param::list("renames").default("").doc("Comma-separated old:new field name pairs."))
            .param(Param::string("static.field").default("").doc("Name of a text field to insert; empty: none."))
            .param(Param::string("static.value").default("").doc("Value of the inserted field."))
            .param(Param::string("topic").default("").doc("Route records to this topic; empty: keep theirs."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let renames = config
            .list("renames")
            .into_iter()
            .map(|pair| match pair.split_once(':') {
                Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok((from.to_string(), to.to_string())),
                _ => Err(format!("'renames' entry '{pair}' is not old:new")),
            })
            .collect::<Result<_, _>>()?;
        let field = match config.get_or("static.field", "") {
            "" => None,
            name => Some((name.to_string(), config.get_or("static.value", "").to_string())),
        };
        let topic = Some(config.get_or("topic", "").to_string()).filter(|t| !t.is_empty());
        Ok(Self { renames, field, topic })
    }
}

impl Transform for FieldEdit {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let value = record.value();
        if value.is_null() {
            return Ok(Outcome::Keep);
        }
        let mut v = value.to_value()?;
        if !matches!(v, Value::Struct(_)) {
            return Err(Error::new(format!("field-edit needs a struct (JSON object) value, got {}", v.kind())));
        }
        for (from, to) in &self.renames {
            v.rename(from, to);
        }
        if let Some((name, text)) = &self.field {
            v.insert(name.as_str(), text.as_str());
        }
        let payload = match value {
            Data::Typed(_) => Payload::typed(v),
            _ => Payload::json(&v),
        };
        match &self.topic {
            None => Ok(Outcome::Value(payload)),
            Some(topic) => Ok(Outcome::one(record.with_value(payload).with_topic(topic.as_str()))),
        }
    }
}

export_transform!(FieldEdit);
