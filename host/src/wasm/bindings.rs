//! Host bindings of the `spillway:plugin` worlds (`wit/plugin.wit`). The imports (types, host,
//! schema-registry) are generated once, by the `transform` world, and shared by the others.

/// The `transform` world.
pub mod transform {
    wasmtime::component::bindgen!({ world: "transform", path: "../wit" });
}

/// The `converter` world.
pub mod converter {
    wasmtime::component::bindgen!({ world: "converter", path: "../wit", with: {
        "spillway:plugin/types": super::transform::spillway::plugin::types,
        "spillway:plugin/host": super::transform::spillway::plugin::host,
        "spillway:plugin/schema-registry": super::transform::spillway::plugin::schema_registry,
    } });
}

/// The `sink-mapper` world.
pub mod sink_mapper {
    wasmtime::component::bindgen!({ world: "sink-mapper", path: "../wit", with: {
        "spillway:plugin/types": super::transform::spillway::plugin::types,
        "spillway:plugin/host": super::transform::spillway::plugin::host,
        "spillway:plugin/schema-registry": super::transform::spillway::plugin::schema_registry,
    } });
}

/// The `source-mapper` world.
pub mod source_mapper {
    wasmtime::component::bindgen!({ world: "source-mapper", path: "../wit", with: {
        "spillway:plugin/types": super::transform::spillway::plugin::types,
        "spillway:plugin/host": super::transform::spillway::plugin::host,
        "spillway:plugin/schema-registry": super::transform::spillway::plugin::schema_registry,
    } });
}

pub use transform::spillway::plugin::{host, schema_registry, types};
