#!/usr/bin/env bash
# Installs the Debian packages snnfit needs to build and test, if any are missing (idempotent).
# Torch is only needed to regenerate test fixtures (tools/make_fixtures.py); it is not installed here.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  libzip-dev zlib1g-dev libblosc-dev libzstd-dev libjansson-dev libcmocka-dev
  python3 python3-numpy python3-zarr python3-numcodecs python3-zstandard
  # figures: PLplot with its cairo driver (libplplot-dev alone has no PNG device) and the font
  libplplot-dev plplot-driver-cairo libcairo2-dev libpng-dev fonts-dejavu-core
  # tests only: decoding the TensorBoard event files (protoc generates the Python module at test time,
  # python3-crc32c checks the records' CRCs)
  python3-protobuf protobuf-compiler python3-crc32c
  # tests only: scipy.sparse reads the sparse network files
  python3-scipy
  # MPI (optional at build time: found by CMake when present): data parallelism over trials and
  # sweeps under mpirun; the tests run mpirun on localhost
  libopenmpi-dev openmpi-bin
)
# `make fuzz` only (install-deps.sh fuzz): clang with libFuzzer and its OpenMP runtime
if [ "${1:-}" = fuzz ]; then
  packages=(clang-14 libclang-rt-14-dev libomp-14-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "error: not root and no sudo; run: apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
