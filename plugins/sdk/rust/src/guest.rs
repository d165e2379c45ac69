//! The glue between the generated bindings of the selected world and the SDK's types.

use std::net::IpAddr;

#[cfg(feature = "converter")]
use crate::Part;
use crate::bindings::spillway::plugin::host;
use crate::bindings::spillway::plugin::types as wit;
use crate::{Config, Descriptor, Error, Output, ParamType, Payload, Plugin, Value};

/// Logging through the host (rate-limited there, tagged with the plugin's name).
pub mod log {
    use super::host::{Level, log};
    /// Debug.
    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
    /// Info.
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    /// Warning.
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
    /// Error.
    pub fn error(message: &str) {
        log(Level::Error, message)
    }
}

/// Adds `delta` to this plugin's counter `name` (a host metric).
pub fn counter_add(name: &str, delta: u64) {
    host::counter_add(name, delta)
}

/// The schema registry the connector is configured with.
pub mod schema_registry {
    pub use crate::bindings::spillway::plugin::schema_registry::{Schema, register, schema_by_id};
}

const MAX_DEPTH: usize = 64;

fn slice(arena: &wit::Arena, span: wit::Span) -> &[u8] {
    let (start, len) = (span.offset as usize, span.len as usize);
    arena.bytes.get(start..start.saturating_add(len)).unwrap_or_default()
}

fn text(arena: &wit::Arena, span: wit::Span) -> &str {
    std::str::from_utf8(slice(arena, span)).unwrap_or("\u{fffd}")
}

fn edges(arena: &wit::Arena, range: wit::Range) -> &[wit::Edge] {
    let (first, len) = (range.first as usize, range.len as usize);
    arena.edges.get(first..first.saturating_add(len)).unwrap_or_default()
}

fn uuid(t: (u64, u64)) -> u128 {
    (u128::from(t.0) << 64) | u128::from(t.1)
}

/// Reads the value rooted at `index`.
pub(crate) fn read_value(arena: &wit::Arena, index: u32, depth: usize) -> Result<Value, String> {
    use wit::Node as N;
    if depth > MAX_DEPTH {
        return Err("typed value nested too deeply".into());
    }
    let node = arena
        .nodes
        .get(index as usize)
        .ok_or_else(|| format!("typed value refers to node {index}, which does not exist"))?;
    let children = |range: wit::Range| -> Result<Vec<Value>, String> {
        edges(arena, range).iter().map(|e| read_value(arena, e.node, depth + 1)).collect()
    };
    Ok(match *node {
        N::Null => Value::Null,
        N::Boolean(b) => Value::Bool(b),
        N::Int8(v) => Value::Int8(v),
        N::Int16(v) => Value::Int16(v),
        N::Int32(v) => Value::Int32(v),
        N::Int64(v) => Value::Int64(v),
        N::Float32(v) => Value::Float32(v),
        N::Float64(v) => Value::Float64(v),
        N::Text(s) => Value::Text(text(arena, s).to_string()),
        N::Bytes(s) => Value::Bytes(slice(arena, s).to_vec()),
        N::Varint(s) => Value::Varint(slice(arena, s).to_vec()),
        N::Decimal(d) => Value::Decimal { unscaled: slice(arena, d.unscaled).to_vec(), scale: d.scale },
        N::Uuid(u) => Value::Uuid(uuid(u)),
        N::Timeuuid(u) => Value::Timeuuid(uuid(u)),
        N::Inet(s) => {
            let b = slice(arena, s);
            match b.len() {
                4 => Value::Inet(IpAddr::from(<[u8; 4]>::try_from(b).unwrap_or_default())),
                16 => Value::Inet(IpAddr::from(<[u8; 16]>::try_from(b).unwrap_or_default())),
                n => return Err(format!("inet value has {n} bytes (expected 4 or 16)")),
            }
        }
        N::Date(v) => Value::Date(v),
        N::Time(v) => Value::Time(v),
        N::Timestamp(v) => Value::Timestamp(v),
        N::Duration(d) => Value::Duration { months: d.months, days: d.days, nanos: d.nanos },
        N::List(r) => Value::List(children(r)?),
        N::Set(r) => Value::Set(children(r)?),
        N::Tuple(r) => Value::Tuple(children(r)?),
        N::Map(r) => {
            let flat = children(r)?;
            let mut entries = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                entries.push((k, v));
            }
            Value::Map(entries)
        }
        N::Struct(r) => Value::Struct(
            edges(arena, r)
                .iter()
                .map(|e| {
                    let name = e.name.map(|n| text(arena, n).to_string()).unwrap_or_default();
                    read_value(arena, e.node, depth + 1).map(|v| (name, v))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A key, value or header value of an input record.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// Null.
    Null,
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// A typed value.
    Typed(Typed<'a>),
}

/// A typed value in the input batch (decoded on request).
#[derive(Debug, Clone, Copy)]
pub struct Typed<'a> {
    arena: &'a wit::Arena,
    root: u32,
    schema: Option<u32>,
}

impl Typed<'_> {
    /// The value.
    pub fn value(&self) -> Result<Value, String> {
        read_value(self.arena, self.root, 0)
    }
    /// Its schema, in Kafka Connect's JSON schema shape.
    pub fn schema(&self) -> Result<Option<Value>, String> {
        self.schema.map(|s| read_value(self.arena, s, 0)).transpose()
    }
}

impl<'a> Data<'a> {
    fn new(arena: &'a wit::Arena, data: &wit::Data) -> Self {
        match *data {
            wit::Data::Null => Data::Null,
            wit::Data::Bytes(s) => Data::Bytes(slice(arena, s)),
            wit::Data::Typed(t) => Data::Typed(Typed { arena, root: t.root, schema: t.schema }),
        }
    }

    /// The raw bytes, when the data is bytes.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self {
            Data::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Whether it is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Data::Null)
    }

    /// As a value: null is `Value::Null`, bytes are parsed as JSON, a typed value is decoded.
    pub fn to_value(&self) -> Result<Value, Error> {
        match self {
            Data::Null => Ok(Value::Null),
            Data::Bytes(b) => Value::from_json(b).map_err(Error::new),
            Data::Typed(t) => t.value().map_err(Error::new),
        }
    }

    /// An owned copy.
    pub fn to_payload(&self) -> Payload {
        match self {
            Data::Null => Payload::Null,
            Data::Bytes(b) => Payload::Bytes(b.to_vec()),
            Data::Typed(t) => {
                Payload::Typed { value: t.value().unwrap_or_default(), schema: t.schema().unwrap_or_default() }
            }
        }
    }
}

/// One input record (a view into the batch; nothing is copied until asked).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    batch: &'a wit::Batch,
    raw: &'a wit::KafkaRecord,
}

