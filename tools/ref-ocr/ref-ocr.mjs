#!/usr/bin/env node
// Reference PP-OCR pipeline: PaddleOCR's system pipeline (tools/infer/predict_system.py with
// its default arguments) on onnxruntime-node, so itx's OCR can be compared with it line by
// line and timed against it. It is a test oracle, not shipped code: it leans on OpenCV
// (opencv.js) for exactly the operations PaddleOCR calls through cv2 (resize, findContours,
// minAreaRect, fillPoly/mean, warpPerspective), on Clipper (js-clipper) for pyclipper's
// offset, and on sharp for decoding.
//
// Usage: node tools/ref-ocr/ref-ocr.mjs [options] IMAGE...
//   --threads N        ONNX Runtime intra-op threads (default 1)
//   --models DIR       model directory (default $ITX_MODELS_DIR or <repo>/models)
//   --limit-side N     detector limit_side_len, limit_type "max" (default 960)
//   --no-cls           skip the 180-degree classifier (PaddleOCR's use_angle_cls=False)
//   --drop-score X     drop lines scoring under X (default 0.5)
//   --timing           per-image times and peak RSS as JSON lines on stderr
//   --dump-maps DIR    also write each detector map (DIR/NAME.map: int32 width, height,
//                      then float32 values) and its boxes (DIR/NAME.boxes.json) for
//                      checking itx's DB post-processing on the very same map
// Output: one JSON object per image on stdout, the shape of `itx ocr --json`:
//   {"image","width","height","lines":[{"box":[8 numbers],"text","score","han","vertical"}]}
// Differences from PaddleOCR: pictures are decoded by libvips (sharp) with EXIF orientation
// applied and alpha flattened onto white (cv2.imread drops alpha without flattening).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

const require = createRequire(import.meta.url);
const ClipperLib = require('js-clipper');

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

function usage(msg) {
  if (msg) process.stderr.write(`ref-ocr: ${msg}\n`);
  process.stderr.write('usage: ref-ocr.mjs [--threads N] [--models DIR] [--limit-side N] ' +
    '[--no-cls] [--drop-score X] [--timing] IMAGE...\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    threads: 1, models: process.env.ITX_MODELS_DIR || path.join(repo, 'models'),
    limitSide: 960, cls: true, dropScore: 0.5, timing: false, dumpMaps: null, images: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name) => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) usage(`${name} needs a number`);
      return v;
    };
    if (a === '--threads') o.threads = num(a);
    else if (a === '--models') o.models = argv[++i];
    else if (a === '--limit-side') o.limitSide = num(a);
    else if (a === '--no-cls') o.cls = false;
    else if (a === '--drop-score') o.dropScore = num(a);
    else if (a === '--timing') o.timing = true;
    else if (a === '--dump-maps') o.dumpMaps = argv[++i];
    else if (a.startsWith('--')) usage(`unknown option '${a}'`);
    else o.images.push(a);
  }
  if (!o.images.length) usage('no images');
  if (!Number.isInteger(o.threads) || o.threads < 1) usage('--threads must be a positive integer');
  return o;
}

// The Emscripten module is a thenable that resolves to itself, so it must not be returned
// from an async function or awaited: wait for the runtime, then hand it back in a wrapper.
async function loadCv() {
  const cv = (await import('@techstark/opencv-js')).default;
  if (!cv.Mat) await new Promise((resolve) => { cv.onRuntimeInitialized = resolve; });
  return { cv };
}

// numpy.round / Python round: half to even.
function roundEven(v) {
  const r = Math.floor(v);
  const f = v - r;
  if (f > 0.5 || (f === 0.5 && r % 2 !== 0)) return r + 1;
  return r;
}

const clip = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

// ---- detection ---------------------------------------------------------------------------

// DetResizeForTest, limit_type "max" (resize_image_type0).
function detSize(w, h, limit) {
  let ratio = 1;
  if (Math.max(h, w) > limit) ratio = h > w ? limit / h : limit / w;
  let rh = Math.trunc(h * ratio);
  let rw = Math.trunc(w * ratio);
  rh = Math.max(roundEven(rh / 32) * 32, 32);
  rw = Math.max(roundEven(rw / 32) * 32, 32);
  return [rw, rh];
}

