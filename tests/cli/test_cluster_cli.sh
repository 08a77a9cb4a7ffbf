#!/bin/bash
# `ollamamax cluster …` end to end against a real one-node cluster
# (`serve --cluster-init` on a free loopback port, empty model store, a
# fresh data dir): status and nodes (tables and --json, parsed with node),
# set routing/replication and status showing the change, drain/undrain of
# the node itself by name, id prefix and id, token (== the one serve
# printed), the error exits (bad verb, unknown node, bad KEY=VALUE, a
# single node without a cluster), and leave last. Skips (77) loudly while
# `serve --cluster-init` does not exist.
# Usage: test_cluster_cli.sh BIN SHARED_DIR
BIN=${1:?usage: test_cluster_cli.sh BIN SHARED_DIR}
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# a free port whose successor is free too (serve's default Raft port), below
# the kernel's ephemeral range (32768+) so no outgoing connection takes it
# between this check and serve's bind (and Raft ports >= 32767 currently
# fail in raft_start)
free_port() {
    for _ in $(seq 100); do
        local p=$((20000 + RANDOM % 12000))
        if port_free "$p" && port_free $((p + 1)); then echo "$p"; return 0; fi
    done
    return 1
}
mkdir -p "$T/models" "$T/home" "$T/data"
export HOME=$T/home OLLAMA_MODELS=$T/models OLLAMAMAX_DATA=$T/data
unset OLLAMAMAX_JOIN OLLAMAMAX_CLUSTER_TOKEN OLLAMAMAX_RAFT_ADDR

# The cluster node. A port found free can still be taken before serve binds
# it (other tests' connections use the same range): then try another.
# Listening on 127.0.0.1:PORT and Raft on PORT+1 (the default).
up=
for attempt in 1 2 3; do
    PORT=$(free_port) || { echo "FAIL: no free port" >&2; exit 1; }
    export OLLAMA_HOST=127.0.0.1:$PORT
    rm -rf "$T/data" && mkdir -p "$T/data"
    "$BIN" serve --cluster-init >"$T/serve.log" 2>&1 &
    SRV_PID=$!
    PIDS+=($SRV_PID)
    for _ in $(seq 150); do
        if "$BIN" cluster status --json >"$T/st.json" 2>"$T/st.err"; then
            # up once a leader is elected
            if node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
                        process.exit(s.leader ? 0 : 1)' "$T/st.json" 2>/dev/null; then
                up=1
                break
            fi
        fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.2
    done
    [ -n "$up" ] && break
    # retry only when serve died for a taken port (API or Raft)
    kill -0 "$SRV_PID" 2>/dev/null && break
    grep -Eqi 'in use|bind|listen' "$T/serve.log" || break
done
if [ -z "$up" ]; then
    if ! kill -0 "$SRV_PID" 2>/dev/null && grep -Eq 'unknown flag|unrecognized' "$T/serve.log"; then
        echo "SKIP: this build's serve has no --cluster-init yet: $(head -1 "$T/serve.log")" >&2
        exit 77
    fi
    if grep -Eq '404|not found' "$T/st.err"; then
        echo "SKIP: the server has no /api/cluster/status yet: $(head -c 300 "$T/st.err")" >&2
        exit 77
    fi
    echo "FAIL: serve --cluster-init did not come up with a leader on $OLLAMA_HOST" >&2
    echo "last status: $(head -c 400 "$T/st.err") $(head -c 400 "$T/st.json")" >&2
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
    [ "$rc" = "$want" ] || fail "$name: exit $rc, want $want: $(head -c 400 "$T/err") $(head -c 400 "$T/out")"
}
# js NAME EXPR: evaluates EXPR with j = the JSON parsed from $T/out; fails
# the check when $T/out does not parse or EXPR is false
js() {
    local name=$1 expr=$2
    node -e 'const fs=require("fs"); let j;
             try { j=JSON.parse(fs.readFileSync(process.argv[1],"utf8")); }
             catch (e) { console.error("not JSON: " + e.message); process.exit(2); }
             const ok=(function(j){ return ('"$expr"'); })(j);
             if (!ok) { console.error(JSON.stringify(j).slice(0, 600)); process.exit(1); }' \
        "$T/out" 2>"$T/js.err" || fail "$name: $expr: $(cat "$T/js.err")"
}

