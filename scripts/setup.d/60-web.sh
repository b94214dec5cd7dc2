#!/usr/bin/env bash
# The web page's browser test (tests/web/browser.mjs, docs/web.md) drives Debian's chromium
# with npm playwright-core (pinned in package.json, installed with the other npm packages).
# Development only: the page itself is embedded in the itx binary and needs nothing here.
set -euo pipefail
. "$REPO/scripts/lib.sh"

if [ "$DEV" = 1 ]; then
  ensure_debs chromium fonts-noto-core fonts-noto-cjk
fi
