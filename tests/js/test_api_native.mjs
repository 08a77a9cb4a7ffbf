// End-to-end: the native Ollama API of a live `ollamamax serve`, pinned at the
// HTTP level (status codes, error texts, stream shapes) on models created from
// ../shared/models and from random models made by `ollamamax synth`.
// Usage: node test_api_native.mjs BIN SHARED_DIR
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, createModel, synth, ndjson, post, test, summary, skip, sleep, sha256File } from './lib/server.mjs';
import { ggufWithString, ggufGetString } from './lib/gguf.mjs';

const [bin, shared] = process.argv.slice(2);
const stories = join(shared || '', 'models/stories260K.gguf');
if (!existsSync(stories)) skip(`${stories} is absent: the API tests need ../shared/models`);

const work = mkdtempSync(join(tmpdir(), 'omx-native-'));
const bert = synth(bin, 'bert', join(work, 'bert.gguf'));
const cliText = (prompt, n) =>
  execFileSync(bin, ['generate', '-m', stories, '-p', prompt, '-n', String(n), '--temp', '0'], { encoding: 'utf8' }).replace(/\n$/, '');

const srv = await startServer(bin, { OLLAMA_NUM_PARALLEL: '4', OLLAMA_KEEP_ALIVE: '5m' });
const U = srv.url;
try {
  await test('liveness, version, 404 and 405', async () => {
    let r = await fetch(U + '/');
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'Ollama is running');
    r = await fetch(U + '/', { method: 'HEAD' });
    assert.equal(r.status, 200);
    r = await fetch(U + '/api/version');
    assert.match((await r.json()).version, /^\d+\.\d+\.\d+$/);
    r = await fetch(U + '/api/nope');
    assert.equal(r.status, 404);
    assert.equal(await r.text(), '404 page not found');
    r = await fetch(U + '/api/generate');
    assert.equal(r.status, 405);
    assert.equal(await r.text(), '405 method not allowed');
  });

  await test('bad bodies: empty, broken JSON, wrong types, unknown model', async () => {
    let r = await post(U, '/api/generate', '');
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), { error: 'missing request body' });
    r = await post(U, '/api/chat', '{"model": ');
    assert.equal(r.status, 400);
    assert.ok((await r.json()).error);
    r = await post(U, '/api/chat', { messages: [] });
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), { error: 'model is required' });
    r = await post(U, '/api/generate', { model: 'missing-model', prompt: 'x' });
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: "model 'missing-model' not found" });
    r = await post(U, '/api/generate', { model: 'x', prompt: 5 });
    assert.equal(r.status, 400);
    r = await post(U, '/api/show', { model: 'missing-model' });
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: "model 'missing-model:latest' not found" });
  });

  await test('create from a GGUF blob; tags and show', async () => {
    const last = await createModel(U, 'stories', stories, { parameters: { temperature: 0 } });
    assert.equal(last.status, 'success');
    const tags = await (await fetch(U + '/api/tags')).json();
    const m = tags.models.find((x) => x.name === 'stories:latest');
    assert.ok(m, JSON.stringify(tags));
    assert.equal(m.model, 'stories:latest');
    assert.match(m.digest, /^[0-9a-f]{64}$/);
    assert.ok(m.size > 0);
    assert.equal(m.details.format, 'gguf');
    assert.equal(m.details.family, 'llama');
    const show = await (await post(U, '/api/show', { model: 'stories' })).json();
    assert.equal(show.model_info['general.architecture'], 'llama');
    assert.ok(show.capabilities.includes('completion'));
    assert.match(show.modelfile, /FROM /);
    assert.match(show.parameters, /temperature/);
    const bad = await post(U, '/api/blobs/sha256:' + '0'.repeat(64), 'abc');
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /digest mismatch/);
    const inval = await fetch(U + '/api/blobs/sha256:xyz', { method: 'HEAD' });
    assert.equal(inval.status, 400);
  });

  const ref = cliText('Once upon a time', 24);

  await test('generate raw, greedy: stream shape and the same text as the engine', async () => {
    const r = await post(U, '/api/generate', {
      model: 'stories', prompt: 'Once upon a time', raw: true, options: { temperature: 0, num_predict: 24 },
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /application\/x-ndjson/);
    const lines = await ndjson(r);
    const last = lines.at(-1);
    for (const l of lines.slice(0, -1)) {
      assert.equal(l.done, false);
      assert.equal(l.model, 'stories');
      assert.match(l.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    }
    assert.equal(last.done, true);
    assert.equal(last.done_reason, 'length');
    for (const k of ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration'])
      assert.ok(Number.isInteger(last[k]) && last[k] > 0, `${k}: ${last[k]}`);
    assert.equal(last.eval_count, 24);
    const text = lines.map((l) => l.response).join('');
    assert.equal(text, ref);
  });

  await test('generate stream:false returns one object with the whole text and context', async () => {
    const r = await post(U, '/api/generate', {
      model: 'stories', prompt: 'Once upon a time', raw: true, stream: false, options: { temperature: 0, num_predict: 24 },
    });
    assert.match(r.headers.get('content-type'), /application\/json/);
    const o = await r.json();
    assert.equal(o.response, ref);
    assert.equal(o.done, true);
    const t = await post(U, '/api/generate', {
      model: 'stories', prompt: 'Once upon a time', stream: false, options: { temperature: 0, num_predict: 8 },
    });
    const o2 = await t.json();
    assert.ok(Array.isArray(o2.context) && o2.context.length > 8, JSON.stringify(o2));
  });

  await test('request checks: raw+system, top_logprobs, option types, images, think', async () => {
    let r = await post(U, '/api/generate', { model: 'stories', prompt: 'x', raw: true, system: 's' });
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), { error: 'raw mode does not support template, system, or context' });
    r = await post(U, '/api/generate', { model: 'stories', prompt: 'x', logprobs: true, top_logprobs: 21 });
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), { error: 'top_logprobs must be between 0 and 20' });
    r = await post(U, '/api/generate', { model: 'stories', prompt: 'x', options: { temperature: 'hot' } });
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /option "temperature" must be of type float32/);
    r = await post(U, '/api/generate', { model: 'stories', prompt: 'x', images: ['aGVsbG8='] });
    assert.equal(r.status, 400);
    r = await post(U, '/api/generate', { model: 'stories', prompt: 'x', think: true });
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), { error: '"stories" does not support thinking' });
    r = await post(U, '/api/chat', { model: 'stories', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }] });
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /does not support tools/);
  });

  await test('chat: stream shape, stream:false, messages rendered by the template', async () => {
    await createModel(U, 'stories-chat', stories, {
      template: '{{ range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}assistant:',
      parameters: { temperature: 0, num_predict: 12 },
    });
    const body = { model: 'stories-chat', messages: [{ role: 'user', content: 'Once upon a time' }] };
    const lines = await ndjson(await post(U, '/api/chat', body));
    for (const l of lines.slice(0, -1)) {
      assert.equal(l.message.role, 'assistant');
      assert.equal(typeof l.message.content, 'string');
    }
    const last = lines.at(-1);
    assert.equal(last.done, true);
    assert.equal(last.message.content, '');
    const once = await (await post(U, '/api/chat', { ...body, stream: false })).json();
    assert.equal(once.message.content, lines.map((l) => l.message.content).join(''));
    assert.equal(once.eval_count, 12);
  });

  await test('format json and a JSON schema: the output parses and validates', async () => {
    // "json": every answer that ends by itself parses; answers cut by num_predict
    // are still JSON prefixes (they start with an object)
    let completed = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const o = await (await post(U, '/api/generate', {
        model: 'stories', prompt: 'Answer in JSON:', stream: false, format: 'json',
        options: { temperature: 1.0, seed, num_predict: 200 },
      })).json();
      assert.match(o.response, /^\s*\{/, JSON.stringify(o));
      if (o.done_reason === 'stop') {
        completed++;
        const v = JSON.parse(o.response);
        assert.equal(typeof v, 'object');
      }
    }
    // (this tiny story model writes strings that only num_predict ends; the
    // schema below bounds them, so there every answer must complete and validate)
    void completed;
    const schema = {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer' }, ok: { type: 'boolean' } },
      required: ['name', 'age', 'ok'],
    };
    const r2 = await post(U, '/api/chat', {
      model: 'stories', messages: [{ role: 'user', content: 'Tell me' }], stream: false, format: schema,
      options: { temperature: 0.7, seed: 3, num_predict: 300 },
    });
    const o2 = await r2.json();
    const v2 = JSON.parse(o2.message.content);
    assert.equal(typeof v2.name, 'string');
    assert.ok(v2.name.length <= 12);
    assert.ok(Number.isInteger(v2.age));
    assert.equal(typeof v2.ok, 'boolean');
  });

  await test('tools: rendered by the template, a call in the output comes back as tool_calls', async () => {
    const tmpl = '{{ if .Tools }}Tools: {{ json .Tools }}\n{{ end }}{{ range .Messages }}{{ .Role }}: {{ .Content }}'
      + '{{ if .ToolCalls }}{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ json .Function.Arguments }}}{{ end }}{{ end }}\n{{ end }}assistant:';
    await createModel(U, 'stories-tools', stories, { template: tmpl });
    const show = await (await post(U, '/api/show', { model: 'stories-tools' })).json();
    assert.ok(show.capabilities.includes('tools'), JSON.stringify(show.capabilities));
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    // the schema makes this tiny model write exactly a call, which the parser must return as tool_calls
    const format = { type: 'object', properties: { name: { const: 'get_weather' }, arguments: { type: 'object', properties: { city: { type: 'string', maxLength: 8 } }, required: ['city'], additionalProperties: false } }, required: ['name', 'arguments'], additionalProperties: false };
    const o = await (await post(U, '/api/chat', { model: 'stories-tools', stream: false, tools, format, messages: [{ role: 'user', content: 'Weather in Paris?' }], options: { temperature: 0, num_predict: 100 } })).json();
    assert.equal(o.message.content, '', JSON.stringify(o));
    assert.equal(o.message.tool_calls.length, 1, JSON.stringify(o));
    const call = o.message.tool_calls[0];
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof call.function.arguments.city, 'string');
    // history with the call and the tool's answer renders and runs
    const o2 = await (await post(U, '/api/chat', { model: 'stories-tools', stream: false, tools, messages: [
      { role: 'user', content: 'Weather in Paris?' }, { role: 'assistant', content: '', tool_calls: [call] },
      { role: 'tool', content: 'sunny', tool_name: 'get_weather' }], options: { num_predict: 4 } })).json();
    assert.equal(o2.done, true, JSON.stringify(o2));
  });

  await test('thinking: split into message.thinking, and think:false answers directly', async () => {
    const tmpl = '{{ range .Messages }}{{ .Role }}: {{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}\n{{ end }}'
      + 'assistant:{{ if .Think }}<think>{{ end }}';
    await createModel(U, 'stories-think', stories, { template: tmpl });
    const show = await (await post(U, '/api/show', { model: 'stories-think' })).json();
    assert.ok(show.capabilities.includes('thinking'), JSON.stringify(show.capabilities));
    const o = await (await post(U, '/api/chat', { model: 'stories-think', stream: false, think: true, messages: [{ role: 'user', content: 'Once upon a time' }], options: { temperature: 0, num_predict: 16 } })).json();
    assert.ok(o.message.thinking && o.message.thinking.length > 0, JSON.stringify(o));
    assert.equal(o.message.content, '');
    const o2 = await (await post(U, '/api/chat', { model: 'stories-think', stream: false, think: false, messages: [{ role: 'user', content: 'Once upon a time' }], options: { temperature: 0, num_predict: 16 } })).json();
    assert.ok(!o2.message.thinking, JSON.stringify(o2));
    assert.ok(o2.message.content.length > 0);
  });

  await test('prompts: the GGUF chat template — detected as a built-in, or rendered as Jinja', async () => {
    // a template no built-in matches: no TEMPLATE layer, the Jinja renders the prompt
    const jinja = "{% for m in messages %}<<{{ m['role'] | upper }}>>{{ m['content'] | trim }}\n{% endfor %}{% if add_generation_prompt %}<<ASSISTANT>>{% endif %}";
    const f = ggufWithString(stories, join(work, 'stories-jinja.gguf'), 'tokenizer.chat_template', jinja);
    await createModel(U, 'stories-jinja', f);
    let show = await (await post(U, '/api/show', { model: 'stories-jinja' })).json();
    assert.equal(show.template, '');
    let o = await (await post(U, '/api/chat', { model: 'stories-jinja', _debug_render_only: true, stream: false,
      messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: ' Hello ' }] })).json();
    assert.equal(o._debug_info.rendered_template, '<<SYSTEM>>Be kind.\n<<USER>>Hello\n<<ASSISTANT>>');
    o = await (await post(U, '/api/chat', { model: 'stories-jinja', stream: false, messages: [{ role: 'user', content: 'Hello' }], options: { num_predict: 3 } })).json();
    assert.equal(o.eval_count, 3);
    // Phi-3's own chat template (from the shared vocab file) is detected on create
    const phi3 = join(shared, 'models/vocab/ggml-vocab-phi-3.gguf');
    if (existsSync(phi3)) {
      const tpl = ggufGetString(phi3, 'tokenizer.chat_template');
      const g = ggufWithString(stories, join(work, 'stories-phi3.gguf'), 'tokenizer.chat_template', tpl);
      const digest = sha256File(g);
      const up = await fetch(U + '/api/blobs/' + digest, { method: 'POST', body: readFileSync(g) });
      assert.equal(up.status, 201);
      const statuses = await ndjson(await post(U, '/api/create', { model: 'stories-phi3', files: { 'm.gguf': digest } }));
      assert.ok(statuses.some((st) => /^using autodetected template /.test(st.status)), JSON.stringify(statuses));
      show = await (await post(U, '/api/show', { model: 'stories-phi3' })).json();
      assert.match(show.template, /<\|end\|>/);
      assert.match(show.parameters, /stop/);
      o = await (await post(U, '/api/chat', { model: 'stories-phi3', _debug_render_only: true, stream: false, messages: [{ role: 'user', content: 'Hi' }] })).json();
      assert.match(o._debug_info.rendered_template, /<\|user\|>\s*Hi\s*<\|end\|>\s*<\|assistant\|>/);
    } else {
      console.log(`note: ${phi3} absent, detection check skipped`);
    }
  });

  await test('create with quantize: F16 to Q4_K_M through the engine quantizer', async () => {
    const f16 = join(work, 'llama-f16.gguf');
    execFileSync(bin, ['synth', '--preset', 'tiny-llama', '--type', 'f16', '-o', f16], { stdio: 'pipe' });
    const digest = sha256File(f16);
    assert.equal((await fetch(U + '/api/blobs/' + digest, { method: 'POST', body: readFileSync(f16) })).status, 201);
    const st = await ndjson(await post(U, '/api/create', { model: 'llama-q4km', files: { 'llama.gguf': digest }, quantize: 'q4_K_M' }));
    assert.ok(st.some((x) => x.status === 'quantizing F16 model to Q4_K_M'), JSON.stringify(st.map((x) => x.status)));
    assert.equal(st.at(-1).status, 'success');
    const show = await (await post(U, '/api/show', { model: 'llama-q4km' })).json();
    assert.equal(show.details.quantization_level, 'Q4_K_M');
    const o = await (await post(U, '/api/generate', { model: 'llama-q4km', prompt: 'hello', stream: false, options: { num_predict: 4 } })).json();
    assert.equal(o.eval_count, 4);
    const bad = await post(U, '/api/create', { model: 'llama-bad', files: { 'llama.gguf': digest }, quantize: 'q9_X', stream: false });
    assert.equal(bad.status, 400);
    const nofrom = await post(U, '/api/create', { model: 'x' });
    assert.equal(nofrom.status, 400);
    assert.deepEqual(await nofrom.json(), { error: "neither 'from' or 'files' was specified" });
  });

  await test('hostile input: a corrupt GGUF, a huge body, a bad digest change nothing', async () => {
    const before = await (await fetch(U + '/api/tags')).json();
    // a truncated GGUF: the blob is accepted (bytes are bytes), create refuses it
    const buf = readFileSync(stories).subarray(0, 5000);
    const digest = 'sha256:' + (await import('node:crypto')).createHash('sha256').update(buf).digest('hex');
    assert.equal((await fetch(U + '/api/blobs/' + digest, { method: 'POST', body: buf })).status, 201);
    const r = await post(U, '/api/create', { model: 'broken', files: { 'm.gguf': digest }, stream: false });
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
    assert.ok((await r.json()).error.length > 0);
    // a JSON body past the server's cap
    const huge = '{"model":"stories","prompt":"' + 'x'.repeat(40 << 20) + '"}';
    const h = await post(U, '/api/generate', huge).catch((e) => ({ status: 'reset', e }));
    assert.ok(h.status === 413 || h.status === 'reset', `status ${h.status}`);
    // path tricks in a file name are refused
    const t = await post(U, '/api/create', { model: 'trick', files: { '../../etc/passwd': digest }, stream: false });
    assert.equal(t.status, 400);
    const after = await (await fetch(U + '/api/tags')).json();
    assert.deepEqual(after.models.map((m) => m.name).sort(), before.models.map((m) => m.name).sort());
    const ok = await (await post(U, '/api/generate', { model: 'stories', prompt: 'Once', raw: true, stream: false, options: { num_predict: 2 } })).json();
    assert.equal(ok.eval_count, 2, 'the server still answers');
  });

  await test('logprobs and top_logprobs', async () => {
    const o = await (await post(U, '/api/generate', {
      model: 'stories', prompt: 'Once', raw: true, stream: false, logprobs: true, top_logprobs: 3,
      options: { temperature: 0, num_predict: 5 },
    })).json();
    assert.equal(o.logprobs.length, 5);
    for (const lp of o.logprobs) {
      assert.equal(typeof lp.token, 'string');
      assert.ok(lp.logprob <= 0);
      assert.ok(Array.isArray(lp.bytes));
      assert.equal(lp.top_logprobs.length, 3);
      assert.ok(lp.top_logprobs[0].logprob >= lp.top_logprobs[2].logprob);
    }
  });

  await test('embeddings: /api/embed normalised + dimensions, legacy /api/embeddings', async () => {
    await createModel(U, 'bert-tiny', bert);
    const o = await (await post(U, '/api/embed', { model: 'bert-tiny', input: ['hello world', 'abc'] })).json();
    assert.equal(o.embeddings.length, 2);
    for (const e of o.embeddings) {
      const n = Math.sqrt(e.reduce((a, x) => a + x * x, 0));
      assert.ok(Math.abs(n - 1) < 1e-4, `norm ${n}`);
    }
    assert.ok(o.prompt_eval_count > 0);
    const d = await (await post(U, '/api/embed', { model: 'bert-tiny', input: 'hello world', dimensions: 16 })).json();
    assert.equal(d.embeddings[0].length, 16);
    const l = await (await post(U, '/api/embeddings', { model: 'bert-tiny', prompt: 'hello world' })).json();
    assert.equal(l.embedding.length, o.embeddings[0].length);
    // the legacy vector is the raw pooled one: same direction, its own length
    const ln = Math.sqrt(l.embedding.reduce((a, x) => a + x * x, 0));
    assert.ok(Math.abs(ln - 1) > 1e-3, `legacy norm ${ln}`);
    const cos = l.embedding.reduce((a, x, i) => a + x * o.embeddings[0][i], 0) / ln;
    assert.ok(Math.abs(cos - 1) < 1e-4, `cosine ${cos}`);
    const e = await post(U, '/api/embed', { model: 'bert-tiny', input: [1, 2] });
    assert.equal(e.status, 400);
    assert.deepEqual(await e.json(), { error: 'invalid input type' });
    const g = await post(U, '/api/generate', { model: 'bert-tiny', prompt: 'x' });
    assert.equal(g.status, 400);
    assert.deepEqual(await g.json(), { error: '"bert-tiny" does not support generate' });
  });

  await test('load, ps, unload with keep_alive 0', async () => {
    let o = await (await post(U, '/api/generate', { model: 'stories' })).json();
    assert.equal(o.done_reason, 'load');
    let ps = await (await fetch(U + '/api/ps')).json();
    const e = ps.models.find((m) => m.name === 'stories:latest');
    assert.ok(e, JSON.stringify(ps));
    assert.ok(e.size > 0 && e.context_length > 0);
    assert.ok(Date.parse(e.expires_at) > Date.now());
    o = await (await post(U, '/api/generate', { model: 'stories', keep_alive: 0 })).json();
    assert.equal(o.done_reason, 'unload');
    for (let i = 0; i < 50; i++) {
      ps = await (await fetch(U + '/api/ps')).json();
      if (!ps.models.find((m) => m.name === 'stories:latest')) break;
      await sleep(100);
    }
    assert.ok(!ps.models.find((m) => m.name === 'stories:latest'), JSON.stringify(ps));
  });

  await test('keep_alive expiry: a model with keep_alive 1s is unloaded by itself', async () => {
    await (await post(U, '/api/generate', { model: 'stories', prompt: 'Once', raw: true, keep_alive: '1s', options: { num_predict: 2 } })).text();
    let ps = await (await fetch(U + '/api/ps')).json();
    assert.ok(ps.models.find((m) => m.name === 'stories:latest'));
    await sleep(2500);
    ps = await (await fetch(U + '/api/ps')).json();
    assert.ok(!ps.models.find((m) => m.name === 'stories:latest'), JSON.stringify(ps));
  });

  await test('concurrent requests on one model give each one its own greedy text', async () => {
    const prompts = ['Once upon a time', 'The little dog', 'Lily and Tom', 'One day'];
    const refs = prompts.map((p) => cliText(p, 20));
    const outs = await Promise.all(prompts.map((p) => post(U, '/api/generate', {
      model: 'stories', prompt: p, raw: true, stream: false, options: { temperature: 0, num_predict: 20 },
    }).then((r) => r.json())));
    outs.forEach((o, i) => assert.equal(o.response, refs[i], `prompt ${i}`));
  });

  await test('two models at once', async () => {
    const [a, b] = await Promise.all([
      post(U, '/api/generate', { model: 'stories', prompt: 'Once upon a time', raw: true, stream: false, options: { temperature: 0, num_predict: 24 } }).then((r) => r.json()),
      post(U, '/api/embed', { model: 'bert-tiny', input: 'hi' }).then((r) => r.json()),
    ]);
    assert.equal(a.response, ref);
    assert.equal(b.embeddings.length, 1);
  });

  await test('copy and delete', async () => {
    let r = await post(U, '/api/copy', { source: 'stories', destination: 'stories-copy:v1' });
    assert.equal(r.status, 200);
    r = await post(U, '/api/copy', { source: 'nope', destination: 'x' });
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: 'model "nope" not found' });
    let tags = await (await fetch(U + '/api/tags')).json();
    assert.ok(tags.models.find((m) => m.name === 'stories-copy:v1'));
    r = await fetch(U + '/api/delete', { method: 'DELETE', body: JSON.stringify({ name: 'stories-copy:v1' }) });
    assert.equal(r.status, 200);
    r = await fetch(U + '/api/delete', { method: 'DELETE', body: JSON.stringify({ model: 'stories-copy:v1' }) });
    assert.equal(r.status, 404);
    tags = await (await fetch(U + '/api/tags')).json();
    assert.ok(!tags.models.find((m) => m.name === 'stories-copy:v1'));
    assert.ok(tags.models.find((m) => m.name === 'stories:latest'), 'shared blobs survive');
  });
} finally {
  await srv.stop();
}

