#!/usr/bin/env bash
# Packs what the GPU machine lacks into .device-deps/ (git-ignored). That
# machine has CUDA, PyTorch/LibTorch, CMake and ninja but none of the Debian
# C++ packages: their headers, CMake package files and libraries travel, with
# OpenSSL's headers (the validator core hashes with libcrypto) and OpenBLAS
# (the CPU synthetic-data generator calls LAPACK and BLAS). Name .device-deps
# in the device call's `carry`, then run scripts/device-build-and-test.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.device-deps
pkgs="nlohmann-json3-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libcli11-dev libgtest-dev
  libgmock-dev libbenchmark-dev libbenchmark1debian libtomlplusplus-dev libtomlplusplus3 libssl-dev"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  apt-get install -y -qq $missing >/dev/null
fi
rm -rf "$dest" && mkdir -p "$dest"
for p in $pkgs; do
  dpkg -L "$p" | while read -r f; do
    case "$f" in /usr/share/doc/*|/usr/share/lintian/*|/usr/src/*) continue ;; esac
    case "$p:$f" in libssl-dev:*.a) continue ;; esac  # large, and the shared ones are there
    if [ -f "$f" ] || [ -L "$f" ]; then
      mkdir -p "$dest$(dirname "$f")" && cp -a "$f" "$dest$f"
    fi
  done
done
# OpenBLAS, as real files (Debian reaches it through /etc/alternatives links).
lib=.device-deps/usr/lib/x86_64-linux-gnu
mkdir -p "$lib" .device-deps/usr/include
cp -L /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0 "$lib/libopenblas.so.0"
ln -sf libopenblas.so.0 "$lib/libopenblas.so"
cp -L /usr/lib/x86_64-linux-gnu/libgfortran.so.5 /usr/lib/x86_64-linux-gnu/libquadmath.so.0 \
  /usr/lib/x86_64-linux-gnu/libcrypto.so.3 "$lib/"
cp -L /usr/include/x86_64-linux-gnu/cblas.h /usr/include/x86_64-linux-gnu/cblas_mangling.h \
  .device-deps/usr/include/ 2>/dev/null || cp -L /usr/include/x86_64-linux-gnu/cblas.h .device-deps/usr/include/
echo "packed: $(du -sh .device-deps | cut -f1)"
