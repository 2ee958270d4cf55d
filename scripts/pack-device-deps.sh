#!/usr/bin/env bash
# Packs what the GPU machine lacks into .device-deps/ (git-ignored): the shared
# packer's C++ packages, OpenSSL's headers (the validator core hashes with
# libcrypto) and OpenBLAS (the CPU synthetic-data generator calls LAPACK and
# BLAS). Name .device-deps in the device call's `carry`, then run
# scripts/device-build-and-test.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/tools/pack-device-deps.sh .device-deps
for p in libssl-dev; do
  dpkg -L "$p" | while read -r f; do
    case "$f" in /usr/share/*|*.a) continue ;; esac
    if [ -f "$f" ] || [ -L "$f" ]; then
      mkdir -p ".device-deps$(dirname "$f")" && cp -a "$f" ".device-deps$f"
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
