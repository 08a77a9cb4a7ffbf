#!/usr/bin/env bash
# Cross-reference with llama.cpp: random F32 models of each family made by
# `ollamamax synth` (deterministic from the seed), whose logits llama.cpp
# (commit c392e5094, the one behind ../shared/golden) computed once; the
# results are stored in tests/data/xref/*.json. Our tokenizer must give the
# same prompt ids, the first-step top-10 ids must agree in order, and the
# logit gaps to the top token (= log-prob gaps) must agree to 1e-3 over
# 5 decoding steps. Encoders compare the pooled, L2-normalized embedding.
# Usage: test_xref.sh BIN [SHARED]
set -uo pipefail
BIN=$1
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../data/xref
prompt="Hello world, this is a test of the engine"
fail=0
pass=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ref in "$data"/*.json; do
  name=$(basename "$ref" .json)
  mapfile -t args < <(node -e 'for (const a of JSON.parse(require("fs").readFileSync(process.argv[1])).synth_args) console.log(a)' "$ref")
  if ! "$BIN" synth "${args[@]}" --type f32 --seed 11 -q -o "$tmp/m.gguf" 2>"$tmp/err"; then
    echo "FAIL: synth $name: $(cat "$tmp/err")" >&2
    fail=$((fail + 1))
    continue
  fi
  "$BIN" tokenize -m "$tmp/m.gguf" -p "$prompt" >"$tmp/ids" 2>"$tmp/err"
  if node -e 'process.exit(JSON.parse(require("fs").readFileSync(process.argv[1])).embedding ? 0 : 1)' "$ref"; then
    "$BIN" embed -m "$tmp/m.gguf" -p "$prompt" >"$tmp/out" 2>>"$tmp/err"
  else
    "$BIN" generate -m "$tmp/m.gguf" -p "$prompt" -n 5 --temp 0 --json >"$tmp/out" 2>>"$tmp/err"
  fi
  if node - "$ref" "$tmp/ids" "$tmp/out" <<'JS'
const fs = require('fs');
const [refPath, idsPath, outPath] = process.argv.slice(2);
const ref = JSON.parse(fs.readFileSync(refPath, 'utf8'));
const ids = JSON.parse(fs.readFileSync(idsPath, 'utf8'));
const out = JSON.parse(fs.readFileSync(outPath, 'utf8'));
const errs = [];
if (JSON.stringify(ids) !== JSON.stringify(ref.prompt_tokens)) errs.push(`prompt ids ${ids} != ${ref.prompt_tokens}`);
if (ref.embedding) {
  if (out.length !== ref.embedding.length) errs.push(`embedding length ${out.length} != ${ref.embedding.length}`);
  ref.embedding.forEach((x, i) => { if (Math.abs(x - out[i]) > 1e-4) errs.push(`embedding[${i}] ${out[i]} != ${x}`); });
} else {
  ref.steps.forEach((step, s) => {
    const mine = out.top_logprobs[s];
    if (!mine) return errs.push(`step ${s} missing`);
    if (s === 0) step.top.forEach(([id], i) => { if (mine[i].id !== id) errs.push(`step 0 top[${i}] ${mine[i].id} != ${id}`); });
    // compare gaps of llama.cpp's top tokens wherever they also appear in ours
    const lp = new Map(mine.map((x) => [x.id, x.logprob]));
    const t0 = step.top[0];
    if (!lp.has(t0[0])) return errs.push(`step ${s}: llama.cpp top token ${t0[0]} not in our top 10`);
    for (const [id, logit] of step.top) {
      if (!lp.has(id)) continue;
      const d = Math.abs((lp.get(id) - lp.get(t0[0])) - (logit - t0[1]));
      if (d > 1e-3) errs.push(`step ${s} id ${id}: gap differs by ${d}`);
    }
    if (out.tokens[s] !== t0[0] && step.top[0][1] - step.top[1][1] > 1e-3) errs.push(`step ${s}: greedy ${out.tokens[s]} != ${t0[0]}`);
  });
}
if (errs.length) { console.error(errs.slice(0, 10).join('\n')); process.exit(1); }
JS
  then pass=$((pass + 1)); else echo "FAIL: $name vs llama.cpp ($(cat "$tmp/err"))" >&2; fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
