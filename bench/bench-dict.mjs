// Dictionary translation quality: runs `itx translate-text --provider dict` over
// bench/dict/phrases.tsv and reports the share of phrases whose translation is one of the
// accepted ones, and chrF (character 6-gram F-score, beta 2, as sacrebleu's chrF) against
// the closest accepted translation. Last line: RESULT accepted=<share> chrf=<score>.
//
// Usage: node bench/bench-dict.mjs path/to/itx [--verbose] [--tuning]
// Also scores bench/dict/dev2.tsv (the tuning split: "DEV ..." line) and
// bench/dict/heldout2.tsv (never tuned on: "HELDOUT ..." line, printed before RESULT).
// Comparison ignores case, punctuation, hyphens versus spaces, and British versus American
// spelling (colour/color, grey/gray), the differences a reviewer would not count.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const itx = process.argv[2];
const verbose = process.argv.includes('--verbose');
// --tuning: skip heldout2.tsv altogether (no HELDOUT line), for runs made while tuning.
const tuning = process.argv.includes('--tuning');
if (!itx) {
  console.error('usage: node bench/bench-dict.mjs path/to/itx [--verbose] [--tuning]');
  process.exit(2);
}

// Phrases after a "held-out" comment were written after the glossary was last changed and
// are never used for tuning; their share is reported on its own, per batch.
function readSet(file) {
  let heldOut = 0;
  const rows = [];
  for (const l of readFileSync(join(root, file), 'utf8').split('\n')) {
    if (l.startsWith('#') && /held-out/.test(l)) heldOut++;
    if (!l.trim() || l.startsWith('#')) continue;
    const [zh, refs] = l.split('\t');
    rows.push({ zh, heldOut, refs: refs.split('|').map(s => s.trim()).filter(Boolean) });
  }
  return rows;
}
const glossaryKeys = new Set(readFileSync(join(root, 'data/glossary-en.tsv'), 'utf8').split('\n')
  .filter(l => l.trim() && !l.startsWith('#')).map(l => l.split('\t')[0].trim()));

const norm = s => s.toLowerCase()
  .replace(/colour/g, 'color').replace(/grey/g, 'gray').replace(/favourite/g, 'favorite')
  .replace(/metre/g, 'meter').replace(/&/g, ' and ')
  .replace(/[,.;:!?"()\/\-–—~]/g, ' ').replace(/\s+/g, ' ').trim();

// n-grams of an array of code points (so one Han character is one character).
function ngrams(a, n) {
  const m = new Map();
  for (let i = 0; i + n <= a.length; i++) {
    const g = a.slice(i, i + n).join('');
    m.set(g, (m.get(g) || 0) + 1);
  }
  return m;
}

// Sentence chrF (n = 1..6, beta = 2), whitespace removed as in sacrebleu.
function chrf(hyp, ref) {
  const h = [...hyp.replace(/\s+/g, '')], r = [...ref.replace(/\s+/g, '')];
  let p = 0, rc = 0, count = 0;
  for (let n = 1; n <= 6; n++) {
    const hg = ngrams(h, n), rg = ngrams(r, n);
    let match = 0, hn = 0, rn = 0;
    for (const [g, c] of hg) { hn += c; match += Math.min(c, rg.get(g) || 0); }
    for (const c of rg.values()) rn += c;
    if (hn === 0 || rn === 0) continue;
    p += match / hn; rc += match / rn; count++;
  }
  if (!count) return 0;
  p /= count; rc /= count;
  if (p + rc === 0) return 0;
  return (1 + 4) * p * rc / (4 * p + rc);
}

function translate(rows) {
  const out = [];
  for (let i = 0; i < rows.length; i += 100) {
    const chunk = rows.slice(i, i + 100).map(r => r.zh);
    const json = execFileSync(itx, ['translate-text', '--to', 'en', '--provider', 'dict', '--json', '--', ...chunk],
      { encoding: 'utf8', maxBuffer: 64 << 20 });
    for (const r of JSON.parse(json)) out.push(r.text);
  }
  return out;
}

// Scores one set: { n, accepted, chrf, literal, literalAccepted, held, misses }.
function score(rows) {
  const out = translate(rows);
  let accepted = 0, chrfSum = 0, literal = 0, literalAccepted = 0;
  const held = new Map(); // batch -> [phrases, accepted]
  const misses = [];
  rows.forEach((row, i) => {
    const hyp = norm(out[i]);
    const ok = row.refs.some(r => norm(r) === hyp);
    if (ok) accepted++; else misses.push(`${row.zh}\t${out[i]}\t(${row.refs.join(' | ')})`);
    chrfSum += Math.max(...row.refs.map(r => chrf(hyp, norm(r))));
    if (glossaryKeys.has(row.zh)) { literal++; if (ok) literalAccepted++; }
    if (row.heldOut) {
      const h = held.get(row.heldOut) || [0, 0];
      h[0]++; if (ok) h[1]++;
      held.set(row.heldOut, h);
    }
  });
  return { n: rows.length, accepted, chrf: 100 * chrfSum / rows.length, literal, literalAccepted, held, misses };
}

// dev2.tsv is the tuning split (its misses are printed with --verbose); heldout2.tsv is
// measured only, never tuned on, so its misses are never printed.
const dev = score(readSet('bench/dict/dev2.tsv'));
const heldout = tuning ? null : score(readSet('bench/dict/heldout2.tsv'));
const main = score(readSet('bench/dict/phrases.tsv'));
if (verbose) {
  for (const m of main.misses) console.log('MISS ' + m);
  for (const m of dev.misses) console.log('DEVMISS ' + m);
}
for (const [batch, [n, ok]] of main.held)
  console.log(`accepted among the ${n} phrases of held-out batch ${batch}: ${(ok / n).toFixed(3)}`);
console.log(`phrases: ${main.n}, accepted: ${main.accepted}, not accepted: ${main.n - main.accepted}`);
console.log(`phrases that are literal glossary keys: ${main.literal} (${(main.literal / main.n).toFixed(3)} of all)`);
const rest = main.n - main.literal;
console.log(`accepted among the ${rest} phrases that are not glossary keys: ` +
  `${((main.accepted - main.literalAccepted) / rest).toFixed(3)}`);
console.log(`DEV accepted=${(dev.accepted / dev.n).toFixed(3)} chrf=${dev.chrf.toFixed(1)} (bench/dict/dev2.tsv, ${dev.n} phrases, tuning split)`);
if (heldout) console.log(`HELDOUT accepted=${(heldout.accepted / heldout.n).toFixed(3)} chrf=${heldout.chrf.toFixed(1)}`);
console.log(`RESULT accepted=${(main.accepted / main.n).toFixed(3)} chrf=${main.chrf.toFixed(1)}`);
