#!/bin/sh
# Proves that the itx binary does not contain the test build of src/fetch/ (the only build
# that can honour the loopback switch), and, as a control, that a test binary built from
# itx_fetch_testing does contain its marker, so the search is not vacuous.
#   no-test-switch-in-itx.sh ITX_BINARY TEST_BINARY
set -eu
marker='itx-fetch-testing-build'
for f in "$1" "$2"; do
  [ -f "$f" ] || { echo "FAIL: no such file '$f'" >&2; exit 1; }
done
if grep -q "$marker" "$1"; then
  echo "FAIL: '$1' contains the test-only fetch build (loopback switch)" >&2
  exit 1
fi
if ! grep -q "$marker" "$2"; then
  echo "FAIL: control '$2' lacks the marker; the check would prove nothing" >&2
  exit 1
fi
if grep -q 'this build of itx does not support it' "$1"; then
  echo "ok: '$1' has the production fetch code and no test-only fetch code"
else
  # Until a module of itx calls itx_fetch, the linker leaves src/fetch/ out entirely.
  echo "ok: '$1' has no test-only fetch code (and no fetch code yet)"
fi
