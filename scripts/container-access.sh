# shellcheck shell=bash
# Sourced by scripts/export-hotkey.sh and scripts/export-hf-token.sh: write
# files that the image's user (uid 10001, CRUCIBLE_UID to change it) can read,
# and nobody else but root (and, with ACLs, the operator who owns them).
#   chown  run as root, or through sudo: files owned by 10001:10001, mode 600
#          (folders 700).
#   acl    otherwise, with setfacl: files owned by the operator, mode 600,
#          plus an ACL entry user:10001:r (folders 700 + user:10001:rx).
# CRUCIBLE_NO_SUDO=1 skips sudo (acl at once, or an error without setfacl).
# The caller sets `prog` (its name, for messages).
: "${prog:=container-access.sh}"

container_uid=${CRUCIBLE_UID:-10001}
case "$container_uid" in
  '' | *[!0-9]*) echo "$prog: CRUCIBLE_UID must be a number, got '$container_uid'" >&2; exit 2 ;;
esac

# choose_access_method: sets $access_method (chown or acl) and $as_root ("" or sudo).
choose_access_method() {
  as_root=""
  if [ "$(id -u)" -eq 0 ]; then
    access_method='chown'
  elif [ "${CRUCIBLE_NO_SUDO:-}" != 1 ] && command -v sudo >/dev/null 2>&1 &&
       { sudo -n true 2>/dev/null || { [ -t 0 ] && echo "$prog: sudo, to give the files to uid $container_uid:" >&2 && sudo -v; }; }; then
    access_method='chown'
    as_root=sudo
  elif command -v setfacl >/dev/null 2>&1; then
    access_method='acl'
  else
    echo "$prog: cannot give files to uid $container_uid: not root, no sudo (or CRUCIBLE_NO_SUDO=1), and no setfacl (apt-get install acl)" >&2
    exit 1
  fi
}

# make_private_dir DIR: DIR (and missing parents, those owned by the caller)
# exists, mode 700, readable and searchable by the container's uid.
make_private_dir() {
  if [ "$access_method" = chown ]; then
    $as_root install -d -m 700 -o "$container_uid" -g "$container_uid" "$1"
  else
    install -d -m 700 "$1"
    setfacl -m "u:$container_uid:rx" "$1"
  fi
}

# install_private_file SRC DEST: a copy of SRC at DEST (replacing it), mode
# 600, readable by the container's uid. SRC may be a file only the caller
# (or root, with sudo) can read.
install_private_file() {
  if [ "$access_method" = chown ]; then
    $as_root install -m 600 -o "$container_uid" -g "$container_uid" "$1" "$2"
  else
    install -m 600 "$1" "$2"
    setfacl -m "u:$container_uid:r" "$2"
  fi
}
