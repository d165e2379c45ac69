//! Kafka Connect's `InsertHeader`: adds a header `header` with the value `value.literal` to every
//! record. Existing headers of that name stay (Connect adds; it does not replace).
//!
//! The header value is the literal's UTF-8 text: what Connect's default header converter
//! (`SimpleHeaderConverter`) writes for the value `Values.parseString` makes of it — a string is
//! its text, a number or a boolean its digits or `true` / `false`.

use spillway_plugin_sdk::*;

struct InsertHeader {
    header: String,
    literal: Vec<u8>,
}

impl Plugin for InsertHeader {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.transforms.InsertHeader", "0.1.0")
            .alias("InsertHeader")
            .doc("Add a header to each record.")
            .param(Param::string("header").required().doc("The name of the header."))
            .param(
                Param::string("value.literal")
                    .required()
                    .doc("The literal value that is to be set as the header value on all records."),
            )
    }

    fn configure(config: &Config) -> Result<Self, String> {
        Ok(Self {
            header: config.required("header")?.to_string(),
            literal: config.required("value.literal")?.as_bytes().to_vec(),
        })
    }
}

impl Transform for InsertHeader {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let mut out = record.to_output();
        out.headers.push((self.header.clone(), Payload::Bytes(self.literal.clone())));
        Ok(Outcome::one(out))
    }
}

export_transform!(InsertHeader);