# ---- status / nodes --------------------------------------------------------
run "status --json" 0 "$BIN" cluster status --json
js "status --json" 'typeof j.leader==="string" && /^[0-9a-f]{16}$/.test(j.leader) &&
    Number.isInteger(j.term) && j.term>=1 && Array.isArray(j.nodes) && j.nodes.length===1 &&
    j.nodes[0].id===j.leader && j.nodes[0].state==="up" && j.nodes[0].role==="voter" &&
    j.nodes[0].api_addr==="127.0.0.1:'"$PORT"'" && Array.isArray(j.nodes[0].models) &&
    Array.isArray(j.nodes[0].loaded) && Number.isInteger(j.nodes[0].active) &&
    Number.isInteger(j.nodes[0].queued) && typeof j.settings==="object" &&
    j.settings.routing==="least_loaded"'
grep -q '^  "' "$T/out" || fail "status --json: not indented by 2 spaces"
ID=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).leader)' "$T/out")
NAME=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).nodes[0].name)' "$T/out")
[ -n "$NAME" ] || fail "status --json: node has no name"

run "status" 0 "$BIN" cluster status
grep -Fqx "Leader:       $NAME (${ID:0:12})" "$T/out" || fail "status: Leader line: $(head -3 "$T/out")"
grep -Eq '^Term: +[1-9][0-9]*$' "$T/out" || fail "status: Term line"
grep -Eq '^Routing: +least_loaded$' "$T/out" || fail "status: Routing line"
grep -Eq '^Replication: +' "$T/out" || fail "status: Replication line"
grep -Eq '^NAME +ID +ADDRESS +STATE +ROLE +MODELS +LOADED +ACTIVE +QUEUED $' "$T/out" ||
    fail "status: node table header: $(cat "$T/out")"
row_re="^$(printf '%s' "$NAME" | sed 's/[.[\*^$]/\\&/g') +${ID:0:12} +127\\.0\\.0\\.1:$PORT +up +voter +- +- +0 +0 +\$"
grep -Eq "$row_re" "$T/out" || fail "status: node row: $(cat "$T/out")"

run "nodes" 0 "$BIN" cluster nodes
head -1 "$T/out" | grep -Eq '^NAME +ID +ADDRESS +STATE +ROLE +MODELS +LOADED +ACTIVE +QUEUED $' ||
    fail "nodes: header: $(head -1 "$T/out")"
grep -Eq "$row_re" "$T/out" || fail "nodes: row: $(cat "$T/out")"
[ "$(wc -l <"$T/out")" = 2 ] || fail "nodes: want header + 1 row: $(cat "$T/out")"
run "nodes --json" 0 "$BIN" cluster nodes --json
js "nodes --json" 'Array.isArray(j.nodes) && j.nodes.length===1 && j.nodes[0].id==="'"$ID"'"'

# ---- settings --------------------------------------------------------------
run "set routing" 0 "$BIN" cluster set routing=round_robin
grep -Eq '^Routing: +round_robin$' "$T/out" || fail "set routing: output: $(cat "$T/out")"
run "status after set" 0 "$BIN" cluster status
grep -Eq '^Routing: +round_robin$' "$T/out" || fail "status after set: $(head -6 "$T/out")"
run "set replication --json" 0 "$BIN" cluster set replication=2 --json
js "set replication --json" 'String(j.replication)==="2" && j.routing==="round_robin"'
run "status --json after set" 0 "$BIN" cluster status --json
js "status --json after set" 'j.settings.routing==="round_robin" && String(j.settings.replication)==="2"'
"$BIN" cluster set routing=no_such_strategy >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || fail "set bad routing value: exit $rc, want 1 ($(cat "$T/out"))"
grep -q '^Error: ' "$T/err" || fail "set bad routing value: no Error line: $(cat "$T/err")"
run "status after bad set" 0 "$BIN" cluster status --json
js "routing unchanged by a bad set" 'j.settings.routing==="round_robin"'
run "set routing back" 0 "$BIN" cluster set routing=least_loaded

