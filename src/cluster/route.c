/* route: ordering the nodes for one request (see route.h for the strategies).
 *
 * Every strategy works the same way: each node gets a sort key (a group and
 * up to three numbers, then its id, then its index, so the order is total and
 * the same on every gateway), the keys are sorted, and some strategies then
 * rotate runs of equal keys by the round-robin counter. Candidates are always
 * group 0..9 and the failover tail 10.., so the usable count is simply the
 * number of candidates.
 *
 * The prefix_affinity ring is never materialised: a node's position for a
 * key is the clockwise distance from the key to the nearest of its
 * ROUTE_VPOINTS points, and sorting by that distance is exactly the order in
 * which a clockwise walk meets each node for the first time. Adding a node
 * only moves the keys whose nearest point is now one of the new node's.
 *
 * The key itself (route_body_prefix_hash) comes from the request body, not
 * from the rendered prompt: the gateway never renders templates, and a key
 * over "everything up to the first user message" stays the same for every
 * turn of a conversation, which is what brings it back to its KV cache. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "cluster/route.h"

#define TAIL_GROUP 10

int route_strategy_parse(const char *s, enum route_strategy *out)
{
    static const struct {
        const char *name;
        enum route_strategy s;
    } names[] = {{"least_loaded", ROUTE_LEAST_LOADED},
                 {"round_robin", ROUTE_ROUND_ROBIN},
                 {"prefix_affinity", ROUTE_PREFIX_AFFINITY},
                 {"latency", ROUTE_LATENCY}};
    if (!s || !out)
        return OM_EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].s;
            return 0;
        }
    return OM_EINVAL;
}

const char *route_strategy_name(enum route_strategy s)
{
    switch (s) {
    case ROUTE_ROUND_ROBIN:
        return "round_robin";
    case ROUTE_PREFIX_AFFINITY:
        return "prefix_affinity";
    case ROUTE_LATENCY:
        return "latency";
    case ROUTE_LEAST_LOADED:
    default:
        return "least_loaded";
    }
}

/* MurmurHash3's 64-bit finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t route_prefix_hash(const char *text, size_t len)
{
    if (len > ROUTE_PREFIX_BYTES)
        len = ROUTE_PREFIX_BYTES;
    uint64_t h = mix64(fnv1a((const unsigned char *)(len ? text : ""), len) ^ (uint64_t)len);
    return h ? h : 1;
}

/* Bytes gathered for route_body_prefix_hash (the rest is dropped). */
struct keybuf {
    char b[ROUTE_PREFIX_BYTES];
    size_t n;
};

static void kb_add(struct keybuf *k, const char *s, size_t len)
{
    size_t room = sizeof(k->b) - k->n;
    if (len > room)
        len = room;
    memcpy(k->b + k->n, s, len);
    k->n += len;
}

static bool kb_full(const struct keybuf *k)
{
    return k->n == sizeof(k->b);
}

static void kb_str(struct keybuf *k, const json_t *s)
{
    if (json_is_string(s))
        kb_add(k, json_string_value(s), json_string_length(s));
}

/* "role\ncontent\n"; content a string or an array of parts with "text". */
static void kb_message(struct keybuf *k, const char *role, const json_t *content)
{
    kb_add(k, role, strlen(role));
    kb_add(k, "\n", 1);
    if (json_is_string(content)) {
        kb_str(k, content);
    } else if (json_is_array(content)) {
        for (size_t i = 0; i < json_array_size(content) && !kb_full(k); i++)
            kb_str(k, json_object_get(json_array_get(content, i), "text"));
    }
    kb_add(k, "\n", 1);
}

/* Messages up to and including the first user message. Returns true when a
 * user message was met. */
static bool kb_messages(struct keybuf *k, const json_t *msgs)
{
    for (size_t i = 0; i < json_array_size(msgs) && !kb_full(k); i++) {
        const json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role)
            role = "";
        kb_message(k, role, json_object_get(m, "content"));
        if (strcmp(role, "user") == 0)
            return true;
    }
    return false;
}

uint64_t route_body_prefix_hash(const json_t *body)
{
    struct keybuf k;
    k.n = 0;
    if (!json_is_object(body))
        return 0;
    const json_t *msgs = json_object_get(body, "messages");
    const json_t *input = json_object_get(body, "input");
    const json_t *prompt = json_object_get(body, "prompt");
    const json_t *ctx = json_object_get(body, "context");
    if (json_is_array(msgs) && json_array_size(msgs) > 0) {
        kb_messages(&k, msgs);
    } else if (json_is_array(input) || json_is_string(input)) {
        const json_t *instr = json_object_get(body, "instructions");
        if (json_is_string(instr))
            kb_message(&k, "system", instr);
        if (json_is_string(input))
            kb_message(&k, "user", input);
        else
            kb_messages(&k, input);
    } else if (json_is_array(ctx) && json_array_size(ctx) > 0) {
        kb_add(&k, "ctx:", 4);
        for (size_t i = 0; i < json_array_size(ctx) && i < 64; i++) {
            char num[24];
            int len = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT ",",
                               json_integer_value(json_array_get(ctx, i)));
            kb_add(&k, num, (size_t)len);
        }
    } else if (json_is_string(prompt)) {
        const json_t *sys = json_object_get(body, "system");
        if (json_is_string(sys)) {
            kb_add(&k, "system\n", 7);
            kb_str(&k, sys);
            kb_add(&k, "\n", 1);
        }
        kb_str(&k, prompt);
    }
    return k.n ? route_prefix_hash(k.b, k.n) : 0;
}

double route_ewma(double prev, double sample_ms)
{
    if (!isfinite(sample_ms) || sample_ms < 0)
        return prev;
    if (prev < 0 || !isfinite(prev))
        return sample_ms;
    return prev + ROUTE_EWMA_ALPHA * (sample_ms - prev);
}

