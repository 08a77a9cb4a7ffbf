// End-to-end: the serving side of the internal generation protocol
// (docs/cluster.md "Internal generation protocol"). A request carrying
// X-OllamaMax-Forwarded equal to the cluster token gets "_om_tokens" in every
// chunk, and "_om_resume" continues an interrupted greedy stream exactly:
// the text before the cut plus the resumed text is the uninterrupted text.
// Ordinary clients (no header, or a wrong token) see no change.
// Usage: node test_resume.mjs BIN SHARED_DIR
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, createModel, post, test, summary, skip } from './lib/server.mjs';

const [bin, shared] = process.argv.slice(2);
const stories = join(shared || '', 'models/stories260K.gguf');
if (!existsSync(stories)) skip(`${stories} is absent: the resume tests need ../shared/models`);

const TOKEN = 't1';
const FWD = { 'X-OllamaMax-Forwarded': TOKEN };
const srv = await startServer(bin, { OLLAMAMAX_CLUSTER_TOKEN: TOKEN, OLLAMA_NUM_PARALLEL: '2' });
const U = srv.url;

// Streams a request; returns {chunks, text, ids, final}.
async function run(path, body, headers = {}) {
  const r = await post(U, path, { stream: true, ...body }, { headers });
  const raw = await r.text();
  assert.equal(r.status, 200, raw);
  const chunks = raw.split('\n').filter((l) => l).map((l) => JSON.parse(l));
  const final = chunks[chunks.length - 1];
  assert.equal(final.done, true, raw);
  const piece = (c) => (c.message ? c.message.content || '' : c.response || '');
  const thought = (c) => (c.message ? c.message.thinking || '' : c.thinking || '');
  let text = '', thinking = '';
  const ids = [];
  for (const c of chunks) {
    text += piece(c);
    thinking += thought(c);
    if (c._om_tokens) ids.push(...c._om_tokens);
  }
  return { chunks, text, thinking, ids, final, piece, thought };
}

const bodies = {
  generate: (opts) => ({ model: 'stories', prompt: 'Once upon a time', options: { temperature: 0, num_predict: 40, ...opts } }),
  chat: (opts) => ({ model: 'stories', messages: [{ role: 'user', content: 'Lily had a red ball' }], options: { temperature: 0, num_predict: 40, ...opts } }),
};

// Checks resumes at several chunk boundaries of a forwarded stream against the
// uninterrupted text.
async function checkResumes(kind, opts, extra = {}, every = false) {
  const path = `/api/${kind}`;
  const plain = await run(path, { ...bodies[kind](opts), ...extra });
  const fwd = await run(path, { ...bodies[kind](opts), ...extra }, FWD);
  assert.equal(fwd.text, plain.text, 'forwarded text = plain text');
  assert.ok(plain.text.length > 20, `some text: ${JSON.stringify(plain.text)}`);
  for (const c of plain.chunks) assert.equal(c._om_tokens, undefined, 'no _om_tokens without the header');
  for (const c of fwd.chunks) assert.ok(Array.isArray(c._om_tokens), `every chunk has _om_tokens: ${JSON.stringify(c)}`);
  assert.equal(fwd.ids.length, fwd.final.eval_count, 'every generated id is reported once');
  assert.equal(fwd.final.eval_count, plain.final.eval_count);
  // cut points: after chunk i (the ids a gateway holds when the stream breaks there)
  const cuts = [];
  let n = 0, before = '', thBefore = '';
  for (const c of fwd.chunks.slice(0, -1)) {
    n += c._om_tokens.length;
    before += fwd.piece(c);
    thBefore += fwd.thought(c);
    cuts.push({ k: n, before, thBefore });
  }
  const pick = (every ? cuts.map((_, i) => i) : [0, 1, 2, Math.floor(cuts.length / 2), cuts.length - 2, cuts.length - 1])
    .filter((i, j, a) => i >= 0 && i < cuts.length && a.indexOf(i) === j);
  assert.ok(pick.length >= 3);
  for (const i of pick) {
    const { k, before, thBefore } = cuts[i];
    const body = { ...bodies[kind](opts), ...extra, _om_resume: { tokens: fwd.ids.slice(0, k) } };
    const res = await run(path, body, FWD);
    assert.equal(before + res.text, plain.text, `cut after ${k} tokens`);
    assert.equal(thBefore + res.thinking, plain.thinking, `thinking, cut after ${k} tokens`);
    assert.deepEqual(res.ids, fwd.ids.slice(k), `ids after the cut (k=${k})`);
    assert.equal(res.final.eval_count, plain.final.eval_count, `eval_count (k=${k})`);
    // the original prompt's token count (plain runs may count fewer: prefix cache hits)
    if (plain.final.context)
      assert.equal(res.final.prompt_eval_count, plain.final.context.length - plain.final.eval_count, `prompt_eval_count (k=${k})`);
    assert.ok(res.final.prompt_eval_count >= plain.final.prompt_eval_count, `prompt_eval_count (k=${k})`);
    if (kind === 'generate') assert.deepEqual(res.final.context, plain.final.context, `context (k=${k})`);
    assert.equal(res.final.done_reason, plain.final.done_reason, `done_reason (k=${k})`);
  }
  return { plain, fwd };
}

