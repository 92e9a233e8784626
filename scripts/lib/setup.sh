# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run): installs
# the Debian packages that are missing, then configures (once) and builds
# (incrementally) into build/.

HYBRID_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HYBRID_BUILD="${HYBRID_BUILD:-$HYBRID_ROOT/build}"
# Extra CMake options for a fresh configuration (hybrid_use_sanitized_build).
HYBRID_CMAKE_OPTIONS=()
LLVM_PREFIX=/usr/lib/llvm-22

# Everything comes from Debian by package name.
HYBRID_PACKAGES=(
  cmake ninja-build ccache
  clang-22 llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libgtest-dev python3-numpy libomp-22-dev nlohmann-json3-dev
  libonnx-dev libprotobuf-dev libsentencepiece-dev
  pybind11-dev python3-dev python3-pytest python3-matplotlib
  libclang-rt-22-dev
)

hybrid_install_missing() {
  local missing=()
  for pkg in "${HYBRID_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing missing packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Points the build at build-sanitize/: every target with AddressSanitizer
# and UndefinedBehaviorSanitizer (scripts/test.sh --sanitize,
# scripts/soak.sh), and sets the sanitizers' options for what runs there.
hybrid_use_sanitized_build() {
  HYBRID_BUILD="$HYBRID_ROOT/build-sanitize"
  # -O1, as the sanitizers' own docs advise: it builds in a fraction of
  # -O3's time and keeps the reports' stacks exact.
  HYBRID_CMAKE_OPTIONS=(-DHYBRID_SANITIZE=ON "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG"
                        "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG")
  # A finding stops the process with an error; UBSan prints its stack.
  # allow_user_poisoning=0: LLVM's allocators (header templates) poison
  # their free memory in our instrumented code, while the copies inside
  # Debian's uninstrumented libMLIR never unpoison it, so libMLIR's writes
  # into memory our code's copy had poisoned read as use-after-poison. The
  # project poisons nothing itself; real out-of-bounds accesses are still
  # reported.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allow_user_poisoning=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
}

# Configures $HYBRID_BUILD once, then builds TARGETS (default: all).
hybrid_build() {
  if [ ! -f "$HYBRID_BUILD/build.ninja" ]; then
    local launcher=()
    command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    echo "==> configuring $HYBRID_BUILD"
    cmake -G Ninja -S "$HYBRID_ROOT" -B "$HYBRID_BUILD" \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER="$LLVM_PREFIX/bin/clang" \
      -DCMAKE_CXX_COMPILER="$LLVM_PREFIX/bin/clang++" \
      -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir" \
      -DLLVM_EXTERNAL_LIT="$LLVM_PREFIX/bin/lit" \
      -DPython3_EXECUTABLE=/usr/bin/python3 \
      "${launcher[@]}" "${HYBRID_CMAKE_OPTIONS[@]}"
  fi
  echo "==> building"
  ninja -C "$HYBRID_BUILD" "$@"
}

hybrid_setup() {
  hybrid_install_missing
  hybrid_build
}
