// End-to-end (issue 4): routing and mid-stream failover on a three-node cluster.
// A model created on one node reaches all; round_robin gives each node its share;
// latency tries unmeasured nodes first; prefix_affinity keeps a conversation on one
// node whatever the gateway; a drained node gets no new requests and finishes its
// running streams; eight concurrent greedy streams (two gateways) served by
// another node, SIGKILLed mid-stream, all complete without an error line, with
// exactly the uninterrupted text and counts (two end at stop sequences after the
// cut); the same for /api/chat and /v1/chat/completions streams served by the Raft
// leader; a request sent to a hung (SIGSTOPped) node is served elsewhere.
// Who served a request is read from /api/ps (the node whose keep-alive moved).
//
// stories260K makes ~16k tokens/s, far faster than a test can react, so the
// serving node is SIGSTOPped before the streams are sent and then given short
// SIGCONT slices (~1 ms) until every stream has its first 3 chunks; it is
// SIGKILLed while stopped: the gateway sees exactly what a crash mid-stream
// looks like (a connection that breaks before the final chunk).
// Usage: node test_cluster_failover.mjs BIN SHARED_DIR
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, sha256File, skip, summary, sleep, synth } from './lib/server.mjs';
import {
  startCluster, status, waitStatus, waitFor, member, kill, stopAll, stopAllChecked, dumpLogs, watchdog, testOk,
  postJSON, getJSON, blobDigestOn, streamPost, streamSSE, setSetting, brief, runCli, restart, servedBy,
} from './lib/cluster.mjs';

const [bin, shared] = process.argv.slice(2);
const stories = join(shared || '', 'models/stories260K.gguf');
const tiny = join(shared || '', 'models/llama-2-tiny-random.gguf');
if (!existsSync(stories) || !existsSync(tiny)) skip(`${stories} or ${tiny} is absent: the cluster tests need ../shared/models`);

const work = mkdtempSync(join(tmpdir(), 'omx-cluster-failover-'));
const nodes = [];
watchdog(150000, nodes);
let fails = 0;
const t = async (name, fn) => {
  if (!(await testOk(name, fn))) fails++;
};

const PROMPTS = [
  'Once upon a time', 'One day, a little girl', 'Tom and his dog', 'The sun was',
  'There was a big', 'Lily wanted to', 'In the park,', 'A small bird',
];
// long enough that no stream can finish inside the first CPU slices the serving node gets
const NUM_PREDICT = 200;
const genBody = (prompt, extra = {}) => ({ model: 'stories', prompt, raw: true, stream: true, options: { temperature: 0, num_predict: NUM_PREDICT, ...extra } });
// Two of the eight streams end at a stop sequence some tokens after the cut (the
// second one spans several tokens, so text is held back while it might match).
const STOPS = { 6: ['box'], 7: ['Anna saw'] };

