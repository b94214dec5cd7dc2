// Soak test of `itx serve` over loopback: a bounded time (ITX_SOAK_S, default 600 s) of mixed
// valid and invalid load, sampling the server's RSS, open file descriptors (/proc/PID/fd) and
// threads every few seconds.
//
// Load, all at once:
//   - valid POST /v1/translate (dict provider) with a few synthetic pictures (itx-testset);
//     most are answered from the result store, a small share asks for a new JPEG quality,
//     which makes a new cache key and runs the whole pipeline;
//   - invalid requests, each with the 4xx it must get: bad JSON (400), a body over
//     ITX_MAX_JSON_BYTES (413), bad base64 (400), an unknown member (400), unknown routes
//     (404), a wrong method (405);
//   - slow clients: a request that stops half-way through its headers, one that stops
//     half-way through its body, and idle keep-alive connections; the server must drop
//     them after its read and idle timeouts.
// Any 5xx, or a connection closed without an answer to a well-formed request, counts in
// errors_5xx.
//
// Warm-up is the first 10% of the time (at least 20 s). After it the load pauses until idle
// connections are closed and the quiet fd count is taken; the same is done at the end.
// Figures: RSS growth = (median RSS of the last three samples - median RSS of the three
// samples after warm-up) / the latter; fd growth = quiet fds at the end - quiet fds after
// warm-up. Bar: rss_growth <= 0.05, fd_growth = 0, errors_5xx = 0 (exit status 1 otherwise).
// Last line:
//   RESULT rss_growth=<share> fd_growth=<n> errors_5xx=<n>
//
// Usage: node bench/bench-soak.mjs path/to/itx path/to/itx-testset [--workers 2]
//          [--clients 6] [--interval 5]
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, numberOptions, procStatus, sleep, startServe, testsetPictures } from './lib.mjs';

const [itx, testset] = process.argv.slice(2, 4);
if (!itx || !testset) {
  console.error('usage: node bench/bench-soak.mjs path/to/itx path/to/itx-testset ' +
                '[--workers W] [--clients C] [--interval S]   (ITX_SOAK_S: seconds, default 600)');
  process.exit(2);
}
const opt = numberOptions('bench-soak', process.argv, 4, { workers: 2, clients: 6, interval: 5 }, v => v > 0);
const soakS = Number(process.env.ITX_SOAK_S ?? 600);
if (!(soakS >= 30 && soakS <= 86400)) {
  console.error(`bench-soak: ITX_SOAK_S '${process.env.ITX_SOAK_S}' is not a number of seconds in 30..86400`);
  process.exit(2);
}
const warmS = Math.max(20, soakS / 10);
const MAX_JSON = 1 << 20;
const IDLE_S = 2;
const READ_MS = 3000;

const dir = mkdtempSync(join(tmpdir(), 'itx-bench-soak-'));
const store = join(dir, 'store');
mkdirSync(store);
const pictures = testsetPictures(testset, dir, 6, 21).slice(0, 4);

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let inFlight = 0;
let keepAliveRetries = 0;
function request(port, method, path, body, headers = {}, retried = false) {
  inFlight++;
  return new Promise(resolve => {
    const h = { ...headers };
    if (body !== undefined) {
      h['Content-Type'] = h['Content-Type'] || 'application/json';
      h['Content-Length'] = Buffer.byteLength(body);
    }
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: h }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', e => {
      // A kept-alive connection the server closed (idle timeout) just as this request went
      // out on it: the request never reached the server, so it is sent again on a new
      // connection, once (what Node's documentation advises for req.reusedSocket).
      if (req.reusedSocket && !retried && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
        keepAliveRetries++;
        resolve(request(port, method, path, body, headers, true));
      } else {
        resolve({ status: 0, body: String(e) });
      }
    });
    req.setTimeout(120000, () => req.destroy(new Error('client timeout')));
    if (body !== undefined) req.write(body);
    req.end();
  }).finally(() => { inFlight--; });
}

// A request over a raw connection, for bodies the server refuses before reading them (it
// answers and closes while the client is still writing, which Node's client reports as
// EPIPE): writes everything it can and returns the status line's code (0: no answer).
function rawRequest(port, text) {
  inFlight++;
  return new Promise(resolve => {
    const s = net.connect(port, '127.0.0.1');
    let answer = '';
    s.on('connect', () => s.end(text));
    s.on('data', d => { answer += d; });
    s.on('error', () => {});
    s.setTimeout(60000, () => s.destroy());
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(answer);
      resolve({ status: m ? Number(m[1]) : 0, body: answer.slice(0, 300) });
    });
  }).finally(() => { inFlight--; });
}

