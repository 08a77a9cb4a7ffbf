// A test registry speaking the protocol Ollama's client uses against
// registry.ollama.ai (OCI/Docker-distribution style; see
// /work/shared/reference/ollama-api.md §8). Node built-ins only.
//
// Two listeners on 127.0.0.1:
//   registry  http://127.0.0.1:<port>   /v2/... manifests, blobs, uploads,
//             /token (ed25519-signed token requests), /_test/... controls
//   data      http://localhost:<port2>  blob bytes (Range) and pre-signed part
//             uploads. Blob GETs on the registry answer 307 to this listener:
//             another host name and port, so a client must treat it as a
//             cross-host redirect (and send no Authorization there).
// Auth: every /v2/ request needs "Authorization: Bearer <token>" (when
// auth is on); without it the answer is 401 with
// WWW-Authenticate: Bearer realm="<registry>/token",service=,scope=. The
// token request must carry "<ssh-ed25519 blob b64>:<b64 signature>" over
// "GET,<full token URL>,<b64(hex(sha256("")))>", as Ollama's auth.go signs.
// Knobs (options, or POST /_test/config): failAfterBytes (the data listener
// drops its connection once that many blob bytes were sent, once), corrupt
// (flip one byte of every blob served), authorizedKeys (only these public
// keys get tokens; null: any valid signature), auth, redirect, chunkDelayMs
// (slow the data listener down), realm (announce another token realm),
// redirectHead (blob HEADs answer 307 to the data host as well).
// Counters (stats, GET /_test/stats): bytes served by the data listener etc.
//
// Use from JS:
//   const reg = await startRegistry({ auth: true, redirect: true });
//   await reg.seed('library/tiny', 'latest', [{ mediaType: 'application/vnd.ollama.image.model',
//                  path: '/tmp/x.gguf' }], /* config */ { mediaType: '…', data: '{…}' });
//   // pull "127.0.0.1:<port>/library/tiny:latest" with insecure: true
//   reg.stats.bytesServed; reg.config.failAfterBytes = 1e6; reg.resetStats(); await reg.close();
// reg = { url, dataUrl, dir, config (live knobs), seed(repo, tag, layers, config)
//         -> {manifest, digest}, stats (getter), resetStats(), close() }.
// A model pushed by a client lands in dir/manifests/<ns>/<model>/<tag> and dir/blobs.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
const EMPTY_SHA_B64 = Buffer.from(crypto.createHash('sha256').update('').digest('hex')).toString('base64');
const MAX_BODY = 64 << 20;

function newStats() {
  return {
    bytesServed: 0, dataRequests: 0, blobGets: 0, blobHeads: 0, manifestGets: 0,
    manifestPuts: 0, tokenRequests: 0, tokenDenied: 0, unauthorized: 0,
    uploadBytes: 0, patches: 0, redirectPuts: 0, mounts: 0, commits: 0, drops: 0,
    requests: 0, connections: 0, // on the registry listener, /_test/ excluded (keep-alive reuse shows as fewer connections)
  };
}

const sha256hex = (buf) => crypto.createHash('sha256').update(buf).digest('hex');
const validDigest = (d) => /^sha256:[0-9a-f]{64}$/.test(d);
const validRepo = (r) => typeof r === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/.test(r) && !r.includes('..');

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_BODY) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJSON(res, code, obj, headers = {}) {
  const body = Buffer.from(JSON.stringify(obj));
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...headers });
  res.end(body);
}

const regError = (res, code, ecode, message, headers) =>
  sendJSON(res, code, { errors: [{ code: ecode, message }] }, headers);

