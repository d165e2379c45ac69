//! `spillway.FusedSteps`: a run of consecutive `$Value` field edits of Connect's transforms —
//! `ReplaceField$Value`, `InsertField$Value`, `TimestampConverter$Value` on a `field` — in one call:
//! the JSON is read once, each step edits it in turn, and it is written once.
//!
//! The host puts it in place of such a run in a connector's chain on its own (`docs/plugins.md`);
//! the steps' own plugins stay loaded beside it. A record it cannot take — not a plain JSON object
//! (an envelope, a typed value, not JSON at all) or one a step fails on — is failed here, and the
//! host runs that record through the steps' own plugins, which give the exact outcome and error.
//!
//! Settings: `steps` (the aliases, in order), `<alias>.type` (the class) and `<alias>.<key>` (that
//! step's settings, defaults filled in).

use connect_std::plain_object;
use insert_field::InsertField;
use replace_field::ReplaceField;
use spillway_plugin_sdk::*;
use timestamp_converter::TimestampConverter;

enum Step {
    Replace(ReplaceField),
    Insert(InsertField),
    Timestamp(TimestampConverter),
}

struct FusedSteps {
    steps: Vec<Step>,
}

/// The classes this plugin runs, by their names in a chain.
const CLASSES: [&str; 3] = [
    "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "org.apache.kafka.connect.transforms.InsertField$Value",
    "org.apache.kafka.connect.transforms.TimestampConverter$Value",
];

impl Plugin for FusedSteps {
    fn describe() -> Descriptor {
        Descriptor::new("spillway.FusedSteps", "0.1.0")
            .doc(&format!(
                "Runs consecutive field edits ({}) in one call; the host puts it in place of such a run.",
                CLASSES.join(", ")
            ))
            .param(
                Param::list("steps")
                    .required()
                    .doc("The steps' aliases, in order; each has <alias>.type and its settings under <alias>."),
            )
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let aliases = config.list("steps");
        if aliases.is_empty() {
            return Err("'steps' names no step".into());
        }
        let steps = aliases
            .iter()
            .map(|alias| {
                let prefix = format!("{alias}.");
                let own = Config(
                    config
                        .0
                        .iter()
                        .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_string(), v.clone())))
                        .collect(),
                );
                let class = own.required("type").map_err(|e| format!("{alias}: {e}"))?;
                let step = match class {
                    c if c == CLASSES[0] => Step::Replace(ReplaceField::configure(&own)?),
                    c if c == CLASSES[1] => Step::Insert(InsertField::configure(&own)?),
                    c if c == CLASSES[2] => {
                        if own.get_or("field", "").trim().is_empty() {
                            return Err(format!(
                                "{alias}: TimestampConverter converts a field here, not the whole value"
                            ));
                        }
                        Step::Timestamp(TimestampConverter::configure(&own)?)
                    }
                    other => return Err(format!("{alias}: {other} is not one of {}", CLASSES.join(", "))),
                };
                Ok(step)
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { steps })
    }
}

impl Transform for FusedSteps {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let data = record.value();
        if matches!(data, Data::Null) {
            // Every one of these steps passes a tombstone on unchanged.
            return Ok(Outcome::Keep);
        }
        let Some(mut object) = plain_object(&data) else {
            return Err(Error::new("not a plain JSON object: the steps run one by one"));
        };
        for step in &self.steps {
            match step {
                Step::Replace(s) => s.apply_raw(&mut object),
                Step::Insert(s) => s.apply_raw(&mut object, record)?,
                Step::Timestamp(s) => {
                    s.apply_raw(&mut object)?;
                }
            }
        }
        Ok(Outcome::Value(Payload::Bytes(object.to_json())))
    }
}

export_transform!(FusedSteps);