impl<'a> Record<'a> {
    /// Topic.
    pub fn topic(&self) -> &'a str {
        text(&self.batch.arena, self.raw.topic)
    }
    /// Partition.
    pub fn partition(&self) -> i32 {
        self.raw.partition
    }
    /// Offset.
    pub fn offset(&self) -> i64 {
        self.raw.offset
    }
    /// Timestamp, milliseconds since the epoch.
    pub fn timestamp(&self) -> Option<i64> {
        self.raw.timestamp
    }
    /// Key.
    pub fn key(&self) -> Data<'a> {
        Data::new(&self.batch.arena, &self.raw.key)
    }
    /// Value.
    pub fn value(&self) -> Data<'a> {
        Data::new(&self.batch.arena, &self.raw.value)
    }
    /// Headers, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, Data<'a>)> + 'a {
        let arena = &self.batch.arena;
        let (first, len) = (self.raw.headers.first as usize, self.raw.headers.len as usize);
        self.batch
            .headers
            .get(first..first.saturating_add(len))
            .unwrap_or_default()
            .iter()
            .map(move |h| (text(arena, h.key), Data::new(arena, &h.value)))
    }
    /// The last header called `key`.
    pub fn header(&self, key: &str) -> Option<Data<'a>> {
        self.headers().filter(|(k, _)| *k == key).last().map(|(_, v)| v)
    }
    /// The same record with another value (the old value is not copied).
    pub fn with_value(&self, value: Payload) -> Output {
        Output {
            topic: self.topic().to_string(),
            partition: self.partition(),
            timestamp: self.timestamp(),
            key: self.key().to_payload(),
            value,
            headers: self.headers().map(|(k, v)| (k.to_string(), v.to_payload())).collect(),
        }
    }

    /// An owned copy, to modify and emit.
    pub fn to_output(&self) -> Output {
        Output {
            topic: self.topic().to_string(),
            partition: self.partition(),
            timestamp: self.timestamp(),
            key: self.key().to_payload(),
            value: self.value().to_payload(),
            headers: self.headers().map(|(k, v)| (k.to_string(), v.to_payload())).collect(),
        }
    }
}