// One failover round. gws: the gateway(s), request i going to gws[i % gws.length].
// reqs [{label, path, body, sse}] run first on srv itself (the
// forwarded header: answered by srv alone, which also loads the model there only) for
// the uninterrupted reference; then through gw while srv is SIGSTOPped, given ~1 ms
// CPU slices until every stream has a few chunks, and SIGKILLed. Every stream must
// then end like its reference: same text, same counts, no error, no internal field.
async function failoverRound(gws, srv, reqs, onKilled = () => {}) {
  gws = [].concat(gws);
  const gw = gws[0];
  const fwd = { 'X-OllamaMax-Forwarded': nodes.token };
  const run = (node, r, opts) => (r.sse ? streamSSE : streamPost)(node, r.path, r.body, opts);
  // A clean slate: unloaded on every node (no KV cache anywhere), so the references'
  // prompt_eval_count is the whole prompt, as the resuming node reports it.
  for (const n of nodes.filter((x) => x.proc && x.proc.exitCode === null && x.proc.signalCode === null)) {
    const r = await postJSON(n, '/api/generate', { model: 'stories', keep_alive: 0 }, 10000, fwd);
    assert.equal(r.status, 200, `unload on ${n.label}: ${r.text}`);
  }
  await waitStatus(gw, (s) => s.nodes.every((m) => m.state !== 'up' || !m.loaded.includes('stories:latest')), 5000, 'stories unloaded everywhere');
  const refs = await Promise.all(reqs.map((r) => run(srv, r, { headers: fwd, timeout: 30000 })));
  for (const [i, r] of refs.entries()) {
    assert.equal(r.error, null, `reference ${reqs[i].label}: ${r.error}`);
    assert.ok(reqs[i].sse ? r.done && r.finish : r.final, `reference ${reqs[i].label} is complete`);
  }
  // The gateway sees the model loaded on srv only, so least_loaded sends every stream there.
  for (const g of gws) {
    await waitStatus(g, (s) => s.nodes.filter((m) => m.state === 'up' && m.loaded.includes('stories:latest')).map((m) => m.id).join() === srv.id,
      5000, 'stories loaded on the serving node only');
  }
  const state = reqs.map(() => ({ chunks: 0, done: false }));
  const onObj = (i) => (o) => {
    const c = o.choices && o.choices[0];
    if (o.done || (c && c.finish_reason)) state[i].done = true;
    else if (!reqs[i].sse || (c && c.delta && c.delta.content)) state[i].chunks++;
  };
  // Stopped before the requests: the gateway's requests wait in srv's socket.
  srv.proc.kill('SIGSTOP');
  const runs = reqs.map((r, i) => run(gws[i % gws.length], r, { timeout: 60000, onObj: onObj(i) }));
  await sleep(150);
  for (let k = 0; k < 50 && !state.every((x) => x.chunks >= 3) && !state.some((x) => x.done); k++) {
    srv.proc.kill('SIGCONT');
    await sleep(1);
    srv.proc.kill('SIGSTOP');
    await sleep(40);
  }
  const atKill = state.map((x) => (x.done ? 'done' : x.chunks));
  await kill(srv, 'SIGKILL');
  onKilled();
  console.log(`     chunks per stream when the serving node was killed: ${JSON.stringify(atKill)}`);
  const mid = state.filter((x) => !x.done && x.chunks > 0).length;
  const outs = await Promise.all(runs);
  for (const [i, o] of outs.entries()) {
    const ref = refs[i];
    const what = `${reqs[i].label} (${atKill[i]} chunks at the kill)`;
    const same = (k, a, b) => assert.deepEqual(a, b, `${what} ${k}: ${JSON.stringify(a)}, uninterrupted ${JSON.stringify(b)}`);
    // A resumed stream reports the whole prompt (the references ran on a cold cache); one
    // that had finished before the kill ran on srv after its reference, so its prompt
    // may have come from srv's cache.
    const promptCount = (a, b) => {
      if (atKill[i] !== 'done') return same('prompt count', a, b);
      assert.ok(a >= 1 && a <= b, `${what} prompt count ${a}, uninterrupted ${b}`);
    };
    assert.equal(o.error, null, `${what}: ${o.error}`);
    assert.ok(!o.objs.some((x) => x.error), `${what}: an error line`);
    assert.ok(!o.objs.some((x) => '_om_tokens' in x || '_om_resume' in x), `${what}: internal fields reached the client`);
    same('text', o.text, ref.text);
    if (reqs[i].sse) {
      assert.ok(o.done, `${what}: [DONE]`);
      same('finish_reason', o.finish, ref.finish);
      same('completion_tokens', o.usage && o.usage.completion_tokens, ref.usage && ref.usage.completion_tokens);
      promptCount(o.usage && o.usage.prompt_tokens, ref.usage && ref.usage.prompt_tokens);
    } else {
      assert.ok(o.final, `${what}: a final chunk`);
      same('eval_count', o.final.eval_count, ref.final.eval_count);
      promptCount(o.final.prompt_eval_count, ref.final.prompt_eval_count);
      same('done_reason', o.final.done_reason, ref.final.done_reason);
      assert.ok(o.final.total_duration > 0);
    }
  }
  assert.ok(mid >= reqs.length / 2, `at least half the streams were mid-stream when the node died (per stream: ${JSON.stringify(atKill)})`);
  return { refs, outs, atKill };
}