await test('a full queue answers 503; a vanished client frees its slot', async () => {
  const s2 = await startServer(bin, { OLLAMA_NUM_PARALLEL: '1', OLLAMA_MAX_QUEUE: '1' });
  try {
    await createModel(s2.url, 'stories', stories);
    const long = { model: 'stories', prompt: 'Once', raw: true, stream: false, options: { num_predict: 400, num_ctx: 512 } };
    const rs = await Promise.all([0, 1, 2, 3].map(() => post(s2.url, '/api/generate', long)));
    const codes = rs.map((r) => r.status).sort();
    assert.ok(codes.includes(503), `codes ${codes}`);
    const busy = rs.find((r) => r.status === 503);
    assert.deepEqual(await busy.json(), { error: 'server busy, please try again.  maximum pending requests exceeded' });
    for (const r of rs) if (r !== busy) await r.text();
    // a client that vanishes mid-stream frees its sequence at once: with one
    // slot, the next request could not run otherwise (this one never ends)
    const ac = new AbortController();
    const r = await post(s2.url, '/api/generate', { model: 'stories', prompt: 'Once', raw: true, options: { num_predict: -1, num_ctx: 256 } }, { signal: ac.signal });
    const reader = r.body.getReader();
    await reader.read();
    ac.abort();
    const t0 = Date.now();
    const o = await (await post(s2.url, '/api/generate', { model: 'stories', prompt: 'Once upon a time', raw: true, stream: false, options: { temperature: 0, num_predict: 24, num_ctx: 512 } })).json();
    assert.equal(o.response, cliText('Once upon a time', 24));
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  } finally {
    await s2.stop();
  }
});

