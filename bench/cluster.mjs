// Cluster benchmarks (issue 4, docs/cluster.md): real `ollamamax serve` nodes on
// loopback, started with the test harness tests/js/lib/cluster.mjs. Four
// measurements, each printing a table and one JSON line ({"bench":"cluster.<name>",…}):
//   distribution  time for a model created on one node to reach 3 nodes, against
//                 one point-to-point copy (a 2-node cluster); target ratio <= 1.5
//   scale         aggregate generation tokens/s with 1, 2 and 3 nodes serving a
//                 replicated model, node i pinned to core i % 2 (taskset), 1 thread
//                 each, S streams per serving node; target >= 0.9 * N x one node
//   affinity      prefix_affinity against round_robin on multi-turn conversations
//                 with long distinct system prompts, each turn sent to a random
//                 node: TTFT p50/p99 and cache hit rate; target p50 >= 70 % lower
//   overhead      a small generate through a gateway node (drained, so it proxies)
//                 against the same request sent to the serving node; target < 2 ms p50
//
// Usage: node bench/cluster.mjs [distribution] [scale] [affinity] [overhead] [--quick]
//          [--model FILE] [--routing STRATEGY (scale; default round_robin)] [--limit-min M]
//          [--prompt chat|raw (affinity: /api/chat, or raw /api/generate prompts whose
//           first token differs between conversations; default chat)]
//   OLLAMAMAX=build/ollamamax  OM_SHARED=../shared (stories260K for overhead)
// No names: all four. --quick: smaller sizes, under ~2 minutes in all.
// Results also go to bench/out/cluster.json (one object per sub-benchmark).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startCluster, stopAll, status, brief, postJSON, fetchT, waitFor, waitStatus, dumpLogs, blobPath, member,
} from '../tests/js/lib/cluster.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const ALL = ['distribution', 'scale', 'affinity', 'overhead'];
const picked = args.filter((a) => ALL.includes(a));
const which = picked.length ? ALL.filter((a) => picked.includes(a)) : ALL;
const quick = args.includes('--quick');
const bin = process.env.OLLAMAMAX || join(here, '../build/ollamamax');
const shared = process.env.OM_SHARED || join(here, '../../shared');
const modelFile = opt('--model', join(here, 'models/qwen2.5-0.5b-q4_k_m.gguf'));
const storiesFile = join(shared, 'models/stories260K.gguf');
const scaleRouting = opt('--routing', 'round_robin');
const affinityPrompt = opt('--prompt', 'chat');

// Sizes: full run and --quick.
const Q = quick
  ? { distReps: 1, scaleStreams: 2, scaleTokens: 24, scaleRounds: 1, convs: 3, turns: 3, sysWords: 170,
      answerTokens: 4, overheadReqs: 60 }
  : { distReps: 2, scaleStreams: 4, scaleTokens: 64, scaleRounds: 2, convs: 6, turns: 4, sysWords: 260,
      answerTokens: 8, overheadReqs: 200 };
const NODE_ENV = { OLLAMA_NUM_PARALLEL: '4', OLLAMA_KEEP_ALIVE: '-1', OLLAMA_CONTEXT_LENGTH: '4096' };
const BENCH = 'bench'; // display name bench:latest
const STORIES = 'stories';
const TEMPLATE = '{{ range .Messages }}<|{{ .Role }}|>\n{{ .Content }}</s>\n{{ end }}<|assistant|>\n';

