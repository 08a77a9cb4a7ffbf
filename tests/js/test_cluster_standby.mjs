// End-to-end (issue 4): at most 5 voters. Six nodes form a cluster: five voters
// and one standby; a voter SIGKILLed for good is replaced by the standby (the
// leader promotes it after the voter has been down for 10 s); writes keep
// working; the lost node, restarted, comes back up as a standby; a node joining
// through a follower just after the leader died gets in.
// Usage: node test_cluster_standby.mjs BIN SHARED_DIR (needs no model)
import assert from 'node:assert/strict';
import { summary } from './lib/server.mjs';
import {
  startCluster, makeNode, joinNode, status, waitStatus, member, kill, restart, stopAll, stopAllChecked, dumpLogs, watchdog, testOk, setSetting, brief, bound,
} from './lib/cluster.mjs';

const [bin] = process.argv.slice(2);
const nodes = [];
watchdog(150000, nodes);
let fails = 0;
const t = async (name, fn) => {
  if (!(await testOk(name, fn))) fails++;
};
const roles = (s) => s.nodes.map((m) => m.role);
const count = (s, role) => s.nodes.filter((m) => m.role === role).length;

try {
  await t('six nodes: five voters and one standby', async () => {
    const ns = await startCluster(bin, 6, { into: nodes, env: { OLLAMA_NUM_PARALLEL: '1' }, formTimeout: 40000 });
    for (const n of nodes) {
      await waitStatus(n, (s) => s.nodes.length === 6 && count(s, 'voter') === 5 && count(s, 'standby') === 1, 15000,
        'five voters and one standby');
    }
    const s = await status(nodes[0]);
    assert.deepEqual([...roles(s)].sort(), ['standby', 'voter', 'voter', 'voter', 'voter', 'voter'], brief(s));
  });
  if (!nodes.formed) throw new Error('the cluster did not form; the other tests need it');

  let lost = null;
  await t('a voter lost for good is replaced by the standby; writes keep working', async () => {
    const s = await status(nodes[0]);
    const standby = nodes.find((n) => member(s, n).role === 'standby');
    lost = nodes.find((n) => member(s, n).role === 'voter' && n.id !== s.leader);
    const rest = nodes.filter((n) => n !== lost);
    const t0 = Date.now();
    await kill(lost, 'SIGKILL');
    const v = await waitStatus(rest[0], (st) => member(st, standby).role === 'voter' && member(st, lost).role !== 'voter' &&
      count(st, 'voter') === 5 && st.nodes.filter((m) => m.role === 'voter').every((m) => m.state === 'up'), bound(20000),
      'the standby promoted, the lost voter demoted');
    console.log(`     promoted after ${Date.now() - t0} ms; lost node now ${member(v, lost).role}/${member(v, lost).state}`);
    for (const n of rest) {
      await waitStatus(n, (st) => member(st, standby).role === 'voter' && rest.some((x) => x.id === st.leader), 5000,
        'the promotion seen everywhere');
    }
    const answer = await setSetting(rest[2], rest, 'routing', 'round_robin');
    assert.ok(answer);
  });

  await t('the lost node restarts and comes back up as a standby', async () => {
    assert.ok(lost, 'needs the previous test');
    await restart(lost);
    for (const n of nodes) {
      await waitStatus(n, (st) => st.nodes.length === 6 && st.nodes.every((m) => m.state === 'up') && count(st, 'voter') === 5 &&
        member(st, lost).role === 'standby', 15000, 'six up, the returning node a standby');
    }
    const s = await status(lost);
    assert.equal(s.settings.routing, 'round_robin', 'the setting written while it was away');
  });
  await t('a node joining through a follower just after the leader died gets in once a new leader is elected', async () => {
    const s = await status(nodes[0]);
    const leader = nodes.find((n) => n.id === s.leader);
    const via = nodes.find((n) => n !== leader && member(s, n).role === 'voter');
    const late = await makeNode(bin, { label: 'node6', env: { OLLAMA_NUM_PARALLEL: '1' } });
    nodes.push(late);
    await kill(leader, 'SIGKILL');
    const t0 = Date.now();
    await joinNode(late, via, nodes.token, bound(15000));
    const rest = nodes.filter((n) => n !== leader);
    await waitStatus(via, (st) => member(st, late) && member(st, late).state === 'up' && rest.some((n) => n.id === st.leader), bound(15000),
      'the late node a member, a new leader');
    console.log(`     joined ${Date.now() - t0} ms after the leader's death`);
  });

} catch (e) {
  fails++;
  console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
}
if (fails > 0) dumpLogs(nodes, 40);
fails += await stopAllChecked(nodes);
const rc = summary();
process.exit(fails > 0 ? 1 : rc);
