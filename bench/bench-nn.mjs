// make bench-nn: itx's neural runner against ONNX Runtime (onnxruntime-node, CPU) on the
// three PP-OCR models, side by side in one run. Each measurement runs in its own process
// (itx nn run / tools/ort-run.mjs) on the same fixed input; the two tools alternate, over
// several rounds, and each row reports the median of the round medians. The machine is
// shared and noisy: compare ratios, not absolute times. Besides wall-clock latency each
// row shows CPU time per inference (process CPU, robust against other load).
//   node bench/bench-nn.mjs ITX_BIN [--rounds N] [--models DIR]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const itx = args[0] ?? path.join(repo, 'build/release/itx');
const opt = (k, d) => (args.indexOf(k) >= 0 ? args[args.indexOf(k) + 1] : d);
const rounds = Number(opt('--rounds', '3'));
const models = opt('--models', process.env.ITX_MODELS_DIR || path.join(repo, 'models'));
const DET = path.join(models, 'ch_PP-OCRv4_det_infer.onnx');
const REC = path.join(models, 'ch_PP-OCRv4_rec_infer.onnx');
const CLS = path.join(models, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');

const cases = [
  ['det 960x960', DET, '1x3x960x960', 7],
  ['det 640x640', DET, '1x3x640x640', 9],
  ['rec 48x320 b1', REC, '1x3x48x320', 21],
  ['rec 48x320 b8', REC, '8x3x48x320', 9],
  ['cls 48x192', CLS, '1x3x48x192', 51],
];
// itx runs with OpenMP's passive wait policy (docs/nn.md): on a shared machine, threads that
// spin at barriers while their partner is descheduled waste whole time slices. The container
// image sets the same. ONNX Runtime uses its own thread pool and needs no such setting.
const itxEnv = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY || 'passive' };
const runItx = (model, shape, threads, repeat) =>
  JSON.parse(execFileSync(itx, ['nn', 'run', model, '--shape', shape, '--threads', String(threads),
    '--repeat', String(repeat), '--json'], { encoding: 'utf8', env: itxEnv }));
const runOrt = (model, shape, threads, repeat) =>
  JSON.parse(execFileSync('node', [path.join(repo, 'tools/ort-run.mjs'), model, shape, '--threads',
    String(threads), '--repeat', String(repeat)], { encoding: 'utf8' }));

console.log(`bench-nn: ${rounds} rounds, medians of round medians; ratio = itx/ort (wall), cpu_ratio = itx/ort (CPU time); itx with OMP_WAIT_POLICY=${itxEnv.OMP_WAIT_POLICY}`);
let worst = 0, peakItx = 0, peakOrt = 0;
for (const threads of [1, 2]) {
  for (const [name, model, shape, repeat] of cases) {
    const mi = [], mo = [], ci = [], co = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [runOrt, runItx] : [runItx, runOrt];
      for (const f of order) {
        const j = f(model, shape, threads, repeat);
        if (f === runItx) { mi.push(j.median_ms); ci.push(j.cpu_ms); peakItx = Math.max(peakItx, j.peak_rss_kb); }
        else { mo.push(j.median_ms); co.push(j.cpu_ms); peakOrt = Math.max(peakOrt, j.peak_rss_kb); }
      }
    }
    const ratio = median(mi) / median(mo);
    if (threads === 1) worst = Math.max(worst, ratio);
    console.log(`${name.padEnd(14)} threads=${threads} itx_ms=${median(mi).toFixed(2)} ort_ms=${median(mo).toFixed(2)} ` +
      `itx_cpu_ms=${median(ci).toFixed(2)} ort_cpu_ms=${median(co).toFixed(2)} cpu_ratio=${(median(ci) / median(co)).toFixed(3)} ratio=${ratio.toFixed(3)}`);
  }
}
// Load and warm-up: load all three models and run each once at its usual shape.
const warm = JSON.parse(execFileSync(itx, ['nn', 'warmup', '--json', '--models', models], { encoding: 'utf8', env: itxEnv }));
console.log(`load+warm itx (3 models on 2 threads, as a 2-core server warms up): total_ms=${warm.total_ms.toFixed(1)} ` +
  `det load ${warm.det_load_ms.toFixed(1)} + first run ${warm.det_run_ms.toFixed(1)} (${warm.det_shape}), ` +
  `rec ${warm.rec_load_ms.toFixed(1)} + ${warm.rec_run_ms.toFixed(1)}, cls ${warm.cls_load_ms.toFixed(1)} + ${warm.cls_run_ms.toFixed(1)} ms; rss_mb=${(warm.peak_rss_kb / 1024).toFixed(1)}`);
console.log(`peak RSS: itx ${(peakItx / 1024).toFixed(1)} MB, ort ${(peakOrt / 1024).toFixed(1)} MB (largest single-model process)`);
console.log(`RESULT worst_ratio=${worst.toFixed(3)}`);
