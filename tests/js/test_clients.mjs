// End-to-end: the official npm clients — `ollama` (ollama-js) and `openai@6` —
// drive every endpoint of a live `ollamamax serve`; pull and push go through a
// registry of our own on loopback (tests/js/lib/registry.mjs).
// Usage: node test_clients.mjs BIN SHARED_DIR
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, createModel, synth, test, summary, skip } from './lib/server.mjs';

const [bin, shared] = process.argv.slice(2);
const stories = join(shared || '', 'models/stories260K.gguf');
if (!existsSync(stories)) skip(`${stories} is absent: the client tests need ../shared/models`);
let Ollama, OpenAI, startRegistry;
try {
  ({ Ollama } = await import('ollama'));
  ({ default: OpenAI } = await import('openai'));
} catch (e) {
  skip(`npm clients missing (run make setup): ${e.message}`);
}
({ startRegistry } = await import('./lib/registry.mjs'));

const work = mkdtempSync(join(tmpdir(), 'omx-clients-'));
const srv = await startServer(bin, { OLLAMA_NUM_PARALLEL: '4' });
const ollama = new Ollama({ host: srv.url });
const openai = new OpenAI({ baseURL: srv.url + '/v1', apiKey: 'ollama' });
const tmplChat = '{{ range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}assistant:';
const families = ['llama', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3'];

try {
  await test('ollama-js: create, list, show, version', async () => {
    await createModel(srv.url, 'stories', stories, { template: tmplChat, parameters: { temperature: 0 } });
    const v = await ollama.version();
    assert.match(v.version, /^\d+\.\d+\.\d+$/);
    const list = await ollama.list();
    assert.ok(list.models.some((m) => m.name === 'stories:latest'));
    const show = await ollama.show({ model: 'stories' });
    assert.equal(show.model_info['general.architecture'], 'llama');
    assert.equal(show.template, tmplChat);
  });

  await test('ollama-js: generate and chat, streaming and not', async () => {
    const g = await ollama.generate({ model: 'stories', prompt: 'Once upon a time', raw: true, options: { num_predict: 16 } });
    assert.equal(g.done, true);
    assert.ok(g.response.length > 0);
    let text = '';
    for await (const part of await ollama.generate({ model: 'stories', prompt: 'Once upon a time', raw: true, stream: true, options: { num_predict: 16 } }))
      text += part.response;
    assert.equal(text, g.response);
    const c = await ollama.chat({ model: 'stories', messages: [{ role: 'user', content: 'Hello' }], options: { num_predict: 10 } });
    assert.equal(c.message.role, 'assistant');
    let ct = '';
    for await (const part of await ollama.chat({ model: 'stories', messages: [{ role: 'user', content: 'Hello' }], stream: true, options: { num_predict: 10 } }))
      ct += part.message.content;
    assert.equal(ct, c.message.content);
  });

  await test('ollama-js: embed and embeddings; ps; copy; delete', async () => {
    await createModel(srv.url, 'bert-tiny', synth(bin, 'bert', join(work, 'bert.gguf')));
    const e = await ollama.embed({ model: 'bert-tiny', input: ['a b c', 'd e f'] });
    assert.equal(e.embeddings.length, 2);
    const l = await ollama.embeddings({ model: 'bert-tiny', prompt: 'a b c' });
    assert.ok(l.embedding.length > 0);
    const ps = await ollama.ps();
    assert.ok(ps.models.length >= 1);
    await ollama.copy({ source: 'stories', destination: 'stories2' });
    await ollama.delete({ model: 'stories2' });
    const list = await ollama.list();
    assert.ok(!list.models.some((m) => m.name === 'stories2:latest'));
  });

  await test('ollama-js: create from an existing model with overrides', async () => {
    let last;
    for await (const p of await ollama.create({ model: 'stories-sys', from: 'stories', system: 'You are terse.', parameters: { num_predict: 3, stop: ['END'] }, stream: true })) last = p;
    assert.equal(last.status, 'success');
    const show = await ollama.show({ model: 'stories-sys' });
    assert.equal(show.system, 'You are terse.');
    assert.match(show.parameters, /num_predict +3/);
    assert.match(show.parameters, /stop +"END"/);
    assert.equal(show.template, tmplChat);
    const g = await ollama.generate({ model: 'stories-sys', prompt: 'Once upon a time' });
    assert.equal(g.eval_count, 3);
    await ollama.delete({ model: 'stories-sys' });
  });

  await test('every family: a random model of each is created and answers chat (ollama-js)', async () => {
    await createModel(srv.url, 'tiny-nomic', synth(bin, 'nomic-bert', join(work, 'nomic-bert.gguf')));
    const ne = await ollama.embed({ model: 'tiny-nomic', input: 'hello' });
    assert.equal(ne.embeddings.length, 1);
    for (const arch of families) {
      const f = synth(bin, arch, join(work, `${arch}.gguf`));
      await createModel(srv.url, `tiny-${arch}`, f, { template: tmplChat });
      // a fixed seed: random weights may sample an end-of-generation token first by chance
      const c = await ollama.chat({ model: `tiny-${arch}`, messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 4, seed: 42 } });
      assert.equal(c.done, true, arch);
      assert.ok(c.eval_count >= 1, arch);
    }
  });

  await test('openai: chat.completions (non-stream, stream with usage)', async () => {
    const r = await openai.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, temperature: 0 });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 8);
    const stream = await openai.chat.completions.create({
      model: 'stories', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, temperature: 0,
      stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let usage = null;
    let finish = null;
    for await (const ch of stream) {
      if (ch.choices.length) {
        text += ch.choices[0].delta.content || '';
        if (ch.choices[0].finish_reason) finish = ch.choices[0].finish_reason;
      }
      if (ch.usage) usage = ch.usage;
    }
    assert.equal(text, r.choices[0].message.content);
    assert.equal(finish, 'length');
    assert.equal(usage.completion_tokens, 8);
  });

  await test('openai: response_format json_schema, logprobs, seed, stop', async () => {
    const r = await openai.chat.completions.create({
      model: 'stories', messages: [{ role: 'user', content: 'Give me JSON' }], max_tokens: 300, temperature: 0.5, seed: 7,
      response_format: { type: 'json_schema', json_schema: { name: 'p', schema: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } } },
    });
    const v = JSON.parse(r.choices[0].message.content);
    assert.ok(Number.isInteger(v.a));
    const lp = await openai.chat.completions.create({
      model: 'stories', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2,
    });
    assert.equal(lp.choices[0].logprobs.content.length, 4);
    assert.equal(lp.choices[0].logprobs.content[0].top_logprobs.length, 2);
    const a = await openai.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 12, seed: 42, temperature: 0.9 });
    const b = await openai.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 12, seed: 42, temperature: 0.9 });
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  });

  await test('openai: tools — a call comes back as tool_calls with JSON-string arguments', async () => {
    const tmplTools = '{{ if .Tools }}Tools: {{ json .Tools }}\n{{ end }}{{ range .Messages }}{{ .Role }}: {{ .Content }}'
      + '{{ if .ToolCalls }}{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ json .Function.Arguments }}}{{ end }}{{ end }}\n{{ end }}assistant:';
    await createModel(srv.url, 'stories-tools', stories, { template: tmplTools });
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    // the schema makes this tiny model write a call; the server must parse it into tool_calls
    const schema = { type: 'object', properties: { name: { const: 'get_weather' }, arguments: { type: 'object', properties: { city: { type: 'string', maxLength: 8 } }, required: ['city'], additionalProperties: false } }, required: ['name', 'arguments'], additionalProperties: false };
    const r = await openai.chat.completions.create({
      model: 'stories-tools', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, tool_choice: 'auto', temperature: 0, max_tokens: 100,
      response_format: { type: 'json_schema', json_schema: { name: 'call', schema } },
    });
    const ch = r.choices[0];
    assert.equal(ch.finish_reason, 'tool_calls', JSON.stringify(r));
    assert.equal(ch.message.tool_calls.length, 1);
    const call = ch.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof call.function.arguments, 'string');
    assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
    // and the conversation goes on with the tool's answer
    const r2 = await openai.chat.completions.create({ model: 'stories-tools', tools, max_tokens: 4, messages: [
      { role: 'user', content: 'Weather in Paris?' }, { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: 'sunny' }] });
    assert.ok(r2.choices[0].message);
  });

  await test('openai: responses API, whole and streamed', async () => {
    const r = await openai.responses.create({ model: 'stories', input: 'Hello', max_output_tokens: 6, temperature: 0 });
    assert.equal(r.object, 'response');
    assert.equal(r.status, 'completed');
    assert.ok(r.output_text.length > 0);
    const stream = await openai.responses.create({ model: 'stories', input: 'Hello', max_output_tokens: 6, temperature: 0, stream: true });
    let text = '';
    let done = null;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') done = ev.response;
    }
    assert.equal(text, r.output_text);
    assert.equal(done.status, 'completed');
  });

  await test('openai: completions, embeddings (float and base64), models', async () => {
    const c = await openai.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
    assert.equal(c.object, 'text_completion');
    assert.ok(c.choices[0].text.length > 0);
    const e = await openai.embeddings.create({ model: 'bert-tiny', input: ['hello', 'world'] });
    assert.equal(e.data.length, 2);
    assert.equal(e.data[1].index, 1);
    const e64 = await openai.embeddings.create({ model: 'bert-tiny', input: 'hello', encoding_format: 'base64' });
    assert.equal(typeof e64.data[0].embedding, 'string');
    const buf = Buffer.from(e64.data[0].embedding, 'base64');
    assert.equal(buf.length / 4, e.data[0].embedding.length);
    const models = await openai.models.list();
    const ids = [];
    for await (const m of models) ids.push(m.id);
    assert.ok(ids.includes('stories:latest'), ids.join(','));
    const one = await openai.models.retrieve('stories:latest');
    assert.equal(one.id, 'stories:latest');
    await assert.rejects(openai.models.retrieve('nope'), (err) => err.status === 404);
    await assert.rejects(openai.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (err) => err.status === 404);
  });

  await test('pull and push through a registry with auth, 307 redirects and ranges', async () => {
    const reg = await startRegistry({ dir: join(work, 'registry'), auth: true, redirect: true });
    try {
      const host = new URL(reg.url).host;
      const name = `${host}/test/stories:v1`;
      await ollama.copy({ source: 'stories', destination: name });
      let last;
      for await (const p of await ollama.push({ model: name, insecure: true, stream: true })) last = p;
      assert.equal(last.status, 'success');
      const srv2 = await startServer(bin, {});
      try {
        const o2 = new Ollama({ host: srv2.url });
        const statuses = [];
        for await (const p of await o2.pull({ model: name, insecure: true, stream: true })) statuses.push(p.status);
        assert.equal(statuses.at(-1), 'success');
        assert.ok(statuses.includes('pulling manifest'));
        const a = await ollama.show({ model: name });
        const b = await o2.show({ model: name });
        assert.equal(a.template, b.template);
        assert.equal(a.parameters, b.parameters);
        assert.deepEqual(a.model_info, b.model_info);
        const l1 = (await ollama.list()).models.find((m) => m.name === name);
        const l2 = (await o2.list()).models.find((m) => m.name === name);
        assert.equal(l1.digest, l2.digest);
        const g = await o2.generate({ model: name, prompt: 'Once', raw: true, options: { num_predict: 4 } });
        assert.equal(g.done, true);
        await assert.rejects(o2.pull({ model: `${host}/test/missing:v1`, insecure: true }), /file does not exist/);
      } finally {
        await srv2.stop();
      }
    } finally {
      await reg.close();
    }
  });
} finally {
  await srv.stop();
}
process.exit(summary());
