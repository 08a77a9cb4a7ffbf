// End-to-end (issue 4): models across the cluster. A model pulled from the test
// registry on one node spreads to the others; a fourth node joins and gets it
// from its peers (the registry's blob GETs do not grow); a blob corrupted on one
// peer is never served as good, and the peer's copy becomes correct again; a
// slow copy shows in the cluster status (transfers); /api/tags and /v1/models
// list the cluster's models on every node; with replication 1 a new model is held
// by one or two nodes, generate/embed/v1/show work through every node, /api/ps
// names the holder, and a pull on a non-holder fetches it from the holder; copy
// and delete on one node apply everywhere.
// Usage: node test_cluster_models.mjs BIN SHARED_DIR
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createModel, sha256File, skip, summary, synth } from './lib/server.mjs';
import {
  storiesRegistry, startCluster, makeNode, joinNode, status, waitStatus, waitFor, member, stopAll, stopAllChecked, dumpLogs, watchdog, testOk,
  postJSON, getJSON, blobDigestOn, blobPath, fetchT, setSetting, bound,
} from './lib/cluster.mjs';

const [bin, shared] = process.argv.slice(2);
const stories = join(shared || '', 'models/stories260K.gguf');
const tiny = join(shared || '', 'models/llama-2-tiny-random.gguf');
if (!existsSync(stories) || !existsSync(tiny)) skip(`${stories} or ${tiny} is absent: the cluster tests need ../shared/models`);

const nodes = [];
watchdog(150000, nodes);
let fails = 0;
const t = async (name, fn) => {
  if (!(await testOk(name, fn))) fails++;
};

const work = mkdtempSync(join(tmpdir(), 'omx-cluster-models-'));
const { reg, pulled, modelDigest } = await storiesRegistry(join(work, 'registry'), stories);
const holdsPulled = (m) => m.models.includes(pulled);