/// Builds the arena and lists a plugin returns.
pub(crate) struct Writer {
    arena: wit::Arena,
    headers: Vec<wit::Header>,
    records: Vec<wit::KafkaRecord>,
}

impl Default for Writer {
    fn default() -> Self {
        Self {
            arena: wit::Arena { bytes: Vec::new(), nodes: Vec::new(), edges: Vec::new() },
            headers: Vec::new(),
            records: Vec::new(),
        }
    }
}

fn index(n: usize) -> u32 {
    u32::try_from(n).expect("plugin output exceeds 4 GiB")
}

impl Writer {
    fn span(&mut self, bytes: &[u8]) -> wit::Span {
        let offset = index(self.arena.bytes.len());
        self.arena.bytes.extend_from_slice(bytes);
        wit::Span { offset, len: index(bytes.len()) }
    }

    fn uuid(u: u128) -> (u64, u64) {
        ((u >> 64) as u64, u as u64)
    }

    /// Writes `value`'s nodes; returns its root.
    pub(crate) fn value(&mut self, value: &Value) -> u32 {
        use wit::Node as N;
        let node = match value {
            Value::Null => N::Null,
            Value::Bool(b) => N::Boolean(*b),
            Value::Int8(v) => N::Int8(*v),
            Value::Int16(v) => N::Int16(*v),
            Value::Int32(v) => N::Int32(*v),
            Value::Int64(v) => N::Int64(*v),
            Value::Float32(v) => N::Float32(*v),
            Value::Float64(v) => N::Float64(*v),
            Value::Text(t) => N::Text(self.span(t.as_bytes())),
            Value::Bytes(b) => N::Bytes(self.span(b)),
            Value::Varint(b) => N::Varint(self.span(b)),
            Value::Decimal { unscaled, scale } => {
                N::Decimal(wit::Decimal { unscaled: self.span(unscaled), scale: *scale })
            }
            Value::Uuid(u) => N::Uuid(Self::uuid(*u)),
            Value::Timeuuid(u) => N::Timeuuid(Self::uuid(*u)),
            Value::Inet(IpAddr::V4(ip)) => N::Inet(self.span(&ip.octets())),
            Value::Inet(IpAddr::V6(ip)) => N::Inet(self.span(&ip.octets())),
            Value::Date(v) => N::Date(*v),
            Value::Time(v) => N::Time(*v),
            Value::Timestamp(v) => N::Timestamp(*v),
            Value::Duration { months, days, nanos } => {
                N::Duration(wit::Duration { months: *months, days: *days, nanos: *nanos })
            }
            Value::List(items) => N::List(self.children(items.iter().map(|v| (None, v)))),
            Value::Set(items) => N::Set(self.children(items.iter().map(|v| (None, v)))),
            Value::Tuple(items) => N::Tuple(self.children(items.iter().map(|v| (None, v)))),
            Value::Map(entries) => {
                let flat: Vec<(Option<&str>, &Value)> =
                    entries.iter().flat_map(|(k, v)| [(None, k), (None, v)]).collect();
                N::Map(self.children(flat.into_iter()))
            }
            Value::Struct(fields) => N::Struct(self.children(fields.iter().map(|(k, v)| (Some(k.as_str()), v)))),
        };
        self.arena.nodes.push(node);
        index(self.arena.nodes.len() - 1)
    }

