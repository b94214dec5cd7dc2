// Cold start of `itx serve`: time from exec to the first 200 from /readyz, median of 10 runs
// (each a fresh process on a free loopback port, polled every millisecond from the moment
// of exec, so the time to bind is included), plus the server's own "startup_ms" log field.
// Last line: RESULT ready_ms=<median>.
//
// Usage: node bench/bench-coldstart.mjs path/to/itx [runs]
// Readiness covers what is registered: the OCR models are loaded before the socket opens,
// the warm-up "ocr-models" creates one pipeline context per worker (ITX_WORKERS, default the
// number of cores) and warms each in parallel (itx_pipeline_ctx_warmup: every OCR shape
// bucket planned, each model run once, fonts loaded), and the result store answers.
// Each run also reports the server's CPU time up to readiness (user + system, from
// /proc/PID/stat), which a busy shared machine inflates much less than the wall time.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const itx = process.argv[2];
const runs = Number(process.argv[3] || 10);
if (!itx) {
  console.error('usage: node bench/bench-coldstart.mjs path/to/itx [runs]');
  process.exit(2);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function readyz(port) {
  return new Promise(resolve => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, res => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(1000, () => { req.destroy(); resolve(0); });
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

// User + system CPU milliseconds of a process so far (clock ticks of 10 ms on Linux).
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch { return NaN; }
}

async function once(dir) {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), ITX_BIND: '127.0.0.1', ITX_LOG_FORMAT: 'json',
                ITX_STORE_DIR: join(dir, 'files') }; // the job store goes next to it, in dir
  const t0 = process.hrtime.bigint();
  const child = spawn(itx, ['serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', d => { log += d; });
  let exited = false;
  child.on('exit', () => { exited = true; });
  let ms = -1, cpu = NaN;
  for (;;) {
    const st = await readyz(port);
    if (st === 200) {
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
      cpu = cpuMs(child.pid);
      break;
    }
    if (exited || Number(process.hrtime.bigint() - t0) > 30e9) break;
    await sleep(1);
  }
  child.kill('SIGTERM');
  const code = await new Promise(r => (exited ? r(child.exitCode) : child.on('exit', c => r(c))));
  const m = /"startup_ms":([0-9.]+)/.exec(log);
  if (ms < 0) throw new Error(`itx serve never became ready (exit ${code}):\n${log}`);
  if (code !== 0) throw new Error(`itx serve exited ${code} after SIGTERM:\n${log}`);
  return { ms, cpu, server: m ? Number(m[1]) : NaN };
}

const dir = mkdtempSync(join(tmpdir(), 'itx-coldstart-'));
const results = [];
try {
  for (let i = 0; i < runs; i++) {
    const r = await once(dir);
    results.push(r);
    console.log(`run ${i + 1}: ready after ${r.ms.toFixed(1)} ms (server says ${r.server} ms after exec), ` +
                `${r.cpu} ms of CPU`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const sorted = results.map(r => r.ms).sort((a, b) => a - b);
const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]
  : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
console.log(`min ${sorted[0].toFixed(1)} ms, median ${median.toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms over ${runs} runs`);
const cpus = results.map(r => r.cpu).sort((a, b) => a - b);
console.log(`median CPU to ready ${cpus[Math.floor((cpus.length - 1) / 2)]} ms`);
console.log(`RESULT ready_ms=${median.toFixed(1)}`);
