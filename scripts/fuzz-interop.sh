#!/usr/bin/env bash
# Builds a libFuzzer target for one of PlexusInterop's readers and runs it.
#
#   scripts/fuzz-interop.sh safetensors|npz|pickle|hdf5|keras [seconds] [extra libFuzzer flags...]
#
#   safetensors  the safetensors reader (Tests/Fuzz/SafeTensorsReaderFuzzer.swift)
#   npz          the zip and .npz readers (Tests/Fuzz/NumPyArchiveReaderFuzzer.swift)
#   pickle       the restricted unpickler and the PyTorch reader (Tests/Fuzz/PickleReaderFuzzer.swift)
#   hdf5         the HDF5 reader (libhdf5) and the Keras .h5 readers: legacy full models and
#                weights files (Tests/Fuzz/HDF5ReaderFuzzer.swift)
#   keras        the Keras 3 .keras reader: zip, config.json, model.weights.h5
#                (Tests/Fuzz/KerasArchiveReaderFuzzer.swift)
#
# The package's modules are built once in release mode with coverage instrumentation and
# AddressSanitizer (.build/fuzz-pm, shared with scripts/fuzz-inputs.sh); each target is linked
# against them and libhdf5 (pkg-config hdf5). Seeds come from Tests/PlexusInteropTests/Fixtures
# (for pickle, the data.pkl of each .pt file, extracted with python3; for hdf5 and keras, the
# keras/ fixtures) into .build/fuzz-NAME/corpus, where libFuzzer adds what it finds; findings
# (crash-*, leak-*, timeout-*, oom-*) land in .build/fuzz-NAME/findings. Needs a Swift
# toolchain whose swiftc supports -sanitize=fuzzer (the Linux toolchains from swift.org do).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz-interop.sh safetensors|npz|pickle|hdf5|keras [seconds] [flags...]}"
shift
seconds="${1:-600}"
shift || true
case "$target" in
  safetensors) source=SafeTensorsReaderFuzzer.swift ;;
  npz) source=NumPyArchiveReaderFuzzer.swift ;;
  pickle) source=PickleReaderFuzzer.swift ;;
  hdf5) source=HDF5ReaderFuzzer.swift ;;
  keras) source=KerasArchiveReaderFuzzer.swift ;;
  *) echo "unknown target '$target': safetensors, npz, pickle, hdf5 or keras" >&2; exit 64 ;;
esac
out=.build/fuzz-$target
fixtures=Tests/PlexusInteropTests/Fixtures
mkdir -p "$out/corpus" "$out/findings"

build=.build/fuzz-pm
swift build -c release --build-path "$build" --target PlexusCommands \
  -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
release="$build/release"
objects=()
for module in PlexusKernels PlexusCore PlexusPerceptron PlexusInterop; do
  while IFS= read -r -d '' object; do objects+=("$object"); done \
    < <(find "$release/$module.build" -name '*.o' -print0)
done
hdf5_flags=()
for flag in $(pkg-config --cflags --libs hdf5); do
  case "$flag" in
    -I*) hdf5_flags+=(-Xcc "$flag") ;;
    *) hdf5_flags+=("$flag") ;;
  esac
done

swiftc -O -g -sanitize=fuzzer,address -parse-as-library -swift-version 6 \
  -module-name "Fuzz_$target" -I "$release/Modules" -I "$release/PlexusKernels.build" \
  -I Sources/CZlib -I Sources/CHDF5 "${hdf5_flags[@]}" \
  "Tests/Fuzz/$source" "${objects[@]}" -lz -o "$out/fuzzer" \
  2> >(grep -v "Cannot export local symbol" >&2)

case "$target" in
  safetensors) cp -n "$fixtures"/*.safetensors "$out/corpus/" 2>/dev/null || true ;;
  npz)
    cp -n "$fixtures"/*.npz "$out/corpus/" 2>/dev/null || true
    cp -n "$fixtures"/*.npy "$out/corpus/" 2>/dev/null || true ;;
  pickle)
    python3 - "$fixtures" "$out/corpus" <<'PY'
import pathlib, sys, zipfile
source, corpus = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for path in source.glob("*.pt"):
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith("/data.pkl"):
                    (corpus / f"{path.stem}.pkl").write_bytes(archive.read(name))
    except zipfile.BadZipFile:
        (corpus / f"{path.stem}.raw").write_bytes(path.read_bytes())
PY
    ;;
  hdf5) cp -n "$fixtures"/keras/*.h5 "$out/corpus/" 2>/dev/null || true ;;
  keras) cp -n "$fixtures"/keras/*.keras "$out/corpus/" 2>/dev/null || true ;;
esac
exec "$out/fuzzer" "$out/corpus" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -artifact_prefix="$out/findings/" -print_final_stats=1 "$@"