    /// Reserves consecutive edges for a container's children, then writes each child.
    fn children<'v>(&mut self, items: impl ExactSizeIterator<Item = (Option<&'v str>, &'v Value)>) -> wit::Range {
        let first = self.arena.edges.len();
        let len = items.len();
        self.arena.edges.resize(first + len, wit::Edge { name: None, node: 0 });
        for (i, (name, child)) in items.enumerate() {
            let name = name.map(|n| self.span(n.as_bytes()));
            let node = self.value(child);
            self.arena.edges[first + i] = wit::Edge { name, node };
        }
        wit::Range { first: index(first), len: index(len) }
    }

    pub(crate) fn data(&mut self, payload: &Payload) -> wit::Data {
        match payload {
            Payload::Null => wit::Data::Null,
            Payload::Bytes(b) => wit::Data::Bytes(self.span(b)),
            Payload::Typed { value, schema } => {
                let schema = schema.as_ref().map(|s| self.value(s));
                wit::Data::Typed(wit::Typed { root: self.value(value), schema })
            }
        }
    }

    /// Appends one record; returns its index.
    #[cfg_attr(any(feature = "converter", feature = "sink-mapper"), allow(dead_code))]
    pub(crate) fn record(&mut self, out: &Output) -> u32 {
        let topic = self.span(out.topic.as_bytes());
        let first = index(self.headers.len());
        for (k, v) in &out.headers {
            let key = self.span(k.as_bytes());
            let value = self.data(v);
            self.headers.push(wit::Header { key, value });
        }
        let record = wit::KafkaRecord {
            topic,
            partition: out.partition,
            offset: -1,
            timestamp: out.timestamp,
            key: self.data(&out.key),
            value: self.data(&out.value),
            headers: wit::Range { first, len: index(out.headers.len()) },
        };
        self.records.push(record);
        index(self.records.len() - 1)
    }

    #[cfg_attr(any(feature = "converter", feature = "sink-mapper"), allow(dead_code))]
    /// Appends a copy of `input` (a record of another batch) with `value` as its value.
    #[cfg(feature = "transform")]
    pub(crate) fn record_with_value(&mut self, input: &Record<'_>, value: &Payload) {
        let topic = self.span(input.topic().as_bytes());
        let first = index(self.headers.len());
        let mut count = 0;
        for (k, v) in input.headers() {
            let key = self.span(k.as_bytes());
            let value = self.copy_data(&v);
            self.headers.push(wit::Header { key, value });
            count += 1;
        }
        let key = self.copy_data(&input.key());
        let value = self.data(value);
        self.records.push(wit::KafkaRecord {
            topic,
            partition: input.partition(),
            offset: -1,
            timestamp: input.timestamp(),
            key,
            value,
            headers: wit::Range { first, len: count },
        });
    }

    /// Copies input data (bytes or a typed value) into this arena.
    #[cfg(feature = "transform")]
    fn copy_data(&mut self, data: &Data<'_>) -> wit::Data {
        match data {
            Data::Null => wit::Data::Null,
            Data::Bytes(b) => wit::Data::Bytes(self.span(b)),
            Data::Typed(_) => self.data(&data.to_payload()),
        }
    }

    #[cfg_attr(any(feature = "converter", feature = "sink-mapper"), allow(dead_code))]
    fn records_since(&self, first: usize) -> wit::Range {
        wit::Range { first: index(first), len: index(self.records.len() - first) }
    }

    pub(crate) fn batch(self) -> wit::Batch {
        wit::Batch { arena: self.arena, headers: self.headers, records: self.records }
    }
}

fn wit_error(e: Error) -> wit::Error {
    wit::Error { message: e.message, retryable: e.retryable }
}

#[doc(hidden)]
pub fn __describe<T: Plugin>(
    kind: crate::bindings::exports::spillway::plugin::plugin::Kind,
) -> crate::bindings::exports::spillway::plugin::plugin::Descriptor {
    use crate::bindings::exports::spillway::plugin::plugin as p;
    let d: Descriptor = T::describe();
    p::Descriptor {
        name: d.name,
        version: d.version,
        kind,
        documentation: d.doc,
        aliases: d.aliases,
        params: d
            .params
            .into_iter()
            .map(|param| p::Param {
                name: param.name,
                type_: match param.kind {
                    ParamType::String => p::ParamType::String,
                    ParamType::Int => p::ParamType::Int,
                    ParamType::Long => p::ParamType::Long,
                    ParamType::Double => p::ParamType::Double,
                    ParamType::Boolean => p::ParamType::Boolean,
                    ParamType::List => p::ParamType::List,
                    ParamType::Password => p::ParamType::Password,
                    ParamType::Class => p::ParamType::Class,
                },
                default: param.default,
                required: param.required,
                documentation: param.doc,
            })
            .collect(),
        wants_typed: d.wants_typed,
    }
}

#[doc(hidden)]
pub fn __configure<T: Plugin>(config: Vec<(String, String)>) -> Result<T, String> {
    T::configure(&Config(config))
}

const NOT_CONFIGURED: &str = "the host called the plugin before configure()";