/* Clockwise distance from key to the nearest of the node's ring points. */
static uint64_t ring_distance(const char *id, uint64_t key)
{
    uint64_t base = fnv1a((const unsigned char *)id, strnlen(id, 16));
    uint64_t best = UINT64_MAX;
    for (uint64_t i = 0; i < ROUTE_VPOINTS; i++) {
        uint64_t pt = mix64(base + (i + 1) * 0x9e3779b97f4a7c15ull);
        uint64_t d = pt - key; /* mod 2^64 */
        if (d < best)
            best = d;
    }
    return best;
}

struct rkey {
    int g;          /* group: candidates < TAIL_GROUP */
    double a, b;    /* ascending */
    uint64_t u;     /* ascending */
    const char *id; /* ascending (bounded to 16 characters) */
    int idx;
};

static int key_cmp(const void *x, const void *y)
{
    const struct rkey *p = x, *q = y;
    if (p->g != q->g)
        return p->g < q->g ? -1 : 1;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    if (p->b != q->b)
        return p->b < q->b ? -1 : 1;
    if (p->u != q->u)
        return p->u < q->u ? -1 : 1;
    int c = strncmp(p->id, q->id, 16);
    if (c)
        return c;
    return p->idx < q->idx ? -1 : p->idx > q->idx;
}

static bool usable(const struct route_node *nd)
{
    return nd->up && !nd->drained;
}

static double load_of(const struct route_node *nd)
{
    return (double)OM_MAX(nd->active, 0) + (double)OM_MAX(nd->queued, 0);
}

/* Rotates keys[from..to) left by r places. */
static void rotate(struct rkey *keys, int from, int to, uint64_t r)
{
    int len = to - from;
    if (len < 2 || (r %= (uint64_t)len) == 0)
        return;
    struct rkey tmp[ROUTE_MAX_NODES];
    for (int i = 0; i < len; i++)
        tmp[i] = keys[from + (int)(((uint64_t)i + r) % (uint64_t)len)];
    memcpy(keys + from, tmp, (size_t)len * sizeof(*tmp));
}

/* least_loaded's key for a candidate (also prefix_affinity without a prefix). */
static void key_least_loaded(struct rkey *k, const struct route_node *nd)
{
    k->g = nd->loaded ? 0 : 1;
    k->a = load_of(nd) / (double)OM_MAX(nd->parallel, 1);
    k->b = -(double)nd->ram_free;
}

int route_order(enum route_strategy s, const struct route_node *nodes, int n, uint64_t prefix_hash,
                struct route_state *st, int *out_idx)
{
    if (n < 0 || n > ROUTE_MAX_NODES || (n > 0 && (!nodes || !out_idx)))
        return OM_EINVAL;
    if (n == 0)
        return 0;
    uint64_t counter = st ? st->rr_counter : 0;
    struct rkey keys[ROUTE_MAX_NODES];

    /* candidates: holders, or else the placed nodes */
    bool any_holder = false;
    for (int i = 0; i < n; i++)
        any_holder |= usable(&nodes[i]) && nodes[i].holds;
    int n_cand = 0;
    double sum_load = 0;
    bool cand[ROUTE_MAX_NODES];
    for (int i = 0; i < n; i++) {
        const struct route_node *nd = &nodes[i];
        cand[i] = usable(nd) && (any_holder ? nd->holds : nd->placed);
        if (cand[i]) {
            n_cand++;
            sum_load += load_of(nd);
        }
    }
    double cap = 0;
    if (n_cand > 0)
        cap = ceil(1.25 * sum_load / n_cand) + 1;
    if (s == ROUTE_PREFIX_AFFINITY && prefix_hash == 0)
        s = ROUTE_LEAST_LOADED;

    for (int i = 0; i < n; i++) {
        const struct route_node *nd = &nodes[i];
        struct rkey *k = &keys[i];
        memset(k, 0, sizeof(*k));
        k->id = nd->id;
        k->idx = i;
        if (!cand[i]) { /* failover tail: up ones, then holders/placed, then by id */
            k->g = TAIL_GROUP + (usable(nd) ? 0 : 2) + (nd->holds || nd->placed ? 0 : 1);
            continue;
        }
        switch (s) {
        case ROUTE_LEAST_LOADED:
            key_least_loaded(k, nd);
            break;
        case ROUTE_ROUND_ROBIN:
            break; /* by id, rotated below */
        case ROUTE_PREFIX_AFFINITY: {
            bool over = load_of(nd) > cap;
            k->g = over ? 2 : (nd->has_prefix ? 0 : 1);
            k->u = ring_distance(nd->id, prefix_hash);
            break;
        }
        case ROUTE_LATENCY: {
            bool measured = nd->ttft_ewma_ms >= 0 && isfinite(nd->ttft_ewma_ms);
            k->g = measured ? 1 : 0;
            k->a = measured ? floor(nd->ttft_ewma_ms) : 0; /* 1 ms buckets rotate */
            break;
        }
        default:
            return OM_EINVAL;
        }
    }
    qsort(keys, (size_t)n, sizeof(*keys), key_cmp);

    if (s == ROUTE_ROUND_ROBIN || s == ROUTE_LATENCY) {
        /* rotate each run of candidates with equal (group, a) */
        for (int i = 0; i < n_cand;) {
            int j = i + 1;
            while (j < n_cand && keys[j].g == keys[i].g && keys[j].a == keys[i].a)
                j++;
            rotate(keys, i, j, counter);
            i = j;
        }
        if (st)
            st->rr_counter++;
    }
    for (int i = 0; i < n; i++)
        out_idx[i] = keys[i].idx;
    return n_cand;
}
