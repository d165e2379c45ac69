//! A source mapper: each Cassandra row → one record on `<prefix><table>`, the row as a JSON object,
//! keyed by the configured key column.
use spillway_plugin_sdk::*;

struct RowToJson {
    prefix: String,
    key: String,
}

impl Plugin for RowToJson {
    fn describe() -> Descriptor {
        Descriptor::new("row-to-json", "0.1.0")
            .doc("Rows to JSON records.")
            .param(Param::string("topic.prefix").default("").doc("Prefix of the topic (the table's name follows)."))
            .param(Param::string("key.column").required().doc("Column whose value is the record key."))
    }
    fn configure(config: &Config) -> Result<Self, String> {
        Ok(Self {
            prefix: config.get_or("topic.prefix", "").to_string(),
            key: config.required("key.column")?.to_string(),
        })
    }
}

impl SourceMapper for RowToJson {
    fn map(&mut self, row: &Row) -> Result<Vec<Output>, Error> {
        let key = row.get(&self.key).ok_or_else(|| Error::new(format!("row has no column '{}'", self.key)))?;
        let value = Value::Struct(row.cells.clone());
        Ok(vec![Output {
            topic: format!("{}{}", self.prefix, row.table),
            partition: -1,
            timestamp: row.write_time_micros.map(|us| us / 1000),
            key: Payload::Bytes(key.to_json()),
            value: Payload::json(&value),
            headers: Vec::new(),
        }])
    }
}

export_source_mapper!(RowToJson);
