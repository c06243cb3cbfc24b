#!/usr/bin/env bash
# Checks that the Swift toolchain is installed and installs the system packages Plexus builds
# against (zlib, OpenBLAS, HDF5, pkg-config) with apt-get when they are missing.
# Sourced by scripts/test.sh and scripts/run-main.sh; safe to run again.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
  echo "error: the Swift toolchain (swift 6.1 or newer) is not installed or not on PATH." >&2
  echo "Install it from https://www.swift.org/install/ (or with swiftly), then run this again." >&2
  exit 1
fi

required_packages=(zlib1g-dev libopenblas-dev pkg-config libhdf5-dev)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for package in "${required_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
else
  echo "note: not a Debian/Ubuntu system; make sure zlib, OpenBLAS, HDF5 and pkg-config are installed." >&2
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing missing system packages: ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt_get=(apt-get)
  elif command -v sudo >/dev/null 2>&1; then
    apt_get=(sudo apt-get)
  else
    echo "error: missing packages ${missing[*]} and not root, with no sudo to install them." >&2
    echo "Install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" update -qq
  "${apt_get[@]}" install -y -qq "${missing[@]}" >/dev/null
fi
