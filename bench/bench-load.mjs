// Load on `itx serve` over loopback: POST /v1/translate with synthetic pictures (itx-testset)
// and the dict provider, a bounded number of requests at a fixed concurrency.
// A few distinct pictures are sent over and over, so most answers come from the result store;
// a share of the requests (--miss-share, default 0.02) asks for a JPEG quality no request
// used before, which makes a new cache key and runs the whole pipeline.
// Prints throughput, p50/p99 latency, statuses, unexpected 5xx (must be 0), peak RSS of the
// server and its RSS growth after warm-up (RSS at the end over RSS after the first 10% of the
// requests). Last line:
//   RESULT rps=<..> p99_ms=<..> errors_5xx=<n> peak_rss_mb=<..> rss_growth=<share>
//
// Usage: node bench/bench-load.mjs path/to/itx path/to/itx-testset
//          [--requests 2000] [--concurrency 32] [--workers 2] [--pictures 8] [--miss-share 0.02]
//          [--smaps 1]
// --smaps 1 also prints where the server's memory is at the end, from /proc/PID/smaps: the
// resident size of its mappings by kind (heap arenas, large anonymous blocks, files).
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberOptions, procStatus, startServe, testsetPictures } from './lib.mjs';

const [itx, testset] = process.argv.slice(2, 4);
if (!itx || !testset) {
  console.error('usage: node bench/bench-load.mjs path/to/itx path/to/itx-testset [--requests N] ' +
                '[--concurrency C] [--workers W] [--pictures P] [--miss-share S]');
  process.exit(2);
}
const opt = numberOptions('bench-load', process.argv, 4,
  { requests: 2000, concurrency: 32, workers: 2, pictures: 8, 'miss-share': 0.02, smaps: 0 }, v => v >= 0);

const dir = mkdtempSync(join(tmpdir(), 'itx-bench-load-'));
const store = join(dir, 'store');
mkdirSync(store);
const pictures = testsetPictures(testset, dir, opt.pictures, 7);

const agent = new http.Agent({ keepAlive: true, maxSockets: opt.concurrency });
function request(port, method, path, body) {
  return new Promise(resolve => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method, path, agent,
                               headers: body ? { 'Content-Type': 'application/json',
                                                 'Content-Length': Buffer.byteLength(body) } : {} },
      res => {
        const chunks = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(),
                                      ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      });
    req.on('error', e => resolve({ status: 0, body: String(e), ms: 0 }));
    req.setTimeout(120000, () => req.destroy(new Error('client timeout')));
    if (body) req.write(body);
    req.end();
  });
}

function rssKb(pid) {
  const p = procStatus(pid);
  return { rss: p.rssKb, hwm: p.hwmKb };
}

// Resident MB of the process's mappings by kind: glibc's heaps (the main [heap] and the
// per-thread arenas, which start on a 64 MiB boundary), other anonymous mappings by size
// (large blocks are mmapped on their own), files.
function smapsSummary(pid) {
  let text;
  try { text = readFileSync(`/proc/${pid}/smaps`, 'utf8'); } catch { return 'smaps unreadable'; }
  const kinds = {};
  let cur = null;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = BigInt('0x' + head[1]);
      const size = Number(BigInt('0x' + head[2]) - start) / 1048576;
      const name = head[3];
      cur = name === '[heap]' ? 'heap [heap]'
        : name.startsWith('/') ? (name.includes('/models/') ? 'file models' : 'file libraries and data')
        : name.startsWith('[') ? `other ${name}`
        : start % (64n << 20n) === 0n ? 'heap thread arenas'
        : size >= 2 ? 'anon blocks >= 2 MiB' : 'anon small';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && cur) kinds[cur] = (kinds[cur] || 0) + Number(rss[1]) / 1024;
  }
  return Object.entries(kinds).sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `  ${v.toFixed(1).padStart(7)} MB  ${k}`).join('\n');
}

