//! A sink mapper: an IoT reading (JSON) → an upsert into `readings`, or a delete for a tombstone
//! keyed by `"<device>/<ts>"`. Replaces KCQL with code.
use spillway_plugin_sdk::*;

struct ReadingsMapper {
    table: String,
    ttl: Option<u32>,
}

impl Plugin for ReadingsMapper {
    fn describe() -> Descriptor {
        Descriptor::new("readings-mapper", "0.1.0")
            .doc("Maps IoT readings to the readings table.")
            .param(Param::string("table").default("readings").doc("Target table."))
            .param(Param::int("ttl.seconds").default(0).doc("Time to live of each row; 0: none."))
    }
    fn configure(config: &Config) -> Result<Self, String> {
        let ttl = config.i64_or("ttl.seconds", 0)?;
        let ttl = u32::try_from(ttl).map_err(|_| format!("'ttl.seconds' {ttl} is out of range"))?;
        Ok(Self { table: config.get_or("table", "readings").to_string(), ttl: (ttl > 0).then_some(ttl) })
    }
}

impl SinkMapper for ReadingsMapper {
    fn map(&mut self, record: &Record<'_>) -> Result<Vec<Mutation>, Error> {
        if record.value().is_null() {
            let key = record.key().bytes().map(String::from_utf8_lossy).unwrap_or_default();
            let (device, ts) =
                key.split_once('/').ok_or_else(|| Error::new(format!("tombstone key '{key}' is not device/ts")))?;
            let ts: i64 = ts.parse().map_err(|_| Error::new(format!("tombstone key '{key}': ts is not a number")))?;
            return Ok(vec![Mutation {
                keyspace: None,
                table: self.table.clone(),
                operation: Operation::Delete,
                cells: vec![("device_id".into(), Value::Text(device.into())), ("ts".into(), Value::Timestamp(ts))],
                ttl_seconds: None,
                write_timestamp_micros: None,
            }]);
        }
        let v = record.value().to_value()?;
        let device = v["device"].as_str().ok_or("field 'device' (text) is missing")?;
        let ts = v["ts"].as_i64().ok_or("field 'ts' (integer, ms) is missing")?;
        let temp = v["temp"].as_f64().ok_or("field 'temp' (number) is missing")?;
        Ok(vec![Mutation {
            keyspace: None,
            table: self.table.clone(),
            operation: Operation::Upsert,
            cells: vec![
                ("device_id".into(), Value::Text(device.into())),
                ("ts".into(), Value::Timestamp(ts)),
                ("temperature".into(), Value::Float64(temp)),
            ],
            ttl_seconds: self.ttl,
            write_timestamp_micros: record.timestamp().map(|ms| ms * 1000),
        }])
    }
}

export_sink_mapper!(ReadingsMapper);
