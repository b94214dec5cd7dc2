#!/usr/bin/env node
// itx batch end to end, with the real binary, models and dictionary on small synthetic
// pictures (batch-pictures.mjs):
//  1. a list of local files (with comments and blank lines, read from stdin) gives, per
//     picture, a translated picture, a background and a regions file, and `itx ocr` reads
//     English and no Chinese on every translated picture; the manifest has one line each;
//  2. bad lines (ftp://, file://, a missing file, a loopback URL, a name resolving to
//     loopback) fail one by one with errors naming their line, the good line still runs,
//     exit status 1 and a summary naming the failures and the manifest; a canary listener
//     on the loopback port receives no connection;
//  3. shards 0/3, 1/3 (from CLOUD_RUN_TASK_INDEX/COUNT) and 2/3 cover every line exactly
//     once, and pictures finished by step 1 are found in its journal, not processed again;
//  4. kill -9 in the middle of a batch, then the same command again: the pictures finished
//     before the kill are "already done" (no pipeline run, output files keep their inode
//     and mtime), the rest are done, every picture is present exactly once; a second batch
//     on the same shard while the first runs is refused (exit 2);
//  5. --store with the local store and with S3 (s3rver behind tests/store's SigV4 verifier):
//     the manifest on stdout lists the store's URLs, a rerun finds the results in the store,
//     a wrong secret is exit 2 before any picture;
//  6. bad shard settings exit 2 with a message naming the variable;
//  7. --glossary is drawn and keyed; 8. SIGTERM leaves a manifest with pending lines;
//  9. itx serve on the same store answers itx batch's pictures from it, and the reverse;
// 10. --manifest naming a FIFO writes through it (never replaces it); naming a directory fails
//     (one result key for both).
// Env: ITX_BIN, ITX_SOURCE_DIR, ITX_MODELS_DIR. Exit status 1 when a check fails.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const itx = process.env.ITX_BIN;
const srcDir = process.env.ITX_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
if (!itx) {
  process.stderr.write('test-batch.mjs: ITX_BIN must be set\n');
  process.exit(2);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'itx-batch-'));
let failed = 0;
// detail is printed only when the check fails (e.g. the end of the command's stderr)
const check = (ok, what, detail) => {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok && detail) process.stdout.write(`     ${detail}\n`);
  if (!ok) failed++;
};
// A clean environment: dictionary provider, local store, JSON logs (stderr is a pipe).
const env = { ...process.env, ITX_LOG_FORMAT: 'json', ITX_LOG_LEVEL: 'info' };
for (const k of ['ITX_TRANSLATE_PROVIDER', 'ITX_STORE', 'ITX_STORE_DIR', 'ITX_STORE_PREFIX',
  'CLOUD_RUN_TASK_INDEX', 'CLOUD_RUN_TASK_COUNT', 'ITX_FETCH_ALLOW_HOSTS', 'ITX_GLOSSARY_FILE',
  'ITX_UNSAFE_TEST_ONLY_ALLOW_LOOPBACK_FETCH']) delete env[k];

const batch = (args, opts = {}) => {
  const r = spawnSync(itx, ['batch', ...args], {
    env: { ...env, ...(opts.env || {}) }, input: opts.input, encoding: 'utf8', maxBuffer: 64 << 20,
    timeout: 240000,
  });
  return { rc: r.status, out: r.stdout, err: r.stderr, logs: parseLogs(r.stderr) };
};
function parseLogs(text) {
  const v = [];
  for (const l of (text || '').split('\n')) {
    if (!l.startsWith('{')) continue;
    try { v.push(JSON.parse(l)); } catch { /* not a log line */ }
  }
  return v;
}
// a missing manifest reads as empty, so the checks that need it fail one by one
const readManifest = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '')
  .split('\n').filter(Boolean).map((l) => JSON.parse(l));
const pics = (dir, n) => spawnSync('node', [path.join(srcDir, 'tests/cli/batch-pictures.mjs'), dir, String(n)],
  { encoding: 'utf8', env }).stdout.split('\n').filter(Boolean);
