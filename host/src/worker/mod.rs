//! Connector and task lifecycle: the herder owns the connectors, the status board reports their
//! states, standalone mode wires them to files and REST, distributed mode to a cluster.

pub mod distributed;
pub mod herder;
pub mod standalone;
pub mod status;
