//! Spillway: a Kafka ↔ Cassandra connector host with Kafka Connect's REST API and configuration.
//!
//! `main.rs` only parses arguments and wires these modules together; everything else lives here so
//! tests can run it in-process.

pub mod cassandra;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connectors;
pub mod ctl;
pub mod kafka;
pub mod pipeline;
pub mod rest;
pub mod telemetry;
pub mod wasm;
pub mod worker;
