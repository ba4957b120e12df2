#!/usr/bin/env bash
# Builds the SIMD wasm core into ts/core/vae_core.wasm (cargo, then binaryen's wasm-opt from node_modules).
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
export RUSTFLAGS="-C target-feature=+simd128 --remap-path-prefix=$root=."
"$cargo_bin" build --offline --release --target wasm32-unknown-unknown -p vae-core \
  --target-dir "$root/target" >&2
# Post-link optimisation with binaryen (npm devDependency, pinned): among others it folds constant address offsets
# into load/store immediates (--optimize-added-constants, safe with --low-memory-unused: the core never uses the
# first KiB of memory), which V8 otherwise recomputes per access in the GEMM micro-kernel. +10% training speed.
wasm_opt="$root/node_modules/.bin/wasm-opt"
if [ ! -x "$wasm_opt" ]; then
  echo "build-wasm: binaryen's wasm-opt is missing; run 'npm ci' first" >&2
  exit 1
fi
mkdir -p ts/core
"$wasm_opt" target/wasm32-unknown-unknown/release/vae_core.wasm -O3 --enable-simd --enable-bulk-memory \
  --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int \
  --low-memory-unused --optimize-added-constants-propagate -o ts/core/vae_core.wasm
echo "build-wasm: $("$rustc_bin" --version) -> ts/core/vae_core.wasm ($(wc -c < ts/core/vae_core.wasm) bytes)" >&2