for (const f of [bin, ...(which.some((w) => w !== 'overhead') ? [modelFile] : []), ...(which.includes('overhead') ? [storiesFile] : [])]) {
  if (!existsSync(f)) {
    console.error(`cluster bench: ${f} is missing (build, then bash bench/make_models.sh; stories260K from ../shared/models)`);
    process.exit(1);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const pct = (a, p) => {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const f = (x, d = 1, w = 9) => (Number.isFinite(x) ? x.toFixed(d) : String(x)).padStart(w);

// Whole-script bound: a hang must not outlive it (the harness's exit handler
// then kills every node this process started).
const limitMs = Number(opt('--limit-min', quick ? 4 : 14)) * 60000;
const wd = setTimeout(() => {
  console.log(`cluster bench: not finished within ${limitMs / 60000} min, stopping`);
  if (clusters.length) dumpLogs(clusters.flat(), 30);
  process.exit(2);
}, limitMs);
wd.unref();
const clusters = [];

const sha = new Map();
function sha256(path) {
  if (sha.has(path)) return sha.get(path);
  const p = new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => res('sha256:' + h.digest('hex'))).on('error', rej);
  });
  sha.set(path, p);
  return p;
}

// Pins every thread of a node's process (taskset -a -p); threads made later inherit it.
function pin(node, cpuList) {
  execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(node.proc.pid)], { stdio: 'ignore' });
  node.cpus = cpuList;
}
const allCpus = `0-${cpus().length - 1}`;

async function newCluster(n) {
  const t0 = now();
  const nodes = await startCluster(bin, n, { env: NODE_ENV });
  clusters.push(nodes);
  for (const x of nodes) x.cpus = allCpus;
  console.log(`  (${n}-node cluster formed in ${((now() - t0) / 1000).toFixed(1)} s)`);
  return nodes;
}

async function closeCluster(nodes) {
  await stopAll(nodes);
  clusters.splice(clusters.indexOf(nodes), 1);
}

async function uploadBlob(node, path) {
  const digest = await sha256(path);
  const head = await fetchT(`${node.api}/api/blobs/${digest}`, { method: 'HEAD' });
  if (head.status === 200) return digest;
  const r = await fetchT(`${node.api}/api/blobs/${digest}`, {
    method: 'POST', body: createReadStream(path), duplex: 'half', headers: { 'Content-Length': String(statSync(path).size) },
  }, 120000);
  if (r.status >= 300) throw new Error(`blob upload to ${node.label}: ${r.status} ${await r.text()}`);
  return digest;
}

async function create(node, name, digest) {
  const r = await postJSON(node, '/api/create', { model: name, files: { 'model.gguf': digest }, stream: false, template: TEMPLATE }, 120000);
  if (r.status !== 200) throw new Error(`create ${name} on ${node.label}: ${r.status} ${r.text}`);
}

const holds = (m, name) => m.models.includes(`${name}:latest`);

// Makes `name` from `path` on node 0 and waits until every node holds it.
async function ensureModel(nodes, name, path, timeout = 120000) {
  const s = await status(nodes[0]);
  if (s.nodes.every((m) => holds(m, name))) return;
  const digest = await uploadBlob(nodes[0], path);
  await create(nodes[0], name, digest);
  await waitStatus(nodes[0], (st) => st.nodes.length === nodes.length && st.nodes.every((m) => holds(m, name)), timeout, `${name} on every node`);
}

async function setRouting(nodes, value) {
  const r = await postJSON(nodes[0], '/api/cluster/settings', { key: 'routing', value });
  if (r.status !== 200) throw new Error(`routing=${value}: ${r.status} ${r.text}`);
  // every node applies the committed setting (its Raft copy) before we go on
  for (const n of nodes) await waitStatus(n, (s) => s.settings && s.settings.routing === value, 5000, `routing=${value}`);
}

async function setDrained(nodes, drained) {
  for (const n of nodes) {
    const want = drained.includes(n);
    const r = await postJSON(nodes[0], want ? '/api/cluster/drain' : '/api/cluster/undrain', { node: n.id });
    if (r.status !== 200) throw new Error(`${want ? 'drain' : 'undrain'} ${n.label}: ${r.status} ${r.text}`);
  }
  for (const n of nodes) {
    await waitStatus(n, (s) => nodes.every((x) => {
      const m = member(s, x);
      return m && m.state === (drained.includes(x) ? 'draining' : 'up');
    }), 5000, 'drain states');
  }
}

