#!/usr/bin/env node
// make bench-ocr: `itx ocr` against two ONNX Runtime PP-OCR pipelines on the same pictures with
// the same thread count, in one run:
//   - @gutenye/ocr-node (bench/ocr-gutenye.mjs), the reference of the ratio (issue 3); note
//     that it detects at full resolution with other thresholds and has no classifier;
//   - tools/ref-ocr/ref-ocr.mjs, PaddleOCR's defaults on onnxruntime-node (opencv.js for the
//     cv2 calls), for a like-for-like pipeline.
// Pictures: typical 800x800 product pictures and a 790x6000 detail strip from itx-testset.
// Each tool runs in its own process over the picture list twice and only the second pass is
// timed (the first plans shapes and warms caches, as a long-running server would have done);
// the tools alternate in a rotating order over rounds, and each figure is a median. The
// machine is shared and noisy: CPU time per picture (process CPU, all threads) is reported
// next to wall time as the figure robust to other load.
//   node bench/bench-ocr.mjs ITX_BIN [--rounds N] [--threads N] [--count N] [--out DIR]
// Last line: RESULT ratio=<itx median / @gutenye/ocr-node median> itx_rss_mb=<itx peak RSS>
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const itx = path.resolve(args[0] && !args[0].startsWith('--') ? args[0] : path.join(repo, 'build/release/itx'));
const opt = (k, d) => (args.indexOf(k) >= 0 ? args[args.indexOf(k) + 1] : d);
const rounds = Number(opt('--rounds', '3'));
const threads = Number(opt('--threads', '1'));
const count = Number(opt('--count', '6'));
const out = opt('--out', path.join(path.dirname(path.dirname(itx)), 'bench-ocr'));
const testset = path.join(path.dirname(itx), 'tools', 'testset', 'itx-testset');


// ---- pictures ------------------------------------------------------------------------------
fs.mkdirSync(out, { recursive: true });
execFileSync(testset, ['-o', out, '--count', '24', '--seed', '1'], { stdio: 'ignore' });
const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8'));
const squares = index.pictures.filter((p) => p.width === 800 && p.height === 800).slice(0, count);
const strip = index.pictures.filter((p) => p.scene === 'strip').slice(0, 1);
const pics = [...squares, ...strip].map((p) => path.join(out, `${p.name}.png`));
if (!pics.length) throw new Error('no pictures generated');

// ---- tools -----------------------------------------------------------------------------------
// Each returns {ms: Map image -> ms, cpu: Map image -> cpu ms | undefined, rss_mb}.
function parseTiming(stderr, n) {
  const rows = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const per = rows.filter((r) => r.image !== undefined);
  const summary = rows.find((r) => r.summary);
  if (per.length !== 2 * n || !summary) throw new Error(`unexpected timing output:\n${stderr}`);
  const ms = new Map(); const cpu = new Map();
  for (const r of per.slice(n)) { ms.set(r.image, r.ms); if (r.cpu_ms !== undefined) cpu.set(r.image, r.cpu_ms); }
  return { ms, cpu, rss_mb: summary.peak_rss_mb };
}
function runTool(cmd, argv) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.slice(0, 3).join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stderr;
}
const twice = [...pics, ...pics];
const tools = {
  itx: () => parseTiming(runTool(itx, ['ocr', '--json', '--timing', '--threads', String(threads), ...twice]), pics.length),
  gutenye: () => parseTiming(runTool('node', [path.join(repo, 'bench/ocr-gutenye.mjs'), '--threads', String(threads), ...twice]), pics.length),
  ref: () => parseTiming(runTool('node', [path.join(repo, 'tools/ref-ocr/ref-ocr.mjs'), '--timing', '--threads', String(threads), ...twice]), pics.length),
};
// ref-ocr reports no CPU time: the process CPU of a run over the list twice minus that of a run
// over it once, divided by the pictures, measured once (bash's `times` after the run).
function processCpuMs(argv) {
  const script = `node ${argv.map((a) => `'${a}'`).join(' ')} >/dev/null 2>&1; times`;
  const t = execFileSync('bash', ['-c', script], { encoding: 'utf8' }).trim().split('\n').pop();
  return t.split(/\s+/).map((v) => {
    const m = /(\d+)m([\d.]+)s/.exec(v);
    return Number(m[1]) * 60e3 + Number(m[2]) * 1e3;
  }).reduce((a, b) => a + b, 0);
}

