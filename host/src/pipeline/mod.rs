//! The record pipeline's shared parts: the record model and converters (poll → convert → transform →
//! map → write → commit). Connectors assemble these stages; delivery is decided by `kafka::offsets`.

pub mod convert;
pub mod json;
pub mod record;