// One streaming generate/chat; returns {ttft_ms, ms, final, text}. forced: run on
// this node (X-OllamaMax-Forwarded with the token), never proxied.
async function stream(node, path, body, { forced = null, timeout = 180000 } = {}) {
  const headers = forced ? { 'X-OllamaMax-Forwarded': forced } : {};
  const t0 = now();
  const r = await fetchT(node.api + path, { method: 'POST', body: JSON.stringify(body), headers }, timeout);
  if (r.status !== 200) throw new Error(`${path} on ${node.label}: ${r.status} ${await r.text()}`);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let first = 0;
  let final = null;
  let text = '';
  const take = (line) => {
    if (!line.trim()) return;
    const o = JSON.parse(line);
    if (o.error) throw new Error(`${path} on ${node.label}: ${o.error}`);
    if (!first && !o.done) first = now();
    if (typeof o.response === 'string') text += o.response;
    else if (o.message && typeof o.message.content === 'string') text += o.message.content;
    if (o.done) final = o;
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let k;
    while ((k = buf.indexOf('\n')) >= 0) {
      take(buf.slice(0, k));
      buf = buf.slice(k + 1);
    }
  }
  take(buf + dec.decode());
  const end = now();
  if (!final) throw new Error(`${path} on ${node.label}: no final chunk`);
  return { ttft_ms: (first || end) - t0, ms: end - t0, final, text, end };
}

const results = {};
function emit(name, obj) {
  const json = { bench: `cluster.${name}`, quick, machine: machine(), ...obj };
  results[name] = json;
  console.log(JSON.stringify(json));
}
function machine() {
  return { cpus: cpus().length, cpu: cpus()[0] && cpus()[0].model, loadavg_1m: Number(loadavg()[0].toFixed(2)) };
}

// ---------------------------------------------------------------- distribution
// Time from /api/create on node 0 (blob already uploaded there) until every node
// lists the model in /api/cluster/status (its inventory report, ~1 s period), and
// until the verified blob file is in every node's store (the fetcher renames it
// into place only after its sha256 check): 2 nodes (one copy) and 3 nodes.
async function distributionOnce(n) {
  const nodes = await newCluster(n);
  for (let i = 0; i < n; i++) pin(nodes[i], String(i % 2));
  const digest = await uploadBlob(nodes[0], modelFile);
  const t0 = now();
  await create(nodes[0], BENCH, digest);
  const tCreate = now() - t0;
  const fileAt = new Array(n).fill(0);
  fileAt[0] = tCreate;
  let statusAt = 0;
  await waitFor(async () => {
    for (let i = 1; i < n; i++) if (!fileAt[i] && existsSync(blobPath(nodes[i], digest))) fileAt[i] = now() - t0;
    if (!statusAt) {
      const s = await status(nodes[0]);
      if (s.nodes.length === n && s.nodes.every((m) => holds(m, BENCH))) statusAt = now() - t0;
    }
    return statusAt && fileAt.every((x) => x > 0);
  }, 120000, `${BENCH} on all ${n} nodes`, 20);
  return { nodes, create_ms: tCreate, file_ms: Math.max(...fileAt), status_ms: statusAt };
}