const env = { ...process.env, PORT: '0', ITX_BIND: '127.0.0.1', ITX_LOG_FORMAT: 'json',
              ITX_STORE: 'local', ITX_STORE_DIR: store,
              ITX_TRANSLATE_PROVIDER: 'dict', ITX_WORKERS: String(opt.workers),
              ITX_QUEUE: String(Math.max(64, opt.concurrency * 2)) };
const serve = startServe(itx, env);
const child = serve.child;

try {
  const port = await serve.ready((p, path) => request(p, 'GET', path), 60000, 20);

  const lat = [];
  const statuses = {};
  let next = 0, done = 0, q = 1, rssWarm = NaN, peakSampled = 0;
  const warmAt = Math.max(1, Math.floor(opt.requests / 10));
  const sampler = setInterval(() => { peakSampled = Math.max(peakSampled, rssKb(child.pid).rss || 0); }, 100);
  const tStart = process.hrtime.bigint();
  async function client() {
    while (next < opt.requests) {
      const i = next++;
      const miss = Math.random() < opt['miss-share'];
      const body = JSON.stringify({ target_lang: 'en', provider: 'dict',
        ...(miss ? { options: { output_format: 'jpeg', jpeg_quality: 100 - (q++ % 99) } } : {}),
        images: [{ data: pictures[i % pictures.length] }] });
      const r = await request(port, 'POST', '/v1/translate', body);
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status >= 500 || r.status === 0) console.error(`request ${i}: ${r.status} ${r.body.slice(0, 300)}`);
      lat.push(r.ms);
      if (++done === warmAt) rssWarm = rssKb(child.pid).rss;
    }
  }
  await Promise.all(Array.from({ length: opt.concurrency }, client));
  const secs = Number(process.hrtime.bigint() - tStart) / 1e9;
  clearInterval(sampler);
  const end = rssKb(child.pid);
  if (opt.smaps) console.log(`server memory at the end, by mapping:\n${smapsSummary(child.pid)}`);
  const metrics = (await request(port, 'GET', '/metrics')).body;
  const mval = name => { const m = new RegExp(`^${name.replace(/[{}"]/g, c => '\\' + c)} (\\S+)$`, 'm').exec(metrics); return m ? Number(m[1]) : 0; };
  lat.sort((a, b) => a - b);
  const pct = p => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const errors5xx = Object.entries(statuses).filter(([s]) => Number(s) >= 500 || Number(s) === 0)
    .reduce((a, [, n]) => a + n, 0);
  const growth = (end.rss - rssWarm) / rssWarm;
  console.log(`requests ${opt.requests} at concurrency ${opt.concurrency}, ${opt.workers} workers, ` +
              `${pictures.length} pictures, miss share ${opt['miss-share']}`);
  console.log(`statuses ${JSON.stringify(statuses)}`);
  console.log(`pipeline runs ${mval('itx_cache_misses_total')}, store hits ${mval('itx_cache_hits_total')}`);
  console.log(`throughput ${(opt.requests / secs).toFixed(1)} req/s over ${secs.toFixed(1)} s; ` +
              `latency p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, max ${lat[lat.length - 1].toFixed(1)} ms`);
  console.log(`server RSS: after warm-up ${(rssWarm / 1024).toFixed(1)} MB, end ${(end.rss / 1024).toFixed(1)} MB, ` +
              `peak ${(Math.max(end.hwm, peakSampled) / 1024).toFixed(1)} MB`);
  console.log(`RESULT rps=${(opt.requests / secs).toFixed(1)} p99_ms=${pct(0.99).toFixed(1)} ` +
              `errors_5xx=${errors5xx} peak_rss_mb=${(Math.max(end.hwm, peakSampled) / 1024).toFixed(1)} ` +
              `rss_growth=${growth.toFixed(3)}`);
} finally {
  if (await serve.stop() !== 0) process.exitCode = 1;
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
}
