#!/usr/bin/env bash
# Prepares .devdeps/ (git-ignored) for a build on a GPU machine that has a CUDA LibTorch but neither the project's
# other dependencies nor a network. Run it here, on a Debian 12 machine set up by scripts/install-deps.sh:
#
#   bash scripts/gpu-stage.sh --bundle DIR [--fixtures DIR]
#
#   --bundle DIR    the GPU dependency bundle (Qt 6 + QCustomPlot + static OpenCV tarballs, gpu-env.sh, stage.sh);
#                   its stage.sh copies it into .devdeps/
#   --fixtures DIR  the reference fixtures the tests read (copied to .devdeps/fixtures; never committed)
#
# It adds .devdeps/caspl-deps.tar.xz: this machine's headers and CMake packages of nlohmann-json, CLI11 and ICU 72
# (the bundle's Qt already carries the ICU 72 runtime; scripts/gpu-check.sh links against that). Then, on the GPU
# machine, with .devdeps/ copied along with the tree: bash scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bundle="" fixtures=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=$2; shift 2 ;;
    --fixtures) fixtures=$2; shift 2 ;;
    *) echo "gpu-stage.sh: unknown argument '$1' (expected --bundle DIR, --fixtures DIR)" >&2; exit 2 ;;
  esac
done
if [ -n "$bundle" ]; then
  bash "$bundle/stage.sh" "$bundle"
fi
if [ ! -f .devdeps/qt6-bundle.tar.xz ] || [ ! -f .devdeps/gpu-env.sh ]; then
  echo "gpu-stage.sh: .devdeps/ has no dependency bundle: pass --bundle DIR" >&2
  exit 1
fi
for f in /usr/include/nlohmann/json.hpp /usr/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake \
         /usr/include/CLI/CLI.hpp /usr/share/cmake/CLI11/CLI11Config.cmake /usr/include/unicode/uvernum.h; do
  [ -f "$f" ] || { echo "gpu-stage.sh: $f is missing: run scripts/install-deps.sh first" >&2; exit 1; }
done
icu_major=$(sed -n 's/^#define U_ICU_VERSION_MAJOR_NUM \([0-9]*\).*/\1/p' /usr/include/unicode/uvernum.h)
if [ "$icu_major" != 72 ]; then
  echo "gpu-stage.sh: this machine's ICU headers are version $icu_major; the bundle's Qt carries ICU 72" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/caspl/include" "$tmp/caspl/share/cmake"
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/unicode "$tmp/caspl/include/"
cp -r /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 "$tmp/caspl/share/cmake/"
# gpu-env.sh unpacks every <top>-*.tar.xz of .devdeps/ into <prefix>/<top>/: this one into <prefix>/caspl/.
tar -C "$tmp" -cJf .devdeps/caspl-deps.tar.xz caspl
if [ -n "$fixtures" ]; then
  rm -rf .devdeps/fixtures
  mkdir -p .devdeps/fixtures
  cp -r "$fixtures"/. .devdeps/fixtures/
fi
du -sh .devdeps | awk '{print "gpu-stage.sh: .devdeps/ holds " $1}'
echo "gpu-stage.sh: on the GPU machine, with .devdeps/ copied along: bash scripts/gpu-check.sh"
