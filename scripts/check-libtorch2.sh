#!/usr/bin/env bash
# Compile check of the LibTorch 2.x + CUDA code paths on a machine that has neither: every translation unit of the
# project that sees LibTorch is compiled (syntax and templates only, no object files, no link) against the headers
# of Debian 13's CUDA LibTorch 2.x, with CASPL_WITH_CUDA=1, as a GPU machine's build would compile it.
#
#   bash scripts/check-libtorch2.sh [FILTER]      # FILTER: only files whose path contains it, e.g. core/clip
#
# Why: Debian 12's LibTorch is 1.13, so the normal build never compiles the `#if TORCH_VERSION_MAJOR >= 2` branches
# (fused attention, ...), and CASPL_CUDA_COMPILE_CHECK compiles the CUDA paths against 1.13's CUDA headers only.
# What it needs: a configured build folder (build/ or $CASPL_BUILD_DIR; configured here when missing), a CUDA
# toolkit's runtime headers (cuda_runtime_api.h under /usr/local/cuda*/include, $CUDA_HOME/include or
# /usr/include: NVIDIA's CUDA toolkit, or Debian's nvidia-cuda-toolkit from non-free), and Debian's package archive: `apt-get download` fetches the headers package (2.4 MB; trixie's
# libtorch-cuda-dev from contrib, or libtorch-dev from main) with its own package lists under the cache folder,
# so the machine's apt configuration is left alone and no root is needed. Nothing is installed.
#   CASPL_TORCH2_DIR     cache folder (default build-torch2/)
#   CASPL_TORCH2_SUITE   Debian suite to take the headers from (default trixie)
#   CASPL_TORCH2_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#   CASPL_TORCH2_PACKAGE the package to take (default libtorch-cuda-dev, else libtorch-dev); for example the
#                        newest release: CASPL_TORCH2_SUITE=sid CASPL_TORCH2_PACKAGE=libtorch-dev
#                        CASPL_TORCH2_DIR=build-torch2-sid. Headers without c10/cuda check the CPU paths only
#                        (no CASPL_WITH_CUDA); a CPU build's c10/cuda lacks one generated header, which
#                        cmake/cuda-check/ supplies. From LibTorch 2.12 on, or where its ATen.h asks for C++20, the
#                        files compile as C++20, as the project's CMake chooses then.
#   CASPL_JOBS           parallel compilations (default: all cores)
# Limit: Debian 12's own LibTorch 1.13 headers stay in /usr/include behind the 2.x ones, so a header that 2.x
# removed would still be found there; everything 2.x ships wins.
# Exit status: 0 when every file compiled, 1 when one did not (its errors are printed), 3 when something it needs
# is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${CASPL_BUILD_DIR:-build}
CACHE=${CASPL_TORCH2_DIR:-build-torch2}
SUITE=${CASPL_TORCH2_SUITE:-trixie}
MIRROR=${CASPL_TORCH2_MIRROR:-http://deb.debian.org/debian}
JOBS=${CASPL_JOBS:-$(nproc)}
FILTER=${1:-}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

fail() { echo "check-libtorch2.sh: $*" >&2; exit 3; }

# 1. The headers, once.
# The cache says which suite and package it holds: asking for another fetches again.
source_id="$SUITE ${CASPL_TORCH2_PACKAGE:-libtorch-cuda-dev|libtorch-dev}"
if [ ! -f "$CACHE/headers/.complete" ] || [ "$(cat "$CACHE/headers/.source" 2>/dev/null)" != "$source_id" ]; then
  apt_dir="$CACHE/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  echo "deb $MIRROR $SUITE main contrib" > "$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir" -o "Dir::State::status=/dev/null"
            -o APT::Architectures=amd64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" -qq update || fail "could not read Debian $SUITE's package lists (network?)"
  rm -f "$apt_dir"/*.deb
  if [ -n "${CASPL_TORCH2_PACKAGE:-}" ]; then
    (cd "$apt_dir" && apt-get "${apt_opts[@]}" -qq download "$CASPL_TORCH2_PACKAGE") ||
      fail "Debian $SUITE has no $CASPL_TORCH2_PACKAGE"
  else
    (cd "$apt_dir" && { apt-get "${apt_opts[@]}" -qq download libtorch-cuda-dev 2>/dev/null ||
                        apt-get "${apt_opts[@]}" -qq download libtorch-dev; }) ||
      fail "Debian $SUITE has neither libtorch-cuda-dev nor libtorch-dev"
  fi
  deb=$(ls "$apt_dir"/*.deb | head -1)
  rm -rf "$CACHE/headers"
  dpkg-deb -x "$deb" "$CACHE/headers"
  echo "$source_id" > "$CACHE/headers/.source"
  basename "$deb" > "$CACHE/headers/.complete"
fi
INC="$CACHE/headers/usr/include"
[ -f "$INC/torch/csrc/api/include/torch/version.h" ] || fail "no torch/version.h under $INC"
WITH_CUDA=1
if [ ! -f "$INC/c10/cuda/CUDAStream.h" ]; then
  WITH_CUDA=0
  echo "check-libtorch2.sh: note: these headers have no c10/cuda (a CPU LibTorch): the CPU paths are checked, without CASPL_WITH_CUDA"
fi
vh=$INC/torch/csrc/api/include/torch/version.h
[ -f "$INC/torch/headeronly/version.h" ] && vh=$INC/torch/headeronly/version.h  # where newer releases define them
major=$(sed -n 's/.*TORCH_VERSION_MAJOR \([0-9]*\).*/\1/p' "$vh")
minor=$(sed -n 's/.*TORCH_VERSION_MINOR \([0-9]*\).*/\1/p' "$vh")
[ -n "$major" ] && [ -n "$minor" ] || fail "no TORCH_VERSION_MAJOR/MINOR in $vh"
version=$major.$minor
STD=17
if [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 12 ]; } ||
   grep -q 'C++20 or later' "$INC/ATen/ATen.h" 2>/dev/null; then STD=20; fi
