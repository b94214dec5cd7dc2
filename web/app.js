// itx web page: plain JavaScript, no build step, no third-party code.
// Talks to the same server: POST /v1/translate (one request per picture, so each has its own
// progress) and POST /v1/render (re-draws a stored result with edited translations, no OCR).
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const CONCURRENCY = 2;
  const KEY_RE = /([0-9a-f]{64})\/(?:final\.[a-z]+|background\.png)/;
  // The pipeline's skip reasons (itx_tr_skip_str), in words.
  const SKIP_TEXT = {
    empty: 'no text',
    latin_only: 'already Latin text',
    url: 'a web address',
    price: 'a price',
    number: 'a number',
    model_number: 'a model number',
    keep_term: 'a glossary term kept as is',
    low_confidence: 'read with low confidence',
  };
  const FLAG_CLASS = {
    overflow: 'bad', han_left: 'bad', overlap: 'warn', too_small: 'warn', low_contrast: 'warn',
  };

  const items = [];
  let running = 0;
  let nextId = 1;

  const el = {
    target: $('#target'), provider: $('#provider'), keyField: $('#key-field'), key: $('#apikey'),
    drop: $('#drop'), files: $('#files'), choose: $('#choose'), urlForm: $('#url-form'),
    urls: $('#urls'), results: $('#results'), status: $('#status'), all: $('#download-all'),
    cardTpl: $('#card-tpl'), regionTpl: $('#region-tpl'),
  };

  try {
    const k = sessionStorage.getItem('itx-api-key');
    if (k) { el.key.value = k; el.keyField.hidden = false; }
  } catch (e) { /* storage may be off */ }

  // ---- HTTP ------------------------------------------------------------------------------

  // One request; resolves {status, body} (body parsed as JSON when it is), never rejects on
  // an HTTP error status. onUpload(fraction) follows the upload.
  function request(method, path, body, contentType, onUpload) {
    return new Promise((resolve) => {
      const x = new XMLHttpRequest();
      x.open(method, path);
      if (contentType) x.setRequestHeader('Content-Type', contentType);
      const key = el.key.value.trim();
      if (key) x.setRequestHeader('Authorization', 'Bearer ' + key);
      if (onUpload && x.upload) {
        x.upload.onprogress = (e) => { if (e.lengthComputable) onUpload(e.loaded / e.total); };
        x.upload.onload = () => onUpload(1);
      }
      x.onload = () => {
        let parsed = null;
        try { parsed = JSON.parse(x.responseText); } catch (e) { parsed = null; }
        resolve({ status: x.status, body: parsed, text: x.responseText });
      };
      x.onerror = () => resolve({ status: 0, body: null, text: 'network error' });
      x.send(body);
    });
  }

  function problemText(r) {
    if (r.status === 0) return 'The server could not be reached.';
    if (r.body && r.body.detail) return r.body.detail + (r.body.code ? ' (' + r.body.code + ')' : '');
    return 'HTTP ' + r.status;
  }

  function needKey() {
    el.keyField.hidden = false;
    announce('This server needs an API key: enter it under "API key", then retry.');
    el.key.focus();
  }

  // ---- pictures --------------------------------------------------------------------------

  function addFiles(list) {
    const accepted = Array.from(list).filter((f) => /^image\//.test(f.type) || /\.(png|jpe?g|webp|gif)$/i.test(f.name));
    if (!accepted.length) { announce('Those files are not pictures (PNG, JPEG, WebP or GIF).'); return; }
    accepted.forEach((f) => addItem({ file: f, name: f.name }));
    pump();
  }

  function addUrls(text) {
    const urls = text.split(/\s+/).map((s) => s.trim()).filter(Boolean);
    const bad = urls.filter((u) => !/^https?:\/\/\S+$/i.test(u));
    if (bad.length) { announce('Not an http(s) URL: ' + bad[0]); return false; }
    urls.forEach((u) => addItem({ url: u, name: u.replace(/^https?:\/\//i, '').slice(0, 120) }));
    pump();
    return urls.length > 0;
  }

  function addItem(src) {
    const it = {
      id: nextId++, name: src.name, file: src.file || null, url: src.url || null,
      state: 'queued', result: null, key: null, card: null,
    };
    it.card = buildCard(it);
    el.results.appendChild(it.card.root);
    items.push(it);
    setState(it, 'queued', 'Waiting');
    summary();
  }

  function buildCard(it) {
    const root = el.cardTpl.content.firstElementChild.cloneNode(true);
    const c = {
      root, title: $('.card-title', root), state: $('.card-state', root),
      progress: $('.card-progress', root), error: $('.card-error', root), body: $('.card-body', root),
      compare: $('.compare', root), orig: $('.img-original', root), tr: $('.img-translated', root),
      paneTr: $('.pane-translated', root), slider: $('.slider', root), sliderOut: $('.slider-out', root),
      sliderRow: $('.slider-row', root), regions: $('.region-list', root), count: $('.regions-count', root),
      rerender: $('.rerender', root), download: $('.download', root), editState: $('.edit-state', root),
    };
    const n = it.id;
    c.title.textContent = it.name;
    c.title.id = 'card-title-' + n;
    root.querySelector('article').setAttribute('aria-labelledby', c.title.id);
    c.slider.id = 'slider-' + n;
    $('.slider-label', root).htmlFor = c.slider.id;
    c.progress.setAttribute('aria-label', 'Progress of ' + it.name);
    c.orig.alt = 'Original picture: ' + it.name;
    c.tr.alt = 'Translated picture: ' + it.name;
    if (it.file) c.orig.src = URL.createObjectURL(it.file);
    else if (/^https:/i.test(it.url)) c.orig.src = it.url;
    else c.compare.classList.add('no-original');

    c.slider.addEventListener('input', () => setSlider(c));
    setSlider(c);
    root.querySelectorAll('[data-view]').forEach((b) => b.addEventListener('click', () => setView(c, b.dataset.view, root)));
    c.rerender.addEventListener('click', () => rerender(it));
    c.download.setAttribute('aria-disabled', 'true');
    c.download.addEventListener('click', (e) => { if (!it.result) e.preventDefault(); });
    return c;
  }

  function setSlider(c) {
    const v = Number(c.slider.value);
    c.paneTr.style.clipPath = 'inset(0 ' + (100 - v) + '% 0 0)';
    c.compare.style.setProperty('--pos', v + '%');
    c.sliderOut.textContent = v + '%';
    c.slider.setAttribute('aria-valuetext', 'translation shown on the left ' + v + '%');
  }

  function setView(c, view, root) {
    root.querySelectorAll('[data-view]').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.view === view)));
    c.compare.classList.toggle('view-slider', view === 'slider');
    c.compare.classList.toggle('view-side', view === 'side');
    c.sliderRow.hidden = view !== 'slider';
  }

  function setState(it, state, text, cls) {
    it.state = state;
    const c = it.card;
    c.state.textContent = text;
    c.state.className = 'card-state' + (cls ? ' ' + cls : '');
    c.progress.hidden = !(state === 'uploading' || state === 'working' || state === 'queued');
    if (state === 'queued') c.progress.value = 0;
    if (state === 'working') c.progress.removeAttribute('value');
  }

  function pump() {
    while (running < CONCURRENCY) {
      const it = items.find((x) => x.state === 'queued');
      if (!it) break;
      running++;
      translate(it).finally(() => { running--; summary(); pump(); });
    }
    summary();
  }

  async function translate(it) {
    const settings = { target_lang: el.target.value };
    it.lang = settings.target_lang;
    if (el.provider.value) settings.provider = el.provider.value;
    let r;
    it.card.error.hidden = true;
    setState(it, 'uploading', it.file ? 'Uploading…' : 'Sending…');
    const onUpload = (f) => {
      if (it.state !== 'uploading') return;
      it.card.progress.value = Math.round(f * 100);
      if (f >= 1) setState(it, 'working', 'Reading and translating…');
      else it.card.state.textContent = 'Uploading ' + Math.round(f * 100) + '%';
    };
    if (it.file) {
      const fd = new FormData();
      fd.append('request', JSON.stringify(settings));
      fd.append('image', it.file, it.file.name);
      r = await request('POST', '/v1/translate', fd, null, onUpload);
    } else {
      settings.images = [{ url: it.url }];
      r = await request('POST', '/v1/translate', JSON.stringify(settings), 'application/json', onUpload);
    }
    if (r.status === 401) {
      setState(it, 'failed', 'Needs an API key', 'bad');
      showError(it, 'This server needs an API key. Enter it above; the picture is translated again when you do.');
      it.retryOnKey = true;
      needKey();
      return;
    }
    if (r.status !== 200 || !r.body || !Array.isArray(r.body.images) || !r.body.images[0]) {
      setState(it, 'failed', 'Failed', 'bad');
      showError(it, problemText(r));
      return;
    }
    const img = r.body.images[0];
    if (img.error) {
      setState(it, 'failed', 'Failed', 'bad');
      showError(it, img.error.detail || img.error.code || 'the picture could not be translated');
      return;
    }
    showResult(it, img);
  }

  function showError(it, text) {
    it.card.error.textContent = text;
    it.card.error.hidden = false;
  }

  function keyOf(res) {
    if (res.key && /^[0-9a-f]{64}$/.test(res.key)) return res.key;
    const m = KEY_RE.exec(res.url || '') || KEY_RE.exec(res.background_url || '');
    return m ? m[1] : null;
  }

  function showResult(it, res) {
    const c = it.card;
    it.result = res;
    it.key = keyOf(res);
    c.tr.src = res.url;
    c.body.hidden = false;
    c.download.href = res.url;
    c.download.removeAttribute('aria-disabled');
    c.download.setAttribute('download', downloadName(it, res));
    const regions = Array.isArray(res.regions) ? res.regions : [];
    const done = regions.filter(isDrawn).length;
    setState(it, 'done', 'Done: ' + done + ' translated, ' + (regions.length - done) + ' kept', 'ok');
    renderRegions(it);
    if (!it.key) c.editState.textContent = 'Re-rendering needs the stored background, which this result does not have.';
  }

  function downloadName(it, res) {
    const base = (it.file ? it.file.name : (it.url.split('/').pop() || 'picture')).replace(/\.[a-z0-9]+$/i, '').replace(/[^\w.-]+/g, '_') || 'picture';
    const ext = res.format === 'jpeg' ? 'jpg' : (res.format || 'png');
    return base + '.' + (it.lang || el.target.value) + '.' + ext;
  }

  function isDrawn(r) { return typeof r.block === 'number' && r.block >= 0; }

  function renderRegions(it) {
    const c = it.card;
    const regions = it.result.regions || [];
    c.regions.textContent = '';
    c.count.textContent = '(' + regions.length + ')';
    regions.forEach((reg) => {
      const li = el.regionTpl.content.firstElementChild.cloneNode(true);
      const src = $('.region-source', li), label = $('.region-label', li);
      const input = $('.region-input', li), meta = $('.region-meta', li);
      const inputId = 'r-' + it.id + '-' + reg.id;
      src.textContent = reg.source || '';
      input.id = inputId;
      label.htmlFor = inputId;
      input.value = reg.translation || '';
      input.dataset.id = String(reg.id);
      if (isDrawn(reg)) {
        label.textContent = 'Translation of region ' + (reg.id + 1);
        input.addEventListener('input', () => markEdits(it));
      } else {
        li.classList.add('skipped');
        label.textContent = 'Kept as is (region ' + (reg.id + 1) + ')';
        input.disabled = true;
        const why = SKIP_TEXT[reg.skip] || reg.skip || 'not translated';
        meta.appendChild(chip('Not translated: ' + why, 'skip'));
      }
      (reg.flags || []).forEach((f) => { if (FLAG_CLASS[f]) meta.appendChild(chip(f.replace(/_/g, ' '), FLAG_CLASS[f])); });
      if (!meta.childNodes.length) meta.hidden = true;
      c.regions.appendChild(li);
    });
    markEdits(it);
  }

  function chip(text, cls) {
    const s = document.createElement('span');
    s.className = 'chip ' + (cls || '');
    s.textContent = text;
    return s;
  }

  function edits(it) {
    const out = [];
    const byId = new Map((it.result.regions || []).map((r) => [String(r.id), r]));
    it.card.regions.querySelectorAll('.region-input:not(:disabled)').forEach((inp) => {
      const reg = byId.get(inp.dataset.id);
      const changed = reg && inp.value !== (reg.translation || '');
      inp.closest('.region').classList.toggle('edited', !!changed);
      if (changed) out.push({ id: reg.id, translation: inp.value });
    });
    return out;
  }

  function markEdits(it) {
    const n = edits(it).length;
    it.card.rerender.disabled = n === 0 || !it.key || it.busy;
    it.card.editState.textContent = n ? n + (n === 1 ? ' edit' : ' edits') + ' not drawn yet' : '';
  }

  async function rerender(it) {
    const list = edits(it);
    if (!list.length || !it.key || it.busy) return;
    it.busy = true;
    it.card.rerender.disabled = true;
    it.card.editState.textContent = 'Re-rendering…';
    const r = await request('POST', '/v1/render', JSON.stringify({ background: it.key, regions: list }), 'application/json');
    it.busy = false;
    if (r.status === 401) { needKey(); markEdits(it); return; }
    if (r.status !== 200 || !r.body || !r.body.url) {
      it.card.editState.textContent = 'Re-render failed: ' + problemText(r);
      it.card.rerender.disabled = false;
      return;
    }
    const prev = it.result;
    showResult(it, Object.assign({}, prev, r.body));
    it.card.editState.textContent = 'Re-rendered with ' + list.length + (list.length === 1 ? ' edit.' : ' edits.');
    announce(it.name + ': re-rendered.');
    // Re-render is disabled again (nothing left to draw): the next step is the download.
    it.card.download.focus();
  }

  function summary() {
    const n = items.length;
    const done = items.filter((x) => x.state === 'done').length;
    const failed = items.filter((x) => x.state === 'failed').length;
    const busy = n - done - failed;
    el.all.disabled = done === 0;
    if (!n) { el.status.textContent = 'No pictures yet.'; return; }
    const parts = [done + ' done'];
    if (busy) parts.push(busy + ' in progress');
    if (failed) parts.push(failed + ' failed');
    el.status.textContent = n + (n === 1 ? ' picture: ' : ' pictures: ') + parts.join(', ') + '.';
  }

  function announce(text) { el.status.textContent = text; }

  // ---- events ------------------------------------------------------------------------------

  el.choose.addEventListener('click', () => el.files.click());
  el.files.addEventListener('change', () => { if (el.files.files.length) addFiles(el.files.files); el.files.value = ''; });
  ['dragenter', 'dragover'].forEach((t) => el.drop.addEventListener(t, (e) => { e.preventDefault(); el.drop.classList.add('over'); }));
  ['dragleave', 'drop'].forEach((t) => el.drop.addEventListener(t, () => el.drop.classList.remove('over')));
  el.drop.addEventListener('drop', (e) => { e.preventDefault(); if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files); });
  // Dropping a file anywhere else must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
  document.addEventListener('paste', (e) => {
    const files = e.clipboardData ? Array.from(e.clipboardData.files || []) : [];
    if (files.length) { e.preventDefault(); addFiles(files); }
  });
  el.urlForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (addUrls(el.urls.value)) el.urls.value = '';
  });
  $('#settings').addEventListener('submit', (e) => e.preventDefault());
  el.key.addEventListener('change', () => {
    try { sessionStorage.setItem('itx-api-key', el.key.value.trim()); } catch (e) { /* ignore */ }
    items.filter((x) => x.retryOnKey).forEach((x) => { x.retryOnKey = false; setState(x, 'queued', 'Waiting'); });
    pump();
  });
  el.all.addEventListener('click', () => {
    const links = items.filter((x) => x.state === 'done').map((x) => x.card.download);
    links.forEach((a, i) => setTimeout(() => a.click(), i * 400));
    announce('Downloading ' + links.length + (links.length === 1 ? ' picture.' : ' pictures.'));
  });
})();
