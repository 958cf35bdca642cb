#!/usr/bin/env bash
# Installs every Debian package cellforge needs (idempotent), then configures and builds Release.
# Usage: scripts/setup.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config ccache
  libdnnl-dev ocl-icd-opencl-dev
  libboost-program-options-dev libspdlog-dev catch2 nlohmann-json3-dev libsqlite3-dev zlib1g-dev
  dataset-fashion-mnist graphviz libopenmpi-dev openmpi-bin
  libonnx-dev libprotobuf-dev
  libopencv-imgcodecs-dev libopencv-imgproc-dev libzip-dev  # image folders, NumPy .npz
  python3-torch python3-onnx python3-opencv chromium  # export round trips and report tests
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target cellforge
