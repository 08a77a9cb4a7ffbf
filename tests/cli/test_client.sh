#!/bin/bash
# The CLI server verbs end to end against a real `ollamamax serve` on a free
# loopback port with an empty model store: create from the shared
# stories260K.gguf, list, show (+ --modelfile / --parameters), run with a
# prompt (greedy: the text must equal `ollamamax generate` on the same
# file), ps, stop, cp, rm and error exits. Skips (77) loudly while `serve`
# does not exist or the shared model is absent.
# Usage: test_client.sh BIN SHARED_DIR
BIN=${1:?usage: test_client.sh BIN SHARED_DIR}
SHARED=${2:?usage: test_client.sh BIN SHARED_DIR}
MODEL=$SHARED/models/stories260K.gguf
if [ ! -f "$MODEL" ]; then
    echo "SKIP: $MODEL is absent — the client end-to-end test needs it" >&2
    exit 77
fi
T=$(mktemp -d)
SRV_PID=
cleanup() {
    if [ -n "$SRV_PID" ]; then
        kill "$SRV_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SRV_PID" 2>/dev/null
        wait "$SRV_PID" 2>/dev/null
    fi
    rm -rf "$T"
}
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "FAIL: no free port" >&2; exit 1; }
export OLLAMA_HOST=127.0.0.1:$PORT OLLAMA_MODELS=$T/models OLLAMA_KEEP_ALIVE=5m
mkdir -p "$OLLAMA_MODELS"

probe=$(timeout 3 "$BIN" serve --help 2>&1 </dev/null)
if echo "$probe" | grep -q 'unknown command'; then
    echo "SKIP: '$BIN serve' does not exist yet — client end-to-end test not run" >&2
    exit 77
fi

"$BIN" serve >"$T/serve.log" 2>&1 &
SRV_PID=$!
up=
for _ in $(seq 150); do
    if "$BIN" list >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.2
done
if [ -z "$up" ]; then
    echo "FAIL: serve did not come up on $OLLAMA_HOST" >&2
    tail -20 "$T/serve.log" >&2
    exit 1
fi

FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
# run NAME WANT_RC CMD...: stdout to $T/out, stderr to $T/err
run() {
    local name=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err" </dev/null
    local rc=$?
    [ "$rc" = "$want" ] || fail "$name: exit $rc, want $want: $(head -c 400 "$T/err")"
}

N=24
PROMPT="Once upon a time"
cat >"$T/Modelfile" <<EOF
FROM ./stories.gguf
PARAMETER temperature 0
PARAMETER num_predict $N
EOF
ln -s "$MODEL" "$T/stories.gguf"

run "create" 0 "$BIN" create x -f "$T/Modelfile"
grep -q 'success' "$T/err" || fail "create: no success status ($(cat "$T/err"))"

run "list" 0 "$BIN" list
head -1 "$T/out" | grep -q '^NAME  *ID  *SIZE  *MODIFIED' || fail "list header: $(head -1 "$T/out")"
grep -Eq '^x:latest +[0-9a-f]{12} +[0-9.]+ (B|KB|MB) +(Less than a second|[0-9]+ seconds?) ago' "$T/out" ||
    fail "list row: $(cat "$T/out")"

run "show" 0 "$BIN" show x
grep -q '^  Model$' "$T/out" || fail "show: Model section"
grep -Eq '^    architecture +llama' "$T/out" || fail "show: architecture ($(cat "$T/out"))"
grep -q '^  Parameters$' "$T/out" || fail "show: Parameters section"
grep -Eq '^    temperature +0' "$T/out" || fail "show: temperature parameter"
run "show --modelfile" 0 "$BIN" show x --modelfile
grep -q '^FROM ' "$T/out" || fail "show --modelfile: FROM"
grep -q '^PARAMETER temperature 0' "$T/out" || fail "show --modelfile: PARAMETER"
run "show --parameters" 0 "$BIN" show x --parameters
grep -Eq '^temperature +0$' "$T/out" || fail "show --parameters: $(cat "$T/out")"
grep -Eq "^num_predict +$N\$" "$T/out" || fail "show --parameters num_predict"

# greedy run == local greedy generate on the same file
run "generate" 0 "$BIN" generate -m "$MODEL" -p "$PROMPT" -n $N --temp 0
want=$(cat "$T/out")
run "run" 0 "$BIN" run x "$PROMPT"
got=$(cat "$T/out")
[ "$got" = "$want" ] || fail "run text differs from generate:
  run:      $(printf %q "$got")
  generate: $(printf %q "$want")"
[ "$(tail -c 2 "$T/out" | od -An -tx1 | tr -d ' \n')" = "0a0a" ] || fail "run: no blank line after the answer"
run "run --verbose" 0 "$BIN" run x "$PROMPT" --verbose
grep -q '^eval count: ' "$T/err" || fail "run --verbose: summary ($(cat "$T/err"))"
echo "$PROMPT" | "$BIN" run x >"$T/out" 2>"$T/err" || fail "run from stdin: $(cat "$T/err")"
[ -s "$T/out" ] || fail "run from stdin: no output"

run "ps" 0 "$BIN" ps
head -1 "$T/out" | grep -q '^NAME  *ID  *SIZE  *PROCESSOR  *CONTEXT  *UNTIL' || fail "ps header"
grep -Eq '^x:latest +[0-9a-f]{12} +.* 100% CPU +[0-9]+ +(4|5) minutes from now' "$T/out" ||
    fail "ps row: $(cat "$T/out")"
run "stop" 0 "$BIN" stop x
run "ps after stop" 0 "$BIN" ps
grep -q '^x:latest' "$T/out" && {
    sleep 1
    "$BIN" ps | grep -q '^x:latest' && fail "ps: x still loaded after stop"
}

run "cp" 0 "$BIN" cp x y
[ "$(cat "$T/out")" = "copied 'x' to 'y'" ] || fail "cp output: $(cat "$T/out")"
run "list after cp" 0 "$BIN" list
grep -q '^y:latest' "$T/out" || fail "cp: y not listed"
run "rm" 0 "$BIN" rm y
[ "$(cat "$T/out")" = "deleted 'y'" ] || fail "rm output: $(cat "$T/out")"
"$BIN" list | grep -q '^y:latest' && fail "rm: y still listed"
"$BIN" list | grep -q '^x:latest' || fail "rm y removed x"

run "show missing" 1 "$BIN" show nope
grep -q "^Error: .*not found" "$T/err" || fail "show missing: $(cat "$T/err")"
run "stop missing" 1 "$BIN" stop nope
[ "$(cat "$T/err")" = "Error: couldn't find model \"nope\" to stop" ] || fail "stop missing: $(cat "$T/err")"
run "rm missing" 1 "$BIN" rm nope
grep -q "^Error: .*not found" "$T/err" || fail "rm missing: $(cat "$T/err")"
run "cp missing" 1 "$BIN" cp nope z
grep -q "^Error: " "$T/err" || fail "cp missing: $(cat "$T/err")"
run "create bad Modelfile" 1 "$BIN" create z -f /nonexistent/Modelfile

if [ "$FAILS" -gt 0 ]; then
    echo "$FAILS check(s) failed; server log tail:" >&2
    tail -20 "$T/serve.log" >&2
    exit 1
fi
echo "all client end-to-end checks passed"
