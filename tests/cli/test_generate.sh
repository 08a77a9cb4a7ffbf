#!/usr/bin/env bash
# CLI: `generate`, `tokenize`, `bench` on the shared test models, against
# llama.cpp's golden outputs (../shared/golden). Usage: test_generate.sh BIN SHARED
set -uo pipefail
BIN=$1
SHARED=$2
here=$(cd "$(dirname "$0")" && pwd)
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }

stories=$SHARED/models/stories260K.gguf
golden=$SHARED/golden/stories260K.greedy.json
if [ ! -f "$stories" ] || [ ! -f "$golden" ]; then
  echo "SKIP: $stories or $golden is absent — the golden CLI checks did not run" >&2
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Greedy generation of each golden prompt, as JSON and as plain text.
n=$(node -e 'console.log(require(process.argv[1]).results.length)' "$golden")
for ((i = 0; i < n; i++)); do
  prompt=$(node -e 'process.stdout.write(require(process.argv[1]).results[+process.argv[2]].prompt)' "$golden" "$i")
  if "$BIN" generate -m "$stories" -p "$prompt" -n 32 --temp 0 -t 2 --json >"$tmp/out.json" 2>"$tmp/err"; then
    if node "$here/check_golden.mjs" "$golden" "$i" "$tmp/out.json"; then ok; else bad "golden json, prompt $i"; fi
  else
    bad "generate --json exited non-zero for prompt $i: $(cat "$tmp/err")"
  fi
  want=$(node -e 'process.stdout.write(require(process.argv[1]).results[+process.argv[2]].generated_text)' "$golden" "$i")
  got=$("$BIN" generate -m "$stories" -p "$prompt" -n 32 --temp 0 2>"$tmp/err")
  [ "$got" = "$want" ] && ok || bad "plain text for prompt $i: got [$got] want [$want]"
done

# 2. Same seed, same output; sampling at temperature 1 is not greedy-only.
a=$("$BIN" generate -m "$stories" -p "Once upon a time" -n 24 --temp 1 --seed 7 2>/dev/null)
b=$("$BIN" generate -m "$stories" -p "Once upon a time" -n 24 --temp 1 --seed 7 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "same seed gave different text: [$a] vs [$b]"

# 3. Context shift: more tokens than the context holds still generates.
out=$("$BIN" generate -m "$stories" -p "Once upon a time" -n 80 -c 32 --temp 0 --json 2>"$tmp/err")
cnt=$(node -e 'const o=JSON.parse(process.argv[1]);console.log(o.tokens.length)' "$out" 2>/dev/null)
[ "${cnt:-0}" -gt 32 ] && ok || bad "context shift: only ${cnt:-0} tokens ($(cat "$tmp/err"))"

# 4. tokenize: BOS from metadata; --raw adds none.
t=$("$BIN" tokenize -m "$stories" -p "Once upon a time")
[ "$t" = "[1,403,407,261,378]" ] && ok || bad "tokenize: $t"
t=$("$BIN" tokenize -m "$stories" -p "Once upon a time" --raw)
[ "$t" = "[403,407,261,378]" ] && ok || bad "tokenize --raw: $t"

# 5. bench --json has the documented fields.
"$BIN" bench -m "$stories" -p 16 -n 4 -t 1 -r 2 --json >"$tmp/b.json" 2>"$tmp/err" &&
  node -e '
    const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const okn = (x) => typeof x === "number" && isFinite(x);
    if (!(o.model === "stories260K.gguf" && o.threads === 1 && o.pp.n === 16 && okn(o.pp.tps) && o.pp.tps > 0 &&
          okn(o.pp.sd) && o.tg.n === 4 && o.tg.tps > 0 && okn(o.tg.sd) && o.rss_bytes > 0)) process.exit(1);
  ' "$tmp/b.json" && ok || bad "bench --json: $(cat "$tmp/b.json" "$tmp/err")"
"$BIN" bench -m "$stories" -p 16 -n 4 -t 1 -r 1 >"$tmp/b.txt" 2>&1 && grep -q "pp16" "$tmp/b.txt" &&
  grep -q "tg4" "$tmp/b.txt" && ok || bad "bench table: $(cat "$tmp/b.txt")"

# 6. Errors: stderr message, non-zero exit, nothing on stdout.
expect_err() { # expect_err EXIT_CODE PATTERN -- ARGS...
  local code=$1 pat=$2
  shift 3
  "$BIN" "$@" >"$tmp/o" 2>"$tmp/e"
  local rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$pat" "$tmp/e" || [ -s "$tmp/o" ]; then
    bad "ollamamax $* -> rc=$rc (want $code), stderr: $(cat "$tmp/e"), stdout: $(head -c 200 "$tmp/o")"
  else ok; fi
}
expect_err 1 "No such file" -- generate -m "$tmp/missing.gguf" -p hi -n 1
printf 'this is not a gguf file at all, not even close' >"$tmp/junk.gguf"
expect_err 1 "magic" -- generate -m "$tmp/junk.gguf" -p hi -n 1
expect_err 2 "invalid value for -n" -- generate -m "$stories" -p hi -n abc
expect_err 2 "unknown flag" -- generate -m "$stories" -p hi --bogus 1
expect_err 2 "usage" -- generate -p hi
expect_err 2 "unknown command" -- frobnicate
vocab=$SHARED/models/vocab/ggml-vocab-llama-spm.gguf
[ -f "$vocab" ] && expect_err 1 "token_embd.weight" -- generate -m "$vocab" -p hi -n 1

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