// NormalizeImage (scale 1/255, ImageNet mean/std in PaddleOCR's order on BGR) + ToCHW.
function detTensor(cv, bgr, rw, rh) {
  const dst = new cv.Mat();
  cv.resize(bgr, dst, new cv.Size(rw, rh), 0, 0, cv.INTER_LINEAR);
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const plane = rw * rh;
  const out = new Float32Array(3 * plane);
  const d = dst.data;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      out[c * plane + i] = (Math.fround(d[3 * i + c] * Math.fround(1 / 255)) - mean[c]) / std[c];
    }
  }
  dst.delete();
  return new ort.Tensor('float32', out, [1, 3, rh, rw]);
}

// get_mini_boxes: minAreaRect, boxPoints sorted by x, then TL, TR, BR, BL.
function miniBox(cv, pointsMat) {
  const rect = cv.minAreaRect(pointsMat);
  const pts = cv.RotatedRect.points(rect).map((p) => [p.x, p.y]);
  pts.sort((a, b) => a[0] - b[0]);
  let i1; let i2; let i3; let i4;
  if (pts[1][1] > pts[0][1]) { i1 = 0; i4 = 1; } else { i1 = 1; i4 = 0; }
  if (pts[3][1] > pts[2][1]) { i2 = 2; i3 = 3; } else { i2 = 3; i3 = 2; }
  return [[pts[i1], pts[i2], pts[i3], pts[i4]], Math.min(rect.size.width, rect.size.height)];
}

// box_score_fast: mean of the map inside the box's polygon (cv2.fillPoly + cv2.mean).
function boxScoreFast(cv, predMat, box) {
  const h = predMat.rows; const w = predMat.cols;
  const xs = box.map((p) => p[0]); const ys = box.map((p) => p[1]);
  const xmin = clip(Math.floor(Math.min(...xs)), 0, w - 1);
  const xmax = clip(Math.ceil(Math.max(...xs)), 0, w - 1);
  const ymin = clip(Math.floor(Math.min(...ys)), 0, h - 1);
  const ymax = clip(Math.ceil(Math.max(...ys)), 0, h - 1);
  const mask = cv.Mat.zeros(ymax - ymin + 1, xmax - xmin + 1, cv.CV_8UC1);
  const poly = cv.matFromArray(4, 1, cv.CV_32SC2,
    box.flatMap((p) => [Math.trunc(p[0] - xmin), Math.trunc(p[1] - ymin)]));
  const polys = new cv.MatVector();
  polys.push_back(poly);
  cv.fillPoly(mask, polys, new cv.Scalar(1));
  const roi = predMat.roi(new cv.Rect(xmin, ymin, xmax - xmin + 1, ymax - ymin + 1));
  const score = cv.mean(roi, mask)[0];
  roi.delete(); polys.delete(); poly.delete(); mask.delete();
  return score;
}

// unclip: shapely area/length for the distance, pyclipper (integer coordinates, truncated)
// JT_ROUND / ET_CLOSEDPOLYGON offset.
function unclip(box, ratio) {
  let area = 0; let len = 0;
  for (let i = 0; i < box.length; i++) {
    const p = box[i]; const q = box[(i + 1) % box.length];
    area += p[0] * q[1] - q[0] * p[1];
    len += Math.hypot(q[0] - p[0], q[1] - p[1]);
  }
  const distance = (Math.abs(area) / 2) * ratio / len;
  const co = new ClipperLib.ClipperOffset(2.0, 0.25);
  co.AddPath(box.map((p) => ({ X: Math.trunc(p[0]), Y: Math.trunc(p[1]) })),
    ClipperLib.JoinType.jtRound, ClipperLib.EndType.etClosedPolygon);
  const solution = new ClipperLib.Paths();
  co.Execute(solution, distance);
  return solution;
}

function orderPointsClockwise(pts) {
  const s = pts.map((p) => p[0] + p[1]);
  const iMin = s.indexOf(Math.min(...s));
  const iMax = s.indexOf(Math.max(...s));
  const rest = pts.filter((_, i) => i !== iMin && i !== iMax);
  const diff = rest.map((p) => p[1] - p[0]);
  const tr = diff[0] <= diff[1] ? rest[0] : rest[1];
  const bl = diff[0] <= diff[1] ? rest[1] : rest[0];
  return [pts[iMin], tr, pts[iMax], bl];
}

