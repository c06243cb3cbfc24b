#!/usr/bin/env bash
# Builds the libFuzzer target for the .plexus reader and runs it.
#
#   scripts/fuzz-reader.sh [seconds] [extra libFuzzer flags...]
#
# The seed corpus in Tests/PlexusFormatTests/FuzzCorpus is copied to .build/fuzz/corpus, where
# libFuzzer adds what it finds; findings (crash-*, leak-*, timeout-*, oom-*) land in
# .build/fuzz/findings. Needs a Swift toolchain whose swiftc supports -sanitize=fuzzer (the
# Linux toolchains from swift.org do).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
out=.build/fuzz
mkdir -p "$out/src" "$out/corpus" "$out/findings"

# One module from the reader's sources: PlexusCore plus PlexusPerceptron (for a layer with
# weights), whose `import PlexusCore` is dropped because both are compiled together.
rm -f "$out/src"/*.swift
cp Sources/PlexusCore/*/*.swift Sources/PlexusCore/*/*/*.swift Sources/PlexusCore/*.swift "$out/src/"
for file in Sources/PlexusPerceptron/*.swift; do
  sed '/^import PlexusCore$/d' "$file" > "$out/src/Perceptron_$(basename "$file")"
done
cp Tests/Fuzz/PlexusReaderFuzzer.swift "$out/src/"

# PlexusCore imports the C kernels (PlexusKernels): compiled here with the sanitizers, with a
# module map for the import.
mkdir -p "$out/kernels"
printf 'module PlexusKernels {\n  header "%s"\n  export *\n}\n' \
  "$PWD/Sources/PlexusKernels/include/PlexusKernels.h" > "$out/kernels/module.modulemap"
clang -O2 -g -fsanitize=fuzzer-no-link,address -I Sources/PlexusKernels/include \
  -c Sources/PlexusKernels/Kernels.c -o "$out/kernels/Kernels.o"

swiftc -O -g -sanitize=fuzzer,address -parse-as-library -swift-version 6 \
  -module-name PlexusFuzz \
  -I Sources/CZlib -I "$out/kernels" -lz \
  "$out/src"/*.swift "$out/kernels/Kernels.o" -o "$out/plexus-reader-fuzzer" \
  2> >(grep -v "Cannot export local symbol" >&2)

cp -n Tests/PlexusFormatTests/FuzzCorpus/* "$out/corpus/" 2>/dev/null || true
exec "$out/plexus-reader-fuzzer" "$out/corpus" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -artifact_prefix="$out/findings/" -print_final_stats=1 "$@"
