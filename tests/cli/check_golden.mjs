// Compares one `ollamamax generate --json` output with llama.cpp's golden
// result: prompt and generated ids exactly, the first-step top-10 ids in
// order, and their log-probability gaps against the golden logit gaps
// (log-softmax differs from raw logits by a constant per position).
// Usage: node check_golden.mjs GOLDEN.json INDEX OUT.json
import fs from 'node:fs';
const [goldenPath, idx, outPath] = process.argv.slice(2);
const g = JSON.parse(fs.readFileSync(goldenPath, 'utf8')).results[+idx];
const o = JSON.parse(fs.readFileSync(outPath, 'utf8'));
const errs = [];
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
if (!same(o.prompt_tokens, g.prompt_tokens)) errs.push(`prompt_tokens ${o.prompt_tokens} != ${g.prompt_tokens}`);
if (!same(o.tokens, g.generated_tokens)) errs.push(`tokens ${o.tokens} != ${g.generated_tokens}`);
if (o.text !== g.generated_text) errs.push(`text ${JSON.stringify(o.text)} != ${JSON.stringify(g.generated_text)}`);
if (o.top_logprobs.length !== o.tokens.length) errs.push('top_logprobs length != tokens length');
const top = o.top_logprobs[0] || [];
if (top.length !== 10) errs.push(`first step has ${top.length} alternatives, want 10`);
const want = g.first_step_topk;
for (let i = 0; i < Math.min(top.length, want.length); i++) {
  if (top[i].id !== want[i].id) errs.push(`top[${i}].id ${top[i].id} != ${want[i].id}`);
  const gap = top[i].logprob - top[0].logprob, wgap = want[i].logit - want[0].logit;
  if (Math.abs(gap - wgap) > 1e-3 * Math.max(1, Math.abs(want[i].logit))) errs.push(`gap ${i}: ${gap} vs ${wgap}`);
}
for (const step of o.top_logprobs) {
  let s = 0;
  for (const x of step) {
    if (!isFinite(x.logprob) || x.logprob > 0) errs.push(`bad logprob ${x.logprob}`);
    s += Math.exp(x.logprob);
  }
  if (s > 1 + 1e-4) errs.push(`top-10 probabilities sum to ${s} > 1`);
}
if (errs.length) {
  console.error(errs.join('\n'));
  process.exit(1);
}
