#!/usr/bin/env bash
# Builds the SIMD wasm core into ts/core/vae_core.wasm and its shared-memory twin ts/core/vae_core_mt.wasm (cargo,
# then binaryen's wasm-opt from scripts/wasm-tools, installed by `node scripts/deps.mjs wasm-tools`; `npm run
# build:wasm` does both).
# Uses whichever cargo has the wasm32-unknown-unknown standard library: Debian's (/usr/bin/cargo, from
# `apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14`) or a rustup toolchain with
# `rustup target add wasm32-unknown-unknown`. Output is byte-reproducible (paths remapped, no debug info).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

has_wasm_std() { # $1 = rustc
  local sysroot
  sysroot="$("$1" --print sysroot 2>/dev/null)" || return 1
  ls "$sysroot"/lib/rustlib/wasm32-unknown-unknown/lib/libcore-*.rlib >/dev/null 2>&1
}

cargo_bin="" ; rustc_bin=""
for dir in /usr/bin "$(dirname "$(command -v cargo 2>/dev/null || echo /nonexistent/cargo)")"; do
  if [ -x "$dir/cargo" ] && [ -x "$dir/rustc" ] && has_wasm_std "$dir/rustc"; then
    cargo_bin="$dir/cargo"; rustc_bin="$dir/rustc"; break
  fi
done
if [ -z "$cargo_bin" ]; then
  echo "build-wasm: no Rust toolchain with the wasm32-unknown-unknown target found." >&2
  echo "  Debian/Ubuntu: apt-get install -y rustc cargo libstd-rust-dev-wasm32 lld-14" >&2
  echo "  rustup:        rustup target add wasm32-unknown-unknown" >&2
  exit 1
fi

export RUSTC="$rustc_bin"
wasm_opt="$root/scripts/wasm-tools/node_modules/.bin/wasm-opt"
if [ ! -x "$wasm_opt" ]; then
  echo "build-wasm: binaryen's wasm-opt is missing; run 'node scripts/deps.mjs wasm-tools' (or 'npm run build:wasm')" >&2
  exit 1
fi
mkdir -p ts/core
remap="--remap-path-prefix=$root=."
# Post-link optimisation with binaryen (pinned in scripts/wasm-tools/package.json): among others it folds constant address offsets
# into load/store immediates (--optimize-added-constants, safe with --low-memory-unused: the core never uses the
# first KiB of memory), which V8 otherwise recomputes per access in the GEMM micro-kernel. +10% training speed.
optimize() { # $1 = cargo output, $2 = destination, then extra wasm-opt feature flags
  local from="$1" to="$2"; shift 2
  "$wasm_opt" "$from" -O3 --enable-simd --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int "$@" --low-memory-unused --optimize-added-constants-propagate -o "$to"
  echo "build-wasm: $("$rustc_bin" --version) -> $to ($(wc -c < "$to") bytes)" >&2
}

# 1. The single-memory module, for engines without shared memory (pages that are not cross-origin isolated). Bulk
# memory (memory.copy / memory.fill, in every engine with SIMD) makes the core's copies native instead of a byte loop.
RUSTFLAGS="-C target-feature=+simd128,+bulk-memory $remap" \
  "$cargo_bin" build --offline --release --target wasm32-unknown-unknown -p vae-core --target-dir "$root/target" >&2
optimize target/wasm32-unknown-unknown/release/vae_core.wasm ts/core/vae_core.wasm

# 2. The shared-memory module for worker threads (crate feature `threads`). It must stay no_std: Debian's wasm32
# std is not built with atomics. Memory is imported (every thread's instance gets the same one, up to 4 GiB) and
# each instance's shadow-stack pointer is exported so that its thread can be given a stack of its own.
RUSTFLAGS="-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals $remap \
  -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--initial-memory=2097152 \
  -C link-arg=--max-memory=4294967296 -C link-arg=--export=__stack_pointer" \
  "$cargo_bin" build --offline --release --target wasm32-unknown-unknown -p vae-core --features threads \
  --target-dir "$root/target/threads" >&2
optimize target/threads/wasm32-unknown-unknown/release/vae_core.wasm ts/core/vae_core_mt.wasm --enable-threads
