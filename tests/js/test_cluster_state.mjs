// End-to-end (issue 4): the replicated state across restarts. A node down while
// the others commit more entries than the snapshot threshold (256) catches up
// from a snapshot when it restarts; then the whole cluster is stopped (SIGTERM)
// and started again from its data dirs alone: the same members, settings and
// catalog, a leader, and writes work.
// Usage: node test_cluster_state.mjs BIN SHARED_DIR
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createModel, skip, summary } from './lib/server.mjs';
import {
  startCluster, status, waitStatus, member, kill, restart, stopAllChecked, dumpLogs, watchdog, testOk, setSetting,
  postJSON, getJSON, brief, bound,
} from './lib/cluster.mjs';

const [bin, shared] = process.argv.slice(2);
const stories = join(shared || '', 'models/stories260K.gguf');
if (!existsSync(stories)) skip(`${stories} is absent: the cluster tests need ../shared/models`);

const nodes = [];
watchdog(150000, nodes);
let fails = 0;
const t = async (name, fn) => {
  if (!(await testOk(name, fn))) fails++;
};
const ENTRIES = 640; // two snapshots (threshold 256, trailing 64): the leader no longer has the entries the lagging node lacks

try {
  await t('three nodes form', async () => {
    await startCluster(bin, 3, { into: nodes, env: { OLLAMA_NUM_PARALLEL: '1' } });
  });
  if (!nodes.formed) throw new Error('the cluster did not form; the other tests need it');

  await t(`a node down during ${ENTRIES} commits catches up (snapshot) when it restarts`, async () => {
    const s = await status(nodes[0]);
    const down = nodes.find((n) => n.id !== s.leader);
    const up = nodes.filter((n) => n !== down);
    await kill(down, 'SIGKILL');
    const t0 = Date.now();
    const values = ['round_robin', 'latency'];
    for (let i = 0; i < ENTRIES; i += 8) {
      const batch = [];
      for (let k = 0; k < 8; k++) {
        batch.push(postJSON(up[(i + k) % 2], '/api/cluster/settings', { key: 'routing', value: values[(i + k) % 2] }, 20000));
      }
      for (const r of await Promise.all(batch)) assert.equal(r.status, 200, r.text);
    }
    assert.equal((await createModel(up[0].api, 'stories', stories)).status, 'success');
    await setSetting(up[1], up, 'routing', 'prefix_affinity');
    await setSetting(up[0], up, 'replication', '2');
    console.log(`     ${ENTRIES + 3} commits in ${Date.now() - t0} ms with one node down`);
    await restart(down);
    const st = await waitStatus(down, (v) => v.settings.routing === 'prefix_affinity' && v.settings.replication === '2' && v.leader &&
      v.nodes.every((m) => m.state === 'up'), bound(15000), 'the restarted node caught up');
    assert.equal(st.self, down.id);
    await waitStatus(down, (v) => v.nodes.some((m) => m.models.includes('stories:latest')), 10000, 'the catalog on the restarted node');
    const tags = await getJSON(down, '/api/tags');
    assert.ok(tags.models.some((m) => m.name === 'stories:latest'), JSON.stringify(tags));
  });

  await t('the whole cluster stopped (SIGTERM) and started again from its data dirs', async () => {
    const before = await status(nodes[0]);
    for (const n of nodes) await kill(n, 'SIGTERM');
    for (const n of nodes) await restart(n);
    for (const n of nodes) {
      await waitStatus(n, (v) => v.leader && v.nodes.length === 3 && v.nodes.every((m) => m.state === 'up'), bound(15000), 'the cluster back');
    }
    const t1 = Date.now();
    // Reads come from each node's copy: the log entries after the last snapshot are
    // applied once the new leader has committed in its term, so allow a moment.
    for (const n of nodes) {
      await waitStatus(n, (v) => v.settings.routing === 'prefix_affinity' && v.settings.replication === '2', bound(10000),
        'the settings committed before the stop');
    }
    console.log(`     settings back on every node ${Date.now() - t1} ms after the cluster was up`);
    const after = await status(nodes[1]);
    assert.deepEqual(after.nodes.map((m) => [m.id, m.name, m.api_addr, m.raft_addr]).sort(),
      before.nodes.map((m) => [m.id, m.name, m.api_addr, m.raft_addr]).sort(), brief(after));
    assert.ok(after.term > before.term, `term ${before.term} -> ${after.term}`);
    const a = await setSetting(nodes[2], nodes, 'replication', '0');
    assert.equal(a.replication, '0');
    const body = { model: 'stories', prompt: 'Once', raw: true, stream: false, options: { num_predict: 4 } };
    const early = await postJSON(nodes[0], '/api/generate', body, 30000);
    if (early.status !== 200) {
      // Seen under load: for a moment after the restart no node reports holding the model
      // yet, and the gateway answers 404 for a model that is in the catalog.
      console.log(`     NOTE: generate right after the restart: ${early.status} ${early.text}; ${brief(await status(nodes[0]))}`);
    }
    await waitStatus(nodes[0], (v) => v.nodes.some((m) => m.models.includes('stories:latest')), bound(10000), 'a node reporting stories');
    const g = await postJSON(nodes[0], '/api/generate', body, 30000);
    assert.equal(g.status, 200, `generate through node0 after the restart: ${g.text}; ${brief(await status(nodes[0]))}`);
    for (const n of nodes) assert.equal(member(await status(n), n).state, 'up');
  });
} catch (e) {
  fails++;
  console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
}
if (fails > 0) dumpLogs(nodes, 40);
fails += await stopAllChecked(nodes);
const rc = summary();
process.exit(fails > 0 ? 1 : rc);
