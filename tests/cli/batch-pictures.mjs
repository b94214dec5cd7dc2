#!/usr/bin/env node
// Small synthetic product pictures for the itx batch tests: a coloured card with one or two
// Chinese phrases that the dictionary provider translates. Each picture differs (phrase and
// colours), so each has its own content-addressed result.
// Usage: batch-pictures.mjs DIR COUNT  (writes DIR/p00.png ... and prints their paths)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const src = process.env.ITX_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const sharp = require(path.join(src, 'node_modules', 'sharp'));

const [dir, countArg] = process.argv.slice(2);
const count = Number(countArg || 4);
if (!dir || !(count >= 1)) {
  process.stderr.write('usage: batch-pictures.mjs DIR COUNT\n');
  process.exit(2);
}
const phrases = ['新品上市', '品质保证', '厂家直销', '限时特价', '买一送一', '正品保证', '今日特惠',
  '店长推荐', '经典款', '全场包邮', '加厚保暖', '热卖爆款'];
const colours = [['#f4efe6', '#b3261e'], ['#e8f0fb', '#17407a'], ['#eef6e9', '#1d6b3a'],
  ['#fff6d8', '#6b3d00'], ['#f2e9f7', '#5b2a86'], ['#ffffff', '#222222']];
fs.mkdirSync(dir, { recursive: true });
for (let i = 0; i < count; i++) {
  const [bg, fg] = colours[i % colours.length];
  const text = phrases[i % phrases.length];
  const sub = phrases[(i * 5 + 3) % phrases.length];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="360" height="220">
  <rect width="360" height="220" fill="${bg}"/>
  <rect x="${10 + (i % 7) * 3}" y="150" width="${120 + (i % 5) * 20}" height="50" fill="${fg}" opacity="0.15"/>
  <text x="180" y="90" font-family="Noto Sans CJK SC" font-size="48" font-weight="bold" fill="${fg}" text-anchor="middle">${text}</text>
  <text x="180" y="180" font-family="Noto Sans CJK SC" font-size="30" fill="${fg}" text-anchor="middle">${sub}</text>
</svg>`;
  const out = path.join(dir, `p${String(i).padStart(2, '0')}.png`);
  await sharp(Buffer.from(svg)).png().toFile(out);
  process.stdout.write(out + '\n');
}
