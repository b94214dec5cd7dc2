#!/usr/bin/env bash
# Runs itx on its embedded defaults (offline dictionary, local storage, SQLite) after
# `make build`. Until the server lands this checks the models and runs the neural runner
# once on the detection model so a newcomer sees a working binary.
set -euo pipefail
ITX=${1:-build/release/itx}
"$ITX" models verify
