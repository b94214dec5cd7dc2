// itx's neural runner against ONNX Runtime on the three real PP-OCR models, on real image
// data (rendered product pictures and text lines), at the sizes the OCR pipeline uses.
// Every output must agree within 1e-3 (max absolute difference). The oneDNN backend runs
// every case; the reference backend runs the small ones.
//   node tests/nn/parity.mjs ITX_BIN MODELS_DIR WORKDIR
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { productPicture, textLine, detTensor, recTensor, PHRASES } from './picture.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(repo, 'package.json'));
const ort = require('onnxruntime-node');

const [itx, models, work] = process.argv.slice(2);
mkdirSync(work, { recursive: true });
const DET = path.join(models, 'ch_PP-OCRv4_det_infer.onnx');
const REC = path.join(models, 'ch_PP-OCRv4_rec_infer.onnx');
const CLS = path.join(models, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');

const cases = [];
for (const [w, h] of [[320, 320], [640, 640], [960, 544]])
  cases.push({ name: `det_${w}x${h}`, model: DET, shape: [1, 3, h, w],
    make: async () => detTensor(await productPicture(w, h, w), w, h), ref: w === 320 });
for (const w of [160, 320, 960])
  for (const b of [1, 8])
    cases.push({ name: `rec_b${b}_48x${w}`, model: REC, shape: [b, 3, 48, w],
      make: async () => {
        const lines = [];
        for (let i = 0; i < b; i++) lines.push(await textLine(w, PHRASES[(i * 3 + w) % PHRASES.length].repeat(w > 400 ? 3 : 1)));
        return recTensor(lines, w);
      }, ref: b === 1 && w === 320 });
cases.push({ name: 'cls_48x192', model: CLS, shape: [1, 3, 48, 192],
  make: async () => recTensor([await textLine(192, '包邮 限时特价')], 192), ref: true });

let passed = 0, failed = 0;
const sessions = new Map();
for (const c of cases) {
  const x = await c.make();
  const inFile = path.join(work, `${c.name}.in.bin`);
  writeFileSync(inFile, Buffer.from(x.buffer));
  if (!sessions.has(c.model))
    sessions.set(c.model, await ort.InferenceSession.create(c.model, { intraOpNumThreads: 1 }));
  const s = sessions.get(c.model);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, c.shape) });
  const want = out[s.outputNames[0]].data;
  // 'dnnl8' forces oneDNN's 8-channel blocked layout (AVX2 machines) where the CPU would
  // pick 16 (AVX-512), so both layouts are tested on either kind of machine.
  for (const backend of c.ref ? ['dnnl', 'dnnl8', 'ref'] : ['dnnl']) {
    const outFile = path.join(work, `${c.name}.${backend}.out.bin`);
    try {
      execFileSync(itx, ['nn', 'run', c.model, '--shape', c.shape.join('x'), '--input', inFile,
        '--output', outFile, '--repeat', '0', '--backend', backend === 'ref' ? 'ref' : 'dnnl'],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...(backend === 'dnnl8' ? { ITX_NN_BLOCK: '8' } : {}) } });
    } catch (e) {
      failed++;
      console.log(`FAIL ${c.name} ${backend}: itx failed: ${e.stderr}`);
      continue;
    }
    const buf = readFileSync(outFile);
    const got = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    let maxd = 0;
    if (got.length !== want.length) maxd = Infinity;
    else for (let i = 0; i < got.length; i++) {
      const dd = Math.abs(got[i] - want[i]);
      if (!(dd <= maxd)) maxd = dd; // NaN counts as a failure
    }
    const ok = maxd <= 1e-3;
    ok ? passed++ : failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${c.name} ${backend} max_abs_diff=${maxd.toExponential(2)}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
