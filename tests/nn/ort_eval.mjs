// Runs every case that tests/nn/gen_op_cases.py wrote with ONNX Runtime and records the
// outputs as the expected values for itx's op-level tests.
//
// Usage: node tests/nn/ort_eval.mjs OUTDIR [--opt disabled|basic|extended|all]
//
// Reads OUTDIR/cases.json and each case's model and input files; writes
//   OUTDIR/<case>.out<k>.bin   output k, raw little-endian, float32, int64 or int32 as the
//                              output's type
//   OUTDIR/expected.json       {"version": 1, "ort": version, "opt": level,
//                               "cases": {name: {"outputs": [{name, dtype, shape, file}]}}}
// ONNX Runtime runs on the CPU with one intra-op and one inter-op thread. Graph
// optimisations are off by default so each op is evaluated as written (the reference the
// op tests want); --opt all gives what ONNX Runtime runs by default.
// onnxruntime-node is resolved from the repository root's node_modules (package.json pins it).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'package.json'));
const ort = require('onnxruntime-node');
const ortVersion = require('onnxruntime-node/package.json').version;

function usage(msg) {
  if (msg) process.stderr.write(`ort_eval: ${msg}\n`);
  process.stderr.write('usage: node ort_eval.mjs OUTDIR [--opt disabled|basic|extended|all]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let outdir = null;
let opt = 'disabled';
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--opt') {
    opt = args[++i];
    if (!['disabled', 'basic', 'extended', 'all'].includes(opt)) usage(`bad --opt '${opt}'`);
  } else if (outdir === null) {
    outdir = args[i];
  } else {
    usage(`unexpected argument '${args[i]}'`);
  }
}
if (outdir === null) usage();

const ARRAYS = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array };

function readInput(spec) {
  const Ctor = ARRAYS[spec.dtype];
  if (!Ctor) throw new Error(`input '${spec.name}': unsupported dtype '${spec.dtype}'`);
  const buf = readFileSync(path.resolve(outdir, spec.file));
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (buf.length !== n * Ctor.BYTES_PER_ELEMENT) {
    throw new Error(`input '${spec.file}' is ${buf.length} bytes, want ${n * Ctor.BYTES_PER_ELEMENT} for shape [${spec.shape}]`);
  }
  // Copy into an aligned buffer: readFileSync's may not be aligned for the element size.
  const data = new Ctor(n);
  new Uint8Array(data.buffer).set(buf);
  return new ort.Tensor(spec.dtype, data, spec.shape);
}

const listing = JSON.parse(readFileSync(path.join(outdir, 'cases.json'), 'utf8'));
const expected = { version: 1, ort: ortVersion, opt, cases: {} };
let failed = 0;
for (const c of listing.cases) {
  try {
    const session = await ort.InferenceSession.create(path.resolve(outdir, c.model), {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: opt,
    });
    const feeds = {};
    for (const spec of c.inputs) feeds[spec.name] = readInput(spec);
    const results = await session.run(feeds);
    const outputs = [];
    c.outputs.forEach((o, k) => {
      const t = results[o.name];
      if (!t) throw new Error(`no output '${o.name}'`);
      if (t.type !== o.dtype) throw new Error(`output '${o.name}' is ${t.type}, cases.json says ${o.dtype}`);
      const file = `${c.name}.out${k}.bin`;
      const d = t.data;
      writeFileSync(path.join(outdir, file), new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      outputs.push({ name: o.name, dtype: t.type, shape: t.dims.map(Number), file });
    });
    expected.cases[c.name] = { outputs };
    await session.release();
  } catch (e) {
    failed++;
    process.stderr.write(`ort_eval: case '${c.name}': ${e.message}\n`);
  }
}
writeFileSync(path.join(outdir, 'expected.json'), JSON.stringify(expected, null, 1) + '\n');
const n = Object.keys(expected.cases).length;
process.stdout.write(`ran ${n} of ${listing.cases.length} cases with onnxruntime-node ${ortVersion} (opt ${opt})\n`);
process.exit(failed ? 1 : 0);
