//! Kafka Connect's `ReplaceField$Key` / `ReplaceField$Value`: keeps only `include`d fields, drops
//! `exclude`d ones and renames (`old:new`) fields of a struct (a JSON object, or a struct with its
//! schema, which is edited alike). `whitelist` / `blacklist` are the older names of `include` /
//! `exclude`. Tombstones pass unchanged.

use connect_std::{Side, Subject, edited_struct_schema, plain_object, schema_field_name};
use spillway_plugin_sdk::*;

const SIDE: Side = if cfg!(feature = "key") { Side::Key } else { Side::Value };

/// The transform; `fused-steps` runs it through [`ReplaceField::apply_raw`].
pub struct ReplaceField {
    include: Vec<String>,
    exclude: Vec<String>,
    renames: Vec<(String, String)>,
}

impl ReplaceField {
    fn keeps(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name) && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames.iter().find(|(from, _)| from == name).map_or(name, |(_, to)| to.as_str())
    }

    /// The edit on a plain JSON object, its values left as written.
    pub fn apply_raw(&self, object: &mut RawObject<'_>) {
        object.retain(|name| self.keeps(name));
        object.rename(|name| self.renames.iter().find(|(from, _)| from == name).map(|(_, to)| to.as_str()));
    }
}

impl Plugin for ReplaceField {
    fn describe() -> Descriptor {
        let side = SIDE.name();
        Descriptor::new(&format!("org.apache.kafka.connect.transforms.ReplaceField${side}"), "0.1.0")
            .alias(&format!("ReplaceField${side}"))
            .doc(&format!("Filter or rename fields of the record {}.", side.to_lowercase()))
            .param(
                Param::list("exclude")
                    .default("")
                    .doc("Fields to exclude. This takes precedence over the fields to include."),
            )
            .param(
                Param::list("include")
                    .default("")
                    .doc("Fields to include. If specified, only these fields will be used."),
            )
            .param(Param::list("renames").default("").doc("Field rename mappings, e.g. foo:bar,abc:xyz."))
            .param(Param::list("blacklist").default("").doc("Deprecated name of 'exclude'."))
            .param(Param::list("whitelist").default("").doc("Deprecated name of 'include'."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let either = |new: &str, old: &str| {
            let list = config.list(new);
            if list.is_empty() { config.list(old) } else { list }
        };
        let renames = config
            .list("renames")
            .into_iter()
            .map(|pair| match pair.split_once(':') {
                Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok((from.to_string(), to.to_string())),
                _ => Err(format!("Invalid rename mapping: {pair} (expected old:new)")),
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { include: either("include", "whitelist"), exclude: either("exclude", "blacklist"), renames })
    }
}

impl Transform for ReplaceField {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let data = SIDE.data(record);
        if let Some(mut object) = plain_object(&data) {
            self.apply_raw(&mut object);
            return Ok(SIDE.replace(record, Payload::Bytes(object.to_json())));
        }
        let Some(subject) = Subject::read(&data)? else { return Ok(Outcome::Keep) };
        subject.require_struct("field replacement")?;
        let fields: Vec<(String, Value)> = subject
            .value
            .fields()
            .iter()
            .filter(|(name, _)| self.keeps(name))
            .map(|(name, v)| (self.renamed(name).to_string(), v.clone()))
            .collect();
        let schema = subject.schema.as_ref().map(|schema| {
            let fields = match schema.get("fields") {
                Some(Value::List(items)) => items
                    .iter()
                    .filter(|f| schema_field_name(f).is_some_and(|n| self.keeps(n)))
                    .map(|f| {
                        let mut f = f.clone();
                        let name = schema_field_name(&f).unwrap_or_default().to_string();
                        f.insert("field", self.renamed(&name));
                        f
                    })
                    .collect(),
                _ => Vec::new(),
            };
            edited_struct_schema(schema, fields)
        });
        let out = subject.with(Value::Struct(fields), schema).into_payload();
        Ok(SIDE.replace(record, out))
    }
}

#[cfg(any(feature = "key", feature = "value"))]
export_transform!(ReplaceField);
