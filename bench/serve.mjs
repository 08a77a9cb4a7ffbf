// Serving benchmark: streaming chat at concurrency 1, 2, 4, 8 against a live
// `ollamamax serve` (/api/chat) and, when LLAMA_SERVER names its binary,
// llama.cpp's llama-server (/v1/chat/completions) on the same model file in
// the same run. Per concurrency level: time to first token p50/p99, tokens/s
// per stream (mean) and in aggregate (all tokens / wall time).
//
// Usage: node bench/serve.mjs [--model FILE] [--tokens N] [--rounds R] [--levels 1,2,4,8]
//   OLLAMAMAX=build/ollamamax  LLAMA_SERVER=/path/to/llama-server  THREADS=2
// Prints a table and one JSON object (last line).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, createReadStream, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const modelFile = opt('--model', join(here, 'models/tinyllama-1.1b-q4_k_m.gguf'));
const nTokens = Number(opt('--tokens', '64'));
const rounds = Number(opt('--rounds', '2'));
const levels = opt('--levels', '1,2,4,8').split(',').map(Number);
const threads = Number(process.env.THREADS || 2);
const bin = process.env.OLLAMAMAX || join(here, '../build/ollamamax');
const llamaServer = process.env.LLAMA_SERVER;
const maxLevel = Math.max(...levels);
const nCtx = 1024;

if (!existsSync(modelFile)) {
  console.error(`model ${modelFile} is missing: run bash bench/make_models.sh`);
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

async function waitUp(url, proc, what) {
  const t0 = Date.now();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${what} exited`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {}
    if (Date.now() - t0 > 120000) throw new Error(`${what} did not start`);
    await sleep(200);
  }
}

function sha256(path) {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => res('sha256:' + h.digest('hex'))).on('error', rej);
  });
}

async function startOurs() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'omx-bench-'));
  const proc = spawn(bin, ['serve'], {
    env: { ...process.env, HOME: dir, OLLAMA_HOST: `127.0.0.1:${port}`, OLLAMA_MODELS: join(dir, 'models'),
      OLLAMA_NUM_PARALLEL: String(maxLevel), OLLAMA_KEEP_ALIVE: '-1', OLLAMA_CONTEXT_LENGTH: String(nCtx) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url + '/api/version', proc, 'ollamamax');
  const digest = await sha256(modelFile);
  const up = await fetch(`${url}/api/blobs/${digest}`, {
    method: 'POST', body: createReadStream(modelFile), duplex: 'half',
    headers: { 'Content-Length': String(statSync(modelFile).size) },
  });
  if (up.status >= 300) throw new Error(`upload: ${up.status}`);
  const cr = await fetch(`${url}/api/create`, {
    method: 'POST',
    body: JSON.stringify({ model: 'bench', files: { 'model.gguf': digest }, stream: false,
      template: '{{ range .Messages }}<|{{ .Role }}|>\n{{ .Content }}</s>\n{{ end }}<|assistant|>\n',
      parameters: { num_thread: threads } }),
  });
  if (cr.status !== 200) throw new Error(`create: ${cr.status} ${await cr.text()}`);
  // load once so that load time is not in the first measurement
  await (await fetch(`${url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'bench' }) })).text();
  return { name: 'ollamamax', url, proc, stop: () => { proc.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); }, stream: streamOurs };
}

async function startLlama() {
  const port = await freePort();
  const proc = spawn(llamaServer, ['-m', modelFile, '--port', String(port), '--host', '127.0.0.1',
    '-np', String(maxLevel), '-c', String(nCtx * maxLevel), '-t', String(threads), '-tb', String(threads),
    '--no-webui', '-cb'], { stdio: ['ignore', 'ignore', 'ignore'] });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url + '/health', proc, 'llama-server');
  return { name: 'llama-server', url, proc, stop: () => proc.kill('SIGTERM'), stream: streamLlama };
}

const prompts = (i) => `Write a long story about the number ${i} and a cat named Tom.`;

// Reads a streamed body split on sep; onRecord(text) returns {first?, tokens?}.
async function readStream(r, sep, onRecord) {
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let first = 0;
  let tokens = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let k;
    while ((k = buf.indexOf(sep)) >= 0) {
      const rec = buf.slice(0, k);
      buf = buf.slice(k + sep.length);
      if (!rec) continue;
      const o = onRecord(rec);
      if (o.first && !first) first = performance.now();
      if (o.tokens !== undefined) tokens = o.tokens;
    }
  }
  return { first, tokens, end: performance.now() };
}