function dbPostprocess(cv, pred, mw, mh, srcW, srcH) {
  const thresh = 0.3; const boxThresh = 0.6; const unclipRatio = 1.5; const minSize = 3;
  const maxCandidates = 1000;
  const predMat = cv.matFromArray(mh, mw, cv.CV_32F, pred);
  const bitmap = new cv.Mat(mh, mw, cv.CV_8UC1);
  const bits = bitmap.data;
  for (let i = 0; i < mw * mh; i++) bits[i] = pred[i] > thresh ? 255 : 0;
  const contours = new cv.MatVector();
  const hierarchy = new cv.Mat();
  cv.findContours(bitmap, contours, hierarchy, cv.RETR_LIST, cv.CHAIN_APPROX_SIMPLE);
  const boxes = [];
  const n = Math.min(contours.size(), maxCandidates);
  for (let k = 0; k < n; k++) {
    const contour = contours.get(k);
    const [points, sside] = miniBox(cv, contour);
    contour.delete();
    if (sside < minSize) continue;
    const score = boxScoreFast(cv, predMat, points);
    if (boxThresh > score) continue;
    const expanded = unclip(points, unclipRatio);
    if (expanded.length !== 1) continue; // PaddleOCR skips multi-polygon results
    const ex = expanded[0];
    const exMat = cv.matFromArray(ex.length, 1, cv.CV_32SC2, ex.flatMap((p) => [p.X, p.Y]));
    const [box, sside2] = miniBox(cv, exMat);
    exMat.delete();
    if (sside2 < minSize + 2) continue;
    const scaled = box.map((p) => [
      clip(roundEven(p[0] / mw * srcW), 0, srcW), clip(roundEven(p[1] / mh * srcH), 0, srcH)]);
    boxes.push({ pts: scaled, score });
  }
  contours.delete(); hierarchy.delete(); bitmap.delete(); predMat.delete();
  // filter_tag_det_res
  const out = [];
  for (const b of boxes) {
    let pts = orderPointsClockwise(b.pts);
    pts = pts.map((p) => [Math.trunc(clip(p[0], 0, srcW - 1)), Math.trunc(clip(p[1], 0, srcH - 1))]);
    const rw = Math.trunc(Math.hypot(pts[0][0] - pts[1][0], pts[0][1] - pts[1][1]));
    const rh = Math.trunc(Math.hypot(pts[0][0] - pts[3][0], pts[0][1] - pts[3][1]));
    if (rw <= 3 || rh <= 3) continue;
    out.push({ pts, score: b.score });
  }
  return out;
}

// sorted_boxes: by top-left (y, x), then swap same-line neighbours (|dy| < 10) into x order.
function sortedBoxes(boxes) {
  const b = boxes.slice().sort((p, q) => (p.pts[0][1] - q.pts[0][1]) || (p.pts[0][0] - q.pts[0][0]));
  for (let i = 0; i < b.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      if (Math.abs(b[j + 1].pts[0][1] - b[j].pts[0][1]) < 10 && b[j + 1].pts[0][0] < b[j].pts[0][0]) {
        const t = b[j]; b[j] = b[j + 1]; b[j + 1] = t;
      } else break;
    }
  }
  return b;
}

// get_rotate_crop_image
function rotateCrop(cv, bgr, pts) {
  const d = (a, c) => Math.hypot(a[0] - c[0], a[1] - c[1]);
  const w = Math.trunc(Math.max(d(pts[0], pts[1]), d(pts[2], pts[3])));
  const h = Math.trunc(Math.max(d(pts[0], pts[3]), d(pts[1], pts[2])));
  const src = cv.matFromArray(4, 1, cv.CV_32FC2, pts.flat());
  const dstPts = cv.matFromArray(4, 1, cv.CV_32FC2, [0, 0, w, 0, w, h, 0, h]);
  const m = cv.getPerspectiveTransform(src, dstPts);
  const out = new cv.Mat();
  cv.warpPerspective(bgr, out, m, new cv.Size(w, h), cv.INTER_CUBIC, cv.BORDER_REPLICATE,
    new cv.Scalar());
  src.delete(); dstPts.delete(); m.delete();
  if (h / w >= 1.5) {
    const r = new cv.Mat();
    cv.rotate(out, r, cv.ROTATE_90_COUNTERCLOCKWISE); // np.rot90
    out.delete();
    return { img: r, vertical: true };
  }
  return { img: out, vertical: false };
}

