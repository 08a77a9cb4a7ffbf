#!/usr/bin/env bash
# CLI over random models of every family made by `ollamamax synth`: tokenize
# (vocab-only load), generate (deterministic at temperature 0), embed (unit
# L2 norm for encoders, clear error for generate on an encoder), quantize.
# Needs nothing from ../shared. Usage: test_families.sh BIN [SHARED]
set -uo pipefail
BIN=$1
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for arch in llama qwen2 qwen3 phi3 gemma2 gemma3; do
  f=$tmp/$arch.gguf
  if ! "$BIN" synth --preset "tiny-$arch" --type q8_0 --seed 3 -q -o "$f" 2>"$tmp/err"; then
    bad "synth $arch: $(cat "$tmp/err")"
    continue
  fi
  t=$("$BIN" tokenize -m "$f" -p "hello world" 2>"$tmp/err")
  [[ "$t" =~ ^\[[0-9]+(,[0-9]+)*\]$ ]] && ok || bad "tokenize $arch: [$t] $(cat "$tmp/err")"
  a=$("$BIN" generate -m "$f" -p "hello world" -n 6 --temp 0 -t 2 --json 2>"$tmp/err")
  b=$("$BIN" generate -m "$f" -p "hello world" -n 6 --temp 0 -t 1 --json 2>>"$tmp/err")
  node -e '
    const [a, b] = process.argv.slice(1).map((s) => JSON.parse(s));
    if (a.tokens.length !== 6 && a.tokens.length === 0) process.exit(1);
    if (JSON.stringify(a.tokens) !== JSON.stringify(b.tokens)) process.exit(2);
    for (const step of a.top_logprobs) for (const x of step) if (!isFinite(x.logprob)) process.exit(3);
  ' "$a" "$b" && ok || bad "generate $arch (1 vs 2 threads, finite): $a / $b $(cat "$tmp/err")"
done

for arch in bert nomic-bert; do
  f=$tmp/$arch.gguf
  if ! "$BIN" synth --preset "tiny-$arch" --type f16 --seed 3 -q -o "$f" 2>"$tmp/err"; then
    bad "synth $arch: $(cat "$tmp/err")"
    continue
  fi
  e=$("$BIN" embed -m "$f" -p "hello world" 2>"$tmp/err")
  node -e '
    const e = JSON.parse(process.argv[1]);
    const n = Math.sqrt(e.reduce((s, x) => s + x * x, 0));
    if (!(e.length > 0 && Math.abs(n - 1) < 1e-3)) process.exit(1);
  ' "$e" && ok || bad "embed $arch: norm check failed: ${e:0:200} $(cat "$tmp/err")"
  "$BIN" generate -m "$f" -p "hi" -n 2 >"$tmp/o" 2>"$tmp/e"
  [ $? -ne 0 ] && grep -q "embed" "$tmp/e" && ok || bad "generate on $arch should point to embed: $(cat "$tmp/e")"
done

# quantize: F32 -> Q4_K_M writes a loadable file; bad type and bad input fail cleanly.
"$BIN" synth --preset tiny-llama --type f32 --seed 1 -q -o "$tmp/f32.gguf" 2>/dev/null
if "$BIN" quantize "$tmp/f32.gguf" "$tmp/q.gguf" q4_K_M >/dev/null 2>"$tmp/err"; then
  "$BIN" generate -m "$tmp/q.gguf" -p "hello" -n 3 --temp 0 >/dev/null 2>"$tmp/err" && ok ||
    bad "generate on quantized: $(cat "$tmp/err")"
else
  bad "quantize: $(cat "$tmp/err")"
fi
"$BIN" quantize "$tmp/f32.gguf" "$tmp/bad.gguf" q9_Z >/dev/null 2>"$tmp/err"
[ $? -ne 0 ] && [ ! -e "$tmp/bad.gguf" ] && ok || bad "quantize to an unknown type should fail and write nothing"
"$BIN" quantize "$tmp/q.gguf" "$tmp/bad2.gguf" q4_0 >/dev/null 2>"$tmp/err"
[ $? -ne 0 ] && [ ! -e "$tmp/bad2.gguf" ] && ok || bad "re-quantizing a quantized model should fail"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