/// The part of every world's export: the configured plugin's state and the `plugin` interface.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin {
    ($ty:ty, $kind:ident) => {
        struct __SpillwayExport;
        ::std::thread_local! {
            static STATE: ::std::cell::RefCell<::std::option::Option<$ty>> = const { ::std::cell::RefCell::new(None) };
        }
        impl $crate::bindings::exports::spillway::plugin::plugin::Guest for __SpillwayExport {
            fn describe() -> $crate::bindings::exports::spillway::plugin::plugin::Descriptor {
                $crate::__describe::<$ty>($crate::bindings::exports::spillway::plugin::plugin::Kind::$kind)
            }
            fn configure(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<(), ::std::string::String> {
                let plugin = $crate::__configure::<$ty>(config)?;
                STATE.with(|s| *s.borrow_mut() = Some(plugin));
                Ok(())
            }
        }
    };
}

#[cfg(feature = "transform")]
pub use transform::*;
#[cfg(feature = "transform")]
mod transform {
    use super::*;
    use crate::Outcome;
    use crate::bindings::exports::spillway::plugin::transformer as t;

    /// A single-message transform.
    pub trait Transform: Plugin {
        /// What to do with one record. An `Err` sends the record to the connector's error policy.
        fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error>;
    }

    #[doc(hidden)]
    pub fn __transform<T: Transform>(state: Option<&mut T>, input: wit::Batch) -> t::Transformed {
        crate::arena::begin_call();
        let answer = transform_batch(state, input);
        crate::arena::end_call();
        answer
    }

    fn transform_batch<T: Transform>(state: Option<&mut T>, input: wit::Batch) -> t::Transformed {
        let mut w = Writer::default();
        let outcomes = match state {
            None => input.records.iter().map(|_| t::Outcome::Fail(wit_error(NOT_CONFIGURED.into()))).collect(),
            Some(plugin) => input
                .records
                .iter()
                .map(|raw| match plugin.apply(&Record { batch: &input, raw }) {
                    Ok(Outcome::Keep) => t::Outcome::Keep,
                    Ok(Outcome::Drop) => t::Outcome::Drop,
                    Ok(Outcome::Replace(outputs)) => {
                        let first = w.records.len();
                        for out in &outputs {
                            w.record(out);
                        }
                        t::Outcome::Replace(w.records_since(first))
                    }
                    Ok(Outcome::Value(value)) => {
                        let first = w.records.len();
                        w.record_with_value(&Record { batch: &input, raw }, &value);
                        t::Outcome::Replace(w.records_since(first))
                    }
                    Err(e) => t::Outcome::Fail(wit_error(e)),
                })
                .collect(),
        };
        t::Transformed { outcomes, output: w.batch() }
    }

    /// Exports a [`Transform`] as the component's `transform` world.
    #[macro_export]
    macro_rules! export_transform {
        ($ty:ty) => {
            const _: () = {
                $crate::__export_plugin!($ty, Transform);
                impl $crate::bindings::exports::spillway::plugin::transformer::Guest for __SpillwayExport {
                    fn transform(
                        input: $crate::bindings::spillway::plugin::types::Batch,
                    ) -> $crate::bindings::exports::spillway::plugin::transformer::Transformed {
                        STATE.with(|s| $crate::__transform::<$ty>(s.borrow_mut().as_mut(), input))
                    }
                }
    $crate::bindings::__export_world!(__SpillwayExport with_types_in $crate::bindings);
            };
        };
    }
}

#[cfg(feature = "converter")]
pub use converter::*;
#[cfg(feature = "converter")]
mod converter {
    use super::*;
    use crate::bindings::exports::spillway::plugin::conversion as c;

    /// A converter: bytes ↔ typed values.
    pub trait Converter: Plugin {
        /// Bytes (or null) → a typed value. `header` names the header for `Part::Header`.
        fn to_typed(
            &mut self,
            part: Part,
            record: &Record<'_>,
            header: Option<&str>,
            input: &Data<'_>,
        ) -> Result<Payload, Error>;
        /// A typed value (or null) → bytes.
        #[allow(clippy::wrong_self_convention)]
        fn from_typed(
            &mut self,
            part: Part,
            record: &Record<'_>,
            header: Option<&str>,
            input: &Data<'_>,
        ) -> Result<Payload, Error>;
    }

    #[doc(hidden)]
    pub fn __convert<T: Converter>(
        state: Option<&mut T>,
        part: c::Part,
        input: wit::Batch,
        to_typed: bool,
    ) -> c::Conversion {
        crate::arena::begin_call();
        let answer = convert_batch(state, part, input, to_typed);
        crate::arena::end_call();
        answer
    }

