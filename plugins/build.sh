#!/usr/bin/env bash
# Builds every plugin in this workspace for wasm32-wasip2 (opt-level 3, +simd128) into plugins/dist/:
# examples, test plugins, and Kafka Connect's transforms from std/ (their files are what `plugin.path`
# needs for Connect's class names to resolve).
# One package at a time: each plugin enables exactly one world feature of the SDK.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p dist
if command -v rustup >/dev/null && ! rustup target list --installed | grep -x wasm32-wasip2 >/dev/null; then
  rustup target add wasm32-wasip2
fi
build() { # build <package> [cargo args...]
  local package=$1; shift
  cargo build --quiet --release -p "$package" "$@"
}
for dir in examples/rust/* testing/*; do
  package=$(basename "$dir")
  build "$package"
  cp "target/wasm32-wasip2/release/${package//-/_}.wasm" "dist/$package.wasm"
done
# Kafka Connect's standard library: one file per class. A crate with `key` and `value` features
# (Connect's `$Key` / `$Value` classes) is built once for each; any other crate once.
for dir in std/*/; do
  package=$(basename "$dir")
  grep -q cdylib "$dir/Cargo.toml" || continue # a library the plugins share
  if grep -qx 'key = \[\]' "$dir/Cargo.toml"; then
    for side in key value; do
      build "$package" --features "$side"
      cp "target/wasm32-wasip2/release/${package//-/_}.wasm" "dist/$package-$side.wasm"
    done
  else
    build "$package"
    cp "target/wasm32-wasip2/release/${package//-/_}.wasm" "dist/$package.wasm"
  fi
done
# The hot-reload test swaps tagger 1.0.0 for 2.0.0 (same name, another version and output).
mv dist/tagger.wasm dist/tagger-v1.wasm
build tagger --features v2
cp target/wasm32-wasip2/release/tagger.wasm dist/tagger-v2.wasm
ls -l dist
