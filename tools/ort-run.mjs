// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU) — the reference for itx's
// neural runner — on a raw float32 input, writes output 0 as raw float32 and prints one
// JSON line with timings: load, first run, median and min of the timed runs, peak RSS.
//   node tools/ort-run.mjs MODEL SHAPE [--input in.bin] [--output out.bin] [--threads N] [--repeat K]
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repo, 'package.json'));
const ort = require('onnxruntime-node');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const [model, shapeStr] = args;
if (!model || !shapeStr) {
  console.error('usage: ort-run.mjs MODEL SHAPE [--input F] [--output F] [--threads N] [--repeat K]');
  process.exit(2);
}
const shape = shapeStr.split('x').map(Number);
const numel = shape.reduce((a, b) => a * b, 1);
const threads = Number(opt('--threads', '1'));
const repeat = Number(opt('--repeat', '10'));
let input;
if (opt('--input')) {
  const buf = readFileSync(opt('--input'));
  input = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
} else {
  // the same fixed pattern as `itx nn run` without --input
  input = new Float32Array(numel);
  for (let i = 0; i < numel; i++) input[i] = (Number((BigInt(i) * 2654435761n) % 2001n)) / 1000 - 1;
}
const t0 = performance.now();
const sess = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const t1 = performance.now();
const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', input, shape) };
let out = await sess.run(feeds);
const t2 = performance.now();
const times = [];
const cpu0 = process.cpuUsage();
for (let r = 0; r < repeat; r++) {
  const a = performance.now();
  out = await sess.run(feeds);
  times.push(performance.now() - a);
}
const cpu1 = process.cpuUsage(cpu0);
const cpuMs = repeat ? (cpu1.user + cpu1.system) / 1000 / repeat : 0;
times.sort((a, b) => a - b);
const median = repeat ? (repeat % 2 ? times[(repeat - 1) / 2] : (times[repeat / 2 - 1] + times[repeat / 2]) / 2) : t2 - t1;
const y = out[sess.outputNames[0]];
if (opt('--output')) writeFileSync(opt('--output'), Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
let sum = 0;
for (const v of y.data) sum += v;
console.log(JSON.stringify({
  model, load_ms: t1 - t0, first_run_ms: t2 - t1, median_ms: median, min_ms: times[0] ?? t2 - t1, cpu_ms: cpuMs,
  runs: repeat, threads, output_shape: y.dims.join('x'), output_sum: sum,
  peak_rss_kb: process.resourceUsage().maxRSS,
}));
