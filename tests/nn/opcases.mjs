// Every op case of gen_op_cases.py (single ops and the fused patterns of the PP-OCR models)
// through itx's runner with both backends, against ONNX Runtime (ort_eval.mjs).
// Float outputs must agree within 1e-4 + 1e-4*|expected|.
//   node tests/nn/opcases.mjs ITX_BIN WORKDIR
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [itx, work] = process.argv.slice(2);
mkdirSync(work, { recursive: true });
execFileSync('/usr/bin/python3', [path.join(here, 'gen_op_cases.py'), work], { stdio: 'inherit' });
execFileSync('node', [path.join(here, 'ort_eval.mjs'), work], { stdio: ['ignore', 'ignore', 'inherit'] });
const cases = JSON.parse(readFileSync(path.join(work, 'cases.json'), 'utf8')).cases;

let passed = 0, failed = 0, skipped = 0;
for (const c of cases) {
  // The runner takes one float input; cases with several inputs or integer outputs test
  // the reference kernels only (test_nn_ref_ort).
  if (c.inputs.length !== 1 || c.inputs[0].dtype !== 'float32' || c.outputs[0].dtype !== 'float32') {
    skipped++;
    continue;
  }
  const want = (() => {
    const b = readFileSync(path.join(work, `${c.name}.out0.bin`));
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  })();
  for (const backend of ['dnnl', 'dnnl8', 'ref']) {
    const out = path.join(work, `${c.name}.itx.${backend}.bin`);
    try {
      execFileSync(itx, ['nn', 'run', path.join(work, c.model), '--shape', c.inputs[0].shape.join('x'),
        '--input', path.join(work, c.inputs[0].file), '--output', out, '--repeat', '0',
        '--backend', backend === 'ref' ? 'ref' : 'dnnl'], { stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...(backend === 'dnnl8' ? { ITX_NN_BLOCK: '8' } : {}) } });
    } catch (e) {
      failed++;
      console.log(`FAIL ${c.name} ${backend}: ${String(e.stderr).trim()}`);
      continue;
    }
    const b = readFileSync(out);
    const got = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    let bad = got.length !== want.length ? 'length differs' : null;
    for (let i = 0; !bad && i < got.length; i++)
      if (!(Math.abs(got[i] - want[i]) <= 1e-4 + 1e-4 * Math.abs(want[i])))
        bad = `element ${i}: ${got[i]} vs ${want[i]}`;
    if (bad) {
      failed++;
      console.log(`FAIL ${c.name} ${backend}: ${bad}`);
    } else {
      passed++;
    }
  }
}
console.log(`(${skipped} multi-input or integer cases are covered by test_nn_ref_ort)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
