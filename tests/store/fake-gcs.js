// A local stand-in for the Google services the gcs store talks to, for the store tests
// (GCS itself cannot be reached from tests). It implements the documented request and
// answer shapes and checks what Google checks:
//
// - OAuth2 token endpoint (RFC 7523 jwt-bearer grant, as used with service-account keys):
//   POST /token, form grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT.
//   The JWT header must be {"alg":"RS256","typ":"JWT"}, its RS256 signature must verify
//   with the key's public half, iss = client_email, aud = token_uri, a devstorage scope,
//   iat near now and exp - iat <= 3600. Errors: 400 {"error":"invalid_grant",...}.
// - Metadata server: GET /computeMetadata/v1/instance/service-accounts/default/token with
//   "Metadata-Flavor: Google" (403 without it).
// - JSON API: POST /upload/storage/v1/b/B/o?uploadType=media&name=N[&ifGenerationMatch=0],
//   GET /storage/v1/b/B/o/N[?alt=media]; bearer token required (401 otherwise); errors as
//   {"error":{"code":N,"message":"..."}}.
// - V4 signed URLs (GOOG4-RSA-SHA256): GET /B/N?X-Goog-... verified with the public key.
//
//   node fake-gcs.js <key-file-out> <bad-key-file-out> <bucket>
//
// writes a service-account key file whose token_uri points here, and a second one signed
// by another key, then prints "PORT <n>". Control paths: /__fake/stats,
// /__fake/expire (revoke every token), /__fake/fail?count=N&status=S.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');

const [keyOut, badKeyOut, BUCKET] = process.argv.slice(2);
const EMAIL = 'itx-test@itx-project.iam.gserviceaccount.com';
const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (k) => k.export({ type: 'pkcs8', format: 'pem' });

const tokens = new Map(); // token -> expiry ms
const objects = new Map(); // name -> {data, contentType, generation}
const stats = { token_requests: 0, metadata_requests: 0, uploads: 0, unauthorized: 0,
  jwt_refused: 0, signed_ok: 0, signed_refused: 0 };
let failLeft = 0, failStatus = 503;

function json(res, status, obj) {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(obj));
}
function apiError(res, status, message) {
  json(res, status, { error: { code: status, message,
    errors: [{ message, domain: 'global', reason: status === 401 ? 'authError' : 'invalid' }] } });
}
function issue(res) {
  const t = 'ya29.' + crypto.randomBytes(24).toString('base64url');
  tokens.set(t, Date.now() + 3599 * 1000);
  json(res, 200, { access_token: t, expires_in: 3599, token_type: 'Bearer' });
}
const b64 = (s) => Buffer.from(s, 'base64url');

function checkJwt(jwt, tokenUri) {
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'assertion is not a JWT (3 parts)';
  let header, claims;
  try {
    header = JSON.parse(b64(parts[0]).toString('utf8'));
    claims = JSON.parse(b64(parts[1]).toString('utf8'));
  } catch (e) { return 'JWT header or claims are not JSON'; }
  if (header.alg !== 'RS256' || header.typ !== 'JWT') return 'JWT header must be RS256/JWT';
  if (!/^[A-Za-z0-9_-]+$/.test(parts[2])) return 'signature is not base64url';
  const ok = crypto.verify('sha256', Buffer.from(parts[0] + '.' + parts[1]), publicKey,
    b64(parts[2]));
  if (!ok) return 'Invalid JWT Signature.';
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== EMAIL) return 'iss is not the client_email';
  if (claims.aud !== tokenUri) return 'aud is not the token_uri';
  if (typeof claims.scope !== 'string' ||
      !claims.scope.split(' ').some((s) => s.startsWith('https://www.googleapis.com/auth/devstorage')))
    return 'no devstorage scope';
  if (!Number.isInteger(claims.iat) || Math.abs(claims.iat - now) > 300) return 'iat is not now';
  if (!Number.isInteger(claims.exp) || claims.exp - claims.iat > 3600 || claims.exp <= now)
    return 'exp must be after now and at most 3600 s after iat';
  return null;
}

function bearerOk(req) {
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization || '');
  const exp = m && tokens.get(m[1]);
  return exp && exp > Date.now();
}

function resource(name) {
  const o = objects.get(name);
  return { kind: 'storage#object', id: `${BUCKET}/${name}/${o.generation}`, name,
    bucket: BUCKET, generation: String(o.generation), metageneration: '1',
    contentType: o.contentType, size: String(o.data.length),
    md5Hash: crypto.createHash('md5').update(o.data).digest('base64') };
}

