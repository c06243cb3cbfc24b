#!/usr/bin/env bash
# Builds and runs a libFuzzer target for one of the tool's input readers:
#
#   scripts/fuzz-inputs.sh spec|npy|csv [seconds] [extra libFuzzer flags...]
#
#   spec  the training-spec reader: the strict JSON parser, every spec key, the layer, loss,
#         optimizer, metric and callback configs, and building the model (Tests/Fuzz/SpecReaderFuzzer.swift)
#   npy   the .npy reader (Tests/Fuzz/NumPyReaderFuzzer.swift)
#   csv   the CSV reader (Tests/Fuzz/CSVReaderFuzzer.swift)
#
# The package's modules are built once in release mode with coverage instrumentation and
# AddressSanitizer (.build/fuzz-pm); each target is linked against them. The seed corpus is
# the Examples folder (spec), the test fixtures' .npy files (npy) and a few CSV texts (csv);
# libFuzzer adds what it finds in .build/fuzz/<target>/corpus, findings go to
# .build/fuzz/<target>/findings. scripts/fuzz-reader.sh fuzzes the .plexus reader.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz-inputs.sh spec|npy|csv [seconds]}"
seconds="${2:-600}"
shift $(( $# >= 2 ? 2 : 1 ))
case "$target" in
  spec) source=Tests/Fuzz/SpecReaderFuzzer.swift ;;
  npy) source=Tests/Fuzz/NumPyReaderFuzzer.swift ;;
  csv) source=Tests/Fuzz/CSVReaderFuzzer.swift ;;
  *) echo "unknown target '$target'; expected spec, npy or csv" >&2; exit 64 ;;
esac

build=.build/fuzz-pm
swift build -c release --build-path "$build" --target PlexusCommands \
  -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
release="$build/release"
objects=()
for module in PlexusKernels PlexusCore PlexusPerceptron PlexusConvolution PlexusDatasets PlexusDBN \
  PlexusAutoencoder PlexusRecurrent Plexus PlexusInterop PlexusONNX SwiftProtobuf PlexusCommands ArgumentParser \
  ArgumentParserToolInfo; do
  while IFS= read -r -d '' object; do objects+=("$object"); done \
    < <(find "$release/$module.build" -name '*.o' -print0)
done

# PlexusInterop (under PlexusCommands) reads HDF5 through libhdf5.
hdf5_flags=()
for flag in $(pkg-config --cflags --libs hdf5); do
  case "$flag" in
    -I*) hdf5_flags+=(-Xcc "$flag") ;;
    *) hdf5_flags+=("$flag") ;;
  esac
done

out=".build/fuzz/$target"
mkdir -p "$out/corpus" "$out/findings"
swiftc -O -g -sanitize=fuzzer,address -parse-as-library -swift-version 6 \
  -module-name "Fuzz_$target" -I "$release/Modules" -I "$release/PlexusKernels.build" \
  -I Sources/CZlib -I Sources/CHDF5 "${hdf5_flags[@]}" \
  "$source" "${objects[@]}" -lz -o "$out/fuzzer" \
  2> >(grep -v "Cannot export local symbol" >&2)

case "$target" in
  spec) cp -n Examples/*.json "$out/corpus/" 2>/dev/null || true ;;
  npy) find Tests -name '*.npy' -exec cp -n {} "$out/corpus/" \; 2>/dev/null || true ;;
  csv)
    printf ',\nx,y,label\n1,2,0\n3.5,-4e-2,1\n' > "$out/corpus/header.csv"
    printf '\001;"a";"b""c"\r\n1;2\r\n' > "$out/corpus/quoted.csv"
    printf '\002\t1\t2\t3\n\n4\t5\t6\n' > "$out/corpus/tabs.csv"
    ;;
esac
exec "$out/fuzzer" "$out/corpus" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -artifact_prefix="$out/findings/" -print_final_stats=1 "$@"