# ---- drain / undrain --------------------------------------------------------
run "drain by name" 0 "$BIN" cluster drain "$NAME"
[ "$(cat "$T/out")" = "node $NAME draining" ] || fail "drain: output: $(cat "$T/out")"
run "nodes --json drained" 0 "$BIN" cluster nodes --json
js "drained node" 'j.nodes[0].state==="draining"'
run "status drained" 0 "$BIN" cluster status
grep -Eq " +draining +voter " "$T/out" || fail "status: no draining row: $(cat "$T/out")"
run "undrain by id prefix" 0 "$BIN" cluster undrain "${ID:0:6}"
[ "$(cat "$T/out")" = "node $NAME up" ] || fail "undrain: output: $(cat "$T/out")"
run "nodes --json undrained" 0 "$BIN" cluster nodes --json
js "undrained node" 'j.nodes[0].state==="up"'
run "drain --json by id" 0 "$BIN" cluster drain "$ID" --json
js "drain --json" 'j.node==="'"$ID"'" && j.state==="draining"'
run "undrain --json by upper-case id" 0 "$BIN" cluster undrain "$(echo "$ID" | tr a-f A-F)" --json
js "undrain --json" 'j.node==="'"$ID"'" && j.state==="up"'

# ---- token -------------------------------------------------------------------
run "token" 0 "$BIN" cluster token
TOKEN=$(cat "$T/out")
[[ "$TOKEN" =~ ^omx-[0-9a-f]{64}$ ]] || fail "token: $(cat "$T/out")"
grep -q -- "$TOKEN" "$T/serve.log" || fail "token differs from the one serve --cluster-init printed"
run "token --json" 0 "$BIN" cluster token --json
js "token --json" 'j.token==="'"$TOKEN"'"'

# ---- errors --------------------------------------------------------------------
run "no verb" 2 "$BIN" cluster
grep -q 'Usage:' "$T/err" || fail "no verb: no usage"
run "bad verb" 2 "$BIN" cluster frobnicate
grep -q '^Error: unknown cluster command "frobnicate"' "$T/err" || fail "bad verb: $(head -1 "$T/err")"
run "drain without NODE" 2 "$BIN" cluster drain
run "set without =" 2 "$BIN" cluster set routing
run "unknown flag" 2 "$BIN" cluster status --frob
run "unknown node" 1 "$BIN" cluster drain no-such-node:1
grep -q '^Error: unknown node "no-such-node:1"' "$T/err" || fail "unknown node: $(cat "$T/err")"
run "unknown id prefix" 1 "$BIN" cluster undrain "$(printf '%x' $(( (0x${ID:0:1} + 1) % 16 )))"
run "help" 0 "$BIN" cluster --help
grep -q -- '--cluster-init' "$T/out" || fail "help: serve flags missing"

# a single node without a cluster answers 409 with its text
mkdir -p "$T/models2" "$T/data2"
up2=
for attempt in 1 2 3; do
    PORT2=$(free_port) || break
    OLLAMA_HOST=127.0.0.1:$PORT2 OLLAMA_MODELS=$T/models2 OLLAMAMAX_DATA=$T/data2 \
        "$BIN" serve >"$T/serve2.log" 2>&1 &
    PID2=$!
    PIDS+=($PID2)
    for _ in $(seq 150); do
        if OLLAMA_HOST=127.0.0.1:$PORT2 "$BIN" list >/dev/null 2>&1; then up2=1; break; fi
        kill -0 "$PID2" 2>/dev/null || break
        sleep 0.2
    done
    [ -n "$up2" ] && break
    kill -0 "$PID2" 2>/dev/null && break
    grep -Eqi 'in use|bind|listen' "$T/serve2.log" || break
done
if [ -n "$up2" ]; then
    OLLAMA_HOST=127.0.0.1:$PORT2 run "single node status" 1 "$BIN" cluster status
    [ "$(cat "$T/err")" = "Error: cluster is not enabled on this node" ] ||
        fail "single node: $(cat "$T/err")"
    OLLAMA_HOST=127.0.0.1:$PORT2 run "single node nodes --json" 1 "$BIN" cluster nodes --json
    [ -s "$T/out" ] && fail "single node --json: printed on stdout: $(cat "$T/out")"
else
    fail "the single node did not come up: $(tail -5 "$T/serve2.log")"
fi

# no server at all
PORT3=$(free_port)
OLLAMA_HOST=127.0.0.1:$PORT3 run "no server" 1 "$BIN" cluster status
grep -q "^Error: could not connect" "$T/err" || fail "no server: $(cat "$T/err")"

# ---- leave (last: the node is no longer a member afterwards) ------------------
run "leave" 0 "$BIN" cluster leave
[ "$(cat "$T/out")" = "node $NAME left the cluster" ] || fail "leave: output: $(cat "$T/out")"

if [ "$FAILS" -gt 0 ]; then
    echo "$FAILS check(s) failed; server log tail:" >&2
    tail -20 "$T/serve.log" >&2
    exit 1
fi
echo "all cluster CLI checks passed"