// resize_norm_img of predict_rec / predict_cls: height 48, width ceil(48 * w / h) capped,
// (v / 255 - 0.5) / 0.5, zero padding on the right, BGR channel order.
function lineTensorInto(cv, img, imgW, out, offset) {
  const imgH = 48;
  const ratio = img.cols / img.rows;
  const rw = Math.ceil(imgH * ratio) > imgW ? imgW : Math.ceil(imgH * ratio);
  const r = new cv.Mat();
  cv.resize(img, r, new cv.Size(rw, imgH), 0, 0, cv.INTER_LINEAR);
  const plane = imgH * imgW;
  const d = r.data;
  for (let y = 0; y < imgH; y++) {
    for (let x = 0; x < rw; x++) {
      for (let c = 0; c < 3; c++) {
        out[offset + c * plane + y * imgW + x] = (d[3 * (y * rw + x) + c] / 255 - 0.5) / 0.5;
      }
    }
  }
  r.delete();
}

async function classify(cv, sess, crops) {
  const order = crops.map((c, i) => [c.img.cols / c.img.rows, i]).sort((a, b) => a[0] - b[0]);
  for (let b = 0; b < order.length; b += 6) {
    const idx = order.slice(b, b + 6).map((o) => o[1]);
    const plane = 3 * 48 * 192;
    const buf = new Float32Array(idx.length * plane);
    idx.forEach((i, k) => lineTensorInto(cv, crops[i].img, 192, buf, k * plane));
    const res = await sess.run({ [sess.inputNames[0]]: new ort.Tensor('float32', buf, [idx.length, 3, 48, 192]) });
    const p = res[sess.outputNames[0]].data;
    idx.forEach((i, k) => {
      const p0 = p[2 * k]; const p180 = p[2 * k + 1];
      if (p180 > p0 && p180 > 0.9) {
        const r = new cv.Mat();
        cv.rotate(crops[i].img, r, cv.ROTATE_180);
        crops[i].img.delete();
        crops[i].img = r;
      }
    });
  }
}

function ctcDecode(p, t0, steps, nc, keys) {
  let text = ''; let sum = 0; let kept = 0; let prev = -1;
  for (let t = 0; t < steps; t++) {
    const base = t0 + t * nc;
    let arg = 0; let m = p[base];
    for (let c = 1; c < nc; c++) if (p[base + c] > m) { m = p[base + c]; arg = c; }
    if (arg !== 0 && arg !== prev) { text += keys[arg - 1]; sum += m; kept++; }
    prev = arg;
  }
  return [text, kept ? sum / kept : 0];
}

async function recognize(cv, sess, crops, keys) {
  const results = new Array(crops.length);
  const order = crops.map((c, i) => [c.img.cols / c.img.rows, i]).sort((a, b) => a[0] - b[0]);
  for (let b = 0; b < order.length; b += 6) {
    const batch = order.slice(b, b + 6);
    let maxRatio = 320 / 48;
    for (const [r] of batch) maxRatio = Math.max(maxRatio, r);
    const imgW = Math.trunc(48 * maxRatio);
    const plane = 3 * 48 * imgW;
    const buf = new Float32Array(batch.length * plane);
    batch.forEach(([, i], k) => lineTensorInto(cv, crops[i].img, imgW, buf, k * plane));
    const res = await sess.run({ [sess.inputNames[0]]: new ort.Tensor('float32', buf, [batch.length, 3, 48, imgW]) });
    const out = res[sess.outputNames[0]];
    const [, steps, nc] = out.dims;
    if (nc !== keys.length + 1) throw new Error(`recognizer has ${nc} classes, key list gives ${keys.length + 1}`);
    batch.forEach(([, i], k) => { results[i] = ctcDecode(out.data, k * steps * nc, steps, nc, keys); });
  }
  return results;
}

const dbgT0 = performance.now();
const dbg = (...a) => {
  if (process.env.REF_OCR_DEBUG) {
    process.stderr.write(`[${(performance.now() - dbgT0).toFixed(0)} ms] ${a.join(' ')}\n`);
  }
};

