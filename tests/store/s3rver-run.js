// Starts s3rver (npm, pinned in package.json) on 127.0.0.1 with an ephemeral port for the
// store tests and prints "PORT <n>" once it listens.
//
//   node s3rver-run.js <data-dir> <bucket>
//
// s3rver 3.7.1 checks V2 signatures but accepts any V4 signature ("Signature version 4
// calculation is unimplemented", lib/middleware/authentication.js). So that a wrong secret
// is refused as AWS refuses it, this front end verifies SigV4 itself, written from the AWS
// documentation independently of src/store/s3.c, for both header auth and presigned query
// auth, and answers 403 SignatureDoesNotMatch in S3's XML error format. It also
// implements "If-None-Match: *" on PUT (AWS conditional writes, 412 PreconditionFailed),
// which s3rver lacks, and a control path /__itx/fail?count=N&status=S&code=C that makes the
// next N S3 requests fail, to test the client's retries.
'use strict';

const crypto = require('crypto');
const http = require('http');
const path = require('path');
const S3rver = require(path.join(process.env.ITX_SOURCE_DIR || path.join(__dirname, '..', '..'),
  'node_modules', 's3rver'));

const [dir, bucket] = process.argv.slice(2);
const ACCESS = 'S3RVER';
const SECRET = 'S3RVER';

const s3 = new S3rver({
  silent: true,
  directory: dir,
  serviceEndpoint: 'test', // virtual-hosted names: <bucket>.s3.test
  configureBuckets: [{ name: bucket }],
});

const hmac = (k, d) => crypto.createHmac('sha256', k).update(d, 'utf8').digest();
const sha = (d) => crypto.createHash('sha256').update(d).digest('hex');
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g,
  (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function xmlError(res, status, code, message) {
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code +
    '</Code><Message>' + message + '</Message><RequestId>itx-test</RequestId></Error>');
}

function signature(secret, date, region, service, canonical) {
  const scope = `${date.slice(0, 8)}/${region}/${service}/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', date, scope, sha(canonical)].join('\n');
  const k = hmac(hmac(hmac(hmac('AWS4' + secret, date.slice(0, 8)), region), service),
    'aws4_request');
  return crypto.createHmac('sha256', k).update(sts, 'utf8').digest('hex');
}

// Returns null when the request is correctly signed, else a reason.
function verify(req, body) {
  const url = new URL(req.url, 'http://x');
  const rawPath = req.url.split('?')[0];
  const params = [...url.searchParams.entries()];
  let signedHeaders, provided, date, credential, payload;
  const auth = req.headers['authorization'];
  if (auth) {
    const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/
      .exec(auth);
    if (!m) return 'malformed Authorization header';
    [credential, signedHeaders, provided] = [m[1], m[2], m[3]];
    date = req.headers['x-amz-date'];
    payload = req.headers['x-amz-content-sha256'];
    if (payload !== 'UNSIGNED-PAYLOAD' && payload !== sha(body)) return 'payload hash mismatch';
  } else if (url.searchParams.get('X-Amz-Signature')) {
    credential = url.searchParams.get('X-Amz-Credential');
    signedHeaders = url.searchParams.get('X-Amz-SignedHeaders');
    provided = url.searchParams.get('X-Amz-Signature');
    date = url.searchParams.get('X-Amz-Date');
    payload = 'UNSIGNED-PAYLOAD';
    const exp = Number(url.searchParams.get('X-Amz-Expires'));
    const t = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8),
      +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15));
    if (!(exp > 0) || Date.now() > t + exp * 1000) return 'request has expired';
  } else {
    return 'no signature';
  }
  const [key, , region, service] = credential.split('/');
  if (key !== ACCESS) return 'unknown access key';
  const query = params.filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [enc(k), enc(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`).join('&');
  const names = signedHeaders.split(';');
  if (!names.includes('host')) return 'host is not signed';
  const canonHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim()
    .replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, rawPath, query, canonHeaders, signedHeaders, payload]
    .join('\n');
  const want = signature(SECRET, date, region, service, canonical);
  return crypto.timingSafeEqual(Buffer.from(want), Buffer.from(provided)) ? null
    : 'signature mismatch';
}

let failLeft = 0, failStatus = 503, failCode = 'SlowDown';
const stats = { requests: 0, refused: 0, injected: 0 };

s3.configureBuckets().then(() => {
  const handler = s3.callback();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      if (req.url.startsWith('/__itx/fail')) {
        const u = new URL(req.url, 'http://x');
        failLeft = Number(u.searchParams.get('count') || 1);
        failStatus = Number(u.searchParams.get('status') || 503);
        failCode = u.searchParams.get('code') || 'SlowDown';
        res.end('ok');
        return;
      }
      if (req.url.startsWith('/__itx/stats')) {
        res.end(JSON.stringify(stats));
        return;
      }
      stats.requests++;
      if (failLeft > 0) {
        failLeft--;
        stats.injected++;
        xmlError(res, failStatus, failCode, 'injected by the test front end');
        return;
      }
      const why = verify(req, body);
      if (why) {
        stats.refused++;
        xmlError(res, 403, 'SignatureDoesNotMatch',
          'The request signature we calculated does not match the signature you provided. ' +
          'Check your key and signing method. (' + why + ')');
        return;
      }
      if (req.method === 'PUT' && req.headers['if-none-match'] === '*') {
        const host = (req.headers.host || '').split(':')[0];
        const vh = /^(.+)\.s3\.test$/.exec(host);
        const p = decodeURIComponent(req.url.split('?')[0]).slice(1);
        const [b, k] = vh ? [vh[1], p] : [p.split('/')[0], p.split('/').slice(1).join('/')];
        if (await s3.store.existsObject(b, k)) {
          xmlError(res, 412, 'PreconditionFailed',
            'At least one of the pre-conditions you specified did not hold');
          return;
        }
      }
      // Hand the request, body included, to s3rver.
      const { Readable } = require('stream');
      const replay = Readable.from(body.length ? [body] : []);
      Object.assign(replay, {
        headers: req.headers, method: req.method, url: req.url,
        httpVersion: req.httpVersion, socket: req.socket, connection: req.socket,
        rawHeaders: req.rawHeaders,
      });
      handler(replay, res);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`PORT ${server.address().port}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}).catch((e) => {
  console.error(e);
  process.exit(1);
});
