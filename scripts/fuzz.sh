#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer): builds every target of fuzz/ and runs
# each for a bounded time against its committed corpus (fuzz/corpus/TARGET, and the
# inputs of past findings in fuzz/regressions/TARGET; both read only: new inputs go to a
# scratch directory), and fails on any crash, leaving the input in fuzz/artifacts/TARGET/.
#
#   scripts/fuzz.sh [SECONDS-PER-TARGET] [TARGET...]     (default: 20 s, every target)
#
# Uses the nightly toolchain (`cargo +nightly`), or the stable one with RUSTC_BOOTSTRAP=1
# where there is no nightly; installs cargo-fuzz when it is missing.
# Built with debug assertions and overflow checks (an overflow is a finding). By default
# the build is cheap, for CI: cargo-fuzz's `--dev` build at opt-level 1 (fuzz/Cargo.toml),
# 16 codegen units, no sanitizer (the code under test is safe Rust and the oracles are the
# targets' assertions; AddressSanitizer and opt-level 3 over the whole server, store and
# sqlx multiply the cold build's time). For long local runs: SYMBOLON_FUZZ_RELEASE=1
# (release, opt-level 3) and SYMBOLON_FUZZ_SANITIZER=address. SYMBOLON_FUZZ_TARGET_DIR sets
# the build directory (default $CARGO_TARGET_DIR/fuzz, else fuzz/target).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS-PER-TARGET] [TARGET...]" >&2; exit 2; }
shift $(($# > 0 ? 1 : 0))

# cargo-fuzz needs a nightly compiler. Where there is none (a machine with only the
# stable toolchain, which cannot fetch another), the stable compiler is told to accept
# nightly flags (RUSTC_BOOTSTRAP=1): the same compiler front end, said loudly.
if cargo +nightly --version >/dev/null 2>&1; then
  fuzz_cargo() { cargo +nightly fuzz "$@"; }
else
  echo "fuzz: no nightly toolchain; building the fuzz targets with the stable compiler and RUSTC_BOOTSTRAP=1" >&2
  fuzz_cargo() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked || { echo "fuzz: cannot install cargo-fuzz" >&2; exit 1; }
fi

# 16 codegen units rather than cargo-fuzz's 1: a cold build in a fraction of the time, for
# a slightly slower fuzzer.
flags=(--sanitizer "${SYMBOLON_FUZZ_SANITIZER:-none}" --codegen-units "${SYMBOLON_FUZZ_CODEGEN_UNITS:-16}")
if [[ ${SYMBOLON_FUZZ_RELEASE:-0} == 1 ]]; then flags+=(--release); else flags+=(--dev); fi
# Beside the main build when CARGO_TARGET_DIR is set (CI may keep it between runs).
fuzz_dir=${SYMBOLON_FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz}}
if [[ -n $fuzz_dir ]]; then
  flags+=(--target-dir "$fuzz_dir")
fi
start=$(date +%s)
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(fuzz_cargo list)
  fuzz_cargo build "${flags[@]}"
else
  for target in "${targets[@]}"; do fuzz_cargo build "${flags[@]}" "$target"; done
fi
((${#targets[@]})) || { echo "fuzz: no fuzz targets" >&2; exit 1; }
echo "fuzz: built in $(($(date +%s) - start)) s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "fuzz/corpus/$target"
  log="$scratch/$target.log"
  echo "== fuzz $target (${seconds} s)"
  # -timeout: one input taking over 10 s is a finding; -rss_limit_mb: so is 2 GB.
  corpora=("$scratch/$target" "fuzz/corpus/$target")
  [[ -d fuzz/regressions/$target ]] && corpora+=("fuzz/regressions/$target")
  if fuzz_cargo run "${flags[@]}" "$target" "${corpora[@]}" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    passed=$((passed + 1))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "fuzz: $target: ${runs:-?} runs, no crash"
  else
    failed+=("$target")
    grep -A 4 -E "panicked at|ERROR: libFuzzer" "$log" >&2 || true
    grep -E "^(MS:|Base64:|artifact_prefix)" "$log" >&2 || true
    echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/ (reproduce: cargo +nightly fuzz run $target fuzz/artifacts/$target/<file>)" >&2
  fi
done
echo "fuzz: $((${#targets[@]})) targets in $(($(date +%s) - start)) s"
echo "fuzz: ${passed} passed, ${#failed[@]} failed"
((${#failed[@]} == 0))