    fn convert_batch<T: Converter>(
        state: Option<&mut T>,
        part: c::Part,
        input: wit::Batch,
        to_typed: bool,
    ) -> c::Conversion {
        let part = match part {
            c::Part::Key => Part::Key,
            c::Part::Value => Part::Value,
            c::Part::Header => Part::Header,
        };
        let mut w = Writer::default();
        let mut results = Vec::new();
        let Some(plugin) = state else {
            let n = if part == Part::Header { input.headers.len() } else { input.records.len() };
            results.resize_with(n, || c::Converted::Fail(wit_error(NOT_CONFIGURED.into())));
            return c::Conversion { results, output: w.batch().arena };
        };
        let mut one = |record: &Record<'_>, header: Option<&str>, data: Data<'_>| {
            let converted = if to_typed {
                plugin.to_typed(part, record, header, &data)
            } else {
                plugin.from_typed(part, record, header, &data)
            };
            results.push(match converted {
                Ok(payload) => c::Converted::Ok(w.data(&payload)),
                Err(e) => c::Converted::Fail(wit_error(e)),
            });
        };
        for raw in &input.records {
            let record = Record { batch: &input, raw };
            match part {
                Part::Key => one(&record, None, record.key()),
                Part::Value => one(&record, None, record.value()),
                Part::Header => {
                    for (key, value) in record.headers() {
                        one(&record, Some(key), value);
                    }
                }
            }
        }
        c::Conversion { results, output: w.batch().arena }
    }

    /// Exports a [`Converter`] as the component's `converter` world.
    #[macro_export]
    macro_rules! export_converter {
        ($ty:ty) => {
            const _: () = {
                $crate::__export_plugin!($ty, Converter);
                impl $crate::bindings::exports::spillway::plugin::conversion::Guest for __SpillwayExport {
                    fn to_typed(
                        part: $crate::bindings::exports::spillway::plugin::conversion::Part,
                        input: $crate::bindings::spillway::plugin::types::Batch,
                    ) -> $crate::bindings::exports::spillway::plugin::conversion::Conversion {
                        STATE.with(|s| $crate::__convert::<$ty>(s.borrow_mut().as_mut(), part, input, true))
                    }
                    fn from_typed(
                        part: $crate::bindings::exports::spillway::plugin::conversion::Part,
                        input: $crate::bindings::spillway::plugin::types::Batch,
                    ) -> $crate::bindings::exports::spillway::plugin::conversion::Conversion {
                        STATE.with(|s| $crate::__convert::<$ty>(s.borrow_mut().as_mut(), part, input, false))
                    }
                }
    $crate::bindings::__export_world!(__SpillwayExport with_types_in $crate::bindings);
            };
        };
    }
}

#[cfg(feature = "sink-mapper")]
pub use sink_mapper::*;
#[cfg(feature = "sink-mapper")]
mod sink_mapper {
    use super::*;
    use crate::Mutation;
    use crate::bindings::exports::spillway::plugin::sink_mapping as m;

    /// Turns a Kafka record into Cassandra mutations.
    pub trait SinkMapper: Plugin {
        /// The mutations for one record (empty: nothing to write).
        fn map(&mut self, record: &Record<'_>) -> Result<Vec<Mutation>, Error>;
    }

    #[doc(hidden)]
    pub fn __map_records<T: SinkMapper>(mut state: Option<&mut T>, input: wit::Batch) -> m::Mapping {
        let mut w = Writer::default();
        let (mut mutations, mut cells) = (Vec::new(), Vec::new());
        let outcomes = input
            .records
            .iter()
            .map(|raw| {
                let Some(plugin) = state.as_deref_mut() else {
                    return m::Mapped::Fail(wit_error(NOT_CONFIGURED.into()));
                };
                match plugin.map(&Record { batch: &input, raw }) {
                    Ok(list) if list.is_empty() => m::Mapped::Skip,
                    Ok(list) => {
                        let first = mutations.len();
                        for mutation in &list {
                            let cells_first = cells.len();
                            for (column, value) in &mutation.cells {
                                let column = w.span(column.as_bytes());
                                let value = w.value(value);
                                cells.push(m::Cell { column, value });
                            }
                            mutations.push(m::Mutation {
                                keyspace: mutation.keyspace.as_ref().map(|k| w.span(k.as_bytes())),
                                table: w.span(mutation.table.as_bytes()),
                                operation: match mutation.operation {
                                    crate::Operation::Upsert => m::Operation::Upsert,
                                    crate::Operation::Delete => m::Operation::Delete,
                                },
                                cells: wit::Range { first: index(cells_first), len: index(cells.len() - cells_first) },
                                ttl_seconds: mutation.ttl_seconds,
                                write_timestamp_micros: mutation.write_timestamp_micros,
                            });
                        }
                        m::Mapped::Mutations(wit::Range { first: index(first), len: index(list.len()) })
                    }
                    Err(e) => m::Mapped::Fail(wit_error(e)),
                }
            })
            .collect();
        m::Mapping { outcomes, mutations, cells, output: w.batch().arena }
    }

