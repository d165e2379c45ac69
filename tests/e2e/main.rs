//! End-to-end tests against real Kafka and Cassandra (`make up`). Run with `make test`.

mod sink;
