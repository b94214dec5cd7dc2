#!/usr/bin/env node
// Writes N distinct small product pictures with Chinese text (320x240 PNG, two lines of
// phrases from tools/testset/phrases.txt on a colour that depends on the index), so a test
// can run N pictures through itx without the result cache hiding any of them.
// Usage: make-pictures.mjs DIR N [SEED]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [dir, nArg, seedArg] = process.argv.slice(2);
if (!dir || !nArg) {
  process.stderr.write('usage: make-pictures.mjs DIR N [SEED]\n');
  process.exit(2);
}
const src = process.env.ITX_SOURCE_DIR ||
  path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const require = createRequire(path.join(src, 'package.json'));
const sharp = require('sharp');
const n = Number(nArg);
const seed = Number(seedArg || 1);
const phrases = fs.readFileSync(path.join(src, 'tools', 'testset', 'phrases.txt'), 'utf8')
  .split('\n').map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#') && [...l].length >= 2 && [...l].length <= 8);
fs.mkdirSync(dir, { recursive: true });
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
for (let i = 0; i < n; i++) {
  const k = i * 7 + seed * 13;
  const a = phrases[k % phrases.length];
  const b = phrases[(k * 3 + 5) % phrases.length];
  const hue = (i * 37 + seed * 11) % 360;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240">
<rect width="320" height="240" fill="hsl(${hue},45%,88%)"/>
<rect x="20" y="150" width="${60 + (i % 5) * 30}" height="60" fill="hsl(${(hue + 180) % 360},35%,70%)"/>
<text x="24" y="70" font-family="Noto Sans CJK SC" font-size="34" fill="#202020">${esc(a)}</text>
<text x="24" y="125" font-family="Noto Sans CJK SC" font-size="28" fill="#b01010">${esc(b)}</text>
</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(path.join(dir, `p${String(i).padStart(3, '0')}.png`));
}
