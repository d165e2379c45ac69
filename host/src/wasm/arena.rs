//! Host records ↔ the contract's flat batches (`wit/plugin.wit`, interface `types`): every
//! variable-length field is a span of one byte buffer, every nested value a range of flat lists.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::bindings::transform::exports::spillway::plugin::transformer::{Outcome, Transformed};
use super::bindings::types::{Arena, Batch, Data, Edge, Header, KafkaRecord, Node, Range, Span, Typed};
use crate::pipeline::record::SinkRecord;

const MAX_DEPTH: usize = 64;

/// Builds an input batch.
#[derive(Debug)]
pub struct BatchBuilder {
    arena: Arena,
    headers: Vec<Header>,
    records: Vec<KafkaRecord>,
    last_topic: Option<(Arc<str>, Span)>,
    typed: bool,
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl BatchBuilder {
    /// `typed`: pass JSON keys and values as typed values (the plugin asked for them).
    pub fn new(typed: bool) -> Self {
        Self {
            arena: Arena { bytes: Vec::new(), nodes: Vec::new(), edges: Vec::new() },
            headers: Vec::new(),
            records: Vec::new(),
            last_topic: None,
            typed,
        }
    }

    /// Appends bytes to the arena.
    pub fn span(&mut self, bytes: &[u8]) -> Span {
        let offset = len32(self.arena.bytes.len());
        self.arena.bytes.extend_from_slice(bytes);
        Span { offset, len: len32(bytes.len()) }
    }

    fn data(&mut self, bytes: Option<&[u8]>) -> Data {
        match bytes {
            None => Data::Null,
            Some(b) if self.typed => match serde_json::from_slice::<Value>(b) {
                Ok(v) => Data::Typed(Typed { root: self.value(&v, 0), schema: None }),
                Err(_) => Data::Bytes(self.span(b)),
            },
            Some(b) => Data::Bytes(self.span(b)),
        }
    }

    /// Appends a JSON value as typed nodes; returns its root.
    pub fn value(&mut self, v: &Value, depth: usize) -> u32 {
        let node = match v {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Node::Int64(i),
                None => Node::Float64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Node::Text(self.span(s.as_bytes())),
            Value::Array(items) if depth < MAX_DEPTH => {
                let first = self.arena.edges.len();
                self.arena.edges.resize(first + items.len(), Edge { name: None, node: 0 });
                for (i, item) in items.iter().enumerate() {
                    let node = self.value(item, depth + 1);
                    self.arena.edges[first + i].node = node;
                }
                Node::List(Range { first: len32(first), len: len32(items.len()) })
            }
            Value::Object(fields) if depth < MAX_DEPTH => {
                let first = self.arena.edges.len();
                self.arena.edges.resize(first + fields.len(), Edge { name: None, node: 0 });
                for (i, (k, item)) in fields.iter().enumerate() {
                    let name = Some(self.span(k.as_bytes()));
                    let node = self.value(item, depth + 1);
                    self.arena.edges[first + i] = Edge { name, node };
                }
                Node::Struct(Range { first: len32(first), len: len32(fields.len()) })
            }
            // Deeper than the contract allows: passed as its JSON text.
            deep => Node::Text(self.span(deep.to_string().as_bytes())),
        };
        self.arena.nodes.push(node);
        len32(self.arena.nodes.len() - 1)
    }

    /// Appends one record.
    pub fn push(&mut self, r: &SinkRecord) {
        let topic = match &self.last_topic {
            Some((t, span)) if Arc::ptr_eq(t, &r.topic) => *span,
            _ => {
                let span = self.span(r.topic.as_bytes());
                self.last_topic = Some((r.topic.clone(), span));
                span
            }
        };
        let first = len32(self.headers.len());
        for (k, v) in &r.headers {
            let key = self.span(k.as_bytes());
            let value = match v {
                Some(b) => Data::Bytes(self.span(b)),
                None => Data::Null,
            };
            self.headers.push(Header { key, value });
        }
        let record = KafkaRecord {
            topic,
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp_ms,
            key: self.data(r.key.as_deref()),
            value: self.data(r.value.as_deref()),
            headers: Range { first, len: len32(r.headers.len()) },
        };
        self.records.push(record);
    }

    /// The arena alone (for callers that build other lists, e.g. rows).
    pub fn into_arena(self) -> Arena {
        self.arena
    }

    /// The batch.
    pub fn finish(self) -> Batch {
        Batch { arena: self.arena, headers: self.headers, records: self.records }
    }
}

/// A batch of `records`.
pub fn batch(records: &[SinkRecord], typed: bool) -> Batch {
    let mut b = BatchBuilder::new(typed);
    let len = |v: &Option<Vec<u8>>| v.as_ref().map_or(0, Vec::len);
    let bytes: usize = records
        .iter()
        .map(|r| len(&r.key) + len(&r.value) + r.headers.iter().map(|(k, v)| k.len() + len(v)).sum::<usize>())
        .sum();
    b.arena.bytes.reserve(bytes + 64);
    b.records.reserve(records.len());
    for r in records {
        b.push(r);
    }
    b.finish()
}

/// A batch over an arena a converter returned: each record of `origin` with `values[i]` (data of
/// that arena) as its value, for the way back (`from-typed`). Keys and headers are left out.
pub fn batch_over(arena: Arena, values: Vec<Data>, origin: &[SinkRecord]) -> Batch {
    let mut b = BatchBuilder { arena, ..BatchBuilder::new(false) };
    for (r, value) in origin.iter().zip(values) {
        let topic = b.span(r.topic.as_bytes());
        b.records.push(KafkaRecord {
            topic,
            partition: r.partition,
            offset: r.offset,
            timestamp: r.timestamp_ms,
            key: Data::Null,
            value,
            headers: Range { first: 0, len: 0 },
        });
    }
    b.finish()
}

fn slice(arena: &Arena, span: Span) -> Result<&[u8], String> {
    let start = span.offset as usize;
    arena.bytes.get(start..start.saturating_add(span.len as usize)).ok_or_else(|| {
        format!("span {}+{} is outside the returned bytes ({})", span.offset, span.len, arena.bytes.len())
    })
}

fn text(arena: &Arena, span: Span) -> Result<&str, String> {
    std::str::from_utf8(slice(arena, span)?).map_err(|_| "returned text that is not UTF-8".to_string())
}

fn uuid_text(hi: u64, lo: u64) -> String {
    uuid::Uuid::from_u64_pair(hi, lo).to_string()
}

/// A typed value as JSON (Kafka Connect's JSON forms: bytes as base64, dates and times as numbers).
pub fn to_json(arena: &Arena, index: u32, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("returned a value nested deeper than 64 levels".into());
    }
    let node = arena.nodes.get(index as usize).ok_or_else(|| format!("returned node {index}, which does not exist"))?;
    let b64 = |s: Span| -> Result<Value, String> {
        Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(slice(arena, s)?)))
    };
    let edges = |r: Range| -> Result<&[Edge], String> {
        let first = r.first as usize;
        arena
            .edges
            .get(first..first.saturating_add(r.len as usize))
            .ok_or_else(|| "returned a range outside the edges".to_string())
    };
    let list = |r: Range| -> Result<Value, String> {
        Ok(Value::Array(edges(r)?.iter().map(|e| to_json(arena, e.node, depth + 1)).collect::<Result<_, _>>()?))
    };
    Ok(match *node {
        Node::Null => Value::Null,
        Node::Boolean(b) => Value::Bool(b),
        Node::Int8(v) => v.into(),
        Node::Int16(v) => v.into(),
        Node::Int32(v) | Node::Date(v) => v.into(),
        Node::Int64(v) | Node::Time(v) | Node::Timestamp(v) => v.into(),
        Node::Float32(v) => Number::from_f64(v.into()).map(Value::Number).unwrap_or(Value::Null),
        Node::Float64(v) => Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null),
        Node::Text(s) => Value::String(text(arena, s)?.to_string()),
        Node::Bytes(s) | Node::Varint(s) => b64(s)?,
        Node::Decimal(d) => b64(d.unscaled)?,
        Node::Uuid((hi, lo)) | Node::Timeuuid((hi, lo)) => Value::String(uuid_text(hi, lo)),
        Node::Inet(s) => {
            let b = slice(arena, s)?;
            let ip: std::net::IpAddr = match b.len() {
                4 => <[u8; 4]>::try_from(b).map_err(|_| "bad inet")?.into(),
                16 => <[u8; 16]>::try_from(b).map_err(|_| "bad inet")?.into(),
                n => return Err(format!("returned an inet of {n} bytes (4 or 16 expected)")),
            };
            Value::String(ip.to_string())
        }
        Node::Duration(d) => Value::String(format!("{}mo{}d{}ns", d.months, d.days, d.nanos)),
        Node::List(r) | Node::Set(r) | Node::Tuple(r) => list(r)?,
        Node::Map(r) => {
            let mut map = Map::new();
            for pair in edges(r)?.chunks(2) {
                let [k, v] = pair else { return Err("returned a map with an odd number of edges".into()) };
                let key = match to_json(arena, k.node, depth + 1)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                map.insert(key, to_json(arena, v.node, depth + 1)?);
            }
            Value::Object(map)
        }
        Node::Struct(r) => {
            let mut map = Map::new();
            for e in edges(r)? {
                let name = e.name.ok_or("returned a struct field without a name")?;
                map.insert(text(arena, name)?.to_string(), to_json(arena, e.node, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

/// Returned data as bytes for the host's pipeline (typed values rendered as JSON).
pub fn data_bytes(arena: &Arena, data: &Data) -> Result<Option<Vec<u8>>, String> {
    Ok(match *data {
        Data::Null => None,
        Data::Bytes(s) => Some(slice(arena, s)?.to_vec()),
        Data::Typed(t) => Some(serde_json::to_vec(&to_json(arena, t.root, 0)?).map_err(|e| e.to_string())?),
    })
}

/// An output record of a batch, as a host record descending from `origin`.
pub fn record(batch: &Batch, r: &KafkaRecord, origin: &SinkRecord) -> Result<SinkRecord, String> {
    let arena = &batch.arena;
    let topic_text = text(arena, r.topic)?;
    let topic = if topic_text == &*origin.topic { origin.topic.clone() } else { Arc::from(topic_text) };
    let first = r.headers.first as usize;
    let headers = batch
        .headers
        .get(first..first.saturating_add(r.headers.len as usize))
        .ok_or("returned a header range outside the headers")?
        .iter()
        .map(|h| Ok((text(arena, h.key)?.to_string(), data_bytes(arena, &h.value)?)))
        .collect::<Result<_, String>>()?;
    Ok(SinkRecord {
        topic,
        partition: if r.partition < 0 { origin.partition } else { r.partition },
        offset: origin.offset,
        timestamp_ms: r.timestamp,
        key: data_bytes(arena, &r.key)?,
        value: data_bytes(arena, &r.value)?,
        headers,
    })
}

/// What became of one input record in a transform step.
pub type StepOutcome = Result<Vec<SinkRecord>, String>;

/// Reads a transform's answer for `input`. An answer that breaks the contract as a whole (not one
/// outcome per record) is an `Err`, handled like a trap.
pub fn outcomes(input: &[SinkRecord], answer: Transformed) -> Result<Vec<StepOutcome>, String> {
    if answer.outcomes.len() != input.len() {
        return Err(format!("returned {} outcomes for {} records", answer.outcomes.len(), input.len()));
    }
    let out = &answer.output;
    Ok(answer
        .outcomes
        .iter()
        .zip(input)
        .map(|(outcome, origin)| match outcome {
            Outcome::Keep => Ok(vec![origin.clone()]),
            Outcome::Drop => Ok(Vec::new()),
            Outcome::Replace(range) => {
                let first = range.first as usize;
                let records = out
                    .records
                    .get(first..first.saturating_add(range.len as usize))
                    .ok_or_else(|| "the plugin returned a record range outside its output".to_string())?;
                records.iter().map(|r| record(out, r, origin).map_err(|e| format!("the plugin {e}"))).collect()
            }
            Outcome::Fail(e) => Err(e.message.clone()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(value: &str) -> SinkRecord {
        SinkRecord {
            topic: Arc::from("t"),
            partition: 2,
            offset: 7,
            timestamp_ms: Some(1),
            key: Some(b"k".to_vec()),
            value: Some(value.as_bytes().to_vec()),
            headers: vec![("h".into(), Some(b"v".to_vec())), ("n".into(), None)],
        }
    }

    #[test]
    fn a_batch_shares_one_topic_span_and_round_trips_a_record() {
        let (a, b) = (rec("1"), rec("2"));
        let b = SinkRecord { topic: a.topic.clone(), ..b };
        let batch = batch(&[a.clone(), b], false);
        let (t0, t1) = (batch.records[0].topic, batch.records[1].topic);
        assert_eq!((t0.offset, t0.len), (t1.offset, t1.len), "one topic string per batch");
        let back = record(&batch, &batch.records[0], &a).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn typed_values_become_json() {
        let input = rec(r#"{"a":[1,2.5,"x"],"b":{"c":null,"d":true}}"#);
        let batch = batch(std::slice::from_ref(&input), true);
        let Data::Typed(t) = batch.records[0].value else { panic!("not typed") };
        let json = to_json(&batch.arena, t.root, 0).unwrap();
        assert_eq!(json, serde_json::json!({"a":[1,2.5,"x"],"b":{"c":null,"d":true}}));
        let back = record(&batch, &batch.records[0], &input).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(back.value.as_deref().unwrap()).unwrap(), json);
    }

    #[test]
    fn broken_answers_are_errors_not_panics() {
        let input = [rec("1")];
        let arena = Arena { bytes: vec![], nodes: vec![], edges: vec![] };
        let empty = Batch { arena, headers: vec![], records: vec![] };
        let answer = Transformed { outcomes: vec![], output: empty.clone() };
        assert!(outcomes(&input, answer).unwrap_err().contains("0 outcomes for 1 records"));
        let answer =
            Transformed { outcomes: vec![Outcome::Replace(Range { first: 3, len: 1 })], output: empty.clone() };
        assert!(outcomes(&input, answer).unwrap()[0].as_ref().unwrap_err().contains("outside"));
        let bad = KafkaRecord { topic: Span { offset: 10, len: 4 }, ..batch(&input, false).records[0] };
        let output = Batch { records: vec![bad], ..empty };
        let answer = Transformed { outcomes: vec![Outcome::Replace(Range { first: 0, len: 1 })], output };
        assert!(outcomes(&input, answer).unwrap()[0].as_ref().unwrap_err().contains("span 10+4"));
    }
}