console.log(`bench-ocr: ${pics.length} pictures (${squares.length} at 800x800, ${strip.length} strip of 790x6000), ` +
  `${threads} thread(s) per tool, ${rounds} rounds; each tool in its own process, second pass timed`);
const names = Object.keys(tools);
const samples = Object.fromEntries(names.map((n) => [n, { ms: new Map(), cpu: new Map(), rss: 0 }]));
for (let r = 0; r < rounds; r++) {
  const order = names.map((_, i) => names[(i + r) % names.length]);
  for (const n of order) {
    const res = tools[n]();
    const s = samples[n];
    for (const [img, v] of res.ms) (s.ms.get(img) || s.ms.set(img, []).get(img)).push(v);
    for (const [img, v] of res.cpu) (s.cpu.get(img) || s.cpu.set(img, []).get(img)).push(v);
    s.rss = Math.max(s.rss, res.rss_mb);
  }
}
const refArgv = [path.join(repo, 'tools/ref-ocr/ref-ocr.mjs'), '--threads', String(threads)];
const refCpu = (processCpuMs([...refArgv, ...twice]) - processCpuMs([...refArgv, ...pics])) / pics.length;

const fmt = (v) => (v === undefined ? '-' : v.toFixed(0)).padStart(8);
console.log(`${'picture'.padEnd(22)}${'itx_ms'.padStart(8)}${'gut_ms'.padStart(8)}${'ref_ms'.padStart(8)}` +
  `${'itx_cpu'.padStart(8)}${'gut_cpu'.padStart(8)}`);
const all = Object.fromEntries(names.map((n) => [n, { ms: [], cpu: [] }]));
for (const p of pics) {
  const row = {};
  for (const n of names) {
    const ms = samples[n].ms.get(p) || [];
    const cpu = samples[n].cpu.get(p) || [];
    all[n].ms.push(...ms);
    all[n].cpu.push(...cpu);
    row[n] = { ms: ms.length ? median(ms) : undefined, cpu: cpu.length ? median(cpu) : undefined };
  }
  console.log(`${path.basename(p, '.png').padEnd(22)}${fmt(row.itx.ms)}${fmt(row.gutenye.ms)}${fmt(row.ref.ms)}` +
    `${fmt(row.itx.cpu)}${fmt(row.gutenye.cpu)}`);
}
const med = Object.fromEntries(names.map((n) => [n, median(all[n].ms)]));
const cpu = { itx: median(all.itx.cpu), gutenye: median(all.gutenye.cpu), ref: refCpu };
for (const n of names) {
  const label = { itx: 'itx', gutenye: '@gutenye/ocr-node', ref: 'tools/ref-ocr (PaddleOCR defaults)' }[n];
  console.log(`${label.padEnd(36)} median_ms=${med[n].toFixed(1)} cpu_ms_per_image=${cpu[n].toFixed(1)}` +
    `${n === 'ref' ? ' (process CPU difference)' : ''} peak_rss_mb=${samples[n].rss.toFixed(1)}`);
}
console.log(`itx / tools/ref-ocr: ratio=${(med.itx / med.ref).toFixed(3)} cpu_ratio=${(cpu.itx / cpu.ref).toFixed(3)}`);
console.log(`itx / @gutenye/ocr-node: cpu_ratio=${(cpu.itx / cpu.gutenye).toFixed(3)}; the RESULT ratio below is wall-clock median itx / @gutenye/ocr-node`);
console.log(`RESULT ratio=${(med.itx / med.gutenye).toFixed(3)} itx_rss_mb=${samples.itx.rss.toFixed(1)}`);
