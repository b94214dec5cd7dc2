# Shared shell helpers for scripts/setup.sh and scripts/setup.d/*.sh (source this file).

say() { printf '[setup] %s\n' "$*" >&2; }

# ensure_debs PKG...: installs the Debian packages that are not installed yet.
ensure_debs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  if [ -z "${ITX_APT_UPDATED:-}" ]; then $SUDO apt-get update -qq; export ITX_APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# check_sha256 FILE SUM: true when FILE exists and has that SHA-256.
check_sha256() {
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -c1-64)" = "$2" ]
}