const ocr = (file) => {
  const r = spawnSync(itx, ['ocr', '--json', file], { encoding: 'utf8', env });
  return r.status === 0 ? JSON.parse(r.stdout.split('\n')[0]) : null;
};
// every regions.json under a local store directory (the result marker), with its key
const results = (dir) => {
  const out = [];
  for (const a of fs.readdirSync(dir)) {
    if (a.startsWith('.') || !fs.statSync(path.join(dir, a)).isDirectory()) continue;
    for (const k of fs.readdirSync(path.join(dir, a))) {
      const files = fs.readdirSync(path.join(dir, a, k));
      if (files.includes('regions.json')) out.push({ key: k, files });
    }
  }
  return out;
};

try {
  // ---- 1. local files from stdin ------------------------------------------------------------
  const set1 = pics(path.join(tmp, 'pics1'), 6);
  const out1 = path.join(tmp, 'out1');
  const list1 = ['# product pictures', '', ...set1.slice(0, 3), '   # indented comment', '',
    ...set1.slice(3).map((p) => `  ${p}\t`), ''].join('\r\n');
  let r = batch(['--input', '-', '-o', out1, '--workers', '2'], { input: list1 });
  check(r.rc === 0, `local batch exits 0 (got ${r.rc})`, r.err.slice(-600));
  const m1 = readManifest(path.join(out1, 'manifest.jsonl'));
  check(m1.length === 6 && m1.every((e) => e.status === 'done' && e.via === 'pipeline' && e.error === null),
    'manifest: 6 lines, all done by the pipeline');
  check(m1.map((e) => e.line).join(',') === '3,4,5,8,9,10', `manifest lines are the list's line numbers (${m1.map((e) => e.line)})`);
  check(m1.map((e) => e.source).join('\n') === set1.join('\n'), 'manifest sources are the trimmed list entries, in order');
  let english = 0;
  for (const e of m1) {
    const present = ['image', 'background', 'regions'].every((k) => e.outputs && fs.existsSync(e.outputs[k]));
    check(present, `line ${e.line}: picture, background and regions exist`);
    check(e.outputs.image === path.join(out1, e.key.slice(0, 2), e.key, 'final.png'), `line ${e.line}: content-addressed name`);
    const o = present ? ocr(e.outputs.image) : null;
    const lines = o ? o.lines : [];
    const han = lines.some((l) => l.han || /[\u4e00-\u9fff]/.test(l.text));
    const latin = lines.filter((l) => /[A-Za-z]{3,}/.test(l.text));
    if (!han && latin.length >= 1) english++;
    else process.stdout.write(`     line ${e.line} read: ${JSON.stringify(lines.map((l) => l.text))}\n`);
  }
  check(english === 6, `itx ocr reads English and no Chinese on ${english}/6 translated pictures`);
  const perPic = r.logs.filter((l) => typeof l.line === 'number');
  check(perPic.length === 6 && perPic.every((l) => l.status === 'done' && /done in \d+ ms/.test(l.message)),
    'one JSON log line per picture');
  check(results(out1).length === 6, 'six results in the output directory');

  // ---- 2. bad lines -------------------------------------------------------------------------
  let canaryConnections = 0;
  const canary = net.createServer((s) => { canaryConnections++; s.destroy(); });
  await new Promise((res) => canary.listen(0, '127.0.0.1', res));
  const port = canary.address().port;
  const list2 = [`ftp://example.com/a.png`, `file://${set1[0]}`, path.join(tmp, 'missing.png'),
    `http://127.0.0.1:${port}/a.png`, `http://localhost:${port}/b.png`, set1[0]].join('\n');
  fs.writeFileSync(path.join(tmp, 'list2.txt'), list2);
  const out2 = path.join(tmp, 'out2');
  r = batch(['--input', path.join(tmp, 'list2.txt'), '-o', out2, '--workers', '1']);
  canary.close();
  check(r.rc === 1, `bad lines: exit status 1 (got ${r.rc})`);
  const m2 = readManifest(path.join(out2, 'manifest.jsonl'));
  const byLine = Object.fromEntries(m2.map((e) => [e.line, e]));
  check(m2.length === 6, 'bad lines: every line in the manifest');
  check(byLine[1]?.status === 'failed' && /unsupported URL scheme/.test(byLine[1].error.message), 'ftp:// refused');
  check(byLine[2]?.status === 'failed' && /file:\/\/ URLs are not sources/.test(byLine[2].error.message), 'file:// refused');
  check(byLine[3]?.status === 'failed' && byLine[3].error.code === 'not_found' && byLine[3].error.message.includes('missing.png'),
    `missing file: not_found naming the file (${byLine[3]?.error?.message})`);
  for (const n of [4, 5]) {
    check(byLine[n]?.status === 'failed' && byLine[n].error.code === 'forbidden' && /loopback/.test(byLine[n].error.message),
      `line ${n}: loopback URL refused (${byLine[n]?.error?.message})`);
  }
  check(byLine[6]?.status === 'done', 'the good line after the bad ones is done');
  check(canaryConnections === 0, `canary on 127.0.0.1:${port} got ${canaryConnections} connections`);
  for (const n of [1, 2, 3, 4, 5]) {
    check(r.logs.some((l) => l.line === n && l.status === 'failed' && l.message.startsWith(`line ${n}: `)),
      `line ${n}: error log line names the line`);
  }
  const summary = r.logs.find((l) => /pictures in shard/.test(l.message || ''));
  check(summary && /5 failed/.test(summary.message) && summary.message.includes(path.join(out2, 'manifest.jsonl')),
    `summary names the failures and the manifest (${summary?.message})`);

  // ---- 3. shards ----------------------------------------------------------------------------
  const set3 = [...set1, ...pics(path.join(tmp, 'pics3'), 8).slice(6)];
  fs.writeFileSync(path.join(tmp, 'list3.txt'), ['# eight pictures', ...set3].join('\n') + '\n');
  const shardRuns = [
    batch(['--input', path.join(tmp, 'list3.txt'), '-o', out1, '--shard', '0/3', '--workers', '1']),
    batch(['--input', path.join(tmp, 'list3.txt'), '-o', out1, '--workers', '1'],
      { env: { CLOUD_RUN_TASK_INDEX: '1', CLOUD_RUN_TASK_COUNT: '3' } }),
    batch(['--input', path.join(tmp, 'list3.txt'), '-o', out1, '--shard', '2/3', '--workers', '1']),
  ];
  check(shardRuns.every((x) => x.rc === 0), `three shards exit 0 (${shardRuns.map((x) => x.rc)})`);
  const seen = [];
  for (let s = 0; s < 3; s++) {
    const m = readManifest(path.join(out1, `manifest.shard-${s}-of-3.jsonl`));
    const idx = m.map((e) => e.line - 2); // line 1 is the comment: source i is on line i + 2
    check(idx.every((i) => i % 3 === s), `shard ${s}/3 holds sources ${idx} (i mod 3 = ${s})`);
    seen.push(...m.map((e) => e.line));
  }
  seen.sort((a, b) => a - b);
  check(seen.join(',') === '2,3,4,5,6,7,8,9', `shards cover every line exactly once (${seen})`);
  const viaAll = shardRuns.flatMap((x) => x.logs.filter((l) => typeof l.line === 'number'));
  // out1's journal from step 1 is read whatever the shard layout
  check(viaAll.filter((l) => l.via === 'journal').length === 6 && viaAll.filter((l) => l.via === 'pipeline').length === 2,
    'the six pictures of step 1 are found in its journal, only the two new ones are processed');

  // ---- 4. kill -9, then resume --------------------------------------------------------------
  const set4 = pics(path.join(tmp, 'pics4'), 12);
  fs.writeFileSync(path.join(tmp, 'list4.txt'), set4.join('\n'));
  const out4 = path.join(tmp, 'out4');
  const args4 = ['batch', '--input', path.join(tmp, 'list4.txt'), '-o', out4, '--workers', '1'];
  const child = spawn(itx, args4, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err4 = '';
  let second = null;
  const doneBefore = await new Promise((resolve) => {
    child.stderr.on('data', (chunk) => {
      err4 += chunk;
      const done = parseLogs(err4).filter((l) => l.status === 'done');
      if (done.length === 1 && !second) second = batch(['--input', path.join(tmp, 'list4.txt'), '-o', out4, '--workers', '1']);
      if (done.length >= 4) {
        child.kill('SIGKILL');
        resolve(done.map((l) => l.line));
      }
    });
    child.on('exit', () => resolve(parseLogs(err4).filter((l) => l.status === 'done').map((l) => l.line)));
  });
  await new Promise((res) => (child.exitCode !== null || child.signalCode !== null ? res() : child.on('exit', res)));
  check(child.signalCode === 'SIGKILL', `first run killed with SIGKILL after ${doneBefore.length} pictures`);
  check(second && second.rc === 2 && /is locked/.test(second.err), `a second batch on the same shard while it runs: exit 2, locked (${second?.rc})`);
  check(!fs.existsSync(path.join(out4, 'manifest.jsonl')), 'no manifest from the killed run');
  // what the killed run left: the journal names the pictures it finished
  const stamp = {};
  const before = results(out4);
  for (const x of before) {
    for (const f of x.files) {
      const st = fs.statSync(path.join(out4, x.key.slice(0, 2), x.key, f));
      stamp[`${x.key}/${f}`] = `${st.ino}:${st.mtimeMs}`;
    }
  }
  r = batch(args4.slice(1));
  check(r.rc === 0, `resumed run exits 0 (got ${r.rc})`, r.err.slice(-600));
  const logs4 = r.logs.filter((l) => typeof l.line === 'number');
  const again = logs4.filter((l) => doneBefore.includes(l.line));
  check(again.length === doneBefore.length && again.every((l) => l.via === 'journal' && /already done/.test(l.message)),
    `the ${doneBefore.length} finished pictures are "already done" from the journal`);
  check(logs4.filter((l) => l.via === 'pipeline').every((l) => !doneBefore.includes(l.line)) &&
    logs4.filter((l) => l.via === 'pipeline').length >= 12 - doneBefore.length - 1,
    `only unfinished pictures run the pipeline (${logs4.filter((l) => l.via === 'pipeline').length})`);
  let unchanged = 0;
  let total = 0;
  for (const [k, v] of Object.entries(stamp)) {
    total++;
    const st = fs.statSync(path.join(out4, k.slice(0, 2), k));
    if (`${st.ino}:${st.mtimeMs}` === v) unchanged++;
  }
  check(total >= doneBefore.length * 3 && unchanged === total, `${unchanged}/${total} files of finished pictures untouched (inode, mtime)`);
  const m4 = readManifest(path.join(out4, 'manifest.jsonl'));
  check(m4.length === 12 && m4.every((e) => e.status === 'done'), 'manifest after resume: 12 lines, all done');
  check(new Set(m4.map((e) => e.line)).size === 12, 'each line once in the manifest');
  const after = results(out4);
  check(after.length === 12 && after.every((x) => x.files.length === 3), `every picture present once: ${after.length} results of 3 files`);
  const leftovers = after.flatMap((x) => fs.readdirSync(path.join(out4, x.key.slice(0, 2), x.key)).filter((f) => f.startsWith('.tmp')));
  check(leftovers.length === 0, 'no temporary files left');
  r = batch(args4.slice(1));
  check(r.rc === 0 && r.logs.filter((l) => l.via === 'journal').length === 12, 'a third run finds all 12 in the journal');

  // ---- 5. --store ---------------------------------------------------------------------------
  const files5 = path.join(tmp, 'files5');
  r = batch(['--input', '-', '--store', '--workers', '1'], {
    input: set1.slice(0, 2).join('\n'),
    env: { ITX_STORE: 'local', ITX_STORE_DIR: files5, ITX_STORE_PUBLIC_URL: 'https://cdn.example.com/itx/' },
  });
  check(r.rc === 0, `--store exits 0 (got ${r.rc})`, r.err.slice(-600));
  const m5 = r.out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  check(m5.length === 2 && m5.every((e) => e.outputs.image.startsWith('https://cdn.example.com/itx/') &&
    fs.existsSync(path.join(files5, e.outputs.image.slice('https://cdn.example.com/itx/'.length)))),
  'manifest on stdout lists store URLs of stored objects');
  check(m5.every((e, i) => e.key === m1[i].key), 'the same picture and settings give the same key in both modes');
  // no journal with --store: a second run finds the results in the store, before any OCR
  r = batch(['--input', '-', '--store', '--workers', '1'], {
    input: set1.slice(0, 2).join('\n'),
    env: { ITX_STORE: 'local', ITX_STORE_DIR: files5 },
  });
  const logs5 = r.logs.filter((l) => typeof l.line === 'number');
  check(r.rc === 0 && logs5.length === 2 && logs5.every((l) => l.via === 'store' && /already done \(result in the store\)/.test(l.message)),
    '--store again: both pictures found in the store, not redone');

  // ---- 5b. --store on S3 (s3rver behind the SigV4 verifier of tests/store) ----------------
  const s3dir = path.join(tmp, 's3');
  fs.mkdirSync(s3dir);
  const s3 = spawn('node', [path.join(srcDir, 'tests/store/s3rver-run.js'), s3dir, 'itx-batch'],
    { env: { ...env, ITX_SOURCE_DIR: srcDir }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const s3port = await new Promise((resolve, reject) => {
      let buf = '';
      s3.stdout.on('data', (c) => {
        buf += c;
        const m = /PORT (\d+)/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      s3.on('exit', () => reject(new Error('s3rver-run.js exited')));
    });
    const s3env = {
      ITX_STORE: 's3', ITX_S3_BUCKET: 'itx-batch', ITX_S3_ENDPOINT: `http://127.0.0.1:${s3port}`,
      ITX_S3_PATH_STYLE: '1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER',
      ITX_STORE_SIGNED_URLS: '1',
    };
    r = batch(['--input', '-', '--store', '--workers', '1'], { input: set1.slice(0, 2).join('\n'), env: s3env });
    check(r.rc === 0, `--store s3: exits 0 (got ${r.rc})`, r.err.slice(-600));
    const m5s3 = r.out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    let fetched = 0;
    for (const e of m5s3) {
      const res = await fetch(e.outputs.image);
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status === 200 && body.subarray(1, 4).toString() === 'PNG') fetched++;
    }
    check(m5s3.length === 2 && fetched === 2 && m5s3.every((e) => /X-Amz-Signature=/.test(e.outputs.image)),
      `--store s3: the manifest's signed URLs serve the pictures (${fetched}/2)`);
    r = batch(['--input', '-', '--store', '--workers', '1'], { input: set1.slice(0, 2).join('\n'), env: s3env });
    check(r.rc === 0 && r.logs.filter((l) => l.via === 'store').length === 2, '--store s3 again: both found in the bucket');
    r = batch(['--input', '-', '--store'], { input: set1[0], env: { ...s3env, AWS_SECRET_ACCESS_KEY: 'wrong' } });
    check(r.rc === 2 && /store is not usable.*SignatureDoesNotMatch/.test(r.err),
      `--store s3 with a wrong secret: exit 2 before any picture (${r.rc}: ${r.err.split('\n')[0]})`);
  } finally {
    s3.kill();
  }

  // ---- 7. --glossary: applied, and part of the key ----------------------------------------
  fs.writeFileSync(path.join(tmp, 'gloss.tsv'), '新品上市\tBrand new drop\n');
  const out7 = path.join(tmp, 'out7');
  r = batch(['--input', '-', '-o', out7, '--glossary', path.join(tmp, 'gloss.tsv'), '--workers', '1'],
    { input: set1[0] });
  const m7 = r.rc === 0 ? readManifest(path.join(out7, 'manifest.jsonl')) : [];
  const read7 = m7.length ? ocr(m7[0].outputs.image) : null;
  check(m7.length === 1 && m7[0].key !== m1[0].key, 'a glossary changes the result key');
  check(read7 && read7.lines.some((l) => /Brand/.test(l.text)), `the glossary's translation is drawn`,
    JSON.stringify(read7?.lines?.map((l) => l.text)));

  // ---- 8. SIGTERM: running pictures stop, the manifest says what is pending ----------------
  const out8 = path.join(tmp, 'out8');
  const child8 = spawn(itx, ['batch', '--input', path.join(tmp, 'list4.txt'), '-o', out8, '--workers', '1'],
    { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err8 = '';
  child8.stderr.on('data', (chunk) => {
    err8 += chunk;
    if (!child8.killed && parseLogs(err8).some((l) => l.status === 'done')) child8.kill('SIGTERM');
  });
  const rc8 = await new Promise((res) => child8.on('exit', (code) => res(code)));
  const m8 = fs.existsSync(path.join(out8, 'manifest.jsonl')) ? readManifest(path.join(out8, 'manifest.jsonl')) : [];
  check(rc8 === 1, `SIGTERM: exit status 1 (got ${rc8})`);
  check(m8.length === 12 && m8.some((e) => e.status === 'done') &&
    m8.some((e) => e.status === 'pending' && e.error.code === 'cancelled') &&
    m8.every((e) => e.status === 'done' || e.status === 'pending'),
  `SIGTERM: manifest with done and pending lines (${m8.filter((e) => e.status === 'done').length} done)`);
  check(/stopped by a signal with \d+ pictures not finished/.test(err8), 'SIGTERM: the summary says how to resume');

  // ---- 9. one result key with itx serve: each answers the other's pictures from the store --
  const serveDir = path.join(tmp, 'serve');
  fs.mkdirSync(serveDir);
  const srv = spawn(itx, ['serve', '--port', '0', '--bind', '127.0.0.1', '--workers', '1'], {
    env: { ...env, ITX_STORE_DIR: out1, ITX_DATABASE_URL: `sqlite:${path.join(serveDir, 'jobs.db')}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const sport = await new Promise((resolve, reject) => {
      let buf = '';
      srv.stderr.on('data', (c) => {
        buf += c;
        const l = parseLogs(buf).find((x) => typeof x.port === 'number' && /listening/.test(x.message));
        if (l) resolve(l.port);
      });
      srv.on('exit', () => reject(new Error(`itx serve exited: ${buf.slice(-400)}`)));
    });
    const base = `http://127.0.0.1:${sport}`;
    for (let i = 0; i < 600; i++) {
      if ((await fetch(`${base}/readyz`).catch(() => ({ status: 0 }))).status === 200) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const post = async (file) => (await fetch(`${base}/v1/translate`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target_lang: 'en', images: [{ data: fs.readFileSync(file).toString('base64') }] }),
    })).json();
    const metric = async (name) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const m = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
    // a picture itx batch did (step 1) is a cache hit for the server
    const a1 = await post(set1[0]);
    check(a1.images?.[0]?.url?.includes(m1[0].key) && await metric('itx_images_total{result="cached"}') === 1 &&
      await metric('itx_images_total{result="translated"}') === 0,
    'itx serve answers a picture itx batch did from the store, under the same key', JSON.stringify(a1).slice(0, 300));
    // a picture the server did is found in the store by itx batch
    const fresh = pics(path.join(tmp, 'pics9'), 13)[12];
    const a2 = await post(fresh);
    r = batch(['--input', '-', '-o', out1, '--workers', '1'], { input: fresh });
    const l9 = r.logs.find((l) => typeof l.line === 'number');
    check(a2.images?.[0]?.url && l9?.via === 'store' && a2.images[0].url.includes(l9.key),
      'itx batch finds a picture itx serve did in the store, under the same key', `${JSON.stringify(l9)}`);
  } finally {
    srv.kill('SIGTERM');
  }

  // ---- 6. bad shard settings ----------------------------------------------------------------
  const bad = [
    [{ CLOUD_RUN_TASK_INDEX: '0', CLOUD_RUN_TASK_COUNT: 'abc' }, /CLOUD_RUN_TASK_COUNT is 'abc'/],
    [{ CLOUD_RUN_TASK_INDEX: '0', CLOUD_RUN_TASK_COUNT: '0' }, /CLOUD_RUN_TASK_COUNT is '0'/],
    [{ CLOUD_RUN_TASK_INDEX: '3', CLOUD_RUN_TASK_COUNT: '3' }, /CLOUD_RUN_TASK_INDEX is '3'.*0\.\.2/],
    [{ CLOUD_RUN_TASK_INDEX: '1' }, /CLOUD_RUN_TASK_COUNT is not/],
    [{ CLOUD_RUN_TASK_COUNT: '2' }, /CLOUD_RUN_TASK_INDEX is not/],
  ];
  for (const [e, re] of bad) {
    r = batch(['--input', path.join(tmp, 'list3.txt'), '-o', path.join(tmp, 'out6')], { env: e });
    check(r.rc === 2 && re.test(r.err), `${JSON.stringify(e)}: exit 2 naming it (${r.rc}: ${r.err.split('\n')[0]})`);
  }
  for (const s of ['3/3', '1', '-1/2', '0/0', 'a/b']) {
    r = batch(['--input', path.join(tmp, 'list3.txt'), '-o', path.join(tmp, 'out6'), '--shard', s]);
    check(r.rc === 2 && /--shard/.test(r.err), `--shard ${s}: exit 2`);
  }
  r = batch(['--input', path.join(tmp, 'list3.txt')]);
  check(r.rc === 2 && /exactly one of -o DIR and --store/.test(r.err), 'neither -o nor --store: exit 2');
  check(!fs.existsSync(path.join(tmp, 'out6')), 'no output directory made for a bad configuration');

  // ---- 10. a manifest path that is not a regular file is written in place, never replaced ---
  // (a FIFO stands for /dev/null and terminals: replacing /dev/null as root broke the machine)
  const fifo = path.join(tmp, 'manifest.fifo');
  fs.writeFileSync(path.join(tmp, 'list10.txt'), set1.join('\n') + '\n');
  if (spawnSync('mkfifo', [fifo]).status === 0) {
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (c) => { got += c; });
    const closed = new Promise((res) => reader.on('close', res));
    r = batch(['--input', path.join(tmp, 'list10.txt'), '-o', out1, '--manifest', fifo]);
    const still = fs.statSync(fifo).isFIFO();
    if (!still) reader.kill(); // nothing will ever open the old FIFO for writing
    await closed;
    check(r.rc === 0, `--manifest FIFO: exit 0 (got ${r.rc})`, r.err.slice(-400));
    check(still, 'the FIFO is still a FIFO after the batch');
    check(got.split('\n').filter(Boolean).length === 6, `the manifest came through the FIFO (${got.length} bytes)`);
  } else {
    check(false, 'mkfifo works');
  }
  r = batch(['--input', path.join(tmp, 'list10.txt'), '-o', out1, '--manifest', tmp]);
  check(r.rc !== 0 && /is a directory/.test(r.err), `--manifest DIR: an error naming it (${r.rc}: ${r.err.split('\n').slice(-2).join(' ')})`);
} finally {
  if (!process.env.ITX_KEEP_TEST_DIR) fs.rmSync(tmp, { recursive: true, force: true });
}
process.stdout.write(failed ? `${failed} check(s) failed\n` : 'all checks passed\n');
process.exit(failed ? 1 : 0);
