#!/usr/bin/env node
// The web page in a real browser against the real `itx serve` (docs/web.md):
//  1. desktop: upload a synthetic product picture with Chinese text, see the translation
//     appear, edit one region to a distinctive English word, re-render (POST /v1/render, no
//     OCR), download; `itx ocr` of the downloaded picture must read the edited word;
//  2. keyboard only: reach every control with Tab (each focused control shows a visible
//     focus ring and has a label), open the file chooser with Enter, edit and re-render;
//  3. phone (390x844): the page fits the width (no horizontal scrolling) and works;
//  4. the page's headers: Content-Security-Policy, ETag and a 304 on revalidation, and no
//     console error or CSP violation on any page load.
// Debian's chromium, driven by playwright-core (package.json), headless, with the flags a
// container needs. Env: ITX_BIN, ITX_BUILD_DIR, ITX_SOURCE_DIR, ITX_MODELS_DIR.
// Usage: browser.mjs [--shots DIR] (writes web-desktop.png, web-editor.png, web-phone.png).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const shotsArg = args.indexOf('--shots');
const itx = process.env.ITX_BIN;
const build = process.env.ITX_BUILD_DIR;
const srcDir = process.env.ITX_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
if (!itx || !build) {
  process.stderr.write('browser.mjs: ITX_BIN and ITX_BUILD_DIR must be set\n');
  process.exit(2);
}
const chromiumPath = process.env.ITX_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromiumPath)) {
  process.stderr.write(`browser.mjs: no chromium at ${chromiumPath} (run scripts/setup.sh --dev)\n`);
  process.exit(1);
}
const require = createRequire(path.join(srcDir, 'package.json'));
const { chromium } = require('playwright-core');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'itx-web-'));
const shots = shotsArg >= 0 ? path.resolve(args[shotsArg + 1]) : path.join(tmp, 'shots');
fs.mkdirSync(shots, { recursive: true });
const WORD = 'ZEBRA';
const KEY_WORD = 'KIWI';

let failures = 0;
function check(ok, what) {
  if (ok) process.stdout.write(`ok   ${what}\n`);
  else { failures++; process.stdout.write(`FAIL ${what}\n`); }
  return ok;
}

// ---- the picture and the server ---------------------------------------------------------

// Picture 2 of seed 3 ("mixed"): Chinese lines, and a Latin-only one the pipeline keeps.
execFileSync(path.join(build, 'tools', 'testset', 'itx-testset'), ['-o', path.join(tmp, 'ts'), '--count', '3', '--seed', '3'], { stdio: 'ignore' });
const index = JSON.parse(fs.readFileSync(path.join(tmp, 'ts', 'index.json'), 'utf8'));
const picture = path.join(tmp, 'ts', `${index.pictures[2].name}.png`);
const store = path.join(tmp, 'store');
fs.mkdirSync(store);

const env = {
  ...process.env, PORT: '0', ITX_BIND: '127.0.0.1', ITX_WORKERS: '2', ITX_STORE: 'local',
  ITX_STORE_DIR: store, ITX_TRANSLATE_PROVIDER: 'dict', ITX_LOG_LEVEL: 'info',
};
delete env.ITX_API_KEYS;

// Starts `itx serve` with extra settings; resolves once /readyz is 200.
async function startServer(extra) {
  const proc = spawn(itx, ['serve'], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  const srv = { proc, log: '', base: null };
  proc.stdout.on('data', (b) => { srv.log += b; });
  proc.stderr.on('data', (b) => { srv.log += b; });
  const port = await new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      const m = /listening on \S+ port (\d+)/.exec(srv.log);
      if (m) { clearInterval(poll); resolve(Number(m[1])); }
      else if (proc.exitCode !== null || Date.now() - t0 > 60000) { clearInterval(poll); reject(new Error('itx serve did not start:\n' + srv.log)); }
    }, 20);
  });
  srv.base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const r = await fetch(srv.base + '/readyz').catch(() => null);
    if (r && r.status === 200) break;
    if (i > 3000) throw new Error('itx serve never became ready:\n' + srv.log);
    await new Promise((res) => setTimeout(res, 20));
  }
  return srv;
}

async function stopServer(srv, what) {
  srv.proc.kill('SIGTERM');
  await new Promise((res) => { if (srv.proc.exitCode !== null) res(); else srv.proc.on('exit', res); });
  check(srv.proc.exitCode === 0, `${what} exits 0 after SIGTERM (${srv.proc.exitCode})`);
}

const main = await startServer({});
const base = main.base;
let keyed = null;

