#!/usr/bin/env bash
# Regenerates bridge/requirements.lock from bridge/requirements.txt: every
# transitive dependency pinned, with the SHA-256 of every distribution file of
# each pinned version (all wheels and the sdist, as PyPI lists them), so the
# same lock installs on Python 3.11 and 3.12 and on any platform PyPI has
# wheels for. pip-tools runs in a throwaway venv; needs PyPI. Pins already in
# the lock are kept where requirements.txt still allows them; pass --upgrade
# to take the newest versions instead.
#   bash bridge/lock-requirements.sh [--upgrade]
set -euo pipefail
BRIDGE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS="$(mktemp -d)"
trap 'rm -rf "$TOOLS"' EXIT
unset PIP_FIND_LINKS  # resolve from PyPI alone, and write no local folder into the lock
/usr/bin/python3 -m venv "$TOOLS/venv"
"$TOOLS/venv/bin/pip" install -q --disable-pip-version-check pip-tools==7.5.3
cd "$BRIDGE"
# --allow-unsafe pins setuptools/pip too if anything needs them: under
# --require-hashes nothing may come in unpinned.
CUSTOM_COMPILE_COMMAND="bash bridge/lock-requirements.sh" \
  "$TOOLS/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links "$@" \
  --output-file requirements.lock requirements.txt