// RSS in MB, threads, open descriptors.
function proc(pid) {
  const p = procStatus(pid);
  return { rss: p.rssKb / 1024, threads: p.threads, fds: p.fds };
}

const env = { ...process.env, PORT: '0', ITX_BIND: '127.0.0.1', ITX_LOG_FORMAT: 'json',
              ITX_STORE: 'local', ITX_STORE_DIR: store,
              ITX_TRANSLATE_PROVIDER: 'dict', ITX_WORKERS: String(opt.workers), ITX_QUEUE: '256',
              ITX_IDLE_TIMEOUT_S: String(IDLE_S), ITX_READ_TIMEOUT_MS: String(READ_MS),
              ITX_MAX_JSON_BYTES: String(MAX_JSON) };
const serve = startServe(itx, env);
const child = serve.child;
let port = 0;

// What each kind of request must get; anything else is counted, 5xx separately.
const kinds = {};
function count(kind, status, want, body) {
  const k = kinds[kind] ||= { n: 0, ok: 0, statuses: {} };
  k.n++;
  k.statuses[status] = (k.statuses[status] || 0) + 1;
  if (want.includes(status)) k.ok++;
  else if (k.n - k.ok <= 3) console.error(`${kind}: HTTP ${status} (want ${want.join('|')}): ${String(body).slice(0, 200)}`);
}

let paused = false, stopping = false, q = 1;
const invalid = [
  ['bad_json', 'POST', '/v1/translate', '{"target_lang":"en","images":[{"data":', [400]],
  // 0: the server answers 413 and closes while the client is still sending the body; the
  // client's kernel may then get a reset that discards the 413 before it is read.
  ['oversize', 'POST', '/v1/translate', null, [413, 0]],
  ['bad_base64', 'POST', '/v1/translate', '{"target_lang":"en","images":[{"data":"@@@not base64@@@"}]}', [400]],
  ['unknown_member', 'POST', '/v1/translate', '{"target_lang":"en","images":[{"url":"https://example.com/a.jpg"}],"colour":1}', [400]],
  ['unknown_route', 'GET', '/v1/nothing-here', undefined, [404]],
  ['wrong_method', 'DELETE', '/v1/translate', undefined, [404, 405]],
  ['health', 'GET', '/healthz', undefined, [200]],
  ['metrics', 'GET', '/metrics', undefined, [200]],
];
const oversizeBody = '{"target_lang":"en","images":[{"data":"' + 'A'.repeat(MAX_JSON + 1024) + '"}]}';
const oversize = 'POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
  `Content-Length: ${oversizeBody.length}\r\nConnection: close\r\n\r\n` + oversizeBody;

async function validClient(id) {
  let i = id;
  while (!stopping) {
    if (paused) { await sleep(100); continue; }
    const miss = Math.random() < 0.03;
    const body = JSON.stringify({ target_lang: 'en', provider: 'dict',
      ...(miss ? { options: { output_format: 'jpeg', jpeg_quality: 100 - (q++ % 99) } } : {}),
      images: [{ data: pictures[i++ % pictures.length] }] });
    const r = await request(port, 'POST', '/v1/translate', body);
    count('translate', r.status, [200], r.body);
  }
}

async function invalidClient() {
  let i = 0;
  while (!stopping) {
    if (paused) { await sleep(100); continue; }
    const [kind, method, path, body, want] = invalid[i++ % invalid.length];
    const r = body === null ? await rawRequest(port, oversize) : await request(port, method, path, body);
    count(kind, r.status, want, r.body);
    await sleep(5);
  }
}

// A raw connection that sends part of a request and then nothing; the server must close it.
function stall(part) {
  return new Promise(resolve => {
    const s = net.connect(port, '127.0.0.1');
    const t0 = Date.now();
    let answer = '';
    s.on('connect', () => s.write(part));
    s.on('data', d => { answer += d; });
    s.setTimeout(60000, () => { s.destroy(); resolve({ closed: false, ms: Date.now() - t0 }); });
    s.on('close', () => resolve({ closed: true, ms: Date.now() - t0, answer }));
    s.on('error', () => {});
  });
}