try {
  await t('three nodes; models created on one node reach all nodes', async () => {
    // 8 parallel sequences per node: all eight streams run at once on the serving node.
    const ns = await startCluster(bin, 3, { into: nodes, env: { OLLAMA_NUM_PARALLEL: '8' } });
    assert.equal((await createModel(nodes[2].api, 'stories', stories)).status, 'success');
    assert.equal((await createModel(nodes[2].api, 'tiny', tiny)).status, 'success');
    for (const n of nodes) {
      await waitStatus(n, (s) => s.nodes.every((m) => m.models.includes('stories:latest') && m.models.includes('tiny:latest')),
        20000, 'both models held by every node');
      for (const f of [stories, tiny]) {
        const d = sha256File(f);
        await waitFor(() => blobDigestOn(n, d) === d, 10000, `blob ${d} on ${n.label}`);
      }
    }
  });
  if (!nodes.formed) throw new Error('the cluster did not form; the other tests need it');

  await t('round_robin spreads requests over the nodes', async () => {
    const answer = await setSetting(nodes[1], nodes, 'routing', 'round_robin');
    const gen = (via, i) => async () => {
      const g = await postJSON(via, '/api/generate', { model: 'tiny', prompt: `hello ${i}`, raw: true, stream: false, options: { num_predict: 3 } }, 30000);
      assert.equal(g.status, 200, g.text);
      assert.equal(g.json.done, true);
    };
    for (let i = 0; i < 6; i++) await gen(nodes[0], i)();
    // Six requests rotating over three candidates: the model is loaded on all three.
    const s = await waitStatus(nodes[0], (st) => st.nodes.filter((m) => m.loaded.includes('tiny:latest')).length === 3, 5000,
      'tiny loaded on all three nodes');
    console.log(`     loaded: ${JSON.stringify(s.nodes.map((m) => [m.name, m.loaded]))}`);
    // Now that every node has it loaded, who served each request (from /api/ps keep-alive deadlines).
    const counts = new Map();
    for (let i = 0; i < 6; i++) {
      const ids = await servedBy(nodes[1], 'tiny:latest', gen(nodes[0], i));
      assert.equal(ids.length, 1, `request ${i} served by ${JSON.stringify(ids)}`);
      counts.set(ids[0], (counts.get(ids[0]) || 0) + 1);
    }
    console.log(`     round_robin, 6 requests: ${JSON.stringify([...counts].map(([id, c]) => [nodes.find((n) => n.id === id).label, c]))}`);
    assert.deepEqual([...counts.values()], [2, 2, 2], 'two requests per node');
    await setSetting(nodes[2], nodes, 'routing', 'least_loaded');
    assert.equal(answer.routing, 'round_robin', `the POST's answer shows the change: ${JSON.stringify(answer)}`);
  });

  await t('latency: a gateway tries every node it has not measured yet', async () => {
    await setSetting(nodes[0], nodes, 'routing', 'latency');
    try {
      // node1 has proxied nothing so far (the requests above went through node0).
      const seen = new Set();
      const order = [];
      for (let i = 0; i < 3; i++) {
        const ids = await servedBy(nodes[0], 'tiny:latest', async () => {
          const g = await postJSON(nodes[1], '/api/generate', { model: 'tiny', prompt: `l ${i}`, raw: true, stream: false, options: { num_predict: 2 } }, 30000);
          assert.equal(g.status, 200, g.text);
        });
        assert.equal(ids.length, 1, `request ${i} served by ${JSON.stringify(ids)}`);
        seen.add(ids[0]);
        order.push(nodes.find((n) => n.id === ids[0]).label);
      }
      assert.equal(seen.size, 3, `the first three requests through a new gateway go to three different nodes: ${order} (is a request the gateway serves itself measured?)`);
    } finally {
      await setSetting(nodes[1], nodes, 'routing', 'least_loaded');
    }
  });

  await t('prefix_affinity: every turn of a conversation goes to the same node, whatever the gateway', async () => {
    await setSetting(nodes[0], nodes, 'routing', 'prefix_affinity');
    try {
      const where = [];
      for (let c = 0; c < 6; c++) {
        const messages = [{ role: 'user', content: `conversation ${c}: tell me about the number ${c * 7}` }];
        const served = [];
        for (let turn = 0; turn < 3; turn++) {
          const via = nodes[(c + turn) % 3];
          let reply;
          const ids = await servedBy(nodes[0], 'tiny:latest', async () => {
            const r = await postJSON(via, '/api/chat', { model: 'tiny', messages, stream: false, options: { num_predict: 4, temperature: 0 } }, 30000);
            assert.equal(r.status, 200, r.text);
            reply = r.json.message;
          });
          assert.equal(ids.length, 1, `conversation ${c} turn ${turn} served by ${JSON.stringify(ids)}`);
          served.push(ids[0]);
          messages.push({ role: 'assistant', content: reply.content }, { role: 'user', content: `and turn ${turn + 1}?` });
        }
        assert.equal(new Set(served).size, 1, `conversation ${c} moved between nodes: ${served.map((id) => nodes.find((n) => n.id === id).label)}`);
        where.push(nodes.find((n) => n.id === served[0]).label);
      }
      console.log(`     conversations -> nodes: ${JSON.stringify(where)}`);
      assert.ok(new Set(where).size >= 2, `six conversations all on one node: ${where}`);
    } finally {
      await setSetting(nodes[1], nodes, 'routing', 'least_loaded');
    }
  });

  await t('drain (CLI): no new requests reach the drained node; undrain (HTTP) brings it back', async () => {
    const drained = nodes[2];
    const fresh = synth(bin, 'llama', join(work, 'fresh.gguf'));
    assert.equal((await createModel(nodes[1].api, 'fresh', fresh)).status, 'success');
    for (const n of nodes) {
      await waitStatus(n, (s) => s.nodes.every((m) => m.models.includes('fresh:latest')), 20000, 'fresh held by every node');
    }
    const out = await runCli(nodes[0], ['cluster', 'drain', drained.name]);
    assert.equal(out.code, 0, `cluster drain: ${out.stdout}${out.stderr}`);
    for (const n of nodes) await waitStatus(n, (s) => member(s, drained).state === 'draining', 5000, 'draining everywhere');
    await setSetting(nodes[0], nodes, 'routing', 'round_robin');
    try {
      for (let i = 0; i < 6; i++) {
        const g = await postJSON(nodes[i % 2], '/api/generate', { model: 'fresh', prompt: `x ${i}`, raw: true, stream: false, options: { num_predict: 2 } }, 30000);
        assert.equal(g.status, 200, g.text);
      }
      const d = await postJSON(drained, '/api/generate', { model: 'fresh', prompt: 'y', raw: true, stream: false, options: { num_predict: 2 } }, 30000);
      assert.equal(d.status, 200, `a request sent to the drained node itself is served elsewhere: ${d.text}`);
      const s = await waitStatus(nodes[0], (st) => member(st, nodes[0]).loaded.includes('fresh:latest') &&
        member(st, nodes[1]).loaded.includes('fresh:latest'), 5000, 'fresh loaded on both undrained nodes');
      await new Promise((r) => setTimeout(r, 1200)); // one more report round
      const s2 = await status(nodes[1]);
      assert.ok(!member(s2, drained).loaded.includes('fresh:latest'), `fresh loaded on the drained node: ${brief(s2)}`);
      assert.ok(s);
    } finally {
      await setSetting(nodes[1], nodes, 'routing', 'least_loaded');
      const r = await postJSON(nodes[1], '/api/cluster/undrain', { node: drained.id });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { node: drained.id, state: 'up' });
    }
    for (const n of nodes) await waitStatus(n, (s) => member(s, drained).state === 'up', 5000, 'up again everywhere');
    const bad = await postJSON(nodes[0], '/api/cluster/drain', { node: 'no-such-node' });
    assert.equal(bad.status, 404, bad.text);
  });

  await t('a drain lets the running streams finish on the drained node', async () => {
    const [gw, other, srv] = nodes;
    const fwd = { 'X-OllamaMax-Forwarded': nodes.token };
    for (const n of nodes) assert.equal((await postJSON(n, '/api/generate', { model: 'stories', keep_alive: 0 }, 10000, fwd)).status, 200);
    const loadedOn = (st) => st.nodes.filter((m) => m.state !== 'down' && m.loaded.includes('stories:latest')).map((m) => m.id).join();
    await waitStatus(gw, (st) => loadedOn(st) === '', 5000, 'stories unloaded everywhere');
    const prompts = PROMPTS.slice(0, 4);
    const refs = await Promise.all(prompts.map((p) => streamPost(srv, '/api/generate', genBody(p), { headers: fwd, timeout: 30000 })));
    await waitStatus(gw, (st) => loadedOn(st) === srv.id, 5000, 'stories loaded on the node to drain only');
    const chunks = prompts.map(() => 0);
    srv.proc.kill('SIGSTOP');
    let outs;
    let atDrain = [];
    try {
      const runs = prompts.map((p, i) => streamPost(gw, '/api/generate', genBody(p), { timeout: 60000, onObj: (o) => { if (!o.done) chunks[i]++; } }));
      await sleep(150);
      for (let k = 0; k < 50 && !chunks.every((c) => c >= 3); k++) {
        srv.proc.kill('SIGCONT');
        await sleep(1);
        srv.proc.kill('SIGSTOP');
        await sleep(40);
      }
      atDrain = [...chunks];
      const r = await postJSON(other, '/api/cluster/drain', { node: srv.name });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { node: srv.id, state: 'draining' });
      srv.proc.kill('SIGCONT');
      outs = await Promise.all(runs);
    } finally {
      srv.proc.kill('SIGCONT');
    }
    console.log(`     chunks per stream at the drain: ${JSON.stringify(atDrain)}`);
    assert.ok(atDrain.filter((c, i) => c > 0 && c < refs[i].final.eval_count).length >= 2, 'streams running when the drain came');
    for (const [i, o] of outs.entries()) {
      assert.equal(o.error, null, `stream ${i}: ${o.error}`);
      assert.equal(o.text, refs[i].text, `stream ${i} text`);
      assert.equal(o.final.eval_count, refs[i].final.eval_count, `stream ${i} eval_count`);
    }
    // Finished where they ran: no other node had to load the model to take them over.
    await sleep(1200);
    assert.equal(loadedOn(await status(gw)), srv.id, 'stories loaded on the drained node only');
    const u = await postJSON(other, '/api/cluster/undrain', { node: srv.name });
    assert.equal(u.status, 200, u.text);
    for (const n of nodes) await waitStatus(n, (st) => member(st, srv).state === 'up', 5000, 'undrained');
  });

  let srvKilled = false;
  await t('8 streams through two gateways; the serving node is SIGKILLed mid-stream; every text is the uninterrupted greedy text', async () => {
    const reqs = PROMPTS.map((p, i) => ({ label: JSON.stringify(p), path: '/api/generate', body: genBody(p, STOPS[i] ? { stop: STOPS[i] } : {}) }));
    // Through two gateways (even streams node0, odd ones node2), all served by node1.
    const { refs } = await failoverRound([nodes[0], nodes[2]], nodes[1], reqs, () => (srvKilled = true));
    for (const [i, r] of refs.entries()) {
      const ids = r.objs.flatMap((o) => o._om_tokens || []);
      assert.equal(ids.length, r.final.eval_count, `reference ${i}: _om_tokens add up to eval_count`);
      assert.ok(r.final.eval_count >= 10, `reference ${i}: ${r.final.eval_count} tokens`);
      if (STOPS[i]) assert.equal(r.final.done_reason, 'stop', `reference ${i} ends at its stop sequence: ${JSON.stringify(r.text)}`);
    }
  });

  await t('after the failover: the dead node is down, the others still serve', async () => {
    assert.ok(srvKilled, 'needs the previous test to have killed the serving node');
    const dead = nodes[1];
    const rest = [nodes[0], nodes[2]];
    for (const n of rest) await waitStatus(n, (s) => member(s, dead).state === 'down', 6000, 'the killed node marked down');
    for (const n of rest) {
      const o = await streamPost(n, '/api/generate', genBody(PROMPTS[0]), { timeout: 30000 });
      assert.equal(o.error, null);
      assert.ok(o.final);
    }
    const s = await status(nodes[2]);
    assert.ok(rest.some((n) => n.id === s.leader), 'a live leader');
  });
  await t('chat and OpenAI streams fail over too, the serving node being the Raft leader (the first killed node back first)', async () => {
    assert.ok(srvKilled, 'needs the first failover');
    await restart(nodes[1]);
    for (const n of nodes) {
      await waitStatus(n, (s) => s.nodes.every((m) => m.state === 'up' && m.models.includes('stories:latest')), 15000, 'all up, all holding stories');
    }
    const reqs = [];
    for (const p of PROMPTS.slice(0, 4)) {
      reqs.push({ label: `chat ${JSON.stringify(p)}`, path: '/api/chat',
        body: { model: 'stories', messages: [{ role: 'user', content: p }], stream: true, options: { temperature: 0, num_predict: NUM_PREDICT } } });
    }
    for (const p of PROMPTS.slice(4, 6)) {
      reqs.push({ label: `v1 ${JSON.stringify(p)}`, path: '/v1/chat/completions', sse: true,
        body: { model: 'stories', messages: [{ role: 'user', content: p }], stream: true, temperature: 0, max_tokens: NUM_PREDICT, stream_options: { include_usage: true } } });
    }
    // This time the serving node is the Raft leader.
    const s = await status(nodes[0]);
    const srv = nodes.find((n) => n.id === s.leader);
    assert.ok(srv, `leader ${s.leader} is one of ours`);
    const gw = nodes.find((n) => n !== srv);
    console.log(`     serving node: the leader ${srv.label}; gateway ${gw.label}`);
    await failoverRound(gw, srv, reqs);
    const rest = nodes.filter((n) => n !== srv);
    await waitStatus(rest[0], (st) => st.leader && st.leader !== srv.id && rest.some((n) => n.id === st.leader), 5000, 'a new leader');
  });

  await t('requests (generate streamed and not, /v1 chat, embed) sent to a node that hangs (SIGSTOP, not yet marked down) are served elsewhere', async () => {
    const alive = nodes.filter((n) => n.proc && n.proc.exitCode === null && n.proc.signalCode === null);
    assert.ok(alive.length >= 2, `two live nodes (${alive.map((n) => n.label)})`);
    const [srv, gw] = alive;
    const fwd = { 'X-OllamaMax-Forwarded': nodes.token };
    for (const n of alive) assert.equal((await postJSON(n, '/api/generate', { model: 'stories', keep_alive: 0 }, 10000, fwd)).status, 200);
    const ref = await streamPost(srv, '/api/generate', genBody(PROMPTS[7]), { headers: fwd, timeout: 30000 });
    assert.equal(ref.error, null);
    await waitStatus(gw, (s) => s.nodes.filter((m) => m.state === 'up' && m.loaded.includes('stories:latest')).map((m) => m.id).join() === srv.id,
      5000, 'stories loaded on the node about to hang only');
    const embRef = await postJSON(srv, '/api/embed', { model: 'stories', input: ['Once upon a time'] }, 20000, fwd);
    assert.equal(embRef.status, 200, embRef.text);
    const t0 = Date.now();
    srv.proc.kill('SIGSTOP');
    let o, emb, whole, v1;
    try {
      const timed = async (what, p) => {
        try {
          return await p;
        } finally {
          console.log(`     ${what} answered after ${Date.now() - t0} ms`);
        }
      };
      const fail = (e) => ({ status: 0, text: String(e) });
      [o, emb, whole, v1] = await Promise.all([
        timed('generate', streamPost(gw, '/api/generate', genBody(PROMPTS[7]), { timeout: 20000 })),
        timed('embed', postJSON(gw, '/api/embed', { model: 'stories', input: ['Once upon a time'] }, 20000).catch(fail)),
        timed('generate (stream false)', postJSON(gw, '/api/generate', { ...genBody(PROMPTS[7]), stream: false }, 20000).catch(fail)),
        timed('/v1/chat/completions', postJSON(gw, '/v1/chat/completions',
          { model: 'stories', messages: [{ role: 'user', content: 'Once' }], max_tokens: 8 }, 20000).catch(fail)),
      ]);
    } finally {
      srv.proc.kill('SIGCONT');
    }
    assert.equal(whole.status, 200, `generate (stream false) through the gateway: ${whole.text}`);
    assert.equal(whole.json.response, ref.text);
    assert.equal(v1.status, 200, `/v1/chat/completions through the gateway: ${v1.text}`);
    assert.equal(emb.status, 200, `embed through the gateway: ${emb.text}`);
    const cos = (a, b) => a.reduce((x, v, i) => x + v * b[i], 0);
    assert.ok(cos(emb.json.embeddings[0], embRef.json.embeddings[0]) > 0.999, 'the same embedding');
    assert.equal(o.error, null, o.error);
    assert.ok(o.final, 'a final chunk');
    assert.equal(o.text, ref.text);
    assert.equal(o.final.eval_count, ref.final.eval_count);
    await waitStatus(gw, (s) => member(s, srv).state === 'up', 5000, 'the hung node up again');
  });

} catch (e) {
  fails++;
  console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
}
if (fails > 0) dumpLogs(nodes, 60);
fails += await stopAllChecked(nodes);
rmSync(work, { recursive: true, force: true });
const rc = summary();
process.exit(fails > 0 ? 1 : rc);