await test('OLLAMA_MAX_LOADED_MODELS=1: loading a second model evicts the first; num_ctx change reloads', async () => {
  const s3 = await startServer(bin, { OLLAMA_MAX_LOADED_MODELS: '1' });
  try {
    await createModel(s3.url, 'a', stories);
    await createModel(s3.url, 'b', bert);
    await (await post(s3.url, '/api/generate', { model: 'a' })).json();
    let ps = await (await fetch(s3.url + '/api/ps')).json();
    assert.deepEqual(ps.models.map((m) => m.name), ['a:latest']);
    await (await post(s3.url, '/api/embed', { model: 'b', input: 'x' })).json();
    ps = await (await fetch(s3.url + '/api/ps')).json();
    assert.deepEqual(ps.models.map((m) => m.name), ['b:latest']);
    await (await post(s3.url, '/api/generate', { model: 'a', prompt: 'Once', raw: true, options: { num_predict: 2, num_ctx: 256 } })).text();
    ps = await (await fetch(s3.url + '/api/ps')).json();
    assert.equal(ps.models.length, 1);
    assert.equal(ps.models[0].context_length, 256);
    await (await post(s3.url, '/api/generate', { model: 'a', prompt: 'Once', raw: true, options: { num_predict: 2, num_ctx: 512 } })).text();
    ps = await (await fetch(s3.url + '/api/ps')).json();
    assert.equal(ps.models[0].context_length, 512, 'num_ctx change reloads');
  } finally {
    await s3.stop();
  }
});

process.exit(summary());
