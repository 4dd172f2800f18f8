#!/usr/bin/env bash
# Installs everything CasPL Studio needs to build, test and run its demo on Debian 12 (bookworm).
# Idempotent: run it as often as you like. Needs root (or sudo) only when something is missing.
#
#   bash scripts/install-deps.sh
#
# What it does:
#   1. apt-get installs the compiler tool chain and the libraries (Qt 6, QCustomPlot, LibTorch (CPU),
#      OpenCV core/imgproc/imgcodecs, yaml-cpp, ICU, zlib, nlohmann-json, CLI11) and the demo's data set
#      (Debian's dataset-fashion-mnist).
#   2. Selects OpenBLAS (OpenMP variant) as the system BLAS/LAPACK when the reference BLAS or OpenBLAS's pthread
#      variant is selected. Debian's LibTorch calls whatever libblas.so.3 is selected: the reference BLAS is ~35x
#      slower, and pthread OpenBLAS's threads compete with LibTorch's OpenMP threads. Another BLAS chosen by hand
#      (BLIS, MKL, ...) is left as it is.
set -euo pipefail

PACKAGES=(
  # tool chain
  build-essential cmake ninja-build pkg-config git
  # GUI: Qt 6 widgets + test (the GUI tests use Qt's offscreen platform), QCustomPlot (Qt 6 build)
  qt6-base-dev qt6-base-dev-tools libqcustomplot-dev libgl-dev
  # engine
  libtorch-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libyaml-cpp-dev libicu-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
  # fast BLAS for Debian's LibTorch
  libopenblas0-openmp
  # demo data
  dataset-fashion-mnist
  # tests: locale sources, from which a GUI test builds a decimal-comma locale (de_DE) in a temporary folder
  locales
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Root is asked for only when there is something to do.
SUDO=""
need_root() {
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "install-deps.sh: $1 needs root: run it as root or install sudo" >&2; exit 1
    fi
  fi
}

if [ ${#missing[@]} -gt 0 ]; then
  need_root "installing ${missing[*]}"
  echo "install-deps.sh: installing ${#missing[@]} packages: ${missing[*]}"
  echo "install-deps.sh: on a fresh machine this downloads about 1 GB (LibTorch, Qt, OpenCV): several minutes"
  log=$(mktemp -t caspl-install-deps.XXXXXX)
  # An old or empty package list makes apt-get fail to find packages: refresh it first. `env` carries
  # DEBIAN_FRONTEND through sudo, which drops the caller's environment: no question can stop the install.
  if ! { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "install-deps.sh: apt-get failed (its whole output: $log)" >&2
    exit 1
  fi
  rm -f "$log"
else
  echo "install-deps.sh: all ${#PACKAGES[@]} packages already installed"
fi

# OpenBLAS (OpenMP) for libblas.so.3 / liblapack.so.3, in place of the reference BLAS or pthread OpenBLAS.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for lib in libblas.so.3 liblapack.so.3; do
  alt="$lib-$arch"
  target="/usr/lib/$arch/openblas-openmp/$lib"
  [ -e "$target" ] || continue
  current=$(update-alternatives --query "$alt" 2>/dev/null | awk '/^Value:/{print $2}')
  case "$current" in
    "$target") ;;
    ""|/usr/lib/"$arch"/blas/*|/usr/lib/"$arch"/lapack/*|/usr/lib/"$arch"/openblas-pthread/*)
      need_root "selecting OpenBLAS for $lib"
      $SUDO update-alternatives --set "$alt" "$target" >/dev/null
      echo "install-deps.sh: $lib -> OpenBLAS (openmp)" ;;
    *)
      echo "install-deps.sh: $lib is $current (chosen by hand; left as it is)" ;;
  esac
done
echo "install-deps.sh: done"
