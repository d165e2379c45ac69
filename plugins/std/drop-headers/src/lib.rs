//! Kafka Connect's `DropHeaders`: removes every header whose key is one of `headers`. Records
//! without such a header pass unchanged.

use spillway_plugin_sdk::*;

struct DropHeaders {
    headers: Vec<String>,
}

impl DropHeaders {
    fn drops(&self, key: &str) -> bool {
        self.headers.iter().any(|h| h == key)
    }
}

impl Plugin for DropHeaders {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.transforms.DropHeaders", "0.1.0")
            .alias("DropHeaders")
            .doc("Removes one or more headers from each record.")
            .param(Param::list("headers").required().doc("The name of the headers to be removed."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let headers = config.list("headers");
        if headers.is_empty() {
            return Err("Invalid value [] for configuration headers: Empty list".into());
        }
        Ok(Self { headers })
    }
}

impl Transform for DropHeaders {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        if !record.headers().any(|(k, _)| self.drops(k)) {
            return Ok(Outcome::Keep);
        }
        let mut out = record.to_output();
        out.headers.retain(|(k, _)| !self.drops(k));
        Ok(Outcome::one(out))
    }
}

export_transform!(DropHeaders);
