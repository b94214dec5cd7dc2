#!/usr/bin/env node
// Compares two OCR outputs in the JSON-lines shape of `itx ocr --json` (one object per
// picture): each reference line is matched with the candidate line of highest polygon IoU
// on the same picture, and counts as agreeing when IoU >= 0.5 and the texts are identical.
// Usage: compare.mjs REFERENCE.jsonl CANDIDATE.jsonl [--min-iou X] [--quiet]
// Prints the disagreements, then `RESULT ref_lines=N matched=N agree=N pct=P`
// (pct = agreeing / reference lines * 100). Exit status 0 whatever the score.
import fs from 'node:fs';

const args = process.argv.slice(2);
let minIou = 0.5;
let quiet = false;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--min-iou') minIou = Number(args[++i]);
  else if (args[i] === '--quiet') quiet = true;
  else files.push(args[i]);
}
if (files.length !== 2 || !Number.isFinite(minIou)) {
  process.stderr.write('usage: compare.mjs REFERENCE.jsonl CANDIDATE.jsonl [--min-iou X] [--quiet]\n');
  process.exit(2);
}

const load = (f) => new Map(fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim())
  .map((l) => JSON.parse(l)).map((o) => [o.image, o]));

const quad = (b) => [[b[0], b[1]], [b[2], b[3]], [b[4], b[5]], [b[6], b[7]]];
const area = (p) => {
  let a = 0;
  for (let i = 0; i < p.length; i++) {
    const q = p[(i + 1) % p.length];
    a += p[i][0] * q[1] - q[0] * p[i][1];
  }
  return a / 2;
};
// Convex polygons in either orientation: make them positive first.
const positive = (p) => (area(p) < 0 ? p.slice().reverse() : p);

// Sutherland-Hodgman clipping of convex subject by convex clip polygon.
function intersect(subject, clipPoly) {
  let out = subject;
  for (let i = 0; i < clipPoly.length && out.length; i++) {
    const a = clipPoly[i]; const b = clipPoly[(i + 1) % clipPoly.length];
    const inside = (p) => (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0;
    const cut = (p, q) => {
      const d1 = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
      const d2 = (b[0] - a[0]) * (q[1] - a[1]) - (b[1] - a[1]) * (q[0] - a[0]);
      const t = d1 / (d1 - d2);
      return [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])];
    };
    const input = out;
    out = [];
    for (let j = 0; j < input.length; j++) {
      const p = input[j]; const q = input[(j + 1) % input.length];
      if (inside(q)) {
        if (!inside(p)) out.push(cut(p, q));
        out.push(q);
      } else if (inside(p)) out.push(cut(p, q));
    }
  }
  return out;
}

function iou(b1, b2) {
  const p = positive(quad(b1)); const q = positive(quad(b2));
  const inter = intersect(p, q);
  const ia = inter.length >= 3 ? Math.abs(area(inter)) : 0;
  const u = Math.abs(area(p)) + Math.abs(area(q)) - ia;
  return u > 0 ? ia / u : 0;
}

const ref = load(files[0]);
const cand = load(files[1]);
let refLines = 0; let matched = 0; let agree = 0;
for (const [image, r] of ref) {
  const c = cand.get(image);
  const lines = c ? c.lines : [];
  if (!c && !quiet) console.log(`${image}: missing from the candidate`);
  for (const rl of r.lines) {
    refLines++;
    let best = null; let bestIou = 0;
    for (const cl of lines) {
      const v = iou(rl.box, cl.box);
      if (v > bestIou) { bestIou = v; best = cl; }
    }
    if (best && bestIou >= minIou) {
      matched++;
      if (best.text === rl.text) agree++;
      else if (!quiet) console.log(`${image}: text differs (IoU ${bestIou.toFixed(2)}): reference '${rl.text}' candidate '${best.text}'`);
    } else if (!quiet) {
      console.log(`${image}: reference line '${rl.text}' [${rl.box}] unmatched (best IoU ${bestIou.toFixed(2)})`);
    }
  }
}
const pct = refLines ? (100 * agree) / refLines : 100;
console.log(`RESULT ref_lines=${refLines} matched=${matched} agree=${agree} pct=${pct.toFixed(1)}`);
