// End-to-end (issue 4): three `ollamamax serve` processes form a cluster on
// loopback; the status shape (HTTP and `cluster status`); a wrong token is
// refused (HTTP and a whole `serve --join`); the token goes to loopback clients
// only; the leader is SIGKILLed (a new leader within 2 s, a create and a setting
// keep working); the killed node restarts from its data dir and rejoins with the
// model created meanwhile; a SIGSTOPped node is marked down within 3 s and routed
// around, and is up again after SIGCONT; `ollamamax cluster leave` removes a node,
// which goes on as a single node. See docs/cluster.md.
// Usage: node test_cluster_form.mjs BIN SHARED_DIR
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { networkInterfaces } from 'node:os';
import { createModel, sha256File, skip, summary, sleep } from './lib/server.mjs';
import {
  startCluster, makeNode, startNode, status, waitStatus, waitFor, member, kill, restart, stopAll, stopAllChecked,
  dumpLogs, watchdog, testOk, setSetting, runCli, bound, postJSON, getJSON, blobDigestOn, streamPost, fetchT,
} from './lib/cluster.mjs';

const [bin, shared] = process.argv.slice(2);
const stories = join(shared || '', 'models/stories260K.gguf');
const tiny = join(shared || '', 'models/llama-2-tiny-random.gguf');
if (!existsSync(stories) || !existsSync(tiny)) skip(`${stories} or ${tiny} is absent: the cluster tests need ../shared/models`);

const HEX16 = /^[0-9a-f]{16}$/;
const nodes = [];
watchdog(150000, nodes);
let fails = 0;
const t = async (name, fn) => {
  if (!(await testOk(name, fn))) fails++;
};

const gen = (node, prompt, n = 8) =>
  postJSON(node, '/api/generate', { model: 'stories', prompt, raw: true, stream: false, options: { temperature: 0, num_predict: n } }, 30000);