    /// Exports a [`SinkMapper`] as the component's `sink-mapper` world.
    #[macro_export]
    macro_rules! export_sink_mapper {
        ($ty:ty) => {
            const _: () = {
                $crate::__export_plugin!($ty, SinkMapper);
                impl $crate::bindings::exports::spillway::plugin::sink_mapping::Guest for __SpillwayExport {
                    fn map_records(
                        input: $crate::bindings::spillway::plugin::types::Batch,
                    ) -> $crate::bindings::exports::spillway::plugin::sink_mapping::Mapping {
                        STATE.with(|s| $crate::__map_records::<$ty>(s.borrow_mut().as_mut(), input))
                    }
                }
    $crate::bindings::__export_world!(__SpillwayExport with_types_in $crate::bindings);
            };
        };
    }
}

#[cfg(feature = "source-mapper")]
pub use source_mapper::*;
#[cfg(feature = "source-mapper")]
mod source_mapper {
    use super::*;
    use crate::Row;
    use crate::bindings::exports::spillway::plugin::source_mapping as m;

    /// Turns Cassandra rows into Kafka records.
    pub trait SourceMapper: Plugin {
        /// The records for one row (empty: skip it).
        fn map(&mut self, row: &Row) -> Result<Vec<Output>, Error>;
    }

    #[doc(hidden)]
    pub fn __map_rows<T: SourceMapper>(mut state: Option<&mut T>, input: m::Rows) -> m::Mapping {
        let mut w = Writer::default();
        let outcomes = input
            .rows
            .iter()
            .map(|raw| {
                let Some(plugin) = state.as_deref_mut() else {
                    return m::Mapped::Fail(wit_error(NOT_CONFIGURED.into()));
                };
                let (first, len) = (raw.cells.first as usize, raw.cells.len as usize);
                let cells = input.cells.get(first..first.saturating_add(len)).unwrap_or_default();
                let cells: Result<Vec<_>, String> = cells
                    .iter()
                    .map(|c| {
                        read_value(&input.arena, c.value, 0).map(|v| (text(&input.arena, c.column).to_string(), v))
                    })
                    .collect();
                let row = match cells {
                    Ok(cells) => Row {
                        keyspace: text(&input.arena, raw.keyspace).to_string(),
                        table: text(&input.arena, raw.table).to_string(),
                        cells,
                        write_time_micros: raw.write_time_micros,
                    },
                    Err(e) => return m::Mapped::Fail(wit_error(e.into())),
                };
                match plugin.map(&row) {
                    Ok(records) if records.is_empty() => m::Mapped::Skip,
                    Ok(records) => {
                        let first = w.records.len();
                        for r in &records {
                            w.record(r);
                        }
                        m::Mapped::Records(w.records_since(first))
                    }
                    Err(e) => m::Mapped::Fail(wit_error(e)),
                }
            })
            .collect();
        m::Mapping { outcomes, output: w.batch() }
    }

    /// Exports a [`SourceMapper`] as the component's `source-mapper` world.
    #[macro_export]
    macro_rules! export_source_mapper {
        ($ty:ty) => {
            const _: () = {
                $crate::__export_plugin!($ty, SourceMapper);
                impl $crate::bindings::exports::spillway::plugin::source_mapping::Guest for __SpillwayExport {
                    fn map_rows(
                        input: $crate::bindings::exports::spillway::plugin::source_mapping::Rows,
                    ) -> $crate::bindings::exports::spillway::plugin::source_mapping::Mapping {
                        STATE.with(|s| $crate::__map_rows::<$ty>(s.borrow_mut().as_mut(), input))
                    }
                }
    $crate::bindings::__export_world!(__SpillwayExport with_types_in $crate::bindings);
            };
        };
    }
}
