#!/usr/bin/env bash
# `make run`: runs itx on its embedded defaults after `make build` — offline dictionary
# translator, local storage, SQLite. It checks the models, reads and translates the text of
# a generated product picture, then runs the HTTP service in the foreground on $PORT
# (default 8080) until Ctrl-C.
set -euo pipefail
BUILD=${1:-build/release}
ITX="$BUILD/itx"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} # docs/nn.md
"$ITX" models verify
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
"$BUILD/tools/testset/itx-testset" -o "$demo" --count 1 --seed 7 >/dev/null
pic="$demo/$(ls "$demo" | grep -E '^p[0-9]+-[a-z]+\.png$' | head -1)"
echo
echo "== itx ocr on a generated product picture ($pic)"
"$ITX" ocr "$pic"
echo
echo "== its Chinese lines through the offline dictionary (itx translate-text --provider dict)"
mapfile -t lines < <("$ITX" ocr --json "$pic" | node -e '
  let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
    for (const l of JSON.parse(s).lines) if (l.han) console.log(l.text); });')
[ ${#lines[@]} -gt 0 ] && "$ITX" translate-text --to en --provider dict "${lines[@]}"
echo
export ITX_STORE_DIR=${ITX_STORE_DIR:-data/files}
mkdir -p "$ITX_STORE_DIR"
echo "== itx serve on port ${PORT:-8080}: /healthz /readyz /metrics /openapi.json /files/ (Ctrl-C stops it)"
exec "$ITX" serve
