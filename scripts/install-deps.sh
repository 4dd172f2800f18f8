#!/usr/bin/env bash
# Installs everything CasPL Studio needs to build, test and run its demo on Debian 12 (bookworm).
# Idempotent: run it as often as you like. Needs root (or sudo).
#
#   bash scripts/install-deps.sh
#
# What it does:
#   1. apt-get installs the compiler tool chain and the libraries (Qt 6, QCustomPlot, LibTorch (CPU),
#      OpenCV core/imgproc/imgcodecs, yaml-cpp, ICU, zlib, nlohmann-json, CLI11) and the demo's data set
#      (Debian's dataset-fashion-mnist).
#   2. Selects OpenBLAS (OpenMP variant) as the system BLAS/LAPACK. Debian's LibTorch calls whatever
#      libblas.so.3 is selected, and the reference BLAS that a plain install leaves is ~35x slower.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps.sh: run as root or install sudo" >&2; exit 1
  fi
fi

PACKAGES=(
  # tool chain
  build-essential cmake ninja-build pkg-config git
  # GUI: Qt 6 widgets + test, QCustomPlot (Qt 6 build), offscreen/xvfb for screenshots
  qt6-base-dev qt6-base-dev-tools libqcustomplot-dev libgl-dev
  # engine
  libtorch-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libyaml-cpp-dev libicu-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
  # fast BLAS for Debian's LibTorch
  libopenblas0-openmp
  # demo data
  dataset-fashion-mnist
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps.sh: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # An old or empty package list makes apt-get fail to find packages: refresh it first.
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps.sh: all ${#PACKAGES[@]} packages already installed"
fi

# Select OpenBLAS (OpenMP) for libblas.so.3 / liblapack.so.3.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for lib in libblas.so.3 liblapack.so.3; do
  alt="$lib-$arch"
  target="/usr/lib/$arch/openblas-openmp/$lib"
  if [ -e "$target" ]; then
    current=$(update-alternatives --query "$alt" 2>/dev/null | awk '/^Value:/{print $2}')
    if [ "$current" != "$target" ]; then
      $SUDO update-alternatives --set "$alt" "$target" >/dev/null
      echo "install-deps.sh: $lib -> OpenBLAS (openmp)"
    fi
  fi
done
echo "install-deps.sh: done"
