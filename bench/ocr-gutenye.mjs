#!/usr/bin/env node
// Runs @gutenye/ocr-node (ONNX Runtime PP-OCR pipeline) on pictures for make bench-ocr, with
// the same models as itx and a fixed thread count, and reports like `itx ocr --timing`:
// per picture {"image","ms","cpu_ms","lines"} and a summary
// {"summary","images","median_ms","cpu_ms_per_image","peak_rss_mb"} as JSON lines on stderr.
//   node bench/ocr-gutenye.mjs [--threads N] [--models DIR] IMAGE...
// Images named twice are read twice (the bench times the second pass).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ocr from '@gutenye/ocr-node';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let threads = 1;
let models = process.env.ITX_MODELS_DIR || path.join(repo, 'models');
const images = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--threads') threads = Number(args[++i]);
  else if (args[i] === '--models') models = args[++i];
  else images.push(args[i]);
}
const ocr = await Ocr.create({
  models: {
    detectionPath: path.join(models, 'ch_PP-OCRv4_det_infer.onnx'),
    recognitionPath: path.join(models, 'ch_PP-OCRv4_rec_infer.onnx'),
    dictionaryPath: path.join(models, 'ppocr_keys_v1.txt'),
  },
  onnxOptions: { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' },
});
const times = [];
let cpuTotal = 0;
for (const image of images) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const lines = await ocr.detect(image);
  const c = process.cpuUsage(c0);
  const ms = performance.now() - t0;
  const cpuMs = (c.user + c.system) / 1000;
  times.push(ms);
  cpuTotal += cpuMs;
  process.stderr.write(`${JSON.stringify({ image, ms: +ms.toFixed(1), cpu_ms: +cpuMs.toFixed(1), lines: lines.length })}\n`);
}
const s = [...times].sort((a, b) => a - b);
const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
process.stderr.write(`${JSON.stringify({
  summary: true, images: times.length, threads, median_ms: +median.toFixed(1),
  cpu_ms_per_image: +(cpuTotal / Math.max(1, times.length)).toFixed(1),
  peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
})}\n`);