async function benchDistribution() {
  const size = statSync(modelFile).size;
  console.log(`\n== distribution: ${modelFile} (${(size / 1048576).toFixed(0)} MiB) created on node 0`);
  const runs = { 2: [], 3: [] };
  let keep = null;
  for (let rep = 0; rep < Q.distReps; rep++) {
    for (const n of [2, 3]) {
      const r = await distributionOnce(n);
      runs[n].push({ create_ms: r.create_ms, file_ms: r.file_ms, status_ms: r.status_ms });
      console.log(`  rep ${rep} ${n} nodes: create ${r.create_ms.toFixed(0)} ms, blob on all ${r.file_ms.toFixed(0)} ms, status lists it on all ${r.status_ms.toFixed(0)} ms`);
      if (n === 3 && rep === Q.distReps - 1) keep = r.nodes;
      else await closeCluster(r.nodes);
    }
  }
  const avg = (n, k) => mean(runs[n].map((r) => r[k]));
  const row = (n) => ({ nodes: n, copies: n - 1, file_ms: avg(n, 'file_ms'), status_ms: avg(n, 'status_ms'),
    mib_per_s_per_copy: (size / 1048576) / (avg(n, 'file_ms') / 1000) });
  const rows = [row(2), row(3)];
  console.log(`nodes  copies  blob on all (ms)  status on all (ms)  MiB/s per copy   (mean of ${Q.distReps})`);
  for (const r of rows) console.log(`${String(r.nodes).padStart(5)}  ${String(r.copies).padStart(6)}  ${f(r.file_ms, 0, 16)}  ${f(r.status_ms, 0, 18)}  ${f(r.mib_per_s_per_copy, 1, 14)}`);
  const ratioFile = rows[1].file_ms / rows[0].file_ms;
  const ratioStatus = rows[1].status_ms / rows[0].status_ms;
  console.log(`3 nodes / one copy: ${ratioFile.toFixed(2)}x (blob files), ${ratioStatus.toFixed(2)}x (status); target <= 1.5x`);
  emit('distribution', { model: modelFile, bytes: size, reps: Q.distReps, pinning: 'node i on core i%2', runs, rows,
    ratio_file: ratioFile, ratio_status: ratioStatus, target: 1.5 });
  return keep;
}

// ---------------------------------------------------------------- main cluster
let main = null;
async function mainCluster() {
  if (!main) main = await newCluster(3);
  return main;
}

// ---------------------------------------------------------------------- scale
// N = 1, 2, 3 serving nodes of one 3-node cluster: the others are drained (no
// request is routed to them, their processes idle). Node i is pinned to core
// i % 2 and runs the model with num_thread 1. N * S streams, stream j sent to
// serving node j % N's API; the cluster's routing decides where each runs
// ("routed"). "direct" sends the same streams with the internal forwarded header,
// so each runs on the node it is sent to: the engine's scaling without gateway work.
async function scaleRound(serving, streams, tokens, seedBase, onStatus, forced, nThread = 1) {
  const t0 = now();
  let live = true;
  const poll = (async () => {
    while (live) {
      try {
        onStatus(await status(serving[0]));
      } catch {}
      await sleep(300);
    }
  })();
  const res = await Promise.all(Array.from({ length: streams }, (_, j) => stream(serving[j % serving.length], '/api/generate', {
    model: BENCH, prompt: `Write a long story about the number ${seedBase + j} and a cat named Tom.`,
    options: { num_predict: tokens, temperature: 0.8, seed: seedBase + j, num_thread: nThread },
  }, { forced })));
  live = false;
  await poll;
  const wall = (Math.max(...res.map((r) => r.end)) - t0) / 1000;
  const total = res.reduce((a, r) => a + r.final.eval_count, 0);
  return { aggregate: total / wall, tokens: total, wall_s: wall, ttft: res.map((r) => r.ttft_ms) };
}

