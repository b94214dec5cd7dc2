#!/usr/bin/env node
// bench-image: itx's own image code (src/image: libjpeg-turbo, libpng, libwebp, giflib)
// against sharp 0.33.5 (libvips) on the same pictures: decode, shrink to half size, encode
// again in the input's format (JPEG q90, PNG, WebP q90), one picture at a time on one
// thread each. Both sides read the file once and repeat the work; figures are medians.
//   node bench/bench-image.mjs [BUILD_DIR] [--count N] [--seed S] [--repeat R] [--out DIR]
// BUILD_DIR holds tools/testset/itx-testset and src/image/itx-imgbench (default
// build/release). Filters differ: itx averages areas (ITX_IMAGE_FILTER_AREA), sharp uses
// its default lanczos3; PNG is zlib level 2 with the Sub filter in itx, level 6 without
// filters in sharp.
// Last line: RESULT itx_ms=<median per picture> sharp_ms=<median> ratio=<itx/sharp>
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib.mjs';
import sharp from 'sharp';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const build = path.resolve(args[0] && !args[0].startsWith('--') ? args[0] : path.join(repo, 'build/release'));
const opt = (k, d) => (args.indexOf(k) >= 0 ? args[args.indexOf(k) + 1] : d);
const count = Number(opt('--count', '20'));
const seed = opt('--seed', '7');
const repeat = Number(opt('--repeat', '5'));
const dir = opt('--out', path.join(build, 'bench-image'));
const testset = path.join(build, 'tools', 'testset', 'itx-testset');
const imgbench = path.join(build, 'src', 'image', 'itx-imgbench');

fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
execFileSync(testset, ['-o', dir, '--count', String(count), '--seed', seed], { stdio: 'ignore' });
// the pictures (PNG), their JPEG copies, and a WebP of each PNG made by sharp
const files = [];
for (const f of fs.readdirSync(dir).sort()) {
  if (/^p\d+-[a-z]+\.(png|jpg)$/.test(f)) files.push(path.join(dir, f));
}
for (const f of files.filter((x) => x.endsWith('.png')).slice(0, 6)) {
  const w = f.replace(/\.png$/, '.webp');
  await sharp(f).webp({ quality: 90 }).toFile(w);
  files.push(w);
}

sharp.concurrency(1);
sharp.cache(false);
const rows = [];
const itxOut = execFileSync(imgbench, ['--repeat', String(repeat), '--quality', '90', ...files], {
  encoding: 'utf8',
  maxBuffer: 1 << 26,
});
for (const line of itxOut.trim().split('\n')) {
  const r = JSON.parse(line);
  const data = fs.readFileSync(r.file);
  const ext = path.extname(r.file).slice(1);
  const times = [];
  let bytes = 0;
  for (let k = 0; k < repeat; k++) {
    const t0 = performance.now();
    let p = sharp(data).resize(r.w, r.h);
    if (ext === 'jpg') p = p.jpeg({ quality: 90 });
    else if (ext === 'png') p = p.png();
    else p = p.webp({ quality: 90 });
    const out = await p.toBuffer();
    times.push(performance.now() - t0);
    bytes = out.length;
  }
  const itx = r.decode_ms + r.resize_ms + r.encode_ms;
  rows.push({ name: path.basename(r.file), ext, itx, sharp: median(times), r, bytes });
}

console.log('picture                      itx ms (decode+resize+encode)       sharp ms   ratio   bytes itx/sharp');
for (const x of rows) {
  console.log(
    `${x.name.padEnd(28)} ${x.itx.toFixed(1).padStart(7)} (${x.r.decode_ms.toFixed(1)}+${x.r.resize_ms.toFixed(1)}+${x.r.encode_ms.toFixed(1)})`.padEnd(66) +
      `${x.sharp.toFixed(1).padStart(8)} ${(x.itx / x.sharp).toFixed(2).padStart(7)}   ${x.r.bytes}/${x.bytes}`,
  );
}
for (const ext of ['jpg', 'png', 'webp']) {
  const s = rows.filter((x) => x.ext === ext);
  if (s.length)
    console.log(`${ext}: ${s.length} pictures, median itx ${median(s.map((x) => x.itx)).toFixed(1)} ms, sharp ${median(s.map((x) => x.sharp)).toFixed(1)} ms, ratio of medians ${(median(s.map((x) => x.itx)) / median(s.map((x) => x.sharp))).toFixed(2)}`);
}
const mi = median(rows.map((x) => x.itx));
const ms = median(rows.map((x) => x.sharp));
console.log(`RESULT itx_ms=${mi.toFixed(1)} sharp_ms=${ms.toFixed(1)} ratio=${(mi / ms).toFixed(2)}`);