try {
  await t('three nodes; a model pulled on one node spreads to the others', async () => {
    const ns = await startCluster(bin, 3, { into: nodes, env: { OLLAMA_NUM_PARALLEL: '2' } });
    const r = await postJSON(nodes[0], '/api/pull', { model: pulled, insecure: true, stream: false }, 30000);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'success', r.text);
    for (const n of nodes) {
      await waitStatus(n, (s) => s.nodes.every(holdsPulled), 20000, `${pulled} on every node`);
      await waitFor(() => blobDigestOn(n, modelDigest) === modelDigest, 10000, `the model blob on ${n.label}`);
    }
    console.log(`     registry after 3 nodes: ${JSON.stringify({ blobGets: reg.stats.blobGets, bytes: reg.stats.bytesServed, data: reg.stats.dataRequests })}`);
  });
  if (!nodes.formed) throw new Error('the cluster did not form; the other tests need it');

  await t('a 4th node joins and gets the model from its peers, not from the registry', async () => {
    const before = { ...reg.stats };
    const n3 = await makeNode(bin, { label: 'node3', env: { OLLAMA_NUM_PARALLEL: '2' } });
    nodes.push(n3);
    await joinNode(n3, nodes[1], nodes.token);
    for (const n of nodes) await waitStatus(n, (s) => s.nodes.length === 4 && s.nodes.every((m) => m.state === 'up'), 15000, 'four members up');
    await waitStatus(n3, (s) => holdsPulled(member(s, n3)), 20000, `${pulled} held by node3`);
    assert.equal(blobDigestOn(n3, modelDigest), modelDigest, 'node3 has the exact bytes');
    const after = reg.stats;
    assert.equal(after.blobGets, before.blobGets, `registry blob GETs ${before.blobGets} -> ${after.blobGets}`);
    assert.equal(after.bytesServed, before.bytesServed, `registry bytes ${before.bytesServed} -> ${after.bytesServed}`);
    const s = await status(n3);
    const me = member(s, n3);
    assert.ok(!me.transfers || Array.isArray(me.transfers), 'transfers is an array');
    const g = await postJSON(n3, '/api/generate', { model: pulled, prompt: 'Once', raw: true, stream: false, options: { num_predict: 4 } }, 30000);
    assert.equal(g.status, 200, g.text);
  });

  await t('a blob corrupted on a peer is never served as good and is fetched again', async () => {
    const victim = nodes[1];
    const path = blobPath(victim, modelDigest);
    const size = statSync(path).size;
    const before = reg.stats.blobGets;
    const fd = openSync(path, 'r+');
    try {
      const junk = Buffer.alloc(4096, 0x5a);
      writeSync(fd, junk, 0, junk.length, Math.floor(size / 2));
    } finally {
      closeSync(fd);
    }
    assert.notEqual(sha256File(path), modelDigest, 'the file is corrupt now');
    // A peer asks for it: 410 (it failed its check now), 404 (already found bad and removed,
    // refetch under way) or, if already repaired, exactly the right bytes; never the bad ones.
    const r = await fetchT(`${victim.api}/api/cluster/blob/${modelDigest}`, { headers: { Authorization: `Bearer ${nodes.token}` } }, 15000);
    const body = Buffer.from(await r.arrayBuffer());
    console.log(`     blob endpoint on the corrupted peer: ${r.status}`);
    if (r.status === 200) {
      assert.equal('sha256:' + createHash('sha256').update(body).digest('hex'), modelDigest, 'a 200 answer carries the right bytes');
    } else {
      assert.ok(r.status === 410 || r.status === 404, `blob endpoint answered ${r.status} ${body.toString().slice(0, 200)}`);
    }
    const noAuth = await fetchT(`${victim.api}/api/cluster/blob/${modelDigest}`, {}, 5000);
    assert.equal(noAuth.status, 403);
    await waitFor(() => blobDigestOn(victim, modelDigest) === modelDigest, 20000, 'the repaired blob on the victim');
    assert.equal(reg.stats.blobGets, before, 'repaired from peers, not from the registry');
    const others = nodes.filter((n) => n !== victim);
    for (const n of others) assert.equal(blobDigestOn(n, modelDigest), modelDigest, `${n.label} unaffected`);
    const s = await waitStatus(others[0], (st) => holdsPulled(member(st, victim)), 10000, 'the victim holds the model again');
    assert.ok(s);
  });

  await t('a transfer in progress shows in the cluster status, then the blob is whole', async () => {
    // 56 MiB (F16), served by one node that runs 4 ms out of every 44 (SIGSTOP/SIGCONT),
    // so the copies take seconds and the reports catch them under way.
    const big = join(work, 'mid.gguf');
    execFileSync(bin, ['synth', '--arch', 'llama', '--n-embd', '768', '--n-layer', '4', '--n-head', '8', '--n-head-kv', '8',
      '--n-ff', '2048', '--type', 'f16', '-o', big], { stdio: 'pipe' });
    const digest = sha256File(big);
    const size = statSync(big).size;
    const src = nodes[0];
    assert.equal((await createModel(src.api, 'mid', big)).status, 'success');
    let duty = true;
    const cycler = (async () => {
      while (duty) {
        src.proc.kill('SIGSTOP');
        await new Promise((r) => setTimeout(r, 40));
        src.proc.kill('SIGCONT');
        await new Promise((r) => setTimeout(r, 4));
      }
    })();
    const seen = [];
    try {
      await waitFor(async () => {
        const st = await status(nodes[1], 2000);
        for (const m of st.nodes) for (const x of m.transfers || []) if (x.digest === digest) seen.push({ node: m.name, ...x });
        return nodes.slice(1).every((n) => blobDigestOn(n, digest) === digest);
      }, bound(60000), 'the 56 MiB blob on every node');
    } finally {
      duty = false;
      await cycler;
      src.proc.kill('SIGCONT');
    }
    console.log(`     transfer entries seen: ${seen.length}; done values ${JSON.stringify([...new Set(seen.map((x) => x.done))].slice(0, 8))} of ${size}`);
    assert.ok(seen.length > 0, 'a transfer of the blob in some node\'s status');
    for (const x of seen) assert.ok(x.total === size && x.done >= 0 && x.done <= size, JSON.stringify(x));
    assert.ok(seen.some((x) => x.done > 0 && x.done < size), `progress under way: ${JSON.stringify([...new Set(seen.map((x) => x.done))])}`);
    for (const n of nodes) {
      await waitStatus(n, (st) => st.nodes.every((m) => m.models.includes('mid:latest') && !(m.transfers || []).some((x) => x.digest === digest)),
        10000, 'mid held everywhere, no transfer left');
    }
    const d = await fetchT(`${nodes[2].api}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'mid' }) });
    assert.equal(d.status, 200, await d.text());
  });

  await t('/api/tags on any node lists the cluster models', async () => {
    assert.equal((await createModel(nodes[2].api, 'tiny', tiny)).status, 'success');
    for (const n of nodes) {
      await waitFor(async () => {
        const tags = await getJSON(n, '/api/tags');
        const names = tags.models.map((m) => m.name);
        return names.includes('tiny:latest') && names.includes(pulled);
      }, 15000, `both models in /api/tags of ${n.label}`);
      const show = await postJSON(n, '/api/show', { model: 'tiny' });
      assert.equal(show.status, 200, show.text);
      const v1 = await getJSON(n, '/v1/models');
      const ids = v1.data.map((m) => m.id);
      assert.ok(ids.includes('tiny:latest') && ids.includes(pulled), `/v1/models on ${n.label}: ${ids}`);
    }
  });

  await t('replication 1: a new model on one or two nodes, every node serves it (proxied), /api/ps names the holder', async () => {
    await setSetting(nodes[0], nodes, 'replication', '1');
    try {
      await soloChecks();
    } finally {
      await setSetting(nodes[1], nodes, 'replication', '0');
    }
    const holders = (s) => s.nodes.filter((m) => m.models.includes('solo:latest')).map((m) => m.id);
    await waitStatus(nodes[3], (s) => holders(s).length === nodes.length, 20000, 'solo on every node with replication 0');
  });

  async function soloChecks() {
    const solo = synth(bin, 'llama', join(work, 'solo.gguf'));
    assert.equal((await createModel(nodes[2].api, 'solo', solo)).status, 'success');
    const holders = (s) => s.nodes.filter((m) => m.models.includes('solo:latest')).map((m) => m.id);
    // The placed node holds it; the creating node may keep its own copy too.
    let held = null;
    let seen = [];
    await waitFor(async () => {
      const h = holders(await status(nodes[0])).sort();
      seen = h;
      if (h.length < 1 || h.length > 2) return (held = null);
      const key = h.join();
      if (held && held.key === key && Date.now() - held.since > 2000) return true;
      if (!held || held.key !== key) held = { key, ids: h, since: Date.now() };
      return false;
    }, 15000, 'one or two holders of solo (placed + creator), stable for 2 s').catch((e) => {
      e.message += `; holders last seen: ${JSON.stringify(seen.map((id) => nodes.find((n) => n.id === id)?.label ?? id))}`;
      throw e;
    });
    const holding = nodes.filter((n) => held.ids.includes(n.id));
    const other = nodes.find((n) => !held.ids.includes(n.id));
    console.log(`     solo held by ${holding.map((n) => n.label)} only`);
    for (const n of nodes) {
      const g = await postJSON(n, '/api/generate', { model: 'solo', prompt: 'x', raw: true, stream: false, options: { num_predict: 2 } }, 30000);
      assert.equal(g.status, 200, `generate solo on ${n.label}: ${g.text}`);
      assert.equal(g.json.done, true);
    }
    const emb = await postJSON(other, '/api/embed', { model: 'solo', input: ['hello', 'world'] }, 30000);
    assert.equal(emb.status, 200, `embed on a non-holder: ${emb.text}`);
    assert.equal(emb.json.embeddings.length, 2);
    const v1 = await postJSON(other, '/v1/chat/completions', { model: 'solo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }, 30000);
    assert.equal(v1.status, 200, `/v1/chat/completions on a non-holder: ${v1.text}`);
    assert.equal(v1.json.object, 'chat.completion');
    const show = await postJSON(other, '/api/show', { model: 'solo' });
    assert.equal(show.status, 200, `show solo on ${other.label} (not a holder): ${show.text}`);
    const showThere = await postJSON(holding[0], '/api/show', { model: 'solo' });
    // (the modelfile's FROM names a node's own blob path)
    const norm = (j) => ({ ...j, modelfile: String(j.modelfile).replace(/^FROM .*$/gm, 'FROM <blob>'), modified_at: 0 });
    for (const k of ['modelfile', 'parameters', 'template', 'details', 'model_info', 'capabilities']) {
      assert.deepEqual(norm(show.json)[k], norm(showThere.json)[k], `show solo: ${k} differs between a non-holder and a holder`);
    }
    const ps = await waitFor(async () => {
      const p = await getJSON(other, '/api/ps');
      return p.models.some((m) => m.name === 'solo:latest') ? p : false;
    }, 5000, `solo in /api/ps of ${other.label}`);
    const entries = ps.models.filter((m) => m.name === 'solo:latest');
    assert.ok(entries.length >= 1, JSON.stringify(entries));
    for (const e of entries) {
      const h = holding.find((n) => n.id === e.node_id);
      assert.ok(h, `ps entry on a holder: ${JSON.stringify(e)}`);
      assert.equal(e.node, h.name, JSON.stringify(e));
    }
    // /api/tags on a non-holder shows the catalog entry with the holder's digest.
    const tagOf = async (n) => (await getJSON(n, '/api/tags')).models.find((m) => m.name === 'solo:latest');
    const here = await tagOf(other);
    const there = await tagOf(holding[0]);
    assert.ok(here && there, 'solo in both tags');
    assert.equal(here.digest, there.digest, 'the same manifest digest on a holder and a non-holder');
    // A pull on a non-holder fetches from the holder, with Ollama's pull statuses.
    const soloDigest = sha256File(solo);
    assert.equal(blobDigestOn(other, soloDigest), null, 'the non-holder lacks the blob before the pull');
    const res = await fetchT(`${other.api}/api/pull`, { method: 'POST', body: JSON.stringify({ model: 'solo' }) }, 30000);
    assert.equal(res.status, 200);
    const lines = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(!lines.some((l) => l.error), JSON.stringify(lines.filter((l) => l.error)));
    assert.equal(lines.at(-1).status, 'success', JSON.stringify(lines.slice(-3)));
    const blobLines = lines.filter((l) => l.digest === soloDigest);
    assert.ok(blobLines.length > 0, `a status line for the model blob: ${JSON.stringify(lines.slice(0, 6))}`);
    assert.ok(blobLines.some((l) => l.total === statSync(solo).size), JSON.stringify(blobLines.slice(-2)));
    assert.equal(blobDigestOn(other, soloDigest), soloDigest, 'the blob is on the non-holder after the pull');
    const third = nodes.find((n) => n !== other && !held.ids.includes(n.id));
    // A copy on a non-holder applies to the cluster like anywhere else (the catalog has it).
    const cp = await postJSON(third, '/api/copy', { source: 'solo', destination: 'solo-copy' });
    assert.equal(cp.status, 200, `copy on a non-holder (${third.label}): ${cp.text}`);
    await waitFor(async () => (await getJSON(nodes[0], '/api/tags')).models.some((m) => m.name === 'solo-copy:latest'), 10000, 'solo-copy in the catalog');
    const dc = await fetchT(`${third.api}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'solo-copy' }) });
    assert.equal(dc.status, 200, await dc.text());
  }

  await t('copy on one node applies to the cluster', async () => {
    for (const n of nodes) {
      await waitStatus(n, (st) => st.nodes.every((m) => m.models.includes('tiny:latest')), 20000, 'tiny held everywhere again (replication 0)');
    }
    const r = await postJSON(nodes[3], '/api/copy', { source: 'tiny', destination: 'tiny-copy' });
    assert.equal(r.status, 200, r.text);
    for (const n of nodes) {
      await waitStatus(n, (st) => st.nodes.every((m) => m.models.includes('tiny-copy:latest')), 15000, 'tiny-copy held by every node');
      const show = await postJSON(n, '/api/show', { model: 'tiny-copy' });
      assert.equal(show.status, 200, show.text);
    }
    const d = await fetchT(`${nodes[0].api}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'tiny-copy' }) });
    assert.equal(d.status, 200, await d.text());
    for (const n of nodes) {
      await waitStatus(n, (st) => st.nodes.every((m) => !m.models.includes('tiny-copy:latest') && m.models.includes('tiny:latest')), 15000,
        'tiny-copy gone, tiny kept');
    }
  });

  await t('delete on one node removes the model everywhere', async () => {
    for (const n of nodes) {
      await waitStatus(n, (st) => st.nodes.every((m) => m.models.includes('tiny:latest')), 15000, 'tiny held everywhere before the delete');
      const show = await postJSON(n, '/api/show', { model: 'tiny' });
      assert.equal(show.status, 200, `before the delete: ${show.text}`);
    }
    const r = await fetchT(`${nodes[1].api}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'tiny' }) });
    assert.equal(r.status, 200, await r.text());
    for (const n of nodes) {
      await waitFor(async () => {
        const names = (await getJSON(n, '/api/tags')).models.map((m) => m.name);
        if (names.includes('tiny:latest')) return false;
        const s = await status(n);
        if (s.nodes.some((m) => m.models.includes('tiny:latest'))) return false;
        const show = await postJSON(n, '/api/show', { model: 'tiny' });
        return show.status === 404;
      }, 15000, `tiny gone from ${n.label}`);
      const names = (await getJSON(n, '/api/tags')).models.map((m) => m.name);
      assert.ok(names.includes(pulled), 'the other model stays');
    }
    const tinyDigest = sha256File(tiny);
    await waitFor(() => nodes.every((n) => blobDigestOn(n, tinyDigest) === null), 15000, 'the tiny blob removed on every node');
  });
} catch (e) {
  fails++;
  console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
}
if (fails > 0) dumpLogs(nodes, 60);
fails += await stopAllChecked(nodes);
await reg.close();
rmSync(work, { recursive: true, force: true });
const rc = summary();
process.exit(fails > 0 ? 1 : rc);