async function benchScale() {
  const nodes = await mainCluster();
  await ensureModel(nodes, BENCH, modelFile);
  await setRouting(nodes, scaleRouting);
  nodes.forEach((x, i) => pin(x, String(i % 2)));
  console.log(`\n== scale: ${modelFile}, ${Q.scaleStreams} streams x ${Q.scaleTokens} tokens per serving node, num_thread 1, routing ${scaleRouting}, ${Q.scaleRounds} round(s); pinning ${nodes.map((x, i) => `node${i}->cpu ${x.cpus}`).join(', ')}`);
  const rows = [];
  for (const n of [1, 2, 3]) for (const mode of ['routed', 'direct']) {
    const serving = nodes.slice(0, n);
    if (mode === 'routed') await setDrained(nodes, nodes.slice(n));
    // warm: every serving node loads the runner (num_thread 1) outside the measurement
    await Promise.all(serving.map((x) => stream(x, '/api/generate', { model: BENCH, prompt: 'warm', options: { num_predict: 2, num_thread: 1 } }, { forced: nodes.token })));
    const agg = [];
    const ttft = [];
    const activeMax = new Map();
    const onStatus = (s) => {
      for (const m of s.nodes) activeMax.set(m.id, Math.max(activeMax.get(m.id) || 0, (m.active || 0) + (m.queued || 0)));
    };
    for (let round = 0; round < Q.scaleRounds; round++) {
      const r = await scaleRound(serving, n * Q.scaleStreams, Q.scaleTokens, 1000 * n + 100 * round, onStatus,
        mode === 'direct' ? nodes.token : null);
      agg.push(r.aggregate);
      ttft.push(...r.ttft);
      console.log(`  ${n} node(s) ${mode} round ${round}: ${r.tokens} tokens in ${r.wall_s.toFixed(2)} s = ${r.aggregate.toFixed(1)} t/s`);
    }
    rows.push({ nodes: n, mode, streams: n * Q.scaleStreams, cpus: serving.map((x) => x.cpus).join(','), tps_aggregate: mean(agg),
      rounds: agg, ttft_p50_ms: pct(ttft, 50), busy_max: nodes.map((x) => activeMax.get(x.id) || 0) });
  }
  // reference: one node using both cores (unpinned, num_thread 2) with the 2-node stream count
  {
    await setDrained(nodes, nodes.slice(1));
    nodes.forEach((x) => pin(x, allCpus));
    await stream(nodes[0], '/api/generate', { model: BENCH, prompt: 'warm', options: { num_predict: 2, num_thread: 2 } }, { forced: nodes.token });
    const agg = [];
    const ttft = [];
    for (let round = 0; round < Q.scaleRounds; round++) {
      const r = await scaleRound([nodes[0]], 2 * Q.scaleStreams, Q.scaleTokens, 5000 + 100 * round, () => {}, null, 2);
      agg.push(r.aggregate);
      ttft.push(...r.ttft);
      console.log(`  1 node, 2 threads, round ${round}: ${r.tokens} tokens in ${r.wall_s.toFixed(2)} s = ${r.aggregate.toFixed(1)} t/s`);
    }
    rows.push({ nodes: 1, mode: '2thr', streams: 2 * Q.scaleStreams, cpus: allCpus, tps_aggregate: mean(agg), rounds: agg,
      ttft_p50_ms: pct(ttft, 50), busy_max: [] });
  }
  await setDrained(nodes, []);
  for (const r of rows) r.vs_one_node = r.tps_aggregate / rows.find((x) => x.nodes === 1 && x.mode === (r.mode === '2thr' ? 'routed' : r.mode)).tps_aggregate;
  console.log('nodes  mode    streams  cpus      t/s aggregate  x one node  target  ttft p50 ms  max active+queued per node (node0..2)');
  for (const r of rows) {
    console.log(`${String(r.nodes).padStart(5)}  ${r.mode.padEnd(6)}  ${String(r.streams).padStart(7)}  ${r.cpus.padEnd(8)}  ${f(r.tps_aggregate, 1, 13)}  ${f(r.vs_one_node, 2, 10)}  ${r.mode === '2thr' ? '     -' : f(0.9 * r.nodes, 1, 6)}  ${f(r.ttft_p50_ms, 0, 11)}  ${r.busy_max.join(' ')}`);
  }
  console.log('routed: stream j sent to serving node j % N, the cluster routes it (proxying when it picks another node);');
  console.log('direct: the same streams with X-OllamaMax-Forwarded, so each runs where it is sent (no gateway work)');
  console.log('2thr: reference, one node unpinned with num_thread 2 and the 2-node stream count (x one node: against 1 routed)');
  emit('scale', { model: modelFile, routing: scaleRouting, streams_per_node: Q.scaleStreams, tokens: Q.scaleTokens,
    rounds: Q.scaleRounds, num_thread: 1, pinning: 'taskset: node i on cpu i%2', rows });
}

