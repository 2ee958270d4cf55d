#!/usr/bin/env bash
# Writes the Hugging Face token for docker-compose.yml's `hf_token` secret
# (mounted at /run/secrets/hf_token; the validator reads the file that
# HF_TOKEN_FILE names) into a file that the crucible image's user (uid 10001)
# can read. The token comes from standard input, never from the command line
# (which `ps` and the shell history would show); empty input writes an empty
# file: no token, and compose still finds the file it mounts.
#
#   scripts/export-hf-token.sh [DEST] < token-file
#   scripts/export-hf-token.sh [DEST]                  (asks, without echo)
#
# DEST: default ./secrets/hf_token (docker-compose.yml's default
# CRUCIBLE_HF_TOKEN_FILE when run from the repository root). Its folder stays
# the caller's (mode 700); the file is mode 600, owned by 10001:10001 as root
# or through sudo, else the caller's with an ACL entry user:10001:r (setfacl).
# CRUCIBLE_UID and CRUCIBLE_NO_SUDO as for scripts/export-hotkey.sh.
set -euo pipefail
prog=export-hf-token.sh
case "${1:-}" in
  -h | --help | -*) sed -n '/^#   scripts/s/^#   //p' "$0" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "$prog: at most one argument, the destination file" >&2; exit 2; }
dest=${1:-./secrets/hf_token}
dir=$(dirname "$dest")

if [ -t 0 ]; then
  printf 'Hugging Face token (empty: none): ' >&2
  IFS= read -rs token || true
  echo >&2
else
  IFS= read -r token || true  # the first line
fi
case "$token" in
  *[[:space:]]*) echo "$prog: the token has white space in it" >&2; exit 1 ;;
esac

# shellcheck source=scripts/container-access.sh
. "$(dirname "${BASH_SOURCE[0]}")/container-access.sh"
choose_access_method

# The folder: the caller's, private; only the file is given to uid 10001
# (compose mounts the file, so the folder's mode does not matter inside).
install -d -m 700 "$dir"
if [ ! -e "$dir/.gitignore" ]; then printf '*\n' > "$dir/.gitignore"; fi
tmp=$(mktemp "$dir/.hf_token.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if [ -n "$token" ]; then printf '%s\n' "$token" > "$tmp"; fi
install_private_file "$tmp" "$dest"

case "$access_method" in
  chown) how="owned by $container_uid:$container_uid, mode 600 (chown${as_root:+ through sudo})" ;;
  acl) how="owned by $(id -un), mode 600, ACL user:$container_uid read (setfacl)" ;;
esac
abs=$(cd "$dir" && pwd)/$(basename "$dest")
what="an empty file (no token)"
[ -z "$token" ] || what="the token (${#token} characters)"
echo "$prog: wrote $what to $abs, $how"
[ "$abs" = "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/secrets/hf_token" ] ||
  echo "$prog: docker compose: CRUCIBLE_HF_TOKEN_FILE=$abs"
