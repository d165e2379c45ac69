//! Uses every host import, for the tests: logs each record (`host.log` and stdout), counts records
//! (`host.counter-add`) and, with `schema.id` set, looks the schema up in the schema registry and
//! adds its definition as the header `schema`.
use spillway_plugin_sdk::*;

struct HostCalls {
    schema_id: Option<u32>,
}

impl Plugin for HostCalls {
    fn describe() -> Descriptor {
        Descriptor::new("host-calls", "0.1.0")
            .doc("Calls every host import.")
            .param(Param::long("schema.id").default(-1).doc("Schema to look up per record; -1: none."))
    }
    fn configure(config: &Config) -> Result<Self, String> {
        let id = config.i64_or("schema.id", -1)?;
        Ok(Self { schema_id: u32::try_from(id).ok() })
    }
}

impl Transform for HostCalls {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        log::info(&format!("record at offset {}", record.offset()));
        println!("stdout: record at offset {}", record.offset());
        counter_add("records", 1);
        let Some(id) = self.schema_id else { return Ok(Outcome::Keep) };
        let schema = schema_registry::schema_by_id(id).map_err(Error::new)?;
        let mut out = record.to_output();
        out.headers.push(("schema".into(), Payload::Bytes(schema.definition.into_bytes())));
        Ok(Outcome::one(out))
    }
}

export_transform!(HostCalls);