// ------------------------------------------------------------------- affinity
// C conversations x T turns, interleaved (turn t of every conversation, then
// turn t+1), one request at a time; each conversation has its own long system
// prompt; each turn goes to a random node's API (the same seeded sequence for
// both strategies). Nodes unpinned, num_thread 2 (one request runs at a time).
// A turn after the first is a cache hit when its prompt_eval_count (tokens
// actually evaluated) is under half the conversation's first-turn count.
const WORDS = ('river mountain lantern copper whisper orchard signal harbor meadow thunder velvet compass ' +
  'glacier ember falcon marble canyon willow beacon saffron quartz tide prairie cobalt ribbon summit hollow ' +
  'juniper anchor cedar drift meridian pepper violet granite kettle mosaic nectar oyster pebble quiver ' +
  'rosemary sparrow tundra umber vessel walnut yarrow zephyr almond basalt cinder dune estuary fjord ' +
  'garnet heron island jasper kelp lagoon mist nomad opal plume quill reef sable thistle').split(' ');

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function systemPrompt(seed, words) {
  const r = rng(seed);
  const out = [`You are assistant number ${seed}. Remember these notes:`];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(r() * WORDS.length)] + (i % 12 === 11 ? '.' : ''));
  return out.join(' ');
}

// CPU time (clock ticks) a node's process has used: the node that served a
// request is the one whose figure grew most (prompt evaluation dominates).
function cpuTicks(node) {
  const f = readFileSync(`/proc/${node.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function affinityRun(nodes, strategy, salt) {
  await setRouting(nodes, strategy);
  const pick = rng(7); // same node sequence for every strategy
  const convs = Array.from({ length: Q.convs }, (_, c) => ({
    messages: [{ role: 'system', content: systemPrompt(salt * 100 + c, Q.sysWords) }], first: 0, turns: [],
  }));
  for (let t = 0; t < Q.turns; t++) {
    const line = [];
    for (let c = 0; c < Q.convs; c++) {
      const cv = convs[c];
      const to = nodes[Math.floor(pick() * nodes.length)];
      cv.messages.push({ role: 'user', content: `Question ${t + 1}: tell me about the ${WORDS[(c * 7 + t * 3) % WORDS.length]}.` });
      const c0 = nodes.map(cpuTicks);
      const options = { num_predict: Q.answerTokens, temperature: 0, num_thread: 2 };
      const r = affinityPrompt === 'raw'
        ? await stream(to, '/api/generate', { model: BENCH, raw: true, options,
          prompt: `${String.fromCharCode(65 + 13 * (salt - 1) + c)}: ${cv.messages.map((m) => m.content).join('\n')}\n` })
        : await stream(to, '/api/chat', { model: BENCH, messages: cv.messages, options });
      const dt = nodes.map((x, i) => cpuTicks(x) - c0[i]);
      const served = dt.indexOf(Math.max(...dt));
      cv.messages.push({ role: 'assistant', content: r.text });
      const pe = r.final.prompt_eval_count;
      if (t === 0) cv.first = pe;
      cv.turns.push({ ttft_ms: r.ttft_ms, prompt_eval_count: pe, hit: t > 0 && pe < 0.5 * cv.first, to: nodes.indexOf(to), served });
      line.push(`${r.ttft_ms.toFixed(0)}/${pe}@${served}`);
    }
    console.log(`  ${strategy} turn ${t + 1} (per conversation: ttft ms/prompt tokens evaluated@serving node): ${line.join(' ')}`);
  }
  const all = convs.flatMap((c) => c.turns);
  const later = convs.flatMap((c) => c.turns.slice(1));
  return {
    strategy,
    ttft_p50_ms: pct(all.map((x) => x.ttft_ms), 50), ttft_p99_ms: pct(all.map((x) => x.ttft_ms), 99),
    later_ttft_p50_ms: pct(later.map((x) => x.ttft_ms), 50), later_ttft_p99_ms: pct(later.map((x) => x.ttft_ms), 99),
    hit_rate: later.filter((x) => x.hit).length / later.length,
    first_turn_prompt_tokens: Math.round(mean(convs.map((c) => c.first))),
    // routing alone: turns after the first served by the node that served the first turn
    same_node_rate: later.length ? convs.reduce((a, c) => a + c.turns.slice(1).filter((x) => x.served === c.turns[0].served).length, 0) / later.length : NaN,
    later_prompt_eval_mean: mean(later.map((x) => x.prompt_eval_count)),
    turns: convs.map((c) => c.turns.map((x) => ({ ttft_ms: Math.round(x.ttft_ms), prompt_eval_count: x.prompt_eval_count, sent_to: x.to, served_by: x.served }))),
  };
}

async function benchAffinity() {
  const nodes = await mainCluster();
  await ensureModel(nodes, BENCH, modelFile);
  nodes.forEach((x) => pin(x, allCpus));
  await setDrained(nodes, []);
  // every node loads the runner with num_thread 2 before the measurement
  await Promise.all(nodes.map((x) => stream(x, '/api/generate', { model: BENCH, prompt: 'warm', options: { num_predict: 2, num_thread: 2 } }, { forced: nodes.token })));
  console.log(`\n== affinity (${affinityPrompt === 'raw' ? 'raw /api/generate prompts' : '/api/chat'}): ${Q.convs} conversations x ${Q.turns} turns, ~${Q.sysWords}-word system prompts, ${Q.answerTokens}-token answers, 3 nodes (unpinned, num_thread 2), one request at a time, each turn to a random node`);
  const rows = [];
  let salt = 1;
  for (const s of ['round_robin', 'prefix_affinity']) rows.push(await affinityRun(nodes, s, salt++));
  await setRouting(nodes, 'least_loaded');
  console.log('strategy          ttft p50 ms  ttft p99 ms  turns>1 p50  turns>1 p99  hit rate (turns>1)  same node (turns>1)  first-turn prompt tokens');
  for (const r of rows)
    console.log(`${r.strategy.padEnd(16)}  ${f(r.ttft_p50_ms, 0, 11)}  ${f(r.ttft_p99_ms, 0, 11)}  ${f(r.later_ttft_p50_ms, 0, 11)}  ${f(r.later_ttft_p99_ms, 0, 11)}  ${f(100 * r.hit_rate, 0, 17)}%  ${f(100 * r.same_node_rate, 0, 18)}%  ${f(r.first_turn_prompt_tokens, 0, 24)}`);
  const reduction = 1 - rows[1].ttft_p50_ms / rows[0].ttft_p50_ms;
  console.log(`prefix_affinity TTFT p50 ${(100 * reduction).toFixed(0)}% lower than round_robin (target >= 70%)`);
  emit(affinityPrompt === 'raw' ? 'affinity_raw' : 'affinity', { model: modelFile, prompt: affinityPrompt, convs: Q.convs, turns: Q.turns, system_words: Q.sysWords, rows,
    p50_reduction: reduction, target: 0.7 });
}

// ------------------------------------------------------------------- overhead
// stories260K, /api/generate stream:false num_predict 1. Node 0 (gateway) and
// node 2 are drained, so every request node 0 receives is proxied to node 1;
// requests alternate between node 0 (proxied) and node 1 (direct, runs there).
async function benchOverhead() {
  const nodes = await mainCluster();
  await ensureModel(nodes, STORIES, storiesFile);
  nodes.forEach((x) => pin(x, allCpus));
  await setDrained(nodes, [nodes[0], nodes[2]]);
  const [gw, srv] = nodes;
  const body = JSON.stringify({ model: STORIES, prompt: 'Once upon a time', stream: false, options: { num_predict: 1, temperature: 0 } });
  const one = async (node) => {
    const t0 = now();
    const r = await fetchT(node.api + '/api/generate', { method: 'POST', body }, 30000);
    const text = await r.text();
    const ms = now() - t0;
    if (r.status !== 200) throw new Error(`generate on ${node.label}: ${r.status} ${text}`);
    return ms;
  };
  for (let i = 0; i < 10; i++) {
    await one(srv);
    await one(gw);
  }
  const direct = [];
  const proxied = [];
  for (let i = 0; i < Q.overheadReqs; i++) {
    if (i % 2) direct.push(await one(srv));
    else proxied.push(await one(gw));
  }
  const s = await status(gw);
  const gwLoaded = member(s, gw).loaded.includes(`${STORIES}:latest`);
  await setDrained(nodes, []);
  const rows = [
    { path: 'direct (node1)', n: direct.length, p50_ms: pct(direct, 50), p99_ms: pct(direct, 99), mean_ms: mean(direct) },
    { path: 'via gateway (node0 -> node1)', n: proxied.length, p50_ms: pct(proxied, 50), p99_ms: pct(proxied, 99), mean_ms: mean(proxied) },
  ];
  console.log(`\n== overhead: ${storiesFile}, /api/generate stream:false num_predict 1, ${Q.overheadReqs} requests alternating`);
  console.log('path                           n    p50 ms    p99 ms   mean ms');
  for (const r of rows) console.log(`${r.path.padEnd(29)}  ${String(r.n).padStart(3)}  ${f(r.p50_ms, 2, 8)}  ${f(r.p99_ms, 2, 8)}  ${f(r.mean_ms, 2, 8)}`);
  const diff = rows[1].p50_ms - rows[0].p50_ms;
  console.log(`gateway overhead p50: ${diff.toFixed(2)} ms (target < 2 ms)${gwLoaded ? '; WARNING: the gateway loaded the model itself' : ''}`);
  emit('overhead', { model: storiesFile, requests: Q.overheadReqs, rows, p50_overhead_ms: diff,
    p99_overhead_ms: rows[1].p99_ms - rows[0].p99_ms, gateway_loaded_model: gwLoaded, target_ms: 2 });
}

// ----------------------------------------------------------------------- main
const t0 = now();
let failed = false;
console.log(`cluster bench: ${which.join(', ')}${quick ? ' (quick)' : ''}; ${bin}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
try {
  for (const w of which) {
    try {
      if (w === 'distribution') {
        const keep = await benchDistribution();
        if (keep && !main) main = keep;
        else if (keep) await closeCluster(keep);
      } else if (w === 'scale') await benchScale();
      else if (w === 'affinity') await benchAffinity();
      else if (w === 'overhead') await benchOverhead();
    } catch (e) {
      failed = true;
      console.log(`cluster bench: ${w} failed: ${e && e.stack ? e.stack : e}`);
      for (const c of clusters) {
        try {
          console.log(`  status: ${brief(await status(c[0]))}`);
        } catch {}
      }
      dumpLogs(clusters.flat(), 20);
    }
  }
} finally {
  await stopAll(clusters.flat());
}
console.log(`cluster bench: done in ${((now() - t0) / 1000).toFixed(0)} s; load average now ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
mkdirSync(join(here, 'out'), { recursive: true });
let prev = {};
try {
  prev = JSON.parse(readFileSync(join(here, 'out/cluster.json'), 'utf8'));
} catch {}
writeFileSync(join(here, 'out/cluster.json'), JSON.stringify({ ...prev, ...results }) + '\n');
process.exit(failed ? 1 : 0);
