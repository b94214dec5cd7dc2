#!/usr/bin/env node
// make bench-quality: the quality of `itx translate --provider dict` on synthetic product
// pictures with known clean backgrounds (itx-testset), checked by reading the outputs with
// `itx ocr`:
//   - han_left: share of translated regions where OCR still finds Chinese (source box or
//     drawn box);
//   - en_readback: character accuracy of the English read back in those regions (letters and
//     digits, lowercase: 1 - edit distance / length, summed over regions);
//   - mae_flat: mean absolute error (0-255) of the background against the clean one inside
//     the erase masks, on pictures with flat or gradient backgrounds;
//   - outside: PNG pixels changed outside the erase mask and the drawn text (must be 0), and
//     the worst PSNR there for JPEG inputs (must be >= 40 dB).
//   node bench/bench-quality.mjs ITX_BIN [--count N] [--seed S] [--out DIR]
// Last line: RESULT han_left=<share> en_readback=<accuracy> mae_flat=<value>
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const itx = path.resolve(args[0] && !args[0].startsWith('--') ? args[0] : path.join(repo, 'build/release/itx'));
const opt = (k, d) => (args.indexOf(k) >= 0 ? args[args.indexOf(k) + 1] : d);
const count = Number(opt('--count', '24'));
const seed = opt('--seed', '3');
const dir = opt('--out', path.join(path.dirname(path.dirname(itx)), 'bench-quality'));
const testset = path.join(path.dirname(itx), 'tools', 'testset', 'itx-testset');

fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(path.join(dir, 'jpg'), { recursive: true });
execFileSync(testset, ['-o', dir, '--count', String(count), '--seed', seed], { stdio: 'ignore' });
const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
const inputs = [];
for (const p of index.pictures) {
  inputs.push({ pic: p, file: path.join(dir, `${p.name}.png`), name: p.name, jpeg: false });
  const jpg = path.join(dir, `${p.name}.jpg`);
  if (fs.existsSync(jpg)) {
    const copy = path.join(dir, 'jpg', `${p.name}-jpg.jpg`);
    fs.copyFileSync(jpg, copy);
    inputs.push({ pic: p, file: copy, name: `${p.name}-jpg`, jpeg: true });
  }
}
const out = path.join(dir, 'out');
const t0 = Date.now();
execFileSync(itx, ['translate', '--provider', 'dict', '--debug', '--quiet', '-o', out, ...inputs.map((i) => i.file)],
  { stdio: ['ignore', 'ignore', 'inherit'] });
console.log(`itx translate: ${inputs.length} pictures in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const outFile = (i) => path.join(out, `${i.name}.${i.jpeg ? 'jpg' : 'png'}`);
const ocr = new Map();
for (const line of execFileSync(itx, ['ocr', '--json', ...inputs.map(outFile)], { encoding: 'utf8', maxBuffer: 256 << 20 }).split('\n')) {
  if (line.startsWith('{')) { const r = JSON.parse(line); ocr.set(r.image, r.lines || []); }
}

const norm = (s) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
function lev(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]; row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(diag + (a[i - 1] !== b[j - 1] ? 1 : 0), up + 1, row[j - 1] + 1);
      diag = up;
    }
  }
  return row[b.length];
}
function area(r) {
  const xs = [], ys = [];
  for (const q of [r.quad, r.draw_quad]) for (let k = 0; q && k < 8; k += 2) { xs.push(q[k]); ys.push(q[k + 1]); }
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}
const raw = async (f, ch = 3) => {
  let s = sharp(f).removeAlpha();
  if (ch === 1) s = s.greyscale();
  return (await s.raw().toBuffer({ resolveWithObject: true })).data;
};

let regions = 0, hanLeft = 0, chars = 0, charsOk = 0, maeSum = 0, maeN = 0, changedPng = 0, worstPsnr = 99;
const misses = [];
for (const i of inputs) {
  const rj = JSON.parse(fs.readFileSync(path.join(out, `${i.name}.regions.json`), 'utf8'));
  const lines = ocr.get(outFile(i)) || [];
  for (const r of rj.regions) {
    if (r.block < 0 || r.skip || !r.translation) continue;
    const [x0, y0, x1, y1] = area(r);
    let han = false, text = '';
    for (const l of lines) {
      const cx = (l.box[0] + l.box[2] + l.box[4] + l.box[6]) / 4, cy = (l.box[1] + l.box[3] + l.box[5] + l.box[7]) / 4;
      if (cx < x0 || cx > x1 || cy < y0 || cy > y1) continue;
      if (l.han) han = true; else text += l.text;
    }
    const a = norm(r.translation), d = Math.min(a.length, lev(a, norm(text)));
    regions++; hanLeft += han ? 1 : 0; chars += a.length; charsOk += a.length - d;
    if (han || d * 4 > a.length) misses.push(`${i.name}: '${r.translation}' read '${text}'${han ? ' (Chinese left)' : ''}`);
  }
  // pixels: outside the mask and the drawn ink nothing changes
  const W = rj.width, H = rj.height;
  const [inp, res, bg, mask, clean] = await Promise.all([raw(i.file), raw(outFile(i)),
    raw(path.join(out, `${i.name}.bg.png`)), raw(path.join(out, `${i.name}.mask.png`), 1), raw(path.join(dir, `${i.pic.name}.bg.png`))]);
  const allowed = Uint8Array.from(mask, (v) => (v ? 1 : 0));
  for (const r of rj.regions) {
    if (!r.ink) continue;
    const g = 3 + Math.ceil(r.outline_width || 0);
    for (let y = Math.max(0, Math.floor(r.ink[1] - g)); y < Math.min(H, Math.ceil(r.ink[1] + r.ink[3] + g)); y++)
      for (let x = Math.max(0, Math.floor(r.ink[0] - g)); x < Math.min(W, Math.ceil(r.ink[0] + r.ink[2] + g)); x++) allowed[y * W + x] = 1;
  }
  let se = 0, n = 0, changed = 0, mae = 0, mn = 0;
  for (let p = 0; p < W * H; p++) {
    if (mask[p] && !i.jpeg) { for (let c = 0; c < 3; c++) mae += Math.abs(bg[3 * p + c] - clean[3 * p + c]); mn += 3; }
    if (allowed[p]) continue;
    let diff = false;
    for (let c = 0; c < 3; c++) { const e = inp[3 * p + c] - res[3 * p + c]; se += e * e; diff ||= e !== 0; }
    n++; changed += diff ? 1 : 0;
  }
  if (i.jpeg) worstPsnr = Math.min(worstPsnr, se ? 10 * Math.log10((255 * 255) / (se / (3 * n))) : 99);
  else changedPng += changed;
  if (!i.jpeg && (i.pic.background_kind === 'flat' || i.pic.background_kind === 'gradient')) { maeSum += mae; maeN += mn; }
}
for (const m of misses) console.log(`  ${m}`);
const share = regions ? hanLeft / regions : 0, acc = chars ? charsOk / chars : 0, mae = maeN ? maeSum / maeN : 0;
console.log(`${inputs.length} pictures, ${regions} translated regions: Chinese left in ${(100 * share).toFixed(1)}%, ` +
  `English read back ${(100 * acc).toFixed(1)}%, MAE inside masks (flat/gradient) ${mae.toFixed(2)}, ` +
  `PNG pixels changed outside masks and text ${changedPng}, worst JPEG PSNR outside ${worstPsnr.toFixed(1)} dB`);
console.log(`RESULT han_left=${share.toFixed(4)} en_readback=${acc.toFixed(4)} mae_flat=${mae.toFixed(2)}`);
