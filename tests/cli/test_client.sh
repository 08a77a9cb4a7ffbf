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
    p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768+): no outgoing connection takes it
    if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "FAIL: no free port" >&2; exit 1; }
export OLLAMA_HOST=127.0.0.1:$PORT OLLAMA_MODELS=$T/models OLLAMA_KEEP_ALIVE=5m
mkdir -p "$OLLAMA_MODELS" "$T/home"
export HOME=$T/home


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


# the interactive session, through a pseudo-terminal (util-linux script);
# what the session holds is checked through /save: the saved model's
# Modelfile carries its system message and history (real server, no fakes)
if command -v script >/dev/null; then
    printf 'hello\n/set system be short\n"""line one\nline two"""\n/set parameter temperature 0.5\n/bogus\n/save saved1\n/clear\nagain\n/save saved2\n/bye\n' |
        script -qfec "$BIN run x" /dev/null >"$T/repl" 2>&1 || fail "repl: exit status"
    tr -d '\r' <"$T/repl" >"$T/repl2"
    grep -q 'Set system message.' "$T/repl2" || fail "repl: /set system ($(cat -v "$T/repl2" | head -c 600))"
    grep -q "Set parameter 'temperature' to '0.5'" "$T/repl2" || fail "repl: /set parameter"
    grep -q 'Cleared session context' "$T/repl2" || fail "repl: /clear"
    grep -q "Unknown command '/bogus'. Type /? for help" "$T/repl2" || fail "repl: unknown command"
    grep -q "Created new model 'saved1'" "$T/repl2" || fail "repl: /save ($(cat -v "$T/repl2" | tail -c 600))"
    run "show saved1" 0 "$BIN" show saved1 --modelfile
    grep -q '^SYSTEM be short' "$T/out" || grep -q '^SYSTEM "be short"' "$T/out" || fail "repl: saved system ($(cat "$T/out"))"
    grep -q '^MESSAGE user hello' "$T/out" || fail "repl: saved history, first turn ($(cat "$T/out"))"
    grep -q '^MESSAGE assistant ' "$T/out" || fail "repl: saved history, the answer"
    grep -q 'line one' "$T/out" || fail "repl: multi-line message in the history"
    grep -Eq '^PARAMETER temperature 0.5' "$T/out" || fail "repl: saved parameter"
    run "show saved2" 0 "$BIN" show saved2 --modelfile
    grep -q '^MESSAGE user again' "$T/out" || fail "repl: history after /clear ($(cat "$T/out"))"
    grep -q '^MESSAGE user hello' "$T/out" && fail "repl: /clear kept the old history"
else
    echo "note: 'script' missing, REPL checks skipped" >&2
fi

# push and pull through the project's test registry (tests/js/lib/registry.mjs:
# ed25519 token auth, 307 redirects to another host, ranged downloads)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
if command -v node >/dev/null; then
    mkfifo "$T/regin"
    node "$SRC/tests/js/lib/registry_main.mjs" --dir "$T/registry" <"$T/regin" >"$T/reg.json" 2>"$T/reg.err" &
    REG_PID=$!
    exec 9>"$T/regin"
    for _ in $(seq 100); do [ -s "$T/reg.json" ] && break; sleep 0.1; done
    REG=$(sed -E 's/.*"url":"http:\/\/([^"]+)".*/\1/' "$T/reg.json")
    run "cp for push" 0 "$BIN" cp x "$REG/test/x:v1"
    run "push" 0 "$BIN" push "$REG/test/x:v1" --insecure
    grep -q 'success' "$T/err" || fail "push: no success ($(cat "$T/err"))"
    run "rm before pull" 0 "$BIN" rm "$REG/test/x:v1"
    run "pull" 0 "$BIN" pull "$REG/test/x:v1" --insecure
    grep -q 'pulling manifest' "$T/err" || fail "pull: progress ($(cat "$T/err"))"
    grep -q 'verifying sha256 digest' "$T/err" || fail "pull: verify status"
    run "run pulled" 0 "$BIN" run "$REG/test/x:v1" "$PROMPT"
    [ "$(cat "$T/out")" = "$want" ] || fail "pulled model answers differently"
    run "pull missing" 1 "$BIN" pull "$REG/test/nope:v1" --insecure
    grep -q 'file does not exist' "$T/err" || fail "pull missing: $(cat "$T/err")"
    exec 9>&-
    kill "$REG_PID" 2>/dev/null
    wait "$REG_PID" 2>/dev/null
else
    echo "note: node missing, push/pull checks skipped" >&2
fi

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
