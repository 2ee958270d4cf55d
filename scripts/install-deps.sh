#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need; does nothing when
# they are all present (idempotent). Optional Python oracles are best effort.
set -euo pipefail

packages=(cmake ninja-build g++ libtorch-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev libgtest-dev libbenchmark-dev libssl-dev libcurl4-openssl-dev
  libcpp-httplib-dev pkg-config libopenblas0-openmp python3 python3-numpy python3-scipy python3-pip
  libjs-chart.js)
# The official Chronos-Bolt package's venv (tests and benchmarks only) needs
# Python torch; CRUCIBLE_RUNTIME_ONLY=1 (the Docker CPU image) skips both.
[ "${CRUCIBLE_RUNTIME_ONLY:-0}" = 1 ] || packages+=(python3-venv python3-torch)
# make bench-status: the status endpoint's loopback load test.
[ "${CRUCIBLE_RUNTIME_ONLY:-0}" = 1 ] || packages+=(wrk)
# make fuzz: clang with its libFuzzer and sanitizer runtimes and its OpenMP.
[ "${CRUCIBLE_RUNTIME_ONLY:-0}" = 1 ] || packages+=(clang libclang-rt-14-dev libomp-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "installing: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Headless Chromium for the HTML page checks (tests/python/page_check.py), tests
# only; best effort: it fails to install on some machines, and those checks
# print SKIP without it.
if [ "${CRUCIBLE_RUNTIME_ONLY:-0}" != 1 ] &&
   ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "ok installed"; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  { $sudo_cmd apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium
  } >/dev/null 2>&1 || echo "note: chromium not installed; the HTML page checks are skipped"
fi

# properscoring is the independent CRPS oracle; the tests fall back to a numpy
# reference and committed golden vectors when it cannot be installed.
if ! /usr/bin/python3 -c 'import properscoring' 2>/dev/null; then
  /usr/bin/python3 -m pip install -q --break-system-packages --no-deps properscoring \
    >/dev/null 2>&1 || echo "note: properscoring not installed; CRPS tests use the numpy oracle"
fi

# amazon's chronos-forecasting in a venv (.venv-chronos): the live comparison
# of the native Chronos-Bolt forward and the native benchmark use it; both are
# skipped with a printed reason when it cannot be made.
if [ "${CRUCIBLE_RUNTIME_ONLY:-0}" != 1 ]; then
  bash "$(dirname "$0")/make-chronos-venv.sh" >/dev/null ||
    echo "note: chronos venv not made; the live Chronos-Bolt comparison is skipped"
  # chronos-forecasting 2.3.2 (.venv-chronos2): the Chronos-2 reference that
  # tests/python/make_chronos2_golden.py runs to make tests/golden/chronos2.
  bash "$(dirname "$0")/make-chronos2-venv.sh" >/dev/null ||
    echo "note: chronos2 venv not made; the Chronos-2 reference cannot be run"
fi