echo "check-libtorch2.sh: LibTorch $version headers from $(cat "$CACHE/headers/.complete"), C++$STD"

cuda_inc=none
if [ "$WITH_CUDA" = 1 ]; then
  cuda_inc=""
  for d in ${CUDA_HOME:+"$CUDA_HOME/include"} /usr/local/cuda/include /usr/local/cuda-*/include /usr/include; do
    if [ -f "$d/cuda_runtime_api.h" ]; then cuda_inc=$d; break; fi
  done
fi
[ -n "$cuda_inc" ] || fail "no CUDA runtime headers (cuda_runtime_api.h) under /usr/local/cuda*/include, \$CUDA_HOME/include or /usr/include"

# 2. The compile commands of the build, rewritten.
if [ ! -f "$BUILD_DIR/compile_commands.json" ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null || fail "could not configure $BUILD_DIR"
fi
list="$CACHE/commands.txt"
python3 - "$BUILD_DIR/compile_commands.json" "$ROOT" "$INC" "$cuda_inc" "$FILTER" "$STD" > "$list" <<'EOF'
import json, os, re, shlex, sys
db, root, inc, cuda_inc, flt, std = sys.argv[1:]
seen = set()
for e in json.load(open(db)):
    f = e["file"]
    rel = f[len(root) + 1:] if f.startswith(root + "/") else f
    # The project's own sources that LibTorch's include path reaches (generated moc files are Qt's business).
    if rel.startswith("build") or "/" not in rel or rel in seen or flt not in rel:
        continue
    args = shlex.split(e["command"])
    if not any("torch/csrc/api/include" in a for a in args):
        continue
    seen.add(rel)
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-c"):
            skip = a == "-o"
            continue
        if "torch/csrc/api/include" in a or a.endswith("cmake/cuda-check"):
            if out and out[-1] in ("-isystem", "-I"):
                out.pop()  # the flag that introduced it
            continue
        if a == "-DCASPL_WITH_CUDA=1":
            continue
        out.append(a)
    # LibTorch 2.x's headers first, so that none of the system's LibTorch 1.13 headers is seen.
    out[1:1] = ["-isystem", inc, "-isystem", inc + "/torch/csrc/api/include"]
    cuda = ["-isystem", cuda_inc, "-DCASPL_WITH_CUDA=1"] if cuda_inc != "none" else []
    if cuda and not os.path.exists(inc + "/c10/cuda/impl/cuda_cmake_macros.h"):
        cuda += ["-isystem", root + "/cmake/cuda-check"]  # a CPU LibTorch's c10/cuda: the header CUDA builds generate
    out[5:5] = cuda + ["-fsyntax-only", "-O0"]
    out = [re.sub(r"^-std=(c|gnu)\+\+(14|17|20)$", r"-std=\1++" + std, a) for a in out]
    print(rel + "\t" + e["directory"] + "\t" + shlex.join(out))
EOF
n=$(wc -l < "$list")
[ "$n" -gt 0 ] || fail "no LibTorch translation unit in $BUILD_DIR/compile_commands.json${FILTER:+ matching '$FILTER'}"
echo "check-libtorch2.sh: compiling $n files with $JOBS jobs"

# 3. Compile, in parallel; each file's errors land in its own log.
logs="$CACHE/logs"
rm -rf "$logs" && mkdir -p "$logs"
export logs
t0=$(date +%s)
tr '\n' '\0' < "$list" | xargs -0 -P "$JOBS" -I{} bash -c '
  IFS=$'"'"'\t'"'"' read -r rel dir cmd <<< "$1"
  log="$logs/$(echo "$rel" | tr / _).log"
  if (cd "$dir" && eval "$cmd") > "$log" 2>&1; then echo "  ok    $rel"; else echo "  FAIL  $rel"; touch "$log.failed"; fi
' _ {}
failed=$(find "$logs" -name "*.failed" | wc -l)  # not ls: with pipefail, its "no match" would end the script
echo "check-libtorch2.sh: $((n - failed))/$n files compiled against LibTorch $version$([ "$WITH_CUDA" = 1 ] && echo " + CUDA") (C++$STD) in $(( $(date +%s) - t0 )) s"
if [ "$failed" -gt 0 ]; then
  for f in "$logs"/*.failed; do
    echo "---- ${f%.failed}"
    grep -E "error|required from" "${f%.failed}" | head -40
  done
  exit 1
fi
