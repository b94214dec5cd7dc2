// What the benchmarks share: options, synthetic pictures from itx-testset, starting and
// stopping `itx serve`, sampling a process from /proc, medians.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const sleep = ms => new Promise(r => setTimeout(r, ms));

// The middle value; for an even count, the mean of the two middle ones.
export function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// "--name value" pairs from argv[start] on into opt (numbers; only names opt already has,
// values that ok() accepts); exits 2 naming the first bad one.
export function numberOptions(bench, argv, start, opt, ok) {
  for (let i = start; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in opt) || !ok(Number(argv[i + 1]))) {
      console.error(`${bench}: bad option ${argv[i]} ${argv[i + 1] ?? ''}`);
      process.exit(2);
    }
    opt[k] = Number(argv[i + 1]);
  }
  return opt;
}

// count pictures from itx-testset (seed) in dir/ts, as base64, each small enough for a JSON
// body under 1 MiB (under 700 KB of base64).
export function testsetPictures(testset, dir, count, seed) {
  execFileSync(testset, ['-o', join(dir, 'ts'), '--count', String(count), '--seed', String(seed)],
               { stdio: 'ignore' });
  const pictures = readdirSync(join(dir, 'ts'))
    .filter(f => /^p\d+-[a-z-]+\.(jpg|png)$/.test(f))
    .map(f => readFileSync(join(dir, 'ts', f)).toString('base64'))
    .filter(b => b.length < 700000);
  if (pictures.length === 0) throw new Error('itx-testset gave no picture under 700 KB of base64');
  return pictures;
}

// A process's resident size and peak (kB), threads and open descriptors; NaN once it is gone.
export function procStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(s)[1]), hwmKb: Number(/VmHWM:\s+(\d+)/.exec(s)[1]),
             threads: Number(/Threads:\s+(\d+)/.exec(s)[1]), fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch { return { rssKb: NaN, hwmKb: NaN, threads: NaN, fds: NaN }; }
}

// Starts `itx serve` with env (PORT=0 and ITX_LOG_FORMAT=json, so its log names the port).
// ready(get, limitMs, stepMs) waits for the port and then a 200 from GET /readyz (get(port,
// path) answers { status }); stop() sends SIGTERM and resolves to the exit code, printing the
// log's end when it is not 0.
export function startServe(itx, env) {
  const child = spawn(itx, ['serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const s = { child, port: 0, log: '', exited: false };
  child.stderr.on('data', d => {
    if (s.log.length < (4 << 20)) s.log += d;
    const m = !s.port && /"port":(\d+)/.exec(s.log);
    if (m) s.port = Number(m[1]);
  });
  child.on('exit', () => { s.exited = true; });
  s.ready = async (get, limitMs, stepMs) => {
    const t0 = Date.now();
    while (!s.port && !s.exited && Date.now() - t0 < 30000) await sleep(10);
    if (!s.port) throw new Error(`itx serve did not start:\n${s.log}`);
    for (;;) {
      const r = await get(s.port, '/readyz');
      if (r.status === 200) break;
      if (s.exited || Date.now() - t0 > limitMs) throw new Error(`itx serve never became ready:\n${s.log}`);
      await sleep(stepMs);
    }
    return s.port;
  };
  s.stop = async () => {
    child.kill('SIGTERM');
    const code = await new Promise(r => (s.exited ? r(child.exitCode) : child.on('exit', c => r(c))));
    if (code !== 0) {
      console.error(`itx serve exited ${code} after SIGTERM:\n${s.log.slice(-4000)}`);
    }
    return code;
  };
  return s;
}