const result = (t0, s) => ({ ttft_ms: s.first - t0, tokens: s.tokens, gen_s: (s.end - s.first) / 1000, end: s.end });

// One streaming request; returns {ttft_ms, tokens, gen_s, end}.
async function streamOurs(url, i) {
  const t0 = performance.now();
  const r = await fetch(`${url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: prompts(i) }],
      options: { num_predict: nTokens, temperature: 0.8, seed: i } }),
  });
  return result(t0, await readStream(r, '\n', (line) => {
    const o = JSON.parse(line);
    if (o.error) throw new Error(o.error);
    return { first: !o.done, tokens: o.done ? o.eval_count : undefined };
  }));
}

async function streamLlama(url, i) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: prompts(i) }], max_tokens: nTokens, stream: true,
      temperature: 0.8, seed: i, ignore_eos: true, stream_options: { include_usage: true } }),
  });
  return result(t0, await readStream(r, '\n\n', (ev) => {
    const data = ev.replace(/^data: /, '');
    if (data === '[DONE]') return {};
    const o = JSON.parse(data);
    return { first: !!(o.choices && o.choices.length), tokens: o.usage ? o.usage.completion_tokens : undefined };
  }));
}

const pct = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function runLevel(srv, c, round) {
  const t0 = performance.now();
  const res = await Promise.all(Array.from({ length: c }, (_, i) => srv.stream(srv.url, round * 100 + i)));
  const wall = (Math.max(...res.map((r) => r.end)) - t0) / 1000;
  const total = res.reduce((a, r) => a + r.tokens, 0);
  return {
    ttft: res.map((r) => r.ttft_ms),
    per_stream: res.map((r) => (r.tokens > 1 ? (r.tokens - 1) / r.gen_s : 0)),
    aggregate: total / wall,
  };
}

const servers = [await startOurs()];
if (llamaServer) servers.push(await startLlama());
const results = {};
try {
  for (const srv of servers) results[srv.name] = {};
  for (let round = 0; round < rounds; round++) {
    for (const c of levels) {
      for (const srv of servers) {
        const r = await runLevel(srv, c, round);
        const acc = (results[srv.name][c] ||= { ttft: [], per_stream: [], aggregate: [] });
        acc.ttft.push(...r.ttft);
        acc.per_stream.push(...r.per_stream);
        acc.aggregate.push(r.aggregate);
      }
    }
  }
} finally {
  for (const s of servers) s.stop();
}

const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const table = [];
for (const srv of servers) {
  for (const c of levels) {
    const a = results[srv.name][c];
    table.push({ server: srv.name, streams: c, ttft_p50_ms: pct(a.ttft, 50), ttft_p99_ms: pct(a.ttft, 99),
      tps_per_stream: mean(a.per_stream), tps_aggregate: mean(a.aggregate) });
  }
}
const f = (x, d = 1) => x.toFixed(d).padStart(9);
console.log(`model ${modelFile}, ${nTokens} tokens per stream, ${rounds} rounds, ${threads} threads`);
console.log('server        streams  ttft p50 ms  ttft p99 ms  t/s/stream  t/s aggregate');
for (const r of table)
  console.log(`${r.server.padEnd(14)}${String(r.streams).padStart(7)}  ${f(r.ttft_p50_ms)}    ${f(r.ttft_p99_ms)}   ${f(r.tps_per_stream, 2)}   ${f(r.tps_aggregate, 2)}`);
const ours = table.filter((r) => r.server === 'ollamamax');
const one = ours.find((r) => r.streams === 1);
const top = ours.find((r) => r.streams === maxLevel);
const summary = { scaling_max_vs_1: one && top ? top.tps_aggregate / one.tps_aggregate : null };
if (llamaServer) {
  summary.ratio_vs_llama_server = {};
  for (const c of levels) {
    const a = table.find((r) => r.server === 'ollamamax' && r.streams === c);
    const b = table.find((r) => r.server === 'llama-server' && r.streams === c);
    summary.ratio_vs_llama_server[c] = a.tps_aggregate / b.tps_aggregate;
  }
}
console.log(`aggregate at ${maxLevel} streams / 1 stream: ${summary.scaling_max_vs_1?.toFixed(2)}x`);
if (summary.ratio_vs_llama_server)
  console.log('aggregate ollamamax / llama-server: ' + levels.map((c) => `${c}: ${summary.ratio_vs_llama_server[c].toFixed(2)}x`).join(', '));
const json = JSON.stringify({ model: modelFile, tokens: nTokens, threads, rounds, results: table, summary });
mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(join(here, 'out/serve.json'), json + '\n');
console.log(json);