async function ocrImage(cv, s, file, o) {
  const { data, info } = await sharp(file, { limitInputPixels: 40e6 }).rotate()
    .flatten({ background: '#ffffff' }).toColourspace('srgb').raw()
    .toBuffer({ resolveWithObject: true });
  const w = info.width; const h = info.height;
  if (info.channels !== 3) throw new Error(`${file}: ${info.channels} channels after flattening`);
  const bgr = new cv.Mat(h, w, cv.CV_8UC3);
  const bd = bgr.data; // a getter that makes a new view: read it once
  for (let i = 0; i < w * h; i++) {
    bd[3 * i] = data[3 * i + 2];
    bd[3 * i + 1] = data[3 * i + 1];
    bd[3 * i + 2] = data[3 * i];
  }
  dbg("decoded", w, h);
  const [rw, rh] = detSize(w, h, o.limitSide);
  dbg('det input');
  const det = await s.det.run({ [s.det.inputNames[0]]: detTensor(cv, bgr, rw, rh) });
  const map = det[s.det.outputNames[0]];
  const [, , mh, mw] = map.dims;
  dbg("det", mw, mh);
  const detBoxes = dbPostprocess(cv, map.data, mw, mh, w, h);
  if (o.dumpMaps) {
    const base = path.join(o.dumpMaps, path.basename(file).replace(/\.[^.]*$/, ''));
    const head = Buffer.alloc(8);
    head.writeInt32LE(mw, 0);
    head.writeInt32LE(mh, 4);
    fs.writeFileSync(`${base}.map`, Buffer.concat([head, Buffer.from(map.data.buffer, map.data.byteOffset, map.data.byteLength)]));
    fs.writeFileSync(`${base}.boxes.json`, JSON.stringify({ width: w, height: h, boxes: detBoxes }) + '\n');
  }
  const boxes = sortedBoxes(detBoxes);
  dbg("boxes", boxes.length);
  const crops = boxes.map((b) => rotateCrop(cv, bgr, b.pts));
  bgr.delete();
  dbg('cropped');
  if (o.cls && crops.length) await classify(cv, s.cls, crops);
  dbg('classified');
  const rec = crops.length ? await recognize(cv, s.rec, crops, s.keys) : [];
  dbg('recognized');
  const lines = [];
  boxes.forEach((b, i) => {
    const [text, score] = rec[i];
    if (score >= o.dropScore) {
      lines.push({
        box: b.pts.flat(), text, score: Number(score.toFixed(4)),
        han: /\p{Script=Han}/u.test(text), vertical: crops[i].vertical,
      });
    }
  });
  crops.forEach((c) => c.img.delete());
  return { image: file, width: w, height: h, lines };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const opts = {
    intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const t0 = performance.now();
  const { cv } = await loadCv();
  dbg("cv loaded");
  const s = {
    det: await ort.InferenceSession.create(path.join(o.models, 'ch_PP-OCRv4_det_infer.onnx'), opts),
    rec: await ort.InferenceSession.create(path.join(o.models, 'ch_PP-OCRv4_rec_infer.onnx'), opts),
    cls: o.cls ? await ort.InferenceSession.create(path.join(o.models, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), opts) : null,
  };
  // ppocr_keys_v1.txt lines (readlines semantics) plus the space of use_space_char.
  const raw = fs.readFileSync(path.join(o.models, 'ppocr_keys_v1.txt'), 'utf8');
  s.keys = raw.split('\n');
  if (raw.endsWith('\n')) s.keys.pop();
  s.keys = s.keys.map((k) => k.replace(/\r$/, ''));
  s.keys.push(' ');
  const loadMs = performance.now() - t0;
  const times = [];
  let failed = 0;
  for (const file of o.images) {
    const t = performance.now();
    try {
      const r = await ocrImage(cv, s, file, o);
      process.stdout.write(JSON.stringify(r) + '\n');
    } catch (e) {
      failed++;
      process.stderr.write(`ref-ocr: ${file}: ${e.message}\n`);
      continue;
    }
    const ms = performance.now() - t;
    times.push(ms);
    if (o.timing) process.stderr.write(JSON.stringify({ image: file, ms: Number(ms.toFixed(1)) }) + '\n');
  }
  if (o.timing) {
    const sorted = times.slice().sort((a, b) => a - b);
    const median = sorted.length ? (sorted.length % 2 ? sorted[(sorted.length - 1) / 2]
      : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2) : 0;
    process.stderr.write(JSON.stringify({
      summary: true, images: times.length, threads: o.threads, load_ms: Number(loadMs.toFixed(1)),
      median_ms: Number(median.toFixed(1)),
      peak_rss_mb: Number((process.resourceUsage().maxRSS / 1024).toFixed(1)),
    }) + '\n');
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { process.stderr.write(`ref-ocr: ${e.stack || e}\n`); process.exit(1); });
