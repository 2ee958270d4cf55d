#!/usr/bin/env bash
# Copies one bittensor hotkey into a folder that the crucible image's user
# (uid 10001) can read, for docker-compose.yml's bridge (WALLET_DIR, mounted
# read-only at /wallets). Only two files are copied:
#   WALLETS/WALLET_NAME/hotkeys/HOTKEY_NAME  (the hotkey the bridge signs weights with)
#   WALLETS/WALLET_NAME/coldkeypub.txt       (the coldkey's public key; no secret)
# never the coldkey itself. The operator's wallet folder is only read, never
# changed. docs/docker.md "Wallets".
#
#   scripts/export-hotkey.sh [--wallet-path WALLETS] WALLET_NAME HOTKEY_NAME [DEST]
#
# WALLETS: --wallet-path, else $BT_WALLET_PATH, else ~/.bittensor/wallets (the
# home of the user who ran sudo, under sudo). DEST: default ./crucible-wallet
# (docker-compose.yml's default WALLET_DIR when run from the repository root).
# Ownership: as root or through sudo, DEST and the copies belong to
# 10001:10001 (mode 700/600: only uid 10001 and root read them); otherwise
# they stay the caller's, mode 700/600, with an ACL entry that lets uid 10001
# read them (setfacl, package acl). CRUCIBLE_UID changes the uid (a remapped
# user namespace), CRUCIBLE_NO_SUDO=1 skips sudo. Running it again replaces the copies.
set -euo pipefail
prog=export-hotkey.sh
usage() {
  sed -n '/^#   scripts/s/^#   //p' "$0" >&2
  exit 2
}

wallets=${BT_WALLET_PATH:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --wallet-path) [ $# -ge 2 ] || usage; wallets=$2; shift 2 ;;
    --wallet-path=*) wallets=${1#*=}; shift ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "$prog: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
name=$1 hotkey=$2 dest=${3:-./crucible-wallet}
for part in "$name" "$hotkey"; do
  case "$part" in
    '' | . | .. | */* | -*) echo "$prog: '$part' is not a wallet or hotkey name" >&2; exit 2 ;;
  esac
done
if [ -z "$wallets" ]; then
  home=$HOME
  if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ]; then
    home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
  fi
  wallets=$home/.bittensor/wallets
fi

src_hotkey=$wallets/$name/hotkeys/$hotkey
src_coldkeypub=$wallets/$name/coldkeypub.txt
for f in "$src_hotkey" "$src_coldkeypub"; do
  if [ ! -f "$f" ]; then
    echo "$prog: $f: no such file (wallet folder $wallets; --wallet-path to change it)" >&2
    exit 1
  fi
  if [ ! -r "$f" ]; then
    echo "$prog: $f: not readable by $(id -un); run it as the wallet's owner or with sudo" >&2
    exit 1
  fi
done

# shellcheck source=scripts/container-access.sh
. "$(dirname "${BASH_SOURCE[0]}")/container-access.sh"
choose_access_method

make_private_dir "$dest"
make_private_dir "$dest/$name"
make_private_dir "$dest/$name/hotkeys"
install_private_file "$src_hotkey" "$dest/$name/hotkeys/$hotkey"
install_private_file "$src_coldkeypub" "$dest/$name/coldkeypub.txt"
# Keeps the copy out of git when DEST is inside a repository (the folder is
# also in .dockerignore).
if [ ! -e "$dest/.gitignore" ] && [ -w "$dest" ]; then
  printf '*\n' > "$dest/.gitignore"
elif [ ! -e "$dest/.gitignore" ] && [ -n "$as_root" ]; then
  printf '*\n' | $as_root tee "$dest/.gitignore" >/dev/null
fi

case "$access_method" in
  chown) how="owned by $container_uid:$container_uid, mode 700/600 (chown${as_root:+ through sudo})" ;;
  acl) how="owned by $(id -un), mode 700/600, ACL user:$container_uid read (setfacl)" ;;
esac
abs=$(cd "$(dirname "$dest")" && pwd)/$(basename "$dest")
echo "$prog: copied $name/hotkeys/$hotkey and $name/coldkeypub.txt (not the coldkey) into $abs, $how"
echo "$prog: docker compose: WALLET_DIR=$abs WALLET_NAME=$name WALLET_HOTKEY=$hotkey"
