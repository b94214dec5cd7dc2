#!/usr/bin/env bash
# Libraries of src/image (decoding and encoding on the format libraries directly) and
# src/render (text drawn with pangocairo); docs/image.md. libvips is only a development
# dependency: the test pictures of tests/ and tools/testset are made with it, the itx binary
# never links it.
set -euo pipefail
. "$REPO/scripts/lib.sh"

ensure_debs libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev liblcms2-dev \
  libpango1.0-dev libcairo2-dev
if [ "$DEV" = 1 ]; then
  ensure_debs libvips-dev
fi
