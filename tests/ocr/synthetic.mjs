#!/usr/bin/env node
// The OCR pipeline on a generated synthetic set (itx-testset: product pictures with known
// text, vertical and rotated lines, prices, a 790x6000 detail strip):
//  - accuracy of `itx ocr --json` against the ground truth: character error rate <= 2% on
//    horizontal lines and <= 5% on vertical and rotated ones, every price read exactly (the
//    half- and full-width yen signs count as one), every line of the strip found;
//  - parity with the PaddleOCR-faithful reference (tools/ref-ocr/ref-ocr.mjs) with itx in
//    PaddleOCR's mode (--paddle: no slices, no price-sign reading, detector at the exact
//    size, recognizer batches of 6 at exact widths): >= 95% of the reference lines matched
//    by IoU >= 0.5 with identical text (tools/ref-ocr/compare.mjs).
// Usage: synthetic.mjs [--count N] [--seed S] [--keep DIR]; env ITX_BIN, ITX_BUILD_DIR,
// ITX_SOURCE_DIR. Prints the disagreements and the figures; exit status 1 when a bar fails.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
let count = 16;
let seed = 3;
let keep = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--count') count = Number(args[++i]);
  else if (args[i] === '--seed') seed = Number(args[++i]);
  else if (args[i] === '--keep') keep = args[++i];
}
const src = process.env.ITX_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const itx = process.env.ITX_BIN;
const build = process.env.ITX_BUILD_DIR;
if (!itx || !build) {
  process.stderr.write('synthetic.mjs: ITX_BIN and ITX_BUILD_DIR must be set\n');
  process.exit(2);
}
const dir = keep || fs.mkdtempSync(path.join(os.tmpdir(), 'itx-ocr-synth-'));
fs.mkdirSync(dir, { recursive: true });
const run = (cmd, argv) => execFileSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20 });

run(path.join(build, 'tools', 'testset', 'itx-testset'), ['-o', dir, '--count', String(count), '--seed', String(seed)]);
const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
const pics = index.pictures.map((p) => path.join(dir, `${p.name}.png`));

let failed = 0;
const bar = (ok, what) => {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) failed++;
};

// ---- accuracy ------------------------------------------------------------------------------
const norm = (s) => s.replace(/\s+/g, '').replace(/\uffe5/g, '\u00a5');
function editDistance(a, b) {
  const x = [...a]; const y = [...b];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length];
}
const bbox = (q) => {
  const xs = q.filter((_, i) => i % 2 === 0); const ys = q.filter((_, i) => i % 2 === 1);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
};

const itxOut = run(itx, ['ocr', '--json', ...pics]);
fs.writeFileSync(path.join(dir, 'itx.jsonl'), itxOut);
const stats = {};
let prices = 0; let pricesExact = 0; let stripLines = 0; let stripFound = 0;
for (const line of itxOut.split('\n').filter((l) => l.trim())) {
  const o = JSON.parse(line);
  const name = path.basename(o.image, '.png');
  const gt = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8'));
  // Each recognised line goes to the ground-truth line whose box (grown by 30% of its short
  // side) holds its centre, the nearest when several do; texts are joined in reading order.
  const boxes = gt.lines.map((g) => {
    const [x0, y0, x1, y1] = bbox(g.box);
    const m = Math.max(4, 0.3 * Math.min(x1 - x0, y1 - y0));
    return [x0 - m, y0 - m, x1 + m, y1 + m, (x0 + x1) / 2, (y0 + y1) / 2];
  });
  const got = gt.lines.map(() => []);
  for (const p of o.lines) {
    const [x0, y0, x1, y1] = bbox(p.box);
    const cx = (x0 + x1) / 2; const cy = (y0 + y1) / 2;
    let best = -1; let bestD = Infinity;
    boxes.forEach((b, i) => {
      const d = (cx - b[4]) ** 2 + (cy - b[5]) ** 2;
      if (cx >= b[0] && cx <= b[2] && cy >= b[1] && cy <= b[3] && d < bestD) { best = i; bestD = d; }
    });
    if (best >= 0) got[best].push([cx, cy, p.text]);
  }
  gt.lines.forEach((g, i) => {
    const k = g.orientation === 'vertical' ? 1 : 0;
    const text = norm(got[i].sort((a, b) => a[k] - b[k] || a[1 - k] - b[1 - k]).map((t) => t[2]).join(''));
    const truth = norm(g.text);
    const err = editDistance(truth, text);
    const s = stats[g.orientation] ||= { lines: 0, exact: 0, chars: 0, errors: 0 };
    s.lines++; s.exact += err === 0; s.chars += [...truth].length; s.errors += err;
    if (g.price) { prices++; pricesExact += err === 0; }
    if (gt.scene === 'strip') { stripLines++; stripFound += got[i].length > 0; }
    if (err) process.stdout.write(`${name}: ${g.orientation} '${g.text}' read as '${text}'\n`);
  });
}
for (const [k, s] of Object.entries(stats)) {
  process.stdout.write(`${k}: ${s.lines} lines, ${s.exact} exact, CER ${(s.errors / s.chars).toFixed(4)}\n`);
}
const h = stats.horizontal || { errors: 0, chars: 1 };
const vr = ['vertical', 'rotated'].map((k) => stats[k] || { errors: 0, chars: 0 });
const cerH = h.errors / Math.max(1, h.chars);
const cerVR = (vr[0].errors + vr[1].errors) / Math.max(1, vr[0].chars + vr[1].chars);
bar(cerH <= 0.02, `horizontal CER ${cerH.toFixed(4)} <= 0.02`);
bar(cerVR <= 0.05, `vertical and rotated CER ${cerVR.toFixed(4)} <= 0.05 (${vr[0].chars + vr[1].chars} characters)`);
bar(prices > 0 && pricesExact === prices, `prices read exactly: ${pricesExact} of ${prices}`);
bar(stripLines > 0 && stripFound === stripLines, `detail-strip lines found: ${stripFound} of ${stripLines}`);

// ---- parity with the reference pipeline ----------------------------------------------------
const refOut = run('node', [path.join(src, 'tools', 'ref-ocr', 'ref-ocr.mjs'), ...pics]);
fs.writeFileSync(path.join(dir, 'ref.jsonl'), refOut);
fs.writeFileSync(path.join(dir, 'itx-paddle.jsonl'), run(itx, ['ocr', '--json', '--paddle', ...pics]));
const cmp = run('node', [path.join(src, 'tools', 'ref-ocr', 'compare.mjs'),
  path.join(dir, 'ref.jsonl'), path.join(dir, 'itx-paddle.jsonl')]);
process.stdout.write(cmp);
const m = /RESULT ref_lines=(\d+) matched=(\d+) agree=(\d+) pct=([\d.]+)/.exec(cmp);
bar(m && Number(m[1]) > 0 && Number(m[4]) >= 95, `parity with the reference: ${m ? m[4] : '?'}% of ${m ? m[1] : '?'} lines agree (>= 95)`);

if (!keep) fs.rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