let browser = null;
try {
  // ---- headers ----------------------------------------------------------------------------
  {
    const r = await fetch(base + '/');
    const body = await r.text();
    const csp = r.headers.get('content-security-policy') || '';
    check(r.status === 200 && /text\/html/.test(r.headers.get('content-type')), 'GET / is the HTML page');
    check(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp) && /frame-ancestors 'none'/.test(csp), `strict CSP: ${csp}`);
    check(!/<script>|\sstyle="|\son[a-z]+="/i.test(body), 'the page has no inline script, style attribute or event handler');
    const etag = r.headers.get('etag');
    const again = await fetch(base + '/app.js', { headers: { 'If-None-Match': (await fetch(base + '/app.js')).headers.get('etag') } });
    check(etag && again.status === 304, 'assets revalidate with ETag (304)');
    const js = await fetch(base + '/app.js');
    check(/javascript/.test(js.headers.get('content-type')) && /no-cache/.test(js.headers.get('cache-control')), 'app.js: JavaScript type, no-cache');
    const post = await fetch(base + '/', { method: 'POST' });
    check(post.status === 405, 'POST / is 405');
  }

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-zygote', '--font-render-hinting=none'],
  });

  const problems = [];
  // Console errors and CSP violations fail the test; expected names HTTP errors the page
  // provokes on purpose (Chromium logs a failed request as a console error).
  function watch(page, name, expected) {
    page.on('console', (m) => {
      if (m.type() === 'error' && !(expected && expected.test(m.text()))) problems.push(`${name}: console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  }

  async function waitDone(page, card) {
    await page.waitForFunction((c) => {
      const el = document.querySelectorAll('.card')[c];
      if (!el) return false;
      const st = el.querySelector('.card-state').textContent;
      if (/^Failed|Needs/.test(st)) return true;
      const img = el.querySelector('.img-translated');
      return /^Done/.test(st) && img.complete && img.naturalWidth > 0;
    }, card, { timeout: 120000 });
    return page.evaluate((c) => document.querySelectorAll('.card')[c].querySelector('.card-state').textContent, card);
  }

  // ---- 1. desktop: upload, edit, re-render, download, OCR -----------------------------------
  let editedPath = null;
  {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await ctx.newPage();
    watch(page, 'desktop');
    await page.goto(base + '/');
    check(await page.title() !== '', 'the page has a title');
    await page.setInputFiles('#files', picture);
    const state = await waitDone(page, 0);
    check(/^Done/.test(state), `the translated picture appears (${state})`);
    const before = await page.getAttribute('.img-translated', 'src');
    const n = await page.locator('.region-input:not([disabled])').count();
    check(n > 0, `the region editor lists ${n} translated regions`);
    const skip = await page.textContent('.region.skipped .chip.skip').catch(() => '');
    check(/^Not translated: /.test(skip), `a kept region shows why: ${skip}`);
    check(await page.isDisabled('.region.skipped .region-input'), 'a kept region cannot be edited');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, 'web-desktop.png'), fullPage: true });

    // the region whose box is the widest is the easiest one to read back
    const input = page.locator('.region-input:not([disabled])').first();
    await input.fill(WORD);
    check(await page.locator('.region.edited').count() === 1, 'the edited region is marked');
    check(await page.isEnabled('.rerender'), 'Re-render is enabled after an edit');
    const renderReq = page.waitForResponse((r) => r.url().endsWith('/v1/render'));
    await page.click('.rerender');
    const rr = await renderReq;
    check(rr.status() === 200, `POST /v1/render answers ${rr.status()}`);
    await page.waitForFunction(() => /Re-rendered/.test(document.querySelector('.edit-state').textContent), null, { timeout: 60000 });
    await page.waitForFunction((b) => {
      const img = document.querySelector('.img-translated');
      return img.getAttribute('src') !== b && img.complete && img.naturalWidth > 0;
    }, before, { timeout: 60000 });
    check(true, 'the re-rendered picture replaces the first one');
    check(await page.inputValue('.region-input:not([disabled]) >> nth=0') === WORD, 'the edited text stays in the editor');
    await page.locator('.card').first().screenshot({ path: path.join(shots, 'web-editor.png') });

    const dl = page.waitForEvent('download');
    await page.click('.download');
    const download = await dl;
    editedPath = path.join(tmp, 'downloaded-' + download.suggestedFilename());
    await download.saveAs(editedPath);
    check(/\.en\.png$/.test(download.suggestedFilename()), `download is named ${download.suggestedFilename()}`);
    // A pasted URL goes as JSON; the server's fetcher refuses loopback, and the card says so.
    await page.fill('#urls', base + '/files/x.png');
    await page.click('#url-form button[type=submit]');
    await waitDone(page, 1);
    const urlErr = await page.textContent('.card:nth-child(2) .card-error');
    check(/loopback/.test(urlErr), `a pasted URL is sent and its per-picture error shown: ${urlErr}`);
    check(await page.inputValue('#urls') === '', 'the URL box is cleared once the URLs are queued');
    const all = page.waitForEvent('download');
    await page.click('#download-all');
    check((await all).suggestedFilename() === download.suggestedFilename(), 'Download all downloads the picture too');
    await ctx.close();
  }
  {
    const out = execFileSync(itx, ['ocr', '--json', editedPath], { encoding: 'utf8', env });
    const text = JSON.parse(out.trim().split('\n')[0]).lines.map((l) => l.text).join(' | ');
    check(text.replace(/\s+/g, '').toUpperCase().includes(WORD), `itx ocr of the download reads ${WORD}: ${text}`);
  }

  // ---- the render API behind the page: errors and the store as a cache ---------------------
  {
    const post = (body, type = 'application/json') => fetch(base + '/v1/render', { method: 'POST', headers: { 'Content-Type': type }, body });
    const fd = new FormData();
    fd.append('request', JSON.stringify({ target_lang: 'en' }));
    fd.append('image', new Blob([fs.readFileSync(picture)], { type: 'image/png' }), 'p.png');
    const tr = await (await fetch(base + '/v1/translate', { method: 'POST', body: fd })).json();
    const key = /([0-9a-f]{64})\/final/.exec(tr.images[0].url)[1];
    const id = tr.images[0].regions.find((r) => r.block >= 0).id;
    const edit = JSON.stringify({ background: key, regions: [{ id, translation: WORD }] });
    const a = await (await post(edit)).json();
    const b = await (await post(edit)).json();
    check(a.url === b.url && b.cached === true && a.key !== key, 'the same edit again is answered from the store (cached, same url)');
    check(a.regions.find((r) => r.id === id).translation === WORD, 'the answer carries the edited regions');
    const c = await (await post(JSON.stringify({ background: a.key, regions: [] }))).json();
    check(typeof c.url === 'string' && c.url !== a.url, 'an edited result can itself be redrawn (its key is a full result)');
    let r = await post(JSON.stringify({ background: 'f'.repeat(64), regions: [] }));
    check(r.status === 404 && /no stored result/.test((await r.json()).detail), 'an unknown key is 404 naming the problem');
    r = await post(JSON.stringify({ background: key, regions: [{ id: 9999, translation: 'x' }] }));
    check(r.status === 400 && /no region with id 9999/.test((await r.json()).detail), 'an id the result lacks is 400');
    const kept = tr.images[0].regions.find((x) => x.block < 0);
    check(kept !== undefined, 'the picture has a region kept untranslated');
    if (kept) {
      r = await post(JSON.stringify({ background: key, regions: [{ id: kept.id, translation: 'x' }] }));
      check(r.status === 400 && /was not translated \(skipped: [a-z_]+\)/.test((await r.json()).detail), 'editing a kept region is 400 naming its skip reason');
    }
    r = await post(JSON.stringify({ background: '../../' + key.slice(6), regions: [] }));
    check(r.status === 400, 'a path in the key is 400');
    r = await post(edit, 'text/plain');
    check(r.status === 415, 'a body that is not JSON is 415');
    r = await fetch(base + '/v1/render');
    check(r.status === 405 && r.headers.get('allow') === 'POST', 'GET /v1/render is 405 with Allow: POST');
  }

  // ---- 2. keyboard only ----------------------------------------------------------------
  {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    watch(page, 'keyboard');
    // Listen before the page loads: file chooser interception is set up asynchronously.
    const fc = new Promise((resolve) => page.once('filechooser', resolve));
    await page.goto(base + '/');
    const seen = [];
    let chooser = null;
    // Tab from the top to the "Choose pictures" button; every stop has a visible focus ring
    // and an accessible name.
    for (let i = 0; i < 20 && !chooser; i++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const el = document.activeElement;
        const cs = getComputedStyle(el);
        const id = el.id ? '#' + el.id : el.tagName.toLowerCase() + (el.className ? '.' + el.className.split(' ')[0] : '');
        const labelled = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || (el.textContent || '').trim().length > 0;
        return { id, ring: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2, labelled: !!labelled };
      });
      seen.push(f.id);
      check(f.ring, `focus ring visible on ${f.id}`);
      check(f.labelled, `${f.id} has a label or name`);
      if (f.id === '#choose') chooser = f;
    }
    check(seen[0] === 'a.skip-link', `the first Tab stop is the skip link (${seen.join(' > ')})`);
    check(chooser !== null, 'Choose pictures is reachable with Tab');
    await page.keyboard.press('Enter');
    await (await fc).setFiles(picture);
    const state = await waitDone(page, 0);
    check(/^Done/.test(state), `keyboard: the translated picture appears (${state})`);
    check(/1 picture: 1 done/.test(await page.textContent('#status')), 'the aria-live status says the picture is done');
    // Tab on to the first editable region, type over it, Tab to Re-render, Enter.
    let onRegion = false;
    for (let i = 0; i < 40 && !onRegion; i++) {
      await page.keyboard.press('Tab');
      onRegion = await page.evaluate(() => document.activeElement.classList.contains('region-input') && !document.activeElement.disabled);
    }
    check(onRegion, 'a region translation is reachable with Tab');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(KEY_WORD);
    let onButton = false;
    for (let i = 0; i < 40 && !onButton; i++) {
      await page.keyboard.press('Tab');
      onButton = await page.evaluate(() => document.activeElement.classList.contains('rerender'));
    }
    check(onButton, 'Re-render is reachable with Tab after the regions');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /Re-rendered/.test(document.querySelector('.edit-state').textContent), null, { timeout: 60000 });
    check(await page.evaluate(() => document.activeElement.classList.contains('download')), 'focus moves to Download once re-rendered (not lost to the page)');
    await ctx.close();
  }

  // ---- 3. phone -------------------------------------------------------------------------
  {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await ctx.newPage();
    watch(page, 'phone');
    await page.goto(base + '/');
    check(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'phone: the empty page fits 390 px');
    await page.setInputFiles('#files', picture);
    const state = await waitDone(page, 0);
    check(/^Done/.test(state), `phone: the translated picture appears (${state})`);
    const sw = await page.evaluate(() => document.documentElement.scrollWidth);
    check(sw <= 390, `phone: no horizontal scrolling (${sw} px wide)`);
    const small = await page.evaluate(() => Array.from(document.querySelectorAll('button, .button, select, textarea:not([disabled])'))
      .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().height < 32).map((e) => e.className || e.id));
    check(small.length === 0, `phone: touch targets at least 32 px high (${small.join(', ') || 'all'})`);
    await page.evaluate(() => document.querySelector('.results-section').scrollIntoView());
    await page.screenshot({ path: path.join(shots, 'web-phone.png') });
    await ctx.close();
  }

  // ---- 5. API keys, and a file that is not a picture -------------------------------------
  {
    keyed = await startServer({ ITX_API_KEYS: 'k-web-test-0123456789' });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    watch(page, 'keys', /status of (401|415)/);
    await page.goto(keyed.base + '/');
    check(await page.isHidden('#key-field'), 'keys: no key field before the server asks');
    await page.setInputFiles('#files', picture);
    await page.waitForFunction(() => /Needs an API key/.test(document.querySelector('.card-state').textContent), null, { timeout: 60000 });
    check(await page.isVisible('#key-field'), 'keys: a 401 shows the API key field');
    check(await page.evaluate(() => document.activeElement.id === 'apikey'), 'keys: focus moves to the key field');
    await page.fill('#apikey', 'k-web-test-0123456789');
    await page.keyboard.press('Tab'); // the change event sends the picture again
    const state = await waitDone(page, 0);
    check(/^Done/.test(state), `keys: with the key the picture goes through (${state})`);
    const bad = path.join(tmp, 'not-a-picture.png');
    fs.writeFileSync(bad, 'this is text, not a PNG');
    await page.setInputFiles('#files', bad);
    await waitDone(page, 1);
    const err = await page.textContent('.card:nth-child(2) .card-error');
    check(/^Failed/.test(await page.textContent('.card:nth-child(2) .card-state')) && err.length > 10, `keys: a bad file shows the server's error: ${err}`);
    await ctx.close();
  }

  check(problems.length === 0, `no console error or CSP violation${problems.length ? ': ' + problems.join('; ') : ''}`);
} catch (e) {
  failures++;
  process.stdout.write(`FAIL ${e.stack || e}\n--- server log ---\n${main.log.slice(-4000)}\n`);
} finally {
  if (browser) await browser.close();
  await stopServer(main, 'itx serve');
  if (keyed) await stopServer(keyed, 'itx serve with keys');
  if (shotsArg >= 0) {
    // Screenshots for docs/: 256-colour PNGs (sharp, pinned in package.json) keep them small.
    const sharp = require('sharp');
    for (const f of ['web-desktop.png', 'web-editor.png', 'web-phone.png']) {
      const p = path.join(shots, f);
      if (fs.existsSync(p)) fs.writeFileSync(p, await sharp(fs.readFileSync(p)).png({ palette: true, colours: 256, effort: 10 }).toBuffer());
    }
  }
  if (shotsArg < 0 && !failures) fs.rmSync(tmp, { recursive: true, force: true });
  else process.stdout.write(`files kept in ${tmp}\n`);
}
process.stdout.write(failures ? `${failures} check(s) failed\n` : 'all checks passed\n');
process.exit(failures ? 1 : 0);
