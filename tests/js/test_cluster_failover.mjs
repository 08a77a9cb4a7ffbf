// End-to-end (issue 4): routing and mid-stream failover on a three-node cluster.
// A model created on one node reaches all; round_robin spreads requests over the
// nodes; a drained node gets no new requests; eight concurrent greedy streams sent to a gateway are served by another
// node, which is SIGKILLed mid-stream: every stream completes without an error
// line, with exactly the uninterrupted text and eval_count.
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
  startCluster, status, waitStatus, waitFor, member, kill, stopAll, dumpLogs, watchdog, testOk,
  postJSON, getJSON, blobDigestOn, streamPost, setSetting, brief, runCli,
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
const NUM_PREDICT = 60;
const genBody = (prompt) => ({ model: 'stories', prompt, raw: true, stream: true, options: { temperature: 0, num_predict: NUM_PREDICT } });

try {
  await t('three nodes; models created on one node reach all nodes', async () => {
    // 8 parallel sequences per node: all eight streams run at once on the serving node.
    const ns = await startCluster(bin, 3, { env: { OLLAMA_NUM_PARALLEL: '8' } });
    nodes.push(...ns);
    nodes.token = ns.token;
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
  if (nodes.length !== 3) throw new Error('the cluster did not form; the other tests need it');

  await t('round_robin spreads requests over the nodes', async () => {
    const answer = await setSetting(nodes[1], nodes, 'routing', 'round_robin');
    for (let i = 0; i < 6; i++) {
      const g = await postJSON(nodes[0], '/api/generate', { model: 'tiny', prompt: `hello ${i}`, raw: true, stream: false, options: { num_predict: 3 } }, 30000);
      assert.equal(g.status, 200, g.text);
      assert.equal(g.json.done, true);
    }
    // Six requests rotating over three candidates: the model is loaded on all three.
    const s = await waitStatus(nodes[0], (st) => st.nodes.filter((m) => m.loaded.includes('tiny:latest')).length === 3, 5000,
      'tiny loaded on all three nodes');
    console.log(`     loaded: ${JSON.stringify(s.nodes.map((m) => [m.name, m.loaded]))}`);
    await setSetting(nodes[2], nodes, 'routing', 'least_loaded');
    assert.equal(answer.routing, 'round_robin', `the POST's answer shows the change: ${JSON.stringify(answer)}`);
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

  let srvKilled = false;
  await t('8 streams; the serving node is SIGKILLed mid-stream; every text is the uninterrupted greedy text', async () => {
    const gw = nodes[0];
    const srv = nodes[1];
    const fwd = { 'X-OllamaMax-Forwarded': nodes.token };
    // Reference: the same 8 requests served by srv itself (the forwarded header makes it
    // serve locally, without proxying); this also loads the model on srv only.
    const refs = await Promise.all(PROMPTS.map((p) => streamPost(srv, '/api/generate', genBody(p), { headers: fwd, timeout: 30000 })));
    for (const [i, r] of refs.entries()) {
      assert.equal(r.error, null, `reference ${i}: ${r.error}`);
      assert.ok(r.final, `reference ${i} has a final chunk`);
      const ids = r.objs.flatMap((o) => o._om_tokens || []);
      assert.equal(ids.length, r.final.eval_count, `reference ${i}: _om_tokens add up to eval_count`);
      assert.ok(r.final.eval_count >= 10, `reference ${i}: ${r.final.eval_count} tokens`);
    }
    // The gateway sees stories loaded on srv only, so least_loaded sends all eight there.
    await waitStatus(gw, (s) => s.nodes.filter((m) => m.loaded.includes('stories:latest')).map((m) => m.id).join() === srv.id,
      5000, 'stories loaded on the serving node only');

    const state = PROMPTS.map(() => ({ chunks: 0, done: false }));
    const onObj = (i) => (o) => {
      if (o.done) state[i].done = true;
      else state[i].chunks++;
    };
    // Stopped before the requests: the gateway's requests wait in srv's socket; then
    // short CPU slices until every stream has its first few chunks.
    srv.proc.kill('SIGSTOP');
    const runs = PROMPTS.map((p, i) => streamPost(gw, '/api/generate', genBody(p), { timeout: 60000, onObj: onObj(i) }));
    await sleep(150);
    for (let k = 0; k < 50 && !state.every((x) => x.chunks >= 3) && !state.some((x) => x.done); k++) {
      srv.proc.kill('SIGCONT');
      await sleep(1);
      srv.proc.kill('SIGSTOP');
      await sleep(40);
    }
    const atKill = state.map((x) => (x.done ? 'done' : x.chunks));
    await kill(srv, 'SIGKILL');
    srvKilled = true;
    console.log(`     chunks per stream when the serving node was killed: ${JSON.stringify(atKill)}`);
    const mid = state.filter((x) => !x.done && x.chunks > 0).length;
    const outs = await Promise.all(runs);
    for (const [i, o] of outs.entries()) {
      assert.equal(o.error, null, `stream ${i}: ${o.error}`);
      assert.ok(o.final, `stream ${i} has a final chunk`);
      assert.ok(!o.objs.some((x) => x.error), `stream ${i}: an error line`);
      assert.ok(!o.objs.some((x) => '_om_tokens' in x || '_om_resume' in x), `stream ${i}: internal fields reached the client`);
      const show = (k) => `stream ${i} (${JSON.stringify(PROMPTS[i])}, ${atKill[i]} chunks at the kill) ${k}: ${JSON.stringify(k === 'text' ? o.text : o.final[k])}, uninterrupted ${JSON.stringify(k === 'text' ? refs[i].text : refs[i].final[k])}`;
      assert.equal(o.text, refs[i].text, show('text'));
      assert.equal(o.final.eval_count, refs[i].final.eval_count, show('eval_count'));
      assert.equal(o.final.prompt_eval_count, refs[i].final.prompt_eval_count, show('prompt_eval_count'));
      assert.equal(o.final.done_reason, refs[i].final.done_reason, show('done_reason'));
      assert.ok(o.final.total_duration > 0);
    }
    assert.ok(mid >= 4, `at least half the streams were mid-stream when the node died (per stream: ${JSON.stringify(atKill)})`);
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
} catch (e) {
  fails++;
  console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
}
if (fails > 0) dumpLogs(nodes, 60);
await stopAll(nodes);
rmSync(work, { recursive: true, force: true });
const rc = summary();
process.exit(fails > 0 ? 1 : rc);
