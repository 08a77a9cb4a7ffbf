// Test harness: starts a real `ollamamax serve` on a free loopback port with a
// private model store, creates models from files (upload as blobs, then
// /api/create, as the Ollama CLI does), and stops the server by PID.
// Every wait is bounded; a test that hangs fails instead.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A free loopback port below the kernel's ephemeral range (32768+), so that no
// outgoing connection takes it between this check and the server's bind.
export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return p;
  }
  throw new Error('no free port below 32000');
}

export function skip(msg) {
  console.log(`SKIP: ${msg}`);
  process.exit(77);
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Starts a server. env: extra environment (OLLAMA_*). Returns {url, port, dir, stop, proc, log}.
export async function startServer(bin, env = {}, opts = {}) {
  const port = await freePort();
  const dir = opts.dir || mkdtempSync(join(tmpdir(), 'omx-js-'));
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const models = env.OLLAMA_MODELS || join(dir, 'models');
  const fullEnv = {
    ...process.env,
    HOME: home,
    OLLAMA_HOST: `127.0.0.1:${port}`,
    OLLAMA_MODELS: models,
    ...env,
  };
  const proc = spawn(bin, ['serve'], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}):\n${log}`);
    try {
      const r = await fetch(url + '/api/version');
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`server did not start within 15 s:\n${log}`);
    }
    await sleep(50);
  }
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      const t0 = Date.now();
      while (proc.exitCode === null && Date.now() - t0 < 10000) await sleep(20);
      if (proc.exitCode === null) {
        proc.kill('SIGKILL');
        throw new Error(`server did not stop within 10 s after SIGTERM:\n${log}`);
      }
    }
    if (!opts.keepDir && !opts.dir) rmSync(dir, { recursive: true, force: true });
  };
  return { url, port, dir, models, env: fullEnv, proc, stop, get log() { return log; } };
}

export function sha256File(path) {
  return 'sha256:' + createHash('sha256').update(readFileSync(path)).digest('hex');
}

// Uploads a GGUF as a blob and creates `name` from it with extra create fields.
export async function createModel(url, name, ggufPath, extra = {}) {
  const digest = sha256File(ggufPath);
  const head = await fetch(`${url}/api/blobs/${digest}`, { method: 'HEAD' });
  if (head.status !== 200) {
    const up = await fetch(`${url}/api/blobs/${digest}`, { method: 'POST', body: readFileSync(ggufPath) });
    if (up.status !== 201 && up.status !== 200) throw new Error(`blob upload: ${up.status} ${await up.text()}`);
  }
  const r = await fetch(`${url}/api/create`, {
    method: 'POST',
    body: JSON.stringify({ model: name, files: { 'model.gguf': digest }, stream: false, ...extra }),
  });
  const body = await r.text();
  if (r.status !== 200) throw new Error(`create ${name}: ${r.status} ${body}`);
  return JSON.parse(body);
}

// Makes a random-weight model of a family with the project's synthesizer.
export function synth(bin, arch, out) {
  if (!existsSync(out)) execFileSync(bin, ['synth', '--preset', `tiny-${arch}`, '-o', out], { stdio: 'pipe' });
  return out;
}

// NDJSON body → array of objects.
export async function ndjson(res) {
  const text = await res.text();
  return text.split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
}

export async function post(url, path, body, init = {}) {
  return fetch(url + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
}

let failures = 0;
let passes = 0;
export async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passes++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
export function summary() {
  console.log(`${passes} passed, ${failures} failed`);
  return failures === 0 ? 0 : 1;
}
