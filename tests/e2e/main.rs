//! End-to-end tests against real Kafka and Cassandra (`make up`). Run with `make test`.

mod common;
mod rest;
mod sink;
mod sink_avro;
mod sink_dialects;
mod sink_errors;
mod sink_tls;
mod sink_transforms;
mod source;
