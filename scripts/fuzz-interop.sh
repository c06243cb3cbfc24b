#!/usr/bin/env bash
# Builds a libFuzzer target for one of PlexusInterop's readers and runs it.
#
#   scripts/fuzz-interop.sh safetensors|npz|pickle [seconds] [extra libFuzzer flags...]
#
# Seeds come from Tests/PlexusInteropTests/Fixtures (for pickle, the data.pkl of each .pt file,
# extracted with python3) into .build/fuzz-NAME/corpus, where libFuzzer adds what it finds;
# findings (crash-*, leak-*, timeout-*, oom-*) land in .build/fuzz-NAME/findings. Needs a Swift
# toolchain whose swiftc supports -sanitize=fuzzer (the Linux toolchains from swift.org do).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz-interop.sh safetensors|npz|pickle [seconds] [flags...]}"
shift
seconds="${1:-600}"
shift || true
case "$target" in
  safetensors) source=SafeTensorsReaderFuzzer.swift ;;
  npz) source=NumPyArchiveReaderFuzzer.swift ;;
  pickle) source=PickleReaderFuzzer.swift ;;
  *) echo "unknown target '$target': safetensors, npz or pickle" >&2; exit 64 ;;
esac
out=.build/fuzz-$target
fixtures=Tests/PlexusInteropTests/Fixtures
mkdir -p "$out/src" "$out/corpus" "$out/findings"

# One module from the readers' sources: PlexusCore plus PlexusInterop, whose
# `import PlexusCore` is dropped because both are compiled together.
rm -f "$out/src"/*.swift
cp Sources/PlexusCore/*/*.swift Sources/PlexusCore/*/*/*.swift Sources/PlexusCore/*.swift "$out/src/"
for file in $(find Sources/PlexusInterop -name '*.swift'); do
  sed '/^import PlexusCore$/d' "$file" > "$out/src/Interop_$(basename "$file")"
done
cp "Tests/Fuzz/$source" "$out/src/"

swiftc -O -g -sanitize=fuzzer,address -parse-as-library -swift-version 6 \
  -module-name PlexusInteropFuzz \
  -I Sources/CZlib -lz \
  "$out/src"/*.swift -o "$out/fuzzer" \
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
esac
exec "$out/fuzzer" "$out/corpus" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -artifact_prefix="$out/findings/" -print_final_stats=1 "$@"
