#!/usr/bin/env bash
# Builds the libFuzzer target for the ONNX reader (Tests/Fuzz/ONNXReaderFuzzer.swift) and runs it.
#
#   scripts/fuzz-onnx.sh [seconds] [extra libFuzzer flags...]
#
# swift-protobuf (from .build/checkouts, so `swift build` or `swift package resolve` must have
# run) is compiled once as its own module; PlexusCore and PlexusONNX are compiled with the
# fuzzer into one module. Seeds are the .onnx fixtures of Tests/PlexusONNXTests/Fixtures, copied
# into .build/fuzz-onnx/corpus, where libFuzzer adds what it finds; findings land in
# .build/fuzz-onnx/findings. Needs a swiftc that supports -sanitize=fuzzer (swift.org's Linux
# toolchains do).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
out=.build/fuzz-onnx
protobuf=.build/checkouts/swift-protobuf/Sources/SwiftProtobuf
[ -d "$protobuf" ] || swift package resolve >/dev/null
mkdir -p "$out/src" "$out/modules" "$out/corpus" "$out/findings"

if [ ! -f "$out/modules/SwiftProtobuf.swiftmodule" ]; then
  swiftc -O -parse-as-library -swift-version 6 -enable-upcoming-feature ExistentialAny \
    -module-name SwiftProtobuf -package-name swift_protobuf \
    -emit-module -emit-module-path "$out/modules/SwiftProtobuf.swiftmodule" \
    -emit-library -static -o "$out/libSwiftProtobuf.a" "$protobuf"/*.swift
fi

# PlexusKernels (C) as an object file with a module map of its own.
mkdir -p "$out/kernels"
printf 'module PlexusKernels {\n  header "%s"\n  export *\n}\n' \
  "$PWD/Sources/PlexusKernels/include/PlexusKernels.h" > "$out/kernels/module.modulemap"
clang -O2 -c -I Sources/PlexusKernels/include Sources/PlexusKernels/Kernels.c \
  -o "$out/kernels/Kernels.o"

rm -f "$out/src"/*.swift
cp Sources/PlexusCore/*/*.swift Sources/PlexusCore/*/*/*.swift Sources/PlexusCore/*.swift "$out/src/"
for file in $(find Sources/PlexusONNX -name '*.swift'); do
  sed '/^import PlexusCore$/d' "$file" > "$out/src/ONNX_$(basename "$file")"
done
cp Tests/Fuzz/ONNXReaderFuzzer.swift "$out/src/"

swiftc -O -g -sanitize=fuzzer,address -parse-as-library -swift-version 6 \
  -module-name PlexusONNXFuzz -I "$out/modules" -L "$out" -lSwiftProtobuf \
  -I Sources/CZlib -I "$out/kernels" -lz \
  "$out/src"/*.swift "$out/kernels/Kernels.o" -o "$out/fuzzer" \
  2> >(grep -v "Cannot export local symbol" >&2)

cp -n Tests/PlexusONNXTests/Fixtures/*.onnx "$out/corpus/" 2>/dev/null || true
exec "$out/fuzzer" "$out/corpus" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -artifact_prefix="$out/findings/" -print_final_stats=1 "$@"
