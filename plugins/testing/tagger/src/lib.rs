//! Adds a header `tagged-by` = `tagger@<version>`. Built as 1.0.0 and, with feature `v2`, as 2.0.0:
//! the hot-reload test swaps one file for the other.
use spillway_plugin_sdk::*;

#[cfg(not(feature = "v2"))]
const VERSION: &str = "1.0.0";
#[cfg(feature = "v2")]
const VERSION: &str = "2.0.0";

struct Tagger;

impl Plugin for Tagger {
    fn describe() -> Descriptor {
        Descriptor::new("tagger", VERSION).doc("Adds the header tagged-by=tagger@<version>.")
    }
    fn configure(_: &Config) -> Result<Self, String> {
        Ok(Tagger)
    }
}

impl Transform for Tagger {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let mut out = record.to_output();
        out.headers.push(("tagged-by".into(), Payload::Bytes(format!("tagger@{VERSION}").into_bytes())));
        Ok(Outcome::one(out))
    }
}

export_transform!(Tagger);
