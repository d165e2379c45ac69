//! Kafka Connect's `RegexRouter`: when the whole topic matches `regex` (Java's
//! `Matcher.matches()`), the topic becomes `Matcher.replaceFirst(replacement)` — the first match
//! replaced, with Java's `$1` / `${name}` group references and `\` escapes. Other records are
//! unchanged.
//!
//! The regex is Java's syntax as far as a finite automaton goes (`connect_std::java_regex`):
//! look-around and back-references are refused when the transform is configured. So is a
//! replacement naming a group the regex does not have (Connect fails each matching record).

use connect_std::connect_data::invalid_config;
use connect_std::java_regex::{JavaRegex, Replacement};
use spillway_plugin_sdk::*;

struct RegexRouter {
    regex: JavaRegex,
    replacement: Replacement,
}

impl Plugin for RegexRouter {
    fn describe() -> Descriptor {
        Descriptor::new("org.apache.kafka.connect.transforms.RegexRouter", "0.1.0")
            .alias("RegexRouter")
            .doc("Update the record topic using the configured regular expression and replacement string. The regex is a Java regular expression; if it matches the whole input topic, Matcher#replaceFirst() is used with the replacement string to obtain the new topic.")
            .param(Param::string("regex").required().doc("Regular expression to use for matching."))
            .param(Param::string("replacement").required().doc("Replacement string ($1 for the first group, ${name} for a named group, \\$ for a dollar sign)."))
    }

    fn configure(config: &Config) -> Result<Self, String> {
        let pattern = config.required("regex")?;
        let regex = JavaRegex::compile(pattern)
            .map_err(|e| invalid_config("regex", pattern, &format!("Invalid regex: {e}")))?;
        let text = config.required("replacement")?;
        let replacement = Replacement::parse(text, &regex).map_err(|e| invalid_config("replacement", text, &e))?;
        Ok(Self { regex, replacement })
    }
}

impl Transform for RegexRouter {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        let topic = record.topic();
        if !self.regex.matches(topic) {
            return Ok(Outcome::Keep);
        }
        let routed = self.regex.replace_first(topic, &self.replacement);
        if routed == topic {
            return Ok(Outcome::Keep);
        }
        Ok(Outcome::one(record.to_output().with_topic(routed)))
    }
}

export_transform!(RegexRouter);