async function slowClient() {
  const parts = [
    ['slow_headers', 'POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Ty'],
    ['slow_body', 'POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
                  'Content-Length: 5000\r\n\r\n{"target_lang":"en","images":[{"data":"'],
    ['idle_keepalive', ''],
  ];
  let i = 0;
  while (!stopping) {
    if (paused) { await sleep(100); continue; }
    const batch = [];
    for (let k = 0; k < 3; k++) batch.push(stall(parts[(i + k) % parts.length][1]).then(r => [parts[(i + k) % parts.length][0], r]));
    i++;
    for (const [kind, r] of await Promise.all(batch)) {
      // Closed by the server, with a 408 or nothing; a 5xx would be unexpected.
      const st = /^HTTP\/1\.1 (\d+)/.exec(r.answer || '');
      count(kind, r.closed ? (st ? Number(st[1]) : 0) : -1, [0, 408, 400], r.answer);
    }
  }
}

const samples = [];
let code = 0;
try {
  port = await serve.ready((p, path) => request(p, 'GET', path), 120000, 50);
  console.log(`soak ${soakS} s (warm-up ${warmS.toFixed(0)} s), ${opt.workers} workers, ` +
              `${opt.clients} valid clients, 1 invalid client, 3 slow clients, ${pictures.length} pictures`);
  const start = Date.now();
  const clients = [...Array.from({ length: opt.clients }, (_, k) => validClient(k)), invalidClient(), slowClient()];

  async function quietFds() {
    paused = true;
    for (let i = 0; i < 1200 && inFlight > 0; i++) await sleep(100); // in-flight answers
    // then the server's idle and read timeouts close what the clients left open
    await sleep((IDLE_S + READ_MS / 1000) * 1000 + 2000);
    const p = proc(child.pid);
    paused = false;
    return p.fds;
  }

  let fdWarm = NaN, warmIndex = -1;
  const elapsed = () => (Date.now() - start) / 1000;
  while (elapsed() < soakS && !serve.exited) {
    await sleep(opt.interval * 1000);
    const p = proc(child.pid);
    const n = Object.values(kinds).reduce((a, k) => a + k.n, 0);
    samples.push({ t: elapsed(), ...p });
    console.log(`t=${elapsed().toFixed(0).padStart(5)} s  rss=${p.rss.toFixed(1)} MB  fds=${p.fds}  ` +
                `threads=${p.threads}  requests=${n}`);
    if (warmIndex < 0 && elapsed() >= warmS) {
      fdWarm = await quietFds();
      warmIndex = samples.length;
      console.log(`warm-up done: quiet fds ${fdWarm}`);
    }
  }
  stopping = true;
  await Promise.all(clients);
  const fdEnd = await quietFds();
  const endP = proc(child.pid);
  samples.push({ t: elapsed(), ...endP });
  if (serve.exited) throw new Error(`itx serve exited during the soak:\n${serve.log.slice(-4000)}`);

  const after = samples.slice(warmIndex, warmIndex + 3).map(s => s.rss);
  const last = samples.slice(-3).map(s => s.rss);
  const rssWarm = median(after), rssEnd = median(last);
  const growth = (rssEnd - rssWarm) / rssWarm;
  let errors5xx = 0, unexpected = 0;
  // Kinds whose connection the server may close without an answer.
  const k0 = new Set(['slow_headers', 'slow_body', 'idle_keepalive', 'oversize']);
  for (const [kind, k] of Object.entries(kinds)) {
    const fives = Object.entries(k.statuses).filter(([s]) => Number(s) >= 500 ||
      (Number(s) === 0 && !k0.has(kind)))
      .reduce((a, [, n]) => a + n, 0);
    errors5xx += fives;
    unexpected += k.n - k.ok;
    console.log(`${kind.padEnd(15)} ${String(k.n).padStart(7)} requests, ${k.n - k.ok} unexpected, statuses ${JSON.stringify(k.statuses)}`);
  }
  const threads = samples.slice(warmIndex).map(s => s.threads);
  console.log(`RSS after warm-up ${rssWarm.toFixed(1)} MB, at the end ${rssEnd.toFixed(1)} MB, ` +
              `max ${Math.max(...samples.map(s => s.rss)).toFixed(1)} MB; quiet fds ${fdWarm} -> ${fdEnd}; ` +
              `threads ${Math.min(...threads)}..${Math.max(...threads)}; ${unexpected} unexpected answers; ` +
              `${keepAliveRetries} requests sent again after a kept-alive connection closed under them`);
  console.log(`RESULT rss_growth=${growth.toFixed(3)} fd_growth=${fdEnd - fdWarm} errors_5xx=${errors5xx}`);
  if (growth > 0.05 || fdEnd - fdWarm > 0 || errors5xx > 0 || unexpected > 0) code = 1;
} finally {
  stopping = true;
  if (await serve.stop() !== 0) code = 1;
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = code;
}