const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g,
  (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function checkSigned(req, url, port) {
  const q = url.searchParams;
  if (q.get('X-Goog-Algorithm') !== 'GOOG4-RSA-SHA256') return 'algorithm';
  const date = q.get('X-Goog-Date') || '';
  const cred = (q.get('X-Goog-Credential') || '').split('/');
  if (cred[0] !== EMAIL || cred[1] !== date.slice(0, 8) || cred[2] !== 'auto' ||
      cred[3] !== 'storage' || cred[4] !== 'goog4_request') return 'credential scope';
  const exp = Number(q.get('X-Goog-Expires'));
  const t = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8),
    +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15));
  if (!(exp > 0 && exp <= 604800) || Date.now() > t + exp * 1000) return 'expired';
  if (q.get('X-Goog-SignedHeaders') !== 'host') return 'signed headers';
  const query = [...q.entries()].filter(([k]) => k !== 'X-Goog-Signature')
    .map(([k, v]) => [enc(k), enc(v)]).sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`).join('&');
  const host = req.headers.host;
  const canonical = ['GET', req.url.split('?')[0], query, `host:${host}\n`, 'host',
    'UNSIGNED-PAYLOAD'].join('\n');
  const sts = ['GOOG4-RSA-SHA256', date, `${date.slice(0, 8)}/auto/storage/goog4_request`,
    crypto.createHash('sha256').update(canonical).digest('hex')].join('\n');
  const ok = crypto.verify('sha256', Buffer.from(sts), publicKey,
    Buffer.from(q.get('X-Goog-Signature') || '', 'hex'));
  return ok ? null : 'signature';
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const port = server.address().port;
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    const p = url.pathname;
    if (p === '/__fake/stats') return json(res, 200, stats);
    if (p === '/__fake/expire') { tokens.clear(); return json(res, 200, {}); }
    if (p === '/__fake/fail') {
      failLeft = Number(url.searchParams.get('count') || 1);
      failStatus = Number(url.searchParams.get('status') || 503);
      return json(res, 200, {});
    }
    if (p === '/token' && req.method === 'POST') {
      stats.token_requests++;
      if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] || ''))
        return json(res, 400, { error: 'invalid_request', error_description: 'form expected' });
      const form = new URLSearchParams(body.toString('utf8'));
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
        return json(res, 400, { error: 'unsupported_grant_type', error_description: 'grant_type' });
      const why = checkJwt(form.get('assertion') || '', `http://127.0.0.1:${port}/token`);
      if (why) {
        stats.jwt_refused++;
        return json(res, 400, { error: 'invalid_grant', error_description: why });
      }
      return issue(res);
    }
    if (p === '/computeMetadata/v1/instance/service-accounts/default/token') {
      stats.metadata_requests++;
      if (req.headers['metadata-flavor'] !== 'Google' || req.headers['x-forwarded-for'])
        return json(res, 403, { error: 'Missing Metadata-Flavor:Google header.' });
      return issue(res);
    }
    if (failLeft > 0) {
      failLeft--;
      return apiError(res, failStatus, 'injected failure');
    }
    let m;
    if ((m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(p)) && req.method === 'POST') {
      if (!bearerOk(req)) { stats.unauthorized++; return apiError(res, 401, 'Invalid Credentials'); }
      if (decodeURIComponent(m[1]) !== BUCKET) return apiError(res, 404, 'The specified bucket does not exist.');
      if (url.searchParams.get('uploadType') !== 'media') return apiError(res, 400, 'uploadType must be media here');
      const name = url.searchParams.get('name');
      if (!name) return apiError(res, 400, 'Required parameter: name');
      const igm = url.searchParams.get('ifGenerationMatch');
      if (igm === '0' && objects.has(name))
        return apiError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
      objects.set(name, { data: body, contentType: req.headers['content-type'] || 'application/octet-stream',
        generation: Date.now() * 1000 + objects.size });
      stats.uploads++;
      return json(res, 200, resource(name));
    }
    if ((m = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(p)) && req.method === 'GET') {
      if (!bearerOk(req)) { stats.unauthorized++; return apiError(res, 401, 'Invalid Credentials'); }
      const name = decodeURIComponent(m[2]);
      if (decodeURIComponent(m[1]) !== BUCKET || !objects.has(name))
        return apiError(res, 404, `No such object: ${BUCKET}/${name}`);
      if (url.searchParams.get('alt') === 'media') {
        const o = objects.get(name);
        res.writeHead(200, { 'Content-Type': o.contentType });
        return res.end(o.data);
      }
      return json(res, 200, resource(name));
    }
    if (p.startsWith(`/${BUCKET}/`) && url.searchParams.get('X-Goog-Signature')) {
      const why = checkSigned(req, url, port);
      const name = decodeURIComponent(p.slice(BUCKET.length + 2));
      if (why) {
        stats.signed_refused++;
        res.writeHead(403, { 'Content-Type': 'application/xml' });
        return res.end(`<?xml version='1.0' encoding='UTF-8'?><Error><Code>SignatureDoesNotMatch</Code><Message>${why}</Message></Error>`);
      }
      stats.signed_ok++;
      if (!objects.has(name)) return apiError(res, 404, 'No such object');
      const o = objects.get(name);
      res.writeHead(200, { 'Content-Type': o.contentType });
      return res.end(o.data);
    }
    return apiError(res, 404, 'Not Found');
  });
});

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const key = (pk) => JSON.stringify({
    type: 'service_account', project_id: 'itx-project', private_key_id: 'k1',
    private_key: pem(pk), client_email: EMAIL, client_id: '1',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: `http://127.0.0.1:${port}/token`,
  }, null, 2);
  fs.writeFileSync(keyOut, key(privateKey), { mode: 0o600 });
  fs.writeFileSync(badKeyOut, key(other.privateKey), { mode: 0o600 });
  process.stdout.write(`PORT ${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