// ssh-ed25519 wire blob -> node KeyObject (throws on anything else)
function sshKeyToObject(b64) {
  const blob = Buffer.from(b64, 'base64');
  let off = 0;
  const str = () => {
    if (off + 4 > blob.length) throw new Error('short key');
    const n = blob.readUInt32BE(off); off += 4;
    if (off + n > blob.length) throw new Error('short key');
    const s = blob.subarray(off, off + n); off += n;
    return s;
  };
  if (str().toString() !== 'ssh-ed25519') throw new Error('not an ed25519 key');
  const raw = str();
  if (raw.length !== 32 || off !== blob.length) throw new Error('bad ed25519 key');
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

export async function startRegistry(opts = {}) {
  const dir = opts.dir ?? await fsp.mkdtemp('/tmp/omreg-');
  const cfg = {
    auth: opts.auth ?? true,
    redirect: opts.redirect ?? true,
    failAfterBytes: opts.failAfterBytes ?? 0,
    corrupt: opts.corrupt ?? false,
    authorizedKeys: opts.authorizedKeys ?? null,
    chunkDelayMs: opts.chunkDelayMs ?? 0, // pause after each 64 KiB the data listener sends
    realm: opts.realm ?? null,           // token realm to announce (default <url>/token)
    redirectHead: opts.redirectHead ?? false, // blob HEADs also answer 307 to the data host
  };
  let stats = newStats();
  let dropCounter = 0; // blob bytes sent since failAfterBytes was set
  const tokens = new Set();
  const uploads = new Map(); // uuid -> {file, repo}
  for (const sub of ['blobs', 'manifests', 'uploads']) await fsp.mkdir(path.join(dir, sub), { recursive: true });

  const blobPath = (d) => path.join(dir, 'blobs', d.replace(':', '-'));
  const manifestPath = (repo, ref) => path.join(dir, 'manifests', repo, ref);
  let url = '', dataUrl = '';

  // ---- data listener: blob bytes with Range, pre-signed part uploads ----
  const data = http.createServer(async (req, res) => {
    try {
      const u = new URL(req.url, 'http://x');
      let m;
      if ((m = u.pathname.match(/^\/data\/(sha256:[0-9a-f]{64})$/)) && (req.method === 'GET' || req.method === 'HEAD')) {
        stats.dataRequests++;
        return await serveBlob(req, res, m[1]);
      }
      if ((m = u.pathname.match(/^\/upload\/([0-9a-f-]{36})$/)) && req.method === 'PUT') {
        const up = uploads.get(m[1]);
        const off = Number(u.searchParams.get('offset'));
        if (!up || !Number.isSafeInteger(off) || off < 0) return regError(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'upload unknown');
        const n = await streamAt(req, up.file, off);
        stats.redirectPuts++; stats.uploadBytes += n;
        res.writeHead(200, { 'Content-Length': 0 }); return res.end();
      }
      regError(res, 404, 'NOT_FOUND', 'not found');
    } catch (e) { if (!res.headersSent) regError(res, 500, 'UNKNOWN', String(e)); else res.destroy(); }
  });

  // Streams a request body into file at off (parts may be large); returns its length.
  async function streamAt(req, file, off) {
    let n = 0;
    req.on('data', (c) => { n += c.length; });
    await pipeline(req, fs.createWriteStream(file, { flags: 'r+', start: off }));
    return n;
  }

  async function fileSha256(file) {
    const h = crypto.createHash('sha256');
    await pipeline(fs.createReadStream(file), h);
    return h.digest('hex');
  }

  async function writeAt(file, off, buf) {
    const fh = await fsp.open(file, 'r+');
    try { await fh.write(buf, 0, buf.length, off); } finally { await fh.close(); }
  }

  async function serveBlob(req, res, digest) {
    let st;
    try { st = await fsp.stat(blobPath(digest)); } catch { return regError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry'); }
    const size = st.size;
    let start = 0, end = size - 1, code = 200;
    const range = req.headers.range;
    if (range) {
      const m = range.match(/^bytes=(\d+)-(\d*)$/);
      if (!m) return regError(res, 416, 'RANGE', 'bad range');
      start = Number(m[1]); end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      if (start > end || start >= size) { res.writeHead(416, { 'Content-Range': `bytes */${size}` }); return res.end(); }
      code = 206;
    }
    const headers = { 'Content-Length': end - start + 1, 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' };
    if (code === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(code, headers);
    if (req.method === 'HEAD' || end < start) return res.end();
    const flip = cfg.corrupt ? Math.floor(size / 2) : -1;
    let pos = start;
    const stream = fs.createReadStream(blobPath(digest), { start, end, highWaterMark: 64 << 10 });
    for await (let chunk of stream) {
      if (flip >= pos && flip < pos + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[flip - pos] ^= 0xff;
      }
      if (cfg.failAfterBytes > 0 && dropCounter + chunk.length >= cfg.failAfterBytes) {
        const keep = cfg.failAfterBytes - dropCounter;
        cfg.failAfterBytes = 0; dropCounter = 0; stats.drops++;
        stats.bytesServed += keep;
        await new Promise((r) => res.write(chunk.subarray(0, keep), r));
        stream.destroy();
        res.socket?.destroy();
        return;
      }
      if (cfg.chunkDelayMs > 0) await new Promise((r) => setTimeout(r, cfg.chunkDelayMs));
      dropCounter += chunk.length;
      stats.bytesServed += chunk.length;
      pos += chunk.length;
      if (!res.write(chunk)) {
        await new Promise((r) => {
          const done = () => { res.off('drain', done); res.off('close', done); r(); };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      if (res.destroyed) { stream.destroy(); return; }
    }
    res.end();
  }

  // ---- auth ----
  function checkToken(req, res, repo, push) {
    if (!cfg.auth) return true;
    const h = req.headers.authorization ?? '';
    if (h.startsWith('Bearer ') && tokens.has(h.slice(7))) return true;
    stats.unauthorized++;
    const scope = `repository:${repo}:${push ? 'pull,push' : 'pull'}`;
    regError(res, 401, 'UNAUTHORIZED', 'authentication required', {
      'WWW-Authenticate': `Bearer realm="${cfg.realm ?? `${url}/token`}",service="ollamamax-test",scope="${scope}"`,
    });
    return false;
  }

  function issueToken(req, res) {
    stats.tokenRequests++;
    const deny = (msg) => { stats.tokenDenied++; regError(res, 401, 'UNAUTHORIZED', msg); };
    const h = req.headers.authorization ?? '';
    const colon = h.indexOf(':');
    if (colon < 0) return deny('missing signature');
    const pub = h.slice(0, colon), sig = Buffer.from(h.slice(colon + 1), 'base64');
    let key;
    try { key = sshKeyToObject(pub); } catch (e) { return deny(`bad public key: ${e.message}`); }
    const signed = `GET,${url}${req.url},${EMPTY_SHA_B64}`;
    if (sig.length !== 64 || !crypto.verify(null, Buffer.from(signed), key, sig)) return deny('signature does not verify');
    const q = new URL(req.url, url).searchParams;
    const ts = Number(q.get('ts'));
    if (!q.get('nonce') || !Number.isFinite(ts) || Math.abs(Date.now() / 1000 - ts) > 300) return deny('stale or missing ts/nonce');
    if (cfg.authorizedKeys && !cfg.authorizedKeys.some((k) => k.trim().split(/\s+/)[1] === pub)) return deny('key not authorized');
    const token = crypto.randomBytes(18).toString('base64url');
    tokens.add(token);
    sendJSON(res, 200, { token });
  }

  // ---- registry listener ----
  const counted = new WeakSet(); // sockets that carried a protocol request
  const reg = http.createServer(async (req, res) => {
    if (!req.url.startsWith('/_test/')) {
      stats.requests++;
      if (!counted.has(req.socket)) { counted.add(req.socket); stats.connections++; }
    }
    try {
      const u = new URL(req.url, 'http://x');
      const p = u.pathname;
      let m;
      if ((m = p.match(/^\/v2\/(.+)\/(?:manifests|blobs)\//)) && !validRepo(m[1])) return regError(res, 400, 'NAME_INVALID', 'invalid repository name');
      if (p === '/token' && req.method === 'GET') return issueToken(req, res);
      if (p.startsWith('/_test/')) return await control(req, res, p);
      if (p === '/v2/' || p === '/v2') {
        if (!checkToken(req, res, '', false)) return;
        return sendJSON(res, 200, {});
      }
      if ((m = p.match(/^\/v2\/(.+)\/manifests\/([A-Za-z0-9_][A-Za-z0-9_.:-]{0,127})$/))) {
        const [, repo, ref] = m;
        const write = req.method === 'PUT';
        if (!checkToken(req, res, repo, write)) return;
        if (write) return await putManifest(req, res, repo, ref);
        stats.manifestGets++;
        let body;
        try { body = await fsp.readFile(manifestPath(repo, ref)); } catch { return regError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown'); }
        res.writeHead(200, { 'Content-Type': MANIFEST_TYPE, 'Content-Length': body.length, 'Docker-Content-Digest': `sha256:${sha256hex(body)}` });
        return res.end(req.method === 'HEAD' ? undefined : body);
      }
      if ((m = p.match(/^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/)) && (req.method === 'GET' || req.method === 'HEAD')) {
        const [, repo, digest] = m;
        if (!checkToken(req, res, repo, false)) return;
        let st;
        try { st = await fsp.stat(blobPath(digest)); } catch { return regError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry'); }
        if (req.method === 'HEAD') {
          stats.blobHeads++;
          if (cfg.redirectHead) {
            res.writeHead(307, { Location: `${dataUrl}/data/${digest}`, 'Content-Length': 0 });
            return res.end();
          }
          res.writeHead(200, { 'Content-Length': st.size, 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream' });
          return res.end();
        }
        stats.blobGets++;
        if (cfg.redirect) {
          res.writeHead(307, { Location: `${dataUrl}/data/${digest}`, 'Content-Length': 0 });
          return res.end();
        }
        return await serveBlob(req, res, digest);
      }
      if ((m = p.match(/^\/v2\/(.+)\/blobs\/uploads\/?$/)) && req.method === 'POST') {
        const repo = m[1];
        if (!checkToken(req, res, repo, true)) return;
        const mount = u.searchParams.get('mount');
        if (mount && validDigest(mount) && fs.existsSync(blobPath(mount))) {
          stats.mounts++;
          res.writeHead(201, { Location: `${url}/v2/${repo}/blobs/${mount}`, 'Docker-Content-Digest': mount, 'Content-Length': 0 });
          return res.end();
        }
        const uuid = crypto.randomUUID();
        const file = path.join(dir, 'uploads', uuid);
        await fsp.writeFile(file, '');
        uploads.set(uuid, { file, repo });
        res.writeHead(202, { Location: `${url}/v2/${repo}/blobs/uploads/${uuid}`, 'Docker-Upload-UUID': uuid, Range: '0-0', 'Content-Length': 0 });
        return res.end();
      }
      if ((m = p.match(/^\/v2\/(.+)\/blobs\/uploads\/([0-9a-f-]{36})$/))) {
        const [, repo, uuid] = m;
        if (!checkToken(req, res, repo, true)) return;
        const up = uploads.get(uuid);
        if (!up || up.repo !== repo) return regError(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'upload unknown');
        const self = `${url}/v2/${repo}/blobs/uploads/${uuid}`;
        if (req.method === 'PATCH') return await patchUpload(req, res, up, uuid, self);
        if (req.method === 'PUT') return await commitUpload(req, res, up, uuid, repo, u);
      }
      regError(res, 404, 'NOT_FOUND', `no route for ${req.method} ${p}`);
    } catch (e) { if (!res.headersSent) regError(res, 500, 'UNKNOWN', String(e)); else res.destroy(); }
  });

  async function patchUpload(req, res, up, uuid, self) {
    stats.patches++;
    const cr = (req.headers['content-range'] ?? '').match(/^(?:bytes )?(\d+)-(\d+)$/);
    const st = await fsp.stat(up.file);
    const start = cr ? Number(cr[1]) : st.size;
    if (cfg.redirect && req.headers['x-redirect-uploads'] === '1') {
      // answered before the body is read (a client stops sending on an early
      // 3xx); the part goes to the redirect URL instead
      req.resume();
      res.writeHead(307, { Location: `${dataUrl}/upload/${uuid}?offset=${start}`, 'Docker-Upload-Location': self, 'Content-Length': 0 });
      return res.end();
    }
    const n = await streamAt(req, up.file, start);
    if (cr && Number(cr[2]) - start + 1 !== n) return regError(res, 416, 'BLOB_UPLOAD_INVALID', 'Content-Range does not match the body');
    stats.uploadBytes += n;
    const size = (await fsp.stat(up.file)).size;
    res.writeHead(202, { Location: self, Range: `0-${Math.max(size - 1, 0)}`, 'Docker-Upload-UUID': uuid, 'Content-Length': 0 });
    res.end();
  }

  async function commitUpload(req, res, up, uuid, repo, u) {
    const digest = u.searchParams.get('digest') ?? '';
    const body = await readBody(req);
    if (body.length) { await fsp.appendFile(up.file, body); stats.uploadBytes += body.length; }
    if (!validDigest(digest)) return regError(res, 400, 'DIGEST_INVALID', 'invalid digest');
    const got = `sha256:${await fileSha256(up.file)}`;
    if (got !== digest) {
      return regError(res, 400, 'DIGEST_INVALID', `provided digest did not match uploaded content: ${digest} != ${got}`);
    }
    await fsp.rename(up.file, blobPath(digest));
    uploads.delete(uuid);
    stats.commits++;
    res.writeHead(201, { Location: `${url}/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
    res.end();
  }

  async function putManifest(req, res, repo, ref) {
    const body = await readBody(req);
    let mf;
    try { mf = JSON.parse(body.toString('utf8')); } catch { return regError(res, 400, 'MANIFEST_INVALID', 'manifest is not JSON'); }
    const refs = [...(mf.layers ?? []), ...(mf.config ? [mf.config] : [])];
    for (const l of refs) {
      if (!validDigest(l.digest ?? '') || !fs.existsSync(blobPath(l.digest))) {
        return regError(res, 400, 'MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${l.digest}`);
      }
    }
    await fsp.mkdir(path.dirname(manifestPath(repo, ref)), { recursive: true });
    await fsp.writeFile(manifestPath(repo, ref), body);
    stats.manifestPuts++;
    res.writeHead(201, { 'Docker-Content-Digest': `sha256:${sha256hex(body)}`, 'Content-Length': 0 });
    res.end();
  }

  // Stores a model straight into the registry: layers [{mediaType, path | data}], config likewise.
  async function seed(repo, tag, layers, config) {
    const put = async (l) => {
      const buf = l.path ? await fsp.readFile(l.path) : Buffer.from(l.data ?? '');
      const digest = `sha256:${sha256hex(buf)}`;
      await fsp.writeFile(blobPath(digest), buf);
      const d = { mediaType: l.mediaType, digest, size: buf.length };
      if (l.from) d.from = l.from;
      return d;
    };
    const mf = { schemaVersion: 2, mediaType: MANIFEST_TYPE, config: await put(config ?? { mediaType: 'application/vnd.docker.container.image.v1+json', data: '{"model_format":"gguf"}' }), layers: [] };
    for (const l of layers) mf.layers.push(await put(l));
    const bytes = Buffer.from(JSON.stringify(mf));
    await fsp.mkdir(path.dirname(manifestPath(repo, tag)), { recursive: true });
    await fsp.writeFile(manifestPath(repo, tag), bytes);
    return { manifest: mf, digest: sha256hex(bytes) };
  }

  async function control(req, res, p) {
    if (p === '/_test/stats' && req.method === 'GET') return sendJSON(res, 200, stats);
    if (p === '/_test/reset' && req.method === 'POST') { stats = newStats(); return sendJSON(res, 200, stats); }
    const body = req.method === 'POST' ? JSON.parse((await readBody(req)).toString() || '{}') : {};
    if (p === '/_test/config' && req.method === 'POST') {
      for (const k of Object.keys(cfg)) if (k in body) cfg[k] = body[k];
      if ('failAfterBytes' in body) dropCounter = 0;
      return sendJSON(res, 200, cfg);
    }
    if (p === '/_test/seed' && req.method === 'POST') {
      if (!validRepo(body.repo)) return regError(res, 400, 'NAME_INVALID', 'invalid repository name');
      return sendJSON(res, 200, await seed(body.repo, body.tag ?? 'latest', body.layers ?? [], body.config));
    }
    if (p === '/_test/manifest' && req.method === 'POST') { // stores raw manifest bytes (hostile-input tests)
      if (!validRepo(body.repo) || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(body.tag ?? '')) return regError(res, 400, 'NAME_INVALID', 'bad name');
      await fsp.mkdir(path.dirname(manifestPath(body.repo, body.tag)), { recursive: true });
      await fsp.writeFile(manifestPath(body.repo, body.tag), String(body.body ?? ''));
      return sendJSON(res, 200, {});
    }
    if (p === '/_test/blob' && req.method === 'POST') { // reads a stored blob back (hex digest in body)
      if (!validDigest(body.digest ?? '')) return regError(res, 400, 'DIGEST_INVALID', 'bad digest');
      try { return sendJSON(res, 200, { size: (await fsp.stat(blobPath(body.digest))).size }); } catch { return regError(res, 404, 'BLOB_UNKNOWN', 'no such blob'); }
    }
    regError(res, 404, 'NOT_FOUND', 'unknown control');
  }

  const listen = (srv) => new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(srv === reg ? (opts.port ?? 0) : 0, '127.0.0.1', () => resolve(srv.address().port));
  });
  url = `http://127.0.0.1:${await listen(reg)}`;
  dataUrl = `http://localhost:${await listen(data)}`;

  return {
    url, dataUrl, dir, config: cfg, seed,
    get stats() { return stats; },
    resetStats() { stats = newStats(); },
    async close() {
      for (const srv of [reg, data]) {
        srv.closeAllConnections?.();
        await new Promise((r) => srv.close(r));
      }
      if (!opts.dir) await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}
