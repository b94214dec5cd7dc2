#!/usr/bin/env bash
# `make run`'s script on the built tree: models check, OCR and dictionary translation of a
# generated picture, then itx serve in the foreground — ready, serving the page, and exiting 0
# on SIGTERM. Also checks that the Makefile hands scripts/run.sh a build folder (it once
# passed the binary's path, and `make run` failed at once without any test noticing).
set -uo pipefail
: "${ITX_SOURCE_DIR:?}" "${ITX_BUILD_DIR:?}"
tmp=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

arg=$(make -s -n -C "$ITX_SOURCE_DIR" run 2>/dev/null | awk '$1 ~ /scripts\/run\.sh$/ {print $2}' | tail -1)
case "$arg" in
  build/release) ;;
  *) fail "make run calls scripts/run.sh with '$arg', want the build folder build/release" ;;
esac

if [ ! -x "$ITX_BUILD_DIR/tools/testset/itx-testset" ]; then
  echo "SKIPPED: no itx-testset in this build (libvips-dev missing)"; exit $((fails ? 1 : 0))
fi
cd "$tmp"
PORT=0 ITX_STORE_DIR="$tmp/files" ITX_DATA_DIR="$tmp" \
  bash "$ITX_SOURCE_DIR/scripts/run.sh" "$ITX_BUILD_DIR" >"$tmp/out" 2>&1 &
pid=$!
port=
for _ in $(seq 1 600); do
  port=$(grep -o '"port":[0-9]*' "$tmp/out" 2>/dev/null | head -1 | cut -d: -f2)
  grep -q '"message":"ready"' "$tmp/out" 2>/dev/null && [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
grep -q '^== itx ocr on a generated product picture' "$tmp/out" || fail "no OCR demo"
grep -qi 'buy one get one free\|free shipping\|electric kettle\|phone case' "$tmp/out" ||
  grep -q '^== its Chinese lines' "$tmp/out" || fail "no dictionary demo"
if [ -n "$port" ]; then
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] || fail "/readyz is not 200"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 200 ] || fail "the web page is not served"
else
  fail "itx serve never became ready"
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid"; rc=$?; pid=
[ "$rc" = 0 ] || fail "itx serve exited $rc after SIGTERM"
[ "$fails" = 0 ] || { echo "--- output"; cat "$tmp/out"; echo "test-run: $fails failure(s)"; exit 1; }
echo "test-run: ok"