try {
  await createModel(U, 'stories', stories);

  await test('generate: forwarded stream carries ids; resumes continue exactly', async () => {
    const { plain, fwd } = await checkResumes('generate', {});
    // all ids: nothing left to generate when num_predict is reached
    if (plain.final.done_reason === 'length') {
      const body = { ...bodies.generate({}), _om_resume: { tokens: fwd.ids } };
      const res = await run('/api/generate', body, FWD);
      assert.equal(res.text, '');
      assert.equal(res.final.done_reason, 'length');
      assert.equal(res.final.eval_count, fwd.ids.length);
      assert.deepEqual(res.final._om_tokens, []);
    }
  });

  await test('chat: forwarded stream carries ids; resumes continue exactly', async () => {
    await checkResumes('chat', {});
  });

  await test('stop string held back across the cut', async () => {
    const plain = await run('/api/generate', bodies.generate({ num_predict: 60 }));
    const t = plain.text;
    const at = Math.floor(t.length * 0.6);
    const stop = t.slice(at, at + 7);
    assert.ok(stop.length === 7);
    const first = t.indexOf(stop);
    const r = await checkResumes('generate', { num_predict: 60, stop: [stop] });
    assert.equal(r.plain.text, t.slice(0, first), 'stopped before the stop string');
    assert.equal(r.plain.final.done_reason, 'stop');
    // some tokens were held back (a possible stop prefix) and came with a later chunk
    assert.ok(r.fwd.chunks.some((c) => c._om_tokens.length > 1), 'held-back ids reported later');
  });

  await test('grammar (format json) and logprobs continue across the cut', async () => {
    const r = await checkResumes('generate', { num_predict: 30 }, { format: 'json', logprobs: true, top_logprobs: 2 });
    assert.match(r.plain.text, /^\s*[{[]/, 'constrained output');
    const lp = r.fwd.chunks.flatMap((c) => c.logprobs || []);
    assert.equal(lp.length, r.fwd.ids.length, 'one logprobs entry per token');
  });

  await test('thinking/content split: the parser state continues across the cut', async () => {
    // thinking tags " Lily" … " play": the prompt opens thinking, the story closes it
    const tpl = '{{- range .Messages }}{{ if eq .Role "user" }}{{ .Content }}{{ else if eq .Role "assistant" }}' +
      '{{ if .Thinking }} Lily{{ .Thinking }} play{{ end }}{{ .Content }}{{ end }}{{ end }}{{ if .Think }} Lily{{ end }}';
    await createModel(U, 'thinker', stories, { template: tpl });
    const body = { model: 'thinker', think: true, messages: [{ role: 'user', content: 'Once upon a time' }] };
    const saved = bodies.chat;
    bodies.chat = (opts) => ({ ...body, options: { temperature: 0, num_predict: 40, ...opts } });
    try {
      const r = await checkResumes('chat', {}, {}, true);
      assert.ok(r.plain.thinking.length > 5 && r.plain.text.length > 5,
        `both parts: ${JSON.stringify([r.plain.thinking, r.plain.text])}`);
    } finally {
      bodies.chat = saved;
    }
  });

  await test('without the header: no _om_tokens, _om_resume refused', async () => {
    let r = await post(U, '/api/generate', { ...bodies.generate({}), _om_resume: { tokens: [1, 2] } });
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /_om_resume/);
    r = await post(U, '/api/chat', { ...bodies.chat({}), stream: false });
    const once = await r.json();
    assert.equal(once._om_tokens, undefined);
  });

  await test('wrong token: an ordinary request', async () => {
    for (const tok of ['t2', 't', 't1x', '']) {
      const res = await run('/api/generate', bodies.generate({ num_predict: 8 }), { 'X-OllamaMax-Forwarded': tok });
      for (const c of res.chunks) assert.equal(c._om_tokens, undefined, `token ${JSON.stringify(tok)}`);
      const r = await post(U, '/api/generate', { ...bodies.generate({}), _om_resume: { tokens: [1] } },
        { headers: { 'X-OllamaMax-Forwarded': tok } });
      assert.equal(r.status, 400);
    }
  });

  await test('bad _om_resume: ids checked', async () => {
    for (const bad of [{ tokens: [-1] }, { tokens: [100000000] }, { tokens: 'x' }, { tokens: [1.5] }, [1, 2],
      { tokens: new Array(5000).fill(1) }]) {
      const r = await post(U, '/api/generate', { ...bodies.generate({ num_ctx: 512 }), _om_resume: bad }, { headers: FWD });
      assert.equal(r.status, 400, JSON.stringify(bad).slice(0, 60));
      assert.match((await r.json()).error, /_om_resume|token/);
    }
  });
} finally {
  await srv.stop();
}
process.exit(summary());
