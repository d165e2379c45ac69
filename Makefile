# Spillway — the one entry point. `make` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
SERVICES := tests/services/services.sh

.DEFAULT_GOAL := help
.PHONY: help up down status build plugins test test-unit test-plugins test-e2e demo bench bench-wasm bench-sink bench-source bench-footprint bench-failover test-conformance lint fmt clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-15s\033[0m %s\n", $$1, $$2}'

up: ## start Kafka and Cassandra (Maven Central jars, 127.0.0.1:9092 / :9042); no-op when running
	@$(SERVICES) up

down: ## stop the services started by `make up`
	@$(SERVICES) down

status: ## show whether the services run
	@$(SERVICES) status

build: ## build the spillway binary and the dev tool
	$(CARGO) build --workspace --bins

plugins: ## build the Wasm plugins of plugins/ (wasm32-wasip2) into plugins/dist
	@plugins/build.sh

test: up plugins ## unit tests, plugin runtime tests, end-to-end, fault and cluster tests against real Kafka and Cassandra, then REST conformance
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --lib --bins
	$(CARGO) test --workspace --test plugins
	cd plugins && host=$$(rustc -vV | sed -n 's/^host: //p') && $(CARGO) test --quiet -p spillway-plugin-sdk -p connect-std -p connect-data -p cast --target $$host && $(CARGO) test --quiet -p avro-converter --target $$host
	$(CARGO) test --workspace --test e2e
	$(CARGO) test --workspace --test faults
	$(CARGO) test --workspace --test cluster
	tests/conformance/run.sh

test-unit: ## unit tests only (no services needed)
	$(CARGO) test --workspace --lib --bins

test-plugins: plugins ## the plugin runtime against the plugins of plugins/ (hostile ones included; no services needed)
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --test plugins
	cd plugins && host=$$(rustc -vV | sed -n 's/^host: //p') && $(CARGO) test --quiet -p spillway-plugin-sdk -p connect-std -p connect-data -p cast --target $$host && $(CARGO) test --quiet -p avro-converter --target $$host

test-e2e: up plugins ## end-to-end, fault and cluster tests only
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --test e2e
	$(CARGO) test --workspace --test faults
	$(CARGO) test --workspace --test cluster

test-conformance: up plugins ## the REST API against Connect's spec and our /openapi.json (schemathesis) and the kc CLI (tests/conformance)
	$(CARGO) build --workspace --bins
	tests/conformance/run.sh

demo: ## services up, a standalone sink, IoT readings in, rows out
	@scripts/demo.sh

bench: bench-wasm bench-sink bench-source bench-footprint bench-failover ## every benchmark

bench-wasm: plugins ## the Wasm boundary per record (keep, a field-level transform) next to native Rust
	$(CARGO) bench -p spillway --bench wasm_boundary

bench-sink: up ## the sink on 1 M IoT events next to the raw ceiling: every process sharing the CPUs, then Cassandra on a CPU of its own (release build; see docs/benchmarks.md)
	$(CARGO) build --release -p spillway -p spillway-tests --bins
	target/release/spillway-dev bench-sink --spillway target/release/spillway $(BENCH_ARGS)
	target/release/spillway-dev bench-sink --spillway target/release/spillway --isolate-cassandra $(BENCH_ARGS)

bench-source: up ## the source draining 1 M rows of a bucketed table to Kafka next to the raw ceiling (release build; see docs/benchmarks.md)
	$(CARGO) build --release -p spillway -p spillway-tests --bins
	target/release/spillway-dev bench-source --spillway target/release/spillway $(BENCH_ARGS)

bench-footprint: up ## idle RSS and start time to /health 200, Spillway next to Kafka Connect 4.x (Maven jars; FOOTPRINT_ARGS="--runs 5")
	$(CARGO) build --release -p spillway -p spillway-tests --bins
	@$(SERVICES) jars connect
	target/release/spillway-dev bench-footprint --spillway target/release/spillway $(FOOTPRINT_ARGS)

bench-failover: up ## kill -9 a worker of a 3-worker cluster under load, 5 times: time until its task RUNNING elsewhere (FAILOVER_ARGS="--runs 10")
	$(CARGO) build --release -p spillway -p spillway-tests --bins
	target/release/spillway-dev bench-failover --spillway target/release/spillway $(FAILOVER_ARGS)

lint: ## rustfmt check and clippy with warnings as errors (host and plugins)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd plugins && $(CARGO) fmt --all -- --check
	@cd plugins && for d in examples/rust/* testing/* std/*; do $(CARGO) clippy --quiet --release -p $$(basename $$d) -- -D warnings || exit 1; done

fmt: ## format the code
	$(CARGO) fmt --all
	cd plugins && $(CARGO) fmt --all

clean: down ## stop services and delete build output and service data
	rm -rf target .run plugins/target plugins/dist
