#!/usr/bin/env bash
# Puts a Docker Compose v2 binary at DEST (default .venv-docker/bin/docker-compose)
# for scripts/check-docker.sh's `docker compose config`, on a machine that has
# no compose v2 (Debian 12 packages only compose 1.29, which predates the
# top-level `name`). Source: Debian 13 (trixie)'s docker-compose package
# (compose v2, a static Go binary that needs only glibc >= 2.34), fetched with
# apt-get into a private cache: the system's package lists and installed
# packages are left as they are; needs apt-get and Debian's archive keyring.
# Nothing is installed system-wide. Prints DEST; exits non-zero when it
# cannot, with the reason on standard error.
set -euo pipefail
dest=${1:-.venv-docker/bin/docker-compose}
suite=${CRUCIBLE_COMPOSE_SUITE:-trixie}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
command -v apt-get >/dev/null || { echo "fetch-compose: no apt-get" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "fetch-compose: no dpkg-deb" >&2; exit 1; }
[ -r "$keyring" ] || { echo "fetch-compose: no $keyring (package debian-archive-keyring)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt's download sandbox user reads it
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc/preferences.d" "$work/etc/apt.conf.d"
echo "deb [signed-by=$keyring] http://deb.debian.org/debian $suite main" > "$work/sources.list"
apt=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=$work/etc/none"
     -o "Dir::Etc::preferencesparts=$work/etc/preferences.d" -o "Dir::State::Lists=$work/lists"
     -o "Dir::Cache=$work/cache" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
if ! apt-get "${apt[@]}" update >"$work/log" 2>&1; then
  echo "fetch-compose: apt-get update ($suite) failed: $(tail -1 "$work/log")" >&2
  exit 1
fi
if ! (cd "$work" && apt-get "${apt[@]}" download docker-compose >>"$work/log" 2>&1); then
  echo "fetch-compose: apt-get download docker-compose ($suite) failed: $(tail -1 "$work/log")" >&2
  exit 1
fi
deb=$(ls "$work"/docker-compose_*.deb)
dpkg-deb -x "$deb" "$work/x"
bin="$work/x/usr/libexec/docker/cli-plugins/docker-compose"
[ -x "$bin" ] || { echo "fetch-compose: $(basename "$deb") has no cli-plugins/docker-compose" >&2; exit 1; }
"$bin" version --short >/dev/null 2>&1 || { echo "fetch-compose: the binary from $(basename "$deb") does not run here" >&2; exit 1; }
mkdir -p "$(dirname "$dest")"
install -m 755 "$bin" "$dest"
echo "$dest"
