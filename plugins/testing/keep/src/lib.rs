//! Passes every record on unchanged: the boundary's fixed cost, measured by the micro-benchmark.
use spillway_plugin_sdk::*;

struct Keep;

impl Plugin for Keep {
    fn describe() -> Descriptor {
        Descriptor::new("keep", "1.0.0").doc("Passes every record on unchanged.")
    }
    fn configure(_: &Config) -> Result<Self, String> {
        Ok(Keep)
    }
}

impl Transform for Keep {
    fn apply(&mut self, _: &Record<'_>) -> Result<Outcome, Error> {
        Ok(Outcome::Keep)
    }
}

export_transform!(Keep);