try {
  await t('three nodes form a cluster; status has the documented fields', async () => {
    const ns = await startCluster(bin, 3, { into: nodes, env: { OLLAMA_NUM_PARALLEL: '2' } });
    assert.match(ns.token, /^omx-[0-9a-f]{64}$/);
    const ids = nodes.map((n) => n.id);
    assert.equal(new Set(ids).size, 3, `distinct ids: ${ids}`);
    for (const n of nodes) {
      const s = await status(n);
      assert.equal(s.cluster, true);
      assert.equal(s.self, n.id);
      assert.match(s.self, HEX16);
      assert.ok(ids.includes(s.leader), `leader ${s.leader} is one of ${ids}`);
      assert.ok(Number.isInteger(s.term) && s.term >= 1, `term ${s.term}`);
      assert.equal(s.nodes.length, 3, JSON.stringify(s.nodes));
      for (const m of s.nodes) {
        assert.match(m.id, HEX16);
        assert.equal(typeof m.name, 'string');
        assert.ok(m.name.length > 0);
        const h = nodes.find((x) => x.id === m.id);
        assert.equal(m.api_addr, h.apiAddr);
        assert.equal(m.raft_addr, h.raftAddr);
        assert.equal(m.state, 'up');
        assert.equal(m.role, 'voter');
        assert.ok(Array.isArray(m.models), 'models is an array');
        assert.ok(Array.isArray(m.loaded), 'loaded is an array');
        assert.ok(Number.isInteger(m.active) && m.active >= 0, `active ${m.active}`);
        assert.ok(Number.isInteger(m.queued) && m.queued >= 0, `queued ${m.queued}`);
      }
      assert.equal(s.settings.routing, 'least_loaded');
      assert.equal(s.settings.replication, '0');
    }
    const s0 = await status(nodes[0]);
    const me = member(s0, nodes[0]);
    assert.ok(me.name.endsWith(`:${nodes[0].port}`), `default name <hostname>:<port>: ${me.name}`);
    const listed = await getJSON(nodes[1], '/api/cluster/nodes');
    assert.deepEqual(listed.nodes.map((m) => m.id).sort(), [...ids].sort());
    const settings = await getJSON(nodes[2], '/api/cluster/settings');
    assert.deepEqual(settings, { routing: 'least_loaded', replication: '0' });
    const cli = await runCli(nodes[1], ['cluster', 'status', '--json']);
    assert.equal(cli.code, 0, `cluster status --json: ${cli.stdout}${cli.stderr}`);
    const cs = JSON.parse(cli.stdout);
    assert.equal(cs.self, nodes[1].id);
    assert.deepEqual(cs.nodes.map((m) => m.id).sort(), [...ids].sort());
    const table = await runCli(nodes[1], ['cluster', 'status']);
    assert.equal(table.code, 0, table.stderr);
    for (const n of nodes) assert.ok(table.stdout.includes(n.name), `the table names ${n.name}:\n${table.stdout}`);
  });
  if (!nodes.formed) throw new Error('the cluster did not form; the other tests need it');

  await t('a wrong token is refused with a clear error; the node does not appear', async () => {
    const bad = 'omx-' + '0'.repeat(64);
    const body = { id: '00000000000000aa', name: 'intruder', api_addr: '127.0.0.1:1', raft_addr: '127.0.0.1:2' };
    let r = await postJSON(nodes[1], '/api/cluster/join', body, 5000, { Authorization: `Bearer ${bad}` });
    assert.equal(r.status, 403, r.text);
    assert.deepEqual(r.json, { error: 'cluster token rejected' });
    r = await postJSON(nodes[0], '/api/cluster/join', body, 5000);
    assert.equal(r.status, 403, r.text);
    r = await postJSON(nodes[0], '/api/cluster/propose', { op: 'setting_put', key: 'routing', value: 'round_robin' }, 5000,
      { Authorization: `Bearer ${bad}` });
    assert.equal(r.status, 403, r.text);
    // A whole `serve --join` with a wrong token: a clear refusal, and no new member.
    const intruder = await makeNode(bin, { label: 'intruder' });
    try {
      const started = startNode(intruder, ['--join', nodes[0].apiAddr, '--token', bad], { timeout: 15000 }).catch((e) => e);
      await waitFor(() => /token/i.test(intruder.log) && /reject|refus|denied|invalid|wrong|403/i.test(intruder.log),
        15000, 'the refusal in the joining node\'s output');
      await started;
      // Either it exited non-zero or it stays out of the cluster; it must not be a member.
      await sleep(1500);
      if (intruder.proc.exitCode !== null) assert.notEqual(intruder.proc.exitCode, 0, 'a refused join exits non-zero');
      for (const n of nodes) {
        const s = await status(n);
        assert.equal(s.nodes.length, 3, `members after the refused join: ${JSON.stringify(s.nodes.map((m) => m.name))}`);
        assert.ok(!s.nodes.some((m) => m.api_addr === intruder.apiAddr));
      }
    } finally {
      await kill(intruder, 'SIGKILL');
    }
  });

  await t('the token only to loopback clients; internal calls need it', async () => {
    const ext = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
    for (const [path, body] of [['/api/cluster/report', { id: nodes[1].id, seq: 1 }], ['/api/cluster/remove', { id: nodes[2].id }]]) {
      const r = await postJSON(nodes[0], path, body, 5000, { Authorization: 'Bearer omx-' + 'f'.repeat(64) });
      assert.equal(r.status, 403, `${path} with a wrong token: ${r.status} ${r.text}`);
    }
    if (!ext) {
      console.log('     SKIP the non-loopback part: this machine has no non-loopback IPv4 address');
      return;
    }
    const solo = await makeNode(bin, { label: 'wide' });
    solo.env.OLLAMA_HOST = `0.0.0.0:${solo.port}`;
    try {
      await startNode(solo, ['--cluster-init']);
      await waitStatus(solo, (s) => !!s.leader, 10000, 'a one-node cluster');
      const local = await getJSON(solo, '/api/cluster/token');
      assert.match(local.token, /^omx-[0-9a-f]{64}$/);
      const r = await fetchT(`http://${ext.address}:${solo.port}/api/cluster/token`, {}, 5000);
      const text = await r.text();
      assert.equal(r.status, 403, `token from ${ext.address}: ${r.status} ${text}`);
      assert.ok(!text.includes(local.token));
      const st = await fetchT(`http://${ext.address}:${solo.port}/api/cluster/status`, {}, 5000);
      assert.equal(st.status, 200, 'the status is public');
      assert.ok(!(await st.text()).includes(local.token), 'the status does not carry the token');
    } finally {
      await kill(solo, 'SIGKILL');
    }
    const s = await status(nodes[0]);
    assert.equal(s.nodes.length, 3, 'the wrong-token calls changed nothing');
  });

  await t('a model created on a follower reaches every node', async () => {
    const s = await status(nodes[0]);
    const follower = nodes.find((n) => n.id !== s.leader);
    const last = await createModel(follower.api, 'stories', stories);
    assert.equal(last.status, 'success');
    const digest = sha256File(stories);
    for (const n of nodes) {
      await waitStatus(n, (st) => st.nodes.every((m) => m.models.includes('stories:latest')), 20000, 'stories on all nodes');
      await waitFor(() => blobDigestOn(n, digest) === digest, 10000, `the stories blob on ${n.label}`);
    }
  });

  let killed = null;
  await t('SIGKILL the leader: a new leader within 2 s; a create and a setting still work', async () => {
    const s = await status(nodes[0]);
    killed = nodes.find((n) => n.id === s.leader);
    const survivors = nodes.filter((n) => n !== killed);
    const t0 = Date.now();
    await kill(killed, 'SIGKILL');
    // Each survivor polled on its own (every 50 ms): the first one to name a new leader.
    let newLeader = null;
    const seenAt = await Promise.all(survivors.map((n) => waitFor(async () => {
      const v = await status(n, 1000);
      if (!v.leader || v.leader === killed.id || !survivors.some((x) => x.id === v.leader)) return false;
      newLeader = newLeader || v.leader;
      return Date.now();
    }, 5000, `a new leader seen by ${n.label}`)));
    const dt = Math.min(...seenAt) - t0;
    console.log(`     new leader ${newLeader} after ${dt} ms`);
    // Writes through either survivor (one of them forwards to the leader).
    const last = await createModel(survivors[1].api, 'tiny', tiny);
    assert.equal(last.status, 'success');
    const answer = await setSetting(survivors[0], survivors, 'routing', 'round_robin');
    for (const n of survivors) {
      await waitStatus(n, (st) => survivors.every((x) => member(st, x).models.includes('tiny:latest')), 20000, 'tiny on the survivors');
    }
    const bad = await postJSON(survivors[0], '/api/cluster/settings', { key: 'routing', value: 'fastest' });
    assert.equal(bad.status, 400, bad.text);
    assert.ok(bad.json && bad.json.error, bad.text);
    assert.match(bad.json.error, /fastest|least_loaded/, 'the error names the bad value or the allowed ones');
    assert.ok(dt <= bound(2000), `new leader after ${dt} ms (limit ${bound(2000)})`);
    assert.equal(answer.routing, 'round_robin', `the POST's answer shows the change: ${JSON.stringify(answer)}`);
  });

  await t('the killed node restarts from its data dir, rejoins and gets the new model', async () => {
    assert.ok(killed, 'needs the previous test');
    await restart(killed);
    const others = nodes.filter((n) => n !== killed);
    for (const n of nodes) {
      await waitStatus(n, (st) => st.nodes.length === 3 && st.nodes.every((m) => m.state === 'up'), 15000, 'three members up after the restart');
    }
    const me = await status(killed);
    assert.equal(me.self, killed.id, 'same identity after the restart');
    assert.ok(others.some((n) => n.id === me.leader), 'the new leader keeps leading');
    assert.equal(me.settings.routing, 'round_robin', 'settings written while it was down');
    const digest = sha256File(tiny);
    await waitFor(() => blobDigestOn(killed, digest) === digest, 20000, 'the tiny blob on the restarted node');
    await waitStatus(others[0], (st) => member(st, killed).models.includes('tiny:latest'), 10000, 'tiny held by the restarted node');
    const g = await gen(killed, 'Once upon a time');
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.done, true);
  });

  await t('SIGSTOP: marked down within 3 s and routed around; up again after SIGCONT', async () => {
    const s = await status(nodes[0]);
    const stopped = nodes.find((n) => n.id !== s.leader && n !== killed) || nodes.find((n) => n.id !== s.leader);
    const survivors = nodes.filter((n) => n !== stopped);
    const t0 = Date.now();
    await kill(stopped, 'SIGSTOP');
    try {
      const seen = await Promise.all(survivors.map((n) => waitFor(async () => {
        const v = await status(n, 1000);
        return member(v, stopped).state === 'down' ? Date.now() - t0 : false;
      }, 8000, `the stopped node marked down by ${n.label}`)));
      const dt = Math.max(...seen);
      console.log(`     marked down after ${dt} ms (per survivor: ${seen.join(', ')} ms)`);
      assert.ok(dt <= bound(3000), `marked down after ${dt} ms (limit ${bound(3000)})`);
      // Requests to every survivor (round_robin is on: the rotation must skip the stopped node).
      const reqs = [];
      for (const n of survivors) for (let i = 0; i < 3; i++) reqs.push(gen(n, ['Once', 'The dog', 'Lily'][i], 6));
      const answers = await Promise.all(reqs);
      for (const a of answers) {
        assert.equal(a.status, 200, a.text);
        assert.equal(a.json.done, true, a.text);
      }
      const st = await streamPost(survivors[0], '/api/chat', { model: 'stories', messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 4 } }, { timeout: 20000 });
      assert.equal(st.error, null);
      assert.ok(st.final, 'a final chunk');
    } finally {
      await kill(stopped, 'SIGCONT');
    }
    const t1 = Date.now();
    for (const n of survivors) await waitStatus(n, (v) => member(v, stopped).state === 'up', 5000, 'the node up again after SIGCONT');
    console.log(`     up again after ${Date.now() - t1} ms`);
    const g = await gen(stopped, 'Tom');
    assert.equal(g.status, 200, g.text);
  });

  await t('`ollamamax cluster leave` removes a node cleanly', async () => {
    const s = await status(nodes[0]);
    const leaving = nodes.find((n) => n.id !== s.leader);
    const rest = nodes.filter((n) => n !== leaving);
    const out = await runCli(leaving, ['cluster', 'leave']);
    assert.equal(out.code, 0, `cluster leave: ${out.code}\n${out.stdout}\n${out.stderr}`);
    for (const n of rest) {
      await waitStatus(n, (v) => v.nodes.length === 2 && !v.nodes.some((m) => m.id === leaving.id) && rest.some((x) => x.id === v.leader),
        10000, 'two members and a leader after the leave');
    }
    // The two remaining voters still commit writes.
    const answer = await setSetting(rest[1], rest, 'routing', 'least_loaded');
    const g = await gen(rest[0], 'Once');
    assert.equal(g.status, 200, g.text);
    assert.equal(answer.routing, 'least_loaded', `the POST's answer shows the change: ${JSON.stringify(answer)}`);
    // The node that left goes on as a single node with its own models.
    const own = await gen(leaving, 'Once');
    assert.equal(own.status, 200, `the node that left: ${own.text}`);
    await new Promise((r) => setTimeout(r, 1500));
    for (const n of rest) assert.ok(!(await status(n)).nodes.some((m) => m.id === leaving.id), 'it does not come back by itself');
  });
} catch (e) {
  fails++;
  console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
}
if (fails > 0) dumpLogs(nodes, 60);
fails += await stopAllChecked(nodes);
const rc = summary();
process.exit(fails > 0 ? 1 : rc);
