#!/usr/bin/env node
// Engine speed and memory benchmark: `ollamamax bench` on every model in
// bench/models/ (made by bench/make_models.sh), and, when LLAMA_BENCH names a
// llama-bench binary, llama.cpp on the same files in the same run,
// alternating ours/theirs per round so that machine noise hits both alike.
// Prints a table and writes bench/out/engine.json.
//
// Env: OM_BIN (default build/ollamamax), LLAMA_BENCH, BENCH_THREADS (2),
//      BENCH_PP (128), BENCH_TG (32), BENCH_REPS (5), BENCH_ROUNDS (2),
//      BENCH_MODELS (space-separated paths; default bench/models/*.gguf).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const bin = process.env.OM_BIN || path.join(root, 'build/ollamamax');
const llama = process.env.LLAMA_BENCH || '';
const threads = +(process.env.BENCH_THREADS || 2);
const pp = +(process.env.BENCH_PP || 128);
const tg = +(process.env.BENCH_TG || 32);
const reps = +(process.env.BENCH_REPS || 5);
const rounds = +(process.env.BENCH_ROUNDS || 2);
const modelDir = path.join(root, 'bench/models');
const models = process.env.BENCH_MODELS
  ? process.env.BENCH_MODELS.split(/\s+/).filter(Boolean)
  : fs.existsSync(modelDir)
    ? fs.readdirSync(modelDir).filter((f) => f.endsWith('.gguf')).sort().map((f) => path.join(modelDir, f))
    : [];
if (!models.length) {
  console.error('no models: run bench/make_models.sh first (or set BENCH_MODELS)');
  process.exit(1);
}

function ours(model) {
  const out = execFileSync(bin, ['bench', '-m', model, '-p', `${pp}`, '-n', `${tg}`, '-t', `${threads}`,
    '-r', `${reps}`, '--json'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out);
}

function theirs(model) {
  const out = execFileSync(llama, ['-m', model, '-p', `${pp}`, '-n', `${tg}`, '-t', `${threads}`,
    '-r', `${reps}`, '-o', 'json'], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'ignore'] });
  const rows = JSON.parse(out);
  const r = { pp: null, tg: null };
  for (const row of rows) {
    if (row.n_prompt > 0 && row.n_gen === 0) r.pp = { n: row.n_prompt, tps: row.avg_ts, sd: row.stddev_ts };
    if (row.n_gen > 0 && row.n_prompt === 0) r.tg = { n: row.n_gen, tps: row.avg_ts, sd: row.stddev_ts };
  }
  return r;
}

// Mean of per-round means; sd across all of them (rough but comparable).
function merge(list) {
  const m = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    tps: m(list.map((x) => x.tps)),
    sd: Math.sqrt(m(list.map((x) => x.sd * x.sd))),
  };
}

const results = [];
for (const model of models) {
  const o = [], t = [];
  for (let r = 0; r < rounds; r++) {
    o.push(ours(model));
    if (llama) t.push(theirs(model));
  }
  const size = fs.statSync(model).size;
  const res = {
    model: path.basename(model),
    file_bytes: size,
    ours: { pp: merge(o.map((x) => x.pp)), tg: merge(o.map((x) => x.tg)),
      rss_bytes: Math.max(...o.map((x) => x.rss_bytes)), kv_bytes: o[0].kv_bytes ?? null },
  };
  if (llama) {
    res.llama_cpp = { pp: merge(t.map((x) => x.pp)), tg: merge(t.map((x) => x.tg)) };
    res.ratio = { pp: res.ours.pp.tps / res.llama_cpp.pp.tps, tg: res.ours.tg.tps / res.llama_cpp.tg.tps };
  }
  if (res.ours.kv_bytes != null) {
    res.rss_bound_bytes = size + res.ours.kv_bytes + 64 * 1024 * 1024;
    res.rss_ok = res.ours.rss_bytes <= res.rss_bound_bytes;
  }
  results.push(res);
}

const f1 = (x) => x.toFixed(1);
const mib = (x) => (x / 1048576).toFixed(0);
const hdr = ['model', `ours pp${pp}`, `ours tg${tg}`];
if (llama) hdr.push(`llama.cpp pp${pp}`, `llama.cpp tg${tg}`, 'pp ratio', 'tg ratio');
hdr.push('RSS MiB', 'bound MiB');
console.log(`| ${hdr.join(' | ')} |`);
console.log(`|${hdr.map(() => '---').join('|')}|`);
for (const r of results) {
  const row = [r.model, `${f1(r.ours.pp.tps)} ± ${f1(r.ours.pp.sd)}`, `${f1(r.ours.tg.tps)} ± ${f1(r.ours.tg.sd)}`];
  if (llama) row.push(`${f1(r.llama_cpp.pp.tps)} ± ${f1(r.llama_cpp.pp.sd)}`,
    `${f1(r.llama_cpp.tg.tps)} ± ${f1(r.llama_cpp.tg.sd)}`, r.ratio.pp.toFixed(2), r.ratio.tg.toFixed(2));
  row.push(mib(r.ours.rss_bytes), r.rss_bound_bytes ? mib(r.rss_bound_bytes) : '?');
  console.log(`| ${row.join(' | ')} |`);
}
const doc = { threads, pp, tg, reps, rounds, cpu: fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1],
  llama_bench: llama || null, results };
fs.mkdirSync(path.join(root, 'bench/out'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench/out/engine.json'), JSON.stringify(doc, null, 2));
console.log(JSON.stringify(doc));
