#!/usr/bin/env node
// DB post-processing parity: renders the sample pictures (tools/ref-ocr/samples.mjs), runs
// the PaddleOCR-faithful reference (tools/ref-ocr/ref-ocr.mjs --dump-maps), then itx's
// itx_ocr_db_boxes on the very same detector maps (db_map_boxes), and checks that both
// find the same boxes: every corner within 2 pixels and scores within 0.03. (OpenCV's
// minAreaRect works in float32, which can move a truncated corner by one pixel.)
// Usage: db-parity.mjs PATH/TO/db_map_boxes
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const src = process.env.ITX_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const models = process.env.ITX_MODELS_DIR || path.join(src, 'models');
const tool = process.argv[2];
if (!fs.existsSync(path.join(models, 'ch_PP-OCRv4_det_infer.onnx'))) {
  console.log(`skipping: no models in '${models}' (run scripts/setup.sh)`);
  process.exit(0);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'itx-db-parity-'));
let failed = 0;
try {
  execFileSync('node', [path.join(src, 'tools/ref-ocr/samples.mjs'), dir], { cwd: src, stdio: 'inherit' });
  const images = fs.readdirSync(dir).filter((f) => f.endsWith('.png')).map((f) => path.join(dir, f));
  execFileSync('node', [path.join(src, 'tools/ref-ocr/ref-ocr.mjs'), '--models', models, '--dump-maps', dir, ...images],
    { cwd: src, stdio: ['ignore', 'ignore', 'inherit'] });
  for (const img of images) {
    const base = img.replace(/\.png$/, '');
    const ref = JSON.parse(fs.readFileSync(`${base}.boxes.json`, 'utf8'));
    const got = JSON.parse(execFileSync(tool, [`${base}.map`, String(ref.width), String(ref.height)], { encoding: 'utf8' }));
    const close = (a, b) => a.pts.every((p, i) => Math.abs(p[0] - b.pts[i][0]) <= 2 && Math.abs(p[1] - b.pts[i][1]) <= 2) &&
      Math.abs(a.score - b.score) <= 0.03;
    const name = path.basename(img);
    if (got.length !== ref.boxes.length) {
      console.log(`${name}: itx found ${got.length} boxes, the reference ${ref.boxes.length}`);
      failed++;
    }
    for (const r of ref.boxes) {
      if (!got.some((g) => close(g, r))) {
        console.log(`${name}: reference box ${JSON.stringify(r)} has no match in ${JSON.stringify(got)}`);
        failed++;
      }
    }
  }
  console.log(`${images.length} pictures, ${failed} mismatches`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
