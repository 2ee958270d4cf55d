#!/usr/bin/env bash
# Packs what the GPU machine lacks into .device-deps/ (git-ignored): the shared
# packer's C++ packages plus OpenSSL's headers (the validator core hashes with
# libcrypto). Name .device-deps in the device call's `carry`, then run
# scripts/device-build-and-test.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/tools/pack-device-deps.sh .device-deps
for p in libssl-dev; do
  dpkg -L "$p" | while read -r f; do
    case "$f" in /usr/share/*) continue ;; esac
    if [ -f "$f" ] || [ -L "$f" ]; then
      mkdir -p ".device-deps$(dirname "$f")" && cp -a "$f" ".device-deps$f"
    fi
  done
done
echo "packed: $(du -sh .device-deps | cut -f1)"
